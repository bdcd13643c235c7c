"""Rollup rows written by someone else than the service: found, named, put right (``server.rollup_rows``).

Whoever can write to InfluxDB can write a rollup row, and long windows read rollups, not the samples that
verification checks. Each test forges rows on a real InfluxDB: an existing hourly row altered, a daily row
altered, a series of its own added (the village's tags without the gateway's), and shows first that the forgery
changes what the API answers.
"""

from __future__ import annotations

import logging

import pytest
import srv_scenario as sc
from fastapi.testclient import TestClient
from srv_helpers import READ, make_config, rollup_snapshot, write

import server.rollups as rollups_module
from server.app import create_app
from server.plan import DAY_MS, floor_day
from server.queries import Source
from server.rollup_findings import RollupFindings
from server.rollup_parts import village_groups
from server.rollup_rows import AuditStatus, audit, compare
from server.rollups import Rollups
from server.timeparse import HOUR_MS, iso
from thonminh.contract import Point
from thonminh.influx import InfluxClient
from thonminh.lineprotocol import encode_line

H = HOUR_MS
RP = "thonminh_1h"
#: the window asked for: the UTC day it holds whole is read from the daily rollups, the hours around it from the
#: hourly ones, such as HOUR
WINDOW = {"start": iso(sc.D0), "end": iso(sc.D0 + 2 * DAY_MS)}
DAY = floor_day(sc.D0 + DAY_MS)
HOUR = sc.D0 + 2 * H


def _stored(client: InfluxClient, name: str, time_ms: int) -> tuple[dict[str, str], dict]:
    series = client.select(
        f'SELECT * FROM "{client.database}"."{RP}"."{name}" WHERE time = {time_ms}ms GROUP BY *'
    ).series
    (one,) = series
    (row,) = one.rows()
    return {k: v for k, v in one.tags.items() if v}, row


def _forge(client: InfluxClient, name: str, tags: dict[str, str], time_ms: int, **fields: float) -> None:
    client.write(encode_line(Point(name, tags, fields, time_ms)), retention_policy=RP)


def _availability(api: TestClient) -> float:
    response = api.get("/api/v1/villages/xa-khac/uptime", params=WINDOW, headers=READ)
    assert response.status_code == 200, response.text
    (link,) = response.json()["links"]
    return link["availability_pct"]


@pytest.mark.parametrize("mode", ["into", "write"])
def test_forged_rollup_rows_are_found_and_the_answer_is_the_samples_again(
    influx: InfluxClient, mode: str, caplog: pytest.LogCaptureFixture
) -> None:
    write(influx, sc.village_d())
    app = create_app(make_config(influx.url, influx.database, rollups={"mode": mode}))
    with TestClient(app) as api:
        rollups: Rollups = app.state.rollups
        rollups.roll(sc.D0 - 2 * H, sc.D0 + 2 * DAY_MS + 2 * H)
        rollups.mark(sc.D0 - 2 * H, sc.D0 + 2 * DAY_MS + 2 * H)
        truth, before = _availability(api), rollup_snapshot(influx)
        assert truth == 100.0

        tags, row = _stored(influx, "uplink_1h", HOUR)
        _forge(influx, "uplink_1h", tags, HOUR, up_s=0.0, observed_s=3600.0, samples=60)
        day_tags, day_row = _stored(influx, "uplink_1d", DAY)
        _forge(influx, "uplink_1d", day_tags, DAY, up_s=day_row["up_s"] / 2)
        no_gateway = {k: v for k, v in tags.items() if k != "gateway"}
        _forge(influx, "uplink_1h", no_gateway, HOUR + H, up_s=0.0, observed_s=3600.0, samples=60)
        assert _availability(api) < 80.0  # the forgery is what the API answers

        with caplog.at_level(logging.WARNING, logger="server.rollup_rows"):
            rollups.roll(sc.D0 - 2 * H, sc.D0 + 2 * DAY_MS + 2 * H, audit=True)
        assert _availability(api) == truth
        assert rollup_snapshot(influx) == before
        found = rollups.status.audit
        assert (found.altered, found.extra, found.removed, found.late) == (2, 1, 1, 0)
        named = [getattr(r, "first", "") for r in caplog.records]
        assert any("xa-khac" in n and iso(HOUR) in n for n in named), named
        health = api.get("/api/v1/health", headers=READ).json()
        assert health["rollups"]["audit"]["altered"] == 2


