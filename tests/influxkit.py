"""A database of its own on a test InfluxDB, for the fixtures of every test folder (tests/conftest.py's
``influx``, the seeded databases of the server, report, page and dashboard tests)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from lab.localservices import InfluxDBServer
from thonminh.influx import InfluxClient


@contextmanager
def scratch_database(server: InfluxDBServer, prefix: str, **options: Any) -> Iterator[InfluxClient]:
    """A client on a fresh database named ``prefix_<random>``, dropped at the end; ``options`` go to the client."""
    database = f"{prefix}_{uuid.uuid4().hex[:12]}"
    client = InfluxClient(server.url, database=database, **options)
    client.create_database(database)
    try:
        yield client
    finally:
        try:
            client.drop_database(database)
        finally:
            client.close()
