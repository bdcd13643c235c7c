"""The criteria of ``thonminh/criteria.yaml`` in Grafana: a verdict panel, a coverage panel and a province table
column per criterion, from the one criteria model (``thonminh.criteria``) and the criteria service's own
verdicts (its display copy, read through ``dashboards.verdictcopy``).

A verdict panel has the API's four states: the value on green or red by the criterion's comparator and
threshold where the verdict is ``pass`` or ``fail`` (query A), "Chưa đủ dữ liệu" / "Insufficient data" in grey
where it is ``insufficient_data`` (query B, the coverage), and, for a criterion with a ``min_verified_pct``
whose samples the gateways sign, "Chưa xác minh" / "Unverified" in purple where it is ``unverified`` (query C,
1 per village: the verdict is counted, not its verified share, which a verdict unverified by a forged rollup
row may not have). Where the service has published no verdict lately the panel says so.

A province table column shows the same four states in one cell per village; an alert rule per criterion fires
where the verdict is ``fail`` and, for a criterion whose samples the gateways sign, another where it is
``unverified`` (``dashboards.alerts``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, Literal

from dashboards.influxql import PANEL, field_ref, site_filter
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
from dashboards.verdictcopy import FRESH, VerdictQuery
from thonminh import influxql as core
from thonminh.contract import VERIFICATION_HOURLY, VERIFICATION_RP
from thonminh.criteria import CriteriaSet, Criterion, load_criteria
from thonminh.display import VERDICT_COLOURS, VERDICT_WORDS
from thonminh.evidence import SIGNED_MEASUREMENTS, VERIFIED_MEASUREMENTS
from thonminh.figures import INDICATORS, UNIT_WORDS
from thonminh.influxql import conditions, ident

__all__ = [
    "CRITERIA",
    "INSUFFICIENT",
    "NO_VERDICT",
    "UNVERIFIED",
    "coverage_panel",
    "figure_thresholds",
    "per_tag_thresholds",
    "failing",
    "grafana_unit",
    "signer",
    "table_column",
    "thresholds",
    "time_span",
    "verdict_panel",
    "verifiable",
    "verified_panel",
]

#: the shipped criteria; after editing thonminh/criteria.yaml run ``thonminh dashboards build``
CRITERIA: CriteriaSet = load_criteria()
INSUFFICIENT = Text(VERDICT_WORDS["insufficient_data"].vi, VERDICT_WORDS["insufficient_data"].en)
# each verdict in the colour the pages and the dossier give it (thonminh/display.py), never Grafana's own
# green and red, which are other shades
_PASS, _FAIL, _GREY, _PURPLE = (
    VERDICT_COLOURS[v].colour for v in ("pass", "fail", "insufficient_data", "unverified")
)
#: each verdict colour's name, as a panel's description says it
_NAMED = {v: Text(c.name.vi, c.name.en) for v, c in VERDICT_COLOURS.items()}
UNVERIFIED = Text(VERDICT_WORDS["unverified"].vi, VERDICT_WORDS["unverified"].en)
#: a verdict panel with nothing to show: the service has not published one within ``FRESH``
NO_VERDICT = Text(
    f"Chưa có kết quả từ dịch vụ tiêu chí ({FRESH})", f"No verdict from the criteria service ({FRESH})"
)
#: A table column has one field config for all its cells, and Grafana colours a cell by its own value only
#: (no cell can take its colour from another column): an unverified village's cell holds 1 (query C's count)
#: moved down by this much, a range no figure reaches (shares, counts, indicators of a non-negative range;
#: ``table_column`` checks), which the column maps to the purple "Unverified".
UNVERIFIED_CELL = -1000
#: a criterion's unit in words, as its threshold is written in a panel's rule
_UNIT_WORDS = {unit: Text(words.vi, words.en) for unit, words in UNIT_WORDS.items()}
_UNITS: dict[str, str | Text] = {
    "%": "percent",
    "users/day": Text(f"suffix: {_UNIT_WORDS['users/day'].vi}", f"suffix: {_UNIT_WORDS['users/day'].en}"),
}


def grafana_unit(c: Criterion) -> str | Text:
    """The criterion's unit for Grafana."""
    return _UNITS.get(c.unit, "none")


