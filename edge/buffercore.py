"""The buffer's machinery under ``edge.buffer.Buffer``: connections, transactions, counters, the budget's drops,
the clock correction, which database holds a batch's rows, and what ``thonminh edge status`` reads.

Split from ``edge.buffer`` (which keeps the write, sync, take and ack paths) so each module reads in one sitting;
``Buffer`` sets every attribute declared here.
"""

from __future__ import annotations

import fcntl
import json
import math
import os
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Self

from edge.bufferschema import (
    COUNTERS,
    INTAKE,
    MIGRATIONS,
    Batch,
    BufferStatus,
    dead_letter_row,
    register_functions,
)
from thonminh.logs import Episode

__all__ = ["REJECTS_KEPT", "BufferCore", "BufferDamaged", "BufferLocked", "Totals"]

#: Rejects kept for ``thonminh edge status`` (they stay counted).
REJECTS_KEPT = 200


class BufferLocked(RuntimeError):
    """Another process (a running agent, or a drain) owns this buffer."""


class BufferDamaged(RuntimeError):
    """The store is not a database or fails SQLite's quick check (``bufferschema.store_damage``): its points
    cannot be read. Only the agent sets such a file aside (``Buffer(set_aside_damaged=True)``)."""

    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(f"{path} is damaged: {reason}")
        self.path = path
        self.reason = reason


@dataclass
class Totals:
    """What the rows of both databases hold, kept in memory (summed once on open)."""

    points: int = 0
    bytes: int = 0
    held: int = 0
    intake_bytes: int = 0


