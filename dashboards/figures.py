"""The figures of ``thonminh.figures`` as InfluxQL for Grafana: value and coverage from one description.

The panels that show a figure over the dashboard's range use these statements. A criterion's verdict is the
criteria service's own, read from its display copy (``dashboards.verdictcopy``): over a criterion's month these
statements read every raw point several times over, which InfluxDB 1.x cannot do for a province each minute.

``FigureQuery(description, params, scope).rows()`` is one statement with a row per village (and per ``by`` tag)
holding ``value``, ``den`` (what the value divides by: a value over nothing is no value) and ``coverage``
(0..1), computed by the description's rules, the same the criteria service applies:

- ``ratio``: the named sums per member, then ``100 * sum(numerator) / sum(denominator)`` over the village.
  A sum counting values at or above a parameter (RSRP >= -110 dBm) is a subquery of its own, merged with the
  others; a zero row per member keeps a count with nothing to count at 0 rather than absent. With a
  ``fallback`` (Wi-Fi), both ratios are computed and the first is chosen where its denominator is above 0.
- ``daily_mean``: the day's sum over the members per local day (``tz``), then the mean over the days.
- ``latest``: the last value in the window.

Coverage: ``observed`` is ``min(1, sum(observed_s) / window)`` per member, then the mean over members (two
access points never make 200 %); ``hours`` the best member's hours with a reading / hours of the window;
``days`` days with a point / local days the window touches; ``present`` 1 when there is a value.

InfluxDB 1.x facts these statements rest on (each checked against the real InfluxDB in
``tests/dashboards/test_influxql.py``): an aggregate over several subqueries in one ``FROM`` only reads
the first, so they are merged by a plain ``SELECT`` first and aggregated above it; ``x / 0`` is 0, not null;
an outer query may filter on its subquery's fields; ``%`` works on the constants Grafana substitutes; and an
integer divided by an integer is typed an integer where subqueries are merged (38.24 read as 38), so every
division here has a float operand (``100.0 *``, ``1.0 *``, ``/ 1000.0``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from dashboards.influxql import (
    PANEL,
    VILLAGE_SCOPE,
    TimeRange,
    field_ref,
    grouped_target,
    site_filter,
    tag_ref,
)
from dashboards.model import Query
from thonminh.contract import DAILY_TZ
from thonminh.figures import OBSERVED, PER_DAY, Coverage, FigureDescription, Kind, Ratio, Sum
from thonminh.influxql import Select, conditions, from_ref, ident, literal

__all__ = ["FigureQuery", "at_most_one"]


def at_most_one(x: str) -> str:
    """``min(x, 1)`` in InfluxQL, which has no two-argument ``min``: ``x - (|x - 1| + (x - 1)) / 2``.

    For ``x <= 1`` the bracket is exactly 0 in floating point (a number plus its negation), so a coverage
    below 1 is the very number the criteria service compares with ``min_coverage``."""
    return f"({x}) - (abs(({x}) - 1) + (({x}) - 1)) / 2"


def _col(name: str) -> str:
    return ident(name)


@dataclass(frozen=True, slots=True)
class FigureQuery:
    """A figure with its parameters over the villages of ``scope`` (template variables), per village and ``by``."""

    desc: FigureDescription
    params: Mapping[str, Any] = field(default_factory=dict)
    scope: tuple[str, ...] = VILLAGE_SCOPE
    by: tuple[str, ...] = ()
    window: TimeRange = PANEL

    @property
    def groups(self) -> tuple[str, ...]:
        return ("village", *self.by)

    # -- the shared parts --------------------------------------------------------------------------------------

    def _where(self, *extra: str, daily: bool = False) -> list[str]:
        m = self.desc.measurement
        chosen = [
            f"{tag_ref(m, tag)} = {literal(value)}"
            for tag, value in self.desc.tag_filters(self.params).items()
        ]
        span = self.window.daily_filter if daily else self.window.filter
        return conditions(span, site_filter(m, self.scope), chosen, list(extra))

    def _raw(
        self,
        exprs: Sequence[str],
        *extra: str,
        group: Sequence[str],
        time: str | None = None,
        daily: bool = False,
    ) -> Select:
        """A statement on the measurement's samples, grouped by ``group`` (tags checked against the contract)."""
        m = self.desc.measurement
        for tag in group:
            tag_ref(m, tag)
        return Select(
            exprs,
            (from_ref(m.name),),
            self._where(*extra, daily=daily),
            group_tags=tuple(group),
            time=time,
            fill="none" if time else None,
            tz=DAILY_TZ if daily else None,
        )

    def rows(self) -> Select:
        """``value``, ``den`` and ``coverage`` per village (and ``by``), by the description's kind."""
        if self.desc.kind is Kind.RATIO:
            return self._ratio_rows()
        if self.desc.kind is Kind.DAILY_MEAN:
            return self._daily_mean_rows()
        return self._latest_rows()

    # -- ratio -------------------------------------------------------------------------------------------------

    def _sum_expr(self, s: Sum) -> str:
        return f"{s.func}({field_ref(self.desc.measurement, s.field)}) AS {_col(s.name)}"

    def _member_groups(self) -> tuple[str, ...]:
        member = self.desc.member_tag
        return self.groups if member is None or member in self.groups else (*self.groups, member)

    def _optional(self) -> list[str]:
        """Sums that can be missing where the others are not: counts of values at or above a parameter, and
        the first ratio's sums when there is a fallback (the gateway may not report opening hours)."""
        names = [s.name for s in self.desc.sums() if s.at_least_param is not None]
        if self.desc.fallback is not None and self.desc.ratio is not None:
            names += [self.desc.ratio.numerator.name, self.desc.ratio.denominator.name]
        return list(dict.fromkeys(names))

    def _member_sums(self) -> Select:
        """Every sum per member, and the member's observed coverage where the figure has one."""
        desc, group = self.desc, self._member_groups()
        sums = desc.sums()
        coverage = []
        if desc.coverage is Coverage.OBSERVED:
            # the observed seconds: the field in a plain statement, the sum of the same name above a merge
            observed = f"sum({field_ref(desc.measurement, OBSERVED.field)}) / {self.window.seconds}"
            coverage = [f"{at_most_one(observed)} AS {_col('coverage')}"]
        plain = [s for s in sums if s.at_least_param is None]
        conditional = [s for s in sums if s.at_least_param is not None]
        optional = self._optional()
        if not optional:
            return self._raw([self._sum_expr(s) for s in plain] + coverage, group=group)
        sources = [self._raw([self._sum_expr(s) for s in plain], group=group)]
        for s in conditional:
            at_least = f"{field_ref(desc.measurement, s.field)} >= {s.at_least(self.params)!r}"
            sources.append(self._raw([self._sum_expr(s)], at_least, group=group))
        last = desc.fallback or desc.ratio
        assert last is not None
        base = field_ref(desc.measurement, last.denominator.field)
        sources.append(self._raw([f"0 * count({base}) AS {_col(n)}" for n in optional], group=group))
        names = [s.name for s in sums]
        merged = Select([_col(n) for n in names], sources)
        totals = [f"sum({_col(n)}) AS {_col(n)}" for n in names]
        return Select(totals + coverage, (merged,), group_tags=group)

    def _ratio_rows(self) -> Select:
        desc = self.desc
        assert desc.ratio is not None
        ratios: list[Ratio] = [desc.ratio] + ([desc.fallback] if desc.fallback else [])
        exprs = []
        for i, ratio in enumerate(ratios):
            suffix = f"_{i}" if len(ratios) > 1 else ""
            num, den = _col(ratio.numerator.name), _col(ratio.denominator.name)
            exprs += [
                f"100.0 * sum({num}) / sum({den}) AS {_col('value' + suffix)}",
                f"sum({den}) AS {_col('den' + suffix)}",
            ]
        if desc.coverage is Coverage.OBSERVED:
            exprs.append(f"mean({_col('coverage')}) AS {_col('coverage')}")
        rows = Select(exprs, (self._member_sums(),), group_tags=self.groups)
        if len(ratios) > 1:
            rows = self._first_with_denominator(rows)
        if desc.coverage is Coverage.HOURS:
            rows = self._with_hours(rows)
        return rows

    def _first_with_denominator(self, rows: Select) -> Select:
        """The first ratio where its denominator is above 0, else the fallback (one of the two rows exists)."""
        kept = [_col("coverage")] if self.desc.coverage is Coverage.OBSERVED else []
        first = Select(
            [f"{_col('value_0')} AS {_col('value')}", f"{_col('den_0')} AS {_col('den')}", *kept],
            (rows,),
            [f"{_col('den_0')} > 0"],
        )
        second = Select(
            [f"{_col('value_1')} AS {_col('value')}", f"{_col('den_1')} AS {_col('den')}", *kept],
            (rows,),
            [f"{_col('den_0')} = 0"],
        )
        return Select([_col("value"), _col("den"), *kept], (first, second))

    def _with_hours(self, rows: Select) -> Select:
        """``rows`` with the hours coverage: hours holding a reading per series, the best series per village."""
        presence = self.desc.presence_field
        assert presence is not None
        m = self.desc.measurement
        per_hour = Select(
            [f"count({field_ref(m, presence)}) AS {_col('n')}"],
            (from_ref(m.name),),
            self._where(),
            time="1h",
            group_all=True,
            fill="none",
        )
        per_series = Select([f"count({_col('n')}) AS {_col('hours')}"], (per_hour,), group_all=True)
        share = f"max({_col('hours')}) / ({self.window.seconds} / 3600)"
        hours = Select([f"{at_most_one(share)} AS {_col('coverage')}"], (per_series,), group_tags=self.groups)
        cols = [_col(c) for c in ("value", "den", "coverage")]
        merged = Select(cols, (rows, hours))
        return Select([f"max({c}) AS {c}" for c in cols], (merged,), group_tags=self.groups)

    # -- daily mean, latest ------------------------------------------------------------------------------------

    def _daily_mean_rows(self) -> Select:
        assert self.desc.value_field is not None
        value = field_ref(self.desc.measurement, self.desc.value_field)
        per_day = self._raw([f"sum({value}) AS {_col('day')}"], group=self.groups, time="1d", daily=True)
        day = _col("day")
        share = f"1.0 * count({day}) / {self.window.days}"
        return Select(
            [
                f"mean({day}) AS {_col('value')}",
                f"count({day}) AS {_col('den')}",
                f"{at_most_one(share)} AS {_col('coverage')}",
            ],
            (per_day,),
            group_tags=self.groups,
        )

    def _latest_rows(self) -> Select:
        assert self.desc.value_field is not None
        value = field_ref(self.desc.measurement, self.desc.value_field)
        # coverage is 1 wherever the window holds a value: count / count
        return self._raw(
            [
                f"last({value}) AS {_col('value')}",
                f"count({value}) AS {_col('den')}",
                f"1.0 * count({value}) / count({value}) AS {_col('coverage')}",
            ],
            group=self.groups,
        )

    # -- what panels and alerts show ---------------------------------------------------------------------------

    def value(self, name: str = "value") -> Select:
        """The figure (InfluxQL's ``x / 0`` is 0: a ratio over nothing is left out, as the API's ``null``)."""
        if self._plain():
            return self._flat_ratio(name)
        return Select(
            [f"{_col('value')} AS {_col(name)}"],
            (self.rows(),),
            [f"{_col('den')} > 0"],
            group_tags=self.groups,
        )

    def coverage(self, name: str = "coverage") -> Select:
        """The coverage in percent."""
        return Select([f"100 * {_col('coverage')} AS {_col(name)}"], (self.rows(),), group_tags=self.groups)

    def per_day(self, name: str) -> Select:
        """The value per local calendar day (``PER_DAY``: the days the pages and the dossier chart) of a plain
        ratio (no conditional sum, no fallback)."""
        if not self._plain():
            raise ValueError(f"{self.desc.key}: per_day needs a plain ratio")
        return self._flat_ratio(name, time=PER_DAY)

    def _plain(self) -> bool:
        """A ratio of two sums of the samples: no conditional sum, no fallback."""
        desc = self.desc
        return (
            desc.ratio is not None
            and desc.fallback is None
            and not any(s.at_least_param for s in desc.sums())
        )

    def _flat_ratio(self, name: str, *, time: str | None = None) -> Select:
        """A plain ratio straight from the samples, per village (and time bucket): the sums over a village are
        the sums over its members, and InfluxDB 1.x reads a subquery again for every aggregate above it, so
        the per-member statement of ``rows`` would read the samples a dozen times (bench/dashboard_queries.py)."""
        ratio = self.desc.ratio
        assert ratio is not None
        m = self.desc.measurement
        num = f"{ratio.numerator.func}({field_ref(m, ratio.numerator.field)})"
        den = f"{ratio.denominator.func}({field_ref(m, ratio.denominator.field)})"
        inner = Select(
            [f"100.0 * {num} / {den} AS {_col(name)}", f"{den} AS {_col('den')}"],
            (from_ref(m.name),),
            self._where(),
            group_tags=self.groups,
            time=time,
            fill="none" if time else None,
            tz=DAILY_TZ if time else None,
        )
        return Select([_col(name)], (inner,), [f"{_col('den')} > 0"], group_tags=self.groups)

    def query(
        self, statement: Select, *, table: bool = False, alias: str | None = None, split: bool = False
    ) -> Query:
        """A panel target for one of the statements above, its series named by village (and ``by``)."""
        return grouped_target(statement, self.groups, table=table, alias=alias, split=split)
