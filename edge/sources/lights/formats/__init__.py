"""Format adapters: pure functions from (topic match, payload) to an ``Observation``, one per firmware."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Final

from edge.sources.lights.formats import esphome, ownjson, tasmota
from edge.sources.lights.observation import Observation
from edge.sources.lights.topics import TopicMatch

__all__ = ["ADAPTERS", "DEFAULT_PATTERNS", "Adapter"]

Adapter = Callable[[TopicMatch, bytes], "Observation | None"]

#: Format name in the config -> adapter.
ADAPTERS: Final[Mapping[str, Adapter]] = MappingProxyType(
    {"tasmota": tasmota.parse, "esphome": esphome.parse, "json": ownjson.parse}
)

#: The topic layout firmware_config/ sets up, one pattern per format.
DEFAULT_PATTERNS: Final[Mapping[str, str]] = MappingProxyType(
    {
        "tasmota": "{prefix:tele|stat}/{device}/#",
        "esphome": "esphome/{device}/#",
        "json": "thonminh/light/{device}/#",
    }
)
