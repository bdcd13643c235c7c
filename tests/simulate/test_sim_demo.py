"""``thonminh demo --once``: a report with every default criterion and the URLs, exit 0, nothing left running."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import yaml

from .conftest import ROOT

CRITERIA = yaml.safe_load((ROOT / "thonminh" / "criteria.yaml").read_text())["criteria"]


def _alive(pids: set[int]) -> list[str]:
    """Processes that still run with one of ``pids`` as their pid or process group (from /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # pid (comm) state ppid pgrp ...: comm may hold spaces, so split after its closing parenthesis
        fields = stat[stat.rindex(")") + 2:].split()
        state, pgrp = fields[0], int(fields[2])
        if state != "Z" and (int(entry.name) in pids or pgrp in pids):
            found.append(stat[:120])
    return found


def _report_until_running(proc: subprocess.Popen[str], timeout_s: float) -> str:
    """What the demo printed up to "Everything keeps running" (the report is above it)."""
    lines: list[str] = []
    deadline = time.monotonic() + timeout_s
    assert proc.stdout is not None
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line)
        if line.startswith("Everything keeps running"):
            return "".join(lines)
    proc.kill()
    raise AssertionError("the demo printed no report:\n" + "".join(lines)[-3000:])


def test_demo_reports_verdicts_its_printed_api_call_gives_and_stops_everything(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("THONMINH_DEMO_")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "thonminh.cli", "demo", "--duration", "22", "--workdir", str(tmp_path)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, cwd=ROOT)
    try:
        out = _report_until_running(proc, 240)
        printed = {}
        for criterion in CRITERIA:
            row = re.search(rf"^  {criterion['id']} +(PASS|FAIL|INSUFFICIENT_DATA) ", out, re.MULTILINE)
            assert row, f"{criterion['id']} missing from the report:\n{out}"
            printed[criterion["id"]] = row.group(1).lower()
        assert re.search(r"^  eid_adoption +PASS +31\.5 %", out, re.MULTILINE), out  # entered through the API
        assert re.search(r"^  fiber outages +scheduled \d\d:\d\d:\d\d–", out, re.MULTILINE), out
        assert "measured" in out and "klt-007 lamp_failure" in out and "Wi-Fi users" in out
        assert re.search(r"admin key +\S+", out), out

        # the command the report prints gives the verdicts the report printed
        call = re.search(r"these verdicts +curl -H 'X-API-Key: (\S+)' '(\S+)'", out)
        assert call, out
        assert "/api/v1/villages/kha-ly-thuong/criteria?start=" in call.group(2)
        answer = httpx.get(call.group(2), headers={"X-API-Key": call.group(1)}, timeout=30)
        assert answer.status_code == 200, answer.text
        assert {c["id"]: c["verdict"] for c in answer.json()["criteria"]} == printed

        started = re.search(r"^processes \(each its own process group\): (.+)$", out, re.MULTILINE)
        assert started, out
        pids = {int(pid) for pid in re.findall(r"\b(\d+)\b", started.group(1))}
        assert len(pids) == 5  # influxd, mosquitto, simulator, gateway, server
    finally:
        proc.send_signal(signal.SIGINT)  # Ctrl-C
        rest, _ = proc.communicate(timeout=120)
    assert f"stopped: {started.group(1)}" in rest
    assert _alive(pids) == []
    assert (tmp_path / "village" / "ground_truth.json").exists()
