"""Verification of many hours added up: counts, faults merged across hours, and the chain checked across them."""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field

from server.evidence.faults import MANIFEST_FAULTS, POINT_FAULTS, Fault, point_detail
from server.evidence.selected import key_of
from server.evidence.verify import HourResult, Run, pairs
from server.timeparse import iso
from thonminh.evidence import IN_FLIGHT_S

__all__ = ["Elsewhere", "Verification", "combine", "in_order"]


@dataclass(frozen=True, slots=True)
class Verification:
    """Hours added up: counts per measurement, every fault, and the keys that signed."""

    counts: Mapping[str, tuple[int, int]]
    faults: tuple[Fault, ...]
    keys: frozenset[tuple[str, str]]
    hours: int = 0
    #: the verifier failed on the village's data: nothing was checked (``server.evidence.hourly.verify_or_fail``)
    failed: bool = False
    #: counts per value of a tag a figure selects (``server.evidence.selected``)
    selected: Mapping[str, tuple[int, int]] = field(default_factory=dict)
    #: per measurement, the counts of hours kept by a version that did not count selections: a figure of one
    #: tag value weighs all of their points, as that version did, until they are verified again
    unselected: Mapping[str, tuple[int, int]] = field(default_factory=dict)

    def of(self, measurement: str, selection: Mapping[str, str] | None = None) -> tuple[int, int]:
        """(points, verified points) of ``measurement``, of the tag value ``selection`` names when given (a
        figure's ``tag_filters``)."""
        if not selection:
            return self.counts.get(measurement, (0, 0))
        points, verified = self.selected.get(key_of(measurement, selection), (0, 0))
        old_points, old_verified = self.unselected.get(measurement, (0, 0))
        return points + old_points, verified + old_verified

    def faults_of(self, measurement: str, selection: Mapping[str, str] | None = None) -> list[Fault]:
        return [f for f in self.faults if f.touches(measurement, selection)]


#: the (gateway, epoch, n) of manifests stamped outside the window: asked only when the chain has a gap
Elsewhere = Callable[[], AbstractSet[tuple[str, int, int]]]


def combine(
    hours: Iterable[HourResult], elsewhere: Elsewhere | None = None, now_s: float | None = None
) -> Verification:
    """Counts and faults of many hours, with the chain checked across them; point faults of the same kind in
    consecutive hours become one fault.

    A manifest may be stamped outside the window while its neighbours in the chain are inside: the rewrites of
    a ``wifi_daily`` point stamped at the local midnight before the window, a backlog sent late. ``elsewhere``
    names those, so a gap they fill is not a deleted batch (their own window verifies them). A gap before a
    manifest signed less than ``SETTLE_MS`` before ``now_s`` is not one yet either."""
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    selected: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    unselected: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    faults: list[Fault] = []
    runs: list[Run] = []
    keys: set[tuple[str, str]] = set()
    n = 0
    for hour in sorted(hours, key=lambda h: h.hour_ms):
        n += 1
        _add(counts, hour.counts)
        if hour.selected is None:  # kept by a version that did not count selections
            _add(unselected, hour.counts)
        else:
            _add(selected, hour.selected)
        faults.extend(hour.faults)
        runs.extend(hour.runs)
        keys |= hour.keys
    found = in_order(_merge(faults) + _chain(runs, elsewhere, now_s))
    return Verification(
        pairs(counts), found, frozenset(keys), n, selected=pairs(selected), unselected=pairs(unselected)
    )


def _add(into: dict[str, list[int]], counts: Mapping[str, tuple[int, int]]) -> None:
    for where, (points, verified) in counts.items():
        into[where][0] += points
        into[where][1] += verified


def in_order(faults: Iterable[Fault]) -> tuple[Fault, ...]:
    """Faults in the order every answer lists them: by time, then kind and gateway."""
    return tuple(sorted(faults, key=lambda f: (f.start_ms, f.kind, f.gateway)))


