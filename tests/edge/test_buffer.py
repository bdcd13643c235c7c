"""The SQLite store on a real file: order, acks, disk budget, live share, held samples, dead letters, locks."""

from __future__ import annotations

import logging
import os
import re
import zlib
from pathlib import Path

import pytest
from edge_helpers import noise

from edge.buffer import MARK_FIELD, ROW_OVERHEAD, Buffer, BufferLocked, NewDeadLetter, NewRow

MB = 1024 * 1024


def rows(start: int, stop: int, *, mono: float | None = None) -> list[NewRow]:
    return [NewRow(f"m,run=0 n={i}i", 1_700_000_000_000 + i, mono) for i in range(start, stop)]


def noisy(start: int, stop: int) -> list[NewRow]:
    """Points whose rows stay about as large compressed as their text: they fill a disk budget."""
    return [NewRow(f'm,run=0 n={i}i,s="{noise(i, 24)}"', 1_700_000_000_000 + i) for i in range(start, stop)]


def size(i: int) -> int:
    """Bytes the budget counts for point i stored alone: its complete line as stored (compressed when that is
    smaller, which a few of these lines are by a byte or two) and the row overhead."""
    line = f"m,run=0 n={i}i {1_700_000_000_000 + i}".encode()
    return min(len(line), len(zlib.compress(line))) + ROW_OVERHEAD


def numbers(lines: list[str]) -> list[int]:
    return [int(re.search(r" n=(\d+)i", line).group(1)) for line in lines]


def test_commits_are_durable_settings(tmp_path: Path):
    with Buffer(tmp_path / "b.sqlite", max_bytes=MB) as buffer:
        assert buffer._db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert buffer._db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL: fsync at every commit


def test_take_in_order_ack_deletes_and_counters_survive_reopen(tmp_path: Path):
    path = tmp_path / "b.sqlite"
    with Buffer(path, max_bytes=MB, row_points=1) as buffer:
        buffer.put(rows(0, 100))
        batch = buffer.take(30, MB)
        assert numbers(batch.lines) == list(range(30))
        assert batch.lines[0] == "m,run=0 n=0i 1700000000000"
        assert buffer.take(30, MB).ids == batch.ids  # nothing leaves before the ack
        assert buffer.ack(batch) == 30
        assert numbers(buffer.take(5, MB).lines) == [30, 31, 32, 33, 34]
        assert buffer.points == 70
        assert buffer.bytes == sum(size(i) for i in range(30, 100))
    with Buffer(path, max_bytes=MB) as buffer:
        assert buffer.points == 70
        assert buffer.bytes == sum(size(i) for i in range(30, 100))
        assert buffer.counters["forwarded_total"] == 30
        assert buffer.counters["last_write_ms"] > 0


def test_batches_are_bounded_by_bytes_but_always_move(tmp_path: Path):
    with Buffer(tmp_path / "b.sqlite", max_bytes=MB, row_points=1) as buffer:
        buffer.put(rows(0, 100))
        batch = buffer.take(100, 100)
        assert len(batch.body) <= 100 and len(batch) == 3
        buffer.put([NewRow('m,run=0 big="' + "x" * 5000 + '"', 1)])
        buffer.ack(buffer.take(100, 10_000_000))
        assert len(buffer.take(100, 100)) == 1  # a point bigger than a batch still goes, alone


def test_disk_budget_drops_exactly_the_oldest_counts_them_and_logs_once(tmp_path: Path, caplog):
    caplog.set_level(logging.WARNING, logger="edge.buffer")
    with Buffer(
        tmp_path / "b.sqlite", max_bytes=MB, logger=logging.getLogger("edge.buffer"), row_points=1
    ) as buffer:
        budget = (
            buffer.rows_budget
        )  # the rows' share of the disk budget (the WAL and the index take the rest)
        assert budget == int(0.6 * MB)
        total = 40_000
        for start in range(0, total, 997):
            buffer.put(rows(start, min(start + 997, total)))
        # expected: the longest suffix of the sequence that fits in the budget
        kept, used = 0, 0
        for i in reversed(range(total)):
            if used + size(i) > budget:
                break
            used += size(i)
            kept += 1
        assert buffer.points == kept
        assert buffer.bytes == used <= budget
        assert buffer.counters["dropped_total"] == total - kept
        assert numbers(buffer.take(3, MB).lines) == [total - kept, total - kept + 1, total - kept + 2]
    episodes = [r for r in caplog.records if "disk budget" in r.getMessage()]
    assert len(episodes) == 1
    # the file tracks the rows (freed pages are reused): within 25 %; with the WAL, within the disk budget
    assert os.path.getsize(tmp_path / "b.sqlite") < 1.25 * budget + 64 * 1024


