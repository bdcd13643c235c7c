"""Every panel, variable, annotation and alert query, interpolated as Grafana 11 does it, against a real InfluxDB.

The database holds eight days of contract data for four villages (dash_seed.py). A panel query that would leave a
healthy village's panel saying "No data" fails here, and so does one whose value columns are all null, one that
misses a link or a selected village, or one that shows a village that was not selected.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from dash_alerts import backend_query, evaluate
from dash_seed import (
    HEALTHY,
    HEALTHY_2,
    SILENT,
    TROUBLED,
    VILLAGES,
    Seeded,
    Village,
    published,
    verdict_hours,
)
from grafana_macros import ALL as ALL_VALUE
from grafana_macros import TemplateVar, grafana_interval_ms, interpolate, parse_duration_ms, resolve_time

from dashboards.alerts import ALERT_RULES, AlertRule
from dashboards.boards import ALL
from dashboards.criteria import CRITERIA
from dashboards.model import Dashboard, Panel, Query, ref_ids
from dashboards.verdictcopy import FRESH_S
from thonminh.contract import CRITERION_VERDICT
from thonminh.criteria import Criterion
from thonminh.influx import Series

ALL_VILLAGES = {v.village for v in VILLAGES}
BOARDS = {b().uid: b() for b in ALL}


@dataclass(frozen=True)
class Selection:
    """A state of the dashboard's variables and the villages it must show."""

    name: str
    current: dict[str, list[str]]
    villages: frozenset[str]


SELECTIONS = (
    Selection("all", {}, frozenset(ALL_VILLAGES)),
    Selection("one", {"village": [HEALTHY.village]}, frozenset({HEALTHY.village})),
    Selection(
        "two",
        {"village": [HEALTHY.village, TROUBLED.village]},
        frozenset({HEALTHY.village, TROUBLED.village}),
    ),
    Selection("district", {"district": [HEALTHY.district]}, frozenset({HEALTHY.village, HEALTHY_2.village})),
)


def template_vars(board: Dashboard, selection: Selection) -> dict[str, TemplateVar]:
    options = {
        "village": sorted(ALL_VILLAGES),
        "district": sorted({v.district for v in VILLAGES}),
        "commune": sorted({v.commune for v in VILLAGES}),
    }
    return {
        v.name: TemplateVar(
            v.name,
            selection.current.get(v.name, [ALL_VALUE]),
            options=options[v.name],
            multi=v.multi,
            include_all=v.include_all,
            all_value=v.all_value,
        )
        for v in board.variables
    }


def applicable(board: Dashboard, selection: Selection) -> bool:
    return set(selection.current) <= {v.name for v in board.variables}


def panel_cases() -> Iterator[tuple[str, str, Panel, Query, Selection]]:
    for uid, board in BOARDS.items():
        for selection in SELECTIONS:
            if not applicable(board, selection):
                continue
            for panel in board.panels():
                for i, q in enumerate(panel.queries):
                    yield uid, f"{panel.title.en}:{ref_ids()[i]}", panel, q, selection


CASES = list(panel_cases())


@pytest.fixture(scope="module")
def answers() -> dict[str, list[Series]]:
    """InfluxDB's answer to each interpolated query, asked once: the seeded database is only read, and a split
    panel's case runs every split query of its panel (up to eight times each); some take seconds on InfluxDB."""
    return {}


def run(
    seeded: Seeded,
    answers: dict[str, list[Series]],
    board: Dashboard,
    panel: Panel,
    query: Query,
    selection: Selection,
    *,
    to_ms: int | None = None,
) -> list[Series]:
    now = seeded.now_ms if to_ms is None else to_ms
    start = (
        now - parse_duration_ms(panel.time_from) if panel.time_from else resolve_time(board.time_from, now)
    )
    width_px = panel.width * 1920 // 24  # Grafana's default max data points: the panel's width in pixels
    interval = grafana_interval_ms(start, now, width_px, panel.interval or "1m")
    q = interpolate(
        query.influxql,
        variables=template_vars(board, selection),
        from_ms=start,
        to_ms=now,
        interval_ms=interval,
    )
    if q not in answers:
        answers[q] = seeded.client.select(q).series
    return answers[q]


def value_columns(series: list[Series]) -> dict[str, list[object]]:
    cols: dict[str, list[object]] = {}
    for s in series:
        for i, name in enumerate(s.columns):
            if name != "time":
                cols.setdefault(name, []).extend(row[i] for row in s.values)
    return cols