def _merge(faults: list[Fault]) -> list[Fault]:
    """Faults of one kind, gateway and cause less than two hours apart become one, with their counts."""
    out: list[Fault] = []
    open_: dict[tuple[str, str, object], int] = {}
    for f in sorted(faults, key=lambda f: f.start_ms):
        key = (f.kind, f.gateway, (f.measurements, f.selections) if f.kind in POINT_FAULTS else f.reason)
        at = open_.get(key)
        mergeable = f.kind in POINT_FAULTS or (f.kind in MANIFEST_FAULTS and f.reason)
        if mergeable and at is not None and f.start_ms - out[at].end_ms < 2 * 3_600_000:
            last = out[at]
            count, manifests = last.count + f.count, last.manifests + f.manifests
            if f.kind in POINT_FAULTS:
                detail = point_detail(f.kind, count, f.measurements[0], f.selections)
            else:
                detail = f"{manifests} manifests ({count} point(s)): {f.reason}"
            out[at] = Fault(
                f.kind,
                f.gateway,
                min(last.start_ms, f.start_ms),
                max(last.end_ms, f.end_ms),
                detail,
                tuple(sorted(set(last.measurements) | set(f.measurements))),
                count,
                f.reason,
                manifests,
                f.selections,
            )
            continue
        open_[key] = len(out)
        out.append(f)
    return out


#: How long a gateway's batch may be in flight after a later one landed (``thonminh.evidence.IN_FLIGHT_S``)
SETTLE_MS = IN_FLIGHT_S * 1000


def _settled(run: Run, now_s: float | None) -> bool:
    """Whether the batches its gateway had in flight when it signed ``run``'s first manifest have all landed."""
    if now_s is None or run.first_signed_ms is None:
        return True
    # a signing time ahead of now (a gateway's clock run fast) buys no grace: only a batch just signed is awaited
    return not 0 <= now_s * 1000 - run.first_signed_ms < SETTLE_MS


def _chain(runs: list[Run], elsewhere: Elsewhere | None, now_s: float | None = None) -> list[Fault]:
    faults = []
    found: dict[tuple[str, int], list[int]] | None = None
    by_epoch: dict[tuple[str, int], list[Run]] = defaultdict(list)
    for run in runs:
        by_epoch[(run.gateway, run.epoch)].append(run)
    for (gateway, epoch), chain in by_epoch.items():
        chain.sort(key=lambda r: (r.first_n, r.first_ms))
        last = chain[0]
        for run in chain[1:]:
            if run.first_n <= last.last_n:
                faults.append(
                    Fault(
                        "replayed",
                        gateway,
                        run.first_ms,
                        run.first_ms,
                        f"manifest {run.first_n} of epoch {epoch} appears again "
                        f"(first seen by {iso(last.last_ms)})",
                    )
                )
            elif run.first_n > last.last_n + 1:
                # a batch in between may still be in flight: until it settles, neither gap nor chain is told
                if _settled(run, now_s):
                    if found is None:
                        found = _numbers(elsewhere() if elsewhere is not None else frozenset())
                    faults.extend(_gaps(gateway, epoch, last, run, found.get((gateway, epoch), [])))
            elif run.first_prev != last.last_id:
                faults.append(
                    Fault(
                        "broken_chain",
                        gateway,
                        last.last_ms,
                        run.first_ms,
                        f"manifest {run.first_n} of epoch {epoch} does not name manifest {last.last_n} "
                        "as its predecessor",
                    )
                )
            if run.last_n >= last.last_n:
                last = run
    return faults


def _gaps(gateway: str, epoch: int, last: Run, run: Run, found: list[int]) -> list[Fault]:
    """The numbers between ``last`` and ``run`` that no manifest has, around the window either."""
    return [
        Fault(
            "missing_seq",
            gateway,
            last.last_ms,
            run.first_ms,
            f"manifests {lo}..{hi} of epoch {epoch} are missing: {hi - lo + 1} batch(es) deleted",
            count=hi - lo + 1,
        )
        for lo, hi in _absent(found, last.last_n + 1, run.first_n - 1)
    ]


def _numbers(found: AbstractSet[tuple[str, int, int]]) -> dict[tuple[str, int], list[int]]:
    """(gateway, epoch) -> the numbers found, in order."""
    out: dict[tuple[str, int], list[int]] = defaultdict(list)
    for gateway, epoch, n in sorted(found):
        out[(gateway, epoch)].append(n)
    return out


def _absent(found: list[int], lo: int, hi: int) -> list[tuple[int, int]]:
    """The runs of numbers in ``lo..hi`` that are not in ``found`` (in order): what lies between those found,
    so that a counter that jumped (up to four billion numbers) costs no more than a gap of one."""
    out: list[tuple[int, int]] = []
    for n in [*found[bisect_left(found, lo) : bisect_right(found, hi)], hi + 1]:
        if n > lo:
            out.append((lo, n - 1))
        lo = n + 1
    return out
