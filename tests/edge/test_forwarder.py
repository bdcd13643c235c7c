"""Store-and-forward into a real InfluxDB: outages, a killed server, refused points, Retry-After, live share."""

from __future__ import annotations

import asyncio
import logging
import math
import time
from pathlib import Path

from edge_helpers import BASE_MS, MEASUREMENT, CounterSource, arrived, async_wait_until, count, gateway_toml
from v2_adapter import Fault, V2Adapter

from edge.buffer import Buffer, NewRow
from edge.config import ForwarderSettings
from edge.forwarder import Forwarder
from lab.localservices import InfluxDBServer
from thonminh.contract import Point
from thonminh.influx import InfluxClient, InfluxV1Writer

MB = 1024 * 1024


def assert_exactly(client: InfluxClient, run: int, total: int) -> None:
    rows = arrived(client, run)
    assert len(rows) == total
    assert sorted(r["n"] for r in rows) == list(range(total))
    assert all(r["time"] == BASE_MS + r["n"] for r in rows)


async def test_influxdb_stopped_during_a_stream_every_point_arrives_exactly_once(
    influxdb_server: InfluxDBServer, tmp_path: Path, start_agent
):
    client = InfluxClient(influxdb_server.url, database="outage")
    client.create_database("outage")
    config = gateway_toml(tmp_path, url=influxdb_server.url, database="outage")
    total = 6000
    counter = CounterSource.Config(run=1, total=total, per_emit=25, pause_s=0.004)
    agent, running = await start_agent(config, extra_sources=[(CounterSource, counter)])
    source = agent.sources[-1]
    await async_wait_until(lambda: count(client, 1) > 200, what="first points in InfluxDB")
    await asyncio.to_thread(influxdb_server.stop)
    stopped_at = source.emitted
    await async_wait_until(lambda: source.emitted > stopped_at + 1500, what="a stream during the outage")
    assert agent.buffer.points > 1000  # they wait in the buffer
    await asyncio.to_thread(influxdb_server.start)
    await async_wait_until(lambda: source.done and source.done.is_set(), what="the stream to end")
    await async_wait_until(lambda: count(client, 1) == total, what="every point")
    await running.finish()
    assert_exactly(client, 1, total)
    assert agent.buffer.counters["forwarded_total"] >= total
    assert agent.buffer.counters["dropped_total"] == 0


class RecordingWriter:
    """The real v1 writer, recording each attempt and its failure (an injected wrapper, not a mock)."""

    def __init__(self, inner: InfluxV1Writer) -> None:
        self.inner = inner
        self.sizes: list[int] = []
        self.failures: list[str] = []

    def write(self, lines: str | bytes, *, timeout: float | None = None) -> None:
        self.sizes.append((lines.decode() if isinstance(lines, bytes) else lines).count("\n") + 1)
        try:
            self.inner.write(lines, timeout=timeout)
        except Exception as err:
            self.failures.append(type(err).__name__)
            raise

    def close(self) -> None:
        self.inner.close()


