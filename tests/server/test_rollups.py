"""Hourly rollups: both writing modes agree, passes are idempotent, and figures equal the raw ones exactly."""

from __future__ import annotations

import time

import pytest
import srv_scenario as sc
from fastapi.testclient import TestClient
from influxkit import scratch_database
from srv_helpers import READ, make_config, rollup_snapshot, write

from server import verdicts
from server.app import create_app
from server.plan import RollupState, Segment, plan
from server.rollup_specs import SPECS, specs_version
from server.rollups import Rollups
from server.timeparse import HOUR_MS, iso
from thonminh.influx import InfluxClient

H = HOUR_MS


def test_plan_uses_rollups_for_whole_hours_and_days_only():
    state = RollupState(10 * H, 100 * H)
    assert plan(5 * H + 7, 20 * H + 9, state) == [
        Segment(5 * H + 7, 10 * H),
        Segment(10 * H, 20 * H, "1h"),
        Segment(20 * H, 20 * H + 9),
    ]
    assert plan(11 * H + 1, 99 * H, state) == [
        Segment(11 * H + 1, 12 * H),
        Segment(12 * H, 24 * H, "1h"),
        Segment(24 * H, 96 * H, "1d"),
        Segment(96 * H, 99 * H, "1h"),
    ]
    assert plan(11 * H + 1, 99 * H, state, daily=False) == [
        Segment(11 * H + 1, 12 * H),
        Segment(12 * H, 99 * H, "1h"),
    ]
    assert plan(50 * H + 1, 120 * H, state) == [
        Segment(50 * H + 1, 51 * H),
        Segment(51 * H, 72 * H, "1h"),
        Segment(72 * H, 96 * H, "1d"),
        Segment(96 * H, 100 * H, "1h"),
        Segment(100 * H, 120 * H),
    ]
    assert plan(11 * H + 1, 12 * H + 5, state) == [Segment(11 * H + 1, 12 * H + 5)]  # no whole hour
    assert plan(0, 5 * H, state) == [Segment(0, 5 * H)]  # outside what is rolled
    assert plan(0, 50 * H, None) == [Segment(0, 50 * H)]
    assert plan(0, 50 * H, state, use_rollups=False) == [Segment(0, 50 * H)]


def _rollups(client: InfluxClient, mode: str, clock=None) -> Rollups:
    kwargs = {"clock": clock} if clock else {}
    r = Rollups(
        client, database=client.database, source_rp=None, rollup_rp="thonminh_1h", mode=mode, **kwargs
    )
    r.prepare()
    return r


def test_into_and_write_modes_write_the_same_rollups_and_rerolling_changes_nothing(influx: InfluxClient):
    write(influx, sc.village_a())
    into = _rollups(influx, "into")
    into.roll(sc.D0 - 2 * H, sc.W_END + 2 * H)
    first = rollup_snapshot(influx)
    assert len(first["uplink_1h"]) == 50 + 46  # 4G: 50 hours with samples; fiber: 4 of them in the gap
    assert len(first["streetlight_1h"]) == 3 * 49
    assert first["uplink_1d"] and all(dict(f)["hours"] <= 24 for _, f in first["uplink_1d"])
    assert sum(dict(f)["samples"] for _, f in first["uplink_1d"]) == sum(
        dict(f)["samples"] for _, f in first["uplink_1h"]
    )
    into.roll(sc.D0, sc.W_END)  # idempotent: the same hours rewritten
    assert rollup_snapshot(influx) == first
    for spec in SPECS.values():
        influx.query(f'DELETE FROM "{spec.name}"; DELETE FROM "{spec.daily}"')
    assert all(not rows for rows in rollup_snapshot(influx).values())
    _rollups(influx, "write").roll(sc.D0 - 2 * H, sc.W_END + 2 * H)
    assert rollup_snapshot(influx) == first


def test_state_is_persisted_and_other_definitions_are_rebuilt(influx: InfluxClient):
    r = _rollups(influx, "into")
    assert r.state is None
    r.mark(10 * H, 20 * H)
    r.mark(20 * H, 30 * H)  # contiguous: extends
    assert _rollups(influx, "into").state == RollupState(10 * H, 30 * H)
    r.mark(50 * H, 60 * H)  # disjoint: the newer range replaces it
    assert _rollups(influx, "into").state == RollupState(50 * H, 60 * H)
    influx.write(
        f'thonminh_rollup_state,database={influx.database} from_ms=1i,until_ms=2i,version="old" '
        f"{int(time.time() * 1000) + 600_000}",
        retention_policy="thonminh_1h",
    )  # newer than the marks above (not sc.NOW_MS: that is when the suite was collected, minutes ago)
    assert _rollups(influx, "into").state is None
    assert specs_version() != "old"


