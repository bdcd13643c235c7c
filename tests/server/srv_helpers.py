"""Keys, config, seeding and serving helpers shared by the criteria service tests."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn
from fastapi import FastAPI

from lab.localservices import free_port
from server.config import ServerConfig
from server.rollup_specs import SPECS
from thonminh.contract import Point
from thonminh.influx import InfluxClient
from thonminh.lineprotocol import encode_line

READ_KEY = "read-key-0123456789abcdef"
ADMIN_KEY = "admin-key-0123456789abcdef"
READ = {"X-API-Key": READ_KEY}
ADMIN = {"X-API-Key": ADMIN_KEY}


def make_config(url: str, database: str, **overrides) -> ServerConfig:
    """A config on that database with one read and one admin key, rollups on but no background loop."""
    data = {
        "influxdb": {"url": url, "database": database, "timeout_s": 5},
        "auth": {"read_keys": {"dashboard": READ_KEY}, "admin_keys": {"officer-hoa": ADMIN_KEY}},
        "rollups": {"background": False},
    }
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(data.get(key), dict):
            data[key] = {**data[key], **value}
        else:
            data[key] = value
    return ServerConfig.model_validate(data)


def write(client: InfluxClient, points: list[Point]) -> None:
    client.write(map(encode_line, points))


@contextmanager
def serving(app: FastAPI, **options: Any) -> Iterator[str]:
    """``app`` run by uvicorn as in production, on a free loopback port in a thread: its base URL once it has
    started. ``options`` are more of uvicorn's Config."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", **options))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the criteria service did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def rollup_snapshot(client: InfluxClient) -> dict:
    """Every hourly and daily rollup row stored, by rollup: (series tags, fields), sorted."""
    out = {}
    for name in [n for spec in SPECS.values() for n in (spec.name, spec.daily)]:
        result = client.select(f'SELECT * FROM "{client.database}"."thonminh_1h"."{name}" GROUP BY *')
        out[name] = sorted(
            (tuple(sorted(s.tags.items())), tuple(sorted((k, v) for k, v in row.items() if v is not None)))
            for s in result.series
            for row in s.rows()
        )
    return out
