"""The buffer's on-disk layout: its tables and the reads that turn rows into batches.

A row of ``points`` holds one point or several. Points committed with a synchronised clock are stored ``timed``:
up to ``row_points`` complete lines (timestamps included) in one row, so SQLite inserts, reads and deletes one
row per few dozen points, not one per point (that per-row work was most of the gateway's CPU per point). A
point taken while the clock was unsynchronised is a row of its own, without its timestamp, until the clock
correction gives it one. ``n`` is the number of points in a row; every count (depth, drops, forwarded) sums it.

A timed row's text is stored zlib-compressed when that is smaller (``timed = 2``, its text's length in ``chars``):
line protocol of one commit repeats its measurement, tags and field keys, and shrinks about five times. What a
store of the intake writes to the SD card with InfluxDB down is these rows, so that is most of what the card
takes during an outage (docs/pipeline.md, "Flash writes"). Rows of an older agent (text, ``timed = 1``) and
single rows stay text; the batch body is the same bytes either way.

Kept apart from ``edge.buffer`` (which owns connections, locking, transactions, the disk budget and the
in-memory totals) so the storage format can be read in one place; ``edge.bufferrows`` makes the rows,
``edge.bufferdamage`` says what makes a store unusable and sets it aside. The types
are re-exported by ``edge.buffer``.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

__all__ = [
    "COUNTERS",
    "DEAD_LINE_SQL",
    "INTAKE",
    "STORE",
    "LINE_SQL",
    "MARK_FIELD",
    "POINT_COLUMNS",
    "ROW_OVERHEAD",
    "SCHEMA",
    "TEXT",
    "ZLIB",
    "dead_letter_row",
    "intake_path",
    "schema_sql",
    "Batch",
    "BufferStatus",
    "DeadLetter",
    "NewDeadLetter",
    "read_batch",
    "register_functions",
]

#: Bytes a row costs beyond its line (rowid, time, size, flags, cell and page overhead): 23-29 measured on
#: SQLite 3.40 with 46- and 246-byte lines. The disk budget counts the bytes stored (a compressed row's, not its
#: text's) plus ``ROW_OVERHEAD`` per row.
ROW_OVERHEAD = 28
#: Field added to points whose timestamp could not be corrected (unsynchronised in a previous boot).
MARK_FIELD = "clock_unsynced=1i"
#: Counters persisted with the points, so totals survive restarts.
COUNTERS = ("forwarded_total", "dropped_total", "dead_letter_total", "rejected_total", "last_write_ms")

#: The two databases of one buffer (SQLite schema names): the store on the SD card, and the intake in RAM
#: (tmpfs) that every commit goes to first when the buffer has one (``edge.buffer``).
STORE, INTAKE = "main", "intake"

SCHEMA = """
CREATE TABLE IF NOT EXISTS points (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    line TEXT NOT NULL,
    t_ms INTEGER NOT NULL,
    size INTEGER NOT NULL,
    hold INTEGER NOT NULL DEFAULT 0,
    marked INTEGER NOT NULL DEFAULT 0,
    mono REAL,
    boot INTEGER,
    n INTEGER NOT NULL DEFAULT 1,
    timed INTEGER NOT NULL DEFAULT 0,
    chars INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS boots (id INTEGER PRIMARY KEY, boot_id TEXT NOT NULL UNIQUE);
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS dead_letters (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at_ms INTEGER NOT NULL,
    t_ms INTEGER,
    line TEXT,
    marked INTEGER NOT NULL DEFAULT 0,
    point TEXT,
    error TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS rejects (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at_ms INTEGER NOT NULL,
    source TEXT NOT NULL,
    reason TEXT NOT NULL,
    sample TEXT
);
"""


def intake_path(store: Path, directory: Path | None = None) -> Path:
    """Where the intake of the buffer at ``store`` lives: ``directory``, by default ``/dev/shm/thonminh-<uid>`` of
    the buffer's owner (tmpfs on Raspberry Pi OS; it survives the agent, not a reboot), named after the store's
    absolute path so several agents never share one and ``thonminh edge status`` finds it."""
    digest = hashlib.sha256(str(Path(store).resolve()).encode()).hexdigest()[:16]
    return (directory or Path(f"/dev/shm/thonminh-{_owner(Path(store))}")) / f"intake-{digest}.sqlite"


def _owner(store: Path) -> int:
    """Its directory's owner (the agent's user), else this process's: ``sudo thonminh edge status`` reads the
    agent's intake and health, not root's empty ones."""
    try:
        return store.resolve().parent.stat().st_uid
    except OSError:
        return os.getuid()


def schema_sql(schema: str) -> str:
    """The tables in database ``schema`` (the store or the intake: both have the same layout)."""
    return SCHEMA.replace("CREATE TABLE IF NOT EXISTS ", f"CREATE TABLE IF NOT EXISTS {schema}.")


#: Columns added since the first release, in order: a buffer (or an intake) written by an older agent gets them
#: on open, so its columns end in the order of ``SCHEMA``'s.
MIGRATIONS = {
    "n": "INTEGER NOT NULL DEFAULT 1",
    "timed": "INTEGER NOT NULL DEFAULT 0",
    "chars": "INTEGER NOT NULL DEFAULT 0",
}
#: Every column of ``points``, named where rows move between the databases (never ``SELECT *``).
POINT_COLUMNS = "id, line, t_ms, size, hold, marked, mono, boot, n, timed, chars"

#: ``timed``: a single point without its timestamp (0), complete lines as text (1), or zlib-compressed (2).
TEXT, ZLIB = 1, 2


def register_functions(db: sqlite3.Connection) -> None:
    """The SQL functions the batch reads use, on a new connection: ``inflate`` of a compressed row."""
    db.create_function("inflate", 1, zlib.decompress, deterministic=True)


#: The full line of a single-point row without its timestamp: the mark field (when set) and the time appended.
DEAD_LINE_SQL = f"line || CASE marked WHEN 1 THEN ',{MARK_FIELD} ' ELSE ' ' END || t_ms"
#: The text a row adds to a batch body: its lines, inflated when compressed, or its one line completed.
LINE_SQL = f"CASE timed WHEN {ZLIB} THEN inflate(line) WHEN {TEXT} THEN line ELSE {DEAD_LINE_SQL} END"


#: Characters a stored row adds to a batch body (its text and a newline), from columns alone: ``chars`` of a
#: compressed row, else ``size`` (the text's UTF-8 length plus ``ROW_OVERHEAD``), so no line is read to cut a batch.
_BODY_CHARS = (
    f"CASE timed WHEN {ZLIB} THEN chars + 1 WHEN {TEXT} THEN size - {ROW_OVERHEAD - 1}"
    f" ELSE size - {ROW_OVERHEAD - 2} + length(t_ms) + marked * {len(MARK_FIELD) + 1} END"
)


_Cut = tuple[str, int, int, int, int]  # (schema, lowest id, highest id, rows, points)


def _cut(
    db: sqlite3.Connection,
    tables: Sequence[str],
    where: str,
    order: str,
    params: Sequence[object],
    bounds: tuple[int, int],
) -> list[_Cut]:
    """Where one batch part ends, per database: ``(schema, lowest id, highest id, rows, points)`` of the rows
    it takes, walking ``tables`` in ``order`` from the first ready row (every id of the store is lower than every
    id of the intake, so the walk is in id order across both).

    Walks the rows' integer columns and stops at the first row that would cross the point or byte bound (the
    first row always goes): a few dozen rows per batch, whatever the backlog. (A window function over a
    ``LIMIT batch_points`` scan read thousands of rows of a big backlog, overflow pages included.)
    """
    max_points, max_bytes = bounds
    cuts: list[_Cut] = []
    rows = points = used = 0
    for schema in tables:
        first = last = taken = taken_points = 0
        full = False
        cursor = db.execute(
            f"SELECT id, n, {_BODY_CHARS} FROM {schema}.points WHERE hold = 0{where} ORDER BY id {order}",
            params,
        )
        try:
            for row_id, n, chars in cursor:
                if rows and (points + n > max_points or used + chars > max_bytes):
                    full = True
                    break
                first = first or row_id
                last = row_id
                rows, points, used = rows + 1, points + n, used + chars
                taken, taken_points = taken + 1, taken_points + n
        finally:
            cursor.close()
        if taken:
            cuts.append((schema, min(first, last), max(first, last), taken, taken_points))
        if full:
            break
    return cuts


def _body_sql(schema: str, where: str, order: str) -> str:
    """The rows of one part cut by ``_cut`` (its lowest and highest id bound first): the body, as UTF-8 bytes
    (what is posted: no str of the batch is ever made, one copy of it less in memory per batch in flight)."""
    return f"""
