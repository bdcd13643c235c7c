"""The per-light state journal: what the tracker knows, made durable before the broker hears "got it".

Two files in ``ctx.state_dir``: ``lights.sqlite``, the **snapshot** (SQLite, WAL, ``synchronous=FULL``: one row
per light), and ``lights.log``, an **append-only log** of commits. ``write`` appends one record (the JSON of
the lights that commit changed, zlib-compressed, with its length and CRC-32) and ``fdatasync``s it: when it
returns the record survives a power cut, so the messages it reflects may be acknowledged to the broker. A
light's state is its snapshot row overridden by its log records in order. Every ``fold_every`` commits the log
is folded into the snapshot (one transaction that also records the log's generation in ``user_version``) and
a new log of the next generation replaces it, so a log whose generation the snapshot already holds is ignored.

Why a log file and not a SQLite table: a commit appends about 1 KB (30 lights, compressed) to the file's last
page, one 4 KiB page on the SD card; a SQLite commit wrote a WAL frame straddling two pages and dirtied the
WAL index (``-shm``, a file on the SD card) again: two to three times as many pages (docs/pipeline.md, "Flash
writes"). A record torn by a crash or a power cut during its write fails its length or CRC check: it and
anything after it are cut off on the next start (that commit had not returned, so nothing of it was
acknowledged). A journal that cannot be read is moved aside and started afresh (the lights report again within
a report period), never a reason for the agent not to start.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import struct
import threading
import time
import zlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

from edge.filemodes import private_dir, private_file

__all__ = ["LightJournal", "log_path", "read_states"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS lights (id TEXT PRIMARY KEY, state TEXT NOT NULL, updated_ms INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS log (n INTEGER PRIMARY KEY, rows TEXT NOT NULL, updated_ms INTEGER NOT NULL);
"""
_UPSERT: Final = (
    "INSERT INTO lights (id, state, updated_ms) VALUES (?, ?, ?) "
    "ON CONFLICT(id) DO UPDATE SET state = excluded.state, updated_ms = excluded.updated_ms"
)
#: One encoder built once: json.dumps with non-default separators builds a new encoder per call (10 us a row).
_std_encode: Final = json.JSONEncoder(separators=(",", ":")).encode
try:
    from msgspec.json import Encoder as _FastEncoder
except ImportError:  # the stdlib alone writes the same JSON, only slower
    _fast_encode = None
else:
    _fast_encode = _FastEncoder().encode
_FOLD_EVERY: Final = 256
#: A log also folds once it is this big (a village of thousands of lights), so a start reads little.
_FOLD_BYTES: Final = 4 * 1024 * 1024
#: The log file's header: magic and generation; each record: payload length and CRC-32, then the payload.
_HEAD: Final = struct.Struct("<4sQ")
_MAGIC: Final = b"TLJ1"
_RECORD: Final = struct.Struct("<II")

_States = dict[str, tuple[Mapping[str, Any], int]]


