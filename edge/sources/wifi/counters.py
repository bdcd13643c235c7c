"""Bytes moved during one interval, from per-station counters that start, stop, reset and wrap.

Counters count from the station's association, so:

* a station seen at both polls contributes ``now - before``;
* a counter that went down was reset (the station re-associated, the AP rebooted): it contributes ``now``,
  all of which was moved since the reset; unless it looks like a 32-bit wrap, which contributes the
  distance around the wrap;
* a station that appeared associated during the interval: it contributes ``now``;
* a station that left takes its last bytes with it (they cannot be observed): it contributes nothing.

Nothing is ever negative. With no baseline (the first poll, or the poll after an unknown gap) continuing
stations contribute nothing: their bytes cannot be placed in an interval.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from dataclasses import dataclass

__all__ = ["ByteCounters", "Reading", "counter_delta"]

_WRAP32 = 2**32
#: More than this in one interval is a glitch of the counter, not traffic (1 TiB).
_MAX_DELTA = 2**40


@dataclass(frozen=True, slots=True)
class Reading:
    """One station's counters at one poll. ``key`` is an opaque per-process id, never the address."""

    key: Hashable
    rx_bytes: int | None
    tx_bytes: int | None
    connected_s: int | None = None


def counter_delta(before: int | None, now: int | None) -> int:
    """Bytes between two readings of one counter; 0 when ``now`` is unknown. Never negative."""
    if now is None or now < 0:
        return 0
    if before is None:
        delta = now
    elif now >= before:
        delta = now - before
    elif before < _WRAP32 and before - now > _WRAP32 // 2:
        # A 32-bit counter that was near the top and is now near the bottom wrapped.
        delta = now + _WRAP32 - before
    else:
        # Any other decrease is a reset (re-association, AP reboot): `now` bytes were moved since.
        delta = now
    return delta if delta <= _MAX_DELTA else 0


class ByteCounters:
    """Per-station baselines and the byte deltas of each poll."""

    def __init__(self) -> None:
        self._before: dict[Hashable, Reading] | None = None

    @property
    def has_baseline(self) -> bool:
        return self._before is not None

    def invalidate(self) -> None:
        """Forget the baseline: the next poll only sets one (after an unknown gap)."""
        self._before = None

    def update(self, readings: Iterable[Reading], interval_s: float) -> tuple[int, int]:
        """Record this poll's readings; returns (rx, tx) bytes moved since the previous one."""
        now = {r.key: r for r in readings}
        before, self._before = self._before, now
        rx = tx = 0
        for key, reading in now.items():
            previous = before.get(key) if before is not None else None
            if previous is None:
                if before is None and not _joined_within(reading, interval_s):
                    continue  # no baseline: cannot tell what was moved in this interval
                rx += counter_delta(None, reading.rx_bytes)
                tx += counter_delta(None, reading.tx_bytes)
                continue
            if (
                reading.connected_s is not None
                and previous.connected_s is not None
                and reading.connected_s < previous.connected_s
            ):
                # Re-associated between the polls: the counters restarted from zero.
                rx += counter_delta(None, reading.rx_bytes)
                tx += counter_delta(None, reading.tx_bytes)
                continue
            rx += counter_delta(previous.rx_bytes, reading.rx_bytes)
            tx += counter_delta(previous.tx_bytes, reading.tx_bytes)
        return rx, tx


def _joined_within(reading: Reading, interval_s: float) -> bool:
    return reading.connected_s is not None and interval_s > 0 and reading.connected_s <= interval_s
