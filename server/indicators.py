"""Manual indicators: entered by officials against their description (``thonminh.figures.INDICATORS``: a fixed
unit and a valid range), and kept as a record that is never overwritten.

Two points per entry: the ``indicator`` point at the as-of time is what the criteria read (a correction for the
same time replaces it there), and the ``indicator_entry`` point at the time of entry is the record, kept whatever
corrects it later. ``GET .../indicators`` lists the record.

Each entry's time of entry is its id (``entered``, which ``corrects`` names): no two entries of a village share a
millisecond, or InfluxDB would keep only the last point written there (``_entered_ms``).
"""

from __future__ import annotations

import logging
import threading
from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import cast

from server.errors import ParameterError
from server.evidence.indicator_check import check_point
from server.evidence.indicator_heads import IndicatorHeads
from server.evidence.indicator_record import entries_of
from server.evidence.registry import KeySnapshot
from server.indicator_models import IndicatorEntryOut, IndicatorIn, IndicatorOut, IndicatorsOut, Read
from server.queries import Scope, Source
from server.service import Service
from server.timeparse import HOUR_MS, floor_hour, is_day, iso, ms_of, parse_time
from thonminh.contract import INDICATOR, INDICATOR_ENTRY, Point
from thonminh.evidence import INDICATOR_SIGNATURE, GatewayKey, indicator_message, message_id
from thonminh.evidencekeys import to_b64
from thonminh.figures import INDICATORS, IndicatorDescription
from thonminh.influxql import Select, tag_equals, time_range
from thonminh.logs import RateLimited

__all__ = [
    "check_entry",
    "counted_from",
    "counting",
    "describe",
    "history",
    "point_id",
    "put_indicator",
    "signed_point",
]

#: a foreign entry is read again at every request for the village: logged once an hour per village
_foreign = RateLimited(logging.getLogger(__name__), period=3600.0)

#: Held from choosing an entry's millisecond until it is written: entries are made one at a time.
_entering = threading.Lock()
#: The last millisecond given to an entry, by (database, retention policy, village).
_last_ms: dict[tuple[str, str | None, str], int] = {}
#: How far past the clock's millisecond one read looks for entries already there.
_LOOKAHEAD_MS = 1000


def describe(indicator: str) -> IndicatorDescription:
    desc = INDICATORS.get(indicator)
    if desc is None:
        raise ParameterError(
            f"indicator: {indicator!r} is not a known indicator (known: {', '.join(INDICATORS)})",
            parameter="indicator",
        )
    return desc


def _check(desc: IndicatorDescription, body: IndicatorIn) -> None:
    if body.unit is not None and body.unit != desc.unit:
        raise ParameterError(
            f"unit: {desc.key} is measured in {desc.unit!r}, not {body.unit!r}", parameter="unit"
        )
    if not desc.minimum <= body.value <= desc.maximum:
        raise ParameterError(
            f"value: {body.value:g} is outside {desc.key}'s range {desc.minimum:g}.."
            f"{desc.maximum:g} {desc.unit}".rstrip(),
            parameter="value",
        )


def _all_of(service: Service, measurement: str, village: str, indicator: str | None) -> str:
    """Every point of the village's ``measurement`` (of ``indicator``, if given), by series."""
    source = Source(service.reader.database, service.config.influxdb.retention_policy, measurement)
    where = [tag_equals("village", village)] + ([tag_equals("indicator", indicator)] if indicator else [])
    return Select(["*"], [source.ref()], where=where, group_all=True).render()


def _entries(service: Service, village: str, indicator: str | None) -> tuple[list[dict], str]:
    statement = _all_of(service, INDICATOR_ENTRY.name, village, indicator)
    result = service.reader.run([statement])[0]
    snapshot = service.verifier.registry.snapshot() if service.verifier is not None else None
    rows = []
    for series in result.series:
        for row in series.rows():
            signature = "not_configured"
            if snapshot is not None:
                fields = {k: v for k, v in row.items() if k != "time"}
                check = check_point(snapshot, INDICATOR_ENTRY.name, series.tags, fields, int(row["time"]))
                signature = check.fault or "verified"
            rows.append({**series.tags, **row, "signature": signature})
    entries = [r for r in rows if _as_written(r)]
    if len(entries) < len(rows):
        _foreign.warning(
            village,
            "indicator entries left out: not as the service writes them",
            village=village,
            rows=len(rows) - len(entries),
        )
    return entries, statement


