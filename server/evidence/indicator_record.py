"""The record of a village's manual indicator entries checked as a chain, and against what the criteria read.

A signature shows that a point is as the service wrote it, not that nothing the service wrote is gone. Each
``indicator_entry`` names its number among the village's entries (``seq``) and the previous entry's id
(``prev``, so that anyone with the public key can follow the record as a hash chain), signed; the numbers are
what is checked here, since each is signed, against each village's count that the service keeps on its own
disk (``server.evidence.indicator_heads``). So:

- ``deleted_entry``: a number missing between two entries, or the newest ones gone (the record ends below the
  count): the correction an official entered, deleted to bring the older value back. The oldest entries may
  have gone with the raw retention policy, so a record that starts after 1 is not a fault.
- ``deleted_point``: an entry of the window whose ``indicator`` point, the one the criteria read, is gone.
- ``replayed_entry``: the point at that time verifies but is an older entry's, written back over the
  correction that replaced it (same series and time, so its signature still holds).

Each counts as a point of the figure that does not verify, so its verdict is ``unverified`` as for an altered
point; a deleted entry counts in every window that starts before the entry after it was made (its own as-of
time, gone with it, may lie anywhere before).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from typing import NamedTuple

from server.evidence.combine import Verification
from server.evidence.faults import Fault
from server.evidence.hourly import Verifier
from server.evidence.indicator_check import Village, check_point, villages
from server.evidence.indicator_heads import Head
from server.evidence.registry import KeySnapshot
from server.evidence.selected import key
from server.queries import Scope
from server.reader import Reader
from server.timeparse import iso
from thonminh.contract import INDICATOR, INDICATOR_ENTRY
from thonminh.influxresponse import StatementResult

__all__ = ["Entry", "check_indicators", "entries_of", "indicators_verified"]


class Entry(NamedTuple):
    """A signed entry of the record: what the chain and the cross-check need."""

    seq: int
    time_ms: int
    id: str
    gateway: str
    indicator: str
    as_of_ms: int


def entries_of(result: StatementResult, snapshot: KeySnapshot) -> dict[str, list[Entry]]:
    """Each village's entries of ``result`` (``SELECT * FROM indicator_entry ... GROUP BY *``) that verify and
    carry a number, in order. Those that do not verify are the record's own faults (``server.indicators``);
    entries made before the record was chained carry no number."""
    found: dict[str, list[Entry]] = defaultdict(list)
    for series in result.series:
        tags = series.tags
        for row in series.rows():
            time_ms = int(row.pop("time"))
            seq, as_of = row.get("seq"), row.get("as_of_ms")
            if not isinstance(seq, int) or not isinstance(as_of, int):
                continue
            check = check_point(snapshot, INDICATOR_ENTRY.name, tags, row, time_ms)
            if check.fault is None:
                entry = Entry(
                    seq,
                    time_ms,
                    check.id,
                    tags.get("gateway") or "",
                    tags.get("indicator") or "",
                    as_of,
                )
                found[tags.get("village") or ""].append(entry)
    return {village: sorted(entries) for village, entries in found.items()}


def check_indicators(
    points: StatementResult,
    entries: Mapping[str, list[Entry]],
    snapshot: KeySnapshot,
    heads: Mapping[str, Head],
    window: tuple[int, int],
    now_ms: int,
) -> dict[str, Verification]:
    """Each village's verification of a window's indicator points (``points``: of one indicator, or of all):
    their signatures (``server.evidence.indicator_check``), the village's record as a chain, and each entry of
    the window against the point the criteria read."""
    found = villages(points, snapshot)
    wanted = {k[0] for v in found.values() for k in v.at}
    for village in set(found) | set(entries) | set(heads):
        record = entries.get(village, [])
        checked = found.get(village)
        if checked is None:
            if not record and village not in heads:
                continue
            checked = found[village] = Village()
        _chain(checked, record, heads.get(village), window, now_ms, wanted)
        _cross_check(checked, [e for e in record if not wanted or e.indicator in wanted], window)
    return {village: v.verification() for village, v in found.items()}


def indicators_verified(
    reader: Reader,
    scope: Scope,
    villages_of_scope: Iterable[str],
    verifier: Verifier,
    window: tuple[int, int],
    indicator: str | None = None,
) -> dict[str, Verification]:
    """``check_indicators`` of the scope's villages over a window, read from InfluxDB, the registry and the
    service's counts (of ``villages_of_scope`` and those the record names: the counts do not say where a
    village lies): the criteria's, ``thonminh verify``'s."""
    snapshot = verifier.registry.snapshot()
    record = entries_of(reader.indicator_entries(scope), snapshot)
    counts = verifier.indicator_heads.all() if verifier.indicator_heads is not None else {}
    ours = set(villages_of_scope) | set(record)
    return check_indicators(
        reader.indicator_points(scope, *window, indicator),
        record,
        snapshot,
        {v: h for v, h in counts.items() if v in ours},
        window,
        int(verifier.clock() * 1000),
    )


def _counted(indicators: set[str]) -> tuple[str, ...]:
    return tuple(key(INDICATOR.name, "indicator", i) for i in sorted(indicators))


def _chain(
    found: Village,
    record: list[Entry],
    head: Head | None,
    window: tuple[int, int],
    now_ms: int,
    wanted: set[str],
) -> None:
    """Entries missing between two, or after the newest (below the service's count)."""
    gaps: list[tuple[Entry | None, int, int]] = [
        (a, b.time_ms, b.seq - a.seq - 1)
        for a, b in zip(record, record[1:], strict=False)
        if b.seq > a.seq + 1
    ]
    last = record[-1] if record else None
    made = last.seq if last else 0
    if head is not None and head.seq > made:
        gaps.append((last, now_ms, head.seq - made))
    for before, end_ms, count in gaps:
        start_ms = before.time_ms if before else 0
        entries = f"{count} entr{'y' if count == 1 else 'ies'}"
        detail = (
            f"{entries} of the village's manual indicator record, entered between {iso(start_ms)} and "
            f"{iso(end_ms)}, {'is' if count == 1 else 'are'} gone: numbers skipped, or fewer than the criteria "
            "service made"
        )
        gateway = before.gateway if before else ""
        found.faults.append(
            Fault("deleted_entry", gateway, start_ms, end_ms, detail, (INDICATOR.name,), count)
        )
        # an entry stands at its as-of time, which is gone with it: any time before it was made
        if end_ms > window[0]:
            found.missing(INDICATOR.name, _counted(wanted), count)


def _cross_check(found: Village, record: list[Entry], window: tuple[int, int]) -> None:
    """The newest entry for each time of the window against the point the criteria read there."""
    current: dict[tuple[str, int], Entry] = {}
    for entry in record:  # in order: the newest for a time stays
        if window[0] <= entry.as_of_ms < window[1]:
            current[(entry.indicator, entry.as_of_ms)] = entry
    for (indicator, as_of_ms), entry in sorted(current.items(), key=lambda item: item[0][1]):
        point = found.at.get((indicator, as_of_ms))
        selected = _counted({indicator})
        if point is None:
            detail = f"of entry {entry.seq}, entered at {iso(entry.time_ms)}, is gone"
            found.fault("deleted_point", entry.gateway, as_of_ms, as_of_ms, detail, INDICATOR.name, selected)
            found.missing(INDICATOR.name, selected, 1)
        elif point[0] and point[1] != entry.time_ms:
            detail = (
                f"is an older entry's, written back over entry {entry.seq} entered at {iso(entry.time_ms)}"
            )
            found.fault("replayed_entry", entry.gateway, as_of_ms, as_of_ms, detail, INDICATOR.name, selected)
            found.unverify(INDICATOR.name, selected)
