"""``thonminh demo`` on a port another process holds: "port N is in use", never another server's answers taken
for its own (which showed as a 401 from ``thonminh keys add``)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from lab.demo import DEMO_SCENARIO, run_demo
from lab.demoprocs import DemoError

from .conftest import ROOT


def test_a_port_in_use_is_named_before_anything_starts(tmp_path: Path) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        env = {k: v for k, v in os.environ.items() if not k.startswith("THONMINH_DEMO_")}
        done = subprocess.run(
            [sys.executable, "-m", "thonminh.cli", "demo", "--once", "--port", str(port)]
            + ["--duration", "5", "--workdir", str(tmp_path)],
            capture_output=True,
            text=True,
            env=env,
            cwd=ROOT,
            timeout=120,
        )
    assert done.returncode != 0
    assert f"port {port} is in use" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr
    assert "started InfluxDB" not in done.stdout and "criteria service up" not in done.stdout, done.stdout


class _Health(BaseHTTPRequestHandler):
    """Another service on the port: it answers /health as the criteria service does for a stranger."""

    def do_GET(self) -> None:
        body = json.dumps({"status": "ok", "version": "0"}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def signals_kept() -> Iterator[None]:
    """run_demo ignores SIGINT and SIGTERM while it cleans up: this test's process gets them back."""
    kept = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    yield
    for sig, handler in kept.items():
        signal.signal(sig, handler)


def test_a_port_taken_while_the_server_starts_is_named_not_its_answers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, signals_kept: None
) -> None:
    """The port is free when checked, then another service takes it before the demo's server binds it."""
    for name in ("THONMINH_DEMO_INFLUX_URL", "THONMINH_DEMO_MQTT_HOST", "THONMINH_DEMO_MQTT_PORT"):
        monkeypatch.delenv(name, raising=False)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    servers: list[ThreadingHTTPServer] = []
    printed: list[str] = []

    def echo(line: str) -> None:
        printed.append(line)
        if line.startswith("processes (each its own process group)"):  # the server has just been started
            other = ThreadingHTTPServer(("127.0.0.1", port), _Health)
            threading.Thread(target=other.serve_forever, daemon=True).start()
            servers.append(other)

    try:
        with pytest.raises(DemoError) as info:
            run_demo(duration_s=5, once=True, scenario=DEMO_SCENARIO, work=tmp_path, api_port=port, echo=echo)
    finally:
        for other in servers:
            other.shutdown()
            other.server_close()
    assert servers, printed
    assert f"port {port} is in use" in str(info.value), str(info.value)
    assert "the criteria service could not listen on it" in str(info.value)
    assert not any(line.startswith("criteria service up") for line in printed), printed
