"""In the real agent, each link keeps its own drift-free cadence: a dead target on one never delays the other.

The agent's writer is replaced by one that keeps the lines (an injected function; InfluxDB itself is
exercised by test_outage_e2e.py).
"""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

from edge.agent import Agent
from edge.config import gateway_config_model
from lab.simulate.targets import DnsTarget, TcpTarget

FIBER_INTERVAL, LTE_INTERVAL = 1.0, 0.25
TOLERANCE_MS = 80  # scheduling jitter on a loaded two-core machine
#: Cycles of each link that reach the writer before the agent is stopped: four seconds of both links.
WANTED = {"fiber": 4, "4g": 16}


class KeepLines:
    def __init__(self) -> None:
        self.lines: list[str] = []
        self._lock = threading.Lock()

    def write(self, lines: str | bytes, *, timeout: float | None = None) -> None:
        text = lines.decode() if isinstance(lines, bytes) else lines
        with self._lock:
            self.lines += text.splitlines()

    def close(self) -> None:
        return None

    def snapshot(self) -> list[str]:
        with self._lock:
            return list(self.lines)


def stamps(lines: list[str], link: str) -> list[int]:
    return sorted(
        int(line.rsplit(" ", 1)[1])
        for line in lines
        if line.startswith("uplink,") and f",link={link}," in line + ","
    )


async def forwarded(writer: KeepLines, run: asyncio.Task[None], timeout: float = 60.0) -> None:
    """Until the writer has the wanted cycles of every link (however slowly a loaded machine forwards them)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        lines = writer.snapshot()
        counts = {link: len(stamps(lines, link)) for link in WANTED}
        if all(counts[link] >= n for link, n in WANTED.items()):
            return
        if run.done():
            run.result()  # raises what stopped the agent
            raise AssertionError(f"the agent stopped with {counts} cycles written")
        assert loop.time() < deadline, f"only {counts} cycles written in {timeout} s"
        await asyncio.sleep(0.05)


async def test_a_slow_link_never_delays_the_other_and_nothing_drifts(tmp_path: Path):
    with TcpTarget("127.0.0.1") as tcp, DnsTarget("127.0.0.1") as dead:
        dead.down("blackhole")  # every fiber cycle waits the full timeout for it
        config = gateway_config_model().model_validate(
            {
                "site": {
                    "village": "kha-ly-thuong",
                    "gateway": "gw1",
                    "latitude": 21.38,
                    "longitude": 106.57,
                },
                "buffer": {"path": str(tmp_path / "buffer.sqlite"), "commit_interval_ms": 20},
                "forwarder": {"backoff_initial_s": 0.05, "flush_deadline_s": 5.0, "live_interval_s": 0.05},
                "clock": {"check": "always"},
                "state_dir": str(tmp_path / "state"),
                "sources": {
                    "gateway": {"enabled": False},
                    "uplink": [
                        {
                            "link": "fiber",
                            "interface": "lo",
                            "interval_s": FIBER_INTERVAL,
                            "timeout_s": 0.9,
                            "targets": [
                                {"kind": "dns", "host": "127.0.0.1", "port": dead.port},
                                {"kind": "tcp", "host": "127.0.0.1", "port": tcp.port},
                            ],
                        },
                        {
                            "link": "4g",
                            "interface": "lo",
                            "interval_s": LTE_INTERVAL,
                            "timeout_s": 0.2,
                            "targets": [{"kind": "tcp", "host": "127.0.0.1", "port": tcp.port}],
                        },
                    ],
                },
            }
        )
        writer = KeepLines()
        agent = Agent(config, writer=writer)
        stop = asyncio.Event()
        run = asyncio.create_task(agent.run(stop))
        await asyncio.wait_for(agent.started.wait(), 30)
        await forwarded(writer, run)
        stop.set()
        await asyncio.wait_for(run, 30)
    for link, interval in (("fiber", FIBER_INTERVAL), ("4g", LTE_INTERVAL)):
        times = stamps(writer.lines, link)
        assert len(times) >= WANTED[link], (link, len(times))
        # cycle k starts at start + k * interval: no accumulated drift, whatever the other link does
        offsets = [t - times[0] - round((t - times[0]) / (interval * 1000)) * interval * 1000 for t in times]
        assert max(abs(o) for o in offsets) <= TOLERANCE_MS, (link, offsets)
        assert round((times[-1] - times[0]) / (interval * 1000)) == len(times) - 1, link  # no cycle skipped
