"""CPU cost of the lights source at the province load: 2,000 lights reporting every 10 s (``bench/loads.py``).

    .venv/bin/python bench/lights_cpu.py [--village tasmota|esphome|mixed] [--lights 2000] [--period 10]
                                         [--windows 5] [--seconds 20]

What "2,000 lights reporting every 10 s" means on the wire depends on the firmware (firmware_config/):

- Tasmota (the default village): every ``TelePeriod`` one ``tele/<topic>/STATE`` and one ``tele/<topic>/SENSOR``
  = 2 messages per light per period = **400 msg/s**. This is the load the 5% limit is judged on.
- ESPHome (``street-light.yaml``): each of the four PZEM sensors (power, voltage, current, energy) publishes on
  its own ``update_interval``; the light state is published only when it changes = 4 messages per light per
  period = 800 msg/s.
- mixed: half Tasmota, a quarter ESPHome, a quarter our own JSON (one ``state`` per period) = 500 msg/s.

A real Mosquitto with firmware_config/mosquitto/mosquitto.conf's in-flight window. The lights are simulated
in a separate process (``lab.simulate.lights`` devices with their real payloads), each publishing its periodic
report every ``--period`` seconds at its own phase, QoS 1. This process runs the real ``LightsSource`` with its
default settings (journal with synchronous=FULL, acknowledge after commit, one sample per light every 60 s
encoded and committed to a real ``edge.buffer.Buffer``) and measures its own CPU time (getrusage: user +
system, all threads) in ``--windows`` consecutive windows of ``--seconds`` after a warm-up; the figure is the
median window (the machine is shared: one window can catch another job's burst). Limit: 5% of one core.
Prints the load average too and markdown rows, and exits 0.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from loads import PROVINCE  # noqa: E402

from edge.buffer import Buffer  # noqa: E402
from edge.config import gateway_config_model  # noqa: E402
from edge.pipeline import encode_for_buffer  # noqa: E402
from edge.sources.lights.source import LightsSource  # noqa: E402
from lab.localservices import MosquittoServer  # noqa: E402
from lab.simulate.lights import LightDevice, Output, SimMessage  # noqa: E402
from thonminh.contract import Point  # noqa: E402

LIMIT_PCT = 5.0
CONF = ROOT / "firmware_config" / "mosquitto" / "mosquitto.conf"
VILLAGES: dict[str, tuple[str, ...]] = {
    "tasmota": ("tasmota",),
    "esphome": ("esphome",),
    "mixed": ("tasmota", "tasmota", "esphome", "json"),
}
#: Messages per light per report period, per format (see the module docstring).
PER_REPORT = {"tasmota": 2, "esphome": 4, "json": 1}


def formats(village: str, lights: int) -> list[str]:
    kinds = VILLAGES[village]
    return [kinds[i % len(kinds)] for i in range(lights)]


def periodic(device: LightDevice, now_ms: int) -> list[SimMessage]:
    """A device's periodic report as the firmware sends it: ESPHome publishes its light state only on change."""
    return [m for m in device.report(now_ms) if not (device.format == "esphome" and "/light/" in m.topic)]


def inventory(path: Path, kinds: list[str]) -> Path:
    rows = [f"l-{i:05d},sl-{i:05d},,{kind},z{i % 20},21.38,106.57,60," for i, kind in enumerate(kinds)]
    path.write_text(
        "id,device,channel,format,zone,latitude,longitude,rated_w,report_s\n" + "\n".join(rows) + "\n"
    )
    return path


