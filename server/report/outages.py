"""The dossier's outage part: each link's failures, downtime, MTBF and MTTR, then each outage with its reason.

The reason is the gateway's text (``uplink_event.reason``), in a row across the table under its outage, in the
village page's Vietnamese words (``server/pages/names.py``: its fixed forms put in Vietnamese, what follows the
head's colon quoted as written). It is wrapped here, not by ReportLab, which splits a word wider than the line at
any character (``http://12 / 7.0.0.2:38347/genera / te_204``).
"""

from __future__ import annotations

import re
from xml.sax.saxutils import escape
from zoneinfo import ZoneInfo

from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.platypus import Flowable, Paragraph, Spacer

from server import models as m
from server.report import vi
from server.report.layout import cut, grid, para
from server.report.period import Period
from server.report.styles import Styles

__all__ = ["wrap", "outages"]

#: where a word too wide for a line may break: after a ``/`` (not between the two of ``://``)
_AFTER_SLASH = re.compile(r"(?<=/)(?!/)")
#: columns of the outage table; each outage's reason is a row across all of them, wide enough for a URL
_WIDTHS = (30 * mm, 50 * mm, 50 * mm, 44 * mm)
#: the width a cell's text has: a Table cell's default left and right padding (``LEFTPADDING``, 6 pt each) off
_REASON_WIDTH = sum(_WIDTHS) - 12


def wrap(text: str, width: float, style: ParagraphStyle) -> list[str]:
    """``text`` as lines no wider than ``width`` in ``style``'s font: a line ends after each ``; ``, and breaks
    at spaces; a word wider than a line (a long URL) breaks after a ``/``, never inside a name. A piece still
    wider than a line stays whole on its own line, for ReportLab to split."""

    def fits(line: str) -> bool:
        return stringWidth(line, style.fontName, style.fontSize) <= width

    parts = text.split("; ")
    lines: list[str] = []
    for n, part in enumerate(parts, start=1):
        line = ""
        for word in (part + (";" if n < len(parts) else "")).split(" "):
            pieces = [word] if fits(word) else _AFTER_SLASH.split(word)
            for i, piece in enumerate(pieces):
                joined = line + (" " if line and i == 0 else "") + piece
                if fits(joined) or not line:
                    line = joined
                else:
                    lines.append(line)
                    line = piece
        lines.append(line)
    return lines


def _reason_cell(reason: str, st: Styles) -> Paragraph:
    lines = wrap(vi.text(cut(f"Lý do: {vi.reason_text(reason)}")), _REASON_WIDTH, st.cell)
    return Paragraph("<br/>".join(escape(line) for line in lines), st.cell)


def _meanings(period: Period, st: Styles) -> Paragraph:
    return para(vi.reliability_note(period.noun), st.small)


def outages(
    answer: m.OutagesOut, period: Period, zone: ZoneInfo, st: Styles, *, explain: bool = True
) -> list[Flowable]:
    """The part; ``explain``: say what MTBF and MTTR mean (once a dossier: a commune's, in its first village)."""
    links: list[list[str | Flowable]] = [["Đường truyền", "Số lần mất", "Tổng thời gian mất", "MTBF", "MTTR"]]
    links += [
        [
            vi.link_text(r.link),
            vi.number(r.failures, 0),
            vi.duration_text(r.downtime_s),
            vi.duration_text(r.mtbf_s) if r.mtbf_s is not None else "–",
            vi.duration_text(r.mttr_s) if r.mttr_s is not None else "–",
        ]
        for r in answer.links
    ]
    parts: list[Flowable] = [_meanings(period, st)] if explain else []
    parts += [grid(links, st, [30 * mm, 24 * mm, 44 * mm, 38 * mm, 38 * mm]), Spacer(1, 6)]
    if not answer.outages:
        return [*parts, para(f"Không có sự cố mất kết nối trong {period.noun}.", st.body)]
    rows: list[list[str | Flowable]] = [["Đường truyền", "Bắt đầu", "Kết thúc", "Thời lượng"]]
    for o in answer.outages:
        start = vi.local_time(o.start, zone) + (f" (trước {period.noun})" if o.started_before_window else "")
        end = vi.local_time(o.end, zone) if o.end else "chưa khôi phục"
        rows += [
            [vi.link_text(o.link), start, end, vi.duration_text(o.duration_s)],
            [_reason_cell(o.reason, st), "", "", ""],
        ]
    return [*parts, grid(rows, st, _WIDTHS, notes=range(2, len(rows), 2))]