def _as_written(row: dict) -> bool:
    """An entry as ``put_indicator`` writes it: anyone who can write to InfluxDB can add others to the record."""
    value, as_of = row.get("value"), row.get("as_of_ms")
    return (
        isinstance(value, int | float)
        and isinstance(as_of, int)
        and not isinstance(value, bool)
        and not isinstance(as_of, bool)
        and bool(row.get("indicator"))
        and all(isinstance(row.get(k), str | None) for k in ("unit", "source", "note", "corrects"))
    )


def check_entry(
    service: Service, indicator: str, body: IndicatorIn
) -> tuple[IndicatorDescription, datetime | None]:
    """(the indicator, the as-of time the body gives), or the ``ParameterError`` that refuses the entry for
    what it says alone: what can be checked before anything is read or written (a commune's table checks every
    village's entry so before it enters one)."""
    desc = describe(indicator)
    _check(desc, body)
    now = service.now()
    when = parse_time(body.time, now=now, zone=service.zone, parameter="time") if body.time else None
    if when is not None and when > now:
        raise ParameterError("time: an indicator cannot be dated in the future", parameter="time")
    return desc, when


def _as_of(
    service: Service, village: str, indicator: str, body: IndicatorIn, when: datetime | None
) -> tuple[int | None, str]:
    """(the as-of time, None for the time of entry; the corrected entry's id or ''): a correction keeps the
    corrected entry's time unless it gives its own. An entry for a time that an entry still counting stands
    for replaces its value there, so it is recorded as correcting it, ``corrects`` given or not.

    An entry for a day (``time`` a date, as the village page's form sends it) is that day's value: where
    entries already stand later in that local day (one entered that morning with no time stands at its time of
    entry), it takes the latest of their times and corrects the entry counting there, so that it is the value
    that counts, not one left behind it."""
    now = service.now()
    if not body.corrects:  # empty as ``time`` may be: no entry named
        if when is None:  # the time of entry, which no other entry of the village has
            return None, ""
        rows = _entries(service, village, indicator)[0]
        as_of_ms = int(when.timestamp() * 1000)
        if body.time is not None and is_day(body.time):
            day = when.astimezone(service.zone).date()
            next_day = datetime.combine(day + timedelta(days=1), datetime.min.time(), service.zone)
            end_ms = int(next_day.timestamp() * 1000)
            within = [int(r["as_of_ms"]) for r in rows if as_of_ms <= int(r["as_of_ms"]) < end_ms]
            as_of_ms = max(within, default=as_of_ms)
        return as_of_ms, _counting_at(rows, as_of_ms)
    corrected_ms = int(
        parse_time(body.corrects, now=now, zone=service.zone, parameter="corrects").timestamp() * 1000
    )
    rows, _ = _entries(service, village, indicator)
    match = [r for r in rows if int(r["time"]) == corrected_ms]
    if not match:
        raise ParameterError(
            f"corrects: no entry of {indicator} was entered at {body.corrects!r}", parameter="corrects"
        )
    return (int(match[0]["as_of_ms"]) if when is None else int(when.timestamp() * 1000)), iso(corrected_ms)


def _counting_at(rows: list[dict], as_of_ms: int) -> str:
    """The id of the newest entry for ``as_of_ms`` that no later entry corrects, or ''."""
    corrected = {r["corrects"] for r in rows if r.get("corrects")}
    standing = [
        int(r["time"])
        for r in rows
        if int(r["as_of_ms"]) == as_of_ms and iso(int(r["time"])) not in corrected
    ]
    return iso(max(standing)) if standing else ""


