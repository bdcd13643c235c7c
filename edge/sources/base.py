"""The one interface every source implements (Telegraf's Init / Gather / Start / Stop, in asyncio).

A polled source implements ``sample()`` and returns its points; the agent calls it every ``interval_s`` on a
drift-free schedule, one task per source instance, so a slow source never delays another. A push source
implements ``run()`` and calls ``ctx.emit`` itself. No source touches the buffer or InfluxDB: ``emit``
returns once the points are committed to the buffer. ``init`` validates and fails fast; after that a
failed reading is data (``up=0``, an omitted field), never an exception that stops the agent.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, Literal

from pydantic import Field

from edge.mqttsettings import MqttSettings
from thonminh.config import StrictModel
from thonminh.contract import DAILY_TZ, FieldValue, Point

__all__ = [
    "HEALTH_STATES",
    "Emit",
    "GatewayFigures",
    "HealthDetail",
    "HealthState",
    "PolledSource",
    "PushSource",
    "Reject",
    "ReportHealth",
    "Source",
    "SourceConfig",
    "SourceContext",
]

#: Hand points to the pipeline; resolves once they are durably committed to the buffer.
Emit = Callable[[Sequence[Point]], Awaitable[None]]
#: Count a rejected input: ``reject(reason, sample)``. Keeps a sample for ``thonminh edge status``.
Reject = Callable[[str, "bytes | str | None"], None]
#: The pipeline's figures as ``gateway`` fields (blocking: it reads the buffer; call it from a worker thread).
GatewayFigures = Callable[[], Mapping[str, int | float]]
#: A source's health now: ``ok`` working, ``degraded`` working in part (weak signal, lights with faults),
#: ``down`` not working (link down, modem unreadable, AP off, broker unreachable), ``unknown`` no answer yet.
HealthState = Literal["ok", "degraded", "down", "unknown"]
HEALTH_STATES: tuple[HealthState, ...] = ("ok", "degraded", "down", "unknown")
#: What a technician reads beside the state: ``{"rtt_ms": 12.5, "active": True}``; keys are labelled by
#: ``thonminh edge status`` in Vietnamese and English, None values are left out.
HealthDetail = Mapping[str, str | int | float | bool | None]
#: Report the health now: ``ctx.health("down", {"reason": "0/3 targets answered"})``. The agent keeps since
#: when the state holds and writes it for ``thonminh edge status``; cheap, call it after every sample.
ReportHealth = Callable[[HealthState, HealthDetail], None]


class SourceConfig(StrictModel):
    """Settings every source shares; each source's own model extends it beside its code."""

    name: str | None = Field(None, description="instance name; defaults to the source kind")
    enabled: bool = True
    interval_s: float = Field(10.0, gt=0, le=86_400, description="sampling interval of a polled source")

    def environment_problems(self, where: str) -> list[str]:
        """Problems only this machine can show (a missing interface, ...), each prefixed with ``where``.

        ``thonminh edge check-config`` reports them unless ``--static``; the pydantic model checks the rest.
        """
        return []

    def environment_warnings(self, where: str) -> list[str]:
        """Like ``environment_problems``, for what the gateway survives (a tool or file the source reads missing
        now: the source reports unknown until it appears); ``check-config`` prints them as warnings."""
        return []


def _no_reject(reason: str, sample: bytes | str | None) -> None:
    logging.getLogger("edge.sources").warning("rejected input: %s", reason)


def _no_health(state: HealthState, detail: HealthDetail) -> None:
    return None


def _always_synced() -> bool:
    return True


@dataclass(frozen=True, slots=True, kw_only=True)
class SourceContext:
    """What the agent gives a source, and all it gives: no config of other sections, no buffer.

    ``key_path`` is where the source's config sits (``sources.uplink[1]``), for its error messages;
    ``location`` the site's (latitude, longitude); ``mqtt`` the broker, for sources with ``uses_mqtt``;
    ``stats`` the pipeline's figures, for sources with ``uses_stats`` (the self-metrics); ``health`` where the
    source says how it is now (``thonminh edge status``).
    """

    emit: Emit
    logger: logging.Logger
    state_dir: Path
    now_ms: Callable[[], int]
    monotonic: Callable[[], float]
    site_tags: Mapping[str, str]
    key_path: str
    timezone: str = DAILY_TZ
    location: tuple[float, float] | None = None
    mqtt: MqttSettings | None = None
    #: Whether the wall clock is synchronised now (a day boundary taken from a stale clock is wrong).
    clock_synced: Callable[[], bool] = _always_synced
    stats: GatewayFigures | None = None
    reject: Reject = _no_reject
    health: ReportHealth = _no_health

    def point(
        self,
        measurement: str,
        tags: Mapping[str, str],
        fields: Mapping[str, FieldValue],
        time_ms: int | None = None,
    ) -> Point:
        """A point carrying this gateway's site tags plus ``tags``, stamped now unless ``time_ms`` is given."""
        return Point(
            measurement,
            {**self.site_tags, **tags},
            dict(fields),
            self.now_ms() if time_ms is None else time_ms,
        )


class Source(ABC):
    """Base of all sources. Subclasses set ``kind`` and ``Config`` and are found by ``edge.sources.registry``."""

    kind: ClassVar[str]
    Config: ClassVar[type[SourceConfig]]
    #: The agent gives ``ctx.mqtt`` only to sources that say they use the broker.
    uses_mqtt: ClassVar[bool] = False
    #: The agent gives ``ctx.stats`` only to sources that say they report the pipeline (the self-metrics).
    uses_stats: ClassVar[bool] = False

    def __init__(self, config: SourceConfig, ctx: SourceContext) -> None:
        self.config = config
        self.ctx = ctx
        self.log = ctx.logger

    @property
    def name(self) -> str:
        return self.config.name or self.kind

    async def init(self) -> None:  # noqa: B027 - optional hook, most sources need none
        """Check what can be checked before running; raise ``ConfigError`` for what cannot work."""

    async def close(self) -> None:  # noqa: B027 - optional hook
        """Release resources. Called once, also after a failed ``init``."""


class PolledSource(Source):
    @abstractmethod
    async def sample(self) -> Sequence[Point]:
        """Take one sample; return its points (possibly none). Must not raise on bad readings."""


class PushSource(Source):
    @abstractmethod
    async def run(self) -> None:
        """Run until cancelled, emitting points through ``ctx.emit``."""
