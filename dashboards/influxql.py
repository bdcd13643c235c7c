"""InfluxQL for panels and alerts, built from the contract's descriptors.

Every measurement, field and tag name goes through ``thonminh.contract``: a name that is not in the contract
raises ``KeyError`` when the dashboards are built, so a renamed field can never leave a panel saying "No data".
Queries use Grafana's macros (``$timeFilter``, ``$__interval``) and template variables in regex form
(``"village" =~ /^$village$/``), which Grafana renders for multi-value and "All" selections alike.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from dashboards.model import Query
from thonminh.contract import DAILY_TZ, Measurement

__all__ = [
    "PROVINCE_SCOPE",
    "VILLAGE_SCOPE",
    "Select",
    "agg",
    "field_ref",
    "ratio_pct",
    "site_filter",
    "tag_ref",
]

#: template variables each dashboard kind filters on, outermost first
VILLAGE_SCOPE: tuple[str, ...] = ("village",)
PROVINCE_SCOPE: tuple[str, ...] = ("district", "commune", "village")


def _ident(name: str) -> str:
    return '"' + name.replace('"', '\\"') + '"'


def field_ref(m: Measurement, name: str) -> str:
    """``"name"`` for a field of ``m``; ``KeyError`` if the contract has no such field."""
    return _ident(m.field(name).name)


def tag_ref(m: Measurement, name: str) -> str:
    """``"name"`` for a tag of ``m`` (site tags included); ``KeyError`` otherwise."""
    if name not in m.all_tags:
        raise KeyError(f"{m.name} has no tag {name!r}; tags: {', '.join(m.all_tags)}")
    return _ident(name)


def agg(fn: str, m: Measurement, name: str, alias: str | None = None) -> str:
    """``fn("field")`` optionally ``AS "alias"``."""
    expr = f"{fn}({field_ref(m, name)})"
    return f"{expr} AS {_ident(alias)}" if alias else expr


def ratio_pct(m: Measurement, numerator: str, denominator: str, alias: str) -> str:
    """A time-weighted share in percent: ``sum(num) / sum(den) * 100`` (the contract's derived figures)."""
    return f"sum({field_ref(m, numerator)}) / sum({field_ref(m, denominator)}) * 100 AS {_ident(alias)}"


def site_filter(m: Measurement, scope: Sequence[str]) -> list[str]:
    """``"tag" =~ /^$tag$/`` for each scope variable (Grafana regex-escapes and joins multi values)."""
    return [f"{tag_ref(m, name)} =~ /^${name}$/" for name in scope]


@dataclass(frozen=True, slots=True)
class Select:
    """``SELECT exprs FROM m [or a subquery] WHERE $timeFilter AND site AND where GROUP BY ...``."""

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

    def render(self) -> str:
        source = f"({self.subquery.render()})" if self.subquery else _ident(self.m.name)
        conditions = ["$timeFilter"]
        if self.subquery is None:
            conditions += site_filter(self.m, self.scope)
        conditions += list(self.where)
        q = f"SELECT {', '.join(self.exprs)} FROM {source} WHERE {' AND '.join(conditions)}"
        groups = []
        if self.time:
            groups.append(f"time({self.time}, {self.offset})" if self.offset else f"time({self.time})")
        groups += [tag_ref(self.m, t) for t in self.group_tags]
        if groups:
            q += " GROUP BY " + ", ".join(groups)
        if self.fill:
            q += f" fill({self.fill})"
        if self.newest_first:
            q += " ORDER BY time DESC"
        if self.limit:
            q += f" LIMIT {self.limit}"
        if self.tz:
            q += f" tz('{DAILY_TZ}')"
        return q

    def query(self, *, table: bool = False, alias: str | None = None, problems_only: bool = False) -> Query:
        """This statement as a panel target; the alias names series ``village link`` etc. by default."""
        if alias is None and not table and self.group_tags:
            alias = " ".join(f"$tag_{t}" for t in self.group_tags)
            if len(self.exprs) > 1:
                alias += " $col"
        return Query(self.render(), table=table, alias=alias, group_tags=self.group_tags, problems_only=problems_only)
