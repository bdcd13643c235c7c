"""The samples of a measurement that a figure reads: those of the tag value its parameters select.

A figure of one link (``uplink.availability`` with ``link: fiber``) reads that link's samples, so its verified
share is of those, not of every uplink's: counted over the measurement, 4G's points stood in the fiber's count,
and forged points of one link were diluted by the other's. Verification counts a village-hour's points per
measurement and, for each tag a figure's parameters select (``thonminh.figures``: a ``Param`` with a ``tag``),
per value of that tag, under ``key(measurement, tag, value)``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from typing import Final

from thonminh.figures import FIGURES

__all__ = ["SELECTORS", "key", "key_of", "selections", "values"]


def _selectors() -> dict[str, tuple[str, ...]]:
    found: dict[str, set[str]] = defaultdict(set)
    for f in FIGURES.values():
        tags = [p.tag for p in f.params if p.tag]
        if len(tags) > 1:  # a share per combination of values would be another count: not needed yet
            raise ValueError(
                f"figure {f.key}: its parameters select {len(tags)} tags, verification counts one"
            )
        found[f.measurement.name].update(tags)
    return {m: tuple(sorted(tags)) for m, tags in found.items() if tags}


#: measurement -> the tags some figure's parameters select (``uplink``: ``link``; ``wifi``: ``ap``)
SELECTORS: Final = _selectors()


def key(measurement: str, tag: str, value: str) -> str:
    """Where the points of ``measurement`` with ``tag = value`` are counted (a space: no measurement has one)."""
    return f"{measurement} {tag}={value}"


def key_of(measurement: str, selection: Mapping[str, str]) -> str:
    """The count of a figure's samples: ``selection`` is its ``tag_filters`` (``{}``: the whole measurement)."""
    if not selection:
        return measurement
    ((tag, value),) = selection.items()
    return key(measurement, tag, value)


def selections(measurement: str, tags: Mapping[str, str | None]) -> list[str]:
    """The keys a series of ``measurement`` with ``tags`` is counted under besides its measurement."""
    return [key(measurement, tag, tags.get(tag) or "") for tag in SELECTORS.get(measurement, ())]


def values(counts: Mapping[str, object], measurement: str, tag: str) -> list[str]:
    """The values of ``tag`` that ``counts`` (keyed by ``key``) holds for ``measurement``, sorted."""
    prefix = key(measurement, tag, "")
    return sorted(k.removeprefix(prefix) for k in counts if k.startswith(prefix))
