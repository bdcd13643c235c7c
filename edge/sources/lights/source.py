"""The street-light source: MQTT in, per-light state journaled, ``streetlight`` samples out at a fixed cadence.

Delivery guarantee (docs/lights.md): the session is persistent (fixed client id, ``clean_session=False``,
QoS 1), and a message is acknowledged (PUBACK) only after the state change it caused is committed to the
light journal, an fdatasync'd append that survives a power cut. Messages are gathered into one commit for up
to ``commit_interval_ms`` (60 s: each commit writes an SD card page), 64 messages, or ``_QUIET_S`` without a new
message, whichever comes first. If the agent dies between receiving and committing, the broker still holds
the message as
unacknowledged and delivers it again to the same session after the restart. Samples are produced from that
journaled state by the tracker alone, never one per message.
"""

from __future__ import annotations

import asyncio
import functools
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Final

from edge.config import MqttSettings
from edge.sources.base import PushSource, SourceConfig, SourceContext
from edge.sources.lights.config import LightsConfig
from edge.sources.lights.inventory import Inventory, load_inventory
from edge.sources.lights.journal import LightJournal
from edge.sources.lights.mqtt import BrokerError, Connection, Inbound
from edge.sources.lights.router import Route, Router
from edge.sources.lights.tracker import LightState, LightTracker, Sample, TrackerSettings
from thonminh.backoff import Backoff
from thonminh.contract import STREETLIGHT, Point
from thonminh.errors import ConfigError
from thonminh.logs import Episode

__all__ = ["SOURCE", "LightsSource"]

#: Gather more messages for a commit only while the batch is this small (under load batches fill by themselves).
_SMALL_BATCH: Final = 64
_CONNECT_TIMEOUT_S: Final = 30.0
#: After a read that emptied the socket, read again this much later at the earliest (mqtt.Connection): the
#: journal commit waits commit_interval_ms anyway, so a message's acknowledgement is no later for it.
_READ_PAUSE_S: Final = 0.1
_TICK_S: Final = 30.0
#: Commit a group early when the broker has sent nothing for this long: it may be waiting for our
#: acknowledgements (its in-flight window, max_inflight_messages, is full), which a longer wait cannot bring.
_QUIET_S: Final = 5.0
#: The same wait right after a full group: a burst (a backlog the broker held for our session) that stops has
#: ended, and its last messages should not wait five seconds for their acknowledgement.
_BURST_QUIET_S: Final = 0.2
_MAX_HELD_POINTS: Final = 100_000


@dataclass(frozen=True, slots=True)
class _Parts:
    """What ``init`` builds from the config and the journal."""

    inventory: Inventory
    journal: LightJournal
    tracker: LightTracker
    router: Router


