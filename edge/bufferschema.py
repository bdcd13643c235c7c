"""The buffer's on-disk layout: its tables, the row types, and the reads that turn rows into batches.

Kept apart from ``edge.buffer`` (which owns connections, locking, transactions, the disk budget and the
in-memory totals) so the storage format can be read in one place. The types are re-exported by ``edge.buffer``.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass, field

__all__ = [
    "COUNTERS",
    "LINE_SQL",
    "MARK_FIELD",
    "ROW_OVERHEAD",
    "SCHEMA",
    "Batch",
    "BufferStatus",
    "DeadLetter",
    "NewDeadLetter",
    "NewRow",
    "read_batch",
    "read_ids",
]

#: Bytes a row costs beyond its line (rowid, time, size, flags, cell and page overhead): 23-29 measured on
#: SQLite 3.40 with 46- and 246-byte lines. The disk budget counts ``len(line) + ROW_OVERHEAD`` per point.
ROW_OVERHEAD = 28
#: Field added to points whose timestamp could not be corrected (unsynchronised in a previous boot).
MARK_FIELD = "clock_unsynced=1i"
#: Counters persisted with the points, so totals survive restarts.
COUNTERS = ("forwarded_total", "dropped_total", "dead_letter_total", "rejected_total", "last_write_ms")

SCHEMA = """
CREATE TABLE IF NOT EXISTS points (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    line TEXT NOT NULL,
    t_ms INTEGER NOT NULL,
    size INTEGER NOT NULL,
    hold INTEGER NOT NULL DEFAULT 0,
    marked INTEGER NOT NULL DEFAULT 0,
    mono REAL,
    boot INTEGER
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

#: The full line as sent: the mark field (when set) and the timestamp appended.
LINE_SQL = f"line || CASE marked WHEN 1 THEN ',{MARK_FIELD} ' ELSE ' ' END || t_ms"


#: Characters a stored point adds to a batch body (its full line and the newline), from columns alone:
#: ``size`` is the line's UTF-8 length plus ``ROW_OVERHEAD``, so no line is read to cut a batch.
_BODY_CHARS = f"size - {ROW_OVERHEAD - 2} + length(t_ms) + marked * {len(MARK_FIELD) + 1}"


def _cut_sql(where: str, order: str) -> str:
    """Where one batch part ends: its first id, last id and count, in ``order`` from the first ready point.

    The inner query stops after ``LIMIT`` points; the window sum then cuts at the byte bound, always keeping
    the first point. Only integer columns go through the window (carrying the lines made it 4x slower).
    """
    return f"""
SELECT min(id), max(id), count(*) FROM (
    SELECT id, sum(chars) OVER (ORDER BY id {order} ROWS UNBOUNDED PRECEDING) AS used,
           row_number() OVER (ORDER BY id {order}) AS k
    FROM (SELECT id, {_BODY_CHARS} AS chars FROM points WHERE hold = 0{where} ORDER BY id {order} LIMIT ?)
) WHERE used <= ? OR k = 1"""


def _body_sql(where: str, order: str) -> str:
    """The points of one part cut by ``_cut_sql`` (bound as its first two parameters): body and ids as JSON."""
    return f"""
SELECT group_concat(full, char(10)), json_group_array(id) FROM (
    SELECT id, {LINE_SQL} AS full FROM points WHERE id BETWEEN ? AND ? AND hold = 0{where} ORDER BY id {order})"""


@dataclass(frozen=True, slots=True)
class NewRow:
    """A point to store: its line without timestamp, its time, and its monotonic time when unsynchronised."""

    line: str
    t_ms: int
    mono: float | None = None


@dataclass(frozen=True, slots=True)
class NewDeadLetter:
    """A point that cannot be encoded: kept for inspection, never forwarded."""

    point: str
    t_ms: int | None
    error: str


@dataclass(frozen=True, slots=True)
class Batch:
    """Points taken for one write, built by SQLite: the body to POST and the ids (a JSON array) to ack.

    One string per batch instead of a Python object per point keeps the forwarder's memory flat on a Pi.
    """

    body: str
    ids_json: str = "[]"
    count: int = 0
    #: (first, last) id of each contiguous run of ready points taken: excluded from takes while in flight
    ranges: tuple[tuple[int, int], ...] = ()

    def __len__(self) -> int:
        return self.count

    @property
    def ids(self) -> list[int]:
        return json.loads(self.ids_json)

    @property
    def lines(self) -> list[str]:
        return self.body.split("\n") if self.count else []


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


def read_batch(
    db: sqlite3.Connection,
    oldest: tuple[int, int],
    newest: tuple[int, int] = (0, 0),
    *,
    exclude: Sequence[tuple[int, int]] = (),
) -> Batch:
    """A batch of up to ``oldest`` (points, bytes) from the oldest ready point, then ``newest`` from the newest.

    Points in the ``exclude`` id ranges (batches in flight) are left out. Runs in one read transaction, so
    the bodies hold exactly the points the cuts counted; the caller serialises use of ``db``.
    """
    skip = "".join(" AND id NOT BETWEEN ? AND ?" for _ in exclude)
    bounds = [v for r in exclude for v in r]
    db.execute("BEGIN")
    try:
        cuts = [(db.execute(_cut_sql(skip, "ASC"), (*bounds, *oldest)).fetchone(), "ASC")]
        if newest[0] and cuts[0][0][2]:
            after = db.execute(_cut_sql(" AND id > ?" + skip, "DESC"), (cuts[0][0][1], *bounds, *newest))
            cuts.append((after.fetchone(), "DESC"))
        parts = [(cut, db.execute(_body_sql(skip, order), (cut[0], cut[1], *bounds)).fetchone())
                 for cut, order in cuts if cut[2]]
    finally:
        db.execute("COMMIT")
    if not parts:
        return Batch("")
    return Batch(
        "\n".join(body for _, (body, _) in parts),
        parts[0][1][1] if len(parts) == 1 else parts[0][1][1][:-1] + "," + parts[1][1][1][1:],
        sum(cut[2] for cut, _ in parts),
        tuple((cut[0], cut[1]) for cut, _ in parts),
    )


def read_ids(db: sqlite3.Connection, ids: Sequence[int]) -> Batch:
    """The points with these ids still stored, in id order, as a batch (no ranges: acknowledged by ids)."""
    rows = db.execute(f"SELECT id, {LINE_SQL} FROM points WHERE id IN (SELECT value FROM json_each(?)) ORDER BY id",
                      (json.dumps(list(ids)),)).fetchall()
    return Batch("\n".join(r[1] for r in rows), json.dumps([r[0] for r in rows]), len(rows))
