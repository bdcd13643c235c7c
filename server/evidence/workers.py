"""Cold verification spread over worker processes: a long window cut into one part per process.

Verifying is Python's own CPU (each point's canonical text and digest, the checks), so one process uses one
core whatever the machine has: a village-month read cold costs about 30 CPU-s, and a province's first start
(every village's month) hours of them. A window of at least ``SPLIT_HOURS`` is cut into one run of whole
hours per process; each process reads and verifies its part with ``read_and_verify`` as the service would
(its own connection, its own chain walk a day beyond its part), so the results are the same, hour for hour,
and come back oldest first. Shorter windows (an hour, the sweep's few, a request's days) are verified in the
calling process: a part sent elsewhere pays its pickling and the chains' margins for little gain.

Processes are started with ``spawn``, not forked: the service runs threads (uvicorn, the roll-ups, the sweep),
and a fork would copy their locks in whatever state they were. Each part gets a fresh process, which peaks at
about 180 MB (a day's answers, and the next day's read meanwhile) and gives it all back when its part is done;
starting one costs about 0.3 CPU-s, 1 % of a village-month's part.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import pickle
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from itertools import pairwise

from server.evidence.registry import KeySnapshot
from server.evidence.source import HOUR_MS, read_and_verify
from server.evidence.verify import HourResult
from server.queries import Source
from thonminh.evidence import MANIFEST_MEASUREMENT, SIGNED_MEASUREMENTS
from thonminh.influx import InfluxClient

__all__ = ["SPLIT_HOURS", "Workers", "default_processes"]

log = logging.getLogger(__name__)

#: the shortest window sent to other processes: two days, each process a day at least
SPLIT_HOURS = 48


def default_processes() -> int:
    """The machine's cores, at most 4: beyond that InfluxDB's own answering (about a third of the CPU a
    village-month costs) is what waits, and each process holds a day's answers."""
    return max(1, min(4, os.cpu_count() or 1))


def _part(
    client: InfluxClient, raw: Callable[[str], Source], keys: KeySnapshot, village: str, lo: int, hi: int
) -> list[HourResult]:
    try:
        return list(read_and_verify(client, raw, keys, village, lo, hi))
    finally:
        client.close()


class Workers:
    """Processes that verify the parts of long windows (thread-safe; started at the first long window)."""

    def __init__(self, processes: int, *, split_hours: int = SPLIT_HOURS) -> None:
        self.processes = processes
        self.split_hours = split_hours
        #: parts verified in the processes, ever
        self.sent = 0
        self._pool: ProcessPoolExecutor | None = None
        self._lock = threading.Lock()

    def read_and_verify(
        self,
        client: InfluxClient,
        raw: Callable[[str], Source],
        keys: KeySnapshot,
        village: str,
        start_ms: int,
        end_ms: int,
    ) -> Iterator[HourResult]:
        """``server.evidence.source.read_and_verify``, the parts of a long window in the processes."""
        hours = (end_ms - start_ms) // HOUR_MS
        if self.processes < 2 or hours < self.split_hours or not _portable(client):
            yield from read_and_verify(client, raw, keys, village, start_ms, end_ms)
            return
        # the sources, not ``raw``: that is a roll-ups' method, which would take the roll-ups along
        sources = {m: raw(m) for m in (*SIGNED_MEASUREMENTS, MANIFEST_MEASUREMENT)}
        n = self.processes
        edges = [start_ms + k * hours // n * HOUR_MS for k in range(n)] + [end_ms]
        parts = list(pairwise(edges))
        pool = self._started()
        try:
            futures = [
                pool.submit(_part, client, sources.__getitem__, keys, village, lo, hi) for lo, hi in parts
            ]
            with self._lock:
                self.sent += len(futures)
            found = [future.result() for future in futures]
        except BrokenProcessPool as err:
            # a process killed (out of memory?): this window here, new processes for the next
            log.warning(
                "evidence: a verification process died; the window is verified in the service's process",
                extra={"village": village, "error": str(err)},
            )
            self._discard(pool)
            found = [list(read_and_verify(client, raw, keys, village, start_ms, end_ms))]
        for hours_of_part in found:
            yield from hours_of_part

    def _started(self) -> ProcessPoolExecutor:
        with self._lock:
            if self._pool is None:
                self._pool = ProcessPoolExecutor(
                    self.processes, mp_context=multiprocessing.get_context("spawn"), max_tasks_per_child=1
                )
            return self._pool

    def _discard(self, pool: ProcessPoolExecutor) -> None:
        with self._lock:
            if self._pool is pool:
                self._pool = None
        pool.shutdown(wait=False, cancel_futures=True)

    def close(self) -> None:
        with self._lock:
            if self._pool is not None:
                self._pool.shutdown(cancel_futures=True)
                self._pool = None


def _portable(client: InfluxClient) -> bool:
    """Whether another process can open a client like ``client`` (not one given its own transport, as tests
    and benchmarks do to count requests)."""
    try:
        pickle.dumps(client)
    except TypeError:
        return False
    return True
