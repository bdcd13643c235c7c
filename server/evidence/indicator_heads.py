"""How many manual indicator entries the criteria service has made for each village, and the last one's id: the
head of each village's chain of entries, on the service's own disk.

Each entry names its number (``seq``) and the previous entry's id (``prev``), signed, so an entry deleted from
between two others leaves a gap. The newest entries have no later one to leave a gap: the head says how many
there were, so deleting them (and with them the correction an official entered) shows too. Kept beside the
registry, never in InfluxDB, where whoever deletes the entries could lower the count as well. A head only
grows; lost, the service continues from the newest entry InfluxDB holds, and only a deletion made before it
was lost goes unseen.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import NamedTuple

from server.evidence.registry import connect, create
from thonminh.errors import ConfigError

__all__ = ["Head", "HeadsUnreadable", "IndicatorHeads"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS heads (village TEXT PRIMARY KEY, seq INTEGER NOT NULL, id TEXT NOT NULL);
"""


class HeadsUnreadable(ConfigError):
    """The file cannot be read or written (not a SQLite file, a disk fault): no entry can be checked or made.
    Never mended by the service: it is what a deletion of the newest entries is seen against."""


class Head(NamedTuple):
    seq: int
    id: str


class IndicatorHeads:
    """The heads in the SQLite file at ``path`` (made on first use). Safe to share between threads."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()

    def get(self, village: str) -> Head | None:
        if not self.path.exists():
            return None
        with self._lock, self._unreadable():
            create(self.path, _SCHEMA)
            with connect(self.path) as db:
                row = db.execute("SELECT seq, id FROM heads WHERE village = ?", (village,)).fetchone()
        return Head(*row) if row else None

    def all(self) -> dict[str, Head]:
        """Every village's head; none when the file is not there yet (no entry made)."""
        if not self.path.exists():
            return {}
        with self._lock, self._unreadable():
            create(self.path, _SCHEMA)
            with connect(self.path) as db:
                return {v: Head(s, i) for v, s, i in db.execute("SELECT village, seq, id FROM heads")}

    @contextmanager
    def _unreadable(self) -> Iterator[None]:
        try:
            yield
        except sqlite3.DatabaseError as err:
            raise HeadsUnreadable(f"indicator heads {self.path}: {err}") from err

    def advance(self, village: str, seq: int, entry_id: str) -> None:
        """The village's entry ``seq`` is written: the head moves to it, never back."""
        with self._lock, self._unreadable():
            create(self.path, _SCHEMA)  # again: a file deleted while the service runs is made anew
            with connect(self.path) as db:
                db.execute(
                    "INSERT INTO heads VALUES (?, ?, ?) ON CONFLICT(village) DO UPDATE SET seq = excluded.seq, "
                    "id = excluded.id WHERE excluded.seq > heads.seq",
                    (village, seq, entry_id),
                )
