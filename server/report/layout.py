"""The dossier's parts as ReportLab flowables: verdict table, evidence per criterion, lighting faults, method and
signatures (the outages: ``outages.py``). Each takes the assembled answers (``data.py``) and only formats them.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any
from xml.sax.saxutils import escape
from zoneinfo import ZoneInfo

from reportlab.lib import colors
from reportlab.lib.units import mm
from reportlab.platypus import Flowable, KeepTogether, Paragraph, Spacer, Table, TableStyle

from server import models as m
from server.catalog import days_counted
from server.report import vi
from server.report.charts import daily_chart
from server.report.data import Gateway, LightFault, Section, VillageDossier
from server.report.period import Period
from server.report.styles import BOLD, FONT, Styles
from server.timeparse import ms_of
from thonminh.figures import OBSERVED, SAMPLES, Coverage

__all__ = [
    "WIDTH",
    "cut",
    "evidence",
    "grid",
    "lighting",
    "method",
    "para",
    "signatures",
    "verdict_table",
]

#: the text width of an A4 page with 18 mm margins
WIDTH = 210 * mm - 36 * mm
_LINE = colors.HexColor("#9e9e9e")
_HEAD_BG = colors.HexColor("#e8eef6")

#: how a gateway samples: at the intervals of its own configuration, which the service does not know; the cadence
#: the data shows is under the method's table (``_cadences``)
_CONFIGURED = "theo chu kỳ cấu hình trên gateway"
_MODEM = f"Gateway đọc modem 4G {_CONFIGURED}"
#: how each figure is measured, in the words of the dossier (the formula itself is the description's)
HOW = {
    "uplink.availability": "Gateway thăm dò các địa chỉ kiểm tra qua từng đường truyền; mỗi mẫu là một chu kỳ thăm "
    f"dò, {_CONFIGURED}. Cả chu kỳ được tính là hoạt động khi đủ số địa chỉ tối thiểu trả lời, nếu không thì là "
    "không hoạt động.",
    "wifi.service": f"Gateway đọc trạng thái điểm phát Wi-Fi công cộng {_CONFIGURED}; điểm phát hoạt động khi trả "
    "lời và mạng Wi-Fi đang phát. Tính trong giờ mở cửa của nhà văn hóa khi gateway được cấu hình giờ mở cửa và "
    "{noun} có giờ mở cửa, nếu không thì trên toàn bộ thời gian quan sát.",
    "wifi.daily_users": "Mỗi ngày gateway đếm số thiết bị khác nhau kết nối từng điểm phát Wi-Fi công cộng (địa "
    "chỉ MAC được băm với chuỗi ngẫu nhiên đổi mỗi ngày, không lưu danh tính); số của ngày cộng mọi điểm phát, "
    "lấy trung bình trên các ngày có dữ liệu.",
    "lighting.availability": f"Mỗi đèn báo trạng thái qua MQTT; gateway ghi một mẫu cho mỗi đèn {_CONFIGURED}. "
    "Thời gian đèn sáng khi lịch yêu cầu sáng chia cho thời gian lịch yêu cầu sáng, cộng trên mọi đèn.",
    "modem.rsrp_share": f"{_MODEM}; tỷ lệ số lần đọc có cường độ tín hiệu (RSRP) từ mức yêu cầu trở lên, trong "
    "các lần đọc có RSRP.",
    "modem.registered_share": f"{_MODEM}; tỷ lệ số lần đọc modem đã đăng ký mạng, trong các lần đọc có trạng "
    "thái đăng ký.",
    "indicator.value": "Chỉ số do cán bộ nhập qua API, lưu kèm tên khóa API đã dùng và ghi chú của người nhập (nếu "
    "có); giá trị mới nhất trong {noun}.",
}
#: ``{noun}``: what the dossier calls its period (``tháng``, ``khoảng thời gian``)
COVERAGE = {
    Coverage.OBSERVED: "thời gian có mẫu đo chia cho thời gian của {noun} (nhiều thiết bị: trung bình theo từng "
    "thiết bị)",
    Coverage.HOURS: "số giờ có số đọc chia cho số giờ của {noun} (nhiều thiết bị: thiết bị có nhiều giờ nhất)",
    Coverage.DAYS: "số ngày có dữ liệu chia cho số ngày của {noun}",
    Coverage.PRESENT: "100 % khi trong {noun} có giá trị được nhập",
}
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
    table = Table(cells, colWidths=list(widths), repeatRows=1)
    table.setStyle(TableStyle(commands))
    return table


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
                vi.coverage_text(ev.coverage),
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


def _detail(c: m.CriterionVerdictOut) -> str:
    parts = [
        f"{DETAIL[k]}: {vi.duration_text(v)}"
        for k, v in c.evidence.detail.items()
        if k in DETAIL and isinstance(v, int | float) and v
    ]
    source = c.evidence.detail.get("source")
    if source:
        parts.append(f"nguồn: {source}")
    return "; ".join(parts)


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
            f"{vi.coverage_text(ev.coverage)} ({vi.coverage_text(c.min_coverage)})",
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
    if _detail(c):
        parts.append(para(_detail(c), st.small))
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


def lighting(answer: m.LightingOut, faults: list[LightFault], period: Period, st: Styles) -> list[Flowable]:
    if not answer.lights:
        return [para(f"Thôn không có đèn chiếu sáng báo cáo qua gateway trong {period.noun}.", st.body)]
    summary = (
        f"Đèn sáng đúng lịch: {vi.value_text(answer.availability_pct, '%')} "
        f"({len(answer.lights)} đèn, độ phủ {vi.coverage_text(answer.coverage)})."
    )
    if not faults:
        return [para(summary, st.body), para(f"Không có đèn báo lỗi trong {period.noun}.", st.body)]
    rows = [["Đèn", "Khu vực", "Lỗi", "Ngày có báo lỗi", f"Sáng đúng lịch ({period.noun})"]]
    rows += [
        [
            f.light,
            f.zone,
            vi.light_fault_text(f.fault),
            _date_ranges(f.dates),
            vi.value_text(f.availability_pct, "%"),
        ]
        for f in faults
    ]
    return [para(summary, st.body), grid(rows, st, [20 * mm, 26 * mm, 32 * mm, 66 * mm, 30 * mm])]


def _date_ranges(dates: Sequence[date]) -> str:
    """``05/03, 18/03–31/03``: consecutive days as one range."""
    runs: list[list[date]] = []
    for day in sorted(dates):
        if runs and (day - runs[-1][-1]).days == 1:
            runs[-1].append(day)
        else:
            runs.append([day])
    return ", ".join(f"{r[0]:%d/%m}" + (f"–{r[-1]:%d/%m}" if len(r) > 1 else "") for r in runs)


def _gateways(gateways: list[Gateway], period: Period, zone: ZoneInfo, st: Styles) -> Table:
    rows = [["Gateway", f"Phiên bản phần mềm trong {period.noun}", "Lần cuối có dữ liệu"]]
    rows += [
        [
            g.gateway,
            ", ".join(g.versions) or "không báo",
            vi.local_time(g.last_seen, zone) if g.last_seen else "–",
        ]
        for g in gateways
    ] or [["–", "–", "–"]]
    return grid(rows, st, [50 * mm, 64 * mm, 60 * mm])


def _sample_seconds(ev: m.EvidenceOut) -> float | None:
    observed = ev.detail.get(OBSERVED.name)
    if not isinstance(observed, int | float) or observed <= 0 or ev.samples <= 0:
        return None
    return observed / ev.samples


def _cadences(dossier: VillageDossier, st: Styles) -> list[Flowable]:
    """The mean length of one sample of each figure of interval samples (its ``observed_s`` over its samples): the
    cadence the village's data shows for the period, where the service cannot know the configured one. A modem
    reading, a day's Wi-Fi users and an entered indicator carry no observed seconds: their figures get none."""
    shown = []
    for s in dossier.sections:
        seconds = _sample_seconds(s.criterion.evidence) if s.figure.samples == SAMPLES else None
        if seconds is not None:
            length = f"{vi.number(seconds, 1)} giây" if seconds < 60 else vi.duration_text(seconds)
            shown.append(f"{s.criterion.title.vi}: {length}")
    if not shown:
        return []
    return [
        para(
            "Thời gian trung bình của một mẫu (tổng thời gian quan sát chia cho số mẫu) trong "
            f"{dossier.period.noun}: {'; '.join(shown)}.",
            st.body,
        )
    ]