def test_the_reconciling_pass_audits_older_days_and_late_samples_are_no_forgery(
    influx: InfluxClient, caplog: pytest.LogCaptureFixture
) -> None:
    write(influx, sc.village_d())
    now = [(sc.D0 + 2 * DAY_MS + 30 * 60_000) / 1000]
    r = Rollups(
        influx,
        database=influx.database,
        source_rp=None,
        rollup_rp=RP,
        late_window_h=6,
        backfill_days=3,
        reconcile_days=3,
        clock=lambda: now[0],
    )
    r.maintain(max_backfill_days=10)
    assert r.status.audit.parts > 0  # the first pass reconciled one day already
    tags, row = _stored(influx, "uplink_1h", HOUR)
    _forge(influx, "uplink_1h", tags, HOUR, up_s=0.0)
    late = HOUR + 3 * H  # a sample forwarded days late, into an hour rolled long ago
    influx.write(encode_line(Point("uplink", tags, {"up_s": 1.0, "observed_s": 1.0}, late + 1234)))
    with caplog.at_level(logging.WARNING, logger="server.rollup_rows"):
        for _ in range(4):  # the reconciling walk reaches every day of the three
            now[0] += 300
            r.maintain()
    assert _stored(influx, "uplink_1h", HOUR)[1]["up_s"] == row["up_s"]
    assert _stored(influx, "uplink_1h", late)[1]["samples"] == 61
    assert r.status.audit.altered == 1 and r.status.audit.late >= 1  # the day's row counts the late one too
    assert caplog.text.count("rollup rows the samples do not explain") == 1


def test_rows_are_told_apart_by_what_late_samples_can_explain() -> None:
    key = ((("village", "v"),), 0)
    computed = {key: {"up_s": 60.0, "samples": 2}}
    kinds = {
        "late": {"up_s": 30.0, "samples": 1},
        "altered": {"up_s": 10.0, "samples": 2},
    }
    for kind, stored in kinds.items():
        (d,) = compare("uplink_1h", {key: stored}, computed, ("up_s", "samples"))
        assert d.kind == kind
    assert compare("uplink_1h", {key: {"up_s": 60.0, "samples": 2}}, computed, ("up_s", "samples")) == []
    assert [
        d.kind for d in compare("uplink_1h", {key: {"up_s": "60", "samples": 2}}, computed, ("up_s",))
    ] == ["altered"]
    assert [d.kind for d in compare("uplink_1h", {}, computed, ("up_s",))] == ["missing"]
    assert [d.kind for d in compare("uplink_1h", computed, {}, ("up_s",))] == ["extra"]


def test_a_silent_day_is_audited_while_its_samples_would_still_be_kept(influx: InfluxClient) -> None:
    """A gateway silent a whole day is when forged rows would pay most, and a span without any sample was left
    unaudited (its samples might be past their retention). Now only a span older than the raw retention
    policy's duration is: within it, rows with no samples under them are extra."""
    write(influx, sc.village_d())
    silent = floor_day(sc.D0) + 5 * DAY_MS  # no gateway sent anything that day
    r = Rollups(influx, database=influx.database, source_rp=None, rollup_rp=RP, mode="write")
    r.prepare()
    r.roll(HOUR, HOUR + H)
    tags, _ = _stored(influx, "uplink_1h", HOUR)  # the village's own series
    _forge(influx, "uplink_1h", tags, silent + 3 * H, up_s=3600.0, observed_s=3600.0, samples=60)
    r.roll(silent, silent + DAY_MS)  # autogen keeps samples forever: the day's samples are all there, none
    assert (r.status.audit.extra, r.status.audit.removed) == (1, 1)
    assert (
        influx.select(
            f'SELECT * FROM "{influx.database}"."{RP}"."uplink_1h" WHERE time = {silent + 3 * H}ms'
        ).series
        == []
    )

    influx.query(f'CREATE RETENTION POLICY "hour" ON "{influx.database}" DURATION 1h REPLICATION 1')
    old = Rollups(influx, database=influx.database, source_rp="hour", rollup_rp=RP, mode="write")
    _forge(influx, "uplink_1h", tags, silent + 3 * H, up_s=3600.0, observed_s=3600.0, samples=60)
    old.roll(silent, silent + DAY_MS)  # days older than the policy keeps samples: they may be gone, rows stay
    other = Rollups(
        Version2(influx.url, database=influx.database), database=influx.database, source_rp=None, rollup_rp=RP
    )
    other.roll(silent, silent + DAY_MS, audit=True)  # 2.x and 3.x answer placeholders for a policy's duration
    assert (old.status.audit.extra, other.status.audit.extra) == (0, 0)
    assert _stored(influx, "uplink_1h", silent + 3 * H)[1]["up_s"] == 3600.0


