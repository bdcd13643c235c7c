"""Each source's health now and since when, kept by the agent in a file on tmpfs (``GatewayConfig.health_path``:
``/dev/shm/thonminh-<uid>/health-<digest>.json``, beside the buffer's intake).

Sources report through ``ctx.health(state, detail)`` after every sample; the book keeps since when each state
holds. ``thonminh edge status`` reads the file, so it answers with the agent stopped (the states as the agent
left them) as well as beside a running agent, without asking the agent anything.

The file is replaced (temp file, then rename) within ``urgent_s`` of a state change, otherwise at most every
``refresh_s`` while only details (an RTT, a client count) move, and once more when the agent stops. It lives in
RAM because on the SD card these rewrites (and the directory updates of the renames, through ext4's journal)
were ~42 MB a day of flash writes (docs/pipeline.md, "Flash writes"). So it survives the agent (a crash, a stop)
but not a reboot or a power cut: then there is no file until the agent writes again, and status says so. It is
only the health now: the measurements themselves are in the buffer. A failed write is logged once per episode
and the agent keeps running.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from edge.filemodes import own_private_dir
from edge.sources.base import HEALTH_STATES, HealthDetail, HealthState, ReportHealth
from thonminh import __version__
from thonminh.logs import Episode

__all__ = ["HealthBook", "HealthEntry", "HealthUnreadable", "load_health", "read_health"]

log = logging.getLogger(__name__)

_FORMAT = 1


@dataclass(slots=True)
class HealthEntry:
    """One source instance (``uplink:fiber``) or agent part (``clock``): its state, since when, and detail."""

    source: str
    kind: str
    state: HealthState
    since_ms: int
    at_ms: int
    detail: dict[str, str | int | float | bool] = field(default_factory=dict)


class HealthBook:
    """The health of every source of one agent run; ``run`` writes it to ``path`` until stopped."""

    def __init__(
        self,
        path: Path,
        *,
        now_ms: Callable[[], int],
        urgent_s: float = 2.0,
        refresh_s: float = 30.0,
        logger: logging.Logger | None = None,
    ) -> None:
        self.path = path
        self.now_ms = now_ms
        self.urgent_s = urgent_s
        self.refresh_s = refresh_s
        self.entries: dict[str, HealthEntry] = {}
        self.started_ms = now_ms()
        self.writes = 0
        self._changed = asyncio.Event()
        self._dirty = False
        self._failing = Episode(logger or log, f"cannot write {path}")

    def reporter(self, source: str, kind: str) -> ReportHealth:
        """The ``ctx.health`` of one source instance."""

        def report(state: HealthState, detail: HealthDetail) -> None:
            self.report(source, kind, state, detail)

        return report

    def report(self, source: str, kind: str, state: HealthState, detail: HealthDetail) -> None:
        if state not in HEALTH_STATES:
            raise ValueError(f"unknown health state {state!r}")
        now = self.now_ms()
        clean = {k: v for k, v in detail.items() if v is not None}
        entry = self.entries.get(source)
        if entry is None or entry.state != state:
            self.entries[source] = HealthEntry(source, kind, state, now, now, clean)
            self._changed.set()  # a new state is written within urgent_s
        else:
            entry.at_ms, entry.detail = now, clean
        self._dirty = True

    def snapshot(self, *, running: bool) -> dict[str, Any]:
        now = self.now_ms()
        agent = {
            "pid": os.getpid(),
            "version": __version__,
            "started_ms": self.started_ms,
            "written_ms": now,
            "running": running,
        }
        if not running:
            agent["stopped_ms"] = now
        return {"format": _FORMAT, "agent": agent, "sources": [asdict(e) for e in self.entries.values()]}

    def write(self, *, running: bool = True) -> bool:
        """Replace the file atomically now; False (logged once) when it cannot be written."""
        data = self.snapshot(running=running)
        self._dirty = False
        return self._store(data)

    def _store(self, data: dict[str, Any]) -> bool:
        tmp = self.path.with_name(self.path.name + ".tmp")
        try:
            # /dev/shm is writable by everyone: the directory must be ours and closed (or it is made so); checked
            # at every write because tmpfs is emptied by a reboot and may be cleaned while the agent runs
            own_private_dir(self.path.parent)
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                out.write(json.dumps(data, ensure_ascii=False, separators=(",", ":")))
            os.replace(tmp, self.path)
        except OSError as err:
            self._failing.problem(err.strerror or str(err))
            return False
        self._failing.ok()
        self.writes += 1
        return True

    async def run(self, stop: asyncio.Event) -> None:
        """Write on change (at most every ``urgent_s``) and every ``refresh_s`` if details moved, until ``stop``."""
        loop = asyncio.get_running_loop()
        last = loop.time() - self.refresh_s
        while not stop.is_set():
            await _any_set((stop, self._changed), last + self.refresh_s - loop.time())
            if self._changed.is_set():
                # a flapping state is written at most every urgent_s, not at every flap
                await _any_set((stop,), last + self.urgent_s - loop.time())
            if stop.is_set():
                return
            if self._dirty:
                self._changed.clear()
                data = self.snapshot(running=True)  # taken on the loop, where reports change the entries
                self._dirty = False
                await asyncio.to_thread(self._store, data)
            last = loop.time()

    def stopped(self) -> None:
        """The agent stops: say so in the file, with the states as they are now."""
        self.write(running=False)


async def _any_set(events: tuple[asyncio.Event, ...], timeout: float) -> None:
    """Wait until one of ``events`` is set or ``timeout`` seconds passed."""
    if timeout <= 0 or any(e.is_set() for e in events):
        return
    waiters = [asyncio.ensure_future(e.wait()) for e in events]
    try:
        await asyncio.wait(waiters, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for w in waiters:
            w.cancel()


class HealthUnreadable(ValueError):
    """The health file is there but is not the agent's health as this version writes it (damaged, or by another
    version): the message names the file and why."""


def load_health(path: Path) -> dict[str, Any] | None:
    """The agent's last written health at ``path``, or None when there is none (the agent has not run since
    the last boot). Raises ``HealthUnreadable`` for a file that cannot be read or is not shaped as ``snapshot``
    writes it: what ``thonminh edge status`` then shows would be guesses, or a traceback."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as err:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        raise HealthUnreadable(f"{path}: {err}") from err
    problem = _shape_problem(data)
    if problem:
        raise HealthUnreadable(f"{path}: {problem}")
    return data  # type: ignore[no-any-return]


