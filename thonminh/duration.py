"""Durations as people write them in config files and query strings: ``90s``, ``15m``, ``1h30m``, ``30d``, ``2w``."""

from __future__ import annotations

import re
from typing import Final

__all__ = ["duration_seconds"]

_DURATION: Final = re.compile(r"^(?:\d{1,6}[smhdw])+$")
_PART: Final = re.compile(r"(\d+)([smhdw])")
_UNITS: Final = {"s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 604_800}


def duration_seconds(text: str | None) -> int | None:
    """The duration in seconds, or ``None`` when ``text`` is not a positive duration."""
    if not text or not _DURATION.fullmatch(text):  # match's $ also passes a trailing newline
        return None
    seconds = sum(int(n) * _UNITS[u] for n, u in _PART.findall(text))
    return seconds if seconds > 0 else None
