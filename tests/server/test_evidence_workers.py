"""A long window verified cold by worker processes finds what one process finds, hour for hour, on a real
InfluxDB: clean hours and faults in every part, at their times."""

from __future__ import annotations

import multiprocessing
import time
from pathlib import Path

import httpx
import pytest
from signed_kit import SITE, registry_at, signed_hours

from lab.localservices import free_port
from server.evidence.combine import combine
from server.evidence.registry import Registry
from server.evidence.source import HOUR_MS, read_and_verify
from server.evidence.workers import Workers
from server.queries import Source
from server.timeparse import iso
from thonminh.contract import Point
from thonminh.errors import InfluxConnectionError
from thonminh.evidence import EVIDENCE_FIELD
from thonminh.influx import InfluxClient
from thonminh.lineprotocol import encode_line

T0 = 1_795_000_000_000 - 1_795_000_000_000 % HOUR_MS
HOURS = 60


@pytest.fixture
def registry(tmp_path: Path) -> Registry:
    return registry_at(tmp_path)


def _raw(influx: InfluxClient):  # type: ignore[no-untyped-def]
    return lambda measurement: Source(influx.database or "", None, measurement)


def test_two_processes_find_what_one_finds(influx: InfluxClient, registry: Registry) -> None:
    gw = signed_hours(influx, registry, T0, HOURS)
    # a fault in each part: a value altered in the first hour, a batch deleted in the last
    t = T0 + 5 * 60_000
    seq = next(m.seq for m in gw.manifests if m.first_ms <= t <= m.last_ms)
    fields = {
        "up": 0,
        "up_s": 0.0,
        "observed_s": 60.0,
        "targets_ok": 0,
        "targets_total": 3,
        EVIDENCE_FIELD: seq,
    }
    influx.write(encode_line(Point("uplink", {**SITE, "link": "fiber"}, fields, t)))
    gone = gw.manifests[-5]
    influx.query(f"DELETE FROM /.*/ WHERE time >= '{iso(gone.first_ms)}' AND time <= '{iso(gone.last_ms)}'")
    influx.query(f"DELETE FROM \"evidence\" WHERE time = '{iso(gone.time_ms)}'")
    keys, end = registry.snapshot(), T0 + HOURS * HOUR_MS
    alone = list(read_and_verify(influx, _raw(influx), keys, SITE["village"], T0, end))
    workers = Workers(2, split_hours=24)
    try:
        shared = list(workers.read_and_verify(influx, _raw(influx), keys, SITE["village"], T0, end))
        assert workers.sent == 2
    finally:
        workers.close()
    assert shared == alone
    assert [h.hour_ms for h in shared] == list(range(T0, end, HOUR_MS))
    found = combine(shared)
    assert found == combine(alone)
    assert {(f.kind, f.start_ms, f.end_ms) for f in found.faults} == {
        ("altered", t, t),
        ("missing_seq", gw.manifests[-6].last_ms, gw.manifests[-4].first_ms),
    }


def test_a_short_window_or_a_client_of_its_own_stays_here(influx: InfluxClient, registry: Registry) -> None:
    signed_hours(influx, registry, T0, 3)
    keys = registry.snapshot()
    counting = InfluxClient(influx.url, database=influx.database, transport=httpx.HTTPTransport())
    workers = Workers(2, split_hours=2)
    try:
        short = list(workers.read_and_verify(influx, _raw(influx), keys, SITE["village"], T0, T0 + HOUR_MS))
        own = list(
            workers.read_and_verify(counting, _raw(influx), keys, SITE["village"], T0, T0 + 3 * HOUR_MS)
        )
        assert workers.sent == 0
    finally:
        workers.close()
        counting.close()
    assert [h.hour_ms for h in short] == [T0] and len(own) == 3


def test_a_process_killed_costs_one_window_here_and_new_processes_take_the_next(
    influx: InfluxClient, registry: Registry
) -> None:
    signed_hours(influx, registry, T0, HOURS)
    keys, end = registry.snapshot(), T0 + HOURS * HOUR_MS
    alone = list(read_and_verify(influx, _raw(influx), keys, SITE["village"], T0, end))
    workers = Workers(2, split_hours=24)
    try:
        assert list(workers.read_and_verify(influx, _raw(influx), keys, SITE["village"], T0, end)) == alone
        for process in multiprocessing.active_children():  # the pool's, as the kernel's OOM killer would
            process.kill()
            process.join()
        assert list(workers.read_and_verify(influx, _raw(influx), keys, SITE["village"], T0, end)) == alone
        sent = workers.sent
        assert list(workers.read_and_verify(influx, _raw(influx), keys, SITE["village"], T0, end)) == alone
        assert workers.sent == sent + 2
    finally:
        workers.close()


def test_influxdb_unreachable_is_the_same_error_from_the_processes(registry: Registry) -> None:
    down = InfluxClient(f"http://127.0.0.1:{free_port()}", database="thonminh", timeout=2)
    workers = Workers(2, split_hours=24)
    try:
        with pytest.raises(InfluxConnectionError):
            list(
                workers.read_and_verify(
                    down, _raw(down), registry.snapshot(), SITE["village"], T0, T0 + HOURS * HOUR_MS
                )
            )
        assert workers.sent == 2
    finally:
        workers.close()
        down.close()


def test_each_part_gives_its_memory_back_when_it_is_done(influx: InfluxClient, registry: Registry) -> None:
    # a province's first start verifies 2,000 months one after the other: a process kept between them would
    # keep a day's answers' worth of memory (about 150 MB) for as long as the service runs
    signed_hours(influx, registry, T0, HOURS)
    workers = Workers(2, split_hours=24)
    try:
        list(
            workers.read_and_verify(
                influx, _raw(influx), registry.snapshot(), SITE["village"], T0, T0 + HOURS * HOUR_MS
            )
        )
        deadline = time.monotonic() + 20
        while (held := _rss_mb(multiprocessing.active_children())) and max(held) >= 30:
            assert time.monotonic() < deadline, f"the pool's processes hold {held} MB after their parts"
            time.sleep(0.1)
    finally:
        workers.close()


def _rss_mb(processes: list[multiprocessing.process.BaseProcess]) -> list[float]:
    """Resident memory of each live process; a process that ended meanwhile is left out."""
    found = []
    for process in processes:
        try:
            status = Path(f"/proc/{process.pid}/status").read_text()
        except FileNotFoundError:
            continue
        found += [int(line.split()[1]) / 1024 for line in status.splitlines() if line.startswith("VmRSS:")]
    return found
