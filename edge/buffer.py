"""The durable store every point is committed to before anything else happens to it.

Two SQLite databases in WAL mode with one layout (``edge.bufferschema``): the **store** on the SD card
(``synchronous=FULL``) and, when the buffer has one, the **intake** on tmpfs (``/dev/shm``: RAM, no flash
writes, ``synchronous=OFF``). Every ``put``, ``ack`` and counter goes to the intake: a committed transaction
there survives SIGKILL of the agent (the kernel holds the file), not a power cut. ``sync`` (every
``buffer.sync_interval_s``, from the pipeline) moves what the intake holds to the store in one fsynced
transaction, so a power cut loses at most that interval; rows InfluxDB took in between never touch the SD card.
Why: each SQLite commit to the SD card dirties a few 4 KiB pages whether it is fsynced or not, and one per emit
group wrote ~700 MB a day (docs/pipeline.md, "Flash writes"). Without an intake every commit goes to the store.

Points are kept in commit order (``AUTOINCREMENT`` ids, never reused within a boot, every store id lower than
every intake id) as line protocol: up to ``row_points`` complete lines per row (zlib-compressed when smaller:
``edge.bufferrows``), or one line without its timestamp plus the monotonic time and boot for a sample taken
while the clock was unsynchronised (``hold = 1``: never forwarded until corrected). A disk budget bounds the
bytes the store's rows hold (compressed as they are): the oldest rows go first, every point in them counted.
Batches, drops and the live share move whole rows, from both databases.

Called from worker threads: writes go through one connection under a lock (SQLite has one writer), takes
through a second one, so a batch can be read while a commit waits for its fsync.
"""

from __future__ import annotations

import logging
import math
import os
import sqlite3
import threading
import time
from collections.abc import Sequence
from pathlib import Path

from edge.buffercore import REJECTS_KEPT, BufferDamaged, BufferLocked, Totals
from edge.bufferdamage import set_aside, store_damage
from edge.bufferletters import DeadLetters
from edge.bufferrows import NewRow, any_held, insert_sql, insert_timed_sql, pack_rows
from edge.bufferschema import (
    COUNTERS,
    INTAKE,
    MARK_FIELD,
    POINT_COLUMNS,
    ROW_OVERHEAD,
    STORE,
    Batch,
    BufferStatus,
    DeadLetter,
    NewDeadLetter,
    intake_path,
    read_batch,
    schema_sql,
)
from edge.filemodes import own_private_dir, private_dir, private_file
from edge.rejects import bounded, count_reasons
from thonminh.logs import Episode

__all__ = [
    "COUNTERS",
    "MARK_FIELD",
    "ROW_OVERHEAD",
    "Batch",
    "Buffer",
    "BufferDamaged",
    "BufferLocked",
    "BufferStatus",
    "DeadLetter",
    "NewDeadLetter",
    "NewRow",
    "any_held",
]

log = logging.getLogger(__name__)

#: Shares of the disk budget (``max_bytes``, every file of the store): the rows may use ROWS_SHARE; the
#: database file holds them in at most 1.25x their size (pages are reused, tested); the WAL is truncated once a
#: commit leaves it over WAL_SHARE; the rest is the WAL's one commit in flight and the 32 KiB index (-shm).
ROWS_SHARE = 0.6
WAL_SHARE = 0.1
#: The intake is synced early once its rows pass this share of ``max_bytes`` (at most INTAKE_MAX): one sync
#: then fits in the WAL's commit in flight, and a burst (a drain of a source's queue) cannot fill the RAM.
INTAKE_SHARE = 0.05
INTAKE_MAX = 4 * 1024 * 1024
#: Counters alone (a forwarded batch moves ``forwarded_total``) are stored at most this often: a power cut
#: may take back this much of them; an agent crash nothing (they are in the intake).
COUNTERS_EVERY_S = 900.0
_MOVED = ("points", "dead_letters", "rejects")
_EMPTY = Batch(b"")