class LightsSource(PushSource):
    """Street lights over MQTT (Tasmota, ESPHome, our own JSON)."""

    kind = "lights"
    Config = LightsConfig
    config: LightsConfig
    uses_mqtt = True

    def __init__(self, config: SourceConfig, ctx: SourceContext) -> None:
        super().__init__(config, ctx)
        if ctx.mqtt is None:
            raise ValueError("the lights source needs the broker's settings (ctx.mqtt)")
        self._mqtt: MqttSettings = ctx.mqtt
        self._parts: _Parts | None = None
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="lights-journal")
        self._held: list[Point] = []
        #: Messages whose effect is committed and that were acknowledged to the broker (or were QoS 0).
        self.acknowledged = 0
        #: True while subscribed to the broker.
        self.connected = False
        #: The current (or last) connection to the broker.
        self.connection: Connection | None = None
        self._broker = Episode(self.log, "mqtt broker", host=ctx.mqtt.host)
        self._emitting = Episode(self.log, "streetlight samples not committed")
        self._health: dict[str, str | None] = {}
        self._all_well = True

    async def init(self) -> None:
        cfg = self.config
        if self.ctx.location is None:
            raise ConfigError(
                f"{self.ctx.key_path}: the site's latitude and longitude are needed for the schedule"
            )
        inventory = load_inventory(cfg.inventory)
        schedule = cfg.schedule.build(*self.ctx.location, self.ctx.timezone)
        self.ctx.state_dir.mkdir(parents=True, exist_ok=True)
        if self._parts is not None:  # init again after a failed start: the journal is open already
            self._parts.journal.close()
        journal = LightJournal(self.ctx.state_dir / "lights.sqlite", logger=self.log)
        states = {k: LightState.from_json(v) for k, v in journal.load().items()}
        settings = TrackerSettings(
            interval_s=cfg.interval_s,
            report_period_s=cfg.report_period_s,
            stale_multiple=cfg.stale_multiple,
            lamp_failure_share=cfg.lamp_failure_share,
            lamp_failure_settle_s=cfg.lamp_failure_settle_s,
            max_gap_s=max(600.0, 3 * cfg.interval_s),
        )
        tracker = LightTracker(inventory, schedule, settings, start_ms=self.ctx.now_ms(), states=states)
        router = Router(
            [Route.of(r.pattern, r.format) for r in cfg.topics],
            tracker,
            reject=self.ctx.reject,
            max_payload_bytes=cfg.max_payload_bytes,
            logger=self.log,
        )
        self._parts = _Parts(inventory, journal, tracker, router)
        self.log.info(
            "lights ready",
            extra={
                "lights": len(inventory),
                "restored": len(states),
                "client_id": self.client_id,
                "filters": ",".join(router.filters),
            },
        )

    @property
    def parts(self) -> _Parts:
        if self._parts is None:
            raise RuntimeError("the lights source is used before init()")
        return self._parts

    @property
    def tracker(self) -> LightTracker:
        return self.parts.tracker

    @property
    def router(self) -> Router:
        return self.parts.router

    @property
    def client_id(self) -> str:
        if self.config.client_id:
            return self.config.client_id
        base = self._mqtt.client_id
        return base if self.config.name is None else f"{base}-{self.config.name}"

    async def run(self) -> None:
        cadence = asyncio.create_task(self._cadence(), name=f"{self.name}-cadence")
        try:
            await self._receive_forever()
        finally:
            cadence.cancel()
            await asyncio.gather(cadence, return_exceptions=True)

    async def close(self) -> None:
        """Write the part of the interval since the last boundary, then close the journal."""
        try:
            if self._parts is not None:
                self._parts.tracker.flush(self.ctx.now_ms())
                await asyncio.wait_for(self._emit_samples(), timeout=5.0)
        except Exception as err:  # stopping anyway; the lost part is only the last partial interval
            self.log.warning("could not write the last partial interval", extra={"error": repr(err)[:300]})
        finally:
            self._executor.shutdown(wait=True)
            if self._parts is not None:
                self._parts.journal.close()

    # -- samples ---------------------------------------------------------------------------------------------

    async def _cadence(self) -> None:
        while True:
            delay = (self.tracker.next_boundary_ms - self.ctx.now_ms()) / 1000
            # wake at least every _TICK_S so a wall-clock jump is noticed as one, even with long intervals
            await asyncio.sleep(min(max(delay, 0.0), _TICK_S))
            self.tracker.tick(self.ctx.now_ms())
            await self._emit_samples()

    def _report_health(self, samples: list[Sample] | None = None) -> None:
        """For ``thonminh edge status``: lights online of all and by fault (at the last boundary), the broker."""
        if samples:
            latest = {s.light: s.fields for s in samples}.values()  # a light's newest sample wins
            faults = Counter(self.tracker.current_faults(samples).values())
            faults.pop("", None)
            online = sum(int(f.get("online", 0)) for f in latest)
            self._all_well = online == len(latest) and not faults
            self._health = {
                "lights_online": f"{online}/{len(latest)}",
                "faults": ", ".join(f"{k} {n}" for k, n in sorted(faults.items())) or None,
            }
        unknown = (
            ", ".join(self.router.stats.recent_unknown) or None
        )  # the last few devices not in the inventory
        detail = {**self._health, "mqtt_connected": self.connected, "unknown_devices": unknown}
        self.ctx.health("down" if not self.connected else "ok" if self._all_well else "degraded", detail)

    def _point(self, sample: Sample) -> Point:
        return self.ctx.point(STREETLIGHT.name, sample.tags, sample.fields, time_ms=sample.time_ms)

    async def _emit_samples(self) -> None:
        samples = self.tracker.take_samples()
        if samples:
            self._report_health(samples)
        points = self._held + [self._point(s) for s in samples]
        self._held = []
        if not points:
            return
        try:
            await self.ctx.emit(points)
        except asyncio.CancelledError:
            self._held = points
            raise
        except Exception as err:  # the pipeline will be back; keep the samples until it is
            self._held = points[-_MAX_HELD_POINTS:]
            self._emitting.problem(repr(err)[:300], held=len(self._held))
        else:
            self._emitting.ok()

    # -- MQTT ------------------------------------------------------------------------------------------------

    async def _receive_forever(self) -> None:
        backoff = Backoff(self.config.reconnect_initial_s, self.config.reconnect_max_s)
        while True:
            try:
                await self._session()
            except (BrokerError, OSError) as err:  # OSError: refused, unreachable, TLS, timeouts
                self._broker.problem(str(err)[:300] or type(err).__name__)
            if self.connected:
                backoff.reset()  # the broker was there: a new outage starts with short waits
            self.connected = False
            self._report_health()
            await asyncio.sleep(backoff.next())

    async def _session(self) -> None:
        connection = Connection(
            self._mqtt,
            client_id=self.client_id,
            filters=self.router.filters,
            qos=self.config.qos,
            timeout=_CONNECT_TIMEOUT_S,
            read_pause_s=min(_READ_PAUSE_S, self.config.commit_interval_ms / 1000),
            logger=self.log.getChild("mqtt"),
        )
        self.connection = connection
        async with connection:
            self.connected = True
            self._broker.ok()
            self._report_health()
            await self._consume(connection)

    async def _consume(self, connection: Connection) -> None:
        """Receive and commit side by side: messages handled while a commit is on disk go into the next one."""
        pending: list[Inbound] = []
        handled = asyncio.Event()
        tasks = [
            asyncio.create_task(self._receive(connection, pending, handled)),
            asyncio.create_task(self._commit_and_ack(connection, pending, handled)),
        ]
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        for task in done:
            error = task.exception()
            if error is not None:
                raise error

    async def _receive(self, connection: Connection, pending: list[Inbound], handled: asyncio.Event) -> None:
        while True:
            batch = await connection.batch()
            self.router.handle_batch(batch, self.ctx.now_ms())
            pending += batch
            handled.set()

    async def _commit_and_ack(
        self, connection: Connection, pending: list[Inbound], handled: asyncio.Event
    ) -> None:
        loop = asyncio.get_running_loop()
        journal = self.parts.journal
        quiet_s = _QUIET_S
        while True:
            await handled.wait()
            handled.clear()
            await _gather_more(pending, handled, self.config.commit_interval_ms / 1000, quiet_s)
            # Everything handled up to here is in these rows; what arrives during the write waits for the next.
            batch = pending[:]
            quiet_s = _BURST_QUIET_S if len(batch) >= _SMALL_BATCH else _QUIET_S
            pending.clear()
            rows = self.tracker.take_dirty()
            if rows:
                write = functools.partial(journal.write, rows, now_ms=self.ctx.now_ms())
                await loop.run_in_executor(self._executor, write)
            connection.ack(batch)
            self.acknowledged += len(batch)


async def _gather_more(
    pending: list[Inbound], handled: asyncio.Event, interval_s: float, quiet_s: float
) -> None:
    """Wait up to ``interval_s`` for a small batch to grow, but not once it is big enough, nor once the broker
    has been quiet for ``quiet_s``.

    Returning early matters under load and with a small in-flight window (Mosquitto's default is 20): sleeping
    the whole interval with the broker's window full (it waits for our acknowledgements) would hold the next
    messages back for nothing.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + interval_s
    while len(pending) < _SMALL_BATCH and (left := deadline - loop.time()) > 0:
        try:
            await asyncio.wait_for(handled.wait(), min(left, quiet_s))
        except TimeoutError:
            return
        handled.clear()


SOURCE = LightsSource