def _entered_ms(service: Service, village: str) -> int:
    """The entry's millisecond, which no other entry of the village has: the clock's, or the first free one after
    it, after the last this process gave (the clock may give one millisecond to many requests, or step back) and
    after the entries InfluxDB holds there (written before a restart). Call it holding ``_entering``, and write
    the entry before letting go. Another process writing entries of the village at the same time is not seen."""
    database, rp = service.reader.database, service.config.influxdb.retention_policy
    key = (database, rp, village)
    ms = max(int(service.clock() * 1000), _last_ms.get(key, -1) + 1)
    source = Source(database, rp, INDICATOR_ENTRY.name).ref()
    while True:
        where = [tag_equals("village", village), time_range(ms, ms + _LOOKAHEAD_MS)]
        statement = Select(["*"], [source], where=where, group_all=True).render()
        taken = {int(r["time"]) for r in service.reader.run([statement])[0].rows()}
        free = next((t for t in range(ms, ms + _LOOKAHEAD_MS) if t not in taken), None)
        if free is not None:
            _last_ms[key] = free
            return free
        ms += _LOOKAHEAD_MS


def _next_link(service: Service, heads: IndicatorHeads, village: str) -> tuple[int, str]:
    """(the entry's number, the previous entry's id): after the newest the record holds, or the service's count
    if that is higher (the newest were deleted: the gap stays for verification to name)."""
    assert service.verifier is not None  # the counts are the verifier's
    head = heads.get(village)
    snapshot = service.verifier.registry.snapshot()
    record = entries_of(service.reader.indicator_entries(Scope(village=village)), snapshot).get(village)
    newest = record[-1] if record else None
    if newest is not None and (head is None or newest.seq > head.seq):
        return newest.seq + 1, newest.id
    return (head.seq + 1, head.id) if head is not None else (1, "")


def signed_point(
    key: GatewayKey | None, measurement: str, tags: dict[str, str], fields: dict, time_ms: int
) -> Point:
    """The point, signed by the service's key when it has one (``server.evidence.service_key``)."""
    if key is None:
        return Point(measurement, tags, fields, time_ms)
    fields = fields | {"key": key.fingerprint}
    signature = key.sign(indicator_message(measurement, tags, fields, time_ms))
    return Point(measurement, tags, fields | {INDICATOR_SIGNATURE: to_b64(signature)}, time_ms)


def point_id(point: Point) -> str:
    """The id of a signed point's message: what the village's next entry names as ``prev``."""
    return message_id(indicator_message(point.measurement, point.tags, point.fields, point.time_ms))


def put_indicator(
    service: Service, village: str, indicator: str, body: IndicatorIn, key_name: str
) -> IndicatorOut:
    desc, when = check_entry(service, indicator, body)
    value = float(body.value) + 0.0  # -0 is 0
    place = (service.reader.places(Scope(village=village)).rows or [{}])[0]
    tags = {"village": village, "gateway": service.config.indicator_gateway, "indicator": indicator}
    tags |= {k: place[k] for k in ("commune", "district", "province") if place.get(k)}
    source = f"{body.note} (key {key_name})" if body.note else f"key {key_name}"
    key = service.indicator_key.current() if service.indicator_key is not None else None
    # the record is chained where entries are signed and counted (a key registry)
    heads = service.verifier.indicator_heads if key is not None and service.verifier is not None else None
    with _entering:
        # read with the lock held: the entry a correction names is the one still counting when it is written
        given_ms, corrects = _as_of(service, village, indicator, body, when)
        entered_ms = _entered_ms(service, village)
        # an entry of no time stands at its time of entry: two made together keep two values, the later read
        as_of_ms = entered_ms if given_ms is None else given_ms
        said = {"value": value, "unit": desc.unit, "source": source}
        point = signed_point(key, INDICATOR.name, tags, said | {"entered_ms": entered_ms}, as_of_ms)
        link = _next_link(service, heads, village) if heads is not None else None
        entry = signed_point(
            key,
            INDICATOR_ENTRY.name,
            tags,
            said
            | {"note": body.note or "", "as_of_ms": as_of_ms, "corrects": corrects}
            | ({"seq": link[0], "prev": link[1]} if link is not None else {}),
            entered_ms,
        )
        line = service.reader.write_indicator(point, entry)
        if heads is not None and link is not None:
            heads.advance(village, link[0], point_id(entry))
    return IndicatorOut(
        village=village,
        indicator=indicator,
        value=value,
        unit=desc.unit,
        source=source,
        time=iso(as_of_ms),
        entered=iso(entered_ms),
        corrects=corrects or None,
        line=line,
    )


