"""The dossier's outage part: each link's failures, downtime, MTBF and MTTR, then each outage with its reason.

The reason is the gateway's text (``uplink_event.reason``), in a row across the table under its outage. Its fixed
forms, written by ``edge/sources/uplink/source.py`` and ``state.py``, are put in Vietnamese; what follows the
head's colon (each failed target and its error) is quoted as written. It is wrapped here, not by ReportLab, which
splits a word wider than the line at any character (``http://12 / 7.0.0.2:38347/genera / te_204``).
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

__all__ = ["reason_text", "wrap", "outages"]

#: the head of a cycle's reason: ``0/3 targets answered``, and when the cycle was down `` (min_ok 2)`` and a
#: colon before the failed targets
_HEAD = re.compile(r"(\d+)/(\d+) targets answered(?: \(min_ok (\d+)\))?(?=: |$)")
#: the reason of a link's first declared state after the gateway started
_START = "start"
#: where a word too wide for a line may break: after a ``/`` (not between the two of ``://``)
_AFTER_SLASH = re.compile(r"(?<=/)(?!/)")
#: columns of the outage table; each outage's reason is a row across all of them, wide enough for a URL
_WIDTHS = (30 * mm, 50 * mm, 50 * mm, 44 * mm)
#: the width a cell's text has: a Table cell's default left and right padding (``LEFTPADDING``, 6 pt each) off
_REASON_WIDTH = sum(_WIDTHS) - 12


def reason_text(reason: str) -> str:
    """The gateway's reason with its fixed head in Vietnamese; any other text as written."""
    if reason == _START:
        return "đường truyền không hoạt động ngay khi gateway bắt đầu đo"
    head = _HEAD.match(reason)
    if head is None:
        return reason
    answered, probed, min_ok = head.groups()
    words = f"{answered}/{probed} địa chỉ kiểm tra trả lời" + (f" (cần tối thiểu {min_ok})" if min_ok else "")
    return words + reason[head.end() :]


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
    lines = wrap(vi.text(cut(f"Lý do: {reason_text(reason)}")), _REASON_WIDTH, st.cell)
    return Paragraph("<br/>".join(escape(line) for line in lines), st.cell)


def _meanings(period: Period, st: Styles) -> Paragraph:
    noun = period.noun
    return para(
        "MTBF (thời gian hoạt động trung bình giữa hai lần mất kết nối): tổng thời gian đường truyền hoạt động "
        f"đo được trong {noun} chia cho số lần mất bắt đầu trong {noun}. MTTR (thời gian khôi phục trung bình): "
        f"thời lượng trung bình của các lần mất đã khôi phục trong {noun}.",
        st.small,
    )


def outages(
    answer: m.OutagesOut, period: Period, zone: ZoneInfo, st: Styles, *, explain: bool = True
) -> list[Flowable]:
    """The part; ``explain``: say what MTBF and MTTR mean (once a dossier: a commune's, in its first village)."""
    links: list[list[str | Flowable]] = [["Đường truyền", "Số lần mất", "Tổng thời gian mất", "MTBF", "MTTR"]]
    links += [
        [
            r.link,
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
            [o.link, start, end, vi.duration_text(o.duration_s)],
            [_reason_cell(o.reason, st), "", "", ""],
        ]
    return [*parts, grid(rows, st, _WIDTHS, notes=range(2, len(rows), 2))]