class BufferCore:
    """Shared by every ``Buffer`` method; not used on its own."""

    path: Path
    intake: Path | None
    rows_budget: int
    dead_letters_max: int
    counters: dict[str, int]
    _db: sqlite3.Connection
    _lock: threading.Lock
    _lockfile: int | None
    _wal_path: Path
    _wal_cap: int
    _tables: tuple[str, ...]
    _write: str
    _totals: Totals
    _store_max: int
    _boot: int
    _full: Episode

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=30)
        db.execute("PRAGMA cache_size=-512")  # 512 KiB page cache per connection: bounded memory on a Pi
        register_functions(db)
        if self.intake is not None:
            db.execute("ATTACH DATABASE ? AS intake", (str(self.intake),))
            db.execute("PRAGMA intake.cache_size=-128")  # the intake holds a minute: a small cache
        return db

    def _load_counters(self) -> None:
        """The store's counters, overridden by the intake's (newer: the agent died before storing them)."""
        for schema in self._tables:
            self.counters.update(
                dict(self._db.execute(f"SELECT name, value FROM {schema}.counters").fetchall())
            )

    def _align_ids(self, tx: sqlite3.Connection) -> None:
        """Continue the store's ids in the intake (its AUTOINCREMENT sequences never fall below the store's)."""
        if self.intake is None:
            return
        for name, seq in tx.execute("SELECT name, seq FROM main.sqlite_sequence").fetchall():
            if not tx.execute(
                "UPDATE intake.sqlite_sequence SET seq = max(seq, ?) WHERE name = ?", (seq, name)
            ).rowcount:
                tx.execute("INSERT INTO intake.sqlite_sequence (name, seq) VALUES (?, ?)", (name, seq))

    def _take_lockfile(self) -> None:
        lock_path = self.path.with_name(self.path.name + ".lock")
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        os.fchmod(fd, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            owner = os.pread(fd, 32, 0).decode(errors="replace").strip() or "?"
            os.close(fd)
            raise BufferLocked(
                f"{self.path} is in use by process {owner} (a running agent or drain)"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._lockfile = fd

    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _tx(self, *, fsync: bool = True) -> Iterator[sqlite3.Connection]:
        """One write transaction. ``fsync=False`` for what a power cut may undo harmlessly (an ack: the batch
        is sent again and overwrites itself); the next synced commit makes it durable, WAL frames are in order.
        A transaction that writes only the intake never touches the SD card."""
        with self._lock:
            if not fsync:
                self._db.execute("PRAGMA main.synchronous=NORMAL")
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
                    self._db.execute("PRAGMA main.synchronous=FULL")

    def _bound_wal(self) -> None:
        """Copy the WAL into the database and truncate it once it passes its share of the disk budget (SQLite's
        own checkpoint leaves the WAL at its largest size on disk)."""
        try:
            size = self._wal_path.stat().st_size
        except FileNotFoundError:
            return
        if size > self._wal_cap:
            self._db.execute("PRAGMA main.wal_checkpoint(TRUNCATE)")

    def _migrate(self, schema: str) -> None:
        have = {row[1] for row in self._db.execute(f"PRAGMA {schema}.table_info(points)")}
        for column, decl in MIGRATIONS.items():
            if column not in have:
                self._db.execute(f"ALTER TABLE {schema}.points ADD COLUMN {column} {decl}")

    def _boot_index(self, boot_id: str) -> int:
        self._db.execute("INSERT OR IGNORE INTO main.boots (boot_id) VALUES (?)", (boot_id,))
        return int(self._db.execute("SELECT id FROM main.boots WHERE boot_id = ?", (boot_id,)).fetchone()[0])

    def _max_id(self, schema: str) -> int:
        return int(self._db.execute(f"SELECT coalesce(max(id), 0) FROM {schema}.points").fetchone()[0])

    def _bump(
        self, db: sqlite3.Connection, deltas: dict[str, int], schema: str | None = None
    ) -> dict[str, int]:
        values = {
            k: self.counters.get(k, 0) + v for k, v in deltas.items() if v
        }  # rejected_<code> appear late
        if values:
            db.executemany(
                f"INSERT OR REPLACE INTO {schema or self._write}.counters (name, value) VALUES (?, ?)",
                values.items(),
            )
        return values

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

    def _budget_episode(self, dropped: int) -> None:
        if dropped:
            self._full.problem("over budget", dropped=dropped, buffer_bytes=self._totals.bytes)
        elif self._totals.bytes < 0.9 * self.rows_budget:
            self._full.ok(dropped_total=self.counters["dropped_total"])

    def _max_id_of(self, table: str) -> int:
        return int(self._db.execute(f"SELECT coalesce(max(id), 0) FROM intake.{table}").fetchone()[0])

    def _prune(self, db: sqlite3.Connection, schema: str) -> None:
        db.execute(
            f"DELETE FROM {schema}.rejects WHERE id <= (SELECT max(id) FROM {schema}.rejects) - ?",
            (REJECTS_KEPT,),
        )
        db.execute(
            f"DELETE FROM {schema}.dead_letters WHERE id <= (SELECT max(id) FROM {schema}.dead_letters) - ?",
            (self.dead_letters_max,),
        )

    def _drop_oldest(self, db: sqlite3.Connection, excess: int) -> tuple[int, int, int]:
        """Delete the oldest stored rows that free ``excess`` bytes: (points, bytes, held points) dropped."""
        freed = count = held = 0
        last = None
        for row_id, size, hold, n in db.execute("SELECT id, size, hold, n FROM main.points ORDER BY id"):
            freed += size
            count += n
            held += hold
            last = row_id
            if freed >= excess:
                break
        if last is not None:
            db.execute("DELETE FROM main.points WHERE id <= ?", (last,))
        return count, freed, held

    def _insert_dead(self, db: sqlite3.Connection, rows: list[tuple[object, ...]]) -> None:
        w = self._write
        db.executemany(
            f"INSERT INTO {w}.dead_letters (at_ms, t_ms, line, marked, point, error) VALUES (?, ?, ?, ?, ?, ?)",
            rows,
        )
        db.execute(
            f"DELETE FROM {w}.dead_letters WHERE id <= (SELECT max(id) FROM {w}.dead_letters) - ?",
            (self.dead_letters_max,),
        )

    def _correct(self, db: sqlite3.Connection, wall_ms: int, mono: float) -> int:
        if not self._totals.held:
            return 0
        return sum(
            db.execute(
                f"UPDATE {schema}.points SET t_ms = ? - CAST(round((? - mono) * 1000) AS INTEGER), hold = 0,"
                " mono = NULL, boot = NULL WHERE hold = 1 AND boot = ?",
                (wall_ms, mono, self._boot),
            ).rowcount
            for schema in self._tables
        )

    def correct(self, wall_ms: int, mono: float) -> int:
        """The clock is synchronised now: give held samples of this boot their true time. Returns how many."""
        with self._tx() as db:
            corrected = self._correct(db, wall_ms, mono)
        self._totals.held -= corrected
        return corrected

    def _where_batch(self, batch: Batch) -> Iterator[tuple[str, str, tuple[object, ...]]]:
        """(schema, condition, arguments) selecting the rows of ``batch`` in each database that may hold some:
        ids up to ``_store_max`` are in the store, higher ones in the intake, so an ack of rows InfluxDB took
        straight from the intake never writes to the SD card."""
        top: float = self._store_max if self.intake else math.inf
        for schema in self._tables:
            low, high = (top + 1, math.inf) if schema == INTAKE else (0.0, top)
            if batch.dense:
                # Unbroken runs of ids held every row in them when taken, and ids are never reused: delete by
                # range, sparing SQLite a JSON id list.
                for first, last in batch.ranges:
                    if max(first, low) <= min(last, high):
                        yield schema, "id BETWEEN ? AND ?", (max(first, low), min(last, high))
            else:
                ids = [i for i in batch.ids if low <= i <= high]
                if ids:
                    yield schema, "id IN (SELECT value FROM json_each(?))", (json.dumps(ids),)

    def holds(self, batch: Batch) -> int:
        """Points of ``batch`` still in the buffer: 0 once it was acknowledged (a signed batch an agent crash
        left on tmpfs is then only forgotten, not acknowledged twice)."""
        with self._lock:
            return sum(
                int(
                    self._db.execute(
                        f"SELECT coalesce(sum(n), 0) FROM {schema}.points WHERE {where}", args
                    ).fetchone()[0]
                )
                for schema, where, args in self._where_batch(batch)
            )

    def ack(self, batch: Batch, *, dead: Sequence[tuple[str, str]] = ()) -> int:
        """The batch reached InfluxDB (2xx): delete it and count it as forwarded. Returns the points deleted.

        ``dead`` are (line, error) of points InfluxDB refused as malformed while the rest of the batch was
        written (the forwarder bisects a refused batch): they move to the dead letters in the same transaction.
        Not fsynced on its own: a power cut may undo it, and the batch, sent again, overwrites itself (its refused
        points are refused again); the next fsynced commit makes it durable.
        """
        if not batch.count:
            return 0
        with self._tx(fsync=False) as db:
            deleted = size = 0
            for schema, where, args in self._where_batch(batch):
                n, part_size = db.execute(
                    f"SELECT coalesce(sum(n), 0), coalesce(sum(size), 0) FROM {schema}.points WHERE {where}",
                    args,
                ).fetchone()
                db.execute(f"DELETE FROM {schema}.points WHERE {where}", args)
                deleted, size = deleted + n, size + part_size
            if dead:
                now_ms = int(time.time() * 1000)
                self._insert_dead(
                    db, [(now_ms, *dead_letter_row(line), 0, None, error[:2000]) for line, error in dead]
                )
            gone = batch.count - deleted
            # Points dropped by the budget while this batch was in flight did arrive after all.
            values = self._bump(
                db,
                {
                    "forwarded_total": batch.count - len(dead),
                    "dropped_total": -gone,
                    "dead_letter_total": len(dead),
                    "last_write_ms": int(time.time() * 1000) - self.counters["last_write_ms"],
                },
            )
        self.counters.update(values)
        self._totals.points -= deleted
        self._totals.bytes -= size
        return deleted

    def oldest(self) -> tuple[int, bool, float | None] | None:
        """(t_ms, held, mono) of the oldest point, or None when empty."""
        with self._lock:
            row = self._db.execute(
                self._union("SELECT id, t_ms, hold, mono FROM {}.points") + " ORDER BY id LIMIT 1"
            ).fetchone()
        return None if row is None else (row[1], bool(row[2]), row[3])

    def _union(self, select: str) -> str:
        """``select`` (with ``{}`` for the schema) over every database of this buffer."""
        return " UNION ALL ".join(select.format(schema) for schema in self._tables)

    def status(self, *, rejects: int = 10) -> BufferStatus:
        """Counts straight from the database (also right when another process writes to it)."""
        db, union = self._db, self._union
        with self._lock:
            points, size, held = db.execute(
                "SELECT coalesce(sum(n), 0), coalesce(sum(size), 0), coalesce(sum(hold),"
                " 0) FROM (" + union("SELECT n, size, hold FROM {}.points") + ")"
            ).fetchone()
            oldest = db.execute(
                union("SELECT id, t_ms FROM {}.points WHERE hold = 0") + " ORDER BY id LIMIT 1"
            ).fetchone()
            dead = db.execute(
                "SELECT count(*) FROM (" + union("SELECT id FROM {}.dead_letters") + ")"
            ).fetchone()[0]
            counters = {name: 0 for name in COUNTERS}
            for schema in self._tables:  # the intake's are newer
                counters.update(dict(db.execute(f"SELECT name, value FROM {schema}.counters").fetchall()))
            recent = db.execute(
                union("SELECT id, at_ms, source, reason, sample FROM {}.rejects")
                + " ORDER BY id DESC LIMIT ?",
                (rejects,),
            ).fetchall()
            recent = [r[1:] for r in recent]
        return BufferStatus(
            points, size, held, oldest[1] if oldest else None, dead, counters, [tuple(r) for r in recent]
        )
