"""The clock rule, driven by a fake clock source: held samples, corrected times, marked leftovers, jumps."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import pytest
from edge_helpers import (
    BASE_MS,
    MEASUREMENT,
    CounterSource,
    FakeClock,
    arrived,
    async_wait_until,
    count,
    gateway_toml,
)

from edge.buffer import Buffer, NewRow
from edge.clock import (
    STA_UNSYNC,
    TIME_ERROR,
    Clock,
    Timex,
    adjtimex_check,
    file_check,
    read_timex,
    synchronised,
)
from thonminh.influx import InfluxClient

DAY_S = 86_400


@pytest.mark.parametrize(
    ("timex", "synced"),
    [
        (Timex(0, 0x2001, 500), True),  # TIME_OK, STA_PLL | STA_NANO: NTP disciplines the clock
        (Timex(1, 0x0011, 500), True),  # TIME_INS: a leap second announced is still synchronised
        (Timex(TIME_ERROR, STA_UNSYNC, 16_000_000), False),  # a fresh boot without NTP
        (Timex(0, STA_UNSYNC | 0x2000, 500), False),  # the bit alone is enough
        (Timex(TIME_ERROR, 0, 500), False),  # and so is the state alone
        (Timex(-1, 0, 0), False),  # the call failed
    ],
)
def test_the_kernels_word_on_synchronisation(timex: Timex, synced: bool):
    assert synchronised(timex) is synced


def test_adjtimex_reads_this_kernels_clock_state():
    timex = read_timex()
    assert 0 <= timex.state <= TIME_ERROR, timex  # TIME_OK .. TIME_ERROR: the call worked
    # the kernel keeps these consistent (kernel/time/ntp.c): STA_UNSYNC makes the state TIME_ERROR, and the
    # maximum error never exceeds NTP_PHASE_LIMIT (16 s); a wrong struct layout would read other words here
    if timex.status & STA_UNSYNC:
        assert timex.state == TIME_ERROR, timex
    assert 0 <= timex.maxerror_us <= 16_000_000, timex
    assert adjtimex_check() is synchronised(timex)


def test_file_check(tmp_path: Path):
    check = file_check(tmp_path / "synced")
    assert check() is False
    (tmp_path / "synced").touch()
    assert check() is True


def test_transitions_and_jumps_are_detected_and_logged(caplog):
    caplog.set_level(logging.INFO, logger="edge.clock")
    state = {"wall": 1000.0, "mono": 50.0, "synced": False}
    clock = Clock(
        check=lambda: state["synced"],
        wall=lambda: state["wall"],
        mono=lambda: state["mono"],
        boot_id="b",
        jump_threshold_s=2.0,
    )
    assert [e.kind for e in clock.observe()] == ["unsynced"]
    state["wall"] += 500  # a jump while unsynchronised is what NTP does at sync: not a warning
    state["synced"] = True
    assert [e.kind for e in clock.observe()] == ["synced"]
    state["wall"] += 10
    state["mono"] += 10
    assert clock.observe() == []  # time passing is no jump
    state["wall"] -= 30
    events = clock.observe()
    assert [(e.kind, e.jump_s) for e in events] == [("jump", -30.0)]
    state["wall"] += 3600
    assert [(e.kind, e.jump_s) for e in clock.observe()] == [("jump", 3600.0)]
    state["synced"] = False
    assert [e.kind for e in clock.observe()] == ["unsynced"]
    messages = [r.getMessage() for r in caplog.records]
    assert messages == [
        "clock not synchronised: samples are held until it is",
        "clock synchronised",
        "wall clock jumped backwards while synchronised",
        "wall clock jumped forwards while synchronised",
        "clock not synchronised: samples are held until it is",
    ]


def test_a_failing_check_counts_as_unsynchronised():
    def broken() -> bool:
        raise OSError("no adjtimex here")

    assert Clock(check=broken, boot_id="b").synced() is False


async def test_samples_taken_unsynchronised_are_held_then_written_with_corrected_times(
    influx: InfluxClient, tmp_path: Path, start_agent
):
    fake = FakeClock(offset_s=-3 * DAY_S, synced=False)  # booted with a stale time, NTP unreachable
    config = gateway_toml(
        tmp_path, url=influx.url, database=influx.database, tables={"buffer": {"commit_interval_ms": 2}}
    )
    total = 100
    # one point per emit, 5 ms apart: each has its own timestamp in the series
    counter = CounterSource.Config(run=11, total=total, per_emit=1, pause_s=0.005, stamp_now=True)
    real_start = time.time()
    agent, running = await start_agent(config, clock=fake.clock(), extra_sources=[(CounterSource, counter)])
    source = agent.sources[-1]
    await async_wait_until(
        lambda: source.done and source.done.is_set() and agent.buffer.held == total,
        what="the stream to be held",
    )
    real_end = time.time()
    assert count(influx, 11) == 0  # nothing with an unsynchronised time reaches InfluxDB
    snapshot = agent.stats.snapshot()
    assert snapshot.clock_synced == 0 and snapshot.lag_s > 0

    fake.offset_s = 0.0  # NTP answers: the wall clock steps to the true time and is synchronised
    fake.synced = True
    await async_wait_until(lambda: count(influx, 11) == total, what="the corrected points")
    await running.finish()
    rows = sorted(arrived(influx, 11), key=lambda r: r["n"])
    times = [r["time"] for r in rows]
    assert times == sorted(times)
    assert real_start * 1000 - 50 <= times[0] and times[-1] <= real_end * 1000 + 50, (real_start, times[0])
    assert all("clock_unsynced" not in r or r["clock_unsynced"] is None for r in rows)


async def test_samples_held_in_a_previous_boot_arrive_marked(
    influx: InfluxClient, tmp_path: Path, start_agent
):
    config = gateway_toml(tmp_path, url=influx.url, database=influx.database)
    with Buffer(tmp_path / "buffer.sqlite", max_bytes=1024 * 1024, boot_id="boot-before-power-cut") as buffer:
        buffer.put(
            [
                NewRow(f"{MEASUREMENT},gateway=g1,run=12,village=v1 n={i}i", BASE_MS + i, mono=3.0 + i)
                for i in range(5)
            ]
        )
        buffer.put([NewRow(f"{MEASUREMENT},gateway=g1,run=12,village=v1 n=5i", BASE_MS + 5)])
    agent, running = await start_agent(config, clock=FakeClock(boot_id="boot-after").clock())
    await async_wait_until(lambda: count(influx, 12) == 6, what="the leftovers")
    await running.finish()
    marks = {r["n"]: r.get("clock_unsynced") for r in arrived(influx, 12)}
    assert marks == {0: 1, 1: 1, 2: 1, 3: 1, 4: 1, 5: None}
