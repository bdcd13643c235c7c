"""From an MQTT message to the tracker: pick the format by topic, parse, map the device, count the outcome.

Pure apart from logging: no MQTT here, so the fuzz tests drive it directly. Every message ends in exactly
one counter of ``RouterStats``; nothing a payload or a topic contains can raise out of ``handle``.

Everything not applied to a light is refused through ``reject`` with a reason that starts with its code
(``REASONS``), so it is counted in ``rejected_total``, kept in the buffer's recent rejects (``thonminh edge
status``) and counted by reason in the ``gateway`` measurement. Nothing here keeps per-topic or per-device
state that a device outside the inventory could grow: the only memory of unknown devices is the last few ids.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Final

from edge.rejects import shown
from edge.sources.base import Reject
from edge.sources.lights.formats import ADAPTERS, Adapter
from edge.sources.lights.mqtt import Inbound
from edge.sources.lights.observation import PayloadError
from edge.sources.lights.topics import TopicMatch, TopicPattern
from edge.sources.lights.tracker import Applied, LightTracker
from thonminh.logs import RateLimited

__all__ = ["MAX_TOPIC_BYTES", "REASONS", "Outcome", "Route", "Router", "RouterStats"]

_SAMPLE_BYTES: Final = 512
_SHOWN_CHARS: Final = 120
#: No firmware of ours uses a topic near this long (Tasmota's FullTopic is at most ~150 characters, ESPHome's
#: state topics are prefix + component + object id); a longer one is refused before it is even matched.
MAX_TOPIC_BYTES: Final = 256
#: Unknown device ids remembered for ``thonminh edge status`` and the log (each cut to 64 characters).
_RECENT_UNKNOWN: Final = 8

#: The code each refusal reason starts with, and what it means.
REASONS: Final = {
    "unknown_device": "a device that is not in the light inventory",
    "ignored_topic": "a topic no format reads (a command, a firmware topic that says nothing about the light)",
    "topic_too_long": f"a topic longer than {MAX_TOPIC_BYTES} bytes",
    "bad_topic": "an empty topic, or one that is not UTF-8",
    "payload_too_large": "a payload longer than max_payload_bytes",
    "bad_payload": "a payload that is not what its topic promises",
    "adapter_error": "a bug of an adapter, met on this payload",
}


class Outcome(StrEnum):
    APPLIED = "applied"
    DUPLICATE = "duplicate"
    IGNORED = "ignored"
    UNKNOWN_DEVICE = "unknown_device"
    REJECTED = "rejected"


@dataclass(frozen=True, slots=True)
class Route:
    pattern: TopicPattern
    format: str
    adapter: Adapter

    @classmethod
    def of(cls, pattern: str, format: str) -> Route:
        return cls(TopicPattern(pattern), format, ADAPTERS[format])


@dataclass(slots=True)
class RouterStats:
    messages: int = 0
    applied: int = 0
    duplicate: int = 0
    ignored: int = 0
    unknown_device: int = 0
    rejected: int = 0
    #: The most recent unknown device ids, newest last, without repeats.
    recent_unknown: deque[str] = field(default_factory=lambda: deque(maxlen=_RECENT_UNKNOWN))

    def count(self, outcome: Outcome) -> None:
        """One message handled, with this outcome."""
        self.messages += 1
        setattr(self, outcome.value, getattr(self, outcome.value) + 1)

    def total(self) -> int:
        return self.applied + self.duplicate + self.ignored + self.unknown_device + self.rejected


class Router:
    """Routes messages to the adapters and the tracker."""

    def __init__(
        self,
        routes: Sequence[Route],
        tracker: LightTracker,
        *,
        reject: Reject,
        max_payload_bytes: int = 16_384,
        logger: logging.Logger | None = None,
    ) -> None:
        self.routes = tuple(routes)
        self.tracker = tracker
        self.reject = reject
        self.max_payload_bytes = max_payload_bytes
        self.log = logger or logging.getLogger(__name__)
        self._limited = RateLimited(self.log, period=60.0, burst=3)
        self.stats = RouterStats()

    @property
    def filters(self) -> list[str]:
        """Every subscription the routes need, without duplicates, in order."""
        return list(dict.fromkeys(f for route in self.routes for f in route.pattern.filters))

    def handle(self, topic: str, payload: bytes, t_ms: int, *, retained: bool = False) -> Outcome:
        outcome = self._handle(topic, payload, t_ms, retained)
        self.stats.count(outcome)
        return outcome

    def handle_batch(self, messages: Iterable[Inbound], t_ms: int) -> None:
        """``handle`` for each message of a batch, all received at ``t_ms``."""
        for message in messages:
            self.handle(message.topic, message.payload, t_ms, retained=message.retain)

    def _handle(self, topic: str, payload: bytes, t_ms: int, retained: bool) -> Outcome:
        size = len(topic.encode())
        if size > MAX_TOPIC_BYTES:
            return self._refuse(
                Outcome.REJECTED,
                "topic_too_long",
                f"{size} bytes (limit {MAX_TOPIC_BYTES}): {shown(topic, _SHOWN_CHARS)}",
                payload,
            )
        if not topic:
            return self._refuse(Outcome.REJECTED, "bad_topic", "empty or not UTF-8", payload)
        if len(payload) > self.max_payload_bytes:
            return self._refuse(
                Outcome.REJECTED,
                "payload_too_large",
                f"{topic}: {len(payload)} bytes (max_payload_bytes {self.max_payload_bytes})",
                payload,
            )
        found = self._route(topic)
        if found is None:
            return self._refuse(Outcome.IGNORED, "ignored_topic", f"{topic}: no route", payload)
        route, match = found
        try:
            obs = route.adapter(match, payload)
        except PayloadError as err:
            return self._refuse(Outcome.REJECTED, "bad_payload", f"{route.format} {topic}: {err}", payload)
        except Exception as err:  # an adapter bug must not stop the lights: count it, log it, go on
            self._limited.log(
                logging.ERROR,
                "adapter-bug",
                "light adapter failed",
                topic=topic,
                format=route.format,
                error=repr(err)[:300],
            )
            return self._refuse(
                Outcome.REJECTED, "adapter_error", f"{route.format} {topic}: {type(err).__name__}", payload
            )
        if obs is None:
            return self._refuse(
                Outcome.IGNORED,
                "ignored_topic",
                f"{route.format} {topic}: says nothing about the light",
                payload,
            )
        applied = self.tracker.apply(obs, t_ms, retained=retained)
        if applied is Applied.APPLIED:
            return Outcome.APPLIED
        if applied is Applied.DUPLICATE:
            return Outcome.DUPLICATE
        self._remember_unknown(obs.device)
        return self._refuse(
            Outcome.UNKNOWN_DEVICE,
            "unknown_device",
            f"{shown(obs.device, 64)} is not in the light inventory (topic {topic})",
            payload,
        )

    def _route(self, topic: str) -> tuple[Route, TopicMatch] | None:
        for route in self.routes:
            match = route.pattern.match(topic)
            if match is not None:
                return route, match
        return None

    def _refuse(self, outcome: Outcome, code: str, detail: str, payload: bytes) -> Outcome:
        self.reject(f"{code}: {detail}", payload[:_SAMPLE_BYTES])
        return outcome

    def _remember_unknown(self, device: str) -> None:
        recent = self.stats.recent_unknown
        device = device[:64]
        if device in recent:
            recent.remove(device)
        else:
            self._limited.warning(
                "unknown-device", "message from a device not in the light inventory", device=device
            )
        recent.append(device)
