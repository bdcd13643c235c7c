"""The buffer's rows as stored: compressed line protocol, what a store of the intake writes to the SD card, acks
without a sync of their own, the same batch bodies whatever the rows' form, and a buffer (and an intake) left by
the agent before compression."""

from __future__ import annotations

import importlib.util
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from edge.buffer import Buffer, NewRow
from edge.pipeline import encode_for_buffer

MB = 1024 * 1024
T0 = 1_796_000_000_000
ROOT = Path(__file__).resolve().parents[2]
FIXTURES = Path(__file__).resolve().parent / "fixtures"
#: A WAL frame: a 4 KiB page and its 24-byte header.
FRAME = 4096 + 24


def _loads():  # the standard village every benchmark runs (bench/loads.py), not a copy of it
    spec = importlib.util.spec_from_file_location("bench_loads", ROOT / "bench" / "loads.py")
    assert spec is not None and spec.loader is not None
    module = sys.modules[spec.name] = importlib.util.module_from_spec(spec)  # its dataclasses look it up
    spec.loader.exec_module(module)
    return module


LOADS = _loads()


def village(seconds: int, start_ms: int = T0) -> list[list[NewRow]]:
    """The standard village's points of ``seconds``, as the pipeline commits them: one commit per 10 s step."""
    return [
        encode_for_buffer(points, synced=True, wall_ms=0, mono=0.0)[0]
        for points in LOADS.village_points(start_ms, seconds)
        if points
    ]


def wal_frames(store: Path) -> int:
    wal = Path(f"{store}-wal")
    return wal.stat().st_size // FRAME if wal.exists() else 0


def test_a_store_of_ten_village_minutes_writes_a_fraction_of_their_text(tmp_path: Path):
    """What the SD card takes with InfluxDB down is the intake's stores: each writes its rows as WAL frames.
    Compressed, ten minutes of the village (~470 points, ~130 KB of line protocol) are a few pages."""
    store, intake = tmp_path / "buffer.sqlite", tmp_path / "shm" / "intake.sqlite"
    commits = village(600)
    text = sum(len(r.line) + 14 for rows in commits for r in rows)  # the lines with their timestamps
    with Buffer(store, max_bytes=512 * MB, intake=intake) as buffer:
        frames = wal_frames(store)
        for rows in commits:
            buffer.put(rows)
        assert buffer.sync() == sum(map(len, commits))
        written = (wal_frames(store) - frames) * FRAME
        stored = buffer._db.execute("SELECT sum(length(CAST(line AS BLOB))) FROM main.points").fetchone()[0]
    assert stored < text / 4, f"{stored} bytes stored for {text} bytes of line protocol"
    # 9 frames (as text these rows took 43); the rest is the tables' interior pages and the sequence
    assert written <= text / 3, f"{written // FRAME} WAL frames for {text} bytes of line protocol"


_STORE_THEN_ACK = """
import sys
from pathlib import Path
from edge.buffer import Buffer, NewRow
with Buffer(Path(sys.argv[1]), max_bytes=1 << 20, intake=Path(sys.argv[2])) as buffer:
    buffer.put([NewRow(f"m n={i}i", 1_700_000_000_000 + i) for i in range(100)])
    buffer.sync()
    batch = buffer.take(1000, 1 << 20)
    if sys.argv[3] == "ack":
        assert buffer.ack(batch) == 100, "not acknowledged"
"""


def syncs(tmp_path: Path, then: str) -> int:
    """fsync and fdatasync calls of a process that stores 100 points, takes them, ``then`` acks them (or not)
    and closes the buffer (``strace``: what the process asks of the SD card)."""
    trace = tmp_path / f"{then}.strace"
    where = [str(tmp_path / then / "buffer.sqlite"), str(tmp_path / then / "shm" / "i.sqlite"), then]
    subprocess.run(
        ["strace", "-f", "-qq", "-e", "trace=fsync,fdatasync", "-o", str(trace), sys.executable, "-c"]
        + [_STORE_THEN_ACK, *where],
        check=True,
        cwd=ROOT,
        timeout=60,
    )
    return sum("sync(" in line for line in trace.read_text().splitlines())


@pytest.mark.skipif(shutil.which("strace") is None, reason="needs strace")
def test_an_ack_of_stored_rows_adds_no_sync_of_its_own(tmp_path: Path):
    """docs/pipeline.md: the ack of rows in the store is a commit not fsynced on its own (a power cut may undo it,
    and the batch is sent again and overwrites itself); the next fsynced commit, here the close, makes it
    durable. While an outage drains, that is one SD-card sync fewer per batch."""
    assert syncs(tmp_path, "ack") == syncs(tmp_path, "no-ack") > 0


