"""A figure just under its threshold or minimum is written under it in the dossier, as on the village page.

A reviewer found the API's fiber coverage 0.79981 (insufficient_data) printed "80,0 %" in section 1 and
"80,0 % (80,0 %)" in section 2, and the lights' 94.996 % (a criterion ≥ 95 %) "95,0 %" in section 4. The parts
are printed here from answers shaped as the API gives them, with those numbers, and read with pdftotext.
"""

from __future__ import annotations

from datetime import date
from types import SimpleNamespace as NS
from zoneinfo import ZoneInfo

import pdftools
from reportlab.platypus import Flowable

from server.pages.i18n import Lang
from server.report import layout as lay
from server.report.data import LightFault, Section
from server.report.month import Month
from server.report.pdf import _render
from server.report.period import Period
from server.report.styles import styles
from thonminh.figures import FIGURES

ZONE = ZoneInfo("Asia/Ho_Chi_Minh")
MARCH = Period.of_month(Month(2025, 3, ZONE))
WINDOW = NS(start="2025-02-28T17:00:00Z", end="2025-03-31T17:00:00Z")


def _criterion(cid: str, figure: str, value: float, coverage: float, verdict: str, **params: object) -> NS:
    return NS(
        id=cid,
        title=NS(vi=cid, en=cid),
        figure=figure,
        params=params,
        comparator=">=",
        threshold=95.0 if figure == "lighting.availability" else 99.0,
        unit="%",
        min_coverage=0.8,
        verdict=verdict,
        evidence=NS(value=value, unit="%", coverage=coverage, samples=8928, window=WINDOW, detail={}),
    )


FIBER = _criterion(
    "fiber_availability", "uplink.availability", 98.99494, 0.79981, "insufficient_data", link="fb"
)
LIGHTS = _criterion("street_lighting", "lighting.availability", 94.996, 0.9, "fail")
CRITERIA = NS(criteria=[FIBER, LIGHTS])


def printed(story: list[Flowable]) -> str:
    return " ".join(pdftools.text(_render(story, "test"), layout=False).split())


def test_section_1_writes_a_coverage_under_its_minimum_under_it() -> None:
    text = printed([lay.verdict_table(CRITERIA, styles())])
    assert "98,99 %" in text and "79,98 %" in text and "80,0 %" not in text, text


def test_section_2_writes_a_coverage_under_its_minimum_under_it() -> None:
    section = Section(FIBER, FIGURES[FIBER.figure], [(date(2025, 3, 8), NS(verdict="fail", value=98.99494))])
    dossier = NS(sections=[section], period=MARCH, generated="2025-04-01T00:00:00Z")
    text = printed(lay.evidence(dossier, ZONE, styles()))
    assert "98,99 % ≥ 99 % 79,98 % (80,0 %)" in text, text


def test_section_4_writes_the_lights_beside_their_criterions_threshold() -> None:
    answer = NS(availability_pct=94.996, coverage=0.79981, lights=[NS()])
    faults = [LightFault("L3", "cổng", "lamp_failure", [date(2025, 3, 8)], 94.9951)]
    on = lay.criterion_on(CRITERIA, "lighting.availability")
    assert on is LIGHTS
    text = printed(lay.lighting(answer, faults, MARCH, styles(), on))
    assert "Đèn sáng đúng lịch: 94,996 % (1 đèn, độ phủ 79,98 %)." in text, text
    assert "94,995 %" in text and "95,0 %" not in text, text


def test_the_page_and_the_dossier_write_a_coverage_alike() -> None:
    from server.report import vi

    page = Lang("vi", ZONE)
    assert vi.coverage_text(0.79981, 0.8) == page.share(0.79981, 0.8) == "79,98 %"
    assert vi.coverage_text(0.79981) == page.share(0.79981) == "80,0 %"
