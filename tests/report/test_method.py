"""The method's formulas read with ``pdftotext -bbox``: each name whole (a cell broke ``sum(lit_when_expected_`` /
``s)``), explained in Vietnamese under the table, and said in the dossier's own word for its period."""

from __future__ import annotations

import re

import pdftools
import pytest
import rep_scenario as sc
from fastapi.testclient import TestClient
from rep_helpers import iso as _iso
from reportlab.lib.units import mm
from reportlab.platypus import Paragraph, Table
from srv_helpers import READ

from server.report.method import FIELDS, formula_markup
from server.report.pdf import _render
from server.report.styles import styles
from thonminh.figures import FIGURES

VILLAGE = "kha-ly-thuong"
URL = f"/api/v1/villages/{VILLAGE}/report.pdf"
#: what reads as a field's name: lower-case words joined by ``_`` (``lit_when_expected_s``, ``rsrp_min_dbm``)
NAME = re.compile(r"[a-z][a-z0-9]*(?:_[a-z0-9]+)+")
#: every name a formula uses, read from the descriptions here
NAMES = {n for f in FIGURES.values() for n in NAME.findall(f.description.vi)}
HEADER = ["Tiêu", "chí", "Cách", "đo", "Công", "thức", "Độ", "phủ"]


@pytest.fixture(scope="module")
def dossiers(api: TestClient, month: sc.MonthScenario) -> dict[str, bytes]:
    out = {}
    for name, params in (
        ("month", {"month": month.text}),
        ("period", {"start": _iso(month.at(4, 18)), "end": _iso(month.at(6, 6))}),
    ):
        response = api.get(URL, params=params, headers=READ)
        assert response.status_code == 200, response.text
        out[name] = response.content
    return out


def formula_column(pdf: bytes) -> list[str]:
    """The words of the method table's «Công thức» column, on every page the table is on, in reading order."""
    found = []
    for page in pdftools.words(pdf):
        rows: dict[int, list[pdftools.Word]] = {}
        for w in page:
            rows.setdefault(round(w.y1), []).append(w)
        head = next(
            (row for row in rows.values() if [w.text for w in sorted(row, key=lambda w: w.x0)] == HEADER),
            None,
        )
        if head is None:
            continue
        left = next(w.x0 for w in head if w.text == "Công") - 2
        right = next(w.x0 for w in head if w.text == "Độ") - 2
        # the row across the table under the last formula: what the names mean
        legend = min((w.y0 for w in page if w.text == "«Công"), default=float("inf"))
        found += [w.text for w in page if head[0].y1 < w.y0 < legend and w.x0 >= left and w.x1 <= right]
    return found


def test_no_name_in_a_formula_is_broken(dossiers: dict[str, bytes]):
    for which, pdf in dossiers.items():
        column = formula_column(pdf)
        assert "sum(up_s)" in column, which  # the column was found
        broken = [w for w in column for n in NAME.findall(w) if n not in NAMES]
        assert broken == [], (which, broken)
        for name in ("lit_when_expected_s", "expected_on_s", "up_open_s", "observed_s", "rsrp_min_dbm"):
            assert any(name in w for w in column), (which, name, column)


def _cell(text: str, width: float) -> list[str]:
    """``text`` in a table cell ``width`` wide, as its lines come out of the PDF (the footer left out)."""
    st = styles()
    table = Table([[Paragraph(formula_markup(text, width, st.cell), st.cell)]], colWidths=[width])
    lines = [line.strip() for line in pdftools.text(_render([table], "test"), layout=False).splitlines()]
    return lines[: lines.index("")]


def test_a_name_wider_than_its_cell_breaks_after_a_bracket_then_after_an_underscore():
    formula = "sum(lit_when_expected_s) / sum(expected_on_s) trên mọi đèn"
    # ``sum(lit_when_expected_s)`` is wider than the cell, its name is not: the name stays whole
    assert _cell(formula, 41 * mm) == ["sum(", "lit_when_expected_s) /", "sum(expected_on_s)", "trên mọi đèn"]
    # the name alone is wider than the cell: broken after an underscore, never inside a word
    assert _cell(formula, 30 * mm) == [
        "sum(lit_when_",
        "expected_s) /",
        "sum(",
        "expected_on_s)",
        "trên mọi đèn",
    ]


def test_the_prose_around_the_formulas_is_vietnamese(dossiers: dict[str, bytes]):
    for which, pdf in dossiers.items():
        text = pdftools.text(pdf, layout=False)
        method = " ".join(text[text.rindex("Phương pháp đo") : text.rindex("Xác nhận")].split())
        assert "criteria service" not in method and "(criteria" not in method, which
        assert "Mọi con số trong hồ sơ do dịch vụ tiêu chí tính" in method, which
        legend = method[method.index("Trong cột «Công thức»") :]
        for name in {n for w in formula_column(pdf) for n in NAME.findall(w)}:
            # each name used, with its meaning in Vietnamese words (not just the name again)
            explained = re.search(rf"{name}: ([^;.]+)", legend)
            assert explained is not None and re.search("[ạ-ỹàáâãèéêìíòóôõùúýăđơư]", explained[1]), (
                which,
                name,
            )


def test_every_name_a_formula_uses_has_its_vietnamese_words():
    assert NAMES and NAMES <= set(FIELDS), NAMES - set(FIELDS)


def test_the_formulas_say_the_dossiers_own_word_for_its_period(dossiers: dict[str, bytes]):
    """A month's dossier says «trong tháng» everywhere, its formulas too; a period's «trong khoảng thời gian»."""
    month = " ".join(" ".join(formula_column(dossiers["month"])).split())
    period = " ".join(" ".join(formula_column(dossiers["period"])).split())
    assert "khoảng thời gian" not in month, month
    assert "báo giờ mở cửa trong tháng" in month and "giá trị nhập tay mới nhất trong tháng" in month, month
    assert "báo giờ mở cửa trong khoảng thời gian" in period, period
    assert "giá trị nhập tay mới nhất trong khoảng thời gian" in period, period