SELECT CAST(group_concat(full, char(10)) AS BLOB) FROM (
    SELECT {LINE_SQL} AS full FROM {schema}.points WHERE id BETWEEN ? AND ? AND hold = 0{where} ORDER BY id {order})"""


def _ids_sql(schema: str, where: str, order: str) -> str:
    """The row ids of a part with gaps (held or in-flight rows between its ends), as a JSON array."""
    return f"""
SELECT json_group_array(id) FROM (
    SELECT id FROM {schema}.points WHERE id BETWEEN ? AND ? AND hold = 0{where} ORDER BY id {order})"""


@dataclass(frozen=True, slots=True)
class NewDeadLetter:
    """A point that cannot be encoded: kept for inspection, never forwarded."""

    point: str
    t_ms: int | None
    error: str


@dataclass(frozen=True, slots=True)
class Batch:
    """Points taken for one write, built by SQLite: the body to POST and what to ack.

    One string per batch instead of a Python object per point keeps the forwarder's memory flat on a Pi.
    """

    #: The lines as UTF-8, newline separated: exactly what is posted.
    body: bytes
    #: The row ids as a JSON array; None when ``ranges`` hold every id in them (usual: no list needed).
    id_list: str | None = "[]"
    #: Points (lines) in the body.
    count: int = 0
    #: (first, last) row id of each contiguous run of ready rows taken: excluded from takes while in flight
    ranges: tuple[tuple[int, int], ...] = ()

    def __len__(self) -> int:
        return self.count

    @property
    def dense(self) -> bool:
        """Every id between each range's first and last is in the batch (ids are never reused)."""
        return self.id_list is None

    @property
    def ids_json(self) -> str:
        if self.id_list is not None:
            return self.id_list
        return json.dumps(self.ids)

    @property
    def ids(self) -> list[int]:
        """The ids of the rows taken (a row holds one point or several)."""
        if self.id_list is not None:
            return [int(i) for i in json.loads(self.id_list)]
        return [i for first, last in self.ranges for i in range(first, last + 1)]

    @property
    def lines(self) -> list[str]:
        return self.body.decode().split("\n") if self.count else []


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """A dead letter as listed: its line with timestamp when it had one, else the point as JSON."""

    id: int
    at_ms: int
    t_ms: int | None
    line: str | None
    point: str | None
    error: str


