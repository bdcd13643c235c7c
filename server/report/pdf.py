"""The dossier as an A4 PDF: cover, then the parts of ``layout.py`` (and ``outages.py``, ``verification.py``,
``method.py``), with a footer on every page.

Built in memory: the bytes exist only once the whole document is laid out, so neither the API nor the CLI
can hand out half a dossier.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from zoneinfo import ZoneInfo

from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import Flowable, PageBreak, SimpleDocTemplate, Spacer

from server import models as m
from server.report import layout as lay
from server.report import vi
from server.report.data import CommuneDossier, Place, VillageDossier
from server.report.method import method
from server.report.outages import outages
from server.report.period import Period
from server.report.styles import FONT, Styles, styles
from server.report.verification import status_line, verification

__all__ = ["commune_pdf", "village_pdf"]

TITLE = "HỒ SƠ MINH CHỨNG THÔN THÔNG MINH"
SUBTITLE = "Hạ tầng số: cáp quang, 4G, Wi-Fi công cộng, chiếu sáng công cộng"


def _cover(
    place: Place, kind: str, dossier: VillageDossier | CommuneDossier, zone: ZoneInfo, st: Styles
) -> list[Flowable]:
    period, window = dossier.period, dossier.period.window
    rows = []
    if kind == "Thôn":
        rows.append(["Thôn", f"{place.name} ({place.slug})" if place.name != place.slug else place.slug])
    rows += [["Xã", place.commune or "–"], ["Huyện", place.district or "–"], ["Tỉnh", place.province or "–"]]
    if period.month is not None:
        rows += [
            ["Tháng", f"{period.month.month:02d}/{period.month.year}"],
            [
                "Khoảng thời gian",
                f"{vi.local_time(window.start_ms, zone, seconds=False)} – "
                f"{vi.local_time(window.end_ms, zone, seconds=False)}",
            ],
        ]
    else:
        rows.append(["Khoảng thời gian", f"{period.label} ({vi.duration_text(window.seconds)})"])
    if isinstance(dossier, VillageDossier):
        rows.append(["Xác minh số liệu", status_line(dossier.verification)])
    rows += [
        ["Múi giờ", vi.zone_text(zone, window.start_ms)],
        ["Lập lúc", f"{vi.local_time(dossier.generated, zone)} (thonminh {dossier.software})"],
    ]
    table = lay.grid(rows, st, [45 * mm, lay.WIDTH - 45 * mm], header=False)
    return [
        Spacer(1, 30 * mm),
        lay.para(TITLE, st.title),
        lay.para(SUBTITLE, st.subtitle),
        lay.para(f"{kind} {place.name} · {period.label}", st.subtitle),
        table,
    ]


def _counts(counts: m.Counts | dict, st: Styles) -> Flowable:
    values = counts if isinstance(counts, dict) else counts.model_dump()
    shown = " · ".join(f"{vi.verdict_style(v).label}: {n}" for v, n in values.items())
    return lay.para(f"Tổng hợp: {shown}", st.body)


def _heading(title: str, period: Period, st: Styles) -> list[Flowable]:
    """A part's heading; under it, for a period that is not a whole month, the period in local time."""
    heading = lay.para(title, st.h1)
    return (
        [heading]
        if period.month is not None
        else [heading, lay.para(f"Khoảng thời gian: {period.label}", st.period)]
    )


def _village_body(
    d: VillageDossier, zone: ZoneInfo, st: Styles, prefix: str = "", *, first: bool = True
) -> list[Flowable]:
    """A village's parts; ``first``: the dossier's first village, where its terms (MTBF, MTTR) are explained."""
    p = d.period
    return [
        *_heading(f"{prefix}1. Kết quả các tiêu chí", p, st),
        lay.verdict_table(d.criteria, st),
        Spacer(1, 4),
        _counts(d.criteria.counts, st),
        *_heading(f"{prefix}2. Minh chứng từng tiêu chí", p, st),
        *lay.evidence(d, zone, st),
        *_heading(f"{prefix}3. Sự cố mất kết nối", p, st),
        *outages(d.outages, p, zone, st, explain=first),
        *_heading(f"{prefix}4. Đèn chiếu sáng: lỗi trong {p.noun}", p, st),
        *lay.lighting(d.lighting, d.faults, p, st, lay.criterion_on(d.criteria, "lighting.availability")),
        *_heading(f"{prefix}5. Xác minh số liệu (chữ ký số)", p, st),
        *verification(d.verification, p, zone, st),
    ]


