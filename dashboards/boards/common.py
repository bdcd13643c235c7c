"""Template variables shared by the dashboards, built on the contract's site tags."""

from __future__ import annotations

from dashboards.influxql import tag_ref
from dashboards.model import Text, Variable
from thonminh.contract import GATEWAY

__all__ = ["province_variables", "village_variables"]

# The gateway's self-metrics reach InfluxDB from every village at a fixed cadence: the cheapest complete list.
_SOURCE = f'"{GATEWAY.name}"'


def _tag_values(key: str, *filters: str) -> str:
    q = f"SHOW TAG VALUES FROM {_SOURCE} WITH KEY = {tag_ref(GATEWAY, key)}"
    if filters:
        q += " WHERE " + " AND ".join(f"{tag_ref(GATEWAY, f)} =~ /^${f}$/" for f in filters)
    return q


def village_variables() -> tuple[Variable, ...]:
    return (Variable("village", Text("Thôn", "Village"), _tag_values("village")),)


def province_variables() -> tuple[Variable, ...]:
    return (
        Variable("district", Text("Huyện", "District"), _tag_values("district")),
        Variable("commune", Text("Xã", "Commune"), _tag_values("commune", "district")),
        Variable("village", Text("Thôn", "Village"), _tag_values("village", "district", "commune")),
    )
