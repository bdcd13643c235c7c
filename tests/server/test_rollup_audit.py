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

from server.app import create_app
from server.plan import DAY_MS, floor_day
from server.queries import Source
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


def test_a_day_without_samples_keeps_its_rollups(influx: InfluxClient) -> None:
    """Samples may outlive their retention policy sooner than rollups: no samples at all is no forgery."""
    tags = {"village": "xa-khac", "link": "fiber"}
    influx.query(f'CREATE RETENTION POLICY "{RP}" ON "{influx.database}" DURATION INF REPLICATION 1')
    _forge(influx, "uplink_1h", tags, HOUR, up_s=60.0, observed_s=60.0, samples=1)
    status = AuditStatus()
    audit(influx, Source(influx.database, RP, "uplink_1h"), [], HOUR, HOUR + H, ("up_s",), status)
    assert _stored(influx, "uplink_1h", HOUR)[1]["up_s"] == 60.0
    assert (status.parts, status.extra) == (0, 0)


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
    with caplog.at_level(logging.WARNING, logger="server.rollup_rows"):
        r.roll(HOUR, HOUR + H, audit=True)
    assert (r.status.audit.extra, r.status.audit.removed) == (1, 0)
    assert "could not be deleted" in caplog.text


def test_in_write_mode_every_pass_is_audited(influx: InfluxClient) -> None:
    """The compose stack's mode: a row forged among the last hours is gone at the next pass, not hours later."""
    write(influx, sc.village_d())
    now = [(sc.D0 + 2 * DAY_MS + 30 * 60_000) / 1000]
    r = Rollups(
        influx, database=influx.database, source_rp=None, rollup_rp=RP, mode="write", clock=lambda: now[0]
    )
    r.maintain(max_backfill_days=3)
    recent = sc.D0 + 2 * DAY_MS - 2 * H  # inside the late window, which the walk does not reach
    tags, _ = _stored(influx, "uplink_1h", recent)
    _forge(influx, "uplink_1h", {**tags, "link": "fiber2"}, recent, up_s=60.0, observed_s=60.0, samples=1)
    now[0] += 300
    r.maintain()
    assert (r.status.audit.extra, r.status.audit.removed) == (1, 1)
    _stored(influx, "uplink_1h", recent)  # one series again
