"""InfluxQL for panels and alerts: the core's one builder (``thonminh.influxql``), the contract's names, Grafana's time.

Every measurement, field and tag name goes through ``thonminh.contract``: a name that is not in the contract
raises ``KeyError`` when the dashboards are built, so a renamed field can never leave a panel saying "No data".
Quoting is the core's (``ident``, ``literal``), the same the criteria service uses.

Time: thonminh's windows are ``[start, end)``. Grafana's ``$timeFilter`` is ``time >= from AND time <= to``, so
every panel query adds ``time < ${__to}ms`` (``${__from}``/``${__to}`` are the panel's range in epoch ms; see
``tests/dashboards/grafana_macros.py``); a sample stamped exactly at ``to`` belongs to the next window, as in the API.
Template variables are used in regex form (``"village" =~ /^$village$/``), which Grafana renders for multi-value
and "All" selections alike.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from dashboards.model import Query
from thonminh import influxql as core
from thonminh.contract import DAILY_TZ, Measurement
from thonminh.influxql import conditions, from_ref, ident, literal

__all__ = [
    "PANEL",
    "PROVINCE_SCOPE",
    "VILLAGE_SCOPE",
    "Select",
    "TimeRange",
    "agg",
    "field_ref",
    "field_value",
    "grouped_target",
    "local_offset_ms",
    "site_filter",
    "tag_ref",
    "trailing",
]

#: template variables each dashboard kind filters on, outermost first
VILLAGE_SCOPE: tuple[str, ...] = ("village",)
PROVINCE_SCOPE: tuple[str, ...] = ("district", "commune", "village")

_DAY_MS = 86_400_000


def local_offset_ms() -> int:
    """The UTC offset of ``DAILY_TZ`` in ms, read from the zone database when the dashboards are built.

    Asia/Ho_Chi_Minh has had +07:00 without daylight saving since 1975, so a fixed offset names its local days
    exactly; ``tz()`` in the queries and this number agree for any range a dashboard can show."""
    offset = datetime.now(ZoneInfo(DAILY_TZ)).utcoffset()
    assert offset is not None
    return int(offset.total_seconds() * 1000)


def _days_touched(start_ms: str, end_ms: str) -> str:
    """InfluxQL for the number of local days ``[start, end)`` touches: ``floor(end - 1ms) - floor(start) + 1`` in
    local days, written with ``%`` since InfluxQL has no integer division (x - x % d is d * floor(x / d))."""
    off = local_offset_ms()
    first = f"({start_ms} + {off})"
    last = f"({end_ms} - 1 + {off})"
    return f"(({last} - {last} % {_DAY_MS}) - ({first} - {first} % {_DAY_MS})) / {_DAY_MS} + 1"


@dataclass(frozen=True, slots=True)
class TimeRange:
    """Where a query's window comes from, as InfluxQL text: the condition selecting ``[start, end)``, the one
    that also reaches back to the first local day's midnight (daily points), and the window's length."""

    filter: str
    daily_filter: str
    seconds: str
    days: str


#: a panel's range: Grafana substitutes ``$timeFilter`` in its backend and ``${__from}``/``${__to}`` (epoch ms)
#: in the browser, both from the panel's own time range (its relative time when it has one).
PANEL = TimeRange(
    filter="$timeFilter AND time < ${__to}ms",
    # wifi_daily points are stamped at local midnight: the range's first day has its point before ``from``
    daily_filter="time > ${__from}ms - 1d AND time < ${__to}ms",
    seconds="((${__to} - ${__from}) / 1000.0)",
    days=f"({_days_touched('${__from}', '${__to}')})",
)


def trailing(seconds: int) -> TimeRange:
    """The last ``seconds`` up to now, for alert rules.

    Grafana evaluates alert queries in its backend, which expands ``$timeFilter`` from the rule's relative time
    range but not ``${__from}`` (that is the browser's), so the window's length is the rule's look-back, a
    constant; nothing is stamped after now, so ``$timeFilter``'s included end changes nothing."""
    return TimeRange(
        filter="$timeFilter",
        daily_filter="$timeFilter",
        seconds=str(seconds),
        days=str(-(-seconds // 86_400) + 1),
    )


def grouped_target(
    statement: core.Select,
    groups: tuple[str, ...],
    *,
    table: bool = False,
    alias: str | None = None,
    split: bool = False,
) -> Query:
    """A panel target for a statement with a row per ``groups`` (a village, and the alert rules' labels): its
    series named by them unless it is a table or ``alias`` names them; ``split`` for the verdict panel's
    queries, which share the villages between them."""
    if alias is None and not table:
        alias = " ".join(f"$tag_{t}" for t in groups)
    return Query(statement.render(), table=table, alias=alias, group_tags=groups, split=split)


def field_ref(m: Measurement, name: str) -> str:
    """``"name"`` for a field of ``m``; ``KeyError`` if the contract has no such field."""
    return ident(m.field(name).name)


def tag_ref(m: Measurement, name: str) -> str:
    """``"name"`` for a tag of ``m`` (site tags included); ``KeyError`` otherwise."""
    _check_tag(m, name)
    return ident(name)


def _check_tag(m: Measurement, name: str) -> str:
    if name not in m.all_tags:
        raise KeyError(f"{m.name} has no tag {name!r}; tags: {', '.join(m.all_tags)}")
    return name


def agg(fn: str, m: Measurement, name: str, alias: str | None = None) -> str:
    """``fn("field")`` optionally ``AS "alias"``."""
    return core.agg(fn, m.field(name).name, alias)


def field_value(m: Measurement, name: str, op: str, value: str | float) -> str:
    """A condition on a field: ``"state" = 'down'``, ``"rsrp_dbm" >= -110``."""
    text = literal(value) if isinstance(value, str) else repr(value)
    return f"{field_ref(m, name)} {op} {text}"


def site_filter(m: Measurement, scope: Sequence[str]) -> list[str]:
    """``"tag" =~ /^$tag$/`` for each scope variable (Grafana regex-escapes and joins multi values)."""
    return [f"{tag_ref(m, name)} =~ /^${name}$/" for name in scope]


@dataclass(frozen=True, slots=True)
class Select:
    """``SELECT exprs FROM m [or a subquery] WHERE <range> AND site AND where GROUP BY ...`` on the core builder.

    ``daily``: ``m`` holds daily points stamped at local midnight, so the range reaches back to the first day's."""

    m: Measurement
    exprs: tuple[str, ...]
    where: tuple[str, ...] = ()
    group_tags: tuple[str, ...] = ()
    time: str | None = None
    offset: str | None = None
    fill: str | None = None
    tz: bool = False
    scope: tuple[str, ...] = VILLAGE_SCOPE
    subquery: Select | None = None
    newest_first: bool = False
    limit: int | None = None
    daily: bool = False
    window: TimeRange = PANEL

    def statement(self) -> core.Select:
        source: str | core.Select = self.subquery.statement() if self.subquery else from_ref(self.m.name)
        where = conditions(
            self.window.daily_filter if self.daily else self.window.filter,
            None if self.subquery else site_filter(self.m, self.scope),
            self.where,
        )
        return core.Select(
            self.exprs,
            (source,),
            where,
            group_tags=tuple(_check_tag(self.m, t) for t in self.group_tags),
            time=self.time,
            offset=self.offset,
            fill=self.fill,
            newest_first=self.newest_first,
            limit=self.limit,
            tz=DAILY_TZ if self.tz else None,
        )

    def render(self) -> str:
        return self.statement().render()

    def query(self, *, table: bool = False, alias: str | None = None, problems_only: bool = False) -> Query:
        """This statement as a panel target; the alias names series ``village link`` etc. by default."""
        if alias is None and not table and self.group_tags:
            alias = " ".join(f"$tag_{t}" for t in self.group_tags)
            if len(self.exprs) > 1:
                alias += " $col"
        return Query(
            self.render(), table=table, alias=alias, group_tags=self.group_tags, problems_only=problems_only
        )
