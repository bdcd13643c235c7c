"""``api = "v2"``: influxdb-client's real HTTP requests to /api/v2/write, mapped onto a real InfluxDB 1.x."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest
from edge_helpers import BASE_MS, MEASUREMENT, CounterSource, arrived, async_wait_until, count, gateway_toml
from v2_adapter import Fault, V2Adapter, bucket_to_dbrp

from lab.localservices import InfluxDBServer
from thonminh.contract import Point
from thonminh.influx import InfluxClient


def test_adapter_maps_buckets_like_influxdb_1_8(influx: InfluxClient):
    assert bucket_to_dbrp("db/rp") == ("db", "rp")
    assert bucket_to_dbrp("db") == ("db", "")
    with pytest.raises(ValueError, match="empty database"):
        bucket_to_dbrp("/rp")
    with V2Adapter(influx.url) as adapter:
        write = f"{adapter.url}/api/v2/write"
        body = f"{MEASUREMENT},run=0 n=1i 1700000000000000000"
        assert (
            httpx.post(
                write, params={"bucket": f"{influx.database}/autogen", "precision": "ns"}, content=body
            ).status_code
            == 204
        )
        assert httpx.post(write, params={"bucket": "", "precision": "ms"}, content=body).status_code == 404
        bad = httpx.post(write, params={"bucket": influx.database, "precision": "m"}, content=body)
        assert bad.status_code == 400 and "invalid precision" in bad.json()["error"]
    assert [r["time"] for r in arrived(influx)] == [1_700_000_000_000]


async def test_v2_stream_through_an_outage_and_a_refused_point(
    influxdb_server: InfluxDBServer, tmp_path: Path, start_agent
):
    client = InfluxClient(influxdb_server.url, database="v2db")
    client.create_database("v2db")
    client.write(f"{MEASUREMENT},gateway=g1,run=9,village=v1 n=0i {BASE_MS - 1}")
    with V2Adapter(influxdb_server.url) as adapter:
        adapter.faults.append(Fault(503, {"Retry-After": "0"}))
        config = gateway_toml(tmp_path, url=adapter.url, database="v2db", api="v2")
        total = 3000
        counter = CounterSource.Config(run=9, total=total, per_emit=10, pause_s=0.004)
        agent, running = await start_agent(config, extra_sources=[(CounterSource, counter)])
        assert type(agent.forwarder.writer).__name__ == "InfluxV2Writer"
        source = agent.sources[-1]
        await async_wait_until(lambda: count(client, 9) > 100, what="first points through v2")
        await asyncio.to_thread(influxdb_server.stop)
        at = source.emitted
        await async_wait_until(lambda: source.emitted > at + 500, what="a stream during the outage")
        await asyncio.to_thread(influxdb_server.start)
        bad = Point(
            MEASUREMENT, {"village": "v1", "gateway": "g1", "run": "9"}, {"n": "text"}, BASE_MS + total
        )
        await agent.pipeline.emit([bad])
        await async_wait_until(lambda: source.done and source.done.is_set(), what="the stream to end")
        await async_wait_until(
            lambda: count(client, 9) == total + 1 and agent.buffer.points == 0, what="every point through v2"
        )
        await running.finish()
        statuses = {s.status for s in adapter.seen}
    assert {204, 503, 400} <= statuses
    rows = [r for r in arrived(client, 9) if r["time"] >= BASE_MS]
    assert sorted(r["n"] for r in rows) == list(range(total))
    assert all(r["time"] == BASE_MS + r["n"] for r in rows)
    letters = agent.buffer.counters["dead_letter_total"]
    assert letters == 1
