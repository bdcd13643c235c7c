"""The pipeline's counters as the gateway self-metrics see them, and rejected inputs with kept samples.

Totals live in the buffer (persisted with the points, so they survive restarts), refused inputs counted by
reason as well (``edge.rejects``: a fixed set of counters); this module adds what is only in memory (uptime,
rejects not yet committed, source errors) and computes the ``gateway`` fields.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from collections import Counter, deque
from dataclasses import dataclass

from edge.buffer import Buffer
from edge.clock import Clock
from edge.rejects import REASON_COUNTERS, count_reasons, reason_fields
from edge.sources.base import Reject
from thonminh.contract import GATEWAY
from thonminh.logs import RateLimited

__all__ = ["GatewayStats", "Stats"]

log = logging.getLogger(__name__)

_SAMPLE_CHARS = 500
#: Rejects waiting for the next commit keep their sample only while among the last this many: the buffer keeps
#: no more (its recent rejects), and a flood of refused messages then costs little memory until it commits.
_SAMPLES_KEPT = 200


@dataclass(frozen=True, slots=True)
class GatewayStats:
    """The pipeline's part of the contract's ``gateway`` measurement; attribute names are its field names."""

    uptime_s: float
    buffer_points: int
    buffer_bytes: int
    forwarded_total: int
    dropped_total: int
    rejected_total: int
    lag_s: float
    clock_synced: int
    dead_letter_total: int = 0
    #: ``rejected_<code>`` and ``rejected_other`` (``edge.rejects``): together with dead_letter_total they
    #: add up to rejected_total.
    rejected: dict[str, int] = dataclasses.field(default_factory=dict)

    def fields(self) -> dict[str, int | float]:
        fields: dict[str, int | float] = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        del fields["rejected"]
        return fields | self.rejected


_unknown = {f.name for f in dataclasses.fields(GatewayStats)} - set(GATEWAY.fields) - {"rejected"}
assert not _unknown, f"GatewayStats fields not in the contract: {_unknown}"


def _preview(sample: bytes | str | None) -> str | None:
    if sample is None:
        return None
    text = sample.decode("utf-8", errors="replace") if isinstance(sample, bytes) else str(sample)
    return text if len(text) <= _SAMPLE_CHARS else text[:_SAMPLE_CHARS] + "..."


class Stats:
    """Counters of one agent run on top of the buffer's persisted totals."""

    def __init__(self, buffer: Buffer, clock: Clock, *, logger: logging.Logger | None = None) -> None:
        self.buffer = buffer
        self.clock = clock
        self.started = clock.monotonic()
        self._log = logger or log
        self._limited = RateLimited(self._log, period=60.0, burst=3)
        self._lock = threading.Lock()
        self._pending: list[tuple[str, str, str | None]] = []
        self.recent: deque[tuple[str, str, str | None]] = deque(maxlen=50)
        self.source_errors: Counter[str] = Counter()

    # -- rejects -----------------------------------------------------------------------------------------
    def reject(self, source: str, reason: str, sample: bytes | str | None = None) -> None:
        """Count a rejected input of ``source``; the pipeline persists it with its next commit."""
        item = (source, reason, _preview(sample))
        with self._lock:
            self._pending.append(item)
            self.recent.append(item)
            older = len(self._pending) - _SAMPLES_KEPT - 1
            if older >= 0 and self._pending[older][2] is not None:
                self._pending[older] = (*self._pending[older][:2], None)
        self._limited.warning(f"reject:{source}", "rejected input", source=source, reason=reason)

    def rejecter(self, source: str) -> Reject:
        """The ``ctx.reject`` of one source instance."""

        def reject(reason: str, sample: bytes | str | None = None) -> None:
            self.reject(source, reason, sample)

        return reject

    def take_rejects(self) -> list[tuple[str, str, str | None]]:
        with self._lock:
            pending, self._pending = self._pending, []
        return pending

    def source_error(self, source: str) -> None:
        self.source_errors[source] += 1

    # -- the gateway measurement -------------------------------------------------------------------------
    def snapshot(self) -> GatewayStats:
        """The current figures. Reads the oldest point from the buffer: call it from a worker thread."""
        b = self.buffer
        counters = b.counters
        with self._lock:
            pending = [reason for _, reason, _ in self._pending]
        oldest = b.oldest()
        lag = 0.0
        if oldest is not None:
            t_ms, held, mono = oldest
            if held and mono is not None:
                lag = self.clock.monotonic() - mono
            else:
                lag = (self.clock.now_ms() - t_ms) / 1000
        return GatewayStats(
            uptime_s=round(self.clock.monotonic() - self.started, 3),
            buffer_points=b.points,
            buffer_bytes=b.bytes,
            forwarded_total=counters["forwarded_total"],
            dropped_total=counters["dropped_total"],
            rejected_total=counters["rejected_total"] + counters["dead_letter_total"] + len(pending),
            lag_s=round(max(0.0, lag), 3),
            clock_synced=int(self.clock.last_synced),
            dead_letter_total=counters["dead_letter_total"],
            rejected=_by_reason(counters, pending),
        )


def _by_reason(counters: dict[str, int], pending: list[str]) -> dict[str, int]:
    """The committed counts by reason plus the rejects still waiting for the next commit."""
    waiting = count_reasons(pending)
    committed = {name: counters.get(name, 0) + waiting.get(name, 0) for name in REASON_COUNTERS}
    return reason_fields(committed, counters["rejected_total"] + len(pending))
