"""Sustained pipeline throughput into the buffer and out to a local InfluxDB, next to the raw /write limit.

    .venv/bin/python bench/pipeline_throughput.py [--points 100000]

The points are the standard village load (``bench/loads.py``: street lights, uplinks, Wi-Fi,
modem, self-metrics), made before the clock starts. Pipeline: four emitters hand them to ``Pipeline.emit`` in
chunks of 500 (a light tracker's minute) as fast as each emit returns, so every point is encoded, group-
committed to SQLite (WAL, ``synchronous=FULL``), taken, gzipped, written and acknowledged by the real
forwarder (default settings: 1 MiB batches, two in flight); the figure is points per second from the first
emit until the last point is acknowledged. Raw limit, same run and same InfluxDB: the same points, encoded
before the clock starts, posted straight to ``/write`` in the forwarder's batch size and concurrency.
Also printed: the rate into the buffer alone (emit until committed, no forwarding), against the same limit.
Raw and pipeline alternate for ``--rounds`` rounds (3): on a shared machine the load moves between phases,
and a single pair can be off by 2x either way; the median round's ratio is the figure.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import os
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from pipeline_backfill import village_points

from edge.buffer import Buffer
from edge.clock import Clock
from edge.config import ForwarderSettings
from edge.forwarder import Forwarder
from edge.pipeline import Pipeline
from edge.stats import Stats
from lab.localservices import InfluxDBServer
from thonminh.contract import Point
from thonminh.influx import InfluxClient, InfluxV1Writer
from thonminh.lineprotocol import encode_line

CHUNK = 500
EMITTERS = 4
TARGET_RATIO = 0.5


def make_points(count: int) -> list[Point]:
    points: list[Point] = []
    for step in village_points(1_700_000_000_000, 10**9):
        points.extend(step)
        if len(points) >= count:
            return points[:count]
    return points


def batch_size(lines: list[str], settings: ForwarderSettings) -> int:
    """Points per batch as the forwarder cuts them (``batch_bytes`` binds before ``batch_points``)."""
    average = sum(len(line) + 1 for line in lines) / len(lines)
    return max(1, min(settings.batch_points, int(settings.batch_bytes // average)))


def raw(
    client: InfluxClient, lines: list[str], batch: int, concurrency: int, *, database: str = "raw"
) -> float:
    client.create_database(database)
    bodies = ["\n".join(lines[i : i + batch]) for i in range(0, len(lines), batch)]
    start = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(lambda body: client.write(body, database=database), bodies))
    return len(lines) / (time.perf_counter() - start)


async def pipeline_rate(
    client: InfluxClient, points: list[Point], workdir: Path, *, forward: bool, database: str | None = None
) -> float:
    database = database or ("pipeline" if forward else "unused")
    client.create_database(database)
    buffer = Buffer(workdir / f"{database}.sqlite", max_bytes=4 * 1024**3)
    clock = Clock(check=lambda: True)
    pipeline = Pipeline(buffer, clock, Stats(buffer, clock), commit_interval_ms=200)
    forwarder = Forwarder(buffer, InfluxV1Writer(client, database=database), ForwarderSettings())
    stop = asyncio.Event()
    tasks = [asyncio.create_task(pipeline.run())]
    if forward:
        tasks.append(asyncio.create_task(forwarder.run(stop, pipeline.committed)))
    chunks = [points[i : i + CHUNK] for i in range(0, len(points), CHUNK)]

    async def emitter(k: int) -> None:
        for chunk in chunks[k::EMITTERS]:
            await pipeline.emit(chunk)

    start = time.perf_counter()
    await asyncio.gather(*(emitter(k) for k in range(EMITTERS)))
    while forward and buffer.counters["forwarded_total"] < len(points):
        await asyncio.sleep(0.01)
    elapsed = time.perf_counter() - start
    stop.set()
    await pipeline.close()
    await asyncio.gather(*tasks)
    buffer.close()
    return len(points) / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--points", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    points = make_points(args.points)
    lines = [encode_line(p) for p in points]
    # The 100,000 points made up front are the benchmark's input, not the gateway's state: keep the garbage
    # collector from walking them again and again (a source holds one tick's points, not a day's).
    gc.freeze()
    settings = ForwarderSettings()
    batch = batch_size(lines, settings)
    with tempfile.TemporaryDirectory(prefix="thonminh-throughput-") as tmp:
        server = InfluxDBServer(Path(tmp) / "influxdb")
        server.start()
        try:
            client = InfluxClient(server.url, timeout=60)
            client.create_database("warmup")  # series creation is a one-off cost: pay it before both runs
            client.write(lines, database="warmup")
            rounds = []
            for k in range(args.rounds):  # alternate, so both sides see the same machine
                limit = raw(client, lines, batch, settings.concurrency, database=f"raw{k}")
                end_to_end = asyncio.run(
                    pipeline_rate(client, points, Path(tmp), forward=True, database=f"pipeline{k}")
                )
                rounds.append((end_to_end, limit, os.getloadavg()[0]))
            into_buffer = asyncio.run(pipeline_rate(client, points, Path(tmp), forward=False))
        finally:
            server.stop()
    print(
        f"{len(points):,} village points ({sum(map(len, lines)) / len(lines):.0f} bytes a line), "
        f"{batch} points a batch, {settings.concurrency} batches in flight; {args.rounds} rounds, each the raw "
        "limit then the pipeline, one after the other in one run.\n"
    )
    print("| figure | measured | raw /write limit | ratio (target >= 0.5 end to end) |")
    print("| --- | --- | --- | --- |")
    for k, (end_to_end, limit, load) in enumerate(rounds, 1):
        print(
            f"| round {k}: pipeline end to end (emit, commit, forward, ack), load {load:.1f} "
            f"| {end_to_end:,.0f} points/s | {limit:,.0f} points/s | {end_to_end / limit:.2f} |"
        )
    ratios = sorted(e / lim for e, lim, _ in rounds)
    middle = rounds[[e / lim for e, lim, _ in rounds].index(ratios[len(ratios) // 2])]
    print(
        f"| **median round: pipeline end to end** | {middle[0]:,.0f} points/s | {middle[1]:,.0f} points/s "
        f"| {ratios[len(ratios) // 2]:.2f} |"
    )
    print(
        f"| into the buffer only (encode + group commit), after the rounds | {into_buffer:,.0f} points/s "
        f"| {middle[1]:,.0f} points/s (median round) | {into_buffer / middle[1]:.2f} |"
    )


if __name__ == "__main__":
    main()
