"""The InfluxDB 1.x behaviours the figure queries rest on (dashboards/figures.py) and the published verdicts'
(dashboards/verdictcopy.py), each on the real InfluxDB, and the builder's quoting and contract checks."""

from __future__ import annotations

import time

import pytest
from grafana_macros import interpolate

from dashboards.influxql import PANEL, Select, field_value, local_offset_ms, tag_ref, trailing
from dashboards.verdictcopy import VerdictQuery
from server.evidence_display import ensure_retention_policy
from thonminh.contract import CRITERION_VERDICT, STREETLIGHT, UPLINK, VERIFICATION_RP, Point
from thonminh.influx import InfluxClient
from thonminh.lineprotocol import encode_line

H = 3_600_000
T0 = 1_700_000_000_000 - 1_700_000_000_000 % H  # an hour, in ms


@pytest.fixture
def m(influx: InfluxClient) -> InfluxClient:
    influx.write(
        [
            f"m,village=a,ap=p1 n=1i,x=10.0 {T0 + 1000}",
            f"m,village=a,ap=p1 n=2i,x=60.0 {T0 + 61000}",
            f"m,village=a,ap=p2 n=4i,x=60.0 {T0 + 61000}",
            f"m,village=b,ap=p1 n=3i,x=60.0 {T0 + 61000}",
        ]
    )
    return influx


def rows(client: InfluxClient, q: str) -> dict[str, list[list[object]]]:
    return {s.tags.get("village", ""): s.values for s in client.select(q).series}


def test_an_aggregate_over_several_subqueries_reads_only_the_first(m: InfluxClient) -> None:
    ge = 'SELECT count("x") AS "ge" FROM m WHERE "x" >= 50 GROUP BY village'
    n = 'SELECT count("x") AS "n" FROM m GROUP BY village'
    direct = rows(m, f'SELECT sum("ge"), sum("n") FROM ({ge}), ({n}) GROUP BY village')
    assert direct["a"][0][2] is None  # the second subquery is not read: why figures.py merges first
    merged = rows(
        m, f'SELECT sum("ge"), sum("n") FROM (SELECT "ge", "n" FROM ({ge}), ({n})) GROUP BY village'
    )
    assert merged["a"][0][1:] == [2, 3] and merged["b"][0][1:] == [1, 1]


def test_a_count_with_nothing_to_count_is_absent_unless_a_zero_row_is_merged(m: InfluxClient) -> None:
    ge = (
        f'SELECT count("x") AS "ge" FROM m WHERE time >= {T0}ms AND time < {T0 + H}ms AND "x" >= 100 '
        "GROUP BY time(1h), village fill(0)"
    )
    assert rows(m, ge) == {}  # fill(0) makes no series of its own
    zero = 'SELECT 0 * count("x") AS "ge" FROM m GROUP BY village'
    got = rows(m, f'SELECT sum("ge") FROM (SELECT "ge" FROM ({zero})) GROUP BY village')
    assert got["a"][0][1] == 0


def test_division_by_zero_is_zero_and_int_over_int_is_typed_int_in_a_merge(m: InfluxClient) -> None:
    assert rows(m, 'SELECT sum("x") / (0 * count("x")) FROM m GROUP BY village')["a"][0][1] == 0
    three = 'SELECT 100 * sum("n") / 3 AS "v" FROM m GROUP BY village'
    assert rows(m, three)["a"][0][1] == pytest.approx(233.333, abs=1e-3)  # alone: a float
    other = 'SELECT count("x") AS "w" FROM m GROUP BY village'
    assert rows(m, f'SELECT "v" FROM ({three}), ({other})')[""][0][1] == 233  # merged: cut to an integer
    floated = three.replace("100 *", "100.0 *")
    assert rows(m, f'SELECT "v" FROM ({floated}), ({other})')[""][0][1] == pytest.approx(233.333, abs=1e-3)