def test_budget_episode_ends_when_the_backlog_drains(tmp_path: Path, caplog):
    caplog.set_level(logging.INFO, logger="edge.buffer")
    with Buffer(tmp_path / "b.sqlite", max_bytes=MB, logger=logging.getLogger("edge.buffer")) as buffer:
        buffer.put(noisy(0, 40_000))
        while batch := buffer.take(5000, 10 * MB):
            buffer.ack(batch)
        buffer.put(rows(40_000, 40_010))
        buffer.put(noisy(0, 40_000))
    messages = [r.getMessage() for r in caplog.records if "disk budget" in r.getMessage()]
    assert messages == [
        "disk budget reached, dropping the oldest points: over budget",
        "disk budget reached, dropping the oldest points: recovered",
        "disk budget reached, dropping the oldest points: over budget",
    ]


def test_a_point_dropped_while_in_flight_is_not_counted_as_dropped_once_written(tmp_path: Path):
    with Buffer(tmp_path / "b.sqlite", max_bytes=MB) as buffer:
        buffer.put(rows(0, 10))
        batch = buffer.take(10, MB)
        buffer.put(noisy(10, 40_000))  # the budget drops the in-flight points
        dropped = buffer.counters["dropped_total"]
        assert dropped > 10
        buffer.ack(batch)  # ... but they did reach InfluxDB
        assert buffer.counters["dropped_total"] == dropped - 10
        assert buffer.counters["forwarded_total"] == 10


def test_live_share_takes_the_newest_during_a_backlog(tmp_path: Path):
    with Buffer(tmp_path / "b.sqlite", max_bytes=10 * MB, row_points=1) as buffer:
        buffer.put(rows(0, 10_000))
        batch = buffer.take(100, MB, live_share=0.25)
        assert sorted(numbers(batch.lines)) == list(range(75)) + list(range(9975, 10_000))
        buffer.ack(batch)
        assert sorted(numbers(buffer.take(100, MB, live_share=0.25).lines)) == list(range(75, 150)) + list(
            range(9950, 9975)
        )
        first = buffer.take(100, MB, live_share=0.25)
        second = buffer.take(100, MB, live_share=0.25, exclude=[first])  # concurrent batches never overlap
        assert not set(first.ids) & set(second.ids) and len(second) == 100
        assert sorted(numbers(second.lines)) == list(range(150, 225)) + list(range(9925, 9950))
        small = buffer.take(20_000, 10 * MB, live_share=0.25)  # no backlog beyond one batch: plain order
        assert numbers(small.lines) == list(range(75, 9975))


def test_held_samples_wait_for_the_clock_and_get_corrected_times(tmp_path: Path):
    with Buffer(tmp_path / "b.sqlite", max_bytes=MB, boot_id="boot-a") as buffer:
        buffer.put(rows(0, 3, mono=100.0) + rows(3, 4, mono=102.5))
        buffer.put(rows(4, 5))
        assert buffer.held == 4 and buffer.ready == 1
        assert numbers(buffer.take(10, MB).lines) == [4]  # held ones never leave
        assert buffer.correct(wall_ms=1_800_000_010_000, mono=110.0) == 4
        assert buffer.held == 0
        lines = buffer.take(10, MB).lines
        times = dict(zip(numbers(lines), (int(line.rsplit(" ", 1)[1]) for line in lines), strict=True))
        # t = wall_at_sync - (mono_at_sync - mono_of_sample)
        assert times == {
            0: 1_800_000_000_000,
            1: 1_800_000_000_000,
            2: 1_800_000_000_000,
            3: 1_800_000_002_500,
            4: 1_700_000_000_004,
        }


def test_held_samples_of_a_previous_boot_are_forwarded_marked(tmp_path: Path):
    path = tmp_path / "b.sqlite"
    with Buffer(path, max_bytes=MB, boot_id="boot-a") as buffer:
        buffer.put(rows(0, 2, mono=5.0) + rows(2, 3))
    with Buffer(path, max_bytes=MB, boot_id="boot-b") as buffer:
        assert buffer.held == 0
        lines = buffer.take(10, MB).lines
    assert lines == [
        f"m,run=0 n=0i,{MARK_FIELD} 1700000000000",
        f"m,run=0 n=1i,{MARK_FIELD} 1700000000001",
        "m,run=0 n=2i 1700000000002",
    ]