@pytest.mark.parametrize(
    "uid,title,panel,query,selection", CASES, ids=[f"{c[0]}:{c[1]}:{c[4].name}" for c in CASES]
)
def test_panel_query_shows_its_series(
    seeded: Seeded,
    answers: dict[str, list[Series]],
    uid: str,
    title: str,
    panel: Panel,
    query: Query,
    selection: Selection,
) -> None:
    board = BOARDS[uid]
    series = run(seeded, answers, board, panel, query, selection)
    expected = selection.villages
    if query.problems_only:
        # lists of problems: empty on healthy villages, exactly the troubled village's faults otherwise
        shown = {s.tags.get("village") for s in series}
        assert shown <= {TROUBLED.village}, shown
        if TROUBLED.village in expected:
            assert series, f"{title}: no row for the troubled village's lamp failure"
        return
    if query.split:
        shown = {s.tags["village"] for s in series}
        assert shown <= expected, f"{title}: shows unselected villages {shown - expected}"
        assert all(row[1] is not None for s in series for row in s.values), f"{title}: a null value"
        if query.table:
            # a province table column: a cell for every verdict but insufficient_data (the silent village's)
            assert shown == expected - {SILENT.village}, f"{title}: shows {shown}"
            return
        # a verdict panel's queries share the villages: every one has a published verdict, so exactly one query
        per_query = [
            [s.tags["village"] for s in run(seeded, answers, board, panel, q, selection)]
            for q in panel.queries
            if q.split
        ]
        everywhere = [v for villages in per_query for v in villages]
        assert sorted(everywhere) == sorted(expected), f"{title}: villages per query {per_query}"
        return
    assert series, f"{title} [{query.influxql}] would say 'No data'"
    for name, values in value_columns(series).items():
        if name in query.group_tags:
            continue
        assert any(v is not None for v in values), f"{title}: column {name!r} is all null"
    if "village" in query.group_tags:
        shown = {s.tags["village"] for s in series}  # table format shows these tags as columns
        assert shown <= expected, f"{title}: shows unselected villages {shown - expected}"
        assert expected - {SILENT.village} <= shown, f"{title}: misses {expected - shown}"
    if (
        "link" in query.group_tags and '"uplink_event"' not in query.influxql
    ):  # events: only links that changed
        links = {s.tags["link"] for s in series}
        assert links == {"fiber", "4g"}, f"{title}: links {links}"


def _shown(
    seeded: Seeded, answers: dict[str, list[Series]], board: Dashboard, panel: Panel, to_ms: int | None = None
) -> dict[str, tuple[str, object]]:
    """Per village, the query (its ref id) whose row the panel shows and that row's value."""
    out: dict[str, tuple[str, object]] = {}
    for ref, q in zip(ref_ids(), panel.queries, strict=False):
        for s in run(seeded, answers, board, panel, q, SELECTIONS[0], to_ms=to_ms):
            assert s.tags["village"] not in out, f"{panel.title.en}: {s.tags['village']} in {ref} and before"
            ((_, value),) = s.values
            out[s.tags["village"]] = (ref, value)
    return out


def _panel(board: Dashboard, title: str) -> Panel:
    (panel,) = [p for p in board.panels() if p.title.en == title]
    return panel


@pytest.mark.parametrize("c", CRITERIA.criteria, ids=lambda c: c.id)
def test_a_verdict_panel_shows_the_newest_published_verdict(
    seeded: Seeded, answers: dict[str, list[Series]], c: Criterion
) -> None:
    """Each village in the query of its newest verdict's state, with its value, not the hour before's (which
    dash_seed publishes with another verdict and value)."""
    board = BOARDS["thonminh-village"]
    where = {
        "pass": ("A", "value"),
        "fail": ("A", "value"),
        "insufficient_data": ("B", "coverage"),
        "unverified": ("C", "unverified"),
    }
    expected = {}
    for v in VILLAGES:
        fields = published(v, c)
        ref, name = where[str(fields["verdict"])]
        scale = 100 if name == "coverage" else 1
        number = 1 if name == "unverified" else scale * float(fields[name])  # query C counts the verdict
        expected[v.village] = (ref, pytest.approx(number))
    assert _shown(seeded, answers, board, _panel(board, c.title.en)) == expected
    coverage = _shown(seeded, answers, board, _panel(board, f"Coverage: {c.title.en}"))
    assert coverage == {v.village: ("A", 100 * published(v, c)["coverage"]) for v in VILLAGES}


def test_the_province_table_names_each_village_as_the_service_published_it(
    seeded: Seeded, answers: dict[str, list[Series]]
) -> None:
    board = BOARDS["thonminh-province"]
    panel = _panel(board, "Villages: verdicts and last seen")
    (names,) = [q for q in panel.queries if '"village_name"' in q.influxql]
    shown = {
        s.tags["village"]: s.values[0][1] for s in run(seeded, answers, board, panel, names, SELECTIONS[0])
    }
    assert shown == {v.village: v.name or v.village for v in VILLAGES}
    assert shown[HEALTHY.village] == "Khả Lý Thượng"


def _copy_answers(
    seeded: Seeded, answers: dict[str, list[Series]], board: Dashboard, panel: Panel, to_ms: int | None
) -> list[list[tuple[dict[str, str], list[list[object]]]]]:
    """What the panel's queries on the published verdicts answer with its range ending at ``to_ms``."""
    return [
        [(s.tags, s.values) for s in run(seeded, answers, board, panel, q, SELECTIONS[0], to_ms=to_ms)]
        for q in panel.queries
        if f'"{CRITERION_VERDICT.name}"' in q.influxql
    ]