def test_maintenance_rolls_closed_hours_and_takes_in_late_data(influx: InfluxClient):
    write(influx, sc.village_d())
    now = [(sc.D0 + 2 * sc.DAY + 30 * 60_000) / 1000]
    r = Rollups(
        influx,
        database=influx.database,
        source_rp=None,
        rollup_rp="thonminh_1h",
        late_window_h=6,
        backfill_days=3,
        clock=lambda: now[0],
    )
    state = r.maintain(max_backfill_days=10)
    assert state == RollupState(sc.D0 + 2 * sc.DAY - 3 * sc.DAY, sc.D0 + 2 * sc.DAY)
    hour = sc.D0 + 2 * sc.DAY - 2 * H
    query = f'SELECT sum(samples) FROM "{influx.database}"."thonminh_1h"."uplink_1h" WHERE time = {hour}ms'
    assert influx.select(query).rows()[0]["sum"] == 60
    # a gateway forwards a sample late, into an hour already rolled
    influx.write(
        f"uplink,gateway=gw-xk,link=fiber,village=xa-khac,province=lang-son up_s=1.0,observed_s=1.0 "
        f"{hour + 1234}"
    )
    now[0] += 600
    r.maintain()
    assert influx.select(query).rows()[0]["sum"] == 61


@pytest.fixture(scope="module")
def both(influxdb):
    """(raw-only app, rollup app) on one database holding the whole scenario, rolled for the window."""
    with scratch_database(influxdb, "roll") as client:
        write(client, sc.all_points())
        database = client.database
        with (
            TestClient(create_app(make_config(influxdb.url, database, rollups={"enabled": False}))) as raw,
            TestClient(create_app(make_config(influxdb.url, database))) as rolled,
        ):
            rollups: Rollups = rolled.app.state.rollups
            rollups.roll(sc.D0 - 2 * H, sc.W_END + 2 * H)
            rollups.mark(sc.D0 - 2 * H, sc.W_END + 2 * H)
            yield raw, rolled


def _strip(value):
    if isinstance(value, dict):
        return {k: _strip(v) for k, v in value.items() if k != "queries"}
    if isinstance(value, list):
        return [_strip(v) for v in value]
    if isinstance(value, float):
        return round(value, 9)
    return value


@pytest.mark.parametrize(
    "path",
    [
        "/villages/kha-ly-thuong/uptime",
        "/villages/kha-ly-thuong/uptime?step=1d",
        "/villages/kha-ly-thuong/uptime?step=3h&link=fiber",
        "/villages/kha-ly-thuong/wifi",
        "/villages/ban-ven/wifi",
        "/villages/kha-ly-thuong/lighting",
        "/villages/kha-ly-thuong/modem",
        "/villages/kha-ly-thuong/criteria",
        "/criteria?province=bac-giang",
    ],
)
def test_figures_from_rollups_equal_the_raw_figures(both, path):
    raw, rolled = both
    # unaligned on purpose: raw edges of 29 min 10 s and 20 min around whole rolled hours
    window = {"start": iso(sc.D0 + 30 * 60_000 + 50_000), "end": iso(sc.W_END - 20 * 60_000)}
    a = raw.get(f"/api/v1{path}", params=window, headers=READ)
    b = rolled.get(f"/api/v1{path}", params=window, headers=READ)
    assert a.status_code == b.status_code == 200, (a.text, b.text)
    assert _strip(a.json()) == _strip(b.json())
    queries = str(b.json())
    assert "thonminh_1h" in queries and "thonminh_1h" not in str(a.json())
    if "step" not in path:  # whole UTC days come from the daily rollups
        assert '_1d"' in queries


def test_a_province_by_its_name_as_people_write_it_and_one_that_matches_nothing(api):
    WINDOW = {"start": iso(sc.W_START), "end": iso(sc.W_END)}
    by_name = api.get("/api/v1/criteria", params={"province": "Bắc Giang", **WINDOW}, headers=READ)
    by_slug = api.get("/api/v1/criteria", params={"province": "bac-giang", **WINDOW}, headers=READ)
    assert by_name.status_code == 200
    assert [v["village"] for v in by_name.json()["villages"]] == [
        v["village"] for v in by_slug.json()["villages"]
    ]
    nothing = api.get("/api/v1/criteria", params={"province": "Hà Nội", **WINDOW}, headers=READ)
    assert nothing.status_code == 404
    assert nothing.json() == {
        "detail": "no village matches province 'ha-noi' (known: bac-giang, lang-son)",
        "parameter": "province",
    }


