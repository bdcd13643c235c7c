"""What verification reads from InfluxDB: a village's gateway points and manifests, a day at a time, by hour.

Every statement is built by the one InfluxQL builder (``thonminh.influxql``) and read with ``GROUP BY *`` and
``epoch=ms``: the form the canonical point is defined on (``thonminh.evidence``), in MessagePack where InfluxDB
answers it (the same values and types as its JSON, for two thirds of its CPU).
"""

from __future__ import annotations

from bisect import bisect_left
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor

from server.evidence.chains import HEADER_FIELDS, authentic_headers
from server.evidence.registry import KeySnapshot
from server.evidence.verify import Digested, HourResult, verify_hour
from server.queries import Source
from thonminh.evidence import MANIFEST_MEASUREMENT, SIGNED_MEASUREMENTS, SeriesDigests, row_digests
from thonminh.influx import InfluxClient, Series
from thonminh.influxql import Select, conditions, ident, tag_equals, time_range

__all__ = [
    "HOUR_MS",
    "LOOKAROUND_MS",
    "numbers_around",
    "read_and_verify",
    "statements",
]

HOUR_MS = 3_600_000
#: how far outside a window a manifest of its chain is looked for (a backlog sent late, a day's rewrites)
LOOKAROUND_MS = 7 * 24 * HOUR_MS
#: hours read per pair of queries: a day of a village is about 70,000 points
CHUNK_HOURS = 24
#: how far beyond the window the chains are walked: a gateway's ``wifi_daily`` rewrites are stamped at local
#: midnight, up to a day before the live batches they lie between in its chain, so without a day more on each
#: side every manifest of the window's first and last local day would have its signature checked on its own
CHAIN_MARGIN_MS = 24 * HOUR_MS


def statements(raw: Callable[[str], Source], village: str, start_ms: int, end_ms: int) -> list[str]:
    """One statement per measurement of ``village`` in ``[start, end)``, the manifests' last. One each, not
    ``FROM a, b``: a query over several measurements answers every column of all of them for each."""
    where = conditions(tag_equals("village", village), time_range(start_ms, end_ms))
    return [
        Select(["*"], [raw(m).ref()], where, group_all=True).render()
        for m in (*SIGNED_MEASUREMENTS, MANIFEST_MEASUREMENT)
    ]


def _hours(times: Sequence[int]) -> Iterator[tuple[int, int, int]]:
    """(hour, first, end) of each UTC hour in ``times``, which are in order (InfluxDB answers a series so)."""
    lo = 0
    while lo < len(times):
        hour = times[lo] - times[lo] % HOUR_MS
        hi = bisect_left(times, hour + HOUR_MS, lo=lo)
        yield hour, lo, hi
        lo = hi


def _manifests_by_hour(series: list[Series]) -> dict[int, list[Series]]:
    out: dict[int, list[Series]] = defaultdict(list)
    for s in series:
        at = s.columns.index("time")
        for hour, lo, hi in _hours([row[at] for row in s.values]):
            out[hour].append(Series(s.name, s.columns, s.values[lo:hi], s.tags))
    return out


def _points_by_hour(series: list[Series]) -> dict[int, list[Digested]]:
    """Each series' digests, worked out for the whole series at once (its columns' values repeat across the
    hours), then cut at the hours."""
    out: dict[int, list[Digested]] = defaultdict(list)
    for s in series:
        found = row_digests(s.name, s.tags, s.columns, s.values)
        for hour, lo, hi in _hours(found.times):
            cut = SeriesDigests(found.times[lo:hi], found.seqs[lo:hi], found.digests[lo:hi])
            out[hour].append(Digested(s.name, s.tags, cut))
    return out


def read_and_verify(
    client: InfluxClient,
    raw: Callable[[str], Source],
    keys: KeySnapshot,
    village: str,
    start_ms: int,
    end_ms: int,
) -> Iterator[HourResult]:
    """Every whole hour of ``[start, end)`` (hour-aligned) verified, the empty ones too, oldest first. The
    manifests' chains are checked over the whole window first (``authentic_headers``); the next day is read
    while this one is verified: InfluxDB answers on another core meanwhile."""
    chunks = [
        (lo, min(end_ms, lo + CHUNK_HOURS * HOUR_MS)) for lo in range(start_ms, end_ms, CHUNK_HOURS * HOUR_MS)
    ]

    def read(lo: int, hi: int) -> tuple[dict[int, list[Digested]], dict[int, list[Series]]]:
        *results, signed = client.query(";".join(statements(raw, village, lo, hi)), packed=True)
        return _points_by_hour([s for r in results for s in r.series]), _manifests_by_hour(signed.series)

    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="evidence-read") as pool:
        pending = pool.submit(read, *chunks[0]) if chunks else None
        headers = _headers(client, raw, village, start_ms - CHAIN_MARGIN_MS, end_ms + CHAIN_MARGIN_MS)
        known = authentic_headers(headers, keys, start_ms)
        for i, (lo, hi) in enumerate(chunks):
            assert pending is not None
            points, manifests = pending.result()
            pending = pool.submit(read, *chunks[i + 1]) if i + 1 < len(chunks) else None
            for hour in range(lo, hi, HOUR_MS):
                yield verify_hour(points.get(hour, []), manifests.get(hour, []), keys, hour, known)


def _headers(
    client: InfluxClient, raw: Callable[[str], Source], village: str, start_ms: int, end_ms: int
) -> list[Series]:
    """The village's manifests in ``[start, end)`` without their digests: what their chains are walked on."""
    statement = Select(
        [ident(f) for f in HEADER_FIELDS],
        [raw(MANIFEST_MEASUREMENT).ref()],
        conditions(tag_equals("village", village), time_range(start_ms, end_ms)),
        group_all=True,
    ).render()
    return client.query(statement, packed=True)[0].series


def numbers_around(
    client: InfluxClient, raw: Callable[[str], Source], village: str, start_ms: int, end_ms: int
) -> set[tuple[str, int, int]]:
    """(gateway, epoch, n) of the village's manifests within ``LOOKAROUND_MS`` before and after the window."""
    tag = tag_equals("village", village)
    queries = [
        Select(
            [ident("epoch"), ident("seq")],
            [raw(MANIFEST_MEASUREMENT).ref()],
            conditions(tag, time_range(lo, hi)),
            group_tags=["gateway"],
        ).render()
        for lo, hi in ((start_ms - LOOKAROUND_MS, start_ms), (end_ms, end_ms + LOOKAROUND_MS))
    ]
    found = set()
    for result in client.query(";".join(queries)):
        for series in result.series:
            gateway = series.tags.get("gateway") or ""
            for row in series.rows():
                if isinstance(row.get("epoch"), int) and isinstance(row.get("seq"), int):
                    found.add((gateway, row["epoch"], row["seq"]))
    return found
