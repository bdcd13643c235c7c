"""A name the encoder refuses, left in InfluxDB by whoever can write there, costs only its own series.

The service writes back what it reads: the rollups (``mode = "write"``, the central stack's, for InfluxDB 2.x
and 3.x), Grafana's copy of the verdicts and of the verification. InfluxDB 1.x stores a tag value with a
backslash as it was written, and the encoder refuses it (it would read back otherwise on 2.x). One such point
stopped each of those writes whole, the rollups of every village with them, pass after pass."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
import srv_scenario as scenario
from fastapi.testclient import TestClient
from influxkit import scratch_database
from srv_helpers import make_config, write
from test_verdict_display import SHORT, _copy

from lab.localservices import InfluxDBServer
from server.app import create_app
from server.verdicts import publish

START, END = scenario.D0, scenario.W_END
#: a fiber sample of a village whose commune is named with a backslash, written straight to InfluxDB, as
#: anyone with its write credential could (``\\`` on the line: InfluxDB 1.x keeps both backslashes)
HOSTILE = f"uplink,commune=c\\\\d,gateway=gw-x,link=fiber,village=x up=1i,up_s=60.0,observed_s=60.0 {START + 60_000}"


def test_a_series_named_with_a_backslash_is_left_out_of_every_write_back_and_counted(
    influxdb: InfluxDBServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with scratch_database(influxdb, "hostile") as db:
        write(db, scenario.all_points())
        db.write(HOSTILE)
        config = make_config(
            db.url,
            db.database or "",
            rollups={"mode": "write"},
            evidence={"registry": str(tmp_path / "keys.sqlite")},
        )
        app = create_app(config, criteria=SHORT, clock=lambda: END / 1000 + 300)
        with TestClient(app) as api, caplog.at_level(logging.WARNING):
            rollups = api.app.state.rollups  # type: ignore[attr-defined]
            rollups.roll(START, END)  # the display copy of the verification is written after it
            publish(api.app.state.service)  # type: ignore[attr-defined]
            health = rollups.describe()
        villages = {
            s.tags["village"] for s in db.select('SELECT * FROM "thonminh_1h"."uplink_1h" GROUP BY *').series
        }
        verified = db.select('SHOW TAG VALUES FROM "verification"."uplink" WITH KEY = "village"').series
        copy = _copy(db)
    assert villages == {"kha-ly-thuong", "ban-ven", "lang-moi", "xa-khac"}
    assert {row[1] for s in verified for row in s.values} >= {"kha-ly-thuong", "ban-ven"}
    assert {v for v, _ in copy} == {"kha-ly-thuong", "ban-ven", "lang-moi", "xa-khac"}
    assert health["refused"] >= 1
    named = [
        r.getMessage() for r in caplog.records if ".commune: tag value 'c" in str(getattr(r, "first", ""))
    ]
    assert named == [
        "rollup rows left out",
        "verification left out of the display copy",  # written after the rollups
        "verdicts left out of the display copy",
    ], [(r.getMessage(), r.__dict__.get("first")) for r in caplog.records]