@dataclass(frozen=True, slots=True)
class BufferStatus:
    """What ``thonminh edge status`` shows."""

    points: int
    bytes: int
    held: int
    oldest_ms: int | None
    dead_letters: int
    counters: dict[str, int]
    rejects: list[tuple[int, str, str, str | None]] = field(default_factory=list)


def dead_letter_row(line: str) -> tuple[int | None, str]:
    """(t_ms, line without its timestamp) of a complete line refused by InfluxDB, as dead letters store it."""
    body, _, t = line.rpartition(" ")
    return (int(t), body) if t.isdigit() else (None, line)


def read_batch(
    db: sqlite3.Connection,
    oldest: tuple[int, int],
    newest: tuple[int, int] = (0, 0),
    *,
    exclude: Sequence[tuple[int, int]] = (),
    tables: Sequence[str] = (STORE,),
) -> Batch:
    """A batch of up to ``oldest`` (points, bytes) from the oldest ready row, then ``newest`` from the newest.

    Whole rows only: a row that would cross a bound is left for the next batch, unless it is the first.
    Rows in the ``exclude`` id ranges (batches in flight) are left out. ``tables`` are the buffer's databases
    in id order (the store, then the intake). Runs in one read transaction, so the bodies hold exactly the
    points the cuts counted; the caller serialises use of ``db``.
    """
    skip = "".join(" AND id NOT BETWEEN ? AND ?" for _ in exclude)
    bounds = [v for r in exclude for v in r]
    db.execute("BEGIN")
    try:
        cuts = [(cut, "ASC") for cut in _cut(db, tables, skip, "ASC", bounds, oldest)]
        if newest[0] and cuts:
            after = max(cut[2] for cut, _ in cuts)
            cuts += [
                (cut, "DESC")
                for cut in _cut(db, tables[::-1], " AND id > ?" + skip, "DESC", (after, *bounds), newest)
            ]
        parts = []
        for (schema, first, last, rows, _), order in cuts:
            body = db.execute(_body_sql(schema, skip, order), (first, last, *bounds)).fetchone()[0]
            ids = (
                None
                if last - first + 1 == rows
                else json.loads(
                    db.execute(_ids_sql(schema, skip, order), (first, last, *bounds)).fetchone()[0]
                )
            )
            parts.append((first, last, body, ids))
    finally:
        db.execute("COMMIT")
    if not parts:
        return Batch(b"")
    dense = all(ids is None for *_, ids in parts)
    return Batch(
        parts[0][2] if len(parts) == 1 else b"\n".join(body for _, _, body, _ in parts),
        None
        if dense
        else json.dumps([i for first, last, _, ids in parts for i in (ids or range(first, last + 1))]),
        sum(cut[4] for cut, _ in cuts),
        tuple((first, last) for first, last, _, _ in parts),
    )
