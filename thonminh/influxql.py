"""The one InfluxQL builder, with one quoting, for the criteria service and the Grafana dashboards alike.

Identifiers and string literals go through ``ident`` and ``literal`` (backslashes and quotes escaped), so a
statement is self-contained: the service shows it as evidence, and it can be pasted into the ``influx``
shell as it is. Grafana's macros (``$timeFilter``, ``${__to}``) and template variables are plain condition
text here; ``dashboards`` adds them.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

__all__ = [
    "Select",
    "agg",
    "conditions",
    "from_ref",
    "ident",
    "literal",
    "tag_equals",
    "tag_in",
    "tag_not_in",
    "time_range",
]


def ident(name: str) -> str:
    """Quote an InfluxQL identifier (measurement, tag or field key)."""
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def literal(value: str) -> str:
    """Quote an InfluxQL string literal."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def tag_equals(tag: str, value: str) -> str:
    return f"{ident(tag)} = {literal(value)}"


def tag_in(tag: str, values: Sequence[str]) -> str:
    """The tag is one of ``values`` (not empty): ``("t" = 'a' OR "t" = 'b')``."""
    return "(" + " OR ".join(tag_equals(tag, v) for v in values) + ")"


def tag_not_in(tag: str, values: Sequence[str]) -> str:
    """The tag is none of ``values``, an absent tag ('') included (``tag_in``'s complement, as one regex:
    InfluxDB matches it against each distinct value once, where thousands of ``!=`` would each be a set
    operation on the index)."""
    if not values:
        return f"{ident(tag)} =~ /.*/"
    pattern = "^(?:" + "|".join(re.escape(v) for v in values) + ")$"
    return f"{ident(tag)} !~ /" + pattern.replace("/", "\\/") + "/"


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def time_range(start_ms: int, end_ms: int) -> str:
    """``[start, end)``: every window of thonminh includes its start and excludes its end."""
    return f"time >= '{_iso(start_ms)}' AND time < '{_iso(end_ms)}'"


def from_ref(measurement: str, database: str | None = None, retention_policy: str | None = None) -> str:
    """``"db"."rp"."m"``, ``"db".."m"`` (the database's default policy) or ``"m"``."""
    if database is None:
        return ident(measurement)
    rp = ident(retention_policy) if retention_policy else ""
    return f"{ident(database)}.{rp}.{ident(measurement)}"


@dataclass(frozen=True, slots=True)
class Select:
    """``SELECT exprs [INTO into] FROM source WHERE conditions GROUP BY [time(...),] tags [fill] [ORDER] [LIMIT]
    [tz]``. ``sources`` are ``from_ref`` texts or nested ``Select`` (subqueries, merged when several)."""

    exprs: Sequence[str]
    sources: Sequence[str | Select]
    where: Sequence[str] = ()
    group_tags: Sequence[str] = ()
    group_all: bool = False
    time: str | None = None
    offset: str | None = None
    fill: str | None = None
    into: str | None = None
    newest_first: bool = False
    limit: int | None = None
    tz: str | None = None

    def render(self) -> str:
        sources = ", ".join(f"({s.render()})" if isinstance(s, Select) else s for s in self.sources)
        text = f"SELECT {', '.join(self.exprs)}"
        if self.into:
            text += f" INTO {self.into}"
        text += f" FROM {sources}"
        if self.where:
            text += f" WHERE {' AND '.join(self.where)}"
        groups = []
        if self.time:
            groups.append(f"time({self.time}, {self.offset})" if self.offset else f"time({self.time})")
        groups += [ident(t) for t in self.group_tags]
        if self.group_all:
            groups.append("*")
        if groups:
            text += " GROUP BY " + ", ".join(groups)
        if self.fill:
            text += f" fill({self.fill})"
        if self.newest_first:
            text += " ORDER BY time DESC"
        if self.limit:
            text += f" LIMIT {self.limit}"
        if self.tz:
            text += f" tz({literal(self.tz)})"
        return text


def agg(func: str, field_name: str, alias: str | None = None) -> str:
    """``func("field") [AS "alias"]``."""
    text = f"{func}({ident(field_name)})"
    return f"{text} AS {ident(alias)}" if alias else text


def conditions(*parts: str | Sequence[str] | None) -> list[str]:
    """Flatten condition texts, leaving out empty ones."""
    out: list[str] = []
    for part in parts:
        if not part:
            continue
        out.extend([part] if isinstance(part, str) else [p for p in part if p])
    return out
