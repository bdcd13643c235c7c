"""InfluxQL text, built from contract descriptors. No I/O here: ``reader.py`` runs what these return.

Every value from a request is quoted with ``quote_literal`` (identifiers with ``quote_ident``), so the text
is self-contained: it is shown as evidence and can be pasted into the ``influx`` shell as it is.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from server.plan import daily_span
from server.timeparse import Step, Window, iso, tz_clause
from thonminh.contract import INDICATOR, MODEM, STREETLIGHT, UPLINK, UPLINK_EVENT, WIFI_DAILY
from thonminh.influx import quote_ident, quote_literal

__all__ = [
    "Agg",
    "Scope",
    "Source",
    "aggregate",
    "events_in_window",
    "indicator_last",
    "last_event_before",
    "light_faults",
    "links_of_village",
    "parse_series_key",
    "series_of",
    "modem_medians",
    "time_range",
    "village_exists",
    "villages_last_seen",
    "wifi_daily_users",
]

#: Tags that place a village; the roll-up filters on the last three.
PLACE_TAGS = ("village", "gateway", "commune", "district", "province")


@dataclass(frozen=True, slots=True)
class Source:
    """A measurement in a database and retention policy (``None``: the database's default policy)."""

    database: str
    retention_policy: str | None
    measurement: str

    def ref(self) -> str:
        rp = quote_ident(self.retention_policy) if self.retention_policy else ""
        return f"{quote_ident(self.database)}.{rp}.{quote_ident(self.measurement)}"


@dataclass(frozen=True, slots=True)
class Scope:
    """Which villages: one ``village``, or every village of a ``province``/``district``/``commune``."""

    village: str | None = None
    province: str | None = None
    district: str | None = None
    commune: str | None = None

    def holds(self, place: dict[str, str]) -> bool:
        """Whether a village with these place tags is in the scope."""
        return all(
            value is None or place.get(tag) == value
            for tag, value in (
                ("village", self.village),
                ("province", self.province),
                ("district", self.district),
                ("commune", self.commune),
            )
        )

    def conditions(self) -> list[str]:
        pairs = [
            ("village", self.village),
            ("province", self.province),
            ("district", self.district),
            ("commune", self.commune),
        ]
        return [f"{quote_ident(tag)} = {quote_literal(value)}" for tag, value in pairs if value is not None]


@dataclass(frozen=True, slots=True)
class Agg:
    """``func(field) AS alias``."""

    func: str
    field: str
    alias: str

    def text(self) -> str:
        return f"{self.func}({quote_ident(self.field)}) AS {quote_ident(self.alias)}"


def time_range(start_ms: int, end_ms: int) -> str:
    return f"time >= '{iso(start_ms)}' AND time < '{iso(end_ms)}'"


def _where(scope: Scope, start_ms: int, end_ms: int, extra: Iterable[str] = ()) -> str:
    return " AND ".join([*scope.conditions(), *extra, time_range(start_ms, end_ms)])


def _group(tags: Sequence[str], time_part: str | None = None) -> str:
    parts = ([time_part] if time_part else []) + [quote_ident(t) for t in tags]
    return f" GROUP BY {', '.join(parts)}" if parts else ""


def aggregate(
    source: Source,
    aggs: Sequence[Agg],
    scope: Scope,
    start_ms: int,
    end_ms: int,
    *,
    group_by: Sequence[str] = (),
    step: Step | None = None,
    zone: ZoneInfo | None = None,
    condition: str | None = None,
    hourly: bool = False,
) -> str:
    """``SELECT sum(...) ... GROUP BY [time(step),] tags``; ``hourly`` groups by ``time(1h)`` instead."""
    select = ", ".join(a.text() for a in aggs)
    where = _where(scope, start_ms, end_ms, [condition] if condition else [])
    time_part = None
    tail = ""
    if step is not None:
        time_part = step.group_by()
        tail = f" fill(none) {tz_clause(zone)}" if zone else " fill(none)"
    elif hourly:
        time_part = "time(1h)"
        tail = " fill(none)"
    return f"SELECT {select} FROM {source.ref()} WHERE {where}{_group(group_by, time_part)}{tail}"


def rollup_select(
    source: Source,
    aggs: Sequence[Agg],
    start_ms: int,
    end_ms: int,
    *,
    condition: str | None = None,
    into: Source | None = None,
    interval: str = "1h",
) -> str:
    """The rollup of ``[start, end)`` per ``interval``: every series kept (``GROUP BY *``), optionally ``INTO``."""
    select = ", ".join(a.text() for a in aggs)
    into_part = f" INTO {into.ref()}" if into else ""
    where = " AND ".join([*([condition] if condition else []), time_range(start_ms, end_ms)])
    return f"SELECT {select}{into_part} FROM {source.ref()} WHERE {where} GROUP BY time({interval}), * fill(none)"


# -- events and other sparse measurements (few points: read directly) ----------------------------------------

_EVENT_FIELDS = ", ".join(quote_ident(f) for f in UPLINK_EVENT.fields)


def events_in_window(source: Source, scope: Scope, window: Window, link: str | None) -> str:
    extra = [f"{quote_ident('link')} = {quote_literal(link)}"] if link else []
    return (
        f"SELECT {_EVENT_FIELDS} FROM {source.ref()} WHERE {_where(scope, window.start_ms, window.end_ms, extra)}"
        f"{_group(('link',))}"
    )


def last_event_before(source: Source, scope: Scope, window: Window, link: str | None) -> str:
    """The state each link was in when the window opened: its last event before ``start``."""
    extra = [f"{quote_ident('link')} = {quote_literal(link)}"] if link else []
    where = " AND ".join([*scope.conditions(), *extra, f"time < '{iso(window.start_ms)}'"])
    rest = ", ".join(quote_ident(f) for f in UPLINK_EVENT.fields if f != "state")
    return (
        f"SELECT last({quote_ident('state')}) AS {quote_ident('state')}, {rest} FROM {source.ref()} "
        f"WHERE {where}{_group(('link',))}"
    )


def links_of_village(database: str, village: str, measurements: Iterable[str]) -> str:
    froms = ", ".join(quote_ident(m) for m in measurements)
    return (
        f"SHOW TAG VALUES ON {quote_ident(database)} FROM {froms} WITH KEY = {quote_ident('link')} "
        f"WHERE {quote_ident('village')} = {quote_literal(village)}"
    )


def village_exists(database: str, village: str) -> str:
    return (
        f"SHOW TAG VALUES ON {quote_ident(database)} WITH KEY = {quote_ident('village')} "
        f"WHERE {quote_ident('village')} = {quote_literal(village)}"
    )


def villages_last_seen(source: Source, field: str, scope: Scope, start_ms: int, end_ms: int) -> str:
    """The last point of each village (with its place tags) in ``[start, end)``."""
    return (
        f"SELECT last({quote_ident(field)}) AS {quote_ident('last')} FROM {source.ref()} "
        f"WHERE {_where(scope, start_ms, end_ms)}{_group(PLACE_TAGS)}"
    )


def series_of(database: str, measurement: str, scope: Scope) -> str:
    """The series keys of a measurement in scope: read from the index, whatever the time."""
    where = " AND ".join(scope.conditions())
    return f"SHOW SERIES ON {quote_ident(database)} FROM {quote_ident(measurement)}" + (
        f" WHERE {where}" if where else ""
    )


def parse_series_key(key: str) -> dict[str, str]:
    """Tags of a series key as ``SHOW SERIES`` prints it (``m,tag=value,...`` with ``\\,`` ``\\=`` ``\\ `` escapes)."""
    parts, current, escaped = [], [], False
    for char in key:
        if escaped:
            current.append(char)
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == ",":
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    tags = {}
    for part in parts[1:]:
        name, _, value = part.partition("=")
        tags[name] = value
    return tags


def wifi_daily_users(
    source: Source,
    scope: Scope,
    window: Window,
    zone: ZoneInfo,
    *,
    group_by: Sequence[str] = ("village",),
    ap: str | None = None,
) -> str:
    """Unique users per local day, summed over the village's access points, for every local day the window
    touches (its first day's point is stamped at the midnight before ``start``: see ``plan.daily_span``)."""
    field = WIFI_DAILY.field("unique_users").name
    extra = [f"{quote_ident('ap')} = {quote_literal(ap)}"] if ap else []
    start_ms, end_ms = daily_span(window.start_ms, window.end_ms, zone)
    return (
        f"SELECT sum({quote_ident(field)}) AS {quote_ident('users')}, count({quote_ident(field)}) AS "
        f"{quote_ident('points')} FROM {source.ref()} WHERE {_where(scope, start_ms, end_ms, extra)}"
        f"{_group(group_by, 'time(1d)')} fill(none) {tz_clause(zone)}"
    )


_SIGNALS = ("rsrp_dbm", "rsrq_db", "sinr_db", "rssi_dbm")


def modem_medians(source: Source, scope: Scope, window: Window) -> str:
    """Median radio figures per modem over the window. Medians do not add up, so they read raw points;
    the criteria use the additive RSRP ladder of the rollups instead."""
    select = ", ".join(f"median({quote_ident(MODEM.field(f).name)}) AS {quote_ident(f)}" for f in _SIGNALS)
    return (
        f"SELECT {select} FROM {source.ref()} WHERE {_where(scope, window.start_ms, window.end_ms)}"
        f"{_group(('link', 'modem'))}"
    )


def light_faults(
    source: Source, scope: Scope, start_ms: int, end_ms: int, *, in_the_dark: bool = False
) -> str:
    """Each light's last reported fault (``''`` = none) in ``[start, end)``; ``in_the_dark``: only from samples
    taken while it was expected on, the only time a lamp failure can be seen."""
    fault = STREETLIGHT.field("fault").name
    online = STREETLIGHT.field("online").name
    extra = [f"{quote_ident(STREETLIGHT.field('expected_on').name)} = 1"] if in_the_dark else []
    return (
        f"SELECT last({quote_ident(fault)}) AS {quote_ident('fault')}, {quote_ident(online)} "
        f"FROM {source.ref()} WHERE {_where(scope, start_ms, end_ms, extra)}{_group(('light', 'zone'))}"
    )


def indicator_last(source: Source, scope: Scope, window: Window, indicator: str) -> str:
    fields = INDICATOR.fields
    extra = [f"{quote_ident('indicator')} = {quote_literal(indicator)}"]
    select = ", ".join(
        f"last({quote_ident(fields[f].name)}) AS {quote_ident(f)}" for f in ("value", "unit", "source")
    )
    return (
        f"SELECT {select}, count({quote_ident(fields['value'].name)}) AS {quote_ident('points')} "
        f"FROM {source.ref()} WHERE {_where(scope, window.start_ms, window.end_ms, extra)}"
        f"{_group(('village',))}"
    )


def indicator_points(source: Source, scope: Scope, start_ms: int, end_ms: int, indicator: str | None) -> str:
    """Every point of a manual indicator (None: of every one), with its tags: what signatures are checked on."""
    extra = [f"{quote_ident('indicator')} = {quote_literal(indicator)}"] if indicator else []
    return f"SELECT * FROM {source.ref()} WHERE {_where(scope, start_ms, end_ms, extra)} GROUP BY *"


def indicator_entries(source: Source, scope: Scope) -> str:
    """The whole record of manual indicator entries, with their tags: checked as a chain."""
    where = " AND ".join(scope.conditions())
    return f"SELECT * FROM {source.ref()}{' WHERE ' + where if where else ''} GROUP BY *"


#: The measurements whose ``link`` tag names the village's uplinks.
LINK_MEASUREMENTS = (UPLINK.name, UPLINK_EVENT.name)
