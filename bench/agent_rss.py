"""Peak RSS of the real agent process at the standard village load, against the 60 MB limit.

    .venv/bin/python bench/agent_rss.py [--seconds 60] [--backlog-hours 6] [--unsigned]

The agent runs as its own process (the same ``Agent`` that ``thonminh edge run`` runs, from a config file,
with the self-metrics source) with one injected source emitting the standard village load
(``bench/loads.py``: the village of docs/scaling.md, 30 lights, about 67,700 points a day),
time-compressed 6x so a run sees several light bursts, into a local InfluxDB. Two phases: steady state, then
a restart with a backlog in the buffer (a day without uplink, shortened by ``--backlog-hours``) draining
while the load keeps arriving. The figure is the kernel's peak resident set (``VmHWM`` in
``/proc/<pid>/status``); next to it, the same interpreter that only imports the agent's modules. Each figure
is measured twice: in this venv, and as on a gateway install, where the test extras' ``rich`` and
``pygments`` (which httpx imports for its own CLI when present) are absent. ``--unsigned`` runs the agent with
``sign=False`` (its batches unsigned: what signing costs, for docs/benchmarks.md; a gateway always signs).
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from pipeline_backfill import encode_backlog, village_points

from edge.buffer import Buffer
from edge.sources.base import PushSource, SourceConfig
from lab.localservices import InfluxDBServer
from thonminh.influx import InfluxClient

LIMIT_MB = 60.0
SPEEDUP = 6.0
#: Present in this venv only through the test extras (schemathesis); httpx imports them for its own CLI
#: when they are installed. A gateway install (``pip install thonminh``) does not have them.
TEST_ONLY = ("rich", "pygments")


class VillageLoad(PushSource):
    """The standard village load, ``SPEEDUP`` times faster than real time (so its stamps run ahead)."""

    kind = "village"
    Config = SourceConfig

    async def run(self) -> None:
        start = self.ctx.now_ms()
        for k, points in enumerate(village_points(start, 10**9)):
            delay = k * 10 / SPEEDUP - (self.ctx.now_ms() - start) / 1000
            if delay > 0:
                await asyncio.sleep(delay)
            await self.ctx.emit(points)


def child(config_path: str, hide: list[str], sign: bool) -> None:
    for name in hide:  # as on a gateway install: packages only the test extras bring are absent
        sys.modules[name] = None  # type: ignore[assignment]
    from edge.agent import Agent
    from edge.config import load_gateway_config
    from thonminh.logs import setup_logging

    config = load_gateway_config(config_path)
    setup_logging("warning")

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGTERM, stop.set)
        await Agent(config, extra_sources=[(VillageLoad, SourceConfig(name="village"))], sign=sign).run(stop)

    asyncio.run(main())


def vm_kb(pid: int, key: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    raise KeyError(key)


def run_phase(
    config: Path,
    seconds: float,
    until: Callable[[], bool] | None = None,
    hide: tuple[str, ...] = (),
    *,
    sign: bool = True,
) -> tuple[float, float]:
    """Run the agent process; returns (peak RSS MB, seconds it ran)."""
    proc = subprocess.Popen(
        [
            sys.executable,
            __file__,
            "--child",
            str(config),
            *(f"--hide={h}" for h in hide),
            *([] if sign else ["--unsigned"]),
        ]
    )
    start = time.monotonic()
    try:
        while time.monotonic() - start < seconds or (until is not None and not until()):
            if proc.poll() is not None:
                raise SystemExit(f"agent exited with {proc.returncode}")
            time.sleep(0.5)
        peak = vm_kb(proc.pid, "VmHWM") / 1024
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(60)
    return peak, time.monotonic() - start


def imports_only(*, hide: tuple[str, ...] = ()) -> float:
    code = (
        f"import sys\nfor name in {hide!r}: sys.modules[name] = None\n"
        "import edge.agent\nfrom edge.config import gateway_config_model\ngateway_config_model()\n"
        "print(open('/proc/self/status').read().split('VmHWM:')[1].split()[0])"
    )
    return (
        int(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout)
        / 1024
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--backlog-hours", type=float, default=6.0)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--hide", action="append", default=[], help=argparse.SUPPRESS)
    parser.add_argument("--unsigned", action="store_true", help="the agent forwards unsigned batches")
    args = parser.parse_args()
    if args.child:
        child(args.child, args.hide, not args.unsigned)
        return
    sign = not args.unsigned
    with tempfile.TemporaryDirectory(prefix="thonminh-rss-") as tmp:
        work = Path(tmp)
        server = InfluxDBServer(work / "influxdb")
        server.start()
        try:
            InfluxClient(server.url).create_database("rss")
            config = work / "gateway.toml"
            config.write_text(f"""state_dir = "state"