def method(dossiers: Sequence[VillageDossier], zone: ZoneInfo, st: Styles) -> list[Flowable]:
    first = dossiers[0]
    noun = first.period.noun
    parts: list[Flowable] = [
        para(
            "Mọi con số trong hồ sơ do dịch vụ tiêu chí (criteria service) tính từ số liệu các gateway gửi về và các "
            "chỉ số cán bộ nhập, bằng cùng các hàm với API cho cùng khoảng thời gian (tiêu chí: "
            "/api/v1/villages/{thôn}/criteria, theo ngày: /api/v1/criteria; sự cố: /api/v1/villages/{thôn}/outages; "
            "đèn: /api/v1/villages/{thôn}/lighting). Độ phủ cho biết phần "
            f"nào của {noun} có số liệu đo; khi độ phủ thấp hơn mức tối thiểu của tiêu chí, "
            "kết quả là «Chưa đủ dữ liệu»: "
            "thiếu số liệu không bao giờ được tính là đạt. Giờ ghi theo múi giờ "
            f"{vi.zone_text(zone, first.period.window.start_ms)}.",
            st.body,
        )
    ]
    rows = [["Tiêu chí", "Cách đo", "Công thức", "Độ phủ"]]
    rows += [
        [
            s.criterion.title.vi,
            HOW.get(s.figure.key, s.figure.title.vi).replace("{noun}", noun),
            s.figure.description.vi,
            COVERAGE[s.figure.coverage].replace("{noun}", noun),
        ]
        for s in first.sections
    ]
    parts += [grid(rows, st, [40 * mm, 56 * mm, 42 * mm, 36 * mm]), Spacer(1, 6)]
    for dossier in dossiers:
        parts += [
            para(f"Số liệu của thôn {dossier.place.name}:", st.body),
            _gateways(dossier.gateways, dossier.period, zone, st),
            Spacer(1, 4),
            *_cadences(dossier, st),
        ]
    parts.append(
        para(f"Hồ sơ do thonminh {first.software} lập lúc {vi.local_time(first.generated, zone)}.", st.body)
    )
    return parts


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