def test_outer_queries_filter_on_subquery_fields_and_min_is_exact_below_one(m: InfluxClient) -> None:
    per_ap = 'SELECT sum("x") / 100 AS "c" FROM m GROUP BY village, ap'
    capped = '("c") - (abs(("c") - 1) + (("c") - 1)) / 2'
    got = rows(m, f'SELECT {capped} AS "c" FROM ({per_ap}) WHERE "c" >= 0.6 OR "c" < 0.1 GROUP BY village')
    assert sorted(r[1] for r in got["a"]) == [0.6, 0.7] and got["b"][0][1] == 0.6


def test_constant_arithmetic_days_of_a_window_and_time_minus_a_day(m: InfluxClient) -> None:
    days = PANEL.days.replace("${__from}", str(T0 + 5 * H)).replace("${__to}", str(T0 + 53 * H))
    got = rows(
        m, f'SELECT count("x") * 0 + {days} AS "d" FROM m WHERE time > {T0 + 2000}ms - 1d GROUP BY village'
    )
    off = local_offset_ms()
    expected = (T0 + 53 * H - 1 + off) // 86_400_000 - (T0 + 5 * H + off) // 86_400_000 + 1
    assert got["a"][0][1] == expected


def test_the_builder_quotes_backslashes_and_checks_the_contract(influx: InfluxClient) -> None:
    influx.write(['streetlight,village=a,light=l1,zone=z fault="a\\\\b\'c" 1700000000000'])
    condition = field_value(STREETLIGHT, "fault", "=", "a\\b'c")
    assert condition == "\"fault\" = 'a\\\\b\\'c'"
    q = Select(
        STREETLIGHT, ('count("fault")',), where=(condition,), scope=(), window=trailing(10**9)
    ).render()
    text = interpolate(
        q, variables={}, from_ms=0, to_ms=1_800_000_000_000, interval_ms=60_000, frontend=False
    )
    assert influx.select(text).series[0].values[0][1] == 1
    with pytest.raises(KeyError):
        field_value(UPLINK, "upp_s", ">", 0)
    with pytest.raises(KeyError):
        tag_ref(UPLINK, "ap")


def test_a_published_verdict_is_read_per_village_and_whole_from_its_newest_point(
    influx: InfluxClient,
) -> None:
    """``last`` selects: the other fields come from the newest point, absent ones as null, never from an older
    point (a value and a verdict of two evaluations); a tag the copy has not cannot group it."""
    with pytest.raises(KeyError):
        VerdictQuery("fiber_availability", (), by=("link",)).latest()
    ensure_retention_policy(influx, influx.database or "")
    new = int(time.time() * 1000) // H * H  # recent: the policy drops points older than its few days
    old = new - H
    points = [
        ("a", "c1", old, {"verdict": "pass", "coverage": 1.0, "value": 99.5, "verified_pct": 100.0}),
        ("a", "c1", new, {"verdict": "unverified", "coverage": 0.9, "value": 98.5, "verified_pct": 95.8}),
        ("b", "c1", old, {"verdict": "fail", "coverage": 1.0, "value": 97.0, "verified_pct": 100.0}),
        ("b", "c1", new, {"verdict": "insufficient_data", "coverage": 0.25}),
        ("a", "c2", new + 60_000, {"verdict": "fail", "coverage": 1.0, "value": 1.0}),  # another criterion
    ]
    influx.write(
        [
            encode_line(Point(CRITERION_VERDICT.name, {"village": v, "criterion": c}, f, t))
            for v, c, t, f in points
        ],
        retention_policy=VERIFICATION_RP,
    )
    q = interpolate(
        VerdictQuery("c1", ()).latest().render(), variables={}, from_ms=0, to_ms=new + H, interval_ms=60_000
    )
    got = {s.tags["village"]: dict(zip(s.columns, s.values[0], strict=True)) for s in influx.select(q).series}
    assert got == {
        "a": {"time": new, "coverage": 0.9, "value": 98.5, "verdict": "unverified", "verified_pct": 95.8},
        "b": {
            "time": new,
            "coverage": 0.25,
            "value": None,
            "verdict": "insufficient_data",
            "verified_pct": None,
        },
    }
