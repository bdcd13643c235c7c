"""Where the dossier's pages break, read with ``pdftotext -bbox``: a line that introduces what follows (``Số liệu
của thôn …:`` and its gateways, ``Khóa của gateway:``, the lighting summary and its faults, the period under a
part's heading) never ends a page with what it introduces on the next.

The served dossiers are checked as they come out; then each part with such a line is printed after a blank of
every height, so that line falls at every place of a page, the foot included."""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from pathlib import Path
from zoneinfo import ZoneInfo

import pdftools
import pytest
import rep_scenario as sc
from fastapi.testclient import TestClient
from rep_helpers import iso as _iso
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.platypus import Flowable, PageBreak, Spacer
from srv_helpers import READ

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "pages"))
import verification_cases as cases

from server.report import period_of
from server.report.data import VillageDossier, village_dossier
from server.report.layout import lighting
from server.report.method import method
from server.report.outages import outages
from server.report.pdf import _render
from server.report.styles import styles
from server.report.verification import verification
from server.verification_view import summarise

VILLAGE = "kha-ly-thuong"
ZONE = ZoneInfo("Asia/Ho_Chi_Minh")
#: the page's footer is 10 mm above its foot; the text ends 18 mm above it
ABOVE_FOOTER = A4[1] - 14 * mm
#: the heights of blank put before a part: every 8 pt of the page's frame (733 pt high); a lead-in and the
#: first row of its table are more than 20 pt high, so some height puts the lead-in at the foot with no room left
#: for that row
HEIGHTS = range(0, 726, 8)
#: a line that introduces what follows it: one ending with a colon and shorter than the text is wide (a line
#: of a paragraph may end with ``(tiêu chí:`` where the paragraph goes on), the period under a part's heading,
#: the lighting summary over its faults
LEAD_IN = re.compile(r":$")
ALWAYS = re.compile(r"^Khoảng thời gian: |^Đèn sáng đúng lịch: ")
TEXT_WIDTH = A4[0] - 36 * mm


def lead_ins_at_a_foot(pdf: bytes) -> list[tuple[int, str]]:
    """``(page, line)`` for each page whose last line introduces what comes on the next page."""
    found = []
    pages = pdftools.words(pdf)
    for n, page in enumerate(pages[:-1], start=1):
        lines = pdftools.lines(page, above=ABOVE_FOOTER)
        if not lines:
            continue
        last = " ".join(w.text for w in lines[-1])
        short = lines[-1][-1].x1 - lines[-1][0].x0 < 0.8 * TEXT_WIDTH
        if ALWAYS.search(last) or (LEAD_IN.search(last) and short):
            found.append((n, last))
    return found


def _get(api: TestClient, url: str, **params: str) -> bytes:
    response = api.get(url, params=params, headers=READ)
    assert response.status_code == 200, response.text
    return response.content


def test_no_served_dossier_leaves_a_lead_in_at_a_page_foot(api: TestClient, month: sc.MonthScenario):
    """A period's method page ended with ``Số liệu của thôn Khả Lý Thượng:``, its gateways on the next page."""
    village, commune = f"/api/v1/villages/{VILLAGE}/report.pdf", "/api/v1/communes/an-lac/report.pdf"
    dossiers = {
        "two days": _get(api, village, start=_iso(month.at(4, 18)), end=_iso(month.at(6, 6))),
        "a week": _get(api, village, start=_iso(month.at(8)), end=_iso(month.at(15))),
        "two days from the 26th": _get(api, village, start=_iso(month.at(26, 7)), end=_iso(month.at(28, 7))),
        "the month": _get(api, village, month=month.text),
        "the commune's two days": _get(api, commune, start=_iso(month.at(19)), end=_iso(month.at(21))),
    }
    found = {name: lead_ins_at_a_foot(pdf) for name, pdf in dossiers.items()}
    assert not any(found.values()), found


@pytest.fixture(scope="module")
def dossier(api: TestClient, month: sc.MonthScenario) -> VillageDossier:
    """The village's month, as the route assembles it (the lights' faults, the gateways, the method's rows)."""
    service = api.app.state.service  # type: ignore[attr-defined]
    return village_dossier(service, VILLAGE, period_of(service, month=month.text))


def _swept(part: Callable[[], list[Flowable]]) -> bytes:
    """``part`` after a blank of every height, in steps of 8 pt: each on pages of its own."""
    story: list[Flowable] = []
    for height in HEIGHTS:
        story += [Spacer(1, height), *part(), PageBreak()]
    return _render(story, "test")


def test_wherever_a_lead_in_falls_it_stays_with_what_it_introduces(dossier: VillageDossier):
    st = styles()
    tampered = summarise(cases.tampered())  # its keys and its faults, each a table under a lead-in
    assert dossier.faults, "the scenario's L3 fails: the lighting part has its table"
    parts = {
        "method": lambda: method([dossier], ZONE, st),
        "lighting": lambda: lighting(dossier.lighting, dossier.faults, dossier.period, st),
        "verification": lambda: verification(tampered, dossier.period, ZONE, st),
    }
    for name, part in parts.items():
        pdf = _swept(part)
        assert lead_ins_at_a_foot(pdf) == [], name
        # the sweep did reach the foot: some page ends with the table the lead-in introduces
        assert len(pdftools.words(pdf)) > len(HEIGHTS), name


def test_an_outage_and_its_reason_stay_on_one_page(dossier: VillageDossier):
    """A review's dossier ended a page with an outage and began the next with its reason ("Lý do: ..."): rows
    split inside, which a row taller than a page needs, let a page's foot break the pair a note is kept with."""
    assert dossier.outages.outages, "the scenario's fiber has outages"
    pdf = _swept(lambda: outages(dossier.outages, dossier.period, ZONE, styles()))
    split = []
    for n, page in enumerate(pdftools.words(pdf), start=1):
        lines = [" ".join(w.text for w in line) for line in pdftools.lines(page, above=ABOVE_FOOTER)]
        rows = [line for line in lines if not line.startswith("Đường truyền")]  # the header, repeated
        if rows and rows[0].startswith("Lý do:"):
            split.append((n, rows[0]))
    assert split == []