class LightJournal:
    """Blocking by design: the source calls ``write`` in a worker thread, one call at a time."""

    def __init__(
        self, path: Path, *, fold_every: int = _FOLD_EVERY, logger: logging.Logger | None = None
    ) -> None:
        self.path = Path(path)
        self.log_path = log_path(self.path)
        self.log = logger or logging.getLogger(__name__)
        self.fold_every = max(1, fold_every)
        self._lock = threading.Lock()
        private_dir(self.path.parent)
        try:
            self._db = self._open()
        except sqlite3.DatabaseError as err:
            self._db = self._afresh(self.path, ("", "-wal", "-shm"), err, self._open)
        self._fold_legacy()
        #: Each light's latest logged state (and its time) since the last fold: what the next fold writes.
        self._unfolded: _States = {}
        self._logged = 0
        self._fd = -1
        #: The log's generation and the end of its last whole record (where the next one goes).
        self._gen = self._end = 0
        self._open_log()

    def _open(self) -> sqlite3.Connection:
        private_file(self.path, sqlite=True)
        db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=FULL")
            db.executescript(_SCHEMA)
            db.execute("SELECT count(*) FROM lights").fetchone()
            db.execute("SELECT count(*) FROM log").fetchone()
        except sqlite3.DatabaseError:
            db.close()
            raise
        return db

    def _afresh(self, path: Path, suffixes: tuple[str, ...], err: Exception, reopen: Any) -> Any:
        aside = path.with_name(f"{path.name}.corrupt-{int(time.time())}")
        self.log.error(
            "light journal unreadable, starting afresh",
            extra={"path": str(path), "moved_to": str(aside), "error": str(err)},
        )
        for suffix in suffixes:
            part = Path(f"{path}{suffix}")
            if part.exists():
                part.rename(Path(f"{aside}{suffix}"))
        return reopen()

    def _fold_legacy(self) -> None:
        """Fold the ``log`` table an older agent kept in the snapshot (one row per commit) into ``lights``."""
        legacy = _table_log_states(self._db, self.log)
        if legacy:
            self._commit_fold(legacy, self._generation())

    def _generation(self) -> int:
        return int(self._db.execute("PRAGMA user_version").fetchone()[0])

    def _open_log(self) -> None:
        """Read the log into ``_unfolded``, cut a torn tail off, and open it for appending (a new one if it is
        missing, unreadable or already folded)."""
        folded = self._generation()
        try:
            generation, records, end = _read_log(self.log_path)
        except FileNotFoundError:
            generation, records, end = 0, [], 0
        except ValueError as err:
            self._afresh(self.log_path, ("",), err, lambda: None)
            generation, records, end = 0, [], 0
        if generation <= folded:
            self._new_log(folded + 1)
            return
        for at_ms, rows in records:
            self._unfolded.update((k, (v, at_ms)) for k, v in rows.items() if isinstance(v, dict))
        self._logged, self._gen = len(records), generation
        self._fd = os.open(self.log_path, os.O_WRONLY | os.O_APPEND)
        os.fchmod(self._fd, 0o600)
        if os.fstat(self._fd).st_size > end:  # a record torn by a crash or power cut: never acknowledged
            self.log.warning(
                "light journal log ended in a torn record, cut off",
                extra={"path": str(self.log_path), "at": end},
            )
            os.ftruncate(self._fd, end)
            os.fsync(self._fd)
        self._end = end

    def _new_log(self, generation: int) -> None:
        """Replace the log with an empty one of ``generation`` (written aside, synced, renamed over)."""
        if self._fd >= 0:
            os.close(self._fd)
        tmp = self.log_path.with_name(self.log_path.name + ".new")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.fchmod(fd, 0o600)
            os.write(fd, _HEAD.pack(_MAGIC, generation))
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, self.log_path)
        _fsync_dir(self.log_path.parent)
        self._fd = os.open(self.log_path, os.O_WRONLY | os.O_APPEND)
        self._gen, self._end = generation, _HEAD.size
        self._unfolded, self._logged = {}, 0

    def load(self) -> dict[str, dict[str, Any]]:
        """Every light's last journaled state; rows that do not decode are skipped and logged."""
        with self._lock:
            out = _states(self._db, self.log)
            out.update((k, dict(state)) for k, (state, _) in self._unfolded.items())
            return out

    def write(self, rows: Mapping[str, Mapping[str, Any]], *, now_ms: int) -> None:
        """Record the new states of these lights in one appended record; returns once it is durable."""
        if not rows:
            return
        payload = zlib.compress(_encode({"at": now_ms, "rows": rows}).encode(), 6)
        record = _RECORD.pack(len(payload), zlib.crc32(payload)) + payload
        with self._lock:
            try:
                if os.write(self._fd, record) != len(record):
                    raise OSError(f"short write to {self.log_path}")
                os.fdatasync(self._fd)
            except OSError:
                os.ftruncate(self._fd, self._end)  # a partial record would hide every later one
                raise
            self._end += len(record)
            self._unfolded.update((light_id, (state, now_ms)) for light_id, state in rows.items())
            self._logged += 1
            if self._logged >= self.fold_every or self._end >= _FOLD_BYTES:
                self._commit_fold(self._unfolded, self._gen)
                self._new_log(self._gen + 1)

    def _commit_fold(self, states: _States, generation: int) -> None:
        """Write ``states`` into the snapshot and mark logs up to ``generation`` as folded, in one transaction."""
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        try:
            db.executemany(_UPSERT, [(k, _encode(s), t) for k, (s, t) in states.items()])
            db.execute("DELETE FROM log")
            db.execute(f"PRAGMA user_version = {int(generation)}")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    def close(self) -> None:
        with self._lock:
            self._db.close()
            if self._fd >= 0:
                os.close(self._fd)
                self._fd = -1

    def __enter__(self) -> LightJournal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def log_path(path: Path) -> Path:
    """The append-only log beside the snapshot ``path``."""
    return Path(path).with_suffix(".log")


