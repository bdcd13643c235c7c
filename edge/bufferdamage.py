"""A buffer store that cannot be used, and setting it aside: a file a power cut tore, or an SD card's failing
pages, must not stop the agent measuring (docs/pipeline.md, "A damaged store")."""

from __future__ import annotations

import os
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

__all__ = ["set_aside", "store_damage"]


#: SQLite's primary result codes for a store that cannot be used: not a database (its header was overwritten)
#: or damaged pages (a write torn by a power cut, a failing SD card). Others (locked, I/O error, permissions)
#: say nothing about the file's content: they are raised, never a reason to set the file aside.
_DAMAGED = frozenset({sqlite3.SQLITE_NOTADB, sqlite3.SQLITE_CORRUPT})


def store_damage(store: Path) -> str | None:
    """Why the store at ``store`` cannot be used, or None: SQLite's quick check, which reads every page of the
    file (without checking indexes against their tables: that is the slow part of a full check).

    On a read-only connection of its own: on a file that is not a database even a buffer connection's first
    pragma fails, and a read-write connection's close would checkpoint a WAL into a damaged file, or delete it."""
    if not store.exists():
        return None  # a new buffer
    db = sqlite3.connect(f"{store.resolve().as_uri()}?mode=ro", uri=True, timeout=30)
    try:
        found = [row[0] for row in db.execute("PRAGMA quick_check(5)").fetchall()]
    except sqlite3.DatabaseError as err:
        if getattr(err, "sqlite_errorcode", 0) & 0xFF not in _DAMAGED:
            raise
        return str(err)
    finally:
        db.close()
    if found == ["ok"]:
        return None
    problems = [line for row in found for line in row.splitlines() if not line.startswith("***")]
    return "quick_check: " + "; ".join(problems)  # one line, for the log and the status page


def set_aside(store: Path) -> Path:
    """Rename a damaged store to ``<name>.bad-<UTC time>`` beside it, with its side files (``-wal`` beside
    ``.bad-<time>``, so SQLite tools open the pair as it was). The side files go first: a WAL left beside the
    new store would be replayed into it. The renames are made durable before a new store is created."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    bad = store.with_name(f"{store.name}.bad-{stamp}")
    n = 1
    while bad.exists():  # a second damage within the same second keeps the first file
        bad, n = store.with_name(f"{store.name}.bad-{stamp}-{n}"), n + 1
    for suffix in ("-wal", "-shm", "-journal", ""):
        side = Path(f"{store}{suffix}")
        if side.exists():
            side.rename(f"{bad}{suffix}")
    fd = os.open(store.parent, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    return bad
