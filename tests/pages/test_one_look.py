"""The pages look and write a state as the dossier and Grafana do: the verdicts' colours are the core's palette
(``thonminh/display.py``), readable on white, and a period is written in local time on every page."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from pathlib import Path

import pages_scenario as scenario
import pytest
from fastapi.testclient import TestClient
from pages_kit import READ_KEY, page_config

from server.app import create_app
from server.pages.i18n import Lang
from server.timeparse import iso
from thonminh.display import VERDICT_COLOURS

CSS = Path(__file__).resolve().parents[2] / "server" / "pages" / "static" / "pages.css"
#: the custom property each verdict's badge, cell and chart bar is drawn with (pages.css, server/pages/charts.py)
PROPERTY = {"pass": "--ok", "fail": "--bad", "insufficient_data": "--thin", "unverified": "--unverified"}
READ = {"X-API-Key": READ_KEY}


def custom_properties(css: str) -> dict[str, str]:
    (root,) = re.findall(r":root\s*\{([^}]*)\}", css)
    return {name: value.strip().lower() for name, value in re.findall(r"(--[\w-]+)\s*:\s*([^;]+);", root)}


def contrast_on_white(colour: str) -> float:
    """WCAG 2's contrast ratio of ``#rrggbb`` against white (the same with white text on it)."""

    def channel(c: int) -> float:
        s = c / 255
        return s / 12.92 if s <= 0.04045 else ((s + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(int(colour[i : i + 2], 16)) for i in (1, 3, 5))
    luminance = 0.2126 * r + 0.7152 * g + 0.0722 * b
    return 1.05 / (luminance + 0.05)


def test_the_pages_verdict_colours_are_the_palette() -> None:
    """A reviewer found insufficient data amber on the pages, grey in the dossier and another grey in Grafana,
    and two greens: the pages' custom properties are the palette the dossier and Grafana read."""
    found = custom_properties(CSS.read_text(encoding="utf-8"))
    assert {v: found[p] for v, p in PROPERTY.items()} == {v: c.colour for v, c in VERDICT_COLOURS.items()}


def test_every_verdict_colour_is_readable_on_white_and_named_as_it_looks() -> None:
    # written on white (the overview's cells) and behind white words (the badges, the dossier's cells)
    for verdict, c in VERDICT_COLOURS.items():
        assert contrast_on_white(c.colour) >= 4.5, (verdict, c.colour, contrast_on_white(c.colour))
    # the dossier's legend says "? xám": the colour it names is a grey
    grey = VERDICT_COLOURS["insufficient_data"]
    assert grey.name.vi == "xám" and len({grey.colour[1:3], grey.colour[3:5], grey.colour[5:7]}) == 1


@pytest.fixture(scope="module")
def client(seeded) -> Iterator[TestClient]:
    with TestClient(create_app(page_config(seeded.url, seeded.database))) as test_client:
        yield test_client


def _link_text(page: str) -> str:
    (link,) = re.findall(r'<a class="dossier" href="[^"]+">([^<]+)</a>', page)
    return html.unescape(link)


def test_the_communes_dossier_window_is_written_as_the_village_pages(client: TestClient) -> None:
    """A reviewer found the commune's overview offering "Hồ sơ PDF của xã, 2026-12-08T00:45:28.499Z –
    2026-12-08T00:46:25.000Z" where the village page wrote "08/12/2026 07:45:28 – 08/12/2026 07:46:25"."""
    service = client.app.state.service  # type: ignore[attr-defined]
    start_ms = scenario.TODAY - 2 * scenario.DAY + 45 * 60_000 + 28_499
    end_ms = start_ms + 57_000 - 499
    period = {"start": iso(start_ms), "end": iso(end_ms)}
    village = client.get("/pages/villages/kha-ly-thuong", headers=READ, params=period)
    commune = client.get("/pages/", headers=READ, params={"commune": "an-lac", **period})
    assert village.status_code == 200 and commune.status_code == 200
    local = Lang("vi", service.zone).span(start_ms, end_ms)
    assert re.fullmatch(r"\d\d/\d\d/\d{4} \d\d:\d\d:\d\d – \d\d/\d\d/\d{4} \d\d:\d\d:\d\d", local), local
    assert _link_text(village.text) == f"Hồ sơ PDF {local}"
    assert _link_text(commune.text) == f"Hồ sơ PDF của xã, {local}"
