"""``thonminh demo --once``: a report with every default criterion and the URLs, exit 0, nothing left running."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

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


def test_demo_once_reports_and_leaves_nothing_running(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("THONMINH_DEMO_")}
    proc = subprocess.run(
        [sys.executable, "-m", "thonminh.cli", "demo", "--once", "--duration", "22", "--workdir", str(tmp_path)],
        capture_output=True, text=True, timeout=240, env=env, cwd=ROOT)
    out = proc.stdout
    assert proc.returncode == 0, out[-3000:] + proc.stderr[-3000:]

    for criterion in CRITERIA:
        row = re.search(rf"^  {criterion['id']} +(PASS|FAIL|INSUFFICIENT_DATA) ", out, re.MULTILINE)
        assert row, f"{criterion['id']} missing from the report:\n{out}"
    assert re.search(r"^  eid_adoption +PASS +31\.5 %", out, re.MULTILINE), out  # entered through the API
    assert re.search(r"^  fiber outages +scheduled \d\d:\d\d:\d\d–", out, re.MULTILINE), out
    assert "measured" in out and "klt-007 lamp_failure" in out and "Wi-Fi users" in out
    port = re.search(r"docs \(OpenAPI\) +http://127\.0\.0\.1:(\d+)/api/v1/docs", out)
    assert port, out
    key = re.search(r"read key +(\S+) +\(send it as the X-API-Key header\)", out)
    assert key and f"X-API-Key: {key.group(1)}" in out
    assert f"http://127.0.0.1:{port.group(1)}/api/v1/villages/kha-ly-thuong/criteria" in out

    started = re.search(r"^processes \(each its own process group\): (.+)$", out, re.MULTILINE)
    assert started, out
    pids = {int(pid) for pid in re.findall(r"\b(\d+)\b", started.group(1))}
    assert len(pids) == 5  # influxd, mosquitto, simulator, gateway, server
    assert _alive(pids) == []
    assert f"stopped: {started.group(1)}" in out
    assert (tmp_path / "village" / "ground_truth.json").exists()
