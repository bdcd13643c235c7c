"""The dashboards, one module each; ``ALL`` lists their builders in menu order."""

from __future__ import annotations

from collections.abc import Callable

from dashboards.boards import connectivity, gateway, lighting, province, village, wifi
from dashboards.model import Dashboard

__all__ = ["ALL"]

ALL: tuple[Callable[[], Dashboard], ...] = (
    village.build,
    connectivity.build,
    wifi.build,
    lighting.build,
    gateway.build,
    province.build,
)
