"""The per-light state journal: what the tracker knows, committed before the broker hears "got it".

One SQLite database in ``ctx.state_dir`` (WAL, ``synchronous=FULL``): ``write`` returns once the rows are on
disk, so a message may be acknowledged to the broker right after. On start the tracker reloads every light's
state from here. A journal that cannot be read is moved aside and started afresh (the lights report again
within a report period), never a reason for the agent not to start.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

__all__ = ["LightJournal"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS lights (id TEXT PRIMARY KEY, state TEXT NOT NULL, updated_ms INTEGER NOT NULL);
"""


class LightJournal:
    """Blocking by design: the source calls ``write`` in a worker thread, one call at a time."""

    def __init__(self, path: Path, *, logger: logging.Logger | None = None) -> None:
        self.path = Path(path)
        self.log = logger or logging.getLogger(__name__)
        self._lock = threading.Lock()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._db = self._open()
        except sqlite3.DatabaseError as err:
            aside = self.path.with_name(f"{self.path.name}.corrupt-{int(time.time())}")
            self.log.error("light journal unreadable, starting afresh", extra={"path": str(self.path),
                                                                              "moved_to": str(aside), "error": str(err)})
            for suffix in ("", "-wal", "-shm"):
                part = Path(f"{self.path}{suffix}")
                if part.exists():
                    part.rename(Path(f"{aside}{suffix}"))
            self._db = self._open()

    def _open(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=FULL")
            db.executescript(_SCHEMA)
            db.execute("SELECT count(*) FROM lights").fetchone()
        except sqlite3.DatabaseError:
            db.close()
            raise
        return db

    def load(self) -> dict[str, dict[str, Any]]:
        """Every light's last journaled state; rows that do not decode are skipped and logged."""
        out: dict[str, dict[str, Any]] = {}
        with self._lock:
            rows = self._db.execute("SELECT id, state FROM lights").fetchall()
        for light_id, state in rows:
            try:
                data = json.loads(state)
            except ValueError:
                self.log.warning("light journal row unreadable, skipped", extra={"light": light_id})
                continue
            if isinstance(data, dict):
                out[light_id] = data
        return out

    def write(self, rows: Mapping[str, Mapping[str, Any]], *, now_ms: int) -> None:
        """Replace the rows of these lights in one transaction; returns once it is durable."""
        if not rows:
            return
        payload = [(light_id, json.dumps(state, separators=(",", ":")), now_ms) for light_id, state in rows.items()]
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.executemany(
                    "INSERT INTO lights (id, state, updated_ms) VALUES (?, ?, ?) "
                    "ON CONFLICT(id) DO UPDATE SET state = excluded.state, updated_ms = excluded.updated_ms",
                    payload,
                )
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> LightJournal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
