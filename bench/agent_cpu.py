"""The whole gateway's CPU per point forwarded, with signed batches and without (issue 21's 1.2x bound).

    .venv/bin/python bench/agent_cpu.py [--seconds 300] [--rounds 2] [--warmup 60]

The harness of ``bench/flash_writes.py``: the real simulator (``thonminh simulate``) plays the standard village
of ``bench/loads.py`` at real cadence (30 lights on MQTT, uplinks, modem, Wi-Fi: about 67,700 points a day)
against a local Mosquitto and InfluxDB 1.x, and the agent runs on the simulator's gateway.toml put back to the
defaults (one signed batch a minute, the intake stored every 300 s). The agent is the one ``thonminh edge
run`` starts, run here as a child process so that one arm can be ``Agent(config, sign=False)``: the same
agent, sources and buffer, forwarding unsigned batches. Both arms run at once, each with its own simulator,
Mosquitto and InfluxDB, so the shared machine's busy moments fall on both; the two villages swap arms each
round. After ``--warmup`` seconds each arm measures a window of at least ``--seconds`` (by default one store
of the intake) that starts and ends just after a forwarded batch (the counter ``forwarded_total`` moved), so
the points forwarded in it are the points the agent took in meanwhile. The figure is the agent's CPU (``utime
+ stime`` and its waited-for children's, from ``/proc/<pid>/stat``) over the window divided by those points;
the median of the rounds per arm, and the ratio.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from flash_writes import scenario, start_simulator
from loads import STANDARD_VILLAGE, per_day

from edge.buffer import Buffer
from edge.config import load_gateway_config
from lab.localservices import InfluxDBServer, MosquittoServer
from thonminh.influx import InfluxClient

LIMIT = 1.2
TICK = os.sysconf("SC_CLK_TCK")


def child(config_path: str, sign: bool) -> None:
    """``thonminh edge run`` (edge/cli.py), with the agent's ``sign`` option."""
    from edge.agent import Agent
    from thonminh.logs import setup_logging

    config = load_gateway_config(config_path)
    setup_logging(config.log.level, fmt=config.log.format)

    async def main() -> None:
        stop = asyncio.Event()
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
        await Agent(config, sign=sign).run(stop)

    asyncio.run(main())


def cpu_s(pid: int) -> float:
    """utime + stime + cutime + cstime of ``pid``, in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return sum(int(x) for x in fields[11:15]) / TICK


def forwarded(config_path: Path) -> int:
    config = load_gateway_config(config_path)
    with Buffer(config.buffer.path, max_bytes=config.buffer.max_bytes, readonly=True) as buffer:
        return buffer.status().counters["forwarded_total"]


def after_a_batch(config: Path, proc: subprocess.Popen[bytes], since: int) -> tuple[int, float]:
    """Wait for the next forwarded batch; (forwarded_total, the agent's CPU seconds) just after it."""
    while True:
        if proc.poll() is not None:
            raise SystemExit(f"the agent exited with {proc.returncode}")
        count = forwarded(config)
        if count != since:
            return count, cpu_s(proc.pid)
        time.sleep(0.2)


def measure(config: Path, cwd: Path, sign: bool, warmup: float, seconds: float) -> tuple[float, int, float]:
    """(CPU µs per point, points, window seconds) of one agent run."""
    argv = [sys.executable, __file__, "--child", str(config), *([] if sign else ["--unsigned"])]
    proc = subprocess.Popen(argv, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(warmup)
        first, cpu0 = after_a_batch(config, proc, forwarded(config))
        start = time.monotonic()
        time.sleep(max(0.0, seconds - 60))
        last, cpu1 = first, cpu0
        while time.monotonic() - start < seconds:
            last, cpu1 = after_a_batch(config, proc, last)
        took = time.monotonic() - start
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(60)
    return (cpu1 - cpu0) / (last - first) * 1e6, last - first, took


def village(work: Path, seconds: float) -> tuple[Path, list[subprocess.Popen[bytes]], list[Any]]:
    """A simulated standard village (InfluxDB, Mosquitto, ``thonminh simulate``): its gateway.toml, on the
    defaults, and what to stop."""
    influx = InfluxDBServer(work / "influxdb")
    mqtt = MosquittoServer(work / "mosquitto")
    influx.start()
    mqtt.start()
    InfluxClient(influx.url, database="thonminh").create_database("thonminh")
    out = work / "village"
    sim, config = start_simulator(scenario(work / "village.toml", seconds), out, mqtt.port, influx.url)
    return config, [sim], [mqtt, influx]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--seconds", type=float, default=300.0, help="measured window of each round, at least"
    )
    parser.add_argument("--rounds", type=int, default=2, help="rounds (both arms at once in each)")
    parser.add_argument("--warmup", type=float, default=60.0, help="seconds after each agent start")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--unsigned", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, not args.unsigned)
        return
    work = Path(tempfile.mkdtemp(prefix="agent-cpu-"))
    procs: list[subprocess.Popen[bytes]] = []
    servers: list[Any] = []
    results: dict[bool, list[tuple[float, int, float]]] = {True: [], False: []}
    loads = []
    try:
        configs = []
        for name in ("a", "b"):
            config, started, stop = village(work / name, args.rounds * (args.seconds + args.warmup + 180))
            configs.append(config)
            procs += started
            servers += stop
        for r in range(args.rounds):
            # the villages swap arms each round, so neither arm keeps what one set-up may have over the other
            arms = {r % 2 == 0: configs[0], r % 2 == 1: configs[1]}
            with ThreadPoolExecutor(2) as pool:
                runs = {
                    sign: pool.submit(measure, config, config.parent, sign, args.warmup, args.seconds)
                    for sign, config in arms.items()
                }
                for sign, run in runs.items():
                    results[sign].append(run.result())
            loads.append(os.getloadavg())
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                proc.wait(30)
        for server in servers:
            server.stop()
        shutil.rmtree(work, ignore_errors=True)
    signed, plain = (statistics.median(x[0] for x in results[arm]) for arm in (True, False))
    print(
        f"The agent (edge run's Agent, default config) fed by the simulator at the standard village load "
        f"({per_day(STANDARD_VILLAGE):,} points a day) at real cadence, signed and unsigned side by side, each "
        f"with its own simulator, Mosquitto and InfluxDB; {args.rounds} round(s); load average (1, 5, 15 min) "
        f"at the end of each: {'; '.join(', '.join(f'{x:.2f}' for x in la) for la in loads)}.\n"
    )
    print("| agent | rounds: CPU per point (points, window) | median |")
    print("| --- | --- | --- |")
    for arm, name, median in (
        (False, "unsigned batches (sign=False)", plain),
        (True, "signed batches", signed),
    ):
        rounds = "; ".join(f"{us:.0f} µs ({n:,}, {s:.0f} s)" for us, n, s in results[arm])
        print(f"| {name} | {rounds} | {median:.0f} µs |")
    print(f"| ratio (bound {LIMIT}) | | {signed / plain:.3f} |")


if __name__ == "__main__":
    main()
