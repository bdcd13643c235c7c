"""The gateway agent: every source instance, the pipeline, the forwarder, the clock and systemd, in one loop.

One task per source instance (polled: drift-free schedule ``start + k * interval`` that skips missed ticks;
push: ``run()`` restarted with backoff when it raises), one committing task (``Pipeline``), one forwarding
task (``Forwarder``), and a systemd watchdog. A source's exception is logged (rate-limited) and counted,
never fatal; a ``ConfigError`` from a source's ``init`` stops the agent before anything runs.

Shutdown (SIGTERM/SIGINT through ``stop``): sources stop first, everything they emitted is committed, then the
forwarder flushes for up to ``forwarder.flush_deadline_s``; whatever is left stays in the buffer for the next
start.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from edge.buffer import Buffer
from edge.clock import Clock
from edge.config import GatewayConfig
from edge.filemodes import private_dir
from edge.forwarder import Forwarder
from edge.health import HealthBook
from edge.pipeline import Pipeline
from edge.signing import open_signer
from edge.sources.base import PolledSource, PushSource, Source, SourceConfig, SourceContext
from edge.sources.registry import load_source_class, source_kinds
from edge.stats import Stats
from edge.systemd import Notifier, watchdog_interval
from thonminh.backoff import Backoff
from thonminh.errors import ConfigError
from thonminh.influx import LineWriter
from thonminh.logs import RateLimited

__all__ = ["Agent", "SELF_METRICS_KIND", "SourceSpec", "tune_malloc"]

log = logging.getLogger(__name__)

#: A source class and its config: how tests and the simulator add sources that have no folder.
SourceSpec = tuple[type[Source], SourceConfig]
#: The self-metrics source runs even without a ``[sources.gateway]`` table, every ``gateway_interval_s``.
SELF_METRICS_KIND = "gateway"
_RESTART_INITIAL_S, _RESTART_MAX_S = 1.0, 60.0
_M_MMAP_THRESHOLD, _M_ARENA_MAX = -3, -8  # glibc mallopt(3)


def tune_malloc(*, arenas: int = 2, mmap_threshold: int = 128 * 1024) -> bool:
    """Keep glibc from hoarding freed memory: the forwarder's ~1 MiB batch bodies would otherwise raise
    the dynamic mmap threshold and stay in the heap after use, and each worker thread would keep its own
    arena (measured: +8 MB of RSS while draining a backlog, +1 MB with this). No-op off glibc."""
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6")
        return bool(libc.mallopt(_M_MMAP_THRESHOLD, mmap_threshold) and libc.mallopt(_M_ARENA_MAX, arenas))
    except (OSError, AttributeError):
        return False


@dataclass
class _Tasks:
    pipeline: asyncio.Task[None] | None = None
    forwarder: asyncio.Task[None] | None = None
    watchdog: asyncio.Task[None] | None = None
    health: asyncio.Task[None] | None = None
    sources: list[asyncio.Task[None]] = field(default_factory=list)

    def core(self) -> list[asyncio.Task[None]]:
        return [t for t in (self.pipeline, self.forwarder, self.watchdog) if t is not None]


@dataclass
class _Running:
    source: Source
    name: str
    healthy: bool = True


class Agent:
    """Runs a gateway from its config. ``clock`` and ``writer`` may be injected (tests, benchmarks).

    ``sign=False`` forwards unsigned batches: only for bench/agent_cpu.py, which weighs the cost of signing
    against the same agent without it (neither the config nor the CLI can turn signing off).
    """

    def __init__(
        self,
        config: GatewayConfig,
        *,
        clock: Clock | None = None,
        writer: LineWriter | None = None,
        logger: logging.Logger | None = None,
        extra_sources: Sequence[SourceSpec] = (),
        notifier: Notifier | None = None,
        sign: bool = True,
    ) -> None:
        self.config = config
        self._sign = sign
        self.clock = clock or Clock.from_settings(config.clock)
        self._writer = writer
        self._log = logger or log
        self._extra = list(extra_sources)
        self.notifier = notifier or Notifier()
        self._limited = RateLimited(self._log, period=60.0, burst=2)
        self.buffer: Buffer | None = None
        self.stats: Stats | None = None
        self.pipeline: Pipeline | None = None
        self.forwarder: Forwarder | None = None
        #: Each source's health, written on tmpfs beside the intake for ``thonminh edge status``.
        self.health = HealthBook(config.health_path(), now_ms=self.clock.now_ms)
        self.sources: list[Source] = []
        #: Set once every source runs (tests wait on it).
        self.started = asyncio.Event()

    # -- sources -----------------------------------------------------------------------------------------
    def source_specs(self) -> list[SourceSpec]:
        """Every enabled source instance: from the config, the default self-metrics, and ``extra_sources``."""
        return [(cls, cfg) for cls, cfg, _ in self.keyed_specs()]

    def keyed_specs(self) -> list[tuple[type[Source], SourceConfig, str]]:
        """(class, config, key path) of every enabled source instance (``thonminh edge test`` builds them too)."""
        config = self.config
        specs: list[tuple[type[Source], SourceConfig, str]] = []
        for kind, key_path, cfg in config.source_entries():
            if kind == SELF_METRICS_KIND and "interval_s" not in cfg.model_fields_set:
                cfg = cfg.model_copy(update={"interval_s": config.gateway_interval_s})
            specs.append((load_source_class(kind), cfg, key_path))
        configured = getattr(config.sources, SELF_METRICS_KIND, None)
        if SELF_METRICS_KIND in source_kinds() and not configured:
            cls = load_source_class(SELF_METRICS_KIND)
            specs.append(
                (cls, cls.Config(interval_s=config.gateway_interval_s), f"sources.{SELF_METRICS_KIND}")
            )
        # sources added in code (tests, the simulator) have no place in the file
        return specs + [(cls, cfg, f"sources.{cls.kind}") for cls, cfg in self._extra]

    def _context(self, cls: type[Source], name: str, key_path: str) -> SourceContext:
        assert self.pipeline is not None and self.stats is not None
        state_dir = self.config.state_dir / cls.kind / name
        private_dir(state_dir)
        stats = self.stats
        return self.config.source_context(
            cls,
            key_path,
            emit=self.pipeline.emit,
            logger=logging.getLogger(f"edge.sources.{cls.kind}.{name}"),
            state_dir=state_dir,
            now_ms=self.clock.now_ms,
            monotonic=self.clock.monotonic,
            clock_synced=self.clock.synced,
            reject=stats.rejecter(f"{cls.kind}:{name}"),
            health=self.health.reporter(f"{cls.kind}:{name}", cls.kind),
            stats=(lambda: stats.snapshot().fields()) if cls.uses_stats else None,
        )

    async def _init_sources(self) -> list[_Running]:
        running = []
        for cls, cfg, key_path in self.keyed_specs():
            name = cfg.name or cls.kind
            source = cls(cfg, self._context(cls, name, key_path))
            self.sources.append(source)
            entry = _Running(source, f"{cls.kind}:{name}")
            try:
                await source.init()
            except ConfigError:
                raise
            except Exception as err:  # noqa: BLE001 - e.g. a device not plugged in yet: retried in its task
                entry.healthy = False
                self._log.warning(
                    "source init failed; retrying", extra={"source": entry.name, "error": str(err)}
                )
            running.append(entry)
        return running

    async def _run_source(self, entry: _Running) -> None:
        backoff = Backoff(_RESTART_INITIAL_S, _RESTART_MAX_S)
        while not entry.healthy:
            await asyncio.sleep(backoff.next())
            try:
                await entry.source.init()
                entry.healthy = True
            except Exception as err:  # noqa: BLE001
                self._failed(entry, "init", err)
        if isinstance(entry.source, PolledSource):
            await self._poll(entry, entry.source)
            return
        assert isinstance(entry.source, PushSource)
        await self._push(entry, entry.source)

    async def _push(self, entry: _Running, source: PushSource) -> None:
        """Run a push source, restarting it with backoff; a run that lasted starts the backoff over."""
        loop = asyncio.get_running_loop()
        backoff = Backoff(_RESTART_INITIAL_S, _RESTART_MAX_S)
        while True:
            started = loop.time()
            try:
                await source.run()
                self._limited.warning(
                    f"{entry.name}:returned", "push source returned; restarting", source=entry.name
                )
            except Exception as err:  # noqa: BLE001 - restarted with backoff
                self._failed(entry, "run", err)
            if loop.time() - started > _RESTART_MAX_S:
                backoff.reset()
            await asyncio.sleep(backoff.next())

    async def _poll(self, entry: _Running, source: PolledSource) -> None:
        assert self.pipeline is not None
        loop = asyncio.get_running_loop()
        interval = source.config.interval_s
        start = loop.time()
        tick = 0
        while True:
            try:
                points = await source.sample()
                if points:
                    await self.pipeline.emit(points)
            except Exception as err:  # noqa: BLE001 - a failed sample is counted, never fatal
                self._failed(entry, "sample", err)
            # next tick on the fixed grid; ticks missed by a slow sample are skipped, not bunched
            tick = max(tick + 1, math.floor((loop.time() - start) / interval) + 1)
            await asyncio.sleep(max(0.0, start + tick * interval - loop.time()))

    def _failed(self, entry: _Running, what: str, err: Exception) -> None:
        assert self.stats is not None
        self.stats.source_error(entry.name)
        self._limited.log(
            logging.ERROR,
            f"{entry.name}:{what}",
            f"source {what} failed",
            source=entry.name,
            error=f"{type(err).__name__}: {err}",
            errors=self.stats.source_errors[entry.name],
        )

    # -- lifecycle ---------------------------------------------------------------------------------------
    async def run(self, stop: asyncio.Event | None = None) -> None:
        """Run until ``stop`` is set (or forever), then shut down cleanly."""
        stop = stop or asyncio.Event()
        config = self.config
        tune_malloc()  # before the first worker thread starts
        private_dir(config.state_dir)
        # older agents kept the health file here, on the SD card: now on tmpfs, so that one would only mislead
        (config.state_dir / "health.json").unlink(missing_ok=True)
        self.buffer = await asyncio.to_thread(
            Buffer,
            config.buffer.path,
            max_bytes=config.buffer.max_bytes,
            boot_id=self.clock.boot_id,
            dead_letters_max=config.buffer.dead_letters_max,
            row_points=config.buffer.row_points,
            intake=config.buffer.intake_path(),
            # a store a power cut tore is renamed aside (and logged): crashing on it would stop the measuring
            set_aside_damaged=True,
            logger=logging.getLogger("edge.buffer"),
        )
        writer = self._writer or config.influxdb.writer()
        self.stats = Stats(self.buffer, self.clock)
        self.pipeline = Pipeline(
            self.buffer,
            self.clock,
            self.stats,
            commit_interval_ms=config.buffer.commit_interval_ms,
            check_interval_s=config.clock.check_interval_s,
            sync_interval_s=config.buffer.sync_interval_s,
        )
        signer = await asyncio.to_thread(open_signer, config, self._log) if self._sign else None
        self.forwarder = Forwarder(
            self.buffer,
            writer,
            config.forwarder,
            timeout_s=config.influxdb.timeout_s,
            signer=signer,
            next_sync=self.pipeline.next_sync,
        )
        forwarder_stop = asyncio.Event()
        tasks = _Tasks()
        try:
            tasks.pipeline = asyncio.create_task(self.pipeline.run(), name="pipeline")
            tasks.forwarder = asyncio.create_task(
                self.forwarder.run(forwarder_stop, self.pipeline.committed), name="forwarder"
            )
            running = await self._init_sources()
            tasks.sources = [asyncio.create_task(self._run_source(e), name=e.name) for e in running]
            tasks.watchdog = asyncio.create_task(self._watchdog(stop), name="watchdog")
            tasks.health = asyncio.create_task(self._keep_health(stop), name="health")
            self._log.info(
                "agent started",
                extra={
                    "sources": ",".join(e.name for e in running),
                    "buffer_points": self.buffer.points,
                    "influxdb": config.influxdb.url,
                    "api": config.influxdb.api,
                },
            )
            self.notifier.ready(f"{len(running)} sources, {self.buffer.points} points buffered")
            self.started.set()
            await self._until_stopped(stop, tasks.core())
        finally:
            self.notifier.stopping()
            await self._shutdown(tasks, forwarder_stop)
            with contextlib.suppress(Exception):
                writer.close()
            self.buffer.close()
            if signer is not None:
                signer.stop()
            self._log.info("agent stopped", extra={"buffer_points": self.buffer.points})

    async def _until_stopped(self, stop: asyncio.Event, core: list[asyncio.Task[None]]) -> None:
        stopper = asyncio.ensure_future(stop.wait())
        try:
            done, _ = await asyncio.wait([stopper, *core], return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopper.cancel()
        for task in done:
            if task is not stopper and task.exception() is not None:
                raise RuntimeError(f"agent task {task.get_name()} failed") from task.exception()

    async def _shutdown(self, tasks: _Tasks, forwarder_stop: asyncio.Event) -> None:
        for task in tasks.sources:
            task.cancel()
        await asyncio.gather(*tasks.sources, return_exceptions=True)
        for source in self.sources:
            try:
                await source.close()
            except Exception as err:  # noqa: BLE001
                self._log.warning("source close failed", extra={"source": source.name, "error": str(err)})
        if self.pipeline is not None and tasks.pipeline is not None:
            # commits everything the sources emitted before they stopped
            await self.pipeline.close()
            await asyncio.gather(tasks.pipeline, return_exceptions=True)
        forwarder_stop.set()
        for helper in (tasks.watchdog, tasks.health):
            if helper is not None:
                helper.cancel()
                await asyncio.gather(helper, return_exceptions=True)
        if self.forwarder is not None and tasks.forwarder is not None:
            await asyncio.gather(tasks.forwarder, return_exceptions=True)
            flushed = await self.forwarder.flush(self.config.forwarder.flush_deadline_s)
            self._log.info(
                "flushed" if flushed else "flush incomplete; the rest stays buffered",
                extra={"buffer_points": self.buffer.points if self.buffer else 0},
            )
        self._report_core()
        await asyncio.to_thread(self.health.stopped)

    async def _keep_health(self, stop: asyncio.Event) -> None:
        """Report the clock's and InfluxDB's health beside the sources', and keep the file written."""
        writer = asyncio.create_task(self.health.run(stop), name="health-writer")
        try:
            while not stop.is_set():
                self._report_core()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), self.config.clock.check_interval_s)
        finally:
            writer.cancel()
            await asyncio.gather(writer, return_exceptions=True)

    def _report_core(self) -> None:
        synced = self.clock.last_synced
        self.health.report("clock", "clock", "ok" if synced else "degraded", {"synced": synced})
        if self.buffer is None or self.forwarder is None:
            return
        last = self.forwarder.last_success_mono
        # Up while the backlog is empty or writes succeed within a full retry period; down otherwise.
        fwd = self.config.forwarder
        patience = fwd.backoff_max_s + self.config.influxdb.timeout_s + fwd.live_interval_s
        ok = self.buffer.ready == 0 or (last is not None and time.monotonic() - last <= patience)
        detail: dict[str, str | int | float | bool | None] = {"backlog": self.buffer.ready}
        if self.forwarder.last_error is not None:
            detail["error"] = self.forwarder.last_error  # the cause status names: refused, 401, a timeout
        self.health.report("influxdb", "influxdb", "ok" if ok else "down", detail)

    async def _watchdog(self, stop: asyncio.Event) -> None:
        interval = watchdog_interval()
        if interval is None or not self.notifier.enabled:
            await stop.wait()
            return
        while not stop.is_set():
            self.notifier.watchdog()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), interval)
