"""Helpers for the street-light tests: configs, a source context that collects points, the journal reader."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sourcekit import Collected

from edge.config import GatewayConfig, gateway_config_model
from edge.sources.base import SourceContext
from edge.sources.lights.journal import read_states
from edge.sources.lights.source import LightsSource
from thonminh.contract import Point

TZ = "Asia/Ho_Chi_Minh"
TEST_INVENTORY = """id,device,channel,format,zone,latitude,longitude,rated_w,report_s
t-1,sl-t1,,tasmota,z1,21.38,106.57,60,
t-2,sl-t2,,tasmota,z1,21.38,106.57,60,
e-1,sl-e1,,esphome,z2,21.38,106.57,80,
e-2,sl-e2,,esphome,z2,21.38,106.57,80,
j-1,sl-j1,,json,z3,21.38,106.57,100,
j-2,sl-j2,,json,z3,21.38,106.57,100,
"""


def night_around_now(*, hours: int = 3) -> dict[str, str]:
    """A fixed schedule whose night spans now, whatever the time of day the tests run."""
    now = dt.datetime.now(ZoneInfo(TZ))
    on, off = now - dt.timedelta(hours=hours), now + dt.timedelta(hours=hours)
    return {"mode": "fixed", "on": on.strftime("%H:%M"), "off": off.strftime("%H:%M")}


def gateway_config(
    tmp_path: Path,
    *,
    mqtt_port: int,
    inventory: str = TEST_INVENTORY,
    lights: dict[str, Any] | None = None,
    influx_url: str = "http://127.0.0.1:9",
    database: str = "unused",
    mqtt: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A whole gateway config as data (paths absolute), lights source included."""
    inv = tmp_path / "inventory.csv"
    inv.write_text(inventory)
    source = {
        "inventory": str(inv),
        "interval_s": 1,
        "commit_interval_ms": 20,
        "schedule": night_around_now(),
        "reconnect_initial_s": 0.1,
        "reconnect_max_s": 0.5,
    }
    source.update(lights or {})
    return {
        "state_dir": str(tmp_path / "state"),
        "site": {"village": "kha-ly-thuong", "gateway": "klt-gw1", "latitude": 21.38, "longitude": 106.57},
        "mqtt": {
            "host": "127.0.0.1",
            "port": mqtt_port,
            "client_id": f"gw-{tmp_path.name}"[-60:],
            **(mqtt or {}),
        },
        "influxdb": {"url": influx_url, "database": database, "timeout_s": 5.0},
        "buffer": {"path": str(tmp_path / "buffer.sqlite"), "commit_interval_ms": 20},
        "forwarder": {
            "backoff_initial_s": 0.05,
            "backoff_max_s": 0.5,
            "flush_deadline_s": 3.0,
            "live_interval_s": 0.05,
        },
        "clock": {"check": "always"},
        "sources": {"lights": source, "gateway": {"enabled": False}},
    }


def write_toml(path: Path, data: dict[str, Any]) -> Path:
    """A minimal TOML writer for these configs (tables of scalars, one level of sub-tables)."""

    def scalar(v: Any) -> str:
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, int | float):
            return repr(v)
        return json.dumps(str(v))

    lines = [f"{k} = {scalar(v)}" for k, v in data.items() if not isinstance(v, dict)]

    def table(name: str, values: dict[str, Any]) -> None:
        lines.append(f"\n[{name}]")
        lines.extend(f"{k} = {scalar(v)}" for k, v in values.items() if not isinstance(v, dict))
        for k, v in values.items():
            if isinstance(v, dict):
                table(f"{name}.{k}", v)

    for name, values in data.items():
        if isinstance(values, dict):
            table(name, values)
    path.write_text("\n".join(lines) + "\n")
    return path


def load(data: dict[str, Any]) -> GatewayConfig:
    return gateway_config_model().model_validate(data)


class Collector(Collected):
    """The shared kit's collecting ``emit``/``reject``, with the lights tests' context and last-sample lookup."""

    def context(self, config: GatewayConfig, state_dir: Path) -> SourceContext:
        return config.source_context(
            LightsSource,
            "sources.lights",
            emit=self.emit,
            logger=logging.getLogger("test.lights"),
            state_dir=state_dir,
            now_ms=lambda: time.time_ns() // 1_000_000,
            monotonic=time.monotonic,
            reject=self.reject,
        )

    def latest(self, light: str) -> Point | None:
        found = [p for p in self.points if p.tags.get("light") == light]
        return found[-1] if found else None


async def wait_for(
    condition: Callable[[], bool | Awaitable[bool]], *, timeout: float = 20.0, what: str = "condition"
) -> None:
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if not isinstance(result, bool):
            result = await result
        if result:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


@contextlib.asynccontextmanager
async def running(source: LightsSource, *, connected: bool = True) -> AsyncIterator[LightsSource]:
    """``source`` initialised and running (subscribed to the broker unless ``connected`` is False) inside; stopped
    and closed after, whatever happened."""
    await source.init()
    task = asyncio.create_task(source.run())
    try:
        if connected:
            await wait_for(lambda: source.connected or task.done(), what="the source to subscribe")
            assert not task.done(), task
        yield source
        assert not task.done(), "the source stopped on its own"
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await source.close()


def lights_source(tmp_path: Path, port: int, collector: Collector, **lights: object) -> LightsSource:
    """A lights source on the broker at ``port`` with the test inventory, ``lights`` overriding its config."""
    config = load(gateway_config(tmp_path, mqtt_port=port, lights=dict(lights)))
    ((_, cfg),) = config.source_instances()
    return LightsSource(cfg, collector.context(config, tmp_path / "state"))


def read_journal(path: Path) -> dict[str, dict[str, Any]]:
    """The light journal as another process sees it (read-only; the agent may be running)."""
    return read_states(path)


@pytest.fixture
def collector() -> Collector:
    return Collector()
