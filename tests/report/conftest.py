"""Fixtures of the dossier tests: a database holding a whole past month, rolled up, and an app on it."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import rep_scenario as sc
from fastapi.testclient import TestClient
from influxkit import scratch_database

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "server"))
from srv_helpers import make_config, write

from lab.localservices import InfluxDBServer
from server.app import create_app
from thonminh.influx import InfluxClient


@pytest.fixture(scope="session")
def month() -> sc.MonthScenario:
    return sc.MonthScenario(*sc.last_month())


@pytest.fixture(scope="module")
def seeded(influxdb: InfluxDBServer, month: sc.MonthScenario) -> Iterator[InfluxClient]:
    with scratch_database(influxdb, "rep", timeout=60) as client:
        write(client, month.points())
        yield client


def report_config(client: InfluxClient):
    # son-dong has no name: the cover shows its slug
    return make_config(
        client.url,
        client.database,
        villages={"kha-ly-thuong": {"name": sc.NAME_A}},
        communes={"an-lac": {"name": sc.COMMUNE}},
        provinces={"bac-giang": {"name": sc.PROVINCE}},
    )


@pytest.fixture(scope="module")
def api(seeded: InfluxClient, month: sc.MonthScenario) -> Iterator[TestClient]:
    """The app on the seeded month, its rollups caught up over the month as the background loop would."""
    app = create_app(report_config(seeded))
    with TestClient(app) as client:
        rollups = app.state.rollups
        rollups.roll(month.start_ms - sc.DAY, month.end_ms + sc.DAY)
        rollups.mark(month.start_ms - sc.DAY, month.end_ms + sc.DAY)
        yield client
