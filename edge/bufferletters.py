"""The buffer's dead letters: points that cannot be encoded or that InfluxDB refused, kept for a technician.

``thonminh edge dead-letters`` lists them, purges them, or puts them back in the buffer once the cause is
fixed. They live in both databases of the buffer (``edge.buffer``) like the points.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from edge.buffercore import BufferCore
from edge.bufferschema import DEAD_LINE_SQL, ROW_OVERHEAD, STORE, DeadLetter

__all__ = ["DeadLetters"]


class DeadLetters(BufferCore):
    """List, purge and requeue the dead letters (``Buffer`` is one)."""

    def _sync(self, *, force_counters: bool) -> int:
        """Store the intake on the SD card (``Buffer._sync``); the store alone has nothing to store."""
        return 0

    def dead_letters(self, *, limit: int = 100) -> list[DeadLetter]:
        with self._lock:
            rows = self._db.execute(
                self._union(
                    "SELECT id, at_ms, t_ms, CASE WHEN line IS NULL THEN NULL WHEN t_ms IS NULL THEN line ELSE "
                    + DEAD_LINE_SQL
                    + " END, point, error FROM {}.dead_letters"
                )
                + " ORDER BY id LIMIT ?",
                (limit,),
            ).fetchall()
        return [DeadLetter(*r) for r in rows]

    def purge_dead_letters(self, ids: Sequence[int] | None = None) -> int:
        where = "" if ids is None else " WHERE id IN (SELECT value FROM json_each(?))"
        args = () if ids is None else (json.dumps(list(ids)),)
        with self._tx() as db:
            return sum(
                db.execute(f"DELETE FROM {schema}.dead_letters{where}", args).rowcount
                for schema in self._tables
            )

    def requeue_dead_letters(self, ids: Sequence[int] | None = None) -> int:
        """Put dead letters that have a line back into the buffer (after fixing the cause). Returns how many."""
        where = "line IS NOT NULL" + ("" if ids is None else " AND id IN (SELECT value FROM json_each(?))")
        args = () if ids is None else (json.dumps(list(ids)),)
        self._sync(force_counters=False)  # everything in the store, so new store ids stay below the intake's
        with self._tx() as db:
            rows = db.execute(
                f"DELETE FROM main.dead_letters WHERE {where} RETURNING line, t_ms, marked", args
            ).fetchall()
            rows.sort(key=lambda r: r[1])
            db.executemany(
                "INSERT INTO main.points (line, t_ms, size, marked) VALUES (?, ?, ?, ?)",
                [(line, t, len(line.encode()) + ROW_OVERHEAD, m) for line, t, m in rows],
            )
            self._align_ids(db)
        self._store_max = self._max_id(STORE)
        self._totals.points += len(rows)
        self._totals.bytes += sum(len(r[0].encode()) + ROW_OVERHEAD for r in rows)
        return len(rows)
