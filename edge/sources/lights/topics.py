"""Topic patterns: which topics a format listens on, and where the device id sits in them.

A pattern is an MQTT topic filter whose levels may also be captures:

- ``{device}`` (exactly once): the level that names the device, as in the inventory;
- ``{name}``: any one level, handed to the adapter;
- ``{name:a|b}``: one of the listed words; the subscription is expanded to one filter per word;
- ``+`` any one level (not captured); ``#`` as the last level: the remaining levels, handed to the adapter.

Examples: Tasmota's default FullTopic ``%prefix%/%topic%/`` is ``{prefix:tele|stat}/{device}/#``; ESPHome with
``topic_prefix: esphome/<node>`` is ``esphome/{device}/#``.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

__all__ = ["TopicMatch", "TopicPattern"]

_CAPTURE: Final = re.compile(r"^\{([a-z_][a-z0-9_]*)(?::([^{}]+))?\}$")
_MAX_FILTERS: Final = 16


@dataclass(frozen=True, slots=True)
class TopicMatch:
    """A topic that matched a pattern: the device, the named captures and what ``#`` matched."""

    device: str
    captures: Mapping[str, str]
    rest: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class _Level:
    literal: str | None = None  # a fixed word
    name: str | None = None  # a capture
    choices: frozenset[str] | None = None  # allowed words of a capture


class TopicPattern:
    """A parsed pattern. ``ValueError`` says what is wrong with a bad one."""

    def __init__(self, pattern: str) -> None:
        self.pattern = pattern
        if not pattern or pattern.startswith("/") or "\x00" in pattern:
            raise ValueError(f"{pattern!r} is not a topic pattern")
        parts = pattern.split("/")
        self._rest = parts[-1] == "#"
        if self._rest:
            parts = parts[:-1]
        levels: list[_Level] = []
        names: set[str] = set()
        for part in parts:
            level = _parse_level(pattern, part)
            if level.name is not None:
                if level.name in names:
                    raise ValueError(f"{pattern!r}: capture {{{level.name}}} appears twice")
                names.add(level.name)
            levels.append(level)
        if "device" not in names:
            raise ValueError(f"{pattern!r}: needs exactly one {{device}} level")
        self._levels = tuple(levels)
        self.filters = self._expand()

    def filters_for(self, device: str) -> tuple[str, ...]:
        """The subscriptions that cover one device's topics (for its ACL)."""
        return self._expand(device)

    def _expand(self, device: str | None = None) -> tuple[str, ...]:
        options: list[tuple[str, ...]] = []
        for level in self._levels:
            if level.name == "device" and device is not None:
                options.append((device,))
            elif level.literal is not None:
                options.append((level.literal,))
            elif level.choices is not None:
                options.append(tuple(sorted(level.choices)))
            else:
                options.append(("+",))
        combos = list(itertools.islice(itertools.product(*options), _MAX_FILTERS + 1))
        if len(combos) > _MAX_FILTERS:
            raise ValueError(f"{self.pattern!r} expands to more than {_MAX_FILTERS} subscriptions")
        tail = ("#",) if self._rest else ()
        return tuple("/".join(combo + tail) for combo in combos)

    def match(self, topic: str) -> TopicMatch | None:
        """The captures of ``topic``, or ``None`` when it does not fit this pattern."""
        levels = topic.split("/")
        n = len(self._levels)
        if len(levels) < n or (not self._rest and len(levels) != n):
            return None
        captures: dict[str, str] = {}
        for spec, word in zip(self._levels, levels, strict=False):
            if spec.literal is not None:
                if word != spec.literal:
                    return None
            elif spec.name is not None:
                if not word or (spec.choices is not None and word not in spec.choices):
                    return None
                captures[spec.name] = word
        return TopicMatch(captures.pop("device"), captures, tuple(levels[n:]))

    def __repr__(self) -> str:
        return f"TopicPattern({self.pattern!r})"


def _parse_level(pattern: str, part: str) -> _Level:
    if part == "+":
        return _Level()
    if part == "#":
        raise ValueError(f"{pattern!r}: '#' may only be the last level")
    found = _CAPTURE.match(part)
    if found:
        name, choices = found.groups()
        if choices is None:
            return _Level(name=name)
        words = frozenset(choices.split("|"))
        if name == "device" or any(not w or set(w) & set("+#/") for w in words):
            raise ValueError(f"{pattern!r}: bad choices in {part!r}")
        return _Level(name=name, choices=words)
    if set(part) & set("+#{}"):
        raise ValueError(f"{pattern!r}: level {part!r} mixes wildcards or braces with text")
    return _Level(literal=part)
