"""The lights source takes a backlog queued at the broker for its persistent session: 10,000 messages in < 5 s.

    .venv/bin/python bench/lights_backlog.py [--messages 10000] [--lights 100] [--rounds 5]

What happens after the agent was down for a while: the broker (firmware_config/mosquitto/mosquitto.conf's
queue and in-flight window) holds every QoS 1 message the lights sent to the gateway's persistent session.
Each round: the source subscribes once (creating the session) and stops; ``--lights`` devices publish
``--messages`` state messages of our own JSON, round robin, each with its ``seq`` (so that a lost message
shows as a gap and a redelivered one as a duplicate); then a fresh source starts on the same session and the
clock runs from its start (journal restored, connected, subscribed) until every message is received, applied,
committed to the journal and acknowledged. Checked each round: every message applied exactly once (no gap,
no duplicate, each light's last ``seq`` is its last message) and no two ``streetlight`` samples of one light
at the same time. The figure is the median round. Limit: 5 s.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import paho.mqtt.client as paho  # noqa: E402
from loads import BACKLOG_MESSAGES  # noqa: E402

from edge.config import gateway_config_model  # noqa: E402
from edge.sources.lights.source import LightsSource  # noqa: E402
from lab.localservices import MosquittoServer  # noqa: E402
from thonminh.contract import Point  # noqa: E402

LIMIT_S = 5.0
CONF = ROOT / "firmware_config" / "mosquitto" / "mosquitto.conf"


def make_source(work: Path, port: int, points: list[Point]) -> LightsSource:
    config = gateway_config_model().model_validate(
        {
            "site": {"village": "bench", "gateway": "gw", "latitude": 21.38, "longitude": 106.57},
            "mqtt": {"host": "127.0.0.1", "port": port, "client_id": "bench-lights-backlog"},
            "sources": {"lights": {"inventory": str(work / "inventory.csv"), "interval_s": 1}},
        }
    )
    ((_, cfg),) = config.source_instances()

    async def emit(batch: Sequence[Point]) -> None:
        points.extend(batch)

    ctx = config.source_context(
        LightsSource,
        "sources.lights",
        emit=emit,
        logger=logging.getLogger("bench.lights"),
        state_dir=work / "state",
        now_ms=lambda: time.time_ns() // 1_000_000,
        monotonic=time.monotonic,
    )
    return LightsSource(cfg, ctx)


async def run_source(source: LightsSource, until: int) -> float:
    """Seconds from the source's start until ``until`` messages are acknowledged (0: until subscribed)."""
    start = time.perf_counter()
    await source.init()
    task = asyncio.create_task(source.run())
    try:
        while (source.acknowledged < until) if until else not source.connected:
            if task.done():
                task.result()
            await asyncio.sleep(0.005)
        return time.perf_counter() - start
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await source.close()


def publish(port: int, lights: int, messages: int) -> None:
    client = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id="bench-backlog-lights")
    client.connect("127.0.0.1", port)
    client.loop_start()
    infos = []
    for i in range(messages):
        state = {
            "v": 1,
            "seq": i // lights,
            "boot": 1,
            "on": True,
            "power_w": 35.0 + i % 7,
            "voltage_v": 229.5,
        }
        infos.append(client.publish(f"thonminh/light/sl-{i % lights:04d}/state", json.dumps(state), qos=1))
    for info in infos:
        info.wait_for_publish(60)
    client.loop_stop()
    client.disconnect()


def one_round(work: Path, lights: int, messages: int) -> tuple[float, str]:
    """The drain time of one backlog, and what is wrong with the result ("" when nothing)."""
    work.mkdir()
    rows = [f"l-{i:04d},sl-{i:04d},,json,z{i % 10},21.38,106.57,60," for i in range(lights)]
    (work / "inventory.csv").write_text(
        "id,device,channel,format,zone,latitude,longitude,rated_w,report_s\n" + "\n".join(rows) + "\n"
    )
    window = next(line for line in CONF.read_text().splitlines() if line.startswith("max_inflight_messages"))
    queue = next(line for line in CONF.read_text().splitlines() if line.startswith("max_queued_messages"))
    broker = MosquittoServer(work / "mosquitto", extra_config=f"{window}\n{queue}\n")
    broker.start()
    try:
        points: list[Point] = []
        asyncio.run(
            run_source(make_source(work, broker.port, points), 0)
        )  # the session, then the agent stops
        publish(broker.port, lights, messages)
        source = make_source(work, broker.port, points)
        seconds = asyncio.run(run_source(source, messages))
    finally:
        broker.stop()
    stats, states = source.router.stats, source.tracker.states
    problems = []
    if (stats.applied, stats.duplicate, stats.rejected) != (messages, 0, 0):
        problems.append(f"applied {stats.applied}, duplicates {stats.duplicate}, rejected {stats.rejected}")
    last = {f"l-{i % lights:04d}": i // lights for i in range(messages)}
    wrong = [light for light, seq in last.items() if states[light].seq != seq or states[light].seq_gaps]
    if wrong:
        problems.append(f"{len(wrong)} lights lost messages (first: {wrong[0]})")
    keys = [(p.tags["light"], p.time_ms) for p in points]
    if len(keys) != len(set(keys)):
        problems.append(f"{len(keys) - len(set(keys))} duplicate samples")
    return seconds, "; ".join(problems)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=BACKLOG_MESSAGES)
    parser.add_argument("--lights", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    times, problems = [], []
    with tempfile.TemporaryDirectory(prefix="lights-backlog-") as tmp:
        for k in range(args.rounds):
            seconds, problem = one_round(Path(tmp) / f"round{k}", args.lights, args.messages)
            times.append(seconds)
            if problem:
                problems.append(f"round {k + 1}: {problem}")
    median = statistics.median(times)
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print(
        f"lights backlog: {args.messages:,} QoS 1 messages of {args.lights} lights queued for the persistent "
        f"session; {args.rounds} rounds; load average {load} ({os.cpu_count()} CPUs)"
    )
    print()
    print("| measure | value | limit | ratio | verdict |")
    print("| --- | --- | --- | --- | --- |")
    ok = median < LIMIT_S and not problems
    print(
        f"| backlog taken in (start to last acknowledgement), median round | {median:.2f} s "
        f"({args.messages / median:,.0f} msg/s; rounds: {', '.join(f'{t:.2f}' for t in sorted(times))}) "
        f"| {LIMIT_S:.0f} s | {median / LIMIT_S:.2f} | {'pass' if ok else 'FAIL'} |"
    )
    print(
        f"| lost messages, duplicate samples | {'; '.join(problems) or 'none'} | none | | "
        f"{'pass' if not problems else 'FAIL'} |"
    )


if __name__ == "__main__":
    main()
