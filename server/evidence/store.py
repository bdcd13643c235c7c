"""Settled hours' verification results on the service's own disk, so that a restart verifies nothing again.

The service keeps each hour's result in memory (``server.evidence.hourly``). Without this file a restart would
read every village's default windows from InfluxDB again before its answers were whole: for a province's 2,000
villages x 30 days, 15 to 25 CPU-hours on this machine (a village-month costs the verifier and InfluxDB 28 to
46 CPU-s: docs/benchmarks.md, "Notes: verification"). Only settled hours are kept (an hour closed more than
``settle_ms`` before it was verified), each with the keys it was checked against (a digest of its village's
records in the registry: ``KeySnapshot.digest``) and when, so the rules of the memory hold across a restart: a
key registered or retired for a village makes that village's hours read again, and a
result older than ``[evidence] reverify_s`` is read afresh, not trusted, so a forgery of a settled hour still
shows within that bound.

It lives beside the key registry and has the same trust: whoever can write either can change what the service
believes. InfluxDB never holds it, since whoever forges data could write forged results there as easily.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
from collections.abc import Iterable
from dataclasses import asdict, fields
from pathlib import Path
from typing import Any, Final

from server.evidence.faults import Fault
from server.evidence.registry import KeySnapshot, connect, create
from server.evidence.verify import HourResult, Run

__all__ = ["ResultStore", "StoredHour"]

log = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS hours (
    village TEXT NOT NULL,
    hour_ms INTEGER NOT NULL,
    keys TEXT NOT NULL,
    computed_s REAL NOT NULL,
    result TEXT NOT NULL,
    PRIMARY KEY (village, hour_ms)
) WITHOUT ROWID;
"""
#: (hour, when it was verified, the result)
StoredHour = tuple[int, float, HourResult]


class ResultStore:
    """The results at ``path`` (a SQLite file, created on first use). Safe to share between threads."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        #: rows that could not be read back, and reads and writes of the file that failed (what they concern
        #: is verified again from InfluxDB)
        self.unreadable = 0
        self._lock = threading.Lock()
        try:
            create(self.path, _SCHEMA)
        except sqlite3.DatabaseError as err:  # a cache: set aside (for whoever wants to look), begun anew
            aside = self.path.with_name(f"{self.path.name}.unreadable")
            self.path.replace(aside)
            log.warning(
                "evidence: the kept results cannot be read; set aside, every hour is verified again",
                extra={"file": str(self.path), "moved_to": str(aside), "error": str(err)},
            )
            create(self.path, _SCHEMA)

    def load(
        self, village: str, first_ms: int, last_ms: int, *, keys: KeySnapshot, since_s: float
    ) -> list[StoredHour]:
        """The village's hours in ``[first, last)`` verified against its keys in ``keys`` at ``since_s`` or
        later."""
        # or against the whole registry as it is now: the version before kept that digest (an upgrade reads
        # its results rather than verify a province again; they are written anew under the village's own)
        try:
            with connect(self.path) as db:
                rows = db.execute(
                    "SELECT hour_ms, computed_s, result FROM hours WHERE village = ? AND hour_ms >= ? "
                    "AND hour_ms < ? AND keys IN (?, ?) AND computed_s >= ?",
                    (village, first_ms, last_ms, keys.digest(village), keys.digest(), since_s),
                ).fetchall()
        except sqlite3.DatabaseError as err:
            self._failed("read", err)
            return []
        found = []
        for hour_ms, computed_s, text in rows:
            try:
                found.append((hour_ms, computed_s, _result(hour_ms, json.loads(text))))
            except (ValueError, KeyError, TypeError, AttributeError) as err:
                with self._lock:
                    self.unreadable += 1
                log.warning(
                    "evidence: a stored result cannot be read; the hour is verified again",
                    extra={"file": str(self.path), "village": village, "hour_ms": hour_ms, "error": str(err)},
                )
        return found

    def save(self, village: str, keys: KeySnapshot, hours: Iterable[StoredHour]) -> None:
        key_set = keys.digest(village)
        rows = [
            (village, hour_ms, key_set, computed_s, json.dumps(_plain(result), separators=(",", ":")))
            for hour_ms, computed_s, result in hours
        ]
        if rows:
            try:
                with connect(self.path) as db:
                    db.executemany("INSERT OR REPLACE INTO hours VALUES (?, ?, ?, ?, ?)", rows)
            except sqlite3.DatabaseError as err:
                self._failed("write", err)

    def forget_before(self, ms: int) -> None:
        try:
            with connect(self.path) as db:
                db.execute("DELETE FROM hours WHERE hour_ms < ?", (ms,))
        except sqlite3.DatabaseError as err:
            self._failed("trim", err)

    def _failed(self, what: str, err: sqlite3.DatabaseError) -> None:
        """The file broke while the service runs (a disk fault, a bad restore): the results are still made,
        from InfluxDB, and kept in memory; a restart sets the file aside (``__init__``)."""
        with self._lock:
            self.unreadable += 1
        log.warning(
            "evidence: the kept results could not be used; the hours are verified from InfluxDB",
            extra={"file": str(self.path), "doing": what, "error": str(err)},
        )


#: a run's fields in the order it is stored: an hour holds about one run per manifest (a gateway's chain
#: alternates between its live hour and the local midnight of ``wifi_daily``), 80,000 a village-month, whose
#: ``asdict`` and ``Run(**...)`` were most of the CPU of saving and loading them
_RUN_FIELDS: Final = tuple(f.name for f in fields(Run))


def _plain(result: HourResult) -> dict[str, Any]:
    return {
        "counts": {m: list(c) for m, c in result.counts.items()},
        "faults": [asdict(f) for f in result.faults],
        "runs": [[getattr(r, name) for name in _RUN_FIELDS] for r in result.runs],
        "keys": sorted(list(k) for k in result.keys),
        "selected": None if result.selected is None else {k: list(c) for k, c in result.selected.items()},
    }


def _result(hour_ms: int, data: dict[str, Any]) -> HourResult:
    """An ``HourResult`` from ``_plain``; ``ValueError``, ``KeyError``, ``TypeError`` or ``AttributeError`` when
    it is not one."""
    faults = tuple(map(Fault.from_plain, data["faults"]))
    runs = tuple(map(_run, data["runs"]))
    keys = frozenset((str(g), str(fp)) for g, fp in data["keys"])
    # kept by the version before: no counts per selected tag (``Verification.unselected`` weighs them)
    selected = None if data.get("selected") is None else _counts(data["selected"])
    return HourResult(hour_ms, _counts(data["counts"]), faults, runs, keys, selected)


def _counts(stored: dict[str, Any]) -> dict[str, tuple[int, int]]:
    return {str(m): (int(c[0]), int(c[1])) for m, c in stored.items()}


def _run(stored: Any) -> Run:
    if isinstance(stored, list):
        return Run(*stored)
    if isinstance(stored, dict):  # as the version before stored it: an upgrade reads it, not verify it again
        return Run(**stored)
    raise TypeError(f"a run stored as {type(stored).__name__}")
