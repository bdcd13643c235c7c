"""A real InfluxDB database seeded once with four villages of contract data (see dash_seed.py)."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from dash_seed import VILLAGES, Seeded, seed
from influxkit import scratch_database

from lab.localservices import InfluxDBServer


@pytest.fixture(scope="session")
def seeded(influxdb: InfluxDBServer) -> Iterator[Seeded]:
    with scratch_database(influxdb, "dash", timeout=60) as client:
        now_ms = int(time.time() * 1000)
        seed(client, VILLAGES, now_ms)
        yield Seeded(client, now_ms)
