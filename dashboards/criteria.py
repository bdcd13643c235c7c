"""The criteria of ``thonminh/criteria.yaml`` in Grafana: a verdict panel, a coverage panel and a province table
column per criterion, all from the one criteria model (``thonminh.criteria``) and the one figure description
(``thonminh.figures``) through ``dashboards.figures``.

A verdict panel has three states, the API's three verdicts: the value on green or red by the criterion's
comparator and threshold where the data decides (query A: coverage at least ``min_coverage`` and something to
divide by), "Chưa đủ dữ liệu" / "Insufficient data" in grey where it does not (query B: the coverage of the
villages with too little data; and the panel's no-value text when there is no data at all).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, Literal

from dashboards.figures import FigureQuery
from dashboards.influxql import PANEL, TimeRange
from dashboards.model import (
    Lang,
    NullMap,
    Panel,
    Query,
    RangeMap,
    Text,
    Threshold,
    mappings_json,
    thresholds_json,
)
from dashboards.panels import stat
from thonminh.criteria import CriteriaSet, Criterion, load_criteria
from thonminh.figures import INDICATORS

__all__ = [
    "CRITERIA",
    "INSUFFICIENT",
    "coverage_panel",
    "figure_thresholds",
    "per_tag_thresholds",
    "failing",
    "figure_query",
    "grafana_unit",
    "table_column",
    "thresholds",
    "time_span",
    "verdict_panel",
]

#: the shipped criteria; after editing thonminh/criteria.yaml run ``thonminh dashboards build``
CRITERIA: CriteriaSet = load_criteria()
INSUFFICIENT = Text("Chưa đủ dữ liệu", "Insufficient data")
_GREY = "#8e8e8e"  # grey: neither pass nor fail
_UNITS: dict[str, str | Text] = {
    "%": "percent",
    "users/day": Text("suffix: người/ngày", "suffix: users/day"),
}


def figure_query(c: Criterion, scope: tuple[str, ...], window: TimeRange = PANEL) -> FigureQuery:
    return FigureQuery(c.description_of_figure, c.params, scope, window=window)


def grafana_unit(c: Criterion) -> str | Text:
    """The criterion's unit for Grafana; a manual indicator has its indicator's unit."""
    unit = c.unit
    if c.figure == "indicator.value":
        unit = INDICATORS[str(c.params["indicator"])].unit
    return _UNITS.get(unit, "none")


def _above(x: float) -> float:
    # The verdict compares values rounded to 9 decimals (and so do the queries): the next float above the
    # threshold turns Grafana's inclusive steps into the strict comparators.
    return math.nextafter(x, math.inf)


def thresholds(c: Criterion) -> tuple[Threshold, ...]:
    """Grafana colours a value by the last step at or below it: green where the criterion passes."""
    t = c.threshold
    return {
        ">=": (Threshold(None, "red"), Threshold(t, "green")),
        ">": (Threshold(None, "red"), Threshold(_above(t), "green")),
        "<=": (Threshold(None, "green"), Threshold(_above(t), "red")),
        "<": (Threshold(None, "green"), Threshold(t, "red")),
        "==": (Threshold(None, "red"), Threshold(t, "green"), Threshold(_above(t), "red")),
    }[c.comparator]


def failing(c: Criterion) -> tuple[Literal["gt", "lt", "outside_range"], tuple[float, ...]]:
    """The alert condition (Grafana's threshold expression) under which a decided value fails ``c``."""
    t = c.threshold
    conditions: dict[str, tuple[Literal["gt", "lt", "outside_range"], tuple[float, ...]]] = {
        ">=": ("lt", (t,)),
        ">": ("lt", (_above(t),)),
        "<=": ("gt", (t,)),
        "<": ("gt", (math.nextafter(t, -math.inf),)),
        "==": ("outside_range", (t, t)),
    }
    return conditions[c.comparator]


def time_span(c: Criterion) -> str:
    """The criterion's window as a Grafana relative time (``30d``, ``12h``, ``90m``)."""
    seconds = c.window_s
    for unit, size in (("d", 86_400), ("h", 3_600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def _rule(c: Criterion) -> Text:
    desc = c.description_of_figure
    return Text(
        f"Đạt khi {c.comparator} {c.threshold:g} ({desc.title.vi}) trong {time_span(c)} gần nhất, với độ phủ dữ liệu "
        f"từ {c.min_coverage:.0%}; dưới mức đó: chưa đủ dữ liệu (màu xám).",
        f"Pass at {c.comparator} {c.threshold:g} over the last {time_span(c)} (green), fail below (red); under "
        f"{c.min_coverage:.0%} coverage, or with nothing to divide by: insufficient data (grey), as the criteria "
        f"service decides. Criterion {c.id}, figure {c.figure}: {desc.description}; coverage: {desc.coverage.value}.",
    )


def _insufficient_where_undecided(lang: Lang) -> dict[str, Any]:
    # query B returns the coverage of the villages the data does not decide: shown as text, never as a number
    maps = mappings_json((RangeMap(0, 100, INSUFFICIENT, _GREY),), lang)
    return {"matcher": {"id": "byFrameRefID", "options": "B"}, "properties": [{"id": "mappings", "value": maps}]}


def verdict_panel(c: Criterion, scope: tuple[str, ...]) -> Panel:
    """The criterion's verdict per village in three states (see the module's docstring)."""
    fq = figure_query(c, scope)
    return stat(
        Text(c.title.vi, c.title.en), fq.query(fq.decided(c.min_coverage), split=True),
        fq.query(fq.undecided(c.min_coverage), split=True),
        description=_rule(c), thresholds=thresholds(c), mappings=(NullMap(INSUFFICIENT, _GREY),),
        no_value=INSUFFICIENT, overrides=(_insufficient_where_undecided,), unit=grafana_unit(c), decimals=2,
        time_from=time_span(c),
    )


def coverage_panel(c: Criterion, scope: tuple[str, ...]) -> Panel:
    fq = figure_query(c, scope)
    desc = c.description_of_figure
    return stat(
        Text(f"Độ phủ dữ liệu: {c.title.vi}", f"Coverage: {c.title.en}"), fq.query(fq.coverage()),
        description=Text(
            f"Dưới {c.min_coverage:.0%} thì chưa đủ dữ liệu để kết luận (màu cam).",
            f"Below {c.min_coverage:.0%} the verdict is insufficient_data (orange); coverage rule: "
            f"{desc.coverage.value}.",
        ),
        thresholds=(Threshold(None, "orange"), Threshold(100 * c.min_coverage, "green")),
        time_from=time_span(c), height=4, unit="percent", min=0, max=100, decimals=2,
    )


def table_column(c: Criterion, scope: tuple[str, ...]) -> tuple[Query, Callable[[Lang], dict[str, Any]]]:
    """A province table column: the decided value under the criterion's id (an empty cell is insufficient data,
    shown as such), and its field override in a language."""
    fq = figure_query(c, scope)

    def override(lang: Lang) -> dict[str, Any]:
        unit = grafana_unit(c)
        return {
            "matcher": {"id": "byName", "options": c.id},
            "properties": [
                {"id": "unit", "value": unit.pick(lang) if isinstance(unit, Text) else unit},
                {"id": "decimals", "value": 2},
                {"id": "thresholds", "value": thresholds_json(thresholds(c))},
                {"id": "mappings", "value": mappings_json((NullMap(INSUFFICIENT, _GREY),), lang)},
                {"id": "custom.cellOptions", "value": {"type": "color-background"}},
            ],
        }

    return fq.query(fq.decided(c.min_coverage, name=c.id), table=True, split=True), override


def _on(figure: str) -> list[Criterion]:
    return [c for c in CRITERIA.criteria if c.figure == figure]


def figure_thresholds(figure: str) -> tuple[Threshold, ...]:
    """The thresholds of the criterion on ``figure`` over the whole village (no tag parameter), for the panels
    that show the figure itself; none when no such criterion exists."""
    for c in _on(figure):
        if not c.description_of_figure.tag_filters(c.params):
            return thresholds(c)
    return ()


def per_tag_thresholds(figure: str, tag: str) -> tuple[dict[str, Any], ...]:
    """Field overrides giving each series named ``... <value>`` the thresholds of the criterion on ``figure``
    whose ``tag`` parameter is that value (fiber at 99 %, 4G at 98 %)."""
    out = []
    for c in _on(figure):
        value = c.description_of_figure.tag_filters(c.params).get(tag)
        if value is not None:
            steps = thresholds_json(thresholds(c))
            out.append({"matcher": {"id": "byRegexp", "options": f".* {value}$"},
                        "properties": [{"id": "thresholds", "value": steps}]})
    return tuple(out)
