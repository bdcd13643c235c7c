"""The agent process SIGKILLed again and again during a stream: every committed point still arrives."""

from __future__ import annotations

import random
import signal
import time
from collections import defaultdict
from pathlib import Path

from edge_helpers import BASE_MS, arrived, count, driver, gateway_toml, wait_until

from thonminh.influx import InfluxClient


def committed(log: Path) -> dict[int, int]:
    """run -> highest n whose emit returned (emits are sequential, so every n up to it is committed)."""
    last: dict[int, int] = defaultdict(lambda: -1)
    for line in log.read_text().splitlines():
        run, n = map(int, line.split())
        last[run] = max(last[run], n)
    return dict(last)


def test_agent_sigkilled_ten_times_loses_nothing_committed(influx: InfluxClient, tmp_path: Path):
    config = gateway_toml(
        tmp_path,
        url=influx.url,
        database=influx.database,
        tables={"forwarder": {"batch_points": 300}, "buffer": {"commit_interval_ms": 10}},
    )
    log = tmp_path / "committed.log"
    log.touch()
    rng = random.Random(20240611)
    kills = 10
    for run in range(kills):
        before = log.stat().st_size
        proc = driver(config, run, 1_000_000, "--log", str(log))
        try:
            wait_until(
                lambda b=before, p=proc: log.stat().st_size > b or p.poll() is not None,
                timeout=60,
                interval=0.01,
                what="the stream to start",
            )
            assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
            time.sleep(rng.uniform(0.02, 0.5))  # a random moment: mid-commit, mid-write, mid-ack
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.wait(10)
    last = committed(log)
    assert len(last) == kills and all(n >= 0 for n in last.values())
    # a last start without a stream forwards what the killed ones left in the buffer
    ready = tmp_path / "ready"
    proc = driver(config, kills, 0, "--log", str(log), "--ready", str(ready))
    try:
        wait_until(ready.exists, timeout=60, what="the last agent to start")
        wait_until(
            lambda: all(count(influx, run) >= last[run] + 1 for run in last),
            timeout=60,
            what="every committed point",
        )
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
    for run, n in last.items():
        got = sorted(r["n"] for r in arrived(influx, run))
        # all committed points arrived; a few emitted after the last logged line may have too, nothing else
        assert got[: n + 1] == list(range(n + 1)), f"run {run}: committed points missing"
        assert got == list(range(len(got))) and len(got) <= n + 1 + 25
        assert all(r["time"] == BASE_MS + r["n"] for r in arrived(influx, run))
