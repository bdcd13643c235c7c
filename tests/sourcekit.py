"""The kit for source unit tests: a hand-moved clock, a collecting ``emit``/``reject``, a ``SourceContext``.

Fakes go in through the functions ``SourceContext`` takes, never by patching the source. ``collected`` and
``make_ctx`` are fixtures an area's ``conftest.py`` imports to share them.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Sequence
from functools import partial
from pathlib import Path

import paho.mqtt.client as paho
import pytest

from edge.config import gateway_config_model
from edge.sources.base import GatewayFigures, Source, SourceContext
from thonminh.contract import Point

__all__ = ["SITE", "Collected", "FakeClock", "collected", "make_context", "make_ctx", "publish_all"]

SITE = {"village": "kha-ly-thuong", "gateway": "gw1", "latitude": 21.38, "longitude": 106.57}


class FakeClock:
    """Wall and monotonic time that tests move by hand."""

    def __init__(self, wall_ms: int = 1_700_000_000_000, mono: float = 1000.0) -> None:
        self.wall_ms = wall_ms
        self.mono = mono

    def advance(self, seconds: float) -> None:
        self.wall_ms += int(seconds * 1000)
        self.mono += seconds

    def now_ms(self) -> int:
        return self.wall_ms

    def monotonic(self) -> float:
        return self.mono


class Collected:
    """Stands in for the pipeline: ``emit`` keeps the points, ``reject`` the reasons with their samples."""

    def __init__(self) -> None:
        self.points: list[Point] = []
        self.rejected: list[tuple[str, bytes | str | None]] = []

    async def emit(self, points: Sequence[Point]) -> None:
        self.points.extend(points)

    def reject(self, reason: str, sample: bytes | str | None) -> None:
        self.rejected.append((reason, sample))


def make_context(
    state_dir: Path,
    collected: Collected,
    clock: FakeClock | None = None,
    *,
    monotonic: Callable[[], float] | None = None,
    logger: str = "test.sources",
    source: type[Source] = Source,
    key_path: str = "sources.test[0]",
    clock_synced: Callable[[], bool] | None = None,
    stats: GatewayFigures | None = None,
) -> SourceContext:
    """The context the agent would give ``source`` at ``SITE`` and ``key_path``: time from ``clock`` (real time
    without one), ``monotonic`` if given; the clock counts as synchronised unless ``clock_synced`` says."""
    gateway = gateway_config_model().model_validate({"site": SITE})
    return gateway.source_context(
        source,
        key_path,
        emit=collected.emit,
        logger=logging.getLogger(logger),
        state_dir=state_dir,
        now_ms=clock.now_ms if clock else (lambda: int(time.time() * 1000)),
        monotonic=monotonic or (clock.monotonic if clock else time.monotonic),
        reject=collected.reject,
        clock_synced=clock_synced or (lambda: True),
        stats=stats,
    )


@pytest.fixture
def collected() -> Collected:
    return Collected()


@pytest.fixture
def make_ctx(
    request: pytest.FixtureRequest, tmp_path: Path, collected: Collected
) -> Callable[..., SourceContext]:
    """``make_context`` bound to the test's ``tmp_path`` and ``collected``, logging as ``test.<its folder>``."""
    return partial(make_context, tmp_path, collected, logger=f"test.{request.path.parent.name}")


def publish_all(port: int, messages: Iterable[tuple[str, bytes]]) -> int:
    """Publish at QoS 1 as one device on the broker at ``port`` and wait until it has every message (a plain paho
    client in its own thread); how many were sent."""
    client = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id="hostile-device")
    client.connect("127.0.0.1", port)
    client.loop_start()
    try:
        infos = [client.publish(topic, payload, qos=1) for topic, payload in messages]
        for info in infos:
            info.wait_for_publish(60)
    finally:
        client.loop_stop()
        client.disconnect()
    return len(infos)
