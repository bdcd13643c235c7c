"""Forged rollup rows the audit found, kept per village, so that the village's evidence names them.

``server.rollup_rows`` finds rollup rows the samples do not explain (``altered``) or that have no samples under
them (``extra``), and puts them right. Until then every long window that read them answered with them, and once
they are put right nothing in InfluxDB shows they were there. So each finding is kept on the service's own disk
(not in InfluxDB, where whoever forged the rows could delete the record as easily), and every verification of
a window that touches its span lists it as a fault ``rollup_altered`` of the figures the rollup serves: on the
API's evidence, the village page, the dossier and ``thonminh verify``. The verified share does not change: it
counts samples, and the samples verify; what the fault says is that answers used other numbers for a while. A
row the server could not delete (no ``DELETE``: 3.x) is still read: its fault is ``still_read``, and the verdicts
it touches are unverified while it is there.

A row without a ``village`` tag concerns no village's answer: it counts in ``/health`` only.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from server.evidence.faults import Fault
from server.evidence.selected import selections
from server.plan import DAY_MS
from server.queries import Source
from server.rollup_rows import Difference, row_exists
from server.rollup_specs import SPECS
from server.timeparse import HOUR_MS, iso
from thonminh.errors import InfluxError
from thonminh.influx import InfluxClient

__all__ = ["KIND", "Finding", "RollupFindings"]

log = logging.getLogger(__name__)

KIND = "rollup_altered"
#: findings of one village, rollup and gateway less than this apart are one (a forger's afternoon, not 40 rows)
MERGE_MS = 2 * HOUR_MS
#: findings kept per village, the most recent (a year of weekly forgeries, and a bounded file)
MAX_PER_VILLAGE = 200
_FORMAT = 1

#: rollup name -> (the measurement whose figures it serves, how long one of its rows is)
_ROLLUPS: dict[str, tuple[str, int]] = {
    **{s.name: (m, HOUR_MS) for m, s in SPECS.items()},
    **{s.daily: (m, DAY_MS) for m, s in SPECS.items()},
}


def _served(rollup: str) -> str:
    """The measurement whose figures ``rollup`` serves (its own name for a rollup not listed)."""
    return _ROLLUPS.get(rollup, (rollup, 0))[0]


#: a kept row: its series (every tag key, sorted, '' where absent) and its time
KeptRow = tuple[tuple[tuple[str, str], ...], int]
#: kept rows ``recheck`` reads back at most per rollup pass (each one small query)
RECHECK_ROWS = 100


@dataclass(frozen=True, slots=True)
class Finding:
    """Rows of one rollup, village and gateway the samples did not explain, over ``[start, end)``."""

    village: str
    gateway: str
    rollup: str
    start_ms: int
    end_ms: int
    altered: int
    extra: int
    #: when the audit last found (and put right) rows of this finding
    found_ms: int
    #: extra rows the server kept after their ``DELETE`` (InfluxDB 3.x has none): not put right
    kept: int = 0
    #: those rows, each (its every tag, sorted, '' where absent; its time): ``recheck`` finds them gone
    kept_rows: tuple[KeptRow, ...] = ()
    #: the tag values of its rows a figure selects (``server.evidence.selected``: ``uplink link=fiber``), so its
    #: fault is the fiber's, not 4G's; empty: any figure's (a measurement without, or a file before them)
    selections: tuple[str, ...] = ()

    def fault(self) -> Fault:
        measurement = _served(self.rollup)
        rows = self.altered + self.extra
        found = (
            f"{rows} row(s) of the rollup {self.rollup} that the samples do not explain ({self.altered} altered, "
            f"{self.extra} with no samples), found at {iso(self.found_ms)}"
        )
        if self.kept:
            detail = (
                f"{found}; {self.kept} of those with no samples could not be deleted (the server kept them): "
                "answers over long windows use them until someone deletes them"
            )
        else:
            detail = f"{found} and put right from the samples: answers over long windows used them until then"
        return Fault(
            KIND,
            self.gateway,
            self.start_ms,
            self.end_ms,
            detail,
            (measurement,),
            rows,
            selections=self.selections,
            still_read=self.kept > 0,
        )


class RollupFindings:
    """The findings, by village; ``record`` is ``Rollups.audit_found``'s hook, ``faults`` the verifier's."""

    def __init__(self, path: Path | None, *, clock: Callable[[], float]) -> None:
        #: None: kept in memory only
        self.path = path
        self.clock = clock
        self._lock = threading.Lock()
        self._by_village: dict[str, list[Finding]] = defaultdict(list)
        self._seen: tuple[int, int] | None = None
        self._recheck_at = 0
        with self._lock:
            self._reread()

    def record(self, rollup: str, differences: Sequence[Difference]) -> None:
        """Keep the ``altered`` and ``extra`` rows of one audit of ``rollup``, one finding per village and
        gateway, merged with a kept one less than ``MERGE_MS`` away; written to disk at once (a rare event)."""
        row_ms = _ROLLUPS.get(rollup, ("", HOUR_MS))[1]
        measurement = _served(rollup)
        now_ms = int(self.clock() * 1000)
        found: dict[tuple[str, str], Finding] = {}
        for d in differences:
            tags = dict(d.key[0])
            if d.kind not in ("altered", "extra") or not tags.get("village"):
                continue
            key = (tags["village"], tags.get("gateway", ""))
            one = Finding(
                *key,
                rollup,
                d.key[1],
                d.key[1] + row_ms,
                int(d.kind == "altered"),
                int(d.kind == "extra"),
                now_ms,
                int(d.kept),
                ((tuple(sorted((d.tags or {}).items())), d.key[1]),) if d.kept else (),
                tuple(selections(measurement, tags)),
            )
            found[key] = _merged(found[key], one, distinct=True) if key in found else one
        if not found:
            return
        with self._lock:
            self._reread()
            for finding in found.values():
                kept = self._by_village[finding.village]
                near = [i for i, k in enumerate(kept) if _mergeable(k, finding)]
                if near:
                    kept[near[0]] = _merged(kept[near[0]], finding, distinct=False)
                else:
                    kept.append(finding)
                kept.sort(key=lambda f: f.found_ms)
                del kept[:-MAX_PER_VILLAGE]
            self._save()

    def faults(self, village: str, start_ms: int, end_ms: int) -> list[Fault]:
        """The findings of ``village`` whose span touches ``[start, end)``, as faults."""
        with self._lock:
            self._reread()
            kept = list(self._by_village.get(village, ()))
        return [f.fault() for f in kept if f.start_ms < end_ms and f.end_ms > start_ms]

    def recheck(self, client: InfluxClient, database: str, rollup_rp: str | None) -> None:
        """Read back the kept rows (at most ``RECHECK_ROWS`` a call, in turn): one deleted since, by hand or by
        a server that applies ``DELETE`` late, no longer keeps its finding's verdicts unverified. A rollup
        pass's hook (``Rollups.after_roll``); a row that cannot be read is looked at again next time."""
        with self._lock:
            self._reread()
            kept = [(f, row) for found in self._by_village.values() for f in found for row in f.kept_rows]
        if not kept:
            return
        start = self._recheck_at % len(kept)
        turn = (kept[start:] + kept[:start])[:RECHECK_ROWS]
        self._recheck_at = start + len(turn)
        gone: set[tuple[str, KeptRow]] = set()
        for finding, (tags, time_ms) in turn:
            try:
                there = row_exists(client, Source(database, rollup_rp, finding.rollup), dict(tags), time_ms)
            except InfluxError:
                continue
            if not there:
                gone.add((finding.rollup, (tags, time_ms)))
        if not gone:
            return
        with self._lock:
            self._reread()
            for village, found in self._by_village.items():
                self._by_village[village] = [_without(f, gone) for f in found]
            self._save()
        log.info("kept rollup rows found deleted since", extra={"rows": len(gone)})

    def _reread(self) -> None:
        """The file read again when it changed since this process last read or wrote it: replicas that share
        the results' directory name what the one running the rollups found (called under the lock)."""
        stamp = self._stamp()
        if stamp == self._seen:
            return
        self._seen = stamp
        self._by_village = defaultdict(list)
        for finding in self._load():
            self._by_village[finding.village].append(finding)

    def _stamp(self) -> tuple[int, int] | None:
        try:
            status = self.path.stat() if self.path is not None else None
        except OSError:
            return None
        return None if status is None else (status.st_mtime_ns, status.st_size)

    def _load(self) -> list[Finding]:
        if self.path is None or not self.path.exists():
            return []
        try:
            body = json.loads(self.path.read_text(encoding="utf-8"))
            if body.get("format") != _FORMAT:
                raise ValueError(f"format {body.get('format')!r}, not {_FORMAT}")
            return [_finding(f) for f in body["findings"]]
        except (OSError, ValueError, TypeError, KeyError, AttributeError) as err:
            # a service that cannot start over its own file would hide every village's verdicts
            log.error(
                "rollup findings unreadable: starting without them",
                extra={"path": str(self.path), "error": str(err)},
            )
            return []

    def _save(self) -> None:
        if self.path is None:
            return
        findings = [asdict(f) for kept in self._by_village.values() for f in kept]
        part = self.path.with_name(self.path.name + ".part")
        try:
            part.write_text(json.dumps({"format": _FORMAT, "findings": findings}), encoding="utf-8")
            os.replace(part, self.path)
            self._seen = self._stamp()
        except OSError as err:  # kept in memory: the village's evidence names them until a restart
            log.error("rollup findings not written", extra={"path": str(self.path), "error": str(err)})


