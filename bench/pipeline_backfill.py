"""Backfill: a 24-hour backlog at the standard village load drains to InfluxDB while live data keeps arriving.

    .venv/bin/python bench/pipeline_backfill.py [--hours 24]

The standard village load (``bench/loads.py``, the village of docs/scaling.md: 30 street lights, about 67,700
points a day). The backlog is committed to the buffer first (as after a day without uplink), then the real
pipeline and forwarder (default settings: batches of ``batch_points`` or 1 MiB, two in flight, ``live_share =
0.25``) drain it into a local InfluxDB while a live source emits the same load in real time; every batch is
signed as the agent signs it (``edge/signing.py``, its files on tmpfs). The backlog is drained when less than
``batch_points`` is left: that rest goes with the live points, within ``live_interval_s``. Prints markdown
rows: drain time against the 60 s target, the drain rate against the raw limit measured in the same run (the
same lines posted straight to ``/write`` in the same batches and concurrency), and the worst delay of a live
point during the drain against the live points' own cadence.

``loads.village_points`` is also the load of ``bench/pipeline_throughput.py`` and ``bench/agent_rss.py``.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from loads import SITE, per_day, village_points  # noqa: E402

from edge.buffer import Buffer, NewRow  # noqa: E402
from edge.bufferschema import intake_path  # noqa: E402
from edge.clock import Clock  # noqa: E402
from edge.config import ForwarderSettings  # noqa: E402
from edge.forwarder import Forwarder  # noqa: E402
from edge.pipeline import Pipeline, encode_for_buffer  # noqa: E402
from edge.signing import BatchSigner  # noqa: E402
from edge.stats import Stats  # noqa: E402
from lab.localservices import InfluxDBServer  # noqa: E402
from thonminh.evidencekeys import GatewayKey  # noqa: E402
from thonminh.influx import InfluxClient, InfluxV1Writer  # noqa: E402

TARGET_S = 60.0


def encode_backlog(start_ms: int, seconds: int) -> list[NewRow]:
    """The backlog as the pipeline commits it (lines without timestamps)."""
    rows: list[NewRow] = []
    for points in village_points(start_ms, seconds):
        rows.extend(encode_for_buffer(points, synced=True, wall_ms=0, mono=0.0)[0])
    return rows


def raw_rate(client: InfluxClient, rows: list[NewRow], batch: int, concurrency: int) -> float:
    """The limit: the same lines posted straight to ``/write``, same batch size and concurrency."""
    client.create_database("raw")
    bodies = [
        "\n".join(f"{r.line} {r.t_ms}" for r in rows[i : i + batch]) for i in range(0, len(rows), batch)
    ]
    start = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(lambda body: client.write(body, database="raw"), bodies))
    return len(rows) / (time.perf_counter() - start)


async def live(pipeline: Pipeline, stop: asyncio.Event, emitted: list[int]) -> None:
    """Emit the village load in real time (each 10 s step's points when its time comes)."""
    start = time.time()
    for points in village_points(int(start * 1000), 10**9):
        delay = points[0].time_ms / 1000 - time.time()
        if delay > 0:
            try:
                await asyncio.wait_for(stop.wait(), delay)
            except TimeoutError:
                pass
        if stop.is_set():
            return
        await pipeline.emit(points)
        emitted.append(points[0].time_ms)


async def run(hours: float, workdir: Path, tmpfs: Path) -> tuple[int, float, float, float]:
    server = InfluxDBServer(workdir / "influxdb")
    server.start()
    try:
        client = InfluxClient(server.url, database="backfill", timeout=60)
        client.create_database("backfill")
        buffer = Buffer(workdir / "buffer.sqlite", max_bytes=2 * 1024**3)
        now_ms = int(time.time() * 1000)
        seconds = int(hours * 3600)
        rows = encode_backlog(now_ms - seconds * 1000, seconds)
        for i in range(0, len(rows), 30_000):
            buffer.put(rows[i : i + 30_000])
        backlog = len(rows)
        settings = ForwarderSettings()
        # batches as the forwarder cuts them: batch_points or batch_bytes, whichever binds first
        line_bytes = sum(len(r.line) + 15 for r in rows[:5000]) // 5000
        per_batch = min(settings.batch_points, settings.batch_bytes // line_bytes)
        raw = raw_rate(client, rows, per_batch, settings.concurrency)
        del rows
        clock = Clock(check=lambda: True)
        pipeline = Pipeline(buffer, clock, Stats(buffer, clock), commit_interval_ms=200)
        key, _ = GatewayKey.load_or_create(workdir / "evidence" / "gateway.key")
        signer = BatchSigner(
            key, SITE, runtime=tmpfs / "evidence", durable=workdir / "evidence" / "chain.json"
        )
        signer.start()
        forwarder = Forwarder(buffer, InfluxV1Writer(client, database="backfill"), settings, signer=signer)
        stop, stop_forwarder = asyncio.Event(), asyncio.Event()
        emitted: list[int] = []
        tasks = [
            asyncio.create_task(pipeline.run()),
            asyncio.create_task(live(pipeline, stop, emitted)),
            asyncio.create_task(forwarder.run(stop_forwarder, pipeline.committed)),
        ]
        start = time.monotonic()
        worst_live_delay = 0.0
        while True:
            await asyncio.sleep(0.5)
            if emitted:
                newest = await asyncio.to_thread(
                    client.select, f"SELECT last(up) FROM uplink WHERE time >= {now_ms}ms"
                )
                rows = newest.rows()
                seen = rows[0]["time"] if rows else 0
                missing = [t for t in emitted if t > seen]
                if missing:
                    worst_live_delay = max(worst_live_delay, time.time() - missing[0] / 1000)
            # drained once less than a batch is left: that goes with the live points (forwarder.live_interval_s)
            left = buffer.ready
            if (
                buffer.counters["forwarded_total"] >= backlog - settings.batch_points
                and left < settings.batch_points
            ):
                break
        drain_s = time.monotonic() - start
        stop.set()
        await pipeline.close()
        stop_forwarder.set()
        await asyncio.gather(*tasks)
        buffer.close()
        return backlog, drain_s, worst_live_delay, raw
    finally:
        server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--hours", type=float, default=24.0)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    with (
        tempfile.TemporaryDirectory(prefix="thonminh-backfill-") as tmp,
        tempfile.TemporaryDirectory(
            prefix="thonminh-backfill-", dir=intake_path(Path(tmp)).parent.parent
        ) as shm,
    ):
        backlog, drain_s, live_delay, raw = asyncio.run(run(args.hours, Path(tmp), Path(shm)))
    print(
        f"Backfill of {args.hours:g} h at the standard village load ({backlog:,} points, "
        f"{per_day():,} a day); live load emitted in real time during the drain.\n"
    )
    print("| figure | measured | limit | ratio |")
    print("| --- | --- | --- | --- |")
    print(
        f"| drain {backlog:,} points | {drain_s:.1f} s ({backlog / drain_s:,.0f} points/s) | "
        f"{TARGET_S:.0f} s | {drain_s / TARGET_S:.2f} |"
    )
    print(
        f"| drain rate against the raw limit (same lines straight to /write, same batches) | "
        f"{backlog / drain_s:,.0f} points/s | {raw:,.0f} points/s | {backlog / drain_s / raw:.2f} |"
    )
    print(
        f"| worst delay of a live point during the drain | {live_delay:.1f} s | 10 s (its own cadence) | "
        f"{live_delay / 10:.2f} |"
    )


if __name__ == "__main__":
    main()
