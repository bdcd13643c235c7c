"""The emit path (group commit, per-point encoding, failures reported) and the agent's source scheduling."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Sequence
from pathlib import Path

import pytest
from edge_helpers import MEASUREMENT, FakeClock, gateway_toml

from edge.buffer import Buffer
from edge.pipeline import COMMIT_POINTS, BufferWriteError, Pipeline
from edge.sources.base import PolledSource, PushSource, SourceConfig, SourceContext
from edge.stats import Stats
from thonminh.contract import Point
from thonminh.errors import ConfigError

MB = 1024 * 1024


class CountingBuffer(Buffer):
    """The real buffer, counting transactions; ``fail`` makes the next commits raise like a full disk."""

    commits = 0
    fail = 0

    def put(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        if self.fail:
            self.fail -= 1
            raise sqlite3.OperationalError("database or disk is full")
        self.commits += 1
        return super().put(*args, **kwargs)


def point(i: int, **fields: object) -> Point:
    return Point(
        MEASUREMENT, {"village": "v1", "gateway": "g1", "run": "0"}, fields or {"n": i}, 1_700_000_000_000 + i
    )


def stored(path: Path) -> int:
    with sqlite3.connect(path) as db:
        return db.execute("SELECT coalesce(sum(n), 0) FROM points").fetchone()[0]


async def make_pipeline(
    tmp_path: Path, interval_ms: int
) -> tuple[Pipeline, CountingBuffer, asyncio.Task[None]]:
    buffer = CountingBuffer(tmp_path / "b.sqlite", max_bytes=MB)
    clock = FakeClock().clock()
    pipeline = Pipeline(buffer, clock, Stats(buffer, clock), commit_interval_ms=interval_ms)
    return pipeline, buffer, asyncio.create_task(pipeline.run())


async def test_emits_share_one_commit_and_resolve_only_once_on_disk(tmp_path: Path):
    pipeline, buffer, task = await make_pipeline(tmp_path, interval_ms=150)
    seen_on_disk: list[int] = []

    async def emitter(k: int) -> None:
        await pipeline.emit([point(k * 10 + j) for j in range(10)])
        seen_on_disk.append(stored(tmp_path / "b.sqlite"))  # another connection sees them: committed

    loop = asyncio.get_running_loop()
    start = loop.time()
    await asyncio.gather(*(emitter(k) for k in range(20)))
    assert loop.time() - start >= 0.14  # waited for the group commit
    assert buffer.commits == 1
    assert min(seen_on_disk) == 200
    await pipeline.close()
    await task
    buffer.close()


async def test_a_burst_commits_without_waiting_out_the_interval(tmp_path: Path):
    pipeline, buffer, task = await make_pipeline(tmp_path, interval_ms=10_000)
    loop = asyncio.get_running_loop()
    start = loop.time()
    await pipeline.emit([point(i) for i in range(COMMIT_POINTS)])
    assert loop.time() - start < 5 and buffer.points == COMMIT_POINTS
    await pipeline.close()
    await task
    buffer.close()


async def test_one_unencodable_point_is_dead_lettered_the_rest_committed(tmp_path: Path):
    pipeline, buffer, task = await make_pipeline(tmp_path, interval_ms=0)
    await pipeline.emit([point(0), point(1, n=float("inf")), point(2), Point(MEASUREMENT, {}, {}, 5)])
    assert buffer.points == 2
    letters = buffer.dead_letters()
    assert [d.error.split(":")[0] for d in letters] == ["EncodeError", "EncodeError"]
    assert '"fields": {"n": Infinity}' in letters[0].point and letters[0].t_ms == 1_700_000_000_001
    await pipeline.close()
    await task
    buffer.close()


async def test_a_failed_commit_is_reported_to_the_emitter_and_the_next_one_works(tmp_path: Path):
    pipeline, buffer, task = await make_pipeline(tmp_path, interval_ms=0)
    buffer.fail = 1
    with pytest.raises(BufferWriteError, match="disk is full"):
        await pipeline.emit([point(0)])
    await pipeline.emit([point(1)])
    assert buffer.points == 1
    await pipeline.close()
    await task
    with pytest.raises(BufferWriteError, match="closed"):
        await pipeline.emit([point(2)])
    buffer.close()


class TickConfig(SourceConfig):
    slow_tick: int = 3
    fail_tick: int = 5


class TickSource(PolledSource):
    """Records when it is sampled; one sample is slow, one raises."""

    kind = "tick"
    Config = TickConfig
    config: TickConfig
    times: list[float]

    async def init(self) -> None:
        self.times = []

    async def sample(self) -> Sequence[Point]:
        loop = asyncio.get_running_loop()
        self.times.append(loop.time())
        k = len(self.times)
        if k == self.config.slow_tick:
            await asyncio.sleep(self.config.interval_s * 2.5)
        if k == self.config.fail_tick:
            raise RuntimeError("device went away")
        return [self.ctx.point(MEASUREMENT, {"run": "1"}, {"n": k})]


class FlakyPush(PushSource):
    kind = "flaky"
    Config = SourceConfig
    runs = 0

    async def run(self) -> None:
        type(self).runs += 1
        raise ConnectionError("broker gone")


async def test_polled_schedule_is_drift_free_skips_missed_ticks_and_survives_errors(
    tmp_path: Path, start_agent
):
    config = gateway_toml(tmp_path, url="http://127.0.0.1:9", database="x")  # no InfluxDB needed here
    # half a second: a tick may start late on a loaded machine (54 ms once in CI, a quarter of a 0.2 s grid) but
    # never off the grid, where a drifting schedule would resume after the slow tick (half an interval off)
    interval = 0.5
    agent, running = await start_agent(
        config, extra_sources=[(TickSource, TickConfig(interval_s=interval)), (FlakyPush, SourceConfig())]
    )
    tick = agent.sources[0]
    while len(tick.times) < 9:
        await asyncio.sleep(0.05)
    await running.finish()
    start = tick.times[0]
    slots = [(t - start) / interval for t in tick.times]
    # every sample starts on the grid start + k * interval (no drift), ticks 3 and 4 are skipped after the slow one
    assert all(abs(s - round(s)) < 0.25 for s in slots), slots
    assert [round(s) for s in slots[:5]] == [0, 1, 2, 5, 6]
    assert agent.stats.source_errors["tick:tick"] == 1
    assert agent.buffer.points >= 8  # samples kept flowing after the error
    assert FlakyPush.runs >= 1 and agent.stats.source_errors["flaky:flaky"] >= 1


class BadConfigSource(PushSource):
    kind = "badcfg"
    Config = SourceConfig

    async def init(self) -> None:
        raise ConfigError("sources.badcfg.port: nothing listens there")

    async def run(self) -> None:  # pragma: no cover - never reached
        await asyncio.Event().wait()


async def test_a_config_error_at_init_stops_the_agent(tmp_path: Path, start_agent):
    config = gateway_toml(tmp_path, url="http://127.0.0.1:9", database="x")
    with pytest.raises(ConfigError, match="nothing listens there"):
        await start_agent(config, extra_sources=[(BadConfigSource, SourceConfig())])


UPLINK = """
[[sources.uplink]]
link = "{link}"
interface = "{interface}"
enabled = {enabled}
[[sources.uplink.targets]]
kind = "tcp"
host = "127.0.0.1"
port = 9
"""


async def test_a_source_config_error_names_its_key_path_counting_disabled_instances(
    tmp_path: Path, start_agent
):
    """The third [[sources.uplink]] is sources.uplink[2] even with the second disabled (it was found by
    comparing configs with the whole gateway config's, which the source no longer sees)."""
    config = gateway_toml(tmp_path, url="http://127.0.0.1:9", database="x")
    with config.open("a") as f:
        f.write(UPLINK.format(link="fiber", interface="lo", enabled="true"))
        f.write(UPLINK.format(link="4g", interface="lo", enabled="false"))
        f.write(UPLINK.format(link="backup", interface="nosuchif9", enabled="true"))
    with pytest.raises(
        ConfigError, match=r"^sources\.uplink\[2\]\.interface: no network interface 'nosuchif9'"
    ):
        await start_agent(config)


class Probe(PolledSource):
    """Keeps the context it was given."""

    kind = "probe"
    Config = SourceConfig

    async def sample(self) -> Sequence[Point]:
        return []


class BrokerProbe(Probe):
    kind = "brokerprobe"
    uses_mqtt = True
    uses_stats = True


async def test_sources_get_a_narrow_context_with_only_what_they_use(tmp_path: Path, start_agent):
    config = gateway_toml(
        tmp_path,
        url="http://127.0.0.1:9",
        database="x",
        gateway_source=True,
        tables={"mqtt": {"host": "127.0.0.1", "port": 1884}},
    )
    agent, running = await start_agent(
        config, extra_sources=[(Probe, SourceConfig()), (BrokerProbe, SourceConfig())]
    )
    by_kind = {s.kind: s.ctx for s in agent.sources}
    plain, broker, gateway = by_kind["probe"], by_kind["brokerprobe"], by_kind["gateway"]
    assert dict(plain.site_tags) == {"village": "v1", "gateway": "g1"}
    assert (plain.timezone, plain.location, plain.key_path) == (
        "Asia/Ho_Chi_Minh",
        (21.0, 106.0),
        "sources.probe",
    )
    assert gateway.key_path == "sources.gateway"
    # the broker and the pipeline's figures only for the sources that said they use them
    assert plain.mqtt is None and plain.stats is None and gateway.mqtt is None
    assert broker.mqtt is not None and broker.mqtt.port == 1884
    assert gateway.stats is not None and broker.stats is not None
    figures = await asyncio.to_thread(gateway.stats)
    assert {"buffer_points", "forwarded_total", "clock_synced"} <= set(figures)
    assert plain.clock_synced() is True  # clock.check = "always"
    # nothing in a context leads to the buffer or to the rest of the config
    assert not {"gateway", "extra", "buffer"} & set(SourceContext.__dataclass_fields__)
    await running.finish()
