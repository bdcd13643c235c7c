"""From an MQTT message to the tracker: pick the format by topic, parse, map the device, count the outcome.

Pure apart from logging: no MQTT here, so the fuzz tests drive it directly. Every message ends in exactly
one counter of ``RouterStats``; nothing a payload contains can raise out of ``handle``.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Final

from edge.sources.base import Reject
from edge.sources.lights.formats import ADAPTERS, BINDERS, Adapter, Binder
from edge.sources.lights.observation import Parser, PayloadError
from edge.sources.lights.topics import TopicPattern
from edge.sources.lights.tracker import Applied, LightTracker
from thonminh.logs import RateLimited

__all__ = ["Outcome", "Route", "Router", "RouterStats"]

_SAMPLE_BYTES: Final = 512
_MAX_UNKNOWN_LOGGED: Final = 1_000
#: Topics remembered with their route and bound parser (a village has a few per device); forgotten all at once
#: when full, so random topics cannot grow it. Matching the patterns level by level cost ~10 us a message
#: (profile, 2,000 lights), and binding the parser (formats.BINDERS) saves the adapter's per-topic work.
_MAX_CACHED_TOPICS: Final = 65_536
_UNSEEN: Final = object()


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
    bind: Binder

    @classmethod
    def of(cls, pattern: str, format: str) -> Route:
        return cls(TopicPattern(pattern), format, ADAPTERS[format], BINDERS[format])



_COUNTER: Final = {outcome: outcome.value for outcome in Outcome}
#: Looked up once: the commonest outcomes, compared by identity on every message.
_APPLIED: Final = Outcome.APPLIED
_IGNORED: Final = Outcome.IGNORED
_TRACKED: Final = Applied.APPLIED


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
        """One message handled, with this outcome."""
        self.messages += 1
        if outcome is _APPLIED:  # the commonest, without the name lookup
            self.applied += 1
            return
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
        self._bound: dict[str, tuple[Route, Parser] | None] = {}

    @property
    def filters(self) -> list[str]:
        """Every subscription the routes need, without duplicates, in order."""
        return list(dict.fromkeys(f for route in self.routes for f in route.pattern.filters))

    def handle(self, topic: str, payload: bytes, t_ms: int, *, retained: bool = False) -> Outcome:
        outcome = self._handle(topic, payload, t_ms, retained)
        self.stats.count(outcome)
        return outcome

    def handle_batch(self, messages: Iterable[tuple[str, bytes, int, int, bool]], t_ms: int) -> None:
        """``handle`` for each ``(topic, payload, qos, mid, retain)`` (as the MQTT session hands them over), all
        received at ``t_ms``: one call per batch, not per message."""
        handle = self._handle
        count = self.stats.count
        for topic, payload, _, _, retain in messages:
            count(handle(topic, payload, t_ms, retain))

    def _bind(self, topic: str) -> tuple[Route, Parser] | None:
        """The topic's route and parser (remembered), or None when no route takes it."""
        found = None
        for route in self.routes:
            match = route.pattern.match(topic)
            if match is not None:
                try:
                    found = route, route.bind(match)
                except Exception:  # an adapter bug: the per-message adapter meets it again and it is counted
                    found = route, functools.partial(route.adapter, match)
                break
        if len(self._bound) >= _MAX_CACHED_TOPICS:
            self._bound.clear()
        self._bound[topic] = found
        return found

    def _handle(self, topic: str, payload: bytes, t_ms: int, retained: bool) -> Outcome:
        if len(payload) > self.max_payload_bytes:
            return self._reject(f"{topic[:200]}: payload of {len(payload)} bytes exceeds max_payload_bytes "
                                f"({self.max_payload_bytes})", payload)
        bound = self._bound.get(topic, _UNSEEN)
        if bound is _UNSEEN:
            bound = self._bind(topic)
        if bound is None:
            return _IGNORED
        route, parser = bound
        try:
            obs = parser(payload)
        except PayloadError as err:
            return self._reject(f"{route.format} {topic[:200]}: {err}", payload)
        except Exception as err:  # an adapter bug must not stop the lights: count it, log it, go on
            self._limited.log(logging.ERROR, "adapter-bug", "light adapter failed", topic=topic[:200],
                              format=route.format, error=repr(err)[:300])
            return self._reject(f"{route.format} {topic[:200]}: adapter error {type(err).__name__}", payload)
        if obs is None:
            return _IGNORED
        applied = self.tracker.apply(obs, t_ms, retained=retained)
        if applied is _TRACKED:
            return _APPLIED
        if applied is Applied.UNKNOWN_DEVICE:
            self._unknown(obs.device, topic)
            return Outcome.UNKNOWN_DEVICE
        return Outcome.DUPLICATE

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
