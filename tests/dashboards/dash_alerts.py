"""Alert rules evaluated as Grafana's scheduler evaluates them: the query through the backend only, then the
rule's reduce and threshold expressions."""

from __future__ import annotations

from typing import Protocol

from grafana_macros import interpolate

from dashboards.alerts import AlertRule
from thonminh.influx import StatementResult


class Selects(Protocol):
    """An InfluxClient, or a test's wrapper that remembers its answers."""

    def select(self, q: str) -> StatementResult: ...


def fires(rule: AlertRule, value: float) -> bool:
    """Grafana's threshold expression (``pkg/expr/threshold.go``) on a reduced value."""
    if rule.op == "gt":
        return value > rule.params[0]
    if rule.op == "lt":
        return value < rule.params[0]
    low, high = rule.params
    return value < low or value > high


def backend_query(rule: AlertRule, now_ms: int) -> str:
    """The rule's query over its look-back up to ``now_ms``, interpolated as Grafana's scheduler does (backend
    interpolation only)."""
    return interpolate(
        rule.query,
        variables={},
        from_ms=now_ms - rule.lookback_s * 1000,
        to_ms=now_ms,
        interval_ms=60_000,
        frontend=False,
    )


def evaluate(client: Selects, rule: AlertRule, now_ms: int) -> set[tuple[str, ...]]:
    """Run the rule's query (``backend_query``), then its reduce and threshold; the series that fire, by their
    sorted tag values."""
    firing = set()
    for s in client.select(backend_query(rule, now_ms)).series:
        values = [row[1] for row in s.values if row[1] is not None]
        if not values:
            continue
        reduced = {
            "last": values[-1],
            "max": max(values),
            "min": min(values),
            "mean": sum(values) / len(values),
        }[rule.reducer]
        if fires(rule, reduced):
            firing.add(tuple(sorted(s.tags.values())))
    return firing