def test_a_span_whose_samples_may_be_gone_keeps_its_rollups(influx: InfluxClient) -> None:
    """Samples may outlive their retention policy sooner than rollups: no samples at all is no forgery there."""
    tags = {"village": "xa-khac", "link": "fiber"}
    influx.query(f'CREATE RETENTION POLICY "{RP}" ON "{influx.database}" DURATION INF REPLICATION 1')
    _forge(influx, "uplink_1h", tags, HOUR, up_s=60.0, observed_s=60.0, samples=1)
    status = AuditStatus()
    audit(
        influx, Source(influx.database, RP, "uplink_1h"), [], (HOUR, HOUR + H, None), ("up_s",), status, False
    )
    assert _stored(influx, "uplink_1h", HOUR)[1]["up_s"] == 60.0
    assert (status.parts, status.extra) == (0, 0)


class Version2(InfluxClient):
    """A server that says it is no 1.x: what it says of retention policies is not taken (3.x answers
    placeholders)."""

    def ping(self, **kwargs):  # type: ignore[no-untyped-def]
        return "v2.7.10"


class NoDelete(InfluxClient):
    """A server that answers ``DELETE`` and keeps the rows (InfluxDB 3.x has no ``DELETE``; 2.x deletes from the
    database's default bucket only): stood in for by a client that sends it nowhere."""

    def query(self, q, **kwargs):  # type: ignore[no-untyped-def]
        return [] if q.startswith("DELETE") else super().query(q, **kwargs)


def test_an_extra_row_the_server_keeps_is_not_counted_as_removed(
    influx: InfluxClient, caplog: pytest.LogCaptureFixture
) -> None:
    write(influx, sc.village_d())
    client = NoDelete(influx.url, database=influx.database)
    r = Rollups(client, database=influx.database, source_rp=None, rollup_rp=RP, mode="write")
    r.prepare()
    r.roll(HOUR, HOUR + H)
    tags, _ = _stored(influx, "uplink_1h", HOUR)
    _forge(influx, "uplink_1h", {**tags, "link": "fiber2"}, HOUR, up_s=60.0, observed_s=60.0, samples=1)
    findings = RollupFindings(None, clock=lambda: HOUR / 1000 + 7200)
    r.audit_found.append(findings.record)
    with caplog.at_level(logging.WARNING, logger="server.rollup_rows"):
        r.roll(HOUR, HOUR + H, audit=True)
    assert (r.status.audit.extra, r.status.audit.removed) == (1, 0)
    assert "could not be deleted" in caplog.text
    # the village's evidence does not say it was put right: long windows still read the row
    (fault,) = findings.faults(tags["village"], HOUR, HOUR + H)
    assert "1 of those with no samples could not be deleted" in fault.detail
    assert "put right" not in fault.detail


@pytest.mark.parametrize("mode", ["into", "write"])
def test_every_pass_audits_the_late_window(influx: InfluxClient, mode: str) -> None:
    """A row forged among the last hours is named at the next pass, not hours later, in either mode. In ``into``
    mode the altered row used to be written over with no finding, so one forged again after each pass was
    served between passes and never named."""
    write(influx, sc.village_d())
    now = [(sc.D0 + 2 * DAY_MS + 30 * 60_000) / 1000]
    r = Rollups(
        influx, database=influx.database, source_rp=None, rollup_rp=RP, mode=mode, clock=lambda: now[0]
    )
    r.maintain(max_backfill_days=3)
    recent = sc.D0 + 2 * DAY_MS - 2 * H  # inside the late window, which the walk does not reach
    tags, row = _stored(influx, "uplink_1h", recent)
    _forge(influx, "uplink_1h", {**tags, "link": "fiber2"}, recent, up_s=60.0, observed_s=60.0, samples=1)
    assert row["up_s"] > 0
    _forge(influx, "uplink_1h", tags, recent, up_s=0.0)  # the hour written down
    now[0] += 300
    r.maintain()
    assert (r.status.audit.altered, r.status.audit.extra, r.status.audit.removed) == (1, 1, 1)
    assert _stored(influx, "uplink_1h", recent) == (tags, row)  # one series again, as the samples say


