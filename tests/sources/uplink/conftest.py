"""Loopback targets and a hand-built SourceContext for the uplink tests."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from edge.config import gateway_config_model
from edge.simulate.targets import DnsTarget, HttpTarget, TcpTarget
from edge.sources.base import SourceContext
from thonminh.contract import Point

FIXTURES = Path(__file__).parent / "fixtures"
SITE = {"village": "kha-ly-thuong", "gateway": "gw1", "latitude": 21.38, "longitude": 106.57}


class FakeClock:
    """Wall and monotonic time that tests move by hand."""

    def __init__(self, wall_ms: int = 1_700_000_000_000) -> None:
        self.wall_ms = wall_ms
        self.mono = 1000.0

    def advance(self, seconds: float) -> None:
        self.wall_ms += int(seconds * 1000)
        self.mono += seconds

    def now_ms(self) -> int:
        return self.wall_ms

    def monotonic(self) -> float:
        return self.mono


class Collected:
    def __init__(self) -> None:
        self.points: list[Point] = []
        self.rejected: list[tuple[str, Any]] = []

    async def emit(self, points: Any) -> None:
        self.points.extend(points)

    def reject(self, reason: str, sample: Any) -> None:
        self.rejected.append((reason, sample))


@pytest.fixture
def collected() -> Collected:
    return Collected()


@pytest.fixture
def make_ctx(tmp_path: Path, collected: Collected) -> Callable[..., SourceContext]:
    def make(clock: FakeClock | None = None, sources: dict[str, Any] | None = None) -> SourceContext:
        gateway = gateway_config_model().model_validate({"site": SITE, "sources": sources or {}})

        return SourceContext(
            gateway=gateway, emit=collected.emit, logger=logging.getLogger("test.uplink"), state_dir=tmp_path,
            now_ms=clock.now_ms if clock else (lambda: int(time.time() * 1000)),
            monotonic=clock.monotonic if clock else time.monotonic, reject=collected.reject)

    return make


@pytest.fixture
def tcp() -> Iterator[TcpTarget]:
    with TcpTarget("127.0.0.1") as target:
        yield target


@pytest.fixture
def http() -> Iterator[HttpTarget]:
    with HttpTarget("127.0.0.1") as target:
        yield target


@pytest.fixture
def dns() -> Iterator[DnsTarget]:
    with DnsTarget("127.0.0.1") as target:
        yield target
