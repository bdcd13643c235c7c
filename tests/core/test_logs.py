"""Log lines carry their time zone, and a service writing to a file or the journal writes no colour codes."""

from __future__ import annotations

import io
import json
import logging
import os
import re
import subprocess
import sys
import time
from pathlib import Path

from lab.localservices import free_port
from thonminh.logs import setup_logging


def _line(fmt: str) -> str:
    stream = io.StringIO()
    setup_logging("info", fmt=fmt, stream=stream)
    logging.getLogger("edge.test").info("uplink down", extra={"link": "fiber"})
    return stream.getvalue().strip()


def test_every_log_line_says_its_time_zone(monkeypatch):
    monkeypatch.setenv("TZ", "Asia/Ho_Chi_Minh")
    time.tzset()
    try:
        assert re.match(r"ts=\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+07:00 level=info ", _line("kv"))
        assert json.loads(_line("json"))["ts"].endswith("+07:00")
    finally:
        monkeypatch.delenv("TZ")
        time.tzset()


def test_the_criteria_service_writes_no_colour_codes(tmp_path: Path):
    config = tmp_path / "server.toml"
    config.write_text('[influxdb]\nurl = "http://127.0.0.1:9"\n[auth.read_keys]\nme = "0123456789abcdef0"\n')
    env = {**os.environ, "FORCE_COLOR": "1", "TERM": "xterm-256color"}
    command = [sys.executable, "-m", "thonminh.cli", "server", "--config", str(config)]
    command += ["--port", str(free_port())]
    log = tmp_path / "server.log"
    with log.open("wb") as sink:
        proc = subprocess.Popen(command, stdout=sink, stderr=subprocess.STDOUT, env=env)
    try:  # until uvicorn has logged too: a loaded machine takes longer than an idle one to get there
        deadline = time.monotonic() + 60
        while b"Waiting for application startup" not in log.read_bytes() and time.monotonic() < deadline:
            time.sleep(0.2)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    out = log.read_bytes()
    assert b"starting" in out, out
    assert b"\x1b[" not in out, out
