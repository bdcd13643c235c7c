"""The one retry policy of the project: exponential backoff with a cap and jitter.

Every long-running retry loop (the forwarder, a lost modem, a failed source, the MQTT reconnect) asks a
``Backoff`` for its next delay, calls ``reset()`` once things work again, and does its own waiting: the
loops differ in how they wait (a stop event, a monotonic deadline), not in how long.
"""

from __future__ import annotations

import random
from collections.abc import Callable

__all__ = ["Backoff"]

# 2**62 times any sane initial delay is far beyond any cap; stops the float from overflowing
_MAX_EXPONENT = 62


class Backoff:
    """Delays ``initial_s``, ``2 * initial_s``, ... up to ``max_s``, each with equal jitter.

    With ``jitter = 0.5`` (the default) half of each step is fixed and half random, so gateways that lost
    InfluxDB together do not come back in step, and a delay is never near zero.
    """

    def __init__(
        self,
        initial_s: float,
        max_s: float,
        *,
        jitter: float = 0.5,
        random_fn: Callable[[], float] = random.random,
    ) -> None:
        if initial_s <= 0 or max_s < initial_s:
            raise ValueError(f"backoff needs 0 < initial_s <= max_s (got {initial_s}, {max_s})")
        if not 0 <= jitter <= 1:
            raise ValueError(f"backoff jitter must lie in 0..1 (got {jitter})")
        self.initial_s = initial_s
        self.max_s = max_s
        self.jitter = jitter
        self._random = random_fn
        self.attempts = 0

    def next(self, at_least: float | None = None) -> float:
        """The delay before the next attempt; never under ``at_least`` (a server's ``Retry-After``)."""
        step = min(self.max_s, self.initial_s * 2.0 ** min(self.attempts, _MAX_EXPONENT))
        self.attempts += 1
        delay = step * (1 - self.jitter) + self._random() * step * self.jitter
        return delay if at_least is None else max(delay, at_least)

    def reset(self) -> None:
        """Start again from ``initial_s`` (call it after a success)."""
        self.attempts = 0
