"""The dossier's method: how each figure is measured, its formula and what its coverage means; under them what
the names in the formulas mean, then each village's gateways and the cadence its data shows.

A formula is the figure's description (``thonminh/figures.py``), the exact rule, names of fields and all: it is
printed as written, in the dossier's word for its period, and explained in Vietnamese under the table. A name
wider than its cell breaks where a reader expects it (``sum(`` / ``lit_when_expected_s)``), not where ReportLab
runs out of room (``sum(lit_when_expected_`` / ``s)``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from xml.sax.saxutils import escape
from zoneinfo import ZoneInfo

from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.platypus import Flowable, Paragraph, Spacer, Table

from server import models as m
from server.report import vi
from server.report.data import Gateway, VillageDossier
from server.report.layout import grid, para
from server.report.period import Period
from server.report.styles import Styles
from thonminh.figures import OBSERVED, SAMPLES, Coverage, FigureDescription

__all__ = ["COVERAGE", "FIELDS", "HOW", "WIDTHS", "formula", "formula_markup", "method", "names_in"]

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
    "indicator.value": "Chỉ số do cán bộ nhập (qua API hoặc trên trang của thôn), lưu kèm tên khóa API đã dùng "
    "và ghi chú của người nhập (nếu có); giá trị mới nhất trong {noun}.",
}
#: ``{noun}``: what the dossier calls its period (``tháng``, ``khoảng thời gian``)
COVERAGE = {
    Coverage.OBSERVED: "thời gian có mẫu đo chia cho thời gian của {noun} (nhiều thiết bị: trung bình theo từng "
    "thiết bị)",
    Coverage.HOURS: "số giờ có số đọc chia cho số giờ của {noun} (nhiều thiết bị: thiết bị có nhiều giờ nhất)",
    Coverage.DAYS: "số ngày có dữ liệu chia cho số ngày của {noun}",
    Coverage.PRESENT: "100 % khi trong {noun} có giá trị được nhập",
}
#: the names the formulas use, in Vietnamese (a name not here is listed as itself: tests/report keeps it complete)
FIELDS = {
    "up_s": "thời gian hoạt động",
    "observed_s": "thời gian quan sát (có mẫu đo)",
    "open_s": "thời gian trong giờ mở cửa",
    "up_open_s": "thời gian hoạt động trong giờ mở cửa",
    "expected_on_s": "thời gian lịch yêu cầu đèn sáng",
    "lit_when_expected_s": "thời gian đèn sáng khi lịch yêu cầu sáng",
    "rsrp_min_dbm": "mức RSRP tối thiểu của tiêu chí (dBm, ghi trong tên tiêu chí)",
}
#: a name in a formula: ``lit_when_expected_s``, ``rsrp_min_dbm``
_NAME = re.compile(r"\b[a-z][a-z0-9]*(?:_[a-z0-9]+)+\b")
#: how the descriptions name the window a figure is computed over (Grafana shares them: there it is the
#: dashboard's range); the dossier says its own word for its period instead (``Period.noun``)
_WINDOW = "khoảng thời gian"
#: the method table's columns: criterion, how it is measured, formula (wide enough for ``sum(lit_when_expected_s)``
#: on one line), coverage
WIDTHS = (38 * mm, 54 * mm, 46 * mm, 36 * mm)
#: a table cell's default left and right padding (``LEFTPADDING``, 6 pt each)
_PADDING = 12
#: where a formula's word too wide for its cell may break, best first: after ``(``, ``/`` or ``,`` (each name
#: stays whole), then after ``_`` (within a name, only one wider than the cell)
_BREAKS = (re.compile(r"(?<=[(/,])"), re.compile(r"(?<=_)"))


def formula(figure: FigureDescription, noun: str) -> str:
    """The figure's formula in Vietnamese, in the dossier's word for its period."""
    return figure.description.vi.replace(_WINDOW, noun)


def names_in(text: str) -> list[str]:
    """The field and parameter names a formula uses, each once, in order."""
    return list(dict.fromkeys(_NAME.findall(text)))


def _pieces(word: str, fits: Callable[[str], bool], breaks: Sequence[re.Pattern[str]]) -> list[str]:
    """``word`` as lines that fit, broken at the first kind of point in ``breaks`` that makes them fit; a piece
    with no such point stays whole (ReportLab splits it: the last resort)."""
    if fits(word) or not breaks:
        return [word]
    lines: list[str] = []
    for part in breaks[0].split(word):
        for piece in _pieces(part, fits, breaks[1:]) if part else []:
            if lines and fits(lines[-1] + piece):
                lines[-1] += piece
            else:
                lines.append(piece)
    return lines


def formula_markup(text: str, width: float, style: ParagraphStyle) -> str:
    """Paragraph markup of ``text`` for a cell ``width`` wide: each word wider than the cell broken with
    ``<br/>`` at a sensible point; ReportLab wraps the rest at spaces."""

    def fits(piece: str) -> bool:
        return stringWidth(piece, style.fontName, style.fontSize) <= width - _PADDING

    return " ".join(
        "<br/>".join(escape(line) for line in _pieces(word, fits, _BREAKS))
        for word in vi.text(text).split(" ")
    )


def _legend(names: Sequence[str], noun: str) -> str:
    explained = "; ".join(f"{name}: {FIELDS.get(name, name)}" for name in names)
    return f"Trong cột «Công thức»: sum(…) là tổng trên mọi mẫu trong {noun}; {explained}. Thời gian tính bằng giây."


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
            "Mọi con số trong hồ sơ do dịch vụ tiêu chí tính từ số liệu các gateway gửi về và các chỉ số cán bộ "
            f"nhập, bằng cùng các hàm với API cho cùng {noun} (tiêu chí: "
            "/api/v1/villages/{thôn}/criteria, theo ngày: /api/v1/criteria; sự cố: /api/v1/villages/{thôn}/outages; "
            "đèn: /api/v1/villages/{thôn}/lighting). Độ phủ cho biết phần "
            f"nào của {noun} có số liệu đo; khi độ phủ thấp hơn mức tối thiểu của tiêu chí, "
            "kết quả là «Chưa đủ dữ liệu»: "
            "thiếu số liệu không bao giờ được tính là đạt. Giờ ghi theo múi giờ "
            f"{vi.zone_text(zone, first.period.window.start_ms)}.",
            st.body,
        )
    ]
    formulas = [formula(s.figure, noun) for s in first.sections]
    rows: list[list[str | Flowable]] = [["Tiêu chí", "Cách đo", "Công thức", "Độ phủ"]]
    rows += [
        [
            s.criterion.title.vi,
            HOW.get(s.figure.key, s.figure.title.vi).replace("{noun}", noun),
            Paragraph(formula_markup(text, WIDTHS[2], st.cell), st.cell),
            COVERAGE[s.figure.coverage].replace("{noun}", noun),
        ]
        for s, text in zip(first.sections, formulas, strict=True)
    ]
    names = names_in(" ".join(formulas))
    if names:  # a row across the table, kept with the last formula on its page
        rows.append([para(_legend(names, noun), st.small), "", "", ""])
    parts += [grid(rows, st, WIDTHS, notes=[len(rows) - 1] if names else []), Spacer(1, 6)]
    for dossier in dossiers:
        parts += [
            para(f"Số liệu của thôn {dossier.place.name}:", st.lead),
            _gateways(dossier.gateways, dossier.period, zone, st),
            Spacer(1, 4),
            *_cadences(dossier, st),
        ]
    parts.append(
        para(f"Hồ sơ do thonminh {first.software} lập lúc {vi.local_time(first.generated, zone)}.", st.body)
    )
    return parts
