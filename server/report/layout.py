"""The dossier's parts as ReportLab flowables: verdict table, evidence per criterion, lighting faults and
signatures (the outages: ``outages.py``, the method: ``method.py``). Each takes the assembled answers
(``data.py``) and only formats them.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any
from xml.sax.saxutils import escape
from zoneinfo import ZoneInfo

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.platypus import Flowable, KeepTogether, Paragraph, Spacer, Table, TableStyle

from server import models as m
from server.catalog import days_counted
from server.report import vi
from server.report.charts import daily_chart
from server.report.data import LightFault, Section, VillageDossier
from server.report.period import Period
from server.report.styles import BOLD, FONT, Styles
from server.timeparse import ms_of

__all__ = [
    "WIDTH",
    "criterion_on",
    "cut",
    "evidence",
    "grid",
    "lighting",
    "para",
    "signatures",
    "verdict_table",
]

#: the A4 page's margins: 18 mm at its sides and foot (the footer line sits in it), 16 mm at its head
MARGIN, TOP_MARGIN = 18 * mm, 16 * mm
#: the text width of a page
WIDTH = A4[0] - 2 * MARGIN
#: the text height of a page, less ReportLab's 6 pt frame padding above and below
HEIGHT = A4[1] - TOP_MARGIN - MARGIN - 12
_LINE = colors.HexColor("#9e9e9e")
_HEAD_BG = colors.HexColor("#e8eef6")

DETAIL = {
    "up_s": "thời gian hoạt động",
    "observed_s": "thời gian quan sát",
    "open_s": "giờ mở cửa",
    "up_open_s": "hoạt động trong giờ mở cửa",
    "expected_on_s": "lịch yêu cầu sáng",
    "lit_when_expected_s": "sáng đúng lịch",
}


def para(value: str, style) -> Paragraph:
    return Paragraph(escape(vi.text(value)), style)


#: characters a table cell shows at most: a row must fit on a page (ReportLab does not split one), and some
#: cells quote what anyone who can write to InfluxDB chose (a gateway's name, a manifest's key: up to 64 KB)
CELL_CHARS = 300


def cut(text: str) -> str:
    return text if len(text) <= CELL_CHARS else text[: CELL_CHARS - 1] + "…"


def grid(
    rows: Sequence[Sequence[str | Flowable]],
    st: Styles,
    widths: Sequence[float],
    *,
    fills: Sequence[tuple[int, int, str]] = (),
    header: bool = True,
    notes: Sequence[int] = (),
) -> Table:
    """A table, with a header row unless ``header=False``; ``fills`` colours cells ``(column, row, colour)``;
    ``notes``: rows that are one cell across the table, a note to the row above, kept on its page."""
    cells = [
        [
            c if isinstance(c, Flowable) else para(cut(c), st.head if r == 0 and header else st.cell)
            for c in row
        ]
        for r, row in enumerate(rows)
    ]
    commands: list[Any] = [
        ("GRID", (0, 0), (-1, -1), 0.4, _LINE),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("FONTNAME", (0, 0), (-1, -1), FONT),
    ]
    if header:
        commands.append(("BACKGROUND", (0, 0), (-1, 0), _HEAD_BG))
    commands += [
        ("BACKGROUND", (col, row), (col, row), colors.HexColor(colour)) for col, row, colour in fills
    ]
    for row in notes:
        commands += [("SPAN", (0, row), (-1, row)), ("NOSPLIT", (0, row - 1), (-1, row))]
    table = _Grid(cells, colWidths=list(widths), repeatRows=1)
    table.setStyle(TableStyle(commands))
    return table


class _Grid(Table):
    """A table split across pages between its rows, a note kept with its row (``NOSPLIT``). Only a row taller
    than a page (a device chose the text: 300 wide characters in a narrow column), which ReportLab could place
    nowhere and the dossier answered 500, is split inside: splitting inside rows everywhere let a page's foot
    take an outage and the next page its reason."""

    def split(self, availWidth: float, availHeight: float) -> list[Flowable]:
        self.splitInRow = int(max(getattr(self, "_rowHeights", None) or [0.0]) > HEIGHT)
        return super().split(availWidth, availHeight)


def _verdict_cell(verdict: str, st: Styles) -> Paragraph:
    return Paragraph(
        f'<font name="{BOLD}" color="white">{escape(vi.verdict_style(verdict).label)}</font>', st.cell
    )


def verdict_table(criteria: m.VillageCriteriaOut, st: Styles) -> Table:
    rows: list[list[str | Flowable]] = [["Tiêu chí", "Kết quả", "Giá trị đo", "Ngưỡng", "Độ phủ", "Số mẫu"]]
    fills = []
    for i, c in enumerate(criteria.criteria, start=1):
        ev = c.evidence
        rows.append(
            [
                c.title.vi,
                _verdict_cell(c.verdict, st),
                vi.value_text(ev.value, ev.unit, c.threshold),
                vi.comparator_text(c.comparator, c.threshold, c.unit or ev.unit),
                vi.coverage_text(ev.coverage, c.min_coverage),
                vi.number(ev.samples, 0),
            ]
        )
        fills.append((1, i, vi.verdict_style(c.verdict).colour))
    # the verdict column fits «Chưa đủ dữ liệu» on one line
    return grid(rows, st, [56 * mm, 32 * mm, 26 * mm, 24 * mm, 18 * mm, 18 * mm], fills=fills)


def _days_with(section: Section, verdict: str, period: Period) -> str:
    days = [
        period.day_label(day)
        for day, v in section.days
        if (v.verdict if v else "insufficient_data") == verdict
    ]
    return ", ".join(days) or "không có"


def _days_line(section: Section, period: Period) -> str:
    line = (
        f"Ngày không đạt: {_days_with(section, 'fail', period)}. "
        f"Ngày chưa đủ dữ liệu: {_days_with(section, 'insufficient_data', period)}."
    )
    if any(v is not None and v.verdict == "unverified" for _, v in section.days):
        # named only where it happened: most dossiers never have such a day
        line += f" Ngày chưa xác minh: {_days_with(section, 'unverified', period)}."
    return line


#: what a figure's members are called (``member_tag``): its sums add up over them, and the evidence says how many
#: there were (``detail.lights``): 3 lights observed all month make 90 days of observed time
MEMBERS = {"light": "đèn", "ap": "điểm phát Wi-Fi", "modem": "modem"}


def _detail(section: Section) -> str:
    c, tag = section.criterion, section.figure.member_tag
    parts = [
        f"{DETAIL[k]}: {vi.duration_text(v)}"
        for k, v in c.evidence.detail.items()
        if k in DETAIL and isinstance(v, int | float) and v
    ]
    count = c.evidence.detail.get(f"{tag}s") if tag else None
    line = "; ".join(parts)
    if parts and tag and isinstance(count, int) and count > 1:
        line = f"Tổng của {count} {MEMBERS.get(tag, tag)} – {line}"
    source = c.evidence.detail.get("source")
    if source:
        line += f"{'; ' if line else ''}nguồn: {vi.source_text(source)}"
    return line


def _daily_caption(period: Period, days: int) -> str:
    if period.month is not None:
        return "Theo ngày (cột: giá trị của ngày, màu: kết quả của ngày; đường nét đứt: ngưỡng):"
    if days == 1:
        return (
            "Theo ngày: khoảng thời gian nằm trong một ngày, nên chỉ có một cột, là giá trị và kết quả của cả "
            "khoảng thời gian (đường nét đứt: ngưỡng):"
        )
    return (
        "Theo ngày (cột: giá trị của phần ngày nằm trong khoảng thời gian, màu: kết quả của phần ngày đó; "
        "đường nét đứt: ngưỡng):"
    )


def _section(section: Section, period: Period, now_ms: int, zone: ZoneInfo, st: Styles) -> list[Flowable]:
    c, ev = section.criterion, section.criterion.evidence
    window = f"{vi.local_time(ev.window.start, zone)} – {vi.local_time(ev.window.end, zone)}"
    rows: list[list[str | Flowable]] = [
        ["Kết quả", "Giá trị đo", "Ngưỡng", "Độ phủ (tối thiểu)", "Số mẫu"],
        [
            _verdict_cell(c.verdict, st),
            vi.value_text(ev.value, ev.unit, c.threshold),
            vi.comparator_text(c.comparator, c.threshold, c.unit or ev.unit),
            f"{vi.coverage_text(ev.coverage, c.min_coverage)} ({vi.coverage_text(c.min_coverage)})",
            vi.number(ev.samples, 0),
        ],
    ]
    parts: list[Flowable] = [
        para(c.title.vi, st.h2),
        grid(
            rows,
            st,
            [32 * mm, 32 * mm, 30 * mm, 44 * mm, 36 * mm],
            fills=[(0, 1, vi.verdict_style(c.verdict).colour)],
        ),
        Spacer(1, 3),
        para(f"Khoảng thời gian: {window}", st.small),
    ]
    counted = days_counted(ev.detail, now_ms)
    if counted is not None:  # the dossier made while the last day runs holds a value that still grows
        parts.append(
            para(vi.days_counted_text(counted.first, counted.until, counted.running, zone), st.small)
        )
    if _detail(section):
        parts.append(para(_detail(section), st.small))
    if section.charted:
        parts += [
            para(_daily_caption(period, len(section.days)), st.small),
            daily_chart(section, WIDTH, by_month=period.month is not None),
            para(_days_line(section, period), st.small),
        ]
    return [KeepTogether(parts)]


def evidence(dossier: VillageDossier, zone: ZoneInfo, st: Styles) -> list[Flowable]:
    made_ms = ms_of(dossier.generated)  # whether a day still runs: as the dossier was made
    return [f for section in dossier.sections for f in _section(section, dossier.period, made_ms, zone, st)]


def lighting(
    answer: m.LightingOut,
    faults: list[LightFault],
    period: Period,
    st: Styles,
    on: m.CriterionOut | None = None,
) -> list[Flowable]:
    """The lighting part; ``on``: the village's criterion on the lights (``criterion_on``), whose threshold and
    minimum coverage each figure is written beside, as in the verdict table."""
    if not answer.lights:
        return [para(f"Thôn không có đèn chiếu sáng báo cáo qua gateway trong {period.noun}.", st.body)]
    threshold, minimum = (on.threshold, on.min_coverage) if on else (None, None)
    summary = (
        f"Đèn sáng đúng lịch: {vi.value_text(answer.availability_pct, '%', threshold)} "
        f"({len(answer.lights)} đèn, độ phủ {vi.coverage_text(answer.coverage, minimum)})."
    )
    if not faults:
        return [para(summary, st.lead), para(f"Không có đèn báo lỗi trong {period.noun}.", st.body)]
    rows = [["Đèn", "Khu vực", "Lỗi", "Ngày có báo lỗi", f"Sáng đúng lịch ({period.noun})"]]
    rows += [
        [
            f.light,
            f.zone,
            vi.light_fault_text(f.fault),
            _date_ranges(f.dates),
            # no verdict of its own, but read against the village's threshold: 98,99 % is not 99,0 %
            vi.value_text(f.availability_pct, "%", threshold),
        ]
        for f in faults
    ]
    return [para(summary, st.lead), grid(rows, st, [20 * mm, 26 * mm, 32 * mm, 66 * mm, 30 * mm])]


def criterion_on(criteria: m.VillageCriteriaOut, figure: str) -> m.CriterionVerdictOut | None:
    """The village's criterion on ``figure`` over the whole village (no parameter), if it has one."""
    return next((c for c in criteria.criteria if c.figure == figure and not c.params), None)


