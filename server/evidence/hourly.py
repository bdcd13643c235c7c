"""Verification results per village and UTC hour, kept by the service, and a figure's share of them.

The service never reads a verification result from InfluxDB: whoever forges data could write forged results
there as easily. It verifies each hour itself and keeps the result in memory: a more recent hour for
``recent_ttl_s``, a closed hour older than ``settle_ms`` (late data and re-sends arrive within it; the hour of
a local midnight, where the day's Wi-Fi point is rewritten all day, closes with its day: ``closes``) until the
keys registered for its village change or the sweep reads it again. A criteria request then adds up cached
hours; the default evaluation, refreshed every hour by ``server.verdicts.keep_warm``, fills them. The settled
hours' results are also written to the service's own disk (``server.evidence.store``), so a restart reads none
of them again.

The sweep (``Verifier.sweep``, run by ``server.verdicts.reverify``) is what bounds how long an alteration of a
settled hour stays unseen: it reads again the hours whose result is older than ``reverify_s``, a bounded number
a pass. Requests never do: a month of settled hours expiring at once would make one request pay for all of it.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, replace
from functools import lru_cache, partial
from typing import TypeVar
from zoneinfo import ZoneInfo

from server.evidence.combine import Verification, combine, in_order
from server.evidence.faults import Fault
from server.evidence.indicator_heads import IndicatorHeads
from server.evidence.registry import KeyRecord, KeySnapshot, Registry
from server.evidence.source import HOUR_MS, LOOKAROUND_MS, numbers_around
from server.evidence.store import ResultStore
from server.evidence.verify import HourResult
from server.evidence.workers import Workers
from server.plan import DAY_MS, local_day_start
from server.queries import Source
from thonminh.contract import DAILY_TZ
from thonminh.errors import ConfigError, InfluxError
from thonminh.influx import InfluxClient
from thonminh.logs import RateLimited

__all__ = ["Sweep", "Verifier", "closes", "verify_or_fail"]

log = logging.getLogger(__name__)
#: a village the verifier fails on is asked for at every request: its traceback once an hour
_failures = RateLimited(log, period=3600.0)

#: the contract's zone of the daily points, unless the service is told another
DAILY_ZONE = ZoneInfo(DAILY_TZ)
#: hours one sweep pass reads at most, whatever the backlog (about half a core at a pass a minute)
MAX_PASS_HOURS = 500


@dataclass(slots=True)
class _Entry:
    #: the village's keys it was checked against (``KeySnapshot.digest``)
    keys: str
    computed_s: float
    result: HourResult
    #: when a window last included it: the sweep reads again only hours that are still asked for
    used_s: float


@dataclass(frozen=True, slots=True)
class Sweep:
    """What one sweep pass did: the (village, hour) read again, those whose result changed, the due hours no
    window had used since their reading (dropped: a request reads them afresh) and the due hours left over."""

    read: tuple[tuple[str, int], ...]
    changed: tuple[tuple[str, int], ...]
    dropped: int
    behind: int


class Verifier:
    """Verifies a village's hours on demand and keeps the results (thread-safe; one village at a time each)."""

    def __init__(
        self,
        client: InfluxClient,
        raw: Callable[[str], Source],
        registry: Registry,
        *,
        clock: Callable[[], float] = time.time,
        settle_ms: int = 2 * HOUR_MS,
        recent_ttl_s: float = 300.0,
        reverify_s: float = 7 * 86_400.0,
        store: ResultStore | None = None,
        workers: Workers | None = None,
        zone: ZoneInfo = DAILY_ZONE,
    ) -> None:
        self.client = client
        #: whose local midnights stamp the daily points (the service's zone, as its daily reads)
        self.zone = zone
        self.raw = raw
        self.registry = registry
        self.clock = clock
        self.settle_ms = settle_ms
        self.recent_ttl_s = recent_ttl_s
        self.reverify_s = reverify_s
        #: settled hours' results on disk, across restarts (``server.evidence.store``); None: memory only
        self.store = store
        #: processes that verify long windows cold (``server.evidence.workers``); by default this one alone
        self.workers = workers or Workers(1)
        #: results the sweep found changed, ever: a cache of verdicts built on them is stale when it moves
        self.changes = 0
        #: faults of a village's window found by others (``server.rollup_findings``): (village, start, end) ->
        #: faults; ``verify_or_fail`` adds them to its answer
        self.reported: list[Callable[[str, int, int], list[Fault]]] = []
        #: each village's count of manual indicator entries the service made (``server.evidence.indicator_record``)
        self.indicator_heads: IndicatorHeads | None = None
        self._hours: dict[tuple[str, int], _Entry] = {}
        #: per village, the hours of ``_hours`` read while open (``_open_at``): re-read together
        self._open: dict[str, set[int]] = defaultdict(set)
        #: per village, each window added up lately: (first hour, last hour) -> (keys, when, verification)
        self._windows: dict[str, dict[tuple[int, int], tuple[str, float, Verification]]] = defaultdict(dict)
        self._around: dict[tuple[str, int, int], tuple[float, AbstractSet[tuple[str, int, int]]]] = {}
        self._guard = threading.Lock()
        self._villages: dict[str, threading.Lock] = defaultdict(threading.Lock)

    def verify(self, village: str, start_ms: int, end_ms: int) -> Verification:
        """Every UTC hour that ``[start, end)`` touches, from the cache where it is still good."""
        keys = self.registry.snapshot()
        first, last = (
            start_ms - start_ms % HOUR_MS,
            end_ms - end_ms % HOUR_MS + (HOUR_MS if end_ms % HOUR_MS else 0),
        )
        own = keys.digest(village)
        with self._guard:
            lock, windows = self._villages[village], self._windows[village]
        with lock:
            now_s = self.clock()
            results: dict[int, HourResult] = {}
            missing: list[int] = []
            for hour in range(first, last, HOUR_MS):
                entry = self._hours.get((village, hour))
                if entry is not None and entry.keys == own and self._fresh(hour, entry, now_s):
                    results[hour] = entry.result
                    entry.used_s = now_s
                else:
                    missing.append(hour)
            missing = self._stored(village, missing, keys, now_s, results)
            # a village's open hours (the last ones, a local midnight's) are one reading, whichever window asks:
            # read minutes apart they disagree, a day's rewrite in one and its live neighbours in the chain not in
            # the other, and windows asking in turn would each read them again
            here = [h for h in range(first, last, HOUR_MS) if self._open_at(h, now_s)]
            readings = {self._hours[(village, h)].computed_s for h in here if h in results}
            if len(readings) > 1 or any(h not in results for h in here):
                again = {*here, *self._open_hours(village, own, now_s)}
                missing = sorted({*missing, *again})
                for hour in again:
                    results.pop(hour, None)
            verified = []
            for lo, hi in _ranges(missing):
                for result in self._read(keys, village, lo, hi):
                    entry = self._hours[(village, result.hour_ms)] = _Entry(own, now_s, result, now_s)
                    verified.append(entry)
                    if self._open_at(result.hour_ms, now_s):
                        self._open[village].add(result.hour_ms)
                    if first <= result.hour_ms < last:
                        results[result.hour_ms] = result
            self._keep(village, keys, verified)
            # the same window again with the same hours (a default window, within the hour): added up once
            known = windows.get((first, last))
            if not missing and known is not None and known[0] == own and now_s - known[1] < self.recent_ttl_s:
                return known[2]
            found = combine(
                results.values(), lambda: self._numbers_around(village, first, last, now_s), now_s
            )
            # only a window asked again within ``recent_ttl_s`` is answered from here, so the older ones go: a
            # read key may ask for any of millions of windows, each kept would be memory never given back
            for window, (_, added_s, _) in windows.copy().items():
                if now_s - added_s >= self.recent_ttl_s:
                    windows.pop(window, None)
            windows[(first, last)] = (own, now_s, found)
            return found

    def _read(self, keys: KeySnapshot, village: str, lo: int, hi: int) -> Iterator[HourResult]:
        return self.workers.read_and_verify(self.client, self.raw, keys, village, lo, hi)

    def _read_hours(self, keys: KeySnapshot, village: str, hours: list[int]) -> list[HourResult]:
        return [r for lo, hi in _ranges(hours) for r in self._read(keys, village, lo, hi)]

    def close(self) -> None:
        """Stop the worker processes, if any were started."""
        self.workers.close()

    def _stored(
        self,
        village: str,
        missing: list[int],
        keys: KeySnapshot,
        now_s: float,
        results: dict[int, HourResult],
    ) -> list[int]:
        """The hours of ``missing`` the store holds checked against ``keys``, verified less than ``reverify_s``
        ago, put in memory and ``results``; the others, which are still to be read."""
        if self.store is None or not missing:
            return missing
        since_s = now_s - self.reverify_s
        for hour, computed_s, result in self.store.load(
            village, missing[0], missing[-1] + HOUR_MS, keys=keys, since_s=since_s
        ):
            entry = _Entry(keys.digest(village), computed_s, result, now_s)
            if hour in results or not self._settled(hour, entry):
                continue
            self._hours[(village, hour)] = entry
            results[hour] = result
        return [hour for hour in missing if hour not in results]

    def _keep(self, village: str, keys: KeySnapshot, entries: list[_Entry]) -> None:
        """The settled ones of ``entries`` written to the store (a recent hour's result is soon read again)."""
        if self.store is not None:
            self.store.save(
                village,
                keys,
                [
                    (e.result.hour_ms, e.computed_s, e.result)
                    for e in entries
                    if self._settled(e.result.hour_ms, e)
                ],
            )

    def _numbers_around(
        self, village: str, first: int, last: int, now_s: float
    ) -> AbstractSet[tuple[str, int, int]]:
        found = self._around.get((village, first, last))
        settled = found is not None and found[0] * 1000 >= last + LOOKAROUND_MS + self.settle_ms
        if found is None or not (settled or now_s - found[0] < self.recent_ttl_s):
            found = self._around[(village, first, last)] = (
                now_s,
                frozenset(numbers_around(self.client, self.raw, village, first, last)),
            )
        return found[1]

    def keys(self) -> list[KeyRecord]:
        return list(self.registry.snapshot().records.values())

    def _settled(self, hour_ms: int, entry: _Entry) -> bool:
        return not self._open_at(hour_ms, entry.computed_s)

    def _open_at(self, hour_ms: int, now_s: float) -> bool:
        """Whether the hour's points may still change at ``now_s`` (a result of it read now is not settled)."""
        return now_s * 1000 < closes(hour_ms, self.zone) + self.settle_ms

    def _open_hours(self, village: str, own: str, now_s: float) -> set[int]:
        """The village's hours read while open, still open and read under its keys (the others dropped)."""
        hours = self._open[village]
        for hour in list(hours):
            entry = self._hours.get((village, hour))
            if entry is None or entry.keys != own or not self._open_at(hour, now_s):
                hours.discard(hour)
        return hours

    def _fresh(self, hour_ms: int, entry: _Entry, now_s: float) -> bool:
        return self._settled(hour_ms, entry) or now_s - entry.computed_s < self.recent_ttl_s

    def sweep(self, *, every_s: float) -> Sweep:
        """One pass, one of every ``every_s`` seconds: settled hours whose result is older than ``reverify_s``
        read again from InfluxDB, oldest result first, and their cached result replaced.

        A pass reads twice the average rate (every cached settled hour once per ``reverify_s``), at most
        ``MAX_PASS_HOURS``: the month a first start verified at once is spread over half of ``reverify_s``,
        not read in one pass. Each village's hours are read outside its lock, so a request waits for none."""
        keys = self.registry.snapshot()
        now_s = self.clock()
        # a copy: requests add hours meanwhile, and a dict must not change size while it is iterated
        cached = [
            (e.computed_s, k, e)
            for k, e in self._hours.copy().items()
            if e.keys == keys.digest(k[0]) and self._settled(k[1], e)
        ]
        due = sorted((x for x in cached if now_s - x[0] >= self.reverify_s), key=lambda x: (x[0], x[1]))
        unused = [(k, e) for _, k, e in due if e.used_s <= e.computed_s]
        with self._guard:  # asked for by no window since their reading: a later request reads them afresh
            for key, entry in unused:
                if self._hours.get(key) is entry:
                    del self._hours[key]
        due = [(c, k, e) for c, k, e in due if e.used_s > e.computed_s]
        budget = min(MAX_PASS_HOURS, max(1, math.ceil(2 * len(cached) * every_s / self.reverify_s)))
        by_village: dict[str, list[tuple[int, _Entry]]] = defaultdict(list)
        for _, (village, hour), entry in due[:budget]:
            by_village[village].append((hour, entry))
        read: list[tuple[str, int]] = []
        changed: list[tuple[str, int]] = []
        for village, hours in by_village.items():
            was = dict(hours)
            fresh = _contained(village, partial(self._read_hours, keys, village, sorted(was)))
            if fresh is None:  # read again at the next pass
                continue
            read += [(village, r.hour_ms) for r in fresh]
            changed += self._replace(village, was, fresh, keys, now_s)
        return Sweep(tuple(read), tuple(changed), len(unused), max(0, len(due) - budget))

    def _replace(
        self, village: str, was: dict[int, _Entry], fresh: list[HourResult], keys: KeySnapshot, now_s: float
    ) -> list[tuple[str, int]]:
        """Fresh results in place of those read, unless a request replaced them meanwhile; the window sums and
        the manifests around windows that include a changed hour are dropped with them."""
        changed = []
        kept = []
        with self._guard:
            lock = self._villages[village]
        with lock, self._guard:
            for result in fresh:
                old = was[result.hour_ms]
                if self._hours.get((village, result.hour_ms)) is not old:
                    continue
                entry = self._hours[(village, result.hour_ms)] = _Entry(
                    keys.digest(village), now_s, result, old.used_s
                )
                kept.append(entry)
                if result != old.result:
                    changed.append((village, result.hour_ms))
            hours = [hour for _, hour in changed]
            windows = self._windows[village]
            for window in [w for w in windows.copy() if any(w[0] <= h < w[1] for h in hours)]:
                windows.pop(window, None)
            for key in [
                k
                for k in self._around.copy()
                if k[0] == village and any(k[1] - LOOKAROUND_MS <= h < k[2] + LOOKAROUND_MS for h in hours)
            ]:
                self._around.pop(key, None)
            if changed:
                self.changes += 1
        self._keep(village, keys, kept)
        return changed

    def forget_before(self, ms: int) -> None:
        """Drop hours no window reaches any more."""
        if self.store is not None:
            self.store.forget_before(ms)
        with self._guard:
            for key in [k for k in self._hours.copy() if k[1] < ms]:
                self._hours.pop(key, None)
            for around in [k for k in self._around.copy() if k[1] < ms]:
                self._around.pop(around, None)
            for windows in self._windows.copy().values():
                for window in [w for w in windows.copy() if w[0] < ms]:
                    windows.pop(window, None)