def publisher(port: int, kinds: list[str], period: float, seconds: float) -> None:
    """The simulated village (run in its own process): every device reports once per period, phases spread."""
    import paho.mqtt.client as paho

    lights = len(kinds)
    devices = [
        LightDevice(f"sl-{i:05d}", kind, [Output(None, 60)], seed=i)  # type: ignore[arg-type]
        for i, kind in enumerate(kinds)
    ]
    client = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id="bench-village")
    client.max_inflight_messages_set(1000)
    client.connect("127.0.0.1", port)
    client.loop_start()
    start = time.time()
    for d in devices:
        for m in d.birth(int(start * 1000)) + d.step(int(start * 1000), True):
            client.publish(m.topic, m.payload, qos=m.qos, retain=m.retain)
    sent = 0
    slot = period / lights
    while time.time() - start < seconds:
        for i, d in enumerate(devices):
            due = start + (sent // lights + 1) * period + i * slot
            delay = due - time.time()
            if delay > 0:
                time.sleep(delay)
            for m in periodic(d, int(time.time() * 1000)):
                client.publish(m.topic, m.payload, qos=m.qos, retain=m.retain)
            sent += 1
    client.loop_stop()
    client.disconnect()


def make_source(work: Path, port: int, buffer: Buffer, period: float) -> tuple[LightsSource, list[int]]:
    config = gateway_config_model().model_validate(
        {
            "site": {"village": "bench", "gateway": "gw", "latitude": 21.38, "longitude": 106.57},
            "mqtt": {"host": "127.0.0.1", "port": port, "client_id": "bench-lights-cpu"},
            "sources": {"lights": {"inventory": str(work / "inventory.csv"), "report_period_s": period}},
        }
    )
    ((_, cfg),) = config.source_instances()
    committed = [0]

    async def emit(points: Sequence[Point]) -> None:
        rows, _ = encode_for_buffer(
            points, synced=True, wall_ms=time.time_ns() // 1_000_000, mono=time.monotonic()
        )
        await asyncio.to_thread(buffer.put, rows)
        committed[0] += len(rows)

    ctx = config.source_context(
        LightsSource,
        "sources.lights[0]",
        emit=emit,
        logger=logging.getLogger("bench.lights"),
        state_dir=work / "state",
        now_ms=lambda: time.time_ns() // 1_000_000,
        monotonic=time.monotonic,
    )
    return LightsSource(cfg, ctx), committed


def cpu_s() -> tuple[float, float]:
    """(user, system) CPU seconds of this process, all threads."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime, usage.ru_stime


def threads_cpu_s() -> dict[str, float]:
    """CPU seconds of this process's main thread (the event loop) and of its worker threads (``/proc/self/task``)."""
    out: dict[str, float] = {}
    for task in Path("/proc/self/task").iterdir():
        try:
            fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # a thread that just ended
        key = "main" if task.name == str(os.getpid()) else "worker threads (journal, buffer)"
        out[key] = out.get(key, 0.0) + (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return out


Window = tuple[
    float, float, float, int, int, dict[str, float]
]  # user s, system s, wall s, messages, points, by thread


async def measure(work: Path, port: int, args: argparse.Namespace) -> list[Window]:
    buffer = Buffer(work / "buffer.sqlite", max_bytes=256 * 1024 * 1024)
    source, committed = make_source(work, port, buffer, args.period)
    await source.init()
    task = asyncio.create_task(source.run())
    windows: list[Window] = []
    try:
        while not source.connected:
            await asyncio.sleep(0.01)
        village = subprocess.Popen(
            [
                sys.executable,
                __file__,
                "--publisher",
                str(port),
                "--lights",
                str(args.lights),
                "--village",
                args.village,
                "--period",
                str(args.period),
                "--seconds",
                str(args.windows * args.seconds + args.warmup + 5),
            ]
        )
        await asyncio.sleep(args.warmup)
        for _ in range(args.windows):
            c0, t0, m0, p0, th0 = (
                cpu_s(),
                time.monotonic(),
                source.acknowledged,
                committed[0],
                threads_cpu_s(),
            )
            await asyncio.sleep(args.seconds)
            c1, t1, m1, p1, th1 = (
                cpu_s(),
                time.monotonic(),
                source.acknowledged,
                committed[0],
                threads_cpu_s(),
            )
            windows.append(
                (
                    c1[0] - c0[0],
                    c1[1] - c0[1],
                    t1 - t0,
                    m1 - m0,
                    p1 - p0,
                    {k: v - th0.get(k, 0.0) for k, v in th1.items()},
                )
            )
        await asyncio.to_thread(village.wait, 120)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await source.close()
        buffer.close()
    return windows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--village", choices=sorted(VILLAGES), default="tasmota")
    parser.add_argument("--lights", type=int, default=PROVINCE.lights)
    parser.add_argument("--period", type=float, default=PROVINCE.report_s)
    parser.add_argument("--windows", type=int, default=5, help="measured windows; the median is the figure")
    parser.add_argument("--seconds", type=float, default=20.0, help="length of a window")
    parser.add_argument("--warmup", type=float, default=12.0)
    parser.add_argument("--publisher", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.publisher:
        publisher(args.publisher, formats(args.village, args.lights), args.period, args.seconds)
        return
    logging.basicConfig(level=logging.WARNING)
    with tempfile.TemporaryDirectory(prefix="lights-cpu-") as tmp:
        work = Path(tmp)
        inventory(work / "inventory.csv", formats(args.village, args.lights))
        window = next(
            line for line in CONF.read_text().splitlines() if line.startswith("max_inflight_messages")
        )
        broker = MosquittoServer(work / "mosquitto", extra_config=window)
        broker.start()
        try:
            windows = asyncio.run(measure(work, broker.port, args))
        finally:
            broker.stop()
    pcts = sorted(100 * (user + system) / wall for user, system, wall, *_ in windows)
    pct = statistics.median(pcts)
    user, system, wall, messages, points, split = min(
        windows, key=lambda w: abs(100 * (w[0] + w[1]) / w[2] - pct)
    )
    rate = messages / wall
    expected = sum(PER_REPORT[k] for k in formats(args.village, args.lights)) / args.period
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print(
        f"lights CPU: {args.lights} {args.village} lights reporting every {args.period:g} s = {expected:,.0f} msg/s "
        f"expected, {rate:,.0f} msg/s acknowledged; {len(windows)} windows of {args.seconds:g} s after "
        f"{args.warmup:g} s warm-up; load average {load} ({os.cpu_count()} CPUs)"
    )
    print()
    print("| measure | value | limit | ratio | verdict |")
    print("| --- | --- | --- | --- | --- |")
    print(
        f"| lights source CPU (all threads), median window, {rate:,.0f} msg/s | {pct:.2f}% of one core (windows: "
        f"{', '.join(f'{x:.2f}' for x in pcts)}) | {LIMIT_PCT:.0f}% | {pct / LIMIT_PCT:.2f} | "
        f"{'pass' if pct < LIMIT_PCT else 'FAIL'} |"
    )
    per = 1e6 / max(messages, 1)
    print(
        f"| CPU per message in that window (receive, parse, track, journal, PUBACK) | {(user + system) * per:.0f} us "
        f"(user {user * per:.0f}, system {system * per:.0f}); {points} samples committed | | | |"
    )
    threads = ", ".join(f"{k} {v * per:.0f}" for k, v in sorted(split.items()))
    print(f"| of which, by thread (main = event loop: MQTT, parse, track, samples) | {threads} us | | | |")


if __name__ == "__main__":
    main()
