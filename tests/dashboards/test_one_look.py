"""Grafana shows a verdict and a light's fault in the colours and words of the pages and the dossier
(``thonminh/display.py``), and a fault never in a verdict's colour."""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator
from typing import Any

from dashboards.boards import ALL
from dashboards.criteria import CRITERIA, coverage_panel, table_column, verdict_panel, verified_panel
from dashboards.influxql import VILLAGE_SCOPE
from dashboards.panels import FAULT_MAP
from edge.sources.lights.state import DARK, DAY_BURNING, LAMP_FAILURE, OFFLINE, STALE
from server.pages import names
from server.report import vi
from thonminh.display import VERDICT_COLOURS

PALETTE = {v: c.colour for v, c in VERDICT_COLOURS.items()}
#: Grafana's own named colours (its theme's visualization palette), where a panel names one
GRAFANA_NAMED = {
    "red": "#f2495c",
    "orange": "#ff9830",
    "yellow": "#fade2a",
    "green": "#73bf69",
    "blue": "#5794f2",
    "purple": "#a352cc",
}
#: CIE76 colour difference under which two colours read as one (about 2.3 is the least anyone tells apart)
APART = 25


def colours(node: Any) -> Iterator[str]:
    """Every ``color`` a panel's JSON gives: threshold steps, value mappings."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "color" and isinstance(value, str):
                yield value
            else:
                yield from colours(value)
    elif isinstance(node, list):
        for item in node:
            yield from colours(item)


def test_every_verdict_is_in_the_colour_of_the_pages_and_the_dossier() -> None:
    """A reviewer found Grafana's insufficient data in #8e8e8e, the dossier's in #9e9e9e and the pages' in amber,
    and Grafana's pass and fail in its own shades."""
    palette = set(PALETTE.values())
    decided = {PALETTE["pass"], PALETTE["fail"], PALETTE["insufficient_data"]}
    for c in CRITERIA.criteria:
        panel = set(colours(verdict_panel(c, VILLAGE_SCOPE).to_json("vi", 1, 0, 0)))
        assert decided <= panel <= palette, (c.id, panel)
        _, override = table_column(c, VILLAGE_SCOPE)
        assert set(colours(override("vi"))) <= palette, c.id
        # under the minimum coverage the verdict is insufficient data, in its grey
        coverage = coverage_panel(c, VILLAGE_SCOPE)
        assert [t.color for t in coverage.thresholds] == [PALETTE["insufficient_data"], PALETTE["pass"]]
        assert f"({VERDICT_COLOURS['insufficient_data'].name.en})" in (coverage.description or "").en
    assert set(colours(verified_panel(VILLAGE_SCOPE).to_json("vi", 1, 0, 0))) <= palette | {"blue"}


def test_grafana_names_each_light_fault_as_the_pages_and_the_dossier() -> None:
    """A reviewer found "Mất liên lạc" / "Dữ liệu cũ" in Grafana where the pages and the dossier said "Mất kết
    nối" / "Không báo cáo", for the same offline and stale lights."""
    shown = {m.value: (m.text.vi, m.text.en) for m in FAULT_MAP}
    assert set(shown) == {
        LAMP_FAILURE,
        DAY_BURNING,
        DARK,
        OFFLINE,
        STALE,
    }  # every fault the edge's tracker writes
    for fault, (words_vi, words_en) in shown.items():
        assert words_vi == names.light_fault_name(fault, "vi") == vi.light_fault_text(fault), fault
        assert words_en == names.light_fault_name(fault, "en"), fault


def _lab(colour: str) -> tuple[float, float, float]:
    """``#rrggbb`` (or a Grafana colour name) in CIE L*a*b* (D65)."""
    hexa = GRAFANA_NAMED.get(colour, colour)
    linear = []
    for i in (1, 3, 5):
        s = int(hexa[i : i + 2], 16) / 255
        linear.append(s / 12.92 if s <= 0.04045 else ((s + 0.055) / 1.055) ** 2.4)
    r, g, b = linear
    xyz = (
        (0.4124 * r + 0.3576 * g + 0.1805 * b) / 0.95047,
        0.2126 * r + 0.7152 * g + 0.0722 * b,
        (0.0193 * r + 0.1192 * g + 0.9505 * b) / 1.08883,
    )
    fx, fy, fz = (t ** (1 / 3) if t > 0.008856 else 7.787 * t + 16 / 116 for t in xyz)
    return 116 * fy - 16, 500 * (fx - fy), 200 * (fy - fz)


def test_no_fault_is_in_a_verdicts_colour_nor_in_another_faults() -> None:
    """A reviewer found an offline light in the purple of an unverified verdict."""
    faults = {m.value: m.color for m in FAULT_MAP}
    near = [
        (a, b)
        for (a, x), (b, y) in itertools.combinations({**PALETTE, **faults}.items(), 2)
        if (a in faults or b in faults) and math.dist(_lab(x), _lab(y)) < APART
    ]
    assert not near, near


def test_the_committed_boards_hold_no_other_verdict_grey() -> None:
    shown = {
        colour.lower()
        for board in ALL
        for panel in board().panels()
        for colour in colours(panel.to_json("vi", 1, 0, 0))
    }
    assert "#8e8e8e" not in shown and "#9e9e9e" not in shown and PALETTE["insufficient_data"] in shown
