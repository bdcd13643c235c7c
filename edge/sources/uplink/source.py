"""The uplink source: one instance per link, one probe cycle per ``interval_s``.

Each cycle probes every target through this link only, writes one ``uplink`` interval sample, and feeds the
link's state machine, which writes an ``uplink_event`` at each transition (dated at the start of the first
cycle in the new state). A cycle takes at most ``timeout_s`` (below ``interval_s``), so the agent's
drift-free schedule is never pushed back, and each link runs in its own task, so a dead target of one link
never delays another link.

Timing: the sample of a cycle started at ``t`` stands for ``(t - observed_s, t]``; ``observed_s`` is the
interval (less when cycles came early), never more, so a cycle the agent missed is a gap, not a guess.
"""

from __future__ import annotations

import logging
import statistics
from collections.abc import Sequence

from edge.sources.base import PolledSource, SourceContext
from edge.sources.uplink.config import UplinkConfig
from edge.sources.uplink.probes import Prober, ProbeResult
from edge.sources.uplink.routes import active_interface, interface_of_address, read_default_routes
from edge.sources.uplink.state import LinkState, Transition
from thonminh.contract import UPLINK, UPLINK_EVENT, Measurement, Point
from thonminh.errors import ConfigError
from thonminh.logs import Episode

__all__ = ["SOURCE", "UplinkSource"]

_MAX_REASON = 400


def _names(measurement: Measurement, *names: str) -> tuple[str, ...]:
    # checked against the contract at import: a misspelt field name fails loudly, not silently in InfluxDB
    return tuple(measurement.field(n).name for n in names)


UP, UP_S, OBSERVED_S, RTT_MS, LOSS_PCT, TARGETS_OK, TARGETS_TOTAL, ACTIVE = _names(
    UPLINK, "up", "up_s", "observed_s", "rtt_ms", "loss_pct", "targets_ok", "targets_total", "active"
)
STATE, REASON, PREVIOUS_STATE_S = _names(UPLINK_EVENT, "state", "reason", "previous_state_s")
(LINK_TAG,) = UPLINK.tags


class UplinkSource(PolledSource):
    """Availability of one uplink, measured through that uplink only."""

    kind = "uplink"
    Config = UplinkConfig

    def __init__(self, config: UplinkConfig, ctx: SourceContext) -> None:
        super().__init__(config, ctx)
        self.config: UplinkConfig = config
        self.prober = Prober(config, monotonic=ctx.monotonic)
        self.state = LinkState(down_after=config.down_after, up_after=config.up_after)
        self._last_mono: float | None = None
        self._routes = Episode(self.log, f"uplink {config.link}: routing table unreadable", link=config.link)

    async def init(self) -> None:
        problems = self.config.environment_problems(self.ctx.key_path)
        if problems:
            raise ConfigError("\n".join(problems))

    async def sample(self) -> Sequence[Point]:
        cfg = self.config
        at_ms, at_mono = self.ctx.now_ms(), self.ctx.monotonic()
        results = await self.prober.cycle()
        answered = [r for r in results if r.ok]
        up = len(answered) >= cfg.min_ok
        observed = cfg.interval_s
        if self._last_mono is not None:
            observed = min(cfg.interval_s, max(0.0, at_mono - self._last_mono))
        self._last_mono = at_mono
        total = len(results)
        fields: dict[str, int | float | str] = {
            UP: int(up),
            UP_S: observed if up else 0.0,
            OBSERVED_S: observed,
            LOSS_PCT: round(100.0 * (total - len(answered)) / total, 3),
            TARGETS_OK: len(answered),
            TARGETS_TOTAL: total,
        }
        if up:
            fields[RTT_MS] = round(statistics.median(r.rtt_ms or 0.0 for r in answered), 3)
        active = self._active()
        if active is not None:
            fields[ACTIVE] = int(active)
        tags = {LINK_TAG: cfg.link}
        points = [self.ctx.point(UPLINK.name, tags, fields, time_ms=at_ms)]
        reason = self._reason(results, up)
        transition = self.state.observe(up, at_ms=at_ms, at_mono=at_mono, reason=reason)
        if transition is not None:
            points.append(self._event(transition))
        declared = self.state.state  # the hysteresis' state, not this one cycle's
        self.ctx.health(
            "unknown" if declared is None else "ok" if declared == "up" else "down",
            {
                "rtt_ms": fields.get(RTT_MS),
                "active": None if active is None else bool(active),
                "targets": f"{len(answered)}/{total}",
                "reason": None if up else reason,
            },
        )
        return points

    def _reason(self, results: list[ProbeResult], up: bool) -> str:
        answered = sum(r.ok for r in results)
        text = f"{answered}/{len(results)} targets answered"
        if not up:
            text += f" (min_ok {self.config.min_ok}): " + "; ".join(
                f"{r.target}: {r.error}" for r in results if not r.ok
            )
        return text if len(text) <= _MAX_REASON else text[: _MAX_REASON - 3] + "..."

    def _event(self, transition: Transition) -> Point:
        fields: dict[str, int | float | str] = {STATE: transition.state, REASON: transition.reason}
        if transition.previous_state_s is not None:
            fields[PREVIOUS_STATE_S] = round(transition.previous_state_s, 3)
        level = logging.WARNING if transition.state == "down" else logging.INFO
        self.log.log(
            level,
            f"uplink {self.config.link} {transition.state}",
            extra={
                "link": self.config.link,
                "reason": transition.reason,
                "previous_state_s": fields.get(PREVIOUS_STATE_S, ""),
            },
        )
        return self.ctx.point(
            UPLINK_EVENT.name, {LINK_TAG: self.config.link}, fields, time_ms=transition.at_ms
        )

    def _active(self) -> bool | None:
        """Whether this link carries the default route now; None when its interface is unknown."""
        cfg = self.config
        iface = cfg.interface
        if iface is None and cfg.source_address is not None:
            iface = interface_of_address(cfg.source_address)
        if iface is None:
            return None
        v4, v6 = read_default_routes(cfg.route_table, cfg.route_table_v6)
        if not cfg.route_table.exists():
            self._routes.problem(f"{cfg.route_table} missing")
        else:
            self._routes.ok()
        best = active_interface(v4) if v4 else active_interface(v6)
        return best == iface


SOURCE = UplinkSource
