"""One uplink source instance, cycle by cycle, with a hand-moved clock: samples, events, active route."""

from __future__ import annotations

from pathlib import Path

from sourcekit import FakeClock

from edge.sources.uplink.source import UplinkSource
from lab.simulate.targets import HttpTarget, TcpTarget
from thonminh.lineprotocol import encode_line

from .conftest import FIXTURES


def make_source(make_ctx, clock: FakeClock, *targets: dict, **kw) -> UplinkSource:
    settings = {"interface": "lo", "interval_s": 10, "timeout_s": 0.5, "down_after": 2, "up_after": 2, **kw}
    config = UplinkSource.Config(link="fiber", targets=list(targets), **settings)
    return UplinkSource(config, make_ctx(clock))


async def test_up_and_down_cycles_write_samples_and_backdated_events(
    make_ctx, tcp: TcpTarget, http: HttpTarget
):
    clock = FakeClock()
    t0 = clock.wall_ms
    source = make_source(
        make_ctx,
        clock,
        {"kind": "tcp", "host": "127.0.0.1", "port": tcp.port},
        {"kind": "http", "url": f"http://127.0.0.1:{http.port}/"},
        min_ok=2,
    )
    timeline = []
    for i in range(8):
        if i == 3:
            tcp.down()
        if i == 6:
            tcp.up()
        timeline.append(await source.sample())
        clock.advance(10)
    for points in timeline:
        for point in points:
            encode_line(point)  # every point is valid line protocol for the contract
    samples = [points[0] for points in timeline]
    assert [s.fields["up"] for s in samples] == [1, 1, 1, 0, 0, 0, 1, 1]
    up, down = samples[0].fields, samples[3].fields
    assert up["up_s"] == up["observed_s"] == 10 and up["targets_ok"] == 2 and up["loss_pct"] == 0
    assert up["rtt_ms"] > 0
    assert down["up_s"] == 0 and "rtt_ms" not in down and down["loss_pct"] == 50 and down["targets_ok"] == 1
    assert samples[3].tags["link"] == "fiber" and samples[3].tags["village"] == "kha-ly-thuong"
    events = [(i, p) for i, points in enumerate(timeline) for p in points[1:]]
    assert [(i, e.fields["state"], e.time_ms - t0) for i, e in events] == [
        (1, "up", 0),
        (4, "down", 30_000),
        (7, "up", 60_000),
    ]
    assert events[0][1].fields["reason"] == "start" and "previous_state_s" not in events[0][1].fields
    assert events[1][1].fields["previous_state_s"] == 30.0
    assert "1/2 targets answered (min_ok 2): tcp 127.0.0.1" in events[1][1].fields["reason"]
    assert "refused" in events[1][1].fields["reason"]
    assert events[2][1].fields["previous_state_s"] == 30.0


async def test_observed_seconds_never_claim_a_missed_cycle(make_ctx, tcp: TcpTarget):
    clock = FakeClock()
    source = make_source(make_ctx, clock, {"kind": "tcp", "host": "127.0.0.1", "port": tcp.port})
    observed = []
    for step in (10, 10, 25, 4, 10):  # one tick missed (25 s), one early cycle (4 s)
        observed.append((await source.sample())[0].fields["observed_s"])
        clock.advance(step)
    assert observed == [10, 10, 10, 10, 4]


async def test_active_follows_the_default_route(make_ctx, tmp_path: Path, tcp: TcpTarget):
    # the real failover tables, with the fiber interface renamed to this machine's loopback
    before, after = tmp_path / "before", tmp_path / "after"
    before.write_text((FIXTURES / "proc_net_route_failover.txt").read_text().replace("fib0", "lo"))
    after.write_text((FIXTURES / "proc_net_route_after_failover.txt").read_text().replace("fib0", "lo"))
    target = {"kind": "tcp", "host": "127.0.0.1", "port": tcp.port}
    fiber = make_source(make_ctx, FakeClock(), target, route_table=before, route_table_v6=tmp_path / "none")
    assert (await fiber.sample())[0].fields["active"] == 1
    fiber = make_source(make_ctx, FakeClock(), target, route_table=after, route_table_v6=tmp_path / "none")
    assert (await fiber.sample())[0].fields["active"] == 0
    by_address = make_source(
        make_ctx,
        FakeClock(),
        target,
        interface=None,
        source_address="127.0.0.1",
        route_table=before,
        route_table_v6=tmp_path / "none",
    )
    assert (await by_address.sample())[0].fields["active"] == 1
    unknown = make_source(
        make_ctx,
        FakeClock(),
        target,
        interface=None,
        source_address="127.0.0.2",
        route_table=before,
        route_table_v6=tmp_path / "none",
    )
    assert "active" not in (await unknown.sample())[0].fields  # 127.0.0.2 belongs to no interface: unknown


async def test_every_target_dead_is_data_not_an_exception(make_ctx):
    clock = FakeClock()
    source = make_source(
        make_ctx,
        clock,
        {"kind": "tcp", "host": "127.0.0.1", "port": 9},
        {"kind": "icmp", "host": "127.0.0.1"},
        interface="thonminh0",
        down_after=1,
    )
    points = await source.sample()
    assert points[0].fields["up"] == 0 and points[0].fields["targets_ok"] == 0
    assert (points[1].fields["state"], points[1].fields["reason"]) == ("down", "start")
    assert source._reason(await source.prober.cycle(), False) == (
        "0/2 targets answered (min_ok 1): tcp 127.0.0.1:9: no interface thonminh0; "
        "icmp 127.0.0.1: no interface thonminh0"
    )