def _mergeable(a: Finding, b: Finding) -> bool:
    same = (a.village, a.gateway, a.rollup) == (b.village, b.gateway, b.rollup)
    return same and b.start_ms - a.end_ms < MERGE_MS and a.start_ms - b.end_ms < MERGE_MS


def _merged(a: Finding, b: Finding, *, distinct: bool) -> Finding:
    """``a`` and ``b`` as one finding. ``distinct``: rows of one audit, each another series or hour, added up.
    Otherwise rows found again over the same span are most likely the same rows (a server without DELETE keeps
    an extra row, found at every pass): counted once, not once a pass."""
    overlap = a.start_ms < b.end_ms and b.start_ms < a.end_ms
    add = max if overlap and not distinct else int.__add__
    rows = tuple(sorted(set(a.kept_rows) | set(b.kept_rows)))
    return replace(
        a,
        start_ms=min(a.start_ms, b.start_ms),
        end_ms=max(a.end_ms, b.end_ms),
        altered=add(a.altered, b.altered),
        extra=add(a.extra, b.extra),
        found_ms=max(a.found_ms, b.found_ms),
        kept=len(rows) if rows else add(a.kept, b.kept),
        kept_rows=rows,
        # a side without (a file before them) may have been any value's: the merged one is any figure's too
        selections=tuple(sorted({*a.selections, *b.selections})) if a.selections and b.selections else (),
    )


def _without(finding: Finding, gone: set[tuple[str, KeptRow]]) -> Finding:
    rows = tuple(r for r in finding.kept_rows if (finding.rollup, r) not in gone)
    if rows == finding.kept_rows:
        return finding
    return replace(finding, kept=len(rows), kept_rows=rows)


def _finding(stored: dict) -> Finding:
    """A finding as ``_save`` wrote it (JSON lists for tuples; a file before ``kept_rows`` has none)."""
    rows = tuple(
        (tuple((str(k), str(v)) for k, v in tags), int(t)) for tags, t in stored.get("kept_rows", ())
    )
    return Finding(
        **{**stored, "kept_rows": rows, "selections": tuple(map(str, stored.get("selections", ())))}
    )