def test_while_the_next_hour_is_evaluated_other_callers_get_the_hour_before_at_once():
    # a province's evaluation with signed evidence adds up 2,000 villages' verified months again each hour
    # (minutes): every overview asked meanwhile waited for it
    import threading
    import time

    from server.service import HourlyCache

    cache: HourlyCache[str] = HourlyCache()
    assert cache.get((1,), "Asia/Ho_Chi_Minh", lambda: "hour 1") == "hour 1"
    started, release = threading.Event(), threading.Event()

    def slow() -> str:
        started.set()
        release.wait(10)
        return "hour 2"

    got: list[str] = []
    worker = threading.Thread(target=lambda: got.append(cache.get((2,), "Asia/Ho_Chi_Minh", slow)))
    worker.start()
    assert started.wait(5)
    threading.Timer(3, release.set).start()  # the version before waited here for the worker
    t0 = time.monotonic()
    meanwhile = cache.get((2,), "Asia/Ho_Chi_Minh", lambda: "computed twice")
    waited = time.monotonic() - t0
    release.set()
    worker.join(10)
    assert (meanwhile, waited < 1.5) == ("hour 1", True)
    assert got == ["hour 2"] and cache.get((2,), "Asia/Ho_Chi_Minh", lambda: "again") == "hour 2"

    # with nothing before (a first start), a caller waits for the one computing, and does not compute again;
    # so does one that publishes what it gets (``wait``): Grafana's copy and the sweep's news are the new hour
    for before, wait in ((None, False), ("hour 1", True)):
        other: HourlyCache[str] = HourlyCache()
        if before:
            other.get((1,), "z", lambda: "hour 1")
        started.clear()
        release.clear()
        worker = threading.Thread(target=lambda c=other: got.append(c.get((2,), "z", slow)))
        worker.start()
        assert started.wait(5)
        threading.Timer(0.3, release.set).start()
        assert other.get((2,), "z", lambda: "computed twice", wait=wait) == "hour 2"
        worker.join(10)

    # a first evaluation that takes long (a province verified cold): told so after patience_s, not held
    from server.errors import NotReady

    first: HourlyCache[str] = HourlyCache(clock=lambda: 1_700_000_000.0)
    started.clear()
    release.clear()
    worker = threading.Thread(target=lambda: got.append(first.get((1,), "z", slow)))
    worker.start()
    assert started.wait(5)
    t0 = time.monotonic()
    with pytest.raises(NotReady, match="since 2023-11-14T22:13:20Z") as told:
        first.get((1,), "z", lambda: "computed twice", patience_s=0.2)
    assert time.monotonic() - t0 < 1.5 and told.value.since_ms == 1_700_000_000_000
    release.set()
    worker.join(10)
    assert first.get((1,), "z", lambda: "again", patience_s=0.2) == "hour 2"


def test_the_default_roll_up_is_evaluated_once_an_hour_and_filtered_per_place(seeded, app_for):
    """A province's overview over the default windows is the all-village evaluation filtered, and equals the
    province evaluated on its own."""
    from server.criteria import evaluate
    from server.queries import Scope

    api = app_for(seeded)
    service = api.app.state.service
    province = api.get("/api/v1/criteria", params={"province": "bac-giang"}, headers=READ).json()
    everyone = api.get("/api/v1/criteria", headers=READ).json()
    first = verdicts.default_evaluation(service)
    assert verdicts.default_evaluation(service) is first  # the same hour: not read again
    mine = {v["village"]: v["verdicts"] for v in province["villages"]}
    assert mine == {v["village"]: v["verdicts"] for v in everyone["villages"] if v["province"] == "bac-giang"}
    assert set(mine) == {"kha-ly-thuong", "ban-ven", "lang-moi"}
    scope = Scope(province="bac-giang")
    direct = evaluate(service.criteria.criteria, service.reader, scope, mine, first.window_for)
    assert {v: {cid: direct[cid][v].verdict for cid in direct} for v in mine} == {
        v: {cid: verdict["verdict"] for cid, verdict in per.items()} for v, per in mine.items()
    }


class Slow(InfluxClient):
    """A province's InfluxDB, stood in for: every query takes 20 ms more."""

    def query(self, q, **kwargs):  # type: ignore[no-untyped-def]
        time.sleep(0.02)
        return super().query(q, **kwargs)


@pytest.mark.parametrize(("share", "steps"), [(1.0, 3), (0.1, 0)])
def test_the_reconciling_walk_takes_at_most_its_share_of_the_time(influx: InfluxClient, share, steps) -> None:
    """A day of a province takes about a minute to roll again: a step every pass would keep a core busy. After
    a step of t seconds the walk waits t * (1 / share - 1); here a step is over 30 queries of at least 20 ms,
    so at 0.1 the next waits over 5 s, and the passes come a second apart."""
    write(influx, sc.village_d())
    now = [(sc.D0 + 2 * sc.DAY + 30 * 60_000) / 1000]
    r = Rollups(
        Slow(influx.url, database=influx.database),
        database=influx.database,
        source_rp=None,
        rollup_rp="thonminh_1h",
        late_window_h=6,
        backfill_days=3,
        reconcile_days=3,
        reconcile_share=share,
        clock=lambda: now[0],
    )
    r.maintain(max_backfill_days=10)
    walked, last = 0, r.status.reconcile_ms
    for _ in range(3):
        now[0] += 1
        r.maintain()
        walked += r.status.reconcile_ms != last
        last = r.status.reconcile_ms
    assert walked == steps