gateway_interval_s = 10
[site]
village = "kha-ly-thuong"
gateway = "klt-gw1"
latitude = 21.38
longitude = 106.57
[influxdb]
url = "{server.url}"
database = "rss"
[buffer]
path = "buffer.sqlite"
[clock]
check = "always"
[log]
level = "warning"
""")
            steady, _ = run_phase(config, args.seconds, sign=sign)
            steady_install, _ = run_phase(config, args.seconds / 2, hide=TEST_ONLY, sign=sign)
            seconds = int(args.backlog_hours * 3600)
            rows = encode_backlog(int(time.time() * 1000) - seconds * 1000, seconds)
            with Buffer(work / "buffer.sqlite", max_bytes=2 * 1024**3) as buffer:
                for i in range(0, len(rows), 30_000):
                    buffer.put(rows[i : i + 30_000])
            backlog = len(rows)

            def drained() -> bool:
                with Buffer(work / "buffer.sqlite", max_bytes=2 * 1024**3, readonly=True) as b:
                    return b.status().points < 2000

            draining, took = run_phase(config, 10, until=drained, sign=sign)
            with Buffer(work / "buffer.sqlite", max_bytes=2 * 1024**3) as buffer:
                for i in range(0, len(rows), 30_000):
                    buffer.put(rows[i : i + 30_000])
            draining_install, took_install = run_phase(config, 10, until=drained, hide=TEST_ONLY, sign=sign)
        finally:
            server.stop()
    baseline = imports_only()
    baseline_install = imports_only(hide=TEST_ONLY)
    print(
        f"Agent process at the standard village load ({SPEEDUP:g}x time-compressed), "
        f"{'unsigned batches' if args.unsigned else 'signed batches'}, pid's VmHWM.\n"
    )
    print("| figure | peak RSS | limit | ratio |")
    print("| --- | --- | --- | --- |")
    print(
        f"| steady state, {args.seconds:g} s | {steady:.1f} MB | {LIMIT_MB:.0f} MB | {steady / LIMIT_MB:.2f} |"
    )
    print(
        f"| draining a {backlog:,}-point backlog under load ({took:.0f} s) | {draining:.1f} MB | "
        f"{LIMIT_MB:.0f} MB | {draining / LIMIT_MB:.2f} |"
    )
    print(
        f"| the interpreter with the agent's modules imported, nothing running | {baseline:.1f} MB | "
        f"{LIMIT_MB:.0f} MB | {baseline / LIMIT_MB:.2f} |"
    )
    print(
        f"| as installed on a gateway ({', '.join(TEST_ONLY)} absent): steady state | {steady_install:.1f} MB | "
        f"{LIMIT_MB:.0f} MB | {steady_install / LIMIT_MB:.2f} |"
    )
    print(
        f"| as installed on a gateway: draining the backlog ({took_install:.0f} s) | {draining_install:.1f} MB | "
        f"{LIMIT_MB:.0f} MB | {draining_install / LIMIT_MB:.2f} |"
    )
    print(
        f"| as installed on a gateway: modules imported, nothing running | {baseline_install:.1f} MB | "
        f"{LIMIT_MB:.0f} MB | {baseline_install / LIMIT_MB:.2f} |"
    )


if __name__ == "__main__":
    main()