class Buffer(DeadLetters):
    """The SQLite store. ``exclusive`` takes a lock file so two agents never share one buffer.

    ``row_points`` lines share a row (1 stores every point alone: the slowest, finest-grained layout).
    ``intake`` is the intake database's path (on tmpfs); None commits everything straight to the store.
    A store that is not a database or fails SQLite's quick check raises ``BufferDamaged``; the agent's open
    (``set_aside_damaged``) renames it aside instead and starts a new one, so a file a power cut tore cannot stop
    the measuring at every start.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        max_bytes: int,
        boot_id: str = "unknown",
        dead_letters_max: int = 10_000,
        row_points: int = 64,
        intake: Path | None = None,
        exclusive: bool = True,
        readonly: bool = False,
        set_aside_damaged: bool = False,
        logger: logging.Logger | None = None,
    ) -> None:
        self.path = Path(path)
        self.max_bytes = max_bytes
        #: What the rows may hold; the database file, its WAL and index stay within ``max_bytes``.
        self.rows_budget = int(max_bytes * ROWS_SHARE)
        self._wal_path = Path(f"{self.path}-wal")
        self._wal_cap = int(max_bytes * WAL_SHARE)
        if readonly:  # beside a running agent: its intake too, if it has one (attaching would create it)
            intake = intake or intake_path(self.path)
            intake = intake if intake.exists() else None
        self.intake = intake
        self._intake_cap = min(int(max_bytes * INTAKE_SHARE), INTAKE_MAX)
        self._tables = (STORE,) if self.intake is None else (STORE, INTAKE)
        self._write = self._tables[-1]
        self.dead_letters_max = dead_letters_max
        self.row_points = max(1, row_points)
        self._log = logger or log
        self._lock = threading.Lock()
        self._read_lock = self._lock if readonly else threading.Lock()
        self.counters = {name: 0 for name in COUNTERS}
        self._totals = Totals()
        self._store_max = 0
        self._full = Episode(
            self._log, "disk budget reached, dropping the oldest points", max_bytes=max_bytes
        )
        self._lockfile: int | None = None
        self._closed = False
        self._readonly = readonly
        self._counters_at = time.monotonic()
        if self.intake is not None and not readonly:
            own_private_dir(self.intake.parent)
        if not readonly:
            private_dir(self.path.parent)
        if exclusive and not readonly:
            self._take_lockfile()
        if not readonly:
            private_file(self.path, sqlite=True)
            if self.intake is not None:
                private_file(self.intake, sqlite=True)
        damage = store_damage(self.path)
        if damage is not None:
            if not set_aside_damaged:
                if self._lockfile is not None:
                    os.close(self._lockfile)
                raise BufferDamaged(self.path, damage)
            bad = set_aside(self.path)  # under the lock file: no drain opens it meanwhile
            self._log.error(
                "buffer damaged: set aside, the points stored in it will not be forwarded; a new buffer starts",
                extra={"buffer": str(self.path), "set_aside_as": str(bad), "error": damage},
            )
            private_file(self.path, sqlite=True)
        self._db = self._connect()
        if readonly:
            # inspection next to a running agent: WAL readers never block it, and this connection never writes
            self._db.execute("PRAGMA query_only=1")
            self._boot = -1
        else:
            self._open_store(boot_id)
        # Takes read through their own connection: WAL lets them run while a commit holds the writer.
        self._reader = self._db if readonly else self._connect()
        self._load_counters()
        for schema in self._tables:
            points, size, held = self._db.execute(
                "SELECT coalesce(sum(n), 0), coalesce(sum(size), 0),"
                f" coalesce(sum(hold), 0) FROM {schema}.points"
            ).fetchone()
            self._totals.points, self._totals.bytes = self._totals.points + points, self._totals.bytes + size
            self._totals.held += held
        self._store_max = self._max_id(STORE)

    def _open_store(self, boot_id: str) -> None:
        db = self._db
        db.execute("PRAGMA main.journal_mode=WAL")
        db.execute("PRAGMA main.synchronous=FULL")  # durable across power loss, not only process death
        db.execute(f"PRAGMA main.journal_size_limit={self._wal_cap}")
        db.executescript(schema_sql(STORE))
        self._migrate(STORE)
        if self.intake is not None:
            db.execute("PRAGMA intake.journal_mode=WAL")
            db.execute("PRAGMA intake.synchronous=OFF")  # tmpfs: nothing to sync, and it survives the agent
            db.executescript(schema_sql(INTAKE))
            self._migrate(INTAKE)  # one an older agent left in this boot
            self._recover()
        self._boot = self._boot_index(boot_id)
        self._insert = insert_sql(self._boot, self._write)
        self._insert_timed = insert_timed_sql(self._write)
        with self._tx() as tx:
            # Held samples of an earlier boot can never be corrected: forward them marked, not silently.
            tx.execute(
                "UPDATE points SET hold = 0, marked = 1, mono = NULL WHERE hold = 1 AND boot != ?",
                (self._boot,),
            )

    def _recover(self) -> None:
        """Store what an agent that died left in the intake (a sync it did not finish included), and continue
        the store's ids there, so every store id stays lower than every intake id."""
        with self._tx() as tx:
            for table in _MOVED:  # already stored by a sync whose second half did not run
                tx.execute(
                    f"DELETE FROM intake.{table} WHERE id <= (SELECT coalesce(max(id), 0) FROM main.{table})"
                )
        self._store_max = self._max_id(STORE)
        self._load_counters()
        self._sync(force_counters=True)
        with self._tx() as tx:
            self._align_ids(tx)

    def close(self) -> None:
        """Store what the intake holds and remove it (a clean stop leaves nothing in RAM); if that fails, the
        intake stays for the next start of this boot."""
        if self._closed:
            return
        self._closed = True
        stored = self.intake is None or self._readonly
        if not stored:
            try:
                self._sync(force_counters=True)
                stored = True
            except sqlite3.Error as err:
                self._log.error(
                    "could not store the intake on close; it stays for the next start",
                    extra={"intake": str(self.intake), "error": str(err)},
                )
        with self._read_lock:
            self._reader.close()
        with self._lock:
            self._db.close()
        if stored and self.intake is not None and not self._readonly:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{self.intake}{suffix}").unlink(missing_ok=True)
        if self._lockfile is not None:
            os.close(self._lockfile)
            self._lockfile = None

    def put(
        self,
        rows: Sequence[NewRow],
        *,
        dead: Sequence[NewDeadLetter] = (),
        rejects: Sequence[tuple[str, str, str | None]] = (),
        correct_at: tuple[int, float] | None = None,
    ) -> int:
        """Commit points (and dead letters, rejects, a clock correction) in one transaction.

        Returns the number of points dropped to stay within the disk budget. After it returns, the rows survive
        an agent crash; with an intake, a power cut only once ``sync`` stored them (the budget is kept there).
        """
        now_ms = int(time.time() * 1000)
        timed, single = pack_rows(rows, self.row_points)
        added = sum(r.size for r in timed) + sum(len(r[0].encode()) + ROW_OVERHEAD for r in single)
        held = sum(1 for r in single if r[2] is not None)
        w = self._write
        with self._tx() as db:
            db.executemany(self._insert_timed, timed)
            db.executemany(self._insert, single)
            if dead:
                self._insert_dead(db, [(now_ms, d.t_ms, None, 0, d.point, d.error) for d in dead])
            if rejects:
                db.executemany(
                    f"INSERT INTO {w}.rejects (at_ms, source, reason, sample) VALUES (?, ?, ?, ?)",
                    [(now_ms, source, bounded(reason), sample) for source, reason, sample in rejects],
                )
                db.execute(
                    f"DELETE FROM {w}.rejects WHERE id <= (SELECT max(id) FROM {w}.rejects) - ?",
                    (REJECTS_KEPT,),
                )
            total = self._totals.bytes + added
            dropped = dropped_bytes = dropped_held = 0
            if total > self.rows_budget and self.intake is None:
                dropped, dropped_bytes, dropped_held = self._drop_oldest(db, total - self.rows_budget)
            corrected = self._correct(db, *correct_at) if correct_at else 0
            values = self._bump(
                db,
                {
                    "dropped_total": dropped,
                    "dead_letter_total": len(dead),
                    "rejected_total": len(rejects),
                    **count_reasons(r[1] for r in rejects),
                },
            )
        self.counters.update(values)
        t = self._totals
        t.points += len(rows) - dropped
        t.bytes = total - dropped_bytes
        t.held += held - dropped_held - corrected
        if self.intake is not None:
            t.intake_bytes += added
            if t.intake_bytes > self._intake_cap:
                self.sync()
        self._budget_episode(dropped)
        return dropped

    def sync(self) -> int:
        """Store what the intake holds on the SD card: one fsynced transaction. Returns the points stored.

        The disk budget is kept here (the oldest stored rows make room). Counters alone are stored at most every
        ``COUNTERS_EVERY_S``. A no-op without an intake."""
        return self._sync(force_counters=False)

    def _sync(self, *, force_counters: bool) -> int:
        if self.intake is None:
            return 0
        with self._read_lock:  # no take between storing the rows and deleting them from the intake
            moved = [self._max_id_of(table) for table in _MOVED]
            counters_due = force_counters or time.monotonic() - self._counters_at >= COUNTERS_EVERY_S
            if not any(moved) and not counters_due:
                return 0
            points = 0
            with self._tx() as tx:
                excess = self._totals.bytes - self.rows_budget
                dropped, dropped_bytes, dropped_held = (
                    self._drop_oldest(tx, excess) if excess > 0 else (0, 0, 0)
                )
                points = tx.execute("SELECT coalesce(sum(n), 0) FROM intake.points").fetchone()[0]
                tx.execute(
                    f"INSERT INTO main.points ({POINT_COLUMNS})"
                    f" SELECT {POINT_COLUMNS} FROM intake.points ORDER BY id"
                )
                tx.execute("INSERT INTO main.dead_letters SELECT * FROM intake.dead_letters ORDER BY id")
                tx.execute("INSERT INTO main.rejects SELECT * FROM intake.rejects ORDER BY id")
                self._prune(tx, STORE)
                values = {**self.counters, "dropped_total": self.counters["dropped_total"] + dropped}
                if counters_due or dropped:  # a page of its own: not with every sync (they are in the intake)
                    tx.executemany(
                        "INSERT OR REPLACE INTO main.counters (name, value) VALUES (?, ?)", values.items()
                    )
            with self._tx() as tx:
                for table, upto in zip(_MOVED, moved, strict=True):
                    if upto:
                        tx.execute(f"DELETE FROM intake.{table} WHERE id <= ?", (upto,))
                if dropped:
                    tx.execute(
                        "INSERT OR REPLACE INTO intake.counters (name, value) VALUES ('dropped_total', ?)",
                        (values["dropped_total"],),
                    )
            self.counters = values
            if counters_due or dropped:
                self._counters_at = time.monotonic()
            self._store_max = max(self._store_max, moved[0])
            t = self._totals
            t.points, t.bytes, t.held, t.intake_bytes = (
                t.points - dropped,
                t.bytes - dropped_bytes,
                t.held - dropped_held,
                0,
            )
        self._budget_episode(dropped)
        return int(points)

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
            return read_batch(
                self._reader,
                (max_points - live_n, max_bytes - live_bytes),
                (live_n, live_bytes),
                exclude=ranges,
                tables=self._tables,
            )