def test_a_verdict_older_than_fresh_is_not_shown(seeded: Seeded, answers: dict[str, list[Series]]) -> None:
    """A service that stopped publishing leaves the panels, table cells and coverage saying there is no verdict,
    never its last one as if it were current; one missed hour still shows the newest."""
    newest, _ = verdict_hours(seeded.now_ms)
    reading = [
        (board, panel)
        for board in BOARDS.values()
        for panel in board.panels()
        if any(f'"{CRITERION_VERDICT.name}"' in q.influxql for q in panel.queries)
    ]
    assert len(reading) >= 2 * len(CRITERIA.criteria) + 1, "the verdict and coverage panels, the table"
    for board, panel in reading:
        late = _copy_answers(seeded, answers, board, panel, newest + 4 * 3_600_000)
        assert not any(late), f"{panel.title.en}: shows a verdict 4 h old"
        now = _copy_answers(seeded, answers, board, panel, None)
        assert any(now), f"{panel.title.en}: shows no verdict"
        assert _copy_answers(seeded, answers, board, panel, newest + FRESH_S * 1000 - 60_000) == now, (
            f"{panel.title.en}: not the newest verdict while under {FRESH_S // 3600} h old"
        )


@pytest.mark.parametrize("uid", sorted(BOARDS))
def test_variable_queries_list_the_villages(seeded: Seeded, uid: str) -> None:
    board = BOARDS[uid]
    selection = SELECTIONS[0]
    for var in board.variables:
        q = interpolate(
            var.query,
            variables=template_vars(board, selection),
            from_ms=0,
            to_ms=seeded.now_ms,
            interval_ms=60_000,
        )
        values = {row[1] for s in seeded.client.select(q).series for row in s.values}
        wanted = {getattr(v, var.name) for v in VILLAGES}
        assert values == wanted, (var.name, values)


def test_outage_annotations_find_the_transitions(seeded: Seeded) -> None:
    board = BOARDS["thonminh-connectivity"]
    now = seeded.now_ms
    start = resolve_time(board.time_from, now)
    found = {}
    for a in board.annotations:
        q = interpolate(
            a.query.influxql,
            variables=template_vars(board, SELECTIONS[0]),
            from_ms=start,
            to_ms=now,
            interval_ms=60_000,
        )
        series = seeded.client.select(q).series
        found[a.name.en] = {(s.tags["village"], s.tags["link"]) for s in series}
        assert all(a.text_column in s.columns for s in series)
    assert ("kha-ly-thuong", "4g") in found["Uplink down"]
    assert (TROUBLED.village, "fiber") in found["Uplink down"]
    assert ("kha-ly-thuong", "4g") in found["Uplink up"]


def _key(v: Village, *tags: str) -> tuple[str, ...]:
    # every rule's series carry the village's place (its labels for the notification policies)
    return tuple(sorted((v.tags["province"], v.district, v.commune, v.village, *tags)))


EXPECTED_FIRING = {
    "thonminh-uplink-down": {_key(TROUBLED, "fiber")},
    "thonminh-gateway-silent": {_key(SILENT, SILENT.gateway)},
    "thonminh-streetlight-fault": {_key(TROUBLED, "l2", "north")},
    "thonminh-buffer-lag": {_key(TROUBLED, TROUBLED.gateway)},
    "thonminh-verdicts-stale": set(),  # the seed has fresh published verdicts
}


STATE_RULES = [r for r in ALERT_RULES if r.criterion is None]
CRITERION_RULES = [r for r in ALERT_RULES if r.criterion is not None]


@pytest.mark.parametrize("rule", STATE_RULES, ids=lambda r: r.uid)
def test_alert_fires_for_the_troubled_village_only(seeded: Seeded, rule: AlertRule) -> None:
    assert evaluate(seeded.client, rule, seeded.now_ms) == EXPECTED_FIRING[rule.uid]


@pytest.mark.parametrize("rule", CRITERION_RULES, ids=lambda r: r.uid)
def test_criterion_alert_queries_run_in_grafanas_backend(seeded: Seeded, rule: AlertRule) -> None:
    # which villages they fire for: test_alert_delivery.py (on the published verdicts), test_cross_surface.py
    evaluate(seeded.client, rule, seeded.now_ms)


def test_the_stale_verdicts_rule_fires_on_no_data_once_nothing_is_published(seeded: Seeded) -> None:
    """With no verdict within its look-back the rule's query has no row, and Grafana's no-data state is what
    fires it; with the seed's fresh verdicts it reads a count."""
    (rule,) = (r for r in ALERT_RULES if r.uid == "thonminh-verdicts-stale")
    assert rule.no_data == "Alerting"
    later = seeded.now_ms + 4 * 3_600_000
    assert seeded.client.select(backend_query(rule, later)).series == []
    ((_, count),) = seeded.client.select(backend_query(rule, seeded.now_ms)).series[0].values
    assert count > 0
