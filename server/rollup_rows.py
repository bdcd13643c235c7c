"""Rollup rows as the service computes them from the samples, and as it finds them stored.

Whoever holds InfluxDB's write credential can write a rollup row as easily as a sample, and a long window reads
the rollups, not the samples that verification checks. So when ``Rollups`` rolls an older day again (a day a
pass, ``reconcile_days`` back), and in ``write`` mode whenever it rolls, it first reads the rows stored and
compares them, row by row (a series and an hour, or a UTC day), with those computed from the samples:

- ``late``: the stored row counts fewer samples than there are now: samples forwarded after the hour was rolled
  (a gateway back from a long outage). Expected; written again. Rows that agree are not written again.
- ``missing``: samples with no stored row: the same, or a row deleted. Written.
- ``altered``: a stored row that late samples cannot explain (as many samples or more, other sums). Written
  again, logged as a warning and counted.
- ``extra``: a stored row with no samples under it: a series or an hour no gateway sent. Deleted, logged as a
  warning and counted. A part with no samples of the measurement at all is left alone only when its samples
  may have outlived the raw retention policy, which keeps the rollups longer (``Rollups`` reads its duration
  from InfluxDB 1.x; on another server, whose answer may be a placeholder, every such part is left alone).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any

from server.queries import Source
from server.timeparse import iso
from thonminh.contract import Point
from thonminh.errors import InfluxError
from thonminh.influx import InfluxClient, Series, StatementResult, quote_ident
from thonminh.influxql import tag_equals, time_range

__all__ = ["AuditStatus", "Difference", "compare", "computed_points", "row_exists", "rows_of"]

log = logging.getLogger(__name__)

#: (the series' non-empty tags, sorted; the row's time in ms)
RowKey = tuple[tuple[tuple[str, str], ...], int]
#: the output every rollup has: how many samples a row sums (``server.rollup_specs.SPECS``)
COUNT = "samples"


def _key(tags: Mapping[str, str | None], time_ms: int) -> RowKey:
    return tuple(sorted((k, v) for k, v in tags.items() if v)), time_ms


def _rows(results: Iterable[StatementResult]) -> Iterator[tuple[Series, int, dict[str, Any]]]:
    """(series, time, fields) of every row of ``results``, with the fields InfluxDB returned as they are."""
    for series in [s for result in results for s in result.series]:
        for row in series.rows():
            yield series, int(row.pop("time")), row


def computed_points(
    name: str, integer: Mapping[str, bool], results: Iterable[StatementResult]
) -> list[Point]:
    """The rows of the hourly or daily aggregates ``results`` as points of rollup ``name``, with the types
    ``INTO`` would give them (``integer``: which outputs are counts or sums of integers)."""
    points = []
    for series, time_ms, row in _rows(results):
        fields = {k: (int(v) if integer[k] else float(v)) for k, v in row.items() if v is not None}
        if fields:
            points.append(Point(name, {k: v for k, v in series.tags.items() if v}, fields, time_ms))
    return points


def rows_of(points: Iterable[Point]) -> dict[RowKey, dict[str, Any]]:
    """The points as rows by series and time: several statements (one per condition) fill one row."""
    rows: dict[RowKey, dict[str, Any]] = {}
    for p in points:
        rows.setdefault(_key(p.tags, p.time_ms), {}).update(p.fields)
    return rows


@dataclass(frozen=True, slots=True)
class Difference:
    kind: str
    rollup: str
    key: RowKey
    stored: Mapping[str, Any] | None
    computed: Mapping[str, Any] | None
    #: an ``extra`` row still there after its ``DELETE`` (a server without one): long windows still read it
    kept: bool = False
    #: an ``extra`` row's every tag key, '' where absent: what names that one series (``row_exists``)
    tags: Mapping[str, str] | None = None

    def describe(self) -> str:
        tags = ",".join(f"{k}={v}" for k, v in self.key[0])
        return (
            f"{self.kind}: {self.rollup} {tags} at {iso(self.key[1])}: stored {dict(self.stored or {})}, "
            f"from the samples {dict(self.computed or {})}"
        )


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _same(a: Any, b: Any) -> bool:
    if a is None or b is None:
        return a is b
    return _is_number(a) and _is_number(b) and math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)


def compare(
    rollup: str,
    stored: Mapping[RowKey, Mapping[str, Any]],
    computed: Mapping[RowKey, Mapping[str, Any]],
    outputs: Iterable[str],
) -> list[Difference]:
    """The rows that differ in any of ``outputs``, each with its kind (the module's docstring)."""
    names = tuple(outputs)
    out = []
    for key in sorted(stored.keys() | computed.keys()):
        s, c = stored.get(key), computed.get(key)
        if c is None:
            kind = "extra"
        elif s is None:
            kind = "missing"
        elif all(_same(s.get(n), c.get(n)) for n in names):
            continue
        elif _is_number(s.get(COUNT)) and _is_number(c.get(COUNT)) and s[COUNT] < c[COUNT]:
            kind = "late"
        else:
            kind = "altered"
        out.append(Difference(kind, rollup, key, s, c))
    return out


@dataclass
class AuditStatus:
    """What the audits found since the service started (``/health``: ``rollups.audit``)."""

    #: (rollup, UTC day or part of one) compared
    parts: int = 0
    late: int = 0
    missing: int = 0
    altered: int = 0
    extra: int = 0
    #: extra rows deleted and read back gone (a server without ``DELETE`` keeps them: warned at each audit)
    removed: int = 0
    last_finding: str | None = None

    def describe(self) -> dict[str, Any]:
        return asdict(self)


def audit(
    client: InfluxClient,
    rollup: Source,
    computed: list[Point],
    part: tuple[int, int, str | None],
    outputs: Iterable[str],
    status: AuditStatus,
    samples_kept: bool,
    found: Iterable[Callable[[str, Sequence[Difference]], None]] = (),
) -> list[Point]:
    """Compare the rows stored in ``rollup`` in ``part`` (``[start, end)`` and a condition on its series, such as
    a group of villages) with ``computed``, computed under the same condition; delete the extra ones and
    return the computed points that differ from what is stored: the rows to write (most often none). Each of
    ``found`` is told of the altered and extra rows (``server.rollup_findings``). ``samples_kept``: every raw
    sample of the span is still kept, so a span without any has no rows either."""
    if not computed and not samples_kept:  # its samples may be past their retention: rollups outlive them
        return []
    stored: dict[RowKey, dict[str, Any]] = {}
    every_tag: dict[RowKey, Mapping[str, str]] = {}
    start_ms, end_ms, within = part
    where = " AND ".join(c for c in (within, time_range(start_ms, end_ms)) if c)
    query = f"SELECT * FROM {rollup.ref()} WHERE {where} GROUP BY *"
    for series, time_ms, row in _rows(client.query(query)):
        key = _key(series.tags, time_ms)
        stored[key] = row
        every_tag[key] = series.tags
    differences = compare(rollup.measurement, stored, rows_of(computed), outputs)
    status.parts += 1
    for d in differences:
        setattr(status, d.kind, getattr(status, d.kind) + 1)
    suspect = []
    for d in differences:
        if d.kind == "extra":  # deleted before anyone is told: a row the server keeps is not put right
            tags = every_tag[d.key]
            d = replace(d, kept=not _delete(client, rollup, tags, d.key[1], status), tags=tags)
        if d.kind in ("altered", "extra"):
            suspect.append(d)
    if suspect:
        status.last_finding = suspect[0].describe()
        log.warning(
            "rollup rows the samples do not explain: written again from the samples, extra rows deleted",
            extra={
                "rollup": rollup.measurement,
                "start": iso(start_ms),
                "end": iso(end_ms),
                "altered": sum(d.kind == "altered" for d in suspect),
                "extra": sum(d.kind == "extra" for d in suspect),
                "kept": sum(d.kept for d in suspect),
                "first": status.last_finding,
            },
        )
        for hook in found:
            hook(rollup.measurement, suspect)
    rewrite = {d.key for d in differences if d.computed is not None}
    return [p for p in computed if _key(p.tags, p.time_ms) in rewrite]


def _delete(
    client: InfluxClient, rollup: Source, tags: Mapping[str, str], time_ms: int, status: AuditStatus
) -> bool:
    """Whether the row is gone: deleted and read back gone."""
    try:
        client.query(
            f"DELETE FROM {quote_ident(rollup.measurement)} WHERE {_row_where(tags, time_ms)}",
            database=rollup.database,
        )
        # DELETE names no retention policy: a server that maps the database to another bucket (2.x), or has
        # no DELETE (3.x), keeps the row, so only a row read back gone counts as removed
        kept = row_exists(client, rollup, tags, time_ms)
    except InfluxError as err:
        kept, why = False, str(err)
    else:
        why = "" if not kept else "the server kept it"
    if why or kept:
        log.warning(
            "an extra rollup row could not be deleted", extra={"rollup": rollup.measurement, "error": why}
        )
        return False
    status.removed += 1
    return True


def row_exists(client: InfluxClient, rollup: Source, tags: Mapping[str, str], time_ms: int) -> bool:
    """Whether ``rollup`` holds a row of exactly the series ``tags`` (every tag key, '' where absent) at
    ``time_ms``; ``InfluxError`` when it cannot be read."""
    return bool(client.select(f"SELECT * FROM {rollup.ref()} WHERE {_row_where(tags, time_ms)}").series)


def _row_where(tags: Mapping[str, str], time_ms: int) -> str:
    # every tag key the measurement has, the absent ones as '': only this series, not one that adds a tag
    return " AND ".join(
        [tag_equals(k, v) for k, v in sorted(tags.items())] + [time_range(time_ms, time_ms + 1)]
    )