def _above(x: float) -> float:
    # The verdict compares values rounded to 9 decimals (and so do the queries): the next float above the
    # threshold turns Grafana's inclusive steps into the strict comparators.
    return math.nextafter(x, math.inf)


def thresholds(c: Criterion) -> tuple[Threshold, ...]:
    """Grafana colours a value by the last step at or below it: green where the criterion passes."""
    t = c.threshold
    return {
        ">=": (Threshold(None, _FAIL), Threshold(t, _PASS)),
        ">": (Threshold(None, _FAIL), Threshold(_above(t), _PASS)),
        "<=": (Threshold(None, _PASS), Threshold(_above(t), _FAIL)),
        "<": (Threshold(None, _PASS), Threshold(t, _FAIL)),
        "==": (Threshold(None, _FAIL), Threshold(t, _PASS), Threshold(_above(t), _FAIL)),
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


def _threshold(c: Criterion, lang: Lang) -> str:
    """``>= 99 %``: the threshold with its unit, as the pages and the dossier write it."""
    unit = _UNIT_WORDS.get(c.unit)
    return f"{c.comparator} {c.threshold:g}" + (f" {unit.pick(lang)}" if unit else "")


def _rule(c: Criterion) -> Text:
    desc = c.description_of_figure
    ok, bad, grey = _NAMED["pass"], _NAMED["fail"], _NAMED["insufficient_data"]
    return Text(
        f"Đạt khi {_threshold(c, 'vi')} ({desc.title.vi}) trong {time_span(c)} gần nhất, với độ phủ dữ liệu "
        f"từ {c.min_coverage:.0%}; dưới mức đó: chưa đủ dữ liệu (màu {grey.vi}). Công thức: {desc.description.vi}.",
        f"Pass at {_threshold(c, 'en')} over the last {time_span(c)} ({ok.en}), fail below ({bad.en}); under "
        f"{c.min_coverage:.0%} coverage, or with nothing to divide by: insufficient data ({grey.en}), as the criteria "
        f"service decides. Criterion {c.id}, figure {c.figure}: {desc.description.en}; coverage: "
        f"{desc.coverage.value}.",
    )


_PUBLISHED = Text(
    " Kết quả do dịch vụ tiêu chí tính mỗi giờ (cửa sổ kết thúc ở giờ tròn gần nhất), giống API và báo cáo.",
    " The criteria service's verdict, evaluated each hour over the window ending at the last whole hour, as "
    "the API, the pages and the dossier give it (docs/dashboards.md).",
)


def _insufficient_where_undecided(lang: Lang) -> dict[str, Any]:
    # query B returns the coverage of the villages the data does not decide: shown as text, never as a number
    maps = mappings_json((RangeMap(0, 100, INSUFFICIENT, _GREY),), lang)
    return {
        "matcher": {"id": "byFrameRefID", "options": "B"},
        "properties": [{"id": "mappings", "value": maps}],
    }


def verifiable(c: Criterion) -> bool:
    """Whether a verdict of ``c`` can be ``unverified``: a minimum share, and signed samples (a gateway's, or a
    manual indicator's, which the criteria service signs when it is entered)."""
    return (
        c.min_verified_pct is not None and c.description_of_figure.measurement.name in VERIFIED_MEASUREMENTS
    )


def signer(c: Criterion) -> Text:
    """Whose signatures cover ``c``'s samples: a manual indicator's are the criteria service's own."""
    if c.description_of_figure.measurement.name in SIGNED_MEASUREMENTS:
        return Text("gateway", "the gateways'")
    return Text("dịch vụ tiêu chí", "the criteria service's")


def _unverified_mark(offset: int = 0) -> RangeMap:
    """Query C's 1 per unverified village, moved by ``offset``, shown as the purple "Unverified"."""
    return RangeMap(offset + 1, offset + 1, UNVERIFIED, _PURPLE)


def _unverified_where_unsigned(lang: Lang) -> dict[str, Any]:
    # query C returns 1 for each village whose verdict is unverified: shown as text
    maps = mappings_json((_unverified_mark(),), lang)
    return {
        "matcher": {"id": "byFrameRefID", "options": "C"},
        "properties": [{"id": "mappings", "value": maps}],
    }


def _verified_rule(c: Criterion) -> Text:
    if not verifiable(c):
        return Text("", "")
    return Text(
        f" Chữ ký số của {signer(c).vi} phải phủ từ {c.min_verified_pct:g} % số mẫu; dưới mức đó: chưa xác minh "
        f"(màu {_NAMED['unverified'].vi}).",
        f" {signer(c).en.capitalize()} signatures must cover at least {c.min_verified_pct:g} % of the samples; below: "
        f"unverified ({_NAMED['unverified'].en}), as the criteria service decides (docs/evidence.md).",
    )


def verdict_panel(c: Criterion, scope: tuple[str, ...]) -> Panel:
    """The criterion's verdict per village in four states (see the module's docstring)."""
    vq = VerdictQuery(c.id, scope)
    rule, signed = _rule(c), _verified_rule(c)
    queries = [vq.query(vq.decided(), split=True), vq.query(vq.undecided(), split=True)]
    overrides: list[Callable[[Lang], dict[str, Any]]] = [_insufficient_where_undecided]
    if verifiable(c):
        queries.append(vq.query(vq.counted("unverified", name="unverified"), split=True))
        overrides.append(_unverified_where_unsigned)
    return stat(
        Text(c.title.vi, c.title.en),
        *queries,
        description=Text(rule.vi + signed.vi + _PUBLISHED.vi, rule.en + signed.en + _PUBLISHED.en),
        thresholds=thresholds(c),
        mappings=(NullMap(INSUFFICIENT, _GREY),),
        no_value=NO_VERDICT,
        overrides=tuple(overrides),
        unit=grafana_unit(c),
        decimals=2,
        time_from=time_span(c),
    )


def verified_panel(scope: tuple[str, ...]) -> Panel:
    """The share of each village's gateway points that verified, per measurement, over the longest criterion's
    window, from the display copy (``thonminh_verified``./.*/)."""
    longest = max(CRITERIA.criteria, key=lambda c: c.window_s)
    m = VERIFICATION_HOURLY
    share = (
        f"100.0 * sum({field_ref(m, 'verified_points')}) / sum({field_ref(m, 'points')}) "
        f"AS {ident('verified')}"
    )
    statement = core.Select(
        [share],
        (f"{ident(VERIFICATION_RP)}./.*/",),
        conditions(PANEL.filter, site_filter(m, scope)),
        group_tags=("village",),
    )
    minimum = CRITERIA.min_verified_pct
    steps = (
        (Threshold(None, _PURPLE), Threshold(minimum, _PASS))
        if minimum is not None
        else (Threshold(None, "blue"),)
    )
    return stat(
        Text("Số liệu đã xác minh (chữ ký số)", "Verified data (signatures)"),
        Query(statement.render(), alias="$tag_village $measurement", group_tags=("village",)),
        description=Text(
            "Phần số điểm của gateway có chữ ký hợp lệ, theo từng loại số liệu, theo kết quả xác minh của dịch vụ "
            "tiêu chí (docs/evidence.md), ghi cho từng giờ đã kết thúc. Không có giá trị: dịch vụ chưa cấu hình "
            "xác minh, hoặc giờ đầu tiên từ khi cấu hình chưa kết thúc.",
            "Share of the gateways' points covered by a valid signed manifest, per measurement, as the criteria "
            "service verified them (its display copy, verification_hourly, written for each closed hour; "
            "docs/evidence.md). No value: verification is not configured at the service, or the first hour "
            "since it was has not ended yet.",
        ),
        thresholds=steps,
        # the copy holds closed hours only: a service verifying since minutes ago has written none yet
        no_value=Text(
            "Chưa có giờ nào được xác minh (chưa cấu hình xác minh, hoặc giờ đầu tiên chưa kết thúc)",
            "No hour verified yet (verification not configured, or its first hour has not ended)",
        ),
        unit="percent",
        decimals=2,  # 99,96 % is not 100,0 %: a forged point of 2,500 shows (the pages write as many as it takes)
        min=0,
        max=100,
        time_from=time_span(longest),
    )


def coverage_panel(c: Criterion, scope: tuple[str, ...]) -> Panel:
    vq = VerdictQuery(c.id, scope)
    desc = c.description_of_figure
    return stat(
        Text(f"Độ phủ dữ liệu: {c.title.vi}", f"Coverage: {c.title.en}"),
        vq.query(vq.coverage()),
        description=Text(
            f"Dưới {c.min_coverage:.0%} thì chưa đủ dữ liệu để kết luận (màu {_NAMED['insufficient_data'].vi})."
            f"{_PUBLISHED.vi}",
            f"Below {c.min_coverage:.0%} the verdict is insufficient_data ({_NAMED['insufficient_data'].en}); "
            f"coverage rule: {desc.coverage.value}.{_PUBLISHED.en}",
        ),
        no_value=NO_VERDICT,
        # under the minimum the verdict is insufficient data: the coverage in that verdict's colour
        thresholds=(Threshold(None, _GREY), Threshold(100 * c.min_coverage, _PASS)),
        time_from=time_span(c),
        height=4,
        unit="percent",
        min=0,
        max=100,
        decimals=2,
    )


def _lowest(c: Criterion) -> float:
    """The lowest value the criterion's figure can take: an indicator's valid minimum; shares and counts 0."""
    if c.figure == "indicator.value":
        return INDICATORS[str(c.params["indicator"])].minimum
    return 0.0


def _cell(c: Criterion, scope: tuple[str, ...]) -> core.Select:
    """Per village, the decided value (the verdict panel's query A), or for an unverified village query C's 1
    plus ``UNVERIFIED_CELL``; no row where the data does not decide."""
    vq = VerdictQuery(c.id, scope)
    decided = vq.decided(name=c.id)
    if not verifiable(c):
        return decided
    if _lowest(c) <= UNVERIFIED_CELL + 1:
        raise ValueError(
            f"{c.id}: its figure reaches {UNVERIFIED_CELL + 1:g}, the province table's unverified "
            "cells: move UNVERIFIED_CELL down"
        )
    col = ident(c.id)
    moved = core.Select([f"{col} + {UNVERIFIED_CELL!r} AS {col}"], (vq.counted("unverified", name=c.id),))
    # a village has one verdict: it is in one of the two at most
    return core.Select([col], (decided, moved), group_tags=vq.groups)


def table_column(c: Criterion, scope: tuple[str, ...]) -> tuple[Query, Callable[[Lang], dict[str, Any]]]:
    """A province table column under the criterion's id: the verdict panel's four states in one cell per
    village (the value on green or red, "Unverified" in purple, an empty cell "Insufficient data" in grey),
    and its field override in a language."""
    vq = VerdictQuery(c.id, scope)

    def override(lang: Lang) -> dict[str, Any]:
        unit = grafana_unit(c)
        maps = (NullMap(INSUFFICIENT, _GREY), _unverified_mark(UNVERIFIED_CELL))
        return {
            "matcher": {"id": "byName", "options": c.id},
            "properties": [
                {"id": "unit", "value": unit.pick(lang) if isinstance(unit, Text) else unit},
                {"id": "decimals", "value": 2},
                {"id": "thresholds", "value": thresholds_json(thresholds(c))},
                {"id": "mappings", "value": mappings_json(maps, lang)},
                {"id": "custom.cellOptions", "value": {"type": "color-background"}},
            ],
        }

    return vq.query(_cell(c, scope), table=True, split=True), override


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
            out.append(
                {
                    "matcher": {"id": "byRegexp", "options": f".* {value}$"},
                    "properties": [{"id": "thresholds", "value": steps}],
                }
            )
    return tuple(out)