def read_states(path: Path) -> dict[str, dict[str, Any]]:
    """The journal as another process sees it (read-only; the agent may be running). ``{}`` if unreadable.

    The log is read before the snapshot: a fold in between leaves a snapshot of a generation at least the
    log's, which already holds everything that log held."""
    if not Path(path).exists():
        return {}
    try:
        generation, records, _ = _read_log(log_path(path))
    except (OSError, ValueError):
        generation, records = 0, []
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
    try:
        with db:  # one read transaction: the snapshot and its generation of the same moment
            db.execute("BEGIN")
            out = _states(db, logging.getLogger(__name__))
            folded = int(db.execute("PRAGMA user_version").fetchone()[0])
    except sqlite3.OperationalError:
        return {}
    finally:
        db.close()
    if generation > folded:
        for _, rows in records:
            out.update((k, dict(v)) for k, v in rows.items() if isinstance(v, dict))
    return out


def _read_log(path: Path) -> tuple[int, list[tuple[int, Mapping[str, Any]]], int]:
    """(generation, [(at_ms, rows)], end of the last whole record) of a log file. The first record that is
    incomplete or fails its CRC ends it (a write a crash or power cut tore). ``ValueError``: not a log."""
    data = Path(path).read_bytes()
    if len(data) < _HEAD.size or data[:4] != _MAGIC:
        raise ValueError(f"{path} is not a light journal log")
    generation = int(_HEAD.unpack_from(data)[1])
    records: list[tuple[int, Mapping[str, Any]]] = []
    at = _HEAD.size
    while at + _RECORD.size <= len(data):
        size, crc = _RECORD.unpack_from(data, at)
        payload = data[at + _RECORD.size : at + _RECORD.size + size]
        if len(payload) < size or zlib.crc32(payload) != crc:
            break
        try:
            record = json.loads(zlib.decompress(payload))
            records.append((int(record["at"]), dict(record["rows"])))
        except (ValueError, TypeError, KeyError, zlib.error):
            break
        at += _RECORD.size + size
    return generation, records, at


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _states(db: sqlite3.Connection, log: logging.Logger) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for light_id, state in db.execute("SELECT id, state FROM lights").fetchall():
        try:
            data = json.loads(state)
        except ValueError:
            log.warning("light journal row unreadable, skipped", extra={"light": light_id})
            continue
        if isinstance(data, dict):
            out[light_id] = data
    out.update((k, dict(state)) for k, (state, _) in _table_log_states(db, log).items())
    return out


def _table_log_states(db: sqlite3.Connection, log: logging.Logger) -> _States:
    """Each light's latest state in the ``log`` table an older agent kept, with the time of its commit."""
    out: _States = {}
    for n, rows, updated_ms in db.execute("SELECT n, rows, updated_ms FROM log ORDER BY n").fetchall():
        try:
            data = json.loads(zlib.decompress(rows) if isinstance(rows, bytes) else rows)
        except (ValueError, zlib.error):
            log.warning("light journal log row unreadable, skipped", extra={"row": n})
            continue
        if isinstance(data, dict):
            out.update((k, (v, updated_ms)) for k, v in data.items() if isinstance(v, dict))
    return out


def _encode(value: Any) -> str:
    """JSON text of journal rows. msgspec writes a row in ~0.7 us where the stdlib took ~4.4, holding the GIL
    (so the event loop's thread waited); the text differs only in spelling (``1e16``, raw UTF-8), never in
    what ``json.loads`` reads back. A state holds only finite numbers (the adapters reject the rest), so
    msgspec's NaN-as-null never applies. A string it cannot write (a lone surrogate) goes to the stdlib."""
    if _fast_encode is not None:
        try:
            return _fast_encode(value).decode()
        except (TypeError, ValueError):  # UnicodeEncodeError is a ValueError
            pass
    return _std_encode(value)
