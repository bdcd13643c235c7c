"""How points become rows of the buffer (``edge.bufferschema`` has the layout): single rows, and timed rows of
up to ``row_points`` complete lines, compressed when that is smaller.

Split from ``edge.bufferschema`` (the tables and the reads that turn rows into batches) so each reads in one
sitting. The types are re-exported by ``edge.buffer``.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from typing import NamedTuple

from edge.bufferschema import ROW_OVERHEAD, STORE, TEXT, ZLIB

__all__ = ["ROW_CHARS", "NewRow", "TimedRow", "any_held", "insert_sql", "insert_timed_sql", "pack_rows"]

#: A stored row's text stays under this many characters (and ``row_points`` lines), so rows stay well inside a
#: batch and a row dropped by the budget is a small step.
ROW_CHARS = 16 * 1024
#: zlib's default level: 9 gains ~2 % on these rows for half again the CPU, 1 loses ~3 %.
ZLIB_LEVEL = 6


class NewRow(NamedTuple):
    """A point to store: its line without timestamp, its time, and its monotonic time when unsynchronised.

    A tuple: bound as it is to ``insert_sql``, or packed with others by ``pack_rows``.
    """

    line: str
    t_ms: int
    mono: float | None = None


def insert_sql(boot: int, schema: str = STORE) -> str:
    """Stores one ``NewRow`` (a single point) bound as it is; SQLite works out its size (the line's UTF-8 length
    plus ``ROW_OVERHEAD``, as ``Buffer.put`` counts it for the disk budget), hold flag and boot."""
    return f"""
INSERT INTO {schema}.points (line, t_ms, size, hold, mono, boot)
VALUES (?1, ?2, length(CAST(?1 AS BLOB)) + {ROW_OVERHEAD}, ?3 IS NOT NULL, ?3,
        CASE WHEN ?3 IS NULL THEN NULL ELSE {int(boot)} END)"""


def insert_timed_sql(schema: str = STORE) -> str:
    """Stores a ``TimedRow``: n complete lines, newline separated, as text or compressed; its size counts the
    bytes stored."""
    return f"""
INSERT INTO {schema}.points (line, t_ms, size, n, timed, chars)
VALUES (?1, ?2, length(CAST(?1 AS BLOB)) + {ROW_OVERHEAD}, ?3, ?4, ?5)"""


def any_held(rows: Sequence[NewRow]) -> bool:
    """Whether any of these points was taken while the clock was unsynchronised (it has a monotonic time)."""
    return [r[2] for r in rows].count(None) != len(rows)


class TimedRow(NamedTuple):
    """A row of complete lines as ``insert_timed_sql`` binds it: stored as text, or compressed when smaller."""

    stored: str | bytes
    t_ms: int
    n: int
    timed: int
    #: The text's UTF-8 length (what the row adds to a batch body, less its newline).
    chars: int

    @property
    def size(self) -> int:
        """What the disk budget counts for it, as ``insert_timed_sql`` computes it: the bytes stored."""
        return (self.chars if self.timed == TEXT else len(self.stored)) + ROW_OVERHEAD


def timed_row(text: str, t_ms: int, n: int) -> TimedRow:
    """``text`` (n complete lines) as it is stored: compressed unless that is no smaller (a short line)."""
    raw = text.encode()
    packed = zlib.compress(raw, ZLIB_LEVEL)
    if len(packed) < len(raw):
        return TimedRow(packed, t_ms, n, ZLIB, len(raw))
    return TimedRow(text, t_ms, n, TEXT, len(raw))


def pack_rows(rows: Sequence[NewRow], row_points: int) -> tuple[list[TimedRow], list[NewRow]]:
    """Points to store: synchronised ones packed into ``TimedRow``s, in order; when any point is held, every point
    stays single (for ``insert_sql``)."""
    if any_held(rows):
        # Held points are rare (a boot without a clock): store every point of this commit alone, in order.
        return [], list(rows)
    lines = [f"{line} {t}" for line, t, _ in rows]
    times = [r[1] for r in rows]
    timed = []
    start = used = 0
    for i, chars in enumerate(map(len, lines)):
        if i > start and (i - start >= row_points or used + chars > ROW_CHARS):
            timed.append(timed_row("\n".join(lines[start:i]), min(times[start:i]), i - start))
            start, used = i, 0
        used += chars + 1
    if lines:
        timed.append(timed_row("\n".join(lines[start:]), min(times[start:]), len(lines) - start))
    return timed, []