def _closing(
    dossiers: Sequence[VillageDossier], roles: Sequence[str], zone: ZoneInfo, st: Styles
) -> list[Flowable]:
    return [
        PageBreak(),
        *_heading("Phương pháp đo", dossiers[0].period, st),
        *method(dossiers, zone, st),
        lay.para("Xác nhận", st.h1),
        lay.signatures(roles, st),
    ]


def _summary(summary: m.CriteriaRollupOut, names: dict[str, str], st: Styles) -> list[Flowable]:
    """The commune's villages against every criterion: criteria numbered, named below the table."""
    head = ["Thôn", *(str(i) for i in range(1, len(summary.criteria) + 1))]
    rows: list[list] = [head]
    fills = []
    for r, village in enumerate(summary.villages, start=1):
        row: list = [names.get(village.village, village.village)]
        for col, c in enumerate(summary.criteria, start=1):
            v = village.verdicts.get(c.id)
            style = vi.verdict_style(v.verdict if v else "insufficient_data")
            value = vi.value_text(v.value if v else None, "", c.threshold)  # units: in the legend
            row.append(f"{style.mark} {value}".strip())
            fills.append((col, r, style.tint))
        rows.append(row)
    width = (lay.WIDTH - 40 * mm) / max(1, len(summary.criteria))
    legend = "; ".join(
        f"{i}. {c.title.vi} ({vi.comparator_text(c.comparator, c.threshold, c.unit)})"
        for i, c in enumerate(summary.criteria, start=1)
    )
    colours = "; ".join(f"{s.mark} {s.colour_name}: {s.label}" for s in vi.VERDICTS.values())
    return [
        lay.grid(rows, st, [40 * mm] + [width] * len(summary.criteria), fills=fills),
        Spacer(1, 4),
        lay.para(f"Ký hiệu và màu ô: {colours}. Tiêu chí: {legend}.", st.small),
    ]


def _render(story: list[Flowable], footer: str) -> bytes:
    out = io.BytesIO()

    def on_page(canvas: Canvas, doc: SimpleDocTemplate) -> None:
        canvas.saveState()
        canvas.setFont(FONT, 7.5)
        canvas.drawString(lay.MARGIN, 10 * mm, vi.text(footer))
        canvas.drawRightString(A4[0] - lay.MARGIN, 10 * mm, f"Trang {doc.page}")
        canvas.restoreState()

    doc = SimpleDocTemplate(
        out,
        pagesize=A4,
        leftMargin=lay.MARGIN,
        rightMargin=lay.MARGIN,
        topMargin=lay.TOP_MARGIN,
        bottomMargin=lay.MARGIN,
        title=vi.text(footer),
        author="thonminh",
        initialFontName=FONT,
        initialFontSize=9.5,
    )
    doc.build(story, onFirstPage=on_page, onLaterPages=on_page)
    return out.getvalue()


def village_pdf(d: VillageDossier, zone: ZoneInfo) -> bytes:
    st = styles()
    story = [
        *_cover(d.place, "Thôn", d, zone, st),
        PageBreak(),
        *_village_body(d, zone, st),
        *_closing([d], ["Trưởng thôn", "Cán bộ Ủy ban nhân dân xã"], zone, st),
    ]
    return _render(story, f"Hồ sơ minh chứng · thôn {d.place.name} · {d.period.label}")


def commune_pdf(d: CommuneDossier, zone: ZoneInfo) -> bytes:
    st = styles()
    names = {v.place.slug: v.place.name for v in d.villages}
    story = [
        *_cover(d.place, "Xã", d, zone, st),
        PageBreak(),
        *_heading("Bảng tổng hợp các thôn", d.period, st),
        *_summary(d.summary, names, st),
    ]
    for i, village in enumerate(d.villages, start=1):
        story += [
            PageBreak(),
            lay.para(f"Thôn {village.place.name}", st.title),
            *_village_body(village, zone, st, prefix=f"{i}.", first=i == 1),
        ]
    roles = ["Cán bộ Ủy ban nhân dân xã", *(f"Trưởng thôn {v.place.name}" for v in d.villages)]
    return _render(
        [*story, *_closing(d.villages, roles, zone, st)],
        f"Hồ sơ minh chứng · xã {d.place.name} · {d.period.label}",
    )