def read_health(path: Path) -> dict[str, Any] | None:
    """``load_health``, None also when the file cannot be read (for callers to whom that is the same)."""
    try:
        return load_health(path)
    except HealthUnreadable:
        return None


_TIMES = ("started_ms", "written_ms", "stopped_ms")


def _shape_problem(data: object) -> str | None:
    """What in ``data`` is not as ``HealthBook.snapshot`` writes it (the fields status reads), or None."""
    if not isinstance(data, dict) or data.get("format") != _FORMAT:
        return f"not a health file of format {_FORMAT}"
    agent, sources = data.get("agent"), data.get("sources")
    if not isinstance(agent, dict) or not all(_is_ms(agent.get(k)) for k in _TIMES):
        return "its agent is not an object with times"
    if not isinstance(sources, list):
        return "its sources are not a list"
    for entry in sources:
        if not (
            isinstance(entry, dict)
            and all(isinstance(entry.get(k), str) for k in ("source", "kind", "state"))
            and _is_ms(entry.get("since_ms"))
            and isinstance(entry.get("detail", {}), dict)
        ):
            return f"a source entry is not as the agent writes it: {json.dumps(entry)[:100]}"
    return None


def _is_ms(value: object) -> bool:
    return value is None or (isinstance(value, int | float) and not isinstance(value, bool))


def age_s(ms: int | None, now_ms: int | None = None) -> float | None:
    """Seconds since ``ms`` (never negative), None for None."""
    if ms is None:
        return None
    now = time.time() * 1000 if now_ms is None else now_ms
    return max(0.0, (now - ms) / 1000)
