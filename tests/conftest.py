"""Real services for the tests: InfluxDB 1.x and Mosquitto, each on a free port in a temporary directory.

``influxdb`` / ``mosquitto`` are shared per session (fast); each test gets its own database from ``influx``.
``influxdb_server`` / ``mosquitto_server`` are private to one test: stop, kill and restart them freely.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from influxkit import scratch_database

from lab.localservices import InfluxDBServer, MosquittoServer
from thonminh.influx import InfluxClient

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def influxdb(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InfluxDBServer]:
    server = InfluxDBServer(tmp_path_factory.mktemp("influxdb"))
    server.start()
    yield server
    server.stop()


@pytest.fixture
def influxdb_server(tmp_path: Path) -> Iterator[InfluxDBServer]:
    """A private InfluxDB for fault-injection tests."""
    server = InfluxDBServer(tmp_path / "influxdb")
    server.start()
    yield server
    server.kill()


@pytest.fixture
def influx(influxdb: InfluxDBServer) -> Iterator[InfluxClient]:
    """A client bound to a fresh database on the shared InfluxDB, dropped after the test."""
    with scratch_database(influxdb, "t") as client:
        yield client


@pytest.fixture(scope="session")
def mosquitto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MosquittoServer]:
    server = MosquittoServer(tmp_path_factory.mktemp("mosquitto"))
    server.start()
    yield server
    server.stop()


@pytest.fixture
def mosquitto_server(tmp_path: Path) -> Iterator[MosquittoServer]:
    """A private Mosquitto for fault-injection tests."""
    server = MosquittoServer(tmp_path / "mosquitto")
    server.start()
    yield server
    server.kill()
