"""The sessions signed out before their cookies expire, kept across restarts.

A session cookie is valid until it expires, in every browser it was copied to: signing out ends it here by
remembering its id (``server.pages.auth``). Kept in memory only, a restart forgot them, and a cookie copied
before its sign-out (on a shared computer at the commune office) worked again; an admin's cookie enters a
village's figures. With a file (``[pages] signed_out``, else ``signed-out.sqlite`` beside the key registry)
they are kept on disk until they would have expired.

A file that cannot be read at start does not stop the service: every session issued before that start is
refused (whoever holds one signs in again), so no sign-out is forgotten. One service process per file: another
process's sign-outs are read at its start, not while both run.
"""

from __future__ import annotations

import logging
import math
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path

from server.evidence.registry import connect, create

__all__ = ["EndedSessions"]

log = logging.getLogger(__name__)

_SCHEMA = "CREATE TABLE IF NOT EXISTS ended (sid TEXT PRIMARY KEY, until REAL NOT NULL);"


class EndedSessions:
    """Session ids signed out, each until its cookie would have expired (Unix seconds). Safe between threads."""

    def __init__(self, path: Path | None, clock: Callable[[], float] = time.time) -> None:
        self.path = path
        self._clock = clock
        self._lock = threading.Lock()
        self._ended: dict[str, float] = {}
        #: sessions issued before this (Unix seconds) are refused: their sign-outs could not be read
        self.refused_before = 0.0
        if path is not None:
            self._load(path)

    def _load(self, path: Path) -> None:
        now = self._clock()
        try:
            create(path, _SCHEMA)
            with connect(path) as db:
                rows = db.execute("SELECT sid, until FROM ended WHERE until > ?", (now,)).fetchall()
        except (sqlite3.DatabaseError, OSError) as err:
            self.refused_before = math.floor(now)  # a cookie's time is in whole seconds
            log.error(
                "signed-out sessions unreadable: every session issued before this start is refused",
                extra={"file": str(path), "error": str(err)},
            )
            return
        self._ended = {str(sid): float(until) for sid, until in rows}

    def end(self, sid: str, until: float) -> None:
        """Session ``sid`` is signed out; its cookie would have been valid until ``until``."""
        now = self._clock()
        with self._lock:
            # those past their lifetime are refused by it already
            self._ended = {s: u for s, u in self._ended.items() if u > now}
            self._ended[sid] = until
            if self.path is None:
                return
            try:
                create(self.path, _SCHEMA)  # again: a file deleted while the service runs is made anew
                with connect(self.path) as db:
                    db.execute("DELETE FROM ended WHERE until <= ?", (now,))
                    db.execute("INSERT OR REPLACE INTO ended VALUES (?, ?)", (sid, until))
            except (sqlite3.DatabaseError, OSError) as err:
                log.error(
                    "sign-out not kept on disk: a restart would forget it",
                    extra={"file": str(self.path), "error": str(err)},
                )

    def ended(self, sid: str, issued: float) -> bool:
        """Whether the session ``sid``, issued at ``issued`` (Unix seconds), may no longer be used."""
        return issued < self.refused_before or sid in self._ended
