"""CPU cost of uplink probing: 2 uplinks x 4 targets (TCP, HTTP, DNS, ICMP) every 10 s, per hour.

    .venv/bin/python bench/uplink_cpu.py [--cycles 300]

The targets run in a separate process on 127.0.0.1 (``python -m lab.simulate.targets``) so only the
gateway's side is measured: the real ``UplinkSource.sample()`` of each link (probes bound to ``lo``, the
routing-table read, the points), in this process's CPU time (user + system, ``time.process_time``).

Two measurements: a tight loop of cycles (the cost of one cycle of both links), and the same sources run on
the agent's drift-free schedule at a 0.25 s interval for a few seconds (adds the event loop's idle wake-ups).
Both are scaled to the production cadence (one cycle of both links every 10 s = 360 per hour) and compared
with the limit: 1% of one core = 36 CPU seconds per hour. Prints markdown rows and exits 0.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from edge.config import gateway_config_model  # noqa: E402
from edge.sources.uplink.source import UplinkSource  # noqa: E402
from lab.localservices import free_port  # noqa: E402

LIMIT_CPU_S_PER_HOUR = 36.0  # 1% of one core
CYCLES_PER_HOUR = 3600 / 10


def serve_targets() -> tuple[subprocess.Popen[str], dict[str, int]]:
    ports = {kind: free_port() for kind in ("tcp", "http")}
    ports["dns"] = free_port()  # a free TCP port number is almost always free for UDP too
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "lab.simulate.targets",
            "--tcp",
            f"127.0.0.1:{ports['tcp']}",
            "--http",
            f"127.0.0.1:{ports['http']}",
            "--dns",
            f"127.0.0.1:{ports['dns']}",
        ],
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    assert server.stdout is not None
    line = server.stdout.readline()
    if not line.startswith("ready"):
        raise SystemExit(f"targets did not start: {line!r}")
    return server, ports


def sources(ports: dict[str, int], interval_s: float) -> list[UplinkSource]:
    gateway = gateway_config_model().model_validate(
        {"site": {"village": "bench", "gateway": "gw", "latitude": 21.0, "longitude": 106.0}}
    )

    async def emit(points: object) -> None:
        return None

    ctx = gateway.source_context(
        UplinkSource,
        "sources.uplink[0]",
        emit=emit,
        logger=logging.getLogger("bench"),
        state_dir=Path("/tmp"),
        now_ms=lambda: int(time.time() * 1000),
        monotonic=time.monotonic,
    )
    targets = [
        {"kind": "tcp", "host": "127.0.0.1", "port": ports["tcp"]},
        {"kind": "http", "url": f"http://127.0.0.1:{ports['http']}/generate_204", "expect_status": 204},
        {"kind": "dns", "host": "127.0.0.1", "port": ports["dns"], "query": "vnexpress.net"},
        {"kind": "icmp", "host": "127.0.0.1"},
    ]
    return [
        UplinkSource(
            UplinkSource.Config(
                link=link,
                interface="lo",
                interval_s=interval_s,
                timeout_s=0.2 if interval_s < 1 else 1.0,
                min_ok=4,
                targets=targets,
            ),
            ctx,
        )
        for link in ("fiber", "4g")
    ]


async def tight(links: list[UplinkSource], cycles: int) -> float:
    """CPU seconds per cycle of both links."""
    for link in links:  # warm up: imports, first connections
        await link.sample()
    cpu = time.process_time()
    failed = 0
    for _ in range(cycles):
        for points in await asyncio.gather(*(link.sample() for link in links)):
            failed += points[0].fields["targets_total"] - points[0].fields["targets_ok"]
    spent = time.process_time() - cpu
    if failed:
        print(f"note: {failed} of {cycles * 8} probes failed (a busy machine?)", file=sys.stderr)
    return spent / cycles


async def scheduled(links: list[UplinkSource], seconds: float) -> float:
    """CPU seconds per cycle of both links when each runs on its own drift-free schedule, as in the agent."""
    loop = asyncio.get_running_loop()
    counts = [0, 0]

    async def run(i: int, link: UplinkSource) -> None:
        start, tick = loop.time(), 0
        while True:
            await link.sample()
            counts[i] += 1
            tick += 1
            await asyncio.sleep(max(0.0, start + tick * link.config.interval_s - loop.time()))

    cpu = time.process_time()
    tasks = [asyncio.create_task(run(i, link)) for i, link in enumerate(links)]
    await asyncio.sleep(seconds)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    return (time.process_time() - cpu) / (sum(counts) / len(links))


def row(name: str, per_cycle: float) -> str:
    per_hour = per_cycle * CYCLES_PER_HOUR
    return (
        f"| {name} | {per_cycle * 1000:.2f} ms | {per_hour:.2f} s | {LIMIT_CPU_S_PER_HOUR:.0f} s | "
        f"{per_hour / LIMIT_CPU_S_PER_HOUR:.3f} |"
    )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cycles", type=int, default=300)
    parser.add_argument("--seconds", type=float, default=5.0)
    args = parser.parse_args()
    server, ports = serve_targets()
    try:
        per_cycle_tight = await tight(sources(ports, 10.0), args.cycles)
        per_cycle_sched = await scheduled(sources(ports, 0.25), args.seconds)
    finally:
        server.terminate()
        server.wait(timeout=10)
    print(
        "| uplink probing, 2 links x 4 targets | CPU per cycle (both links) | CPU per hour at 10 s "
        "| limit (1% of a core) | ratio to limit |"
    )
    print("| --- | --- | --- | --- | --- |")
    print(row(f"tight loop, {args.cycles} cycles", per_cycle_tight))
    print(row(f"agent-style schedule, {args.seconds:g} s at 0.25 s", per_cycle_sched))


if __name__ == "__main__":
    asyncio.run(main())
