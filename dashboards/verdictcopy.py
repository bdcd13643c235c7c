"""The criteria service's verdicts as Grafana reads them: its display copy, ``criterion_verdict``.

The service evaluates every village's criteria over their default windows once an hour and writes the result
(server/verdict_display.py): per village and criterion the verdict, the value, the coverage and the verified
share, stamped at the windows' end. A verdict panel, a coverage panel, a province table column and a
criterion's alert rules select from the newest of those points within ``FRESH``, so Grafana shows exactly what
the API answers, for the price of a few points per village. Where the service has written nothing that recent
they show no value (the panels say so), never an old verdict as if it were current.

``VerdictQuery(criterion_id, scope).decided()`` and its siblings are one statement each, a row per village
(and per ``by`` tag, the alert rules' labels).
"""

from __future__ import annotations

from dataclasses import dataclass

from dashboards.influxql import field_ref, grouped_target, site_filter, tag_ref
from dashboards.model import Query
from thonminh.contract import CRITERION_VERDICT, VERIFICATION_RP
from thonminh.influxql import Select, conditions, ident, literal

__all__ = ["FRESH", "FRESH_S", "PANEL_FRESH", "VerdictQuery", "published", "rounded", "village_names"]

#: how old the newest verdict may be: evaluated a little after each whole hour, so one missed hour still shows
FRESH_S = 3 * 3600
FRESH = f"{FRESH_S // 3600}h"
#: a panel's look-up: the newest verdict at the end of the panel's range (``${__to}`` is the browser's); an
#: alert rule reads ``$timeFilter`` over a look-back of ``FRESH_S`` instead (its backend has no ``${__to}``)
PANEL_FRESH = f"time > ${{__to}}ms - {FRESH} AND time <= ${{__to}}ms"
_M = CRITERION_VERDICT
_SOURCE = f"{ident(VERIFICATION_RP)}.{ident(_M.name)}"


def rounded(x: str) -> str:
    """``x`` rounded to 9 decimals, as ``thonminh.criteria.verdict`` rounds before comparing with a threshold:
    the panel colours a value by the same steps the service judged it by."""
    return f"round(1000000000 * {x}) / 1000000000"


@dataclass(frozen=True, slots=True)
class VerdictQuery:
    """The newest verdict of criterion ``criterion`` for the villages of ``scope`` (template variables)."""

    criterion: str
    scope: tuple[str, ...]
    by: tuple[str, ...] = ()
    #: the time condition: a panel's (``PANEL_FRESH``) or an alert rule's (``$timeFilter``)
    span: str = PANEL_FRESH

    @property
    def groups(self) -> tuple[str, ...]:
        return ("village", *self.by)

    def latest(self) -> Select:
        """Per village, the newest point's fields: ``last`` is a selector, so the other fields come from the
        same point (a value, verdict and share of one evaluation, never mixed)."""
        for tag in self.groups:
            tag_ref(_M, tag)
        fields = [field_ref(_M, f) for f in ("value", "verdict", "verified_pct")]
        return Select(
            [f"last({field_ref(_M, 'coverage')}) AS {ident('coverage')}", *fields],
            (_SOURCE,),
            conditions(
                self.span,
                site_filter(_M, self.scope),
                [f"{tag_ref(_M, 'criterion')} = {literal(self.criterion)}"],
            ),
            group_tags=self.groups,
        )

    def _where(self, expr: str, *verdicts: str) -> Select:
        chosen = " OR ".join(f"{ident('verdict')} = {literal(v)}" for v in verdicts)
        return Select([expr], (self.latest(),), [f"({chosen})"], group_tags=self.groups)

    def decided(self, name: str = "value") -> Select:
        """The value where the verdict is ``pass`` or ``fail``, rounded as the verdict rule rounds."""
        return self._where(f"{rounded(ident('value'))} AS {ident(name)}", "pass", "fail")

    def undecided(self, name: str = "coverage") -> Select:
        """The coverage in percent where the verdict is ``insufficient_data``."""
        return self._where(f"100 * {ident('coverage')} AS {ident(name)}", "insufficient_data")

    def counted(self, verdict: str, name: str = "verdicts") -> Select:
        """1 per village whose verdict is ``verdict``, whatever its other fields hold: a forged rollup row still
        read makes a verdict ``unverified`` at any share, or with none (docs/api.md, "Signed evidence")."""
        return self._where(f"count({ident('verdict')}) AS {ident(name)}", verdict)

    def coverage(self, name: str = "coverage") -> Select:
        """The coverage in percent, whatever the verdict."""
        return Select(
            [f"100 * {ident('coverage')} AS {ident(name)}"], (self.latest(),), group_tags=self.groups
        )

    def query(
        self, statement: Select, *, table: bool = False, alias: str | None = None, split: bool = False
    ) -> Query:
        """A panel target for one of the statements above, its series named by village (and ``by``)."""
        return grouped_target(statement, self.groups, table=table, alias=alias, split=split)


def village_names(scope: tuple[str, ...], name: str = "name") -> Select:
    """Each village's name as the service last published it with its verdicts (server.toml's, else the slug),
    a row per village: Grafana cannot read server.toml."""
    return Select(
        [f"last({field_ref(_M, 'village_name')}) AS {ident(name)}"],
        (_SOURCE,),
        conditions(PANEL_FRESH, site_filter(_M, scope)),
        group_tags=("village",),
    )


def published(span: str = "$timeFilter") -> Select:
    """How many verdicts the service published within ``span``, all villages and criteria together: no row at
    all when it published none (the alert rule's no-data state is what fires)."""
    return Select(
        [f"count({field_ref(_M, 'coverage')}) AS {ident('published')}"],
        (_SOURCE,),
        [span],
    )