def verify_or_fail(verifier: Verifier, village: str, start_ms: int, end_ms: int) -> Verification:
    """``verifier.verify`` with the faults others reported (``Verifier.reported``); when the verifier fails on the
    village's data (a fault of its own, logged with its traceback), a verification of nothing with a
    ``verification_failed`` fault over the window: one village's data costs its own verification, never the
    evaluation of every village or a rollup pass."""
    found = _contained(village, lambda: verifier.verify(village, start_ms, end_ms))
    if found is not None:
        more = [f for faults in verifier.reported for f in faults(village, start_ms, end_ms)]
        return replace(found, faults=in_order((*found.faults, *more))) if more else found
    why = "the service could not verify these samples: a fault of the verifier ('verification failed' in its log)"
    return Verification(
        {}, (Fault("verification_failed", "", start_ms, end_ms, why),), frozenset(), failed=True
    )


T = TypeVar("T")


def _contained(village: str, verify: Callable[[], T]) -> T | None:
    """``verify()``, or None when it fails on the village's data; InfluxDB unavailable or refusing and the key
    registry unreadable stop every village alike, and are raised."""
    try:
        return verify()
    except (InfluxError, ConfigError):
        raise
    except Exception as err:
        _failures.log(
            logging.ERROR, village, "verification failed", exc_info=True, village=village, error=repr(err)
        )
        return None


@lru_cache(maxsize=16_384)  # a province's evaluation asks for each of a window's hours once per village
def closes(hour_ms: int, zone: ZoneInfo) -> int:
    """When the points of an hour stop changing: its end, but for the hour of a local midnight the day's end.
    ``wifi_daily`` is stamped at its day's local midnight and rewritten until the day is over, each rewrite
    signed by a manifest stamped in that hour too: settled sooner, the hour's result would miss them (their
    chain showed a gap per rewrite, a deleted batch, and a forged day's point went unseen until the sweep)."""
    midnight = local_day_start(hour_ms + HOUR_MS - 1, zone)
    if midnight < hour_ms:
        return hour_ms + HOUR_MS
    return local_day_start(midnight + DAY_MS + HOUR_MS, zone)  # the next midnight, 23 to 25 hours on


def _ranges(hours: list[int]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for hour in hours:
        if out and out[-1][1] == hour:
            out[-1] = (out[-1][0], hour + HOUR_MS)
        else:
            out.append((hour, hour + HOUR_MS))
    return out
