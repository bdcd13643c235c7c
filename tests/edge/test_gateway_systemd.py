"""The ``gateway`` self-metrics source, and systemd notification from a real ``thonminh edge run``."""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from edge_helpers import gateway_toml

from edge.buffer import Buffer, NewRow
from edge.clock import Clock
from edge.config import load_gateway_config
from edge.rejects import REASON_COUNTERS
from edge.sources.gateway.source import GatewaySource, cpu_temperature, parse_millidegrees
from edge.stats import Stats
from edge.systemd import Notifier, watchdog_interval
from thonminh import __version__
from thonminh.contract import GATEWAY, Point
from thonminh.influx import InfluxClient
from thonminh.lineprotocol import encode_line

FIXTURES = Path(__file__).with_name("fixtures")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("44388\n", 44.388),
        ("-5000", -5.0),
        ("", None),
        ("-273150", None),
        ("2147483647", None),
        ("abc", None),
    ],
)
def test_millidegrees(text: str, expected: float | None):
    assert parse_millidegrees(text) == expected


def test_cpu_temperature_prefers_the_soc_zone(tmp_path: Path):
    assert cpu_temperature(FIXTURES / "thermal_pi") == 44.388
    assert cpu_temperature(tmp_path) is None  # a board without sensors
    for i, (kind, temp) in enumerate([("acpitz", "27800"), ("x86_pkg_temp", "51000")]):
        zone = tmp_path / f"thermal_zone{i}"
        zone.mkdir()
        (zone / "type").write_text(kind + "\n")
        (zone / "temp").write_text(temp + "\n")
    assert cpu_temperature(tmp_path) == 51.0


async def test_gateway_point_carries_the_pipeline_figures(tmp_path: Path):
    config = load_gateway_config(gateway_toml(tmp_path, url="http://127.0.0.1:9", database="x"))
    now = {"wall": 1_800_000_000.0, "mono": 100.0}
    clock = Clock(check=lambda: True, wall=lambda: now["wall"], mono=lambda: now["mono"], boot_id="b")
    clock.observe()
    with Buffer(tmp_path / "b.sqlite", max_bytes=1024 * 1024, row_points=1) as buffer:
        buffer.put([NewRow("m n=1i", 1_799_999_990_000), NewRow("m n=2i", 1_799_999_995_000)])
        buffer.ack(buffer.take(1, 10_000))
        stats = Stats(buffer, clock)
        stats.reject("lights:mqtt", "bad", "x")
        now["mono"] += 42.5
        emitted: list[Point] = []

        async def emit(points):  # the injected emit of a unit test
            emitted.extend(points)

        ctx = config.source_context(
            GatewaySource,
            "sources.gateway",
            emit=emit,
            logger=logging.getLogger("test"),
            state_dir=tmp_path,
            now_ms=clock.now_ms,
            monotonic=clock.monotonic,
            stats=lambda: stats.snapshot().fields(),
        )
        source = GatewaySource(GatewaySource.Config(thermal_dir=FIXTURES / "thermal_pi"), ctx)
        (point,) = await source.sample()
    assert point.measurement == GATEWAY.name and point.tags == {"village": "v1", "gateway": "g1"}
    assert point.fields == {
        "uptime_s": 42.5,
        "buffer_points": 1,
        "buffer_bytes": len("m n=2i 1799999995000") + 28,
        "forwarded_total": 1,
        "dropped_total": 0,
        "rejected_total": 1,
        "lag_s": 5.0,
        "clock_synced": 1,
        "cpu_temp_c": 44.388,
        "version": __version__,
        "dead_letter_total": 0,
        "rejected_other": 1,
        **dict.fromkeys(REASON_COUNTERS, 0),
    }
    encode_line(point)  # valid against the contract


def test_watchdog_interval_from_the_environment():
    assert watchdog_interval({}) is None
    assert watchdog_interval({"WATCHDOG_USEC": "30000000"}) == 15.0
    assert watchdog_interval({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "1"}) is None
    assert watchdog_interval({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": str(os.getpid())}) == 15.0
    assert Notifier({}).ready() is False  # not under systemd: a no-op


def test_abstract_socket_address():
    name = f"thonminh-test-{os.getpid()}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind("\0" + name)
        assert Notifier({"NOTIFY_SOCKET": "@" + name}).notify(STATUS="hello")
        assert sock.recv(100) == b"STATUS=hello"


def test_edge_run_notifies_systemd_ready_watchdog_stopping(influx: InfluxClient, tmp_path: Path):
    config = gateway_toml(tmp_path, url=influx.url, database=influx.database)
    path = str(tmp_path / "notify.sock")
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(path)
        sock.settimeout(60)
        env = {**os.environ, "NOTIFY_SOCKET": path, "WATCHDOG_USEC": "200000"}
        env.pop("WATCHDOG_PID", None)
        proc = subprocess.Popen(
            [sys.executable, "-m", "thonminh.cli", "edge", "run", "--config", str(config)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        try:
            messages = [sock.recv(1000).decode()]
            assert messages[0].startswith("READY=1\nSTATUS=")
            start = time.monotonic()
            while messages.count("WATCHDOG=1") < 3:
                messages.append(sock.recv(1000).decode())
            assert time.monotonic() - start < 5
        finally:
            proc.send_signal(signal.SIGTERM)
        while (message := sock.recv(1000).decode()) != "STOPPING=1":
            assert message == "WATCHDOG=1"
        assert proc.wait(30) == 0, proc.stderr.read().decode() if proc.stderr else ""
    assert set(messages[1:]) == {"WATCHDOG=1"}
