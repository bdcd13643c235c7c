"""Fixtures of the criteria service tests: a seeded database per module and apps bound to it."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import srv_scenario as scenario
from fastapi.testclient import TestClient
from influxkit import scratch_database
from srv_helpers import make_config, write

from lab.localservices import InfluxDBServer
from server.app import create_app
from thonminh.influx import InfluxClient


@pytest.fixture(scope="module")
def seeded(influxdb: InfluxDBServer) -> Iterator[InfluxClient]:
    """A database holding the whole scenario, shared by the tests of one module (they only read it)."""
    with scratch_database(influxdb, "srv") as client:
        write(client, scenario.all_points())
        yield client


AppFactory = Callable[..., TestClient]


@pytest.fixture
def app_for(tmp_path: Path) -> Iterator[AppFactory]:
    """``app_for(client, clock=..., **config overrides)``: a started TestClient on that client's database."""
    started: list[TestClient] = []

    def build(
        client: InfluxClient,
        *,
        open_read_only: bool = False,
        clock: Callable[[], float] = time.time,
        **overrides,
    ) -> TestClient:
        config = make_config(client.url, client.database, **overrides)
        test_client = TestClient(create_app(config, open_read_only=open_read_only, clock=clock))
        test_client.__enter__()
        started.append(test_client)
        return test_client

    yield build
    for test_client in started:
        test_client.__exit__(None, None, None)


@pytest.fixture
def api(seeded: InfluxClient, app_for: AppFactory) -> TestClient:
    return app_for(seeded)
