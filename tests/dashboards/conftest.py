"""A real InfluxDB database seeded once with four villages of contract data (see dash_seed.py)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import pytest
from dash_seed import VILLAGES, Seeded, seed

from lab.localservices import InfluxDBServer
from thonminh.influx import InfluxClient


@pytest.fixture(scope="session")
def seeded(influxdb: InfluxDBServer) -> Iterator[Seeded]:
    database = f"dash_{uuid.uuid4().hex[:10]}"
    client = InfluxClient(influxdb.url, database=database, timeout=60)
    client.create_database(database)
    now_ms = int(time.time() * 1000)
    seed(client, VILLAGES, now_ms)
    yield Seeded(client, now_ms)
    try:
        client.drop_database(database)
    finally:
        client.close()
