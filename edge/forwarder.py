"""Drain the buffer to InfluxDB: batches in order, deleted only after a 2xx, retried forever, never dropped.

Errors are sorted here (style rule 5): connection errors, timeouts, 429 and 5xx, and 4xx that do not
concern the batch (401, 403, 404 database not found) are retried with exponential backoff and jitter,
honouring ``Retry-After``. A 400, 413 or 422 concerns the batch: it is bisected until the refused points are
found; only those single points go to the dead letters, everything else is written.

With a ``BatchSigner`` (the agent always has one) every batch is signed as it is taken (edge/signing.py): its
body carries the manifests, a batch refused in part gets its manifests signed again without the refused points,
and the batches a crash left unacknowledged are re-sent as they were before anything else is taken. Live
points go in one batch every ``live_interval_s`` (one manifest, not one a second), just before the buffer
stores its intake on the SD card so that store finds it empty; a backlog of ``batch_points`` goes at once.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable

from edge.buffer import Batch, Buffer
from edge.config import ForwarderSettings
from edge.signing import BatchSigner, SignedBatch, unsigned_line
from thonminh.backoff import Backoff
from thonminh.errors import InfluxClientError, InfluxServerError
from thonminh.influx import LineWriter
from thonminh.logs import Episode, RateLimited

__all__ = ["MALFORMED_STATUSES", "MAX_RETRY_AFTER_S", "SYNC_LEAD_S", "Forwarder", "RetryLater"]

log = logging.getLogger(__name__)

#: 4xx answers that say "this batch is bad", so bisecting finds the bad points.
MALFORMED_STATUSES = frozenset({400, 413, 422})
#: A ``Retry-After`` longer than this is capped (a broken proxy must not park the gateway for days).
MAX_RETRY_AFTER_S = 3600.0
#: Live points go this long before the buffer's next store of its intake (``next_sync``), so the write and its
#: ack are done when the store runs.
SYNC_LEAD_S = 2.0


class RetryLater(Exception):
    """The write did not happen and may be retried; ``retry_after`` when the server asked for a delay."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


async def _sleep_unless(stop: asyncio.Event | None, delay: float) -> None:
    if stop is None:
        await asyncio.sleep(delay)
        return
    try:
        await asyncio.wait_for(stop.wait(), delay)
    except TimeoutError:
        pass


