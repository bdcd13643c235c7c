"""The dossier draws and names each verdict's colour as the pages and Grafana do (``thonminh/display.py``)."""

from __future__ import annotations

import pdftools
import rep_scenario as sc
from fastapi.testclient import TestClient
from srv_helpers import READ

from server.report import vi
from thonminh.display import VERDICT_COLOURS


def test_the_dossiers_verdict_colours_are_the_palette() -> None:
    """A reviewer found the dossier's pass #2e7d32 and insufficient data #9e9e9e where the pages had #1b7f3a and
    amber, and Grafana another grey; #9e9e9e under the cell's white words read at 2.7:1."""
    shown = {v: (s.colour, s.tint, s.colour_name) for v, s in vi.VERDICTS.items()}
    assert shown == {v: (c.colour, c.tint, c.name.vi) for v, c in VERDICT_COLOURS.items()}
    # a verdict the dossier has no words for yet stays apart from insufficient data's grey
    assert vi.verdict_style("new_state").colour not in {c.colour for c in VERDICT_COLOURS.values()}


def test_the_communes_legend_names_the_colours_it_draws(api: TestClient, month: sc.MonthScenario) -> None:
    response = api.get("/api/v1/communes/an-lac/report.pdf", params={"month": month.text}, headers=READ)
    assert response.status_code == 200, response.text
    flat = " ".join(pdftools.text(response.content).split())
    for verdict, c in VERDICT_COLOURS.items():
        style = vi.verdict_style(verdict)
        assert f"{style.mark} {c.name.vi}: {style.label}" in flat, verdict


def test_a_verdict_is_named_alike_in_the_dossier_on_the_pages_and_in_grafana() -> None:
    from dashboards.criteria import INSUFFICIENT, UNVERIFIED
    from server.pages.i18n import text
    from thonminh.display import VERDICT_WORDS

    for verdict, words in VERDICT_WORDS.items():
        assert vi.verdict_style(verdict).label == words.vi == text(verdict, "vi")
        assert text(verdict, "en") == words.en
    assert (INSUFFICIENT.vi, UNVERIFIED.en) == (VERDICT_WORDS["insufficient_data"].vi, "Unverified")
