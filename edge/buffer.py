"""The durable store every point is committed to before anything else happens to it.

One SQLite database in WAL mode with ``synchronous=FULL``: what ``put`` returns for survives SIGKILL and power
loss. Points are kept in commit order (``AUTOINCREMENT`` ids, never reused, so an acknowledgement can never
delete a newer point) as line protocol: up to ``row_points`` complete lines per row, or one line without its
timestamp plus the monotonic time and boot for a sample taken while the clock was unsynchronised (``hold = 1``:
never forwarded until corrected). A disk budget bounds the sum of row sizes: the oldest rows go first, every
point in them counted. Batches, drops and the live share move whole rows. The tables, the batch SQL and the
row types live in ``edge.bufferschema`` (re-exported here).

Called from worker threads: writes go through one connection under a lock (SQLite has one writer), takes
through a second one, so a batch can be read while a commit waits for its fsync.
"""

from __future__ import annotations

import fcntl
import json
import logging
import math
import os
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from edge.bufferschema import (
    COUNTERS,
    DEAD_LINE_SQL,
    INSERT_TIMED_SQL,
    MARK_FIELD,
    MIGRATIONS,
    ROW_OVERHEAD,
    SCHEMA,
    Batch,
    BufferStatus,
    DeadLetter,
    NewDeadLetter,
    NewRow,
    any_held,
    dead_letter_row,
    insert_sql,
    pack_rows,
    read_batch,
)
from edge.filemodes import private_dir, private_file
from edge.rejects import count_reasons
from thonminh.logs import Episode

__all__ = [
    "COUNTERS",
    "MARK_FIELD",
    "ROW_OVERHEAD",
    "Batch",
    "Buffer",
    "BufferLocked",
    "BufferStatus",
    "DeadLetter",
    "NewDeadLetter",
    "NewRow",
    "any_held",
]

log = logging.getLogger(__name__)

_REJECTS_KEPT = 200
#: Shares of the disk budget (``max_bytes``, every file of the buffer): the rows may use ROWS_SHARE; the
#: database file holds them in at most 1.25x their size (pages are reused, tested); the WAL is truncated once a
#: commit leaves it over WAL_SHARE; the rest is the WAL's one commit in flight and the 32 KiB index (-shm).
ROWS_SHARE = 0.6
WAL_SHARE = 0.1
_EMPTY = Batch(b"")


class BufferLocked(RuntimeError):
    """Another process (a running agent, or a drain) owns this buffer."""


@dataclass
class _Totals:
    points: int = 0
    bytes: int = 0
    held: int = 0


