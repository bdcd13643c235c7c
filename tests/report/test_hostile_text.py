"""Text a device chose (a light's id, a gateway's name: tags any write credential can set) reaches the dossier's
tables. 300 wide characters in a narrow column made a row taller than the page, which ReportLab cannot place:
the village's and the commune's dossier answered 500 for every period that read it."""

from __future__ import annotations

import pdftools

from server.report import layout, pdf
from server.report.styles import styles

WIDE = (
    "\u2031" * 300
)  # PER TEN THOUSAND SIGN: one of the widest glyphs of the font, at the cell's 300 characters


def test_a_row_taller_than_a_page_is_split_not_refused() -> None:
    st = styles()
    rows = [["Cột", "Khác"], [WIDE, "x"], ["", "còn lại"]]
    story = [layout.grid(rows, st, [20, 400])]
    out = pdf._render(story, "hồ sơ")
    text = pdftools.text(out)
    assert "còn lại" in text  # the row after the tall one is printed too
