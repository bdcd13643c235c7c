"""Gateway self-metrics: the contract's ``gateway`` measurement, from the pipeline's counters and the board.

The agent runs this source even without a ``[sources.gateway]`` table, every ``gateway_interval_s``; a table
may rename it, change ``interval_s`` or disable it. The pipeline's figures come through ``ctx.stats``, which
the agent gives this source only (``uses_stats``); it never sees the buffer itself.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path

from pydantic import Field

from edge.sources.base import PolledSource, SourceConfig
from thonminh import __version__
from thonminh.contract import GATEWAY, Point

__all__ = ["SOURCE", "GatewaySource", "GatewaySourceConfig", "cpu_temperature", "parse_millidegrees"]

_CPU_TEMP = GATEWAY.field("cpu_temp_c").name
_VERSION = GATEWAY.field("version").name
#: Thermal zone types that are the SoC (Raspberry Pi: ``cpu-thermal``; many ARM boards: ``soc-thermal``).
_CPU_ZONE_HINTS = ("cpu", "soc", "x86_pkg_temp")


class GatewaySourceConfig(SourceConfig):
    interval_s: float = Field(60.0, gt=0, le=86_400, description="cadence of the self-metrics")
    thermal_dir: Path = Field(Path("/sys/class/thermal"), description="where the kernel lists thermal zones")


def parse_millidegrees(text: str) -> float | None:
    """``/sys/class/thermal/thermal_zone*/temp`` holds millidegrees Celsius, e.g. ``"48312\\n"``."""
    try:
        value = int(text.strip())
    except ValueError:
        return None
    celsius = value / 1000
    # a disconnected sensor reads e.g. -273150 or 0x7fffffff; nothing real lies outside this range
    return round(celsius, 3) if -60 <= celsius <= 200 else None


def cpu_temperature(thermal_dir: Path) -> float | None:
    """The SoC temperature, or None when the board has no sensor (or it cannot be read)."""
    zones = sorted(thermal_dir.glob("thermal_zone*"))
    if not zones:
        return None

    def zone_type(zone: Path) -> str:
        try:
            return (zone / "type").read_text().strip().lower()
        except OSError:
            return ""

    preferred = [z for z in zones if any(h in zone_type(z) for h in _CPU_ZONE_HINTS)]
    for zone in preferred + [z for z in zones if z not in preferred]:
        try:
            value = parse_millidegrees((zone / "temp").read_text())
        except OSError:
            continue
        if value is not None:
            return value
    return None


class GatewaySource(PolledSource):
    """One ``gateway`` point per interval."""

    kind = "gateway"
    Config = GatewaySourceConfig
    uses_stats = True
    config: GatewaySourceConfig

    async def sample(self) -> Sequence[Point]:
        fields: dict[str, int | float | str] = {}
        if self.ctx.stats is not None:
            fields.update(await asyncio.to_thread(self.ctx.stats))
        temp = await asyncio.to_thread(cpu_temperature, self.config.thermal_dir)
        if temp is not None:
            fields[_CPU_TEMP] = temp
        fields[_VERSION] = __version__
        self.ctx.health("ok", {"cpu_temp_c": temp, "version": __version__})
        return [self.ctx.point(GATEWAY.name, {}, fields)]


SOURCE = GatewaySource