async def test_influxdb_sigkilled_in_the_middle_of_a_large_batch_loses_nothing(
    influxdb_server: InfluxDBServer, tmp_path: Path
):
    client = InfluxClient(influxdb_server.url, database="killed")
    client.create_database("killed")
    total = 150_000
    buffer = Buffer(tmp_path / "b.sqlite", max_bytes=512 * MB)
    buffer.put([NewRow(f"{MEASUREMENT},run=2 n={i}i", BASE_MS + i) for i in range(total)])
    writer = RecordingWriter(InfluxV1Writer(InfluxClient(influxdb_server.url, timeout=20), database="killed"))
    settings = ForwarderSettings(
        batch_points=50_000,
        batch_bytes=64 * MB,
        live_share=0,
        live_interval_s=0,
        backoff_initial_s=0.05,
        backoff_max_s=0.5,
    )
    forwarder = Forwarder(buffer, writer, settings)
    stop = asyncio.Event()
    task = asyncio.create_task(forwarder.run(stop))

    def writing() -> bool:  # InfluxDB itself says a write request is being processed
        stats = client.select("SHOW STATS FOR 'httpd'").rows()
        return bool(stats and stats[0]["writeReqActive"] > 0)

    await async_wait_until(writing, interval=0.01, what="a write in progress")
    await asyncio.to_thread(influxdb_server.kill)  # SIGKILL while a 50,000-point batch is being written
    await async_wait_until(lambda: writer.failures, what="the write to fail")
    await asyncio.to_thread(influxdb_server.start)
    await async_wait_until(lambda: buffer.points == 0, timeout=60, what="the buffer to drain")
    stop.set()
    await task
    assert count(client, 2) == total
    result = client.select(f"SELECT sum(n), min(n), max(n) FROM {MEASUREMENT}").rows()[0]
    assert (result["sum"], result["min"], result["max"]) == (total * (total - 1) // 2, 0, total - 1)
    assert (
        50_000 - 64 < writer.sizes[0] <= 50_000 and len(writer.sizes) > 3
    )  # whole rows; the batch was retried
    assert writer.failures[0] in ("InfluxConnectionError", "InfluxServerError")
    buffer.close()
    writer.close()


async def test_refused_and_unencodable_points_go_to_dead_letters_the_rest_arrive(
    influx: InfluxClient, tmp_path: Path, start_agent
):
    influx.write(f"{MEASUREMENT},gateway=g1,run=3,village=v1 n=1i {BASE_MS - 1}")  # n is an int field now
    config = gateway_toml(
        tmp_path,
        url=influx.url,
        database=influx.database,
        tables={"forwarder": {"batch_points": 5000}, "buffer": {"commit_interval_ms": 200}},
    )
    agent, running = await start_agent(config)
    tags = {"run": "3"}
    points = [
        Point(MEASUREMENT, {"village": "v1", "gateway": "g1", **tags}, {"n": i}, BASE_MS + i)
        for i in range(1000)
    ]
    points[400] = Point(MEASUREMENT, points[400].tags, {"n": "a string"}, BASE_MS + 400)  # type conflict: 400
    points[700] = Point(MEASUREMENT, points[700].tags, {"n": 700}, 9_300_000_000_000_000)  # beyond ns range
    points[900] = Point(MEASUREMENT, points[900].tags, {"n": math.nan}, BASE_MS + 900)  # cannot be encoded
    await agent.pipeline.emit(points)
    await async_wait_until(lambda: agent.buffer.points == 0, what="the batch to be sorted out")
    letters = agent.buffer.dead_letters()
    await running.finish()
    got = sorted(r["n"] for r in arrived(influx, 3) if r["time"] >= BASE_MS)
    assert got == [i for i in range(1000) if i not in (400, 700, 900)]
    assert len(letters) == 3
    by_error = {d.error.split(":")[0]: d for d in letters}
    assert "EncodeError" in by_error and "nan is not a finite number" in by_error["EncodeError"].error
    refused = [d for d in letters if d.line]
    assert sorted(d.line.split(" ")[1] for d in refused) == ['n="a', "n=700i"]
    assert all("HTTP 400" in d.error for d in refused)
    assert agent.buffer.counters["dead_letter_total"] == 3


async def test_retry_after_and_server_errors_are_retried_never_dropped(influx: InfluxClient, tmp_path: Path):
    with V2Adapter(influx.url) as adapter:
        adapter.faults.extend([Fault(503, {"Retry-After": "1"}), Fault(500), Fault(429), Fault(404)])
        buffer = Buffer(tmp_path / "b.sqlite", max_bytes=MB)
        buffer.put([NewRow(f"{MEASUREMENT},run=4 n={i}i", BASE_MS + i) for i in range(100)])
        writer = InfluxV1Writer(InfluxClient(adapter.url), database=influx.database)
        settings = ForwarderSettings(backoff_initial_s=0.02, backoff_max_s=0.1)
        forwarder = Forwarder(buffer, writer, settings)
        done = await forwarder.drain(deadline_s=30)
        assert done and buffer.points == 0
        statuses = [s.status for s in adapter.seen]
        assert statuses == [503, 500, 429, 404, 204]
        gap = adapter.seen[1].at - adapter.seen[0].at
        assert gap >= 0.95, f"Retry-After: 1 not honoured ({gap:.3f} s)"
        assert adapter.seen[2].at - adapter.seen[1].at < 0.5  # plain backoff is short here
        assert count(influx, 4) == 100 and buffer.dead_letters() == []
        writer.close()
        buffer.close()


async def test_live_data_keeps_flowing_while_a_backlog_drains(influx: InfluxClient, tmp_path: Path, caplog):
    caplog.set_level(logging.INFO)
    buffer = Buffer(tmp_path / "b.sqlite", max_bytes=512 * MB)
    backlog = 100_000
    buffer.put([NewRow(f"{MEASUREMENT},run=5 n={i}i", BASE_MS + i) for i in range(backlog)])
    writer = InfluxV1Writer(InfluxClient(influx.url), database=influx.database)
    settings = ForwarderSettings(batch_points=2000, live_share=0.25, live_interval_s=0)
    forwarder = Forwarder(buffer, writer, settings)
    stop = asyncio.Event()
    task = asyncio.create_task(forwarder.run(stop))
    latencies = []
    for k in range(5):
        t = BASE_MS + 10_000_000 + k
        buffer.put([NewRow(f"{MEASUREMENT},run=6 n={k}i", t)])
        sent = time.monotonic()
        await async_wait_until(lambda k=k: count(influx, 6) == k + 1, interval=0.01, what=f"live point {k}")
        latencies.append(time.monotonic() - sent)
    still_backlogged = count(influx, 5)
    await async_wait_until(lambda: buffer.points == 0, timeout=60, what="the backlog")
    stop.set()
    await task
    assert still_backlogged < backlog, "live points must not wait for the whole backlog"
    assert max(latencies) < 5.0
    assert count(influx, 5) == backlog
    writer.close()
    buffer.close()