@pytest.mark.parametrize("row_points", [1, 7, 64])
def test_batches_are_the_lines_committed_whatever_the_rows_form(tmp_path: Path, row_points: int):
    """Compressed rows, text rows (a line too short to shrink), a held single row corrected and one marked,
    in one buffer: every batch is exactly the lines, in order, and the cut counts the body exactly."""
    commits = village(300)
    path = tmp_path / "b.sqlite"
    with Buffer(path, max_bytes=MB, boot_id="a", row_points=row_points) as buffer:
        buffer.put([NewRow("m v=1i", T0 - 2, 1.0)])  # held in boot "a": marked when "b" opens the buffer
        buffer.put([NewRow("m v=2i", T0 - 1)])  # short: stays text
    expected = [f"m v=1i,clock_unsynced=1i {T0 - 2}", f"m v=2i {T0 - 1}"]
    with Buffer(path, max_bytes=MB, boot_id="b", row_points=row_points) as buffer:
        buffer.put([NewRow("m v=3i", 0, 5.0)])  # held in this boot, then corrected below
        for rows in commits:
            buffer.put(rows)
        buffer.correct(wall_ms=T0 + 5000, mono=6.0)
        kinds = dict(buffer._db.execute("SELECT timed, count(*) FROM points GROUP BY timed").fetchall())
        assert kinds[2] > 0 and kinds[1] >= 1 and kinds[0] == 2  # compressed, text, single
        expected += ["m v=3i 1796000004000"] + [f"{r.line} {r.t_ms}" for rows in commits for r in rows]
        taken: list[str] = []
        while batch := buffer.take(100, 4000):
            one_row = buffer.take(1, 10 * MB, exclude=[]).ranges == batch.ranges
            assert len(batch.body) + 1 <= 4000 or one_row  # a row alone may cross the bound
            following = buffer.take(1, 10 * MB, exclude=[batch])  # the next row, whole
            if following:  # the cut is tight: the next row would not have fitted
                assert batch.count + following.count > 100 or len(batch.body) + len(following.body) + 2 > 4000
            taken += batch.lines
            assert buffer.ack(batch) == batch.count
        assert taken == expected
        assert buffer.points == 0 and buffer.bytes == 0


def _load(path: Path, dump: str) -> None:
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    with sqlite3.connect(path) as db:
        db.executescript((FIXTURES / dump).read_text())


def test_a_buffer_and_intake_of_the_agent_before_compression_are_read_and_stored(tmp_path: Path):
    """The fixtures are what the agent of commit dd9514c (rows as text, no ``chars`` column) left when it died:
    a store and the intake of the same boot (fixtures/README.md). All of it is read, in order, beside new rows."""
    store, intake = tmp_path / "buffer.sqlite", tmp_path / "shm" / "intake.sqlite"
    _load(store, "buffer-dd9514c-store.sql")
    _load(intake, "buffer-dd9514c-intake.sql")
    with Buffer(store, max_bytes=MB, boot_id="new-boot", intake=intake) as buffer:
        assert buffer.points == 46 and buffer.counters["forwarded_total"] == 64
        buffer.put([NewRow(f'm,run=3,site=th\u00f4n n={i}i,s="{"x" * (i % 7)}"', T0 + i) for i in range(20)])
        lines = buffer.take(1000, MB).lines
        buffer.sync()
    old = [
        f'm,run=0,site=th\u00f4n n={i}i,s="{"x" * (i % 7)}" {1_700_000_000_000 + i}' for i in range(64, 100)
    ]
    old.append("m,run=1 n=100i,clock_unsynced=1i 0")  # held in the old boot: marked
    old += [f'm,run=1,site=th\u00f4n n={i}i,s="{"x" * (i % 7)}" {1_700_000_000_000 + i}' for i in (101, 102)]
    old += [
        f'm,run=2,site=th\u00f4n n={i}i,s="{"x" * (i % 7)}" {1_700_000_000_000 + i}' for i in range(103, 110)
    ]
    new = [f'm,run=3,site=th\u00f4n n={i}i,s="{"x" * (i % 7)}" {T0 + i}' for i in range(20)]
    assert lines == old + new
    with Buffer(store, max_bytes=MB, boot_id="new-boot", intake=intake) as buffer:  # stored on close
        assert buffer.points == 66 and buffer.take(1000, MB).lines == old + new
        forms = buffer._db.execute("SELECT timed FROM main.points ORDER BY id").fetchall()
        assert forms == [(1,), (0,), (1,), (1,), (2,)]  # the old rows as they were, the new one compressed