class Buffer:
    """The SQLite store. ``exclusive`` takes a lock file so two agents never share one buffer.

    ``row_points`` lines share a row (1 stores every point alone: the slowest, finest-grained layout).
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        max_bytes: int,
        boot_id: str = "unknown",
        dead_letters_max: int = 10_000,
        row_points: int = 64,
        exclusive: bool = True,
        readonly: bool = False,
        logger: logging.Logger | None = None,
    ) -> None:
        self.path = Path(path)
        self.max_bytes = max_bytes
        #: What the rows may hold; the database file, its WAL and index stay within ``max_bytes``.
        self.rows_budget = int(max_bytes * ROWS_SHARE)
        self._wal_path = Path(f"{self.path}-wal")
        self._wal_cap = int(max_bytes * WAL_SHARE)
        self.dead_letters_max = dead_letters_max
        self.row_points = max(1, row_points)
        self._log = logger or log
        self._lock = threading.Lock()
        self._lockfile: int | None = None
        if not readonly:
            private_dir(self.path.parent)
        if exclusive and not readonly:
            self._take_lockfile()
        if not readonly:
            private_file(self.path, sqlite=True)
        self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=30)
        self._db.execute("PRAGMA cache_size=-512")  # 512 KiB page cache per connection: bounded memory on a Pi
        if readonly:
            # inspection next to a running agent: WAL readers never block it, and this connection never writes
            self._db.execute("PRAGMA query_only=1")
            self._boot = -1
        else:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")  # durable across power loss, not only process death
            self._db.execute(f"PRAGMA journal_size_limit={self._wal_cap}")
            self._db.executescript(SCHEMA)
            self._migrate()
            self._boot = self._boot_index(boot_id)
            self._insert = insert_sql(self._boot)
            with self._tx() as db:
                # Held samples of an earlier boot can never be corrected: forward them marked, not silently.
                db.execute("UPDATE points SET hold = 0, marked = 1, mono = NULL WHERE hold = 1 AND boot != ?",
                           (self._boot,))
        # Takes read through their own connection: WAL lets them run while a commit holds the writer.
        self._reader = self._db if readonly else sqlite3.connect(
            self.path, isolation_level=None, check_same_thread=False, timeout=30)
        self._reader.execute("PRAGMA cache_size=-512")
        self._read_lock = self._lock if readonly else threading.Lock()
        self.counters = {name: 0 for name in COUNTERS}
        self.counters.update(dict(self._db.execute("SELECT name, value FROM counters").fetchall()))
        points, size, held = self._db.execute(
            "SELECT coalesce(sum(n), 0), coalesce(sum(size), 0), coalesce(sum(hold), 0) FROM points").fetchone()
        self._totals = _Totals(points, size, held)
        self._full = Episode(self._log, "disk budget reached, dropping the oldest points",
                             max_bytes=max_bytes)

    # -- lifecycle ---------------------------------------------------------------------------------------
    def _take_lockfile(self) -> None:
        lock_path = self.path.with_name(self.path.name + ".lock")
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        os.fchmod(fd, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            owner = os.pread(fd, 32, 0).decode(errors="replace").strip() or "?"
            os.close(fd)
            raise BufferLocked(f"{self.path} is in use by process {owner} (a running agent or drain)") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._lockfile = fd

    def close(self) -> None:
        with self._read_lock:
            self._reader.close()
        with self._lock:
            self._db.close()
        if self._lockfile is not None:
            os.close(self._lockfile)
            self._lockfile = None

    def __enter__(self) -> Buffer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _tx(self, *, fsync: bool = True) -> Iterator[sqlite3.Connection]:
        """One write transaction. ``fsync=False`` for what a power cut may undo harmlessly (an ack: the batch
        is sent again and overwrites itself); the next synced commit makes it durable, WAL frames are in order."""
        with self._lock:
            if not fsync:
                self._db.execute("PRAGMA synchronous=NORMAL")
            try:
                self._db.execute("BEGIN IMMEDIATE")
                try:
                    yield self._db
                except BaseException:
                    self._db.execute("ROLLBACK")
                    raise
                self._db.execute("COMMIT")
                self._bound_wal()
            finally:
                if not fsync:
                    self._db.execute("PRAGMA synchronous=FULL")

    def _bound_wal(self) -> None:
        """Copy the WAL into the database and truncate it once it passes its share of the disk budget (SQLite's
        own checkpoint leaves the WAL at its largest size on disk)."""
        try:
            size = self._wal_path.stat().st_size
        except FileNotFoundError:
            return
        if size > self._wal_cap:
            self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def _migrate(self) -> None:
        have = {row[1] for row in self._db.execute("PRAGMA table_info(points)")}
        for column, decl in MIGRATIONS.items():
            if column not in have:
                self._db.execute(f"ALTER TABLE points ADD COLUMN {column} {decl}")

    def _boot_index(self, boot_id: str) -> int:
        self._db.execute("INSERT OR IGNORE INTO boots (boot_id) VALUES (?)", (boot_id,))
        return int(self._db.execute("SELECT id FROM boots WHERE boot_id = ?", (boot_id,)).fetchone()[0])

    def _bump(self, db: sqlite3.Connection, deltas: dict[str, int]) -> dict[str, int]:
        values = {k: self.counters.get(k, 0) + v for k, v in deltas.items() if v}  # rejected_<code> appear late
        if values:
            db.executemany("INSERT OR REPLACE INTO counters (name, value) VALUES (?, ?)", values.items())
        return values

    # -- state -------------------------------------------------------------------------------------------
    @property
    def points(self) -> int:
        return self._totals.points

    @property
    def bytes(self) -> int:
        return self._totals.bytes

    @property
    def held(self) -> int:
        """Points waiting for the clock to be synchronised."""
        return self._totals.held

    @property
    def ready(self) -> int:
        """Points the forwarder may send now."""
        return self._totals.points - self._totals.held

    # -- writing -----------------------------------------------------------------------------------------
    def put(
        self,
        rows: Sequence[NewRow],
        *,
        dead: Sequence[NewDeadLetter] = (),
        rejects: Sequence[tuple[str, str, str | None]] = (),
        correct_at: tuple[int, float] | None = None,
    ) -> int:
        """Commit points (and dead letters, rejects, a clock correction) in one transaction.

        Returns the number of points dropped to stay within the disk budget. After it returns, the rows are
        on disk.
        """
        now_ms = int(time.time() * 1000)
        timed, single = pack_rows(rows, self.row_points)
        added = sum(len(r[0].encode()) for r in timed) + sum(len(r[0].encode()) for r in single)
        added += ROW_OVERHEAD * (len(timed) + len(single))
        held = sum(1 for r in single if r[2] is not None)
        with self._tx() as db:
            db.executemany(INSERT_TIMED_SQL, timed)
            db.executemany(self._insert, single)
            if dead:
                self._insert_dead(db, [(now_ms, d.t_ms, None, 0, d.point, d.error) for d in dead])
            if rejects:
                db.executemany("INSERT INTO rejects (at_ms, source, reason, sample) VALUES (?, ?, ?, ?)",
                               [(now_ms, *r) for r in rejects])
                db.execute("DELETE FROM rejects WHERE id <= (SELECT max(id) FROM rejects) - ?", (_REJECTS_KEPT,))
            total = self._totals.bytes + added
            dropped = dropped_bytes = dropped_held = 0
            if total > self.rows_budget:
                dropped, dropped_bytes, dropped_held = self._drop_oldest(db, total - self.rows_budget)
            corrected = self._correct(db, *correct_at) if correct_at else 0
            values = self._bump(db, {"dropped_total": dropped, "dead_letter_total": len(dead),
                                     "rejected_total": len(rejects), **count_reasons(r[1] for r in rejects)})
        self.counters.update(values)
        t = self._totals
        t.points += len(rows) - dropped
        t.bytes = total - dropped_bytes
        t.held += held - dropped_held - corrected
        if dropped:
            self._full.problem("over budget", dropped=dropped, buffer_bytes=t.bytes)
        elif t.bytes < 0.9 * self.rows_budget:
            self._full.ok(dropped_total=self.counters["dropped_total"])
        return dropped

    def _drop_oldest(self, db: sqlite3.Connection, excess: int) -> tuple[int, int, int]:
        freed = count = held = 0
        last = None
        for row_id, size, hold, n in db.execute("SELECT id, size, hold, n FROM points ORDER BY id"):
            freed += size
            count += n
            held += hold
            last = row_id
            if freed >= excess:
                break
        if last is not None:
            db.execute("DELETE FROM points WHERE id <= ?", (last,))
        return count, freed, held

    def _insert_dead(self, db: sqlite3.Connection, rows: list[tuple[object, ...]]) -> None:
        db.executemany(
            "INSERT INTO dead_letters (at_ms, t_ms, line, marked, point, error) VALUES (?, ?, ?, ?, ?, ?)", rows)
        db.execute("DELETE FROM dead_letters WHERE id <= (SELECT max(id) FROM dead_letters) - ?",
                   (self.dead_letters_max,))

    def _correct(self, db: sqlite3.Connection, wall_ms: int, mono: float) -> int:
        if not self._totals.held:
            return 0
        cur = db.execute(
            "UPDATE points SET t_ms = ? - CAST(round((? - mono) * 1000) AS INTEGER), hold = 0, mono = NULL,"
            " boot = NULL WHERE hold = 1 AND boot = ?",
            (wall_ms, mono, self._boot),
        )
        return cur.rowcount

    def correct(self, wall_ms: int, mono: float) -> int:
        """The clock is synchronised now: give held samples of this boot their true time. Returns how many."""
        with self._tx() as db:
            corrected = self._correct(db, wall_ms, mono)
        self._totals.held -= corrected
        return corrected

    # -- forwarding --------------------------------------------------------------------------------------
    def take(
        self,
        max_points: int,
        max_bytes: int,
        *,
        live_share: float = 0.0,
        exclude: Sequence[Batch] = (),
    ) -> Batch:
        """The next batch to forward: oldest ready points first, plus a share of the newest during a backlog.

        When more points are ready than one batch holds, ``ceil(live_share * max_points)`` points (and the
        same share of ``max_bytes``) come from the newest end, so live data keeps flowing while a backlog
        drains from the oldest end. Held points (clock not yet synchronised) are never taken, nor the points
        of the batches in ``exclude`` (still in flight). A point bigger than ``max_bytes`` still goes, alone.
        """
        ready = self.ready - sum(len(b) for b in exclude)
        if ready <= 0:
            return _EMPTY
        live_n = 0
        if ready > max_points and live_share > 0 and self._totals.held == 0:
            live_n = min(max_points - 1, math.ceil(live_share * max_points))
        live_bytes = math.ceil(live_share * max_bytes) if live_n else 0
        ranges = tuple(r for b in exclude for r in b.ranges)
        with self._read_lock:
            return read_batch(self._reader, (max_points - live_n, max_bytes - live_bytes), (live_n, live_bytes),
                              exclude=ranges)

    def ack(self, batch: Batch, *, dead: Sequence[tuple[str, str]] = ()) -> int:
        """The batch reached InfluxDB (2xx): delete it and count it as forwarded. Returns the points deleted.

        ``dead`` are (line, error) of points InfluxDB refused as malformed while the rest of the batch was
        written (the forwarder bisects a refused batch): they move to the dead letters in the same transaction.
        """
        if not batch.count:
            return 0
        with self._tx(fsync=not dead) as db:
            if batch.dense:
                # Unbroken runs of ids held every row in them when taken, and ids are never reused: delete by
                # range, sparing SQLite a JSON id list.
                deleted = size = 0
                for first, last in batch.ranges:
                    n, part_size = db.execute("SELECT coalesce(sum(n), 0), coalesce(sum(size), 0) FROM points"
                                              " WHERE id BETWEEN ? AND ?", (first, last)).fetchone()
                    db.execute("DELETE FROM points WHERE id BETWEEN ? AND ?", (first, last))
                    deleted, size = deleted + n, size + part_size
            else:
                gone_rows = db.execute("DELETE FROM points WHERE id IN (SELECT value FROM json_each(?))"
                                       " RETURNING n, size", (batch.ids_json,)).fetchall()
                deleted, size = sum(r[0] for r in gone_rows), sum(r[1] for r in gone_rows)
            if dead:
                now_ms = int(time.time() * 1000)
                self._insert_dead(db, [(now_ms, *dead_letter_row(line), 0, None, error[:2000]) for line, error in dead])
            gone = batch.count - deleted
            # Points dropped by the budget while this batch was in flight did arrive after all.
            values = self._bump(db, {"forwarded_total": batch.count - len(dead), "dropped_total": -gone,
                                     "dead_letter_total": len(dead),
                                     "last_write_ms": int(time.time() * 1000) - self.counters["last_write_ms"]})
        self.counters.update(values)
        self._totals.points -= deleted
        self._totals.bytes -= size
        return deleted

    # -- inspection --------------------------------------------------------------------------------------
    def oldest(self) -> tuple[int, bool, float | None] | None:
        """(t_ms, held, mono) of the oldest point, or None when empty."""
        with self._lock:
            row = self._db.execute("SELECT t_ms, hold, mono FROM points ORDER BY id LIMIT 1").fetchone()
        return None if row is None else (row[0], bool(row[1]), row[2])

    def status(self, *, rejects: int = 10) -> BufferStatus:
        """Counts straight from the database (also right when another process writes to it)."""
        with self._lock:
            points, size, held = self._db.execute(
                "SELECT coalesce(sum(n), 0), coalesce(sum(size), 0), coalesce(sum(hold), 0) FROM points").fetchone()
            oldest = self._db.execute("SELECT t_ms FROM points WHERE hold = 0 ORDER BY id LIMIT 1").fetchone()
            dead = self._db.execute("SELECT count(*) FROM dead_letters").fetchone()[0]
            counters = {name: 0 for name in COUNTERS}
            counters.update(dict(self._db.execute("SELECT name, value FROM counters").fetchall()))
            recent = self._db.execute(
                "SELECT at_ms, source, reason, sample FROM rejects ORDER BY id DESC LIMIT ?", (rejects,)).fetchall()
        return BufferStatus(points, size, held, oldest[0] if oldest else None, dead, counters,
                            [tuple(r) for r in recent])

    def dead_letters(self, *, limit: int = 100) -> list[DeadLetter]:
        with self._lock:
            rows = self._db.execute(
                "SELECT id, at_ms, t_ms, CASE WHEN line IS NULL THEN NULL WHEN t_ms IS NULL THEN line ELSE "
                + DEAD_LINE_SQL + " END,"
                " point, error FROM dead_letters ORDER BY id LIMIT ?", (limit,)).fetchall()
        return [DeadLetter(*r) for r in rows]

    def requeue_dead_letters(self, ids: Sequence[int] | None = None) -> int:
        """Put dead letters that have a line back into the buffer (after fixing the cause). Returns how many."""
        where = "line IS NOT NULL" + ("" if ids is None else " AND id IN (SELECT value FROM json_each(?))")
        args = () if ids is None else (json.dumps(list(ids)),)
        with self._tx() as db:
            rows = db.execute(f"DELETE FROM dead_letters WHERE {where} RETURNING line, t_ms, marked", args).fetchall()
            rows.sort(key=lambda r: r[1])
            db.executemany("INSERT INTO points (line, t_ms, size, marked) VALUES (?, ?, ?, ?)",
                           [(line, t, len(line.encode()) + ROW_OVERHEAD, m) for line, t, m in rows])
        self._totals.points += len(rows)
        self._totals.bytes += sum(len(r[0].encode()) + ROW_OVERHEAD for r in rows)
        return len(rows)

    def purge_dead_letters(self, ids: Sequence[int] | None = None) -> int:
        where = "" if ids is None else " WHERE id IN (SELECT value FROM json_each(?))"
        args = () if ids is None else (json.dumps(list(ids)),)
        with self._tx() as db:
            return db.execute(f"DELETE FROM dead_letters{where}", args).rowcount

