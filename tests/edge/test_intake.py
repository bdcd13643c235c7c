"""The buffer's intake on tmpfs: every commit goes there, ``sync`` stores it on the SD card in one transaction.

What the intake promises, each checked on real files: rows InfluxDB took before a sync never reach the store
(nothing written to the SD card for them); a sync moves everything in one fsynced transaction with the ids it had;
an agent killed at any moment (a sync half done included) loses nothing; a power cut (the tmpfs gone) loses only
what was not synced yet and ids never go backwards; the disk budget holds on the store at every sync.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from edge_helpers import noise

from edge.buffer import Buffer, NewDeadLetter, NewRow

MB = 1024 * 1024


def rows(start: int, stop: int, *, mono: float | None = None) -> list[NewRow]:
    return [NewRow(f"m,run=0 n={i}i", 1_700_000_000_000 + i, mono) for i in range(start, stop)]


def numbers(lines: list[str]) -> list[int]:
    return [int(line.split(" n=")[1].split("i")[0]) for line in lines]


def in_file(path: Path, table: str = "points") -> int:
    """Rows of ``table`` in one database file, read by another connection (what a restart would find)."""
    with sqlite3.connect(path) as db:
        return int(db.execute(f"SELECT count(*) FROM {table}").fetchone()[0])


def store_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.parent.glob(path.name + "*") if not p.name.endswith(".lock"))


@pytest.fixture
def paths(tmp_path: Path) -> tuple[Path, Path]:
    return tmp_path / "buffer.sqlite", tmp_path / "shm" / "intake.sqlite"


def test_rows_forwarded_before_a_sync_never_reach_the_sd_card(paths: tuple[Path, Path]):
    store, intake = paths
    with Buffer(store, max_bytes=MB, intake=intake) as buffer:
        wal = Path(f"{store}-wal")
        before = wal.stat().st_size, store.stat().st_size
        for start in range(0, 1000, 50):  # emit groups forwarded as they come, as with InfluxDB up
            buffer.put(rows(start, start + 50), rejects=[("uplink:fiber", "bad_payload", None)])
            batch = buffer.take(5000, MB)
            assert numbers(batch.lines) == list(range(start, start + 50))
            assert buffer.ack(batch) == 50
        assert (wal.stat().st_size, store.stat().st_size) == before  # the store's files did not change
        assert in_file(store) == 0 and buffer.counters["forwarded_total"] == 1000
        assert buffer.sync() == 0  # the rejects are stored, no points are left to store
        assert in_file(store, "rejects") == 20 and in_file(store) == 0
    assert not intake.exists()  # a clean stop leaves nothing in RAM


def test_sync_stores_everything_in_order_and_batches_span_both_databases(paths: tuple[Path, Path]):
    store, intake = paths
    with Buffer(store, max_bytes=MB, intake=intake, row_points=1) as buffer:
        buffer.put(rows(0, 10), dead=[NewDeadLetter('{"m": 1}', 5, "EncodeError: bad")])
        assert in_file(store) == 0 and in_file(intake) == 10
        assert buffer.sync() == 10
        assert in_file(store) == 10 and in_file(intake) == 0 and in_file(store, "dead_letters") == 1
        buffer.put(rows(10, 20))
        batch = buffer.take(15, MB)  # the store's rows, then the intake's, in id order
        assert numbers(batch.lines) == list(range(15))
        assert buffer.ack(batch) == 15
        assert in_file(store) == 0 and in_file(intake) == 5
        assert numbers(buffer.take(100, MB).lines) == list(range(15, 20))
        assert buffer.points == 5 and buffer.status().points == 5
        ids = buffer.take(100, MB).ids
        assert min(ids) > 10  # ids continue where the store's end
    with Buffer(store, max_bytes=MB, intake=intake) as buffer:
        assert numbers(buffer.take(100, MB).lines) == list(range(15, 20))
        assert buffer.counters["forwarded_total"] == 15 and buffer.counters["dead_letter_total"] == 1


def test_held_samples_in_both_databases_are_corrected(paths: tuple[Path, Path]):
    store, intake = paths
    with Buffer(store, max_bytes=MB, intake=intake, boot_id="b1") as buffer:
        buffer.put(rows(0, 2, mono=100.0))
        buffer.sync()
        buffer.put(rows(2, 4, mono=101.0))
        assert buffer.held == 4 and not buffer.take(10, MB)
        buffer.put([], correct_at=(2_000_000_000_000, 200.0))
        lines = buffer.take(10, MB).lines
        assert [int(line.rsplit(" ", 1)[1]) for line in lines] == [1_999_999_900_000] * 2 + [
            1_999_999_901_000
        ] * 2


_KILLED = """
import os, signal, sys
from pathlib import Path
from edge.buffer import Buffer, NewRow
buffer = Buffer(Path(sys.argv[1]), max_bytes=1024 * 1024, intake=Path(sys.argv[2]), row_points=1)
buffer.put([NewRow(f"m,run=0 n={i}i", 1_700_000_000_000 + i) for i in range(0, 100)])
buffer.sync()
buffer.put([NewRow(f"m,run=0 n={i}i", 1_700_000_000_000 + i) for i in range(100, 130)])
print("committed", flush=True)
os.kill(os.getpid(), signal.SIGKILL)
"""


def killed_agent(store: Path, intake: Path) -> None:
    """A process that stores 100 points, commits 30 more to the intake, and is SIGKILLed."""
    proc = subprocess.run(
        [sys.executable, "-c", _KILLED, str(store), str(intake)],
        capture_output=True,
        text=True,
        cwd=Path(__file__).resolve().parents[2],
        timeout=60,
    )
    assert proc.returncode == -signal.SIGKILL and proc.stdout == "committed\n", proc.stderr
    assert in_file(store) == 100 and in_file(intake) == 30


def test_an_agent_killed_after_commits_loses_nothing(paths: tuple[Path, Path]):
    store, intake = paths
    killed_agent(store, intake)
    with Buffer(store, max_bytes=MB, intake=intake) as buffer:
        assert buffer.points == 130
        assert in_file(intake) == 0  # recovered into the store at once
        assert numbers(buffer.take(1000, MB).lines) == list(range(130))


def test_a_sync_killed_halfway_neither_loses_nor_doubles(paths: tuple[Path, Path]):
    store, intake = paths
    killed_agent(store, intake)
    # as if it had died between a sync's two transactions: part of the intake is in the store and still there
    with sqlite3.connect(store) as db:
        db.execute("ATTACH DATABASE ? AS i", (str(intake),))
        db.execute(
            "INSERT INTO main.points SELECT * FROM i.points WHERE id <= (SELECT min(id) + 9 FROM i.points)"
        )
    assert in_file(store) == 110
    with Buffer(store, max_bytes=MB, intake=intake) as buffer:
        assert buffer.points == 130
        assert numbers(buffer.take(1000, MB).lines) == list(range(130))


def test_a_power_cut_loses_only_what_was_not_synced_and_ids_never_go_back(paths: tuple[Path, Path]):
    store, intake = paths
    killed_agent(store, intake)
    for suffix in ("", "-wal", "-shm"):  # tmpfs is empty after the reboot
        Path(f"{intake}{suffix}").unlink(missing_ok=True)
    with Buffer(store, max_bytes=MB, intake=intake, row_points=1) as buffer:
        assert buffer.points == 100
        buffer.put(rows(200, 201))
        batch = buffer.take(1000, MB)
        assert numbers(batch.lines) == list(range(100)) + [200]
        assert batch.ids == sorted(set(batch.ids)) and len(batch.ids) == 101


def test_the_disk_budget_holds_on_the_store_at_every_sync(paths: tuple[Path, Path]):
    store, intake = paths
    budget = MB
    worst = total = 0
    with Buffer(store, max_bytes=budget, intake=intake) as buffer:
        for start in range(0, 60_000, 499):  # an outage far beyond the budget, synced as the intake fills
            buffer.put(
                [
                    NewRow(f'm,run=0 n={i}i,s="{noise(i, i % 200)}"', 1_700_000_000_000 + i)
                    for i in range(start, start + 499)
                ]
            )
            total += 499
            worst = max(worst, store_bytes(store))
        buffer.sync()
        worst = max(worst, store_bytes(store))
        assert buffer.counters["dropped_total"] > 0
        assert buffer.points + buffer.counters["dropped_total"] == total  # every point kept or counted
        while batch := buffer.take(500, MB):
            buffer.ack(batch)
            worst = max(worst, store_bytes(store))
    assert worst <= budget, f"{worst} bytes on disk for a {budget}-byte budget"


def test_the_intake_directory_must_be_private(tmp_path: Path):
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o777)
    os.chmod(shared, 0o777)
    with pytest.raises(PermissionError, match="mode 0700"):
        Buffer(tmp_path / "b.sqlite", max_bytes=MB, intake=shared / "intake.sqlite")