def test_dead_letters_list_requeue_purge(tmp_path: Path):
    with Buffer(tmp_path / "b.sqlite", max_bytes=MB) as buffer:
        buffer.put(
            rows(0, 5),
            dead=[NewDeadLetter('{"measurement": "m"}', 7, "EncodeError: bad")],
            rejects=[("lights:mqtt", "not JSON", "{oops")],
        )
        batch = buffer.take(5, MB)
        # the forwarder wrote three of the five and InfluxDB refused two: one transaction settles all five
        assert buffer.ack(batch, dead=[(line, "HTTP 400: partial write") for line in batch.lines[:2]]) == 5
        assert buffer.points == 0
        letters = buffer.dead_letters()
        assert [d.error for d in letters] == [
            "EncodeError: bad",
            "HTTP 400: partial write",
            "HTTP 400: partial write",
        ]
        assert letters[1].line == "m,run=0 n=0i 1700000000000" and letters[0].line is None
        assert letters[1].t_ms == 1_700_000_000_000
        assert buffer.counters["dead_letter_total"] == 3 and buffer.counters["rejected_total"] == 1
        assert buffer.counters["forwarded_total"] == 3
        assert buffer.requeue_dead_letters([letters[1].id]) == 1
        assert buffer.points == 1 and buffer.take(10, MB).lines == ["m,run=0 n=0i 1700000000000"]
        assert buffer.requeue_dead_letters(None) == 1  # the unencodable one has no line to requeue
        assert buffer.purge_dead_letters(None) == 1
        assert buffer.dead_letters() == []
        status = buffer.status()
        assert status.rejects[0][1:] == ("lights:mqtt", "not JSON", "{oops")
        assert status.counters["dead_letter_total"] == 3  # purging does not rewrite history


def test_points_share_rows_and_move_as_whole_rows(tmp_path: Path):
    """The default layout: up to row_points lines per row; batches, live share and drops take whole rows."""
    path = tmp_path / "b.sqlite"
    with Buffer(path, max_bytes=10 * MB, row_points=64) as buffer:
        buffer.put(rows(0, 1000))
        assert buffer._db.execute("SELECT count(*), sum(n) FROM points").fetchone() == (16, 1000)
        assert buffer.points == 1000
        assert buffer.bytes == sum(
            stored + ROW_OVERHEAD
            for (stored,) in buffer._db.execute("SELECT length(CAST(line AS BLOB)) FROM points")
        )
        batch = buffer.take(100, MB)  # a second row would cross 100 points
        assert numbers(batch.lines) == list(range(64)) and len(batch) == 64
        assert len(buffer.take(10, MB)) == 64  # a row larger than a batch still moves, alone
        live = buffer.take(300, MB, live_share=0.25, exclude=[batch])
        assert numbers(live.lines) == list(range(64, 256)) + list(range(1000 - 40, 1000)) and len(live) == 232
        assert buffer.ack(batch) == 64 and buffer.ack(live) == 232
        assert buffer.points == 1000 - 64 - 232 and buffer.counters["forwarded_total"] == 296
    with Buffer(path, max_bytes=10 * MB) as buffer:  # reopened: counts are points, not rows
        assert buffer.points == 704 and buffer.status().points == 704


def test_disk_budget_drops_whole_oldest_rows_and_counts_every_point(tmp_path: Path):
    with Buffer(tmp_path / "b.sqlite", max_bytes=MB, row_points=64) as buffer:
        budget = buffer.rows_budget
        total = 40_000
        for start in range(0, total, 997):
            buffer.put(noisy(start, min(start + 997, total)))
        dropped = buffer.counters["dropped_total"]
        assert 0 < dropped and buffer.points + dropped == total
        biggest = buffer._db.execute("SELECT max(size) FROM points").fetchone()[0]
        assert buffer.bytes <= budget and buffer.bytes > budget - 2 * biggest
        assert numbers(buffer.take(3, MB).lines)[:3] == [dropped, dropped + 1, dropped + 2]  # oldest first


def test_a_buffer_of_an_older_agent_gains_the_new_columns(tmp_path: Path):
    path = tmp_path / "b.sqlite"
    import sqlite3

    old = sqlite3.connect(path)
    old.executescript("""
CREATE TABLE points (id INTEGER PRIMARY KEY AUTOINCREMENT, line TEXT NOT NULL, t_ms INTEGER NOT NULL,
    size INTEGER NOT NULL, hold INTEGER NOT NULL DEFAULT 0, marked INTEGER NOT NULL DEFAULT 0, mono REAL, boot INTEGER);
INSERT INTO points (line, t_ms, size) VALUES ('m,run=0 n=1i', 5, 40), ('m,run=0 n=2i', 6, 40);""")
    old.commit()
    old.close()
    with Buffer(path, max_bytes=MB) as buffer:
        assert buffer.points == 2
        buffer.put(rows(3, 5))
        assert buffer.take(10, MB).lines == [
            "m,run=0 n=1i 5",
            "m,run=0 n=2i 6",
            "m,run=0 n=3i 1700000000003",
            "m,run=0 n=4i 1700000000004",
        ]


def test_one_owner_at_a_time_but_readers_alongside(tmp_path: Path):
    path = tmp_path / "b.sqlite"
    with Buffer(path, max_bytes=MB) as owner:
        owner.put(rows(0, 3))
        with pytest.raises(BufferLocked, match=f"in use by process {os.getpid()}"):
            Buffer(path, max_bytes=MB)
        with Buffer(path, max_bytes=MB, readonly=True) as reader:
            assert reader.status().points == 3
            with pytest.raises(Exception, match="readonly"):
                reader.put(rows(3, 4))
    with Buffer(path, max_bytes=MB) as again:
        assert again.points == 3