def test_an_audited_roll_reads_a_group_of_villages_at_a_time_and_misses_no_series(
    influx: InfluxClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A group at a time bounds the rows held in memory (bench/rollup_audit.py); the groups must still hold
    every series: each village's, a forged village's own, and one without a village."""
    monkeypatch.setattr(rollups_module, "AUDIT_VILLAGES", 2)
    write(influx, sc.all_points())
    span = (sc.D0 - 2 * H, sc.D0 + 2 * DAY_MS + 2 * H)
    into = Rollups(influx, database=influx.database, source_rp=None, rollup_rp=RP, mode="into")
    into.prepare()
    into.roll(*span)
    inside = rollup_snapshot(influx)
    r = Rollups(influx, database=influx.database, source_rp=None, rollup_rp=RP, mode="write")
    assert (
        len(village_groups(influx, influx.database, "uplink", 2)) == 3
    )  # four villages, two a group; the rest
    r.roll(*span)
    assert rollup_snapshot(influx) == inside  # the same rows as rolled inside InfluxDB, none twice
    assert (r.status.audit.altered, r.status.audit.extra, r.status.audit.missing) == (0, 0, 0)

    first = influx.select(
        f'SELECT * FROM "{influx.database}"."{RP}"."uplink_1h" WHERE time = {HOUR}ms GROUP BY *'
    )
    tags = {k: v for k, v in first.series[0].tags.items() if v}
    _forge(influx, "uplink_1h", tags, HOUR, up_s=0.0)
    _forge(
        influx, "uplink_1h", {**tags, "village": "thon-gia"}, HOUR, up_s=3600.0, observed_s=3600.0, samples=60
    )
    _forge(influx, "uplink_1d", {"link": "fiber"}, DAY, up_s=86400.0, observed_s=86400.0, samples=1440)
    r.roll(*span)
    assert (r.status.audit.altered, r.status.audit.extra, r.status.audit.removed) == (1, 2, 2)
    assert rollup_snapshot(influx) == inside


def test_samples_whose_sum_is_infinite_cost_their_village_its_hour_not_every_village_its_rollups(
    influx: InfluxClient, caplog: pytest.LogCaptureFixture
) -> None:
    """Two samples of 1e308 make a sum InfluxDB cannot write as JSON: its answer to the whole statement is a
    sentence. Rolled inside InfluxDB (``into``) such a row is left out by InfluxDB itself; read back (``write``,
    the compose stack's mode) the statement failed, so every pass failed and no village's rollups moved."""
    write(influx, sc.all_points())
    first = influx.select(
        f'SELECT * FROM "{influx.database}".."uplink" WHERE time >= {HOUR}ms GROUP BY * LIMIT 1'
    )
    tags = {k: v for k, v in first.series[0].tags.items() if v}
    head = ",".join(["uplink", *(f"{k}={v}" for k, v in sorted(tags.items()))])
    influx.write(
        [f"{head} up_s=1e308,observed_s=60.0 {t}" for t in (HOUR + 1000, HOUR + 2000)]
    )  # no gateway's
    r = Rollups(influx, database=influx.database, source_rp=None, rollup_rp=RP, mode="write")
    r.prepare()
    with caplog.at_level(logging.WARNING, logger="server.rollups"):
        r.roll(HOUR, HOUR + 2 * H)
    rolled = influx.select(
        f'SELECT * FROM "{influx.database}"."{RP}"."uplink_1h" WHERE time = {HOUR}ms GROUP BY *'
    )
    villages = {s.tags["village"] for s in rolled.series}
    sent = influx.select(
        f'SELECT count("up_s") FROM "{influx.database}".."uplink" WHERE time >= {HOUR}ms AND time < {HOUR + H}ms '
        'GROUP BY "village"'
    )
    others = {s.tags["village"] for s in sent.series} - {tags["village"]}
    assert len(others) >= 2 and villages == others  # the others rolled, this one's hour left out
    next_hour = influx.select(
        f'SELECT * FROM "{influx.database}"."{RP}"."uplink_1h" WHERE time = {HOUR + H}ms '
        f"AND village = '{tags['village']}'"
    )
    assert next_hour.series  # its next hour rolled: only the part whose sum is infinite is lost
    assert r.status.left_out >= 1 and "a part InfluxDB cannot answer is left out" in caplog.text
    assert tags["village"] in caplog.text
