"""The up/down state of one link, with hysteresis: pure, fed one cycle result at a time.

A link is declared down after ``down_after`` failed cycles in a row and up after ``up_after`` good ones. The
transition is dated at the *start* of the first cycle of the run that caused it, not at the cycle that
reached the threshold, so an outage measured between two events is exact to one probe interval whatever
the hysteresis. The first state after start is reported once it is established (reason ``start``), with no
previous duration.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = ["LinkState", "State", "Transition"]

State = Literal["up", "down"]


@dataclass(frozen=True, slots=True)
class Transition:
    state: State
    #: wall-clock ms and monotonic seconds of the start of the first cycle in the new state
    at_ms: int
    at_mono: float
    reason: str
    #: seconds the previous state lasted; None for the first state after start
    previous_state_s: float | None


class LinkState:
    """Feed ``observe`` once per cycle; it returns a ``Transition`` when the declared state changes."""

    def __init__(self, *, down_after: int, up_after: int) -> None:
        if down_after < 1 or up_after < 1:
            raise ValueError("down_after and up_after must be at least 1")
        self.down_after = down_after
        self.up_after = up_after
        self.state: State | None = None
        self._since_mono: float | None = None
        # the current run of identical cycle results: its result, length, start and first reason
        self._run_ok: bool | None = None
        self._run_len = 0
        self._run_ms = 0
        self._run_mono = 0.0
        self._run_reason = ""

    def observe(self, ok: bool, *, at_ms: int, at_mono: float, reason: str) -> Transition | None:
        """One cycle's result: ``ok`` when at least ``min_ok`` targets answered; ``reason`` says why."""
        if ok != self._run_ok:
            self._run_ok, self._run_len = ok, 0
            self._run_ms, self._run_mono, self._run_reason = at_ms, at_mono, reason
        self._run_len += 1
        wanted: State = "up" if ok else "down"
        if wanted == self.state:
            return None
        if self._run_len < (self.up_after if ok else self.down_after):
            return None
        previous = None if self._since_mono is None else max(0.0, self._run_mono - self._since_mono)
        first = self.state is None
        self.state = wanted
        self._since_mono = self._run_mono
        return Transition(
            wanted, self._run_ms, self._run_mono, "start" if first else self._run_reason, previous
        )
