"""The emit path: encode each point, group-commit to the buffer, store the buffer's intake on the SD card.

Every source's ``ctx.emit`` is ``Pipeline.emit``. Points are encoded one by one, so a point that cannot be
encoded goes to the dead letters instead of failing its batch. Emits arriving within
``buffer.commit_interval_ms`` share one SQLite transaction (``COMMIT_POINTS`` waiting points commit at once);
``emit`` returns after that transaction committed: to the buffer's intake on tmpfs when it has one (an agent
crash loses nothing of it; a power cut up to ``sync_interval_s``), else to the store on the SD card. Every
``sync_interval_s`` this loop stores the intake on the SD card in one fsynced transaction (``Buffer.sync``).
A source that must not acknowledge its input before a power cut is survived (an MQTT QoS 1 message) keeps
its own journal, synced on the same bound (``edge.sources.lights.journal``).

The same loop owns the clock: it observes synchronisation, and once the clock is synchronised it corrects the
held samples of this boot inside a commit, so no sample is ever forwarded with an unsynchronised time.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Sequence

from edge.buffer import Buffer, NewDeadLetter, NewRow, any_held
from edge.clock import Clock
from edge.stats import Stats
from thonminh.contract import Point
from thonminh.errors import ThonminhError
from thonminh.lineprotocol import encode_untimed
from thonminh.logs import Episode

__all__ = ["COMMIT_POINTS", "BufferWriteError", "Pipeline", "encode_for_buffer"]

log = logging.getLogger(__name__)

#: Commit at once when this many points wait, without waiting out the commit interval: a burst (a light
#: tracker's minute, a drain of a source's own queue) is written at disk speed, latency stays bounded.
COMMIT_POINTS = 2000


class BufferWriteError(ThonminhError):
    """The buffer could not commit: the points of this emit are NOT stored."""


def _describe(point: Point) -> str:
    data = {
        "measurement": point.measurement,
        "tags": dict(point.tags),
        "fields": dict(point.fields),
        "time_ms": point.time_ms,
    }
    return json.dumps(data, default=repr, ensure_ascii=False)


def encode_for_buffer(
    points: Sequence[Point], *, synced: bool, wall_ms: int, mono: float
) -> tuple[list[NewRow], list[NewDeadLetter]]:
    """Lines without timestamps for the buffer, and dead letters for points that cannot be encoded.

    While unsynchronised, each point keeps its monotonic time ``mono - (wall_ms - time_ms) / 1000`` so its
    timestamp can be corrected later; sources only ever stamp with ``ctx.now_ms()``.
    """
    rows: list[NewRow] = []
    dead: list[NewDeadLetter] = []
    append = rows.append
    for point in points:
        try:
            line = encode_untimed(point)
        except Exception as err:  # noqa: BLE001 - any bad point is data for the dead letters, not a crash
            t_ms = point.time_ms if isinstance(point.time_ms, int) else None
            dead.append(NewDeadLetter(_describe(point), t_ms, f"{type(err).__name__}: {err}"))
            continue
        append(NewRow(line, point.time_ms, None if synced else mono - (wall_ms - point.time_ms) / 1000))
    return rows, dead


class Pipeline:
    """Group commit from every source into the buffer. Run ``run()`` as a task; ``close()`` flushes."""

    def __init__(
        self,
        buffer: Buffer,
        clock: Clock,
        stats: Stats,
        *,
        commit_interval_ms: int = 200,
        check_interval_s: float = 1.0,
        sync_interval_s: float = 60.0,
        logger: logging.Logger | None = None,
    ) -> None:
        self.buffer = buffer
        self.clock = clock
        self.stats = stats
        self.commit_interval = commit_interval_ms / 1000
        self.check_interval = check_interval_s
        self.sync_interval = sync_interval_s
        self._log = logger or log
        self._rows: list[NewRow] = []
        self._dead: list[NewDeadLetter] = []
        self._waiters: list[asyncio.Future[None]] = []
        self._first_at: float | None = None
        self._wake = asyncio.Event()
        self._full = asyncio.Event()
        self._closing = False
        self._failing = Episode(self._log, "buffer commit failed")
        self._syncing = Episode(self._log, "storing the intake on the SD card failed; points stay in RAM")
        self._synced_at = 0.0
        #: Set after every commit that stored points; the forwarder waits on it when idle.
        self.committed = asyncio.Event()
        self.committed_points = 0
        self.clock.observe()

    def next_sync(self) -> float:
        """``time.monotonic()`` of the next store of the intake on the SD card (the forwarder sends before it)."""
        return self._synced_at + self.sync_interval

    async def emit(self, points: Sequence[Point]) -> None:
        """Hand points to the buffer; returns once they are committed. ``BufferWriteError`` if not stored.

        Committed means an agent crash (SIGKILL, an exception) cannot lose them. With an intake (the agent's
        buffer), a power cut may lose the points of the last ``sync_interval_s``; without one, nothing."""
        if not points:
            return
        if self._closing:
            raise BufferWriteError("the pipeline is closed")
        rows, dead = encode_for_buffer(
            points, synced=self.clock.synced(), wall_ms=self.clock.now_ms(), mono=self.clock.monotonic()
        )
        if dead:
            self._log.warning(
                "points cannot be encoded: dead-lettered", extra={"count": len(dead), "error": dead[0].error}
            )
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._rows.extend(rows)
        self._dead.extend(dead)
        self._waiters.append(future)
        if self._first_at is None:
            self._first_at = asyncio.get_running_loop().time()
            self._wake.set()
        if len(self._rows) >= COMMIT_POINTS:
            self._full.set()
        await future

    async def run(self) -> None:
        """Commit what arrives, observe the clock; returns after ``close()`` once everything is committed."""
        loop = asyncio.get_running_loop()
        self._synced_at = loop.time()
        while True:
            if not self._waiters and not self._closing:
                self._wake.clear()
                try:
                    until_sync = self._synced_at + self.sync_interval - loop.time()
                    await asyncio.wait_for(self._wake.wait(), max(0.0, min(self.check_interval, until_sync)))
                except TimeoutError:
                    pass
            if self._first_at is not None and not self._closing and len(self._rows) < COMMIT_POINTS:
                delay = self._first_at + self.commit_interval - loop.time()
                if delay > 0:
                    self._full.clear()
                    try:
                        await asyncio.wait_for(self._full.wait(), delay)
                    except TimeoutError:
                        pass
            await self._cycle()
            if loop.time() - self._synced_at >= self.sync_interval:
                await self._sync()
                self._synced_at = loop.time()
            if self._closing and not self._waiters:
                return

    async def _sync(self) -> None:
        """Store the intake on the SD card; on failure the points stay in the intake and the next sync retries."""
        try:
            await asyncio.to_thread(self.buffer.sync)
        except Exception as err:  # noqa: BLE001 - the agent keeps running; nothing is lost while it does
            self._syncing.problem(str(err), level=logging.ERROR)
        else:
            self._syncing.ok()

    async def _cycle(self) -> None:
        self.clock.observe()
        rows, dead, waiters = self._rows, self._dead, self._waiters
        self._rows, self._dead, self._waiters, self._first_at = [], [], [], None
        rejects = self.stats.take_rejects()
        held = self.buffer.held or any_held(rows)
        correct_at = (
            (self.clock.now_ms(), self.clock.monotonic()) if held and self.clock.last_synced else None
        )
        if not (rows or dead or rejects or correct_at):
            _resolve(waiters, None)
            return
        try:
            await asyncio.to_thread(self.buffer.put, rows, dead=dead, rejects=rejects, correct_at=correct_at)
        except Exception as err:  # noqa: BLE001 - reported to every emitter; the agent keeps running
            self._failing.problem(str(err), level=logging.ERROR, points=len(rows))
            _resolve(waiters, BufferWriteError(f"buffer commit failed: {err}"))
            return
        self._failing.ok()
        _resolve(waiters, None)
        if rows or correct_at:
            self.committed_points += len(rows)
            self.committed.set()

    async def close(self) -> None:
        """Stop taking points after committing everything emitted so far (the run task then returns)."""
        self._closing = True
        self._wake.set()


def _resolve(waiters: list[asyncio.Future[None]], error: BaseException | None) -> None:
    for w in waiters:
        if w.done():
            continue
        if error is None:
            w.set_result(None)
        else:
            w.set_exception(error)