def counting(entries: Iterable[IndicatorEntryOut]) -> IndicatorEntryOut | None:
    """The entry of one indicator whose value its criterion reads now: the one of the latest as-of time, the
    last entered there (the indicator's point at a time is the last written; an entry corrected with a time of
    its own leaves the corrected one's point where it stood)."""
    return max(entries, key=lambda e: (ms_of(e.time), ms_of(e.entered)), default=None)


def counted_from(entry: IndicatorEntryOut, now_ms: int) -> str | None:
    """When verdicts first read ``entry``: the next whole hour if it stands in the hour still running (their
    windows end at the last whole hour, ``server.service``); None when they read it already."""
    hour_ms = floor_hour(now_ms)
    return iso(hour_ms + HOUR_MS) if ms_of(entry.time) >= hour_ms else None


def _points(
    service: Service, village: str, indicator: str | None
) -> tuple[dict[tuple[str, int], list[dict]], str]:
    """The ``indicator`` points the criteria read, by (indicator, time), each with its series' tags: a list, for
    a point written beside the genuine one in a series of its own (another tag) stands at the same time."""
    statement = _all_of(service, INDICATOR.name, village, indicator)
    found: dict[tuple[str, int], list[dict]] = defaultdict(list)
    for series in service.reader.run([statement])[0].series:
        for row in series.rows():
            time_ms = int(row.pop("time"))
            found[(series.tags.get("indicator") or "", time_ms)].append({"tags": series.tags, "fields": row})
    return found, statement


def _read(entry: dict, points: list[dict], snapshot: KeySnapshot | None) -> Read:
    """What the criteria read at ``entry``'s time (``IndicatorEntryOut.read``): a record that verifies does not
    make the value counted there genuine, since a write around the API changes that point, not the record."""
    if not points:
        return "missing"
    for point in points:  # any of them may be the one read: one that is not as signed is a forgery
        if snapshot is not None:
            check = check_point(
                snapshot, INDICATOR.name, point["tags"], point["fields"], int(entry["as_of_ms"])
            )
            if (fault := check.fault) is not None:
                return cast(Read, fault)  # check_point's faults are the Signature kinds, which Read holds
    if len(points) > 1 and snapshot is None:
        return "altered"  # two series at one time, and no registry to tell which is genuine
    # every one signed (a village whose commune tag changed between entries): the latest entered stands
    fields = max((p["fields"] for p in points), key=lambda f: f.get("entered_ms") or 0)
    entered, own = fields.get("entered_ms"), int(entry["time"])
    if isinstance(entered, int) and entered != own:
        # a later entry for the same time replaces it, as the record says (``superseded_by``); an earlier one
        # written back over it, signature and all, is a replay (a point of a version before ``entered_ms``
        # names no entry: its value alone is compared)
        return "replaced" if entered > own else "replayed"
    if fields.get("value") != entry["value"]:
        return "altered"
    return "verified" if snapshot is not None else "not_configured"


def history(service: Service, village: str, indicator: str | None) -> IndicatorsOut:
    if indicator is not None:
        describe(indicator)
    rows, statement = _entries(service, village, indicator)
    points, read_statement = _points(service, village, indicator)
    snapshot = service.verifier.registry.snapshot() if service.verifier is not None else None
    superseded = {r["corrects"]: iso(int(r["time"])) for r in rows if r.get("corrects")}
    entries = [
        IndicatorEntryOut(
            indicator=r["indicator"],
            value=r["value"],
            unit=r.get("unit") or "",
            source=r.get("source") or "",
            note=r.get("note") or "",
            time=iso(int(r["as_of_ms"])),
            entered=iso(int(r["time"])),
            corrects=r.get("corrects") or None,
            superseded_by=superseded.get(iso(int(r["time"]))),
            signature=r["signature"],
            read=_read(r, points.get((r["indicator"], int(r["as_of_ms"])), []), snapshot),
        )
        for r in sorted(rows, key=lambda r: -int(r["time"]))
    ]
    known = {
        k: {
            "unit": d.unit,
            "minimum": d.minimum,
            "maximum": d.maximum,
            "title": {"vi": d.title.vi, "en": d.title.en},
        }
        for k, d in INDICATORS.items()
    }
    return IndicatorsOut(
        village=village, indicators=known, entries=entries, queries=[statement, read_statement]
    )
