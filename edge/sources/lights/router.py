"""From an MQTT message to the tracker: pick the format by topic, parse, map the device, count the outcome.

Pure apart from logging: no MQTT here, so the fuzz tests drive it directly. Every message ends in exactly
one counter of ``RouterStats``; nothing a payload contains can raise out of ``handle``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Final

from edge.sources.base import Reject
from edge.sources.lights.formats import ADAPTERS, Adapter
from edge.sources.lights.observation import PayloadError
from edge.sources.lights.topics import TopicMatch, TopicPattern
from edge.sources.lights.tracker import Applied, LightTracker
from thonminh.logs import RateLimited

__all__ = ["Outcome", "Route", "Router", "RouterStats"]

_SAMPLE_BYTES: Final = 512
_MAX_UNKNOWN_LOGGED: Final = 1_000
#: Topics remembered with their route (a village has a few per device); forgotten all at once when full, so
#: random topics cannot grow it. Matching the patterns level by level cost ~10 us a message (profile, 2,000 lights).
_MAX_CACHED_TOPICS: Final = 65_536


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


_COUNTER: Final = {outcome: outcome.value for outcome in Outcome}


@dataclass(slots=True)
class RouterStats:
    messages: int = 0
    applied: int = 0
    duplicate: int = 0
    ignored: int = 0
    unknown_device: int = 0
    rejected: int = 0
    unknown_devices: dict[str, int] = field(default_factory=dict)

    def count(self, outcome: Outcome) -> None:
        name = _COUNTER[outcome]  # not outcome.value: an enum's value is a property lookup, ~1 us a message
        setattr(self, name, getattr(self, name) + 1)

    def total(self) -> int:
        return self.applied + self.duplicate + self.ignored + self.unknown_device + self.rejected


class Router:
    """Routes messages to the adapters and the tracker."""

    def __init__(
        self, routes: Sequence[Route], tracker: LightTracker, *, reject: Reject,
        max_payload_bytes: int = 16_384, logger: logging.Logger | None = None,
    ) -> None:
        self.routes = tuple(routes)
        self.tracker = tracker
        self.reject = reject
        self.max_payload_bytes = max_payload_bytes
        self.log = logger or logging.getLogger(__name__)
        self._limited = RateLimited(self.log, period=60.0, burst=3)
        self.stats = RouterStats()
        self._matched: dict[str, tuple[Route, TopicMatch] | None] = {}

    @property
    def filters(self) -> list[str]:
        """Every subscription the routes need, without duplicates, in order."""
        return list(dict.fromkeys(f for route in self.routes for f in route.pattern.filters))

    def handle(self, topic: str, payload: bytes, t_ms: int, *, retained: bool = False) -> Outcome:
        outcome = self._handle(topic, payload, t_ms, retained)
        stats = self.stats
        stats.messages += 1
        if outcome is Outcome.APPLIED:
            stats.applied += 1
        else:
            stats.count(outcome)
        return outcome

    def _match(self, topic: str) -> tuple[Route, TopicMatch] | None:
        try:
            return self._matched[topic]
        except KeyError:
            pass
        found = None
        for route in self.routes:
            match = route.pattern.match(topic)
            if match is not None:
                found = route, match
                break
        if len(self._matched) >= _MAX_CACHED_TOPICS:
            self._matched.clear()
        self._matched[topic] = found
        return found

    def _handle(self, topic: str, payload: bytes, t_ms: int, retained: bool) -> Outcome:
        if len(payload) > self.max_payload_bytes:
            return self._reject(f"{topic[:200]}: payload of {len(payload)} bytes exceeds max_payload_bytes "
                                f"({self.max_payload_bytes})", payload)
        matched = self._match(topic)
        if matched is None:
            return Outcome.IGNORED
        route, found = matched
        try:
            obs = route.adapter(found, payload)
        except PayloadError as err:
            return self._reject(f"{route.format} {topic[:200]}: {err}", payload)
        except Exception as err:  # an adapter bug must not stop the lights: count it, log it, go on
            self._limited.log(logging.ERROR, "adapter-bug", "light adapter failed", topic=topic[:200],
                              format=route.format, error=repr(err)[:300])
            return self._reject(f"{route.format} {topic[:200]}: adapter error {type(err).__name__}", payload)
        if obs is None:
            return Outcome.IGNORED
        applied = self.tracker.apply(obs, t_ms, retained=retained)
        if applied is Applied.UNKNOWN_DEVICE:
            self._unknown(obs.device, topic)
            return Outcome.UNKNOWN_DEVICE
        return Outcome.DUPLICATE if applied is Applied.DUPLICATE else Outcome.APPLIED

    def _reject(self, reason: str, payload: bytes) -> Outcome:
        self.reject(reason, payload[:_SAMPLE_BYTES])
        self._limited.warning("rejected", "light message rejected", reason=reason[:300])
        return Outcome.REJECTED

    def _unknown(self, device: str, topic: str) -> None:
        seen = self.stats.unknown_devices
        if device in seen:
            seen[device] += 1
            return
        if len(seen) < _MAX_UNKNOWN_LOGGED:
            seen[device] = 1
            self.log.warning("message from a device not in the light inventory; not written as a light",
                             extra={"device": device[:128], "topic": topic[:200]})
        elif len(seen) == _MAX_UNKNOWN_LOGGED:
            seen["(more)"] = 1
            self.log.warning("more unknown devices; no longer logged one by one")
