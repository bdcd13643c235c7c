"""Keys, config and seeding helpers shared by the criteria service tests."""

from __future__ import annotations

from server.config import ServerConfig
from thonminh.contract import Point
from thonminh.influx import InfluxClient
from thonminh.lineprotocol import encode_lines

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
    for i in range(0, len(points), 20_000):
        client.write(encode_lines(points[i : i + 20_000]))
