"""Helpers for the pipeline tests: a config writer, a fake clock, a counter source with a known sequence, the
agent streaming it in a process of its own, and text that does not compress.

The counter source is a real ``PushSource`` run by the real agent (through ``extra_sources``); it stamps
``time = BASE_MS + n`` per run so every point is one series + timestamp that can be checked in InfluxDB.
"""

from __future__ import annotations

import asyncio
import base64
import os
import random
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from pydantic import Field

from edge.clock import Clock
from edge.sources.base import PushSource, SourceConfig
from thonminh.influx import InfluxClient

ROOT = Path(__file__).resolve().parents[2]
BASE_MS = 1_700_000_000_000
MEASUREMENT = "pipetest"  # not a contract measurement: the pipeline carries any valid line


def noise(seed: int, chars: int) -> str:
    """``chars`` characters that zlib barely shrinks (the buffer stores rows compressed), the same for a seed:
    a disk budget filled with them fills at the rate of the points' text, as a test of the budget means."""
    return base64.b64encode(random.Random(seed).randbytes(chars)).decode()[:chars]


def gateway_toml(
    directory: Path,
    *,
    url: str,
    database: str,
    api: str = "v1",
    tables: dict[str, dict[str, object]] | None = None,
    gateway_source: bool = False,
    gateway_interval_s: float = 0.5,
) -> Path:
    """Write a gateway.toml for a test; ``tables`` add or override keys of ``buffer``, ``forwarder``, ..."""
    base: dict[str, dict[str, object]] = {
        "site": {"village": "v1", "gateway": "g1", "latitude": 21.0, "longitude": 106.0},
        "influxdb": {"api": api, "url": url, "database": database, "timeout_s": 5.0},
        "buffer": {"path": "buffer.sqlite", "commit_interval_ms": 20},
        "forwarder": {
            "batch_points": 1000,
            "backoff_initial_s": 0.05,
            "backoff_max_s": 0.5,
            "flush_deadline_s": 3.0,
            "live_interval_s": 0.05,
        },
        "clock": {"check": "always"},
    }
    if api == "v2":
        base["influxdb"].update({"org": "thonminh", "bucket": f"{database}/autogen", "token": "test:test"})
    for name, values in (tables or {}).items():
        base.setdefault(name, {}).update(values)
    lines = ['state_dir = "state"', f"gateway_interval_s = {gateway_interval_s!r}", ""]
    for name, values in base.items():
        lines.append(f"[{name}]")
        lines += [f"{k} = {_toml(v)}" for k, v in values.items()]
        lines.append("")
    if not gateway_source:
        lines += ["[sources.gateway]", "enabled = false", ""]
    path = directory / "gateway.toml"
    path.write_text("\n".join(lines))
    return path


def _toml(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


class FakeClock:
    """Wall time = real time + ``offset_s``; synchronised while ``synced``; real monotonic time."""

    def __init__(self, *, offset_s: float = 0.0, synced: bool = True, boot_id: str = "boot-a") -> None:
        self.offset_s = offset_s
        self.synced = synced
        self.boot_id = boot_id

    def wall(self) -> float:
        return time.time() + self.offset_s

    def clock(self, **kwargs: object) -> Clock:
        return Clock(
            check=lambda: self.synced, wall=self.wall, mono=time.monotonic, boot_id=self.boot_id, **kwargs
        )  # type: ignore[arg-type]


class CounterConfig(SourceConfig):
    run: int = 0
    total: int = Field(1000, ge=0, description="points to emit, then idle")
    per_emit: int = 10
    pause_s: float = 0.0
    #: Appends "run last_n" after every emit that returned (SIGKILL-safe: one write(2) per line).
    committed_log: Path | None = None
    #: Stamp with ctx.now_ms() instead of BASE_MS + n (clock tests).
    stamp_now: bool = False
    #: Give each point a field ``s`` of this many characters of ``noise`` (disk budget tests).
    noise_chars: int = 0


class CounterSource(PushSource):
    """Emits n = 0..total-1 as ``pipetest,run=<run> n=<n>i``, ``per_emit`` points per emit."""

    kind = "counter"
    Config = CounterConfig
    config: CounterConfig

    emitted: int = 0
    done: asyncio.Event | None = None

    async def run(self) -> None:
        cfg = self.config
        self.done = asyncio.Event()
        fd = os.open(cfg.committed_log, os.O_WRONLY | os.O_APPEND | os.O_CREAT) if cfg.committed_log else None
        try:
            n = self.emitted
            while n < cfg.total:
                points = [
                    self.ctx.point(
                        MEASUREMENT,
                        {"run": str(cfg.run)},
                        {"n": i, **({"s": noise(i, cfg.noise_chars)} if cfg.noise_chars else {})},
                        None if cfg.stamp_now else BASE_MS + i,
                    )
                    for i in range(n, min(n + cfg.per_emit, cfg.total))
                ]
                await self.ctx.emit(points)
                n += len(points)
                self.emitted = n
                if fd is not None:
                    os.write(fd, f"{cfg.run} {n - 1}\n".encode())
                if cfg.pause_s:
                    await asyncio.sleep(cfg.pause_s)
            self.done.set()
            await asyncio.Event().wait()
        finally:
            if fd is not None:
                os.close(fd)


def arrived(client: InfluxClient, run: int | None = None) -> list[dict[str, object]]:
    """Every arrived point (time, n, run, and clock_unsynced where set)."""
    where = f" WHERE \"run\" = '{run}'" if run is not None else ""
    return client.select(f"SELECT * FROM {MEASUREMENT}{where}").rows()


def count(client: InfluxClient, run: int | None = None) -> int:
    where = f" WHERE \"run\" = '{run}'" if run is not None else ""
    rows = client.select(f"SELECT count(n) FROM {MEASUREMENT}{where}").rows()
    return int(rows[0]["count"]) if rows else 0


def driver(config: Path, run: int, total: int, *extra: str) -> subprocess.Popen[bytes]:
    """The agent streaming run ``run``'s counter, 25 points an emit, in a process of its own (edge_driver.py), so
    a test can SIGKILL it mid-stream; ``extra`` are more of the driver's options."""
    return subprocess.Popen(
        [
            sys.executable,
            str(Path(__file__).with_name("edge_driver.py")),
            str(config),
            "--run",
            str(run),
            "--total",
            str(total),
            "--per-emit",
            "25",
            *extra,
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def wait_until(
    predicate: Callable[[], object], timeout: float = 30.0, interval: float = 0.05, what: str = "condition"
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


async def async_wait_until(
    predicate: Callable[[], object], timeout: float = 30.0, interval: float = 0.05, what: str = "condition"
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await asyncio.to_thread(predicate):
            return
        await asyncio.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


@dataclass
class Running:
    """An in-process agent task with its stop event."""

    task: asyncio.Task[None]
    stop: asyncio.Event

    async def finish(self, timeout: float = 30.0) -> None:
        self.stop.set()
        await asyncio.wait_for(self.task, timeout)
