"""Format adapters: pure functions from (topic match, payload) to an ``Observation``.

``BINDERS`` give the same parse per topic: ``bind(match)(payload) == adapter(match, payload)``. The router binds
a topic once and keeps the parser with the topic's route, so what the topic alone decides is not worked out
again for every message.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Final

from edge.sources.lights.formats import esphome, ownjson, tasmota
from edge.sources.lights.observation import Observation, Parser
from edge.sources.lights.topics import TopicMatch

__all__ = ["ADAPTERS", "BINDERS", "DEFAULT_PATTERNS", "Adapter", "Binder"]

Adapter = Callable[[TopicMatch, bytes], "Observation | None"]
Binder = Callable[[TopicMatch], Parser]


def _per_message(adapter: Adapter) -> Binder:
    """The binder of an adapter that works everything out per message."""
    return lambda match: functools.partial(adapter, match)


#: Format name in the config -> adapter.
ADAPTERS: Final[Mapping[str, Adapter]] = MappingProxyType(
    {"tasmota": tasmota.parse, "esphome": esphome.parse, "json": ownjson.parse}
)

#: Format name in the config -> binder (Tasmota, nearly all the traffic of a village, binds its topics).
BINDERS: Final[Mapping[str, Binder]] = MappingProxyType(
    {"tasmota": tasmota.bind, "esphome": _per_message(esphome.parse), "json": _per_message(ownjson.parse)}
)

#: The topic layout firmware_config/ sets up, one pattern per format.
DEFAULT_PATTERNS: Final[Mapping[str, str]] = MappingProxyType(
    {
        "tasmota": "{prefix:tele|stat}/{device}/#",
        "esphome": "esphome/{device}/#",
        "json": "thonminh/light/{device}/#",
    }
)
