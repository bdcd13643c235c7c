"""Verification results per village and UTC hour, kept by the service, and a figure's share of them.

The service never reads a verification result from InfluxDB: whoever forges data could write forged results
there as easily. It verifies each hour itself and keeps the result in memory: a closed hour older than
``settle_ms`` for as long as the registry does not change (late data and re-sends arrive within it), a more
recent one for ``recent_ttl_s``. A criteria request then adds up cached hours; the default evaluation,
refreshed every hour by ``server.verdicts.keep_warm``, fills them.
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from collections.abc import Callable
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from typing import Literal

from server.evidence.combine import Verification, combine
from server.evidence.registry import KeyRecord, Registry
from server.evidence.source import (
    HOUR_MS,
    LOOKAROUND_MS,
    SIGNED_MEASUREMENTS,
    numbers_around,
    read_and_verify,
)
from server.evidence.verify import Fault, HourResult
from server.queries import Source
from thonminh.influx import InfluxClient

__all__ = ["FigureVerification", "Verifier", "figure_verification", "not_configured"]

Status = Literal["verified", "unverified", "not_configured", "no_samples"]
#: faults an answer lists at most (``faults_total`` counts them all)
MAX_FAULTS = 20


@dataclass(frozen=True, slots=True)
class _Entry:
    version: int
    computed_s: float
    result: HourResult


class Verifier:
    """Verifies a village's hours on demand and keeps the results (thread-safe; one village at a time each)."""

    def __init__(self, client: InfluxClient, raw: Callable[[str], Source], registry: Registry, *,
                 clock: Callable[[], float] = time.time, settle_ms: int = 2 * HOUR_MS,
                 recent_ttl_s: float = 300.0) -> None:
        self.client = client
        self.raw = raw
        self.registry = registry
        self.clock = clock
        self.settle_ms = settle_ms
        self.recent_ttl_s = recent_ttl_s
        self._hours: dict[tuple[str, int], _Entry] = {}
        self._windows: dict[tuple[str, int, int], tuple[int, float, Verification]] = {}
        self._around: dict[tuple[str, int, int], tuple[float, AbstractSet[tuple[str, int, int]]]] = {}
        self._guard = threading.Lock()
        self._villages: dict[str, threading.Lock] = defaultdict(threading.Lock)

    def verify(self, village: str, start_ms: int, end_ms: int) -> Verification:
        """Every UTC hour that ``[start, end)`` touches, from the cache where it is still good."""
        keys = self.registry.snapshot()
        first, last = start_ms - start_ms % HOUR_MS, end_ms - end_ms % HOUR_MS + (HOUR_MS if end_ms % HOUR_MS else 0)
        with self._guard:
            lock = self._villages[village]
        with lock:
            now_s = self.clock()
            results: dict[int, HourResult] = {}
            missing: list[int] = []
            for hour in range(first, last, HOUR_MS):
                entry = self._hours.get((village, hour))
                if entry is not None and entry.version == keys.version and self._fresh(hour, entry, now_s):
                    results[hour] = entry.result
                else:
                    missing.append(hour)
            for lo, hi in _ranges(missing):
                for result in read_and_verify(self.client, self.raw, keys, village, lo, hi):
                    results[result.hour_ms] = result
                    self._hours[(village, result.hour_ms)] = _Entry(keys.version, now_s, result)
            # the same window again with the same hours (a default window, within the hour): added up once
            known = self._windows.get((village, first, last))
            if not missing and known is not None and known[0] == keys.version and now_s - known[1] < self.recent_ttl_s:
                return known[2]
            found = combine(results.values(), lambda: self._numbers_around(village, first, last, now_s))
            self._windows[(village, first, last)] = (keys.version, now_s, found)
            return found

    def _numbers_around(self, village: str, first: int, last: int, now_s: float) -> AbstractSet[tuple[str, int, int]]:
        found = self._around.get((village, first, last))
        settled = found is not None and found[0] * 1000 >= last + LOOKAROUND_MS + self.settle_ms
        if found is None or not (settled or now_s - found[0] < self.recent_ttl_s):
            found = self._around[(village, first, last)] = (now_s, frozenset(
                numbers_around(self.client, self.raw, village, first, last)))
        return found[1]

    def keys(self) -> list[KeyRecord]:
        return list(self.registry.snapshot().records.values())

    def _fresh(self, hour_ms: int, entry: _Entry, now_s: float) -> bool:
        settled = (entry.computed_s * 1000) >= hour_ms + HOUR_MS + self.settle_ms
        return settled or now_s - entry.computed_s < self.recent_ttl_s

    def forget_before(self, ms: int) -> None:
        """Drop hours no window reaches any more."""
        with self._guard:
            for key in [k for k in self._hours if k[1] < ms]:
                del self._hours[key]
            for around in [k for k in self._around if k[1] < ms]:
                del self._around[around]
            for window in [k for k in self._windows if k[1] < ms]:
                del self._windows[window]


def _ranges(hours: list[int]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for hour in hours:
        if out and out[-1][1] == hour:
            out[-1] = (out[-1][0], hour + HOUR_MS)
        else:
            out.append((hour, hour + HOUR_MS))
    return out


# -- one figure's share ----------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class FigureVerification:
    """What a verdict's evidence says of its samples' signatures (``verification`` in the API)."""

    verified_pct: float | None
    status: Status
    min_verified_pct: float | None
    points: int
    verified_points: int
    keys: tuple[KeyRecord, ...]
    faults: tuple[Fault, ...]
    faults_total: int


def not_configured(min_verified_pct: float | None) -> FigureVerification:
    return FigureVerification(None, "not_configured", min_verified_pct, 0, 0, (), (), 0)


def figure_verification(found: Verification | None, measurement: str, min_verified_pct: float | None,
                        keys: list[KeyRecord]) -> FigureVerification:
    """The share of ``measurement``'s samples covered by valid manifests, and the faults that may touch them.

    A measurement no gateway signs (manual indicators) has no samples to verify: ``no_samples``."""
    if found is None or measurement not in SIGNED_MEASUREMENTS:
        return FigureVerification(None, "no_samples", min_verified_pct, 0, 0, (), (), 0)
    points, verified = found.of(measurement)
    faults = found.faults_of(measurement)
    used = tuple(k for k in keys if (k.gateway, k.fingerprint) in found.keys)
    pct = 100.0 * verified / points if points else None
    status: Status
    if pct is None:
        status = "no_samples"
    elif round(pct, 9) < (100.0 if min_verified_pct is None else min_verified_pct):
        status = "unverified"
    else:
        status = "verified"
    return FigureVerification(pct, status, min_verified_pct, points, verified, used, tuple(faults[:MAX_FAULTS]),
                              len(faults))