class Forwarder:
    """Moves batches from the buffer to a ``LineWriter`` (blocking writes run in a worker thread)."""

    def __init__(
        self,
        buffer: Buffer,
        writer: LineWriter,
        settings: ForwarderSettings,
        *,
        timeout_s: float = 10.0,
        logger: logging.Logger | None = None,
        random_fn: Callable[[], float] = random.random,
        signer: BatchSigner | None = None,
        next_sync: Callable[[], float] | None = None,
    ) -> None:
        self.buffer = buffer
        self.writer = writer
        self.settings = settings
        self.timeout_s = timeout_s
        self._log = logger or log
        self._backoff = Backoff(settings.backoff_initial_s, settings.backoff_max_s, random_fn=random_fn)
        self._in_flight: dict[int, Batch] = {}
        self._taking = asyncio.Lock()
        self._down = Episode(self._log, "InfluxDB write failing, points stay in the buffer")
        self._dead_log = RateLimited(self._log, period=60.0, burst=5)
        self.last_success_mono: float | None = None
        #: why the last write failed, until one succeeds: what ``thonminh edge status`` names under InfluxDB
        self.last_error: str | None = None
        self.signer = signer
        #: ``time.monotonic()`` of the buffer's next store of its intake (``Pipeline.next_sync``).
        self.next_sync = next_sync
        self._ready_since: float | None = None
        #: Signed batches whose write failed (or that an earlier run left): sent again as they are, first.
        self._retry: list[SignedBatch] = []
        self._loaded = False
        #: Points InfluxDB refused and that went to the dead letters: they left the buffer without being
        #: written, so ``edge drain`` tells them from the written ones.
        self.refused_points = 0

    # -- one batch ---------------------------------------------------------------------------------------
    async def step(self, *, timeout: float | None = None) -> int:
        """Forward one batch; returns how many points left the buffer (0 = nothing ready). Raises RetryLater."""
        s = self.settings
        async with self._taking:  # takes are sequential, so concurrent batches never overlap
            if not self._loaded:
                await asyncio.to_thread(self._load_pending)
            if self._retry:
                signed = self._retry.pop(0)
            else:
                batch = await asyncio.to_thread(
                    self.buffer.take,
                    s.batch_points,
                    s.batch_bytes,
                    live_share=s.live_share,
                    exclude=list(self._in_flight.values()),
                )
                if not batch:
                    return 0
                signed = SignedBatch(batch, batch.body, 0)
                if self.signer is not None:  # under the lock: the chain's order is the takes' order
                    signed = await asyncio.to_thread(self.signer.sign, batch)
                del batch  # signed, the batch as taken (its body) is not held while it is sent
                self._in_flight[id(signed.batch)] = signed.batch
        try:
            await self._send(signed, timeout if timeout is not None else self.timeout_s)
        except BaseException:
            if self.signer is None:
                self._in_flight.pop(id(signed.batch), None)  # retaken later
            else:
                self._retry.append(signed)  # signed: retried as it is, so it is one write however often sent
            raise
        self._in_flight.pop(id(signed.batch), None)
        self.last_success_mono = time.monotonic()
        return len(signed.batch)

    def _load_pending(self) -> None:
        """The signed batches an earlier run left unacknowledged: sent first, as they were; their rows stay
        out of takes until then. One already acknowledged (the agent died between the ack and forgetting it)
        is only forgotten."""
        self._loaded = True
        if self.signer is None:
            return
        for signed in self.signer.pending():
            if self.buffer.holds(signed.batch):
                self._retry.append(signed)
                self._in_flight[id(signed.batch)] = signed.batch
            else:
                self.signer.done(signed)
        if self._retry:
            self._log.info(
                "re-sending signed batches of an earlier run",
                extra={"batches": len(self._retry), "points": sum(len(b.batch) for b in self._retry)},
            )

    async def _send(self, signed: SignedBatch, timeout: float) -> None:
        refused = await self._write(signed.body, timeout)
        dead: list[tuple[str, str]] = []
        if refused is not None:
            lines, manifests = signed.parts()
            dead = await self._bisect(lines, refused, timeout)
            for line, error in dead:
                self._dead_log.warning(
                    "dead-letter",
                    "InfluxDB refused a point: dead-lettered",
                    error=error[:300],
                    line=line[:300],
                )
            if manifests and self.signer is not None:
                await self._write_manifests(self.signer.resign(signed, [line for line, _ in dead]), timeout)
            dead = [(unsigned_line(line), error) for line, error in dead]
        await asyncio.to_thread(self.buffer.ack, signed.batch, dead=dead)
        self.refused_points += len(dead)
        if self.signer is not None:
            self.signer.done(signed)

    async def _write_manifests(self, body: bytes, timeout: float) -> None:
        """After a bisect: the manifests without the refused points (they overwrite the first ones)."""
        error = await self._write(body, timeout)
        if error is not None:  # a manifest is ours: refused, it is a bug to see, not a point to dead-letter
            self._log.error(
                "InfluxDB refused evidence manifests; these points will not verify",
                extra={"error": str(error)[:300]},
            )

    async def _write(self, body: str | bytes, timeout: float) -> InfluxClientError | None:
        """Write; None when written, the error when InfluxDB refused the body as malformed. Else RetryLater."""
        try:
            await asyncio.to_thread(self.writer.write, body, timeout=timeout)
        except InfluxClientError as err:
            if err.status not in MALFORMED_STATUSES:
                raise RetryLater(str(err)) from err
            return err
        except InfluxServerError as err:
            raise RetryLater(str(err), err.retry_after) from err
        except Exception as err:  # noqa: BLE001 - connection errors and anything unexpected: keep the points
            raise RetryLater(f"{type(err).__name__}: {err}") from err
        return None

    async def _bisect(
        self, lines: list[str], refused: InfluxClientError, timeout: float
    ) -> list[tuple[str, str]]:
        """Write the good lines of a refused body by halves; return the refused lines with InfluxDB's error.

        Nothing is acknowledged until the whole batch is sorted: if this is interrupted (a retryable error, a
        crash), the batch is written again later, and lines already written overwrite themselves (same series
        and timestamp), so no point is lost or doubled.
        """
        if len(lines) == 1:
            return [(lines[0], str(refused))]
        half = len(lines) // 2
        dead = []
        for part in (lines[:half], lines[half:]):
            error = await self._write("\n".join(part), timeout)
            if error is not None:
                dead += await self._bisect(part, error, timeout)
        return dead

    def _failed(self, err: RetryLater) -> float:
        at_least = None if err.retry_after is None else min(err.retry_after, MAX_RETRY_AFTER_S)
        delay = self._backoff.next(at_least)
        self._down.problem(str(err), buffer_points=self.buffer.points, retry_in_s=round(delay, 2))
        self.last_error = str(err)[:300]
        return delay

    def _succeeded(self) -> None:
        self.last_error = None
        self._backoff.reset()
        self._down.ok(buffer_points=self.buffer.points)

    # -- loops -------------------------------------------------------------------------------------------
    async def run(
        self, stop: asyncio.Event, wake: asyncio.Event | None = None, *, idle_s: float = 1.0
    ) -> None:
        """Forward until ``stop`` is set, ``settings.concurrency`` batches at a time.

        ``wake`` (the pipeline's commit event) ends an idle wait early.
        """
        await asyncio.gather(*(self._worker(stop, wake, idle_s) for _ in range(self.settings.concurrency)))

    async def _worker(self, stop: asyncio.Event, wake: asyncio.Event | None, idle_s: float) -> None:
        while not stop.is_set():
            if wake is not None:
                # Cleared before looking, so a commit that lands while this step finds nothing still wakes
                # the idle wait at once (cleared after, it was lost: the worker slept a whole idle_s).
                wake.clear()
            wait = self._live_wait()
            if wait > 0:
                await self._idle(stop, wake, min(wait, idle_s))
                continue
            try:
                moved = await self.step()
            except RetryLater as err:
                await _sleep_unless(stop, self._failed(err))
                continue
            self._succeeded()
            self._ready_since = None
            if moved == 0:
                await self._idle(stop, wake, idle_s)

    def _live_wait(self) -> float:
        """Seconds to wait before the next take: 0 for a backlog of ``batch_points``, a batch to retry or
        points ready for ``live_interval_s``, or when the buffer stores its intake in ``SYNC_LEAD_S``."""
        ready = self.buffer.ready - sum(len(b) for b in self._in_flight.values())
        if self._retry or ready >= self.settings.batch_points or not self._loaded:
            return 0.0
        now = time.monotonic()
        if ready <= 0:
            self._ready_since = None
            return 0.0  # the step finds nothing and idles until the next commit
        if self._ready_since is None:
            self._ready_since = now
        due = self._ready_since + self.settings.live_interval_s
        if self.next_sync is not None:
            before_sync = self.next_sync() - SYNC_LEAD_S
            if self._ready_since < before_sync:  # ready before this store's lead: go before it
                due = min(due, before_sync)
        return max(0.0, due - now)

    async def _idle(self, stop: asyncio.Event, wake: asyncio.Event | None, idle_s: float) -> None:
        if wake is None:
            await _sleep_unless(stop, idle_s)
            return
        waiters = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(wake.wait())]
        try:
            await asyncio.wait(waiters, timeout=idle_s, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for w in waiters:
                w.cancel()

    async def flush(self, deadline_s: float) -> bool:
        """Forward what can be forwarded within ``deadline_s`` (shutdown). True when nothing ready is left."""
        end = time.monotonic() + deadline_s
        while (remaining := end - time.monotonic()) > 0:
            try:
                if await self.step(timeout=max(0.5, remaining)) == 0:
                    return True
            except RetryLater as err:
                self._log.warning(
                    "flush stopped: InfluxDB not writable",
                    extra={"error": str(err)[:300], "buffer_points": self.buffer.points},
                )
                return False
        return self.buffer.ready == 0

    async def drain(
        self,
        *,
        on_progress: Callable[[int], None] | None = None,
        deadline_s: float | None = None,
        stop: asyncio.Event | None = None,
    ) -> bool:
        """Forward every ready point, retrying with backoff. True when done, False on deadline or stop."""
        end = None if deadline_s is None else time.monotonic() + deadline_s

        async def worker() -> bool:
            while not (stop and stop.is_set()):
                if end is not None and time.monotonic() >= end:
                    return False
                try:
                    moved = await self.step()
                except RetryLater as err:
                    delay = self._failed(err)
                    if end is not None:
                        delay = min(delay, max(0.0, end - time.monotonic()))
                    await _sleep_unless(stop, delay)
                    continue
                self._succeeded()
                if moved == 0:
                    return True
                if on_progress:
                    on_progress(moved)
            return False

        results = await asyncio.gather(*(worker() for _ in range(self.settings.concurrency)))
        return all(results) and self.buffer.ready == 0