def _date_ranges(dates: Sequence[date]) -> str:
    """``05/03, 18/03–31/03``: consecutive days as one range."""
    runs: list[list[date]] = []
    for day in sorted(dates):
        if runs and (day - runs[-1][-1]).days == 1:
            runs[-1].append(day)
        else:
            runs.append([day])
    return ", ".join(f"{r[0]:%d/%m}" + (f"–{r[-1]:%d/%m}" if len(r) > 1 else "") for r in runs)


def signatures(roles: Sequence[str], st: Styles) -> Table:
    """A box per role: title, then room for the signature, the full name and the date."""
    cells = [
        [
            para(role, st.head),
            Spacer(1, 26 * mm),
            para("Họ và tên: ..............................", st.cell),
            para("Ngày ....... tháng ....... năm ..........", st.cell),
        ]
        for role in roles
    ]
    rows = [cells[i : i + 2] + [""] * (2 - len(cells[i : i + 2])) for i in range(0, len(cells), 2)]
    table = Table(rows, colWidths=[WIDTH / 2] * 2)
    table.setStyle(
        TableStyle(
            [
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("FONTNAME", (0, 0), (-1, -1), FONT),
                ("BOX", (0, 0), (-1, -1), 0.4, _LINE),
                ("INNERGRID", (0, 0), (-1, -1), 0.4, _LINE),
                ("TOPPADDING", (0, 0), (-1, -1), 6),
            ]
        )
    )
    return table
