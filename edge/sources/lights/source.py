"""The street-light source: MQTT in, per-light state journaled, ``streetlight`` samples out at a fixed cadence.

Delivery guarantee (docs/lights.md): the session is persistent (fixed client id, ``clean_session=False``,
QoS 1), and a message is acknowledged (PUBACK) only after the state change it caused is committed to the
light journal. If the agent dies between receiving and committing, the broker still holds the message as
unacknowledged and delivers it again to the same session after the restart. Samples are produced from that
journaled state by the tracker alone, never one per message.
"""

from __future__ import annotations

import asyncio
import functools
import random
import ssl
from concurrent.futures import ThreadPoolExecutor
from typing import Final

import aiomqtt

from edge.sources.base import PushSource
from edge.sources.lights.config import LightsConfig
from edge.sources.lights.inventory import load_inventory
from edge.sources.lights.journal import LightJournal
from edge.sources.lights.mqttfast import Inbound, Session, open_session
from edge.sources.lights.router import Route, Router
from edge.sources.lights.tracker import LightState, LightTracker, Sample, TrackerSettings
from thonminh.contract import STREETLIGHT, Point
from thonminh.logs import Episode

__all__ = ["SOURCE", "LightsSource"]

#: Gather more messages for a commit only while the batch is this small (under load batches fill by themselves).
_SMALL_BATCH: Final = 64
#: Reading is paced at low rates (mqttfast): at most this late, so a message's receive time stays this close.
_MAX_READ_PAUSE_S: Final = 0.1
_CONNECT_TIMEOUT_S: Final = 30.0
_TICK_S: Final = 30.0
_MAX_HELD_POINTS: Final = 100_000


class LightsSource(PushSource):
    """Street lights over MQTT (Tasmota, ESPHome, our own JSON)."""

    kind = "lights"
    Config = LightsConfig
    config: LightsConfig

    async def init(self) -> None:
        cfg = self.config
        site = self.ctx.gateway.site
        self.inventory = load_inventory(cfg.inventory)
        self.schedule = cfg.schedule.build(site.latitude, site.longitude, site.timezone)
        self.ctx.state_dir.mkdir(parents=True, exist_ok=True)
        self.journal = LightJournal(self.ctx.state_dir / "lights.sqlite", logger=self.log)
        states = {k: LightState.from_json(v) for k, v in self.journal.load().items()}
        settings = TrackerSettings(
            interval_s=cfg.interval_s, report_period_s=cfg.report_period_s, stale_multiple=cfg.stale_multiple,
            lamp_failure_share=cfg.lamp_failure_share, lamp_failure_settle_s=cfg.lamp_failure_settle_s,
            max_gap_s=max(600.0, 3 * cfg.interval_s),
        )
        self.tracker = LightTracker(self.inventory, self.schedule, settings, start_ms=self.ctx.now_ms(),
                                    states=states)
        self.router = Router(
            [Route.of(r.pattern, r.format) for r in cfg.topics], self.tracker, reject=self.ctx.reject,
            max_payload_bytes=cfg.max_payload_bytes, logger=self.log,
        )
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="lights-journal")
        self._held: list[Point] = []
        #: Messages whose effect is committed and that were acknowledged to the broker (or were QoS 0).
        self.acknowledged = 0
        #: Whether the current connection uses mqttfast's fast path (False: aiomqtt's plain path).
        self.fast_path = False
        self._broker = Episode(self.log, "mqtt broker", host=self.ctx.gateway.mqtt.host)
        self._emitting = Episode(self.log, "streetlight samples not committed")
        self.log.info("lights ready", extra={"lights": len(self.inventory), "restored": len(states),
                                             "client_id": self.client_id, "filters": ",".join(self.router.filters)})

    @property
    def client_id(self) -> str:
        if self.config.client_id:
            return self.config.client_id
        base = self.ctx.gateway.mqtt.client_id
        return base if self.config.name is None else f"{base}-{self.config.name}"

    @property
    def connected(self) -> bool:
        """True while subscribed to the broker."""
        return getattr(self, "_connected", False)

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
            tracker = getattr(self, "tracker", None)
            if tracker is not None:
                tracker.flush(self.ctx.now_ms())
                await asyncio.wait_for(self._emit_samples(), timeout=5.0)
        except Exception as err:  # stopping anyway; the lost part is only the last partial interval
            self.log.warning("could not write the last partial interval", extra={"error": repr(err)[:300]})
        finally:
            if getattr(self, "journal", None) is not None:
                self._executor.shutdown(wait=True)
                self.journal.close()

    # -- samples ---------------------------------------------------------------------------------------------

    async def _cadence(self) -> None:
        while True:
            delay = (self.tracker.next_boundary_ms - self.ctx.now_ms()) / 1000
            # wake at least every _TICK_S so a wall-clock jump is noticed as one, even with long intervals
            await asyncio.sleep(min(max(delay, 0.0), _TICK_S))
            self.tracker.tick(self.ctx.now_ms())
            await self._emit_samples()

    def _point(self, sample: Sample) -> Point:
        return self.ctx.point(STREETLIGHT.name, sample.tags, sample.fields, time_ms=sample.time_ms)

    async def _emit_samples(self) -> None:
        points = self._held + [self._point(s) for s in self.tracker.take_samples()]
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
        backoff = self.config.reconnect_initial_s
        while True:
            try:
                await self._session()
            except (aiomqtt.MqttError, OSError, TimeoutError) as err:
                self._broker.problem(str(err)[:300] or type(err).__name__)
            connected_before = self.connected
            self._connected = False
            if connected_before:
                backoff = self.config.reconnect_initial_s
            await asyncio.sleep(backoff * random.uniform(0.8, 1.2))
            backoff = min(backoff * 2, self.config.reconnect_max_s)

    def _client(self) -> aiomqtt.Client:
        mqtt = self.ctx.gateway.mqtt
        tls_params = None
        if mqtt.tls is not None:
            tls_params = aiomqtt.TLSParameters(
                ca_certs=str(mqtt.tls.ca_file) if mqtt.tls.ca_file else None,
                certfile=str(mqtt.tls.cert_file) if mqtt.tls.cert_file else None,
                keyfile=str(mqtt.tls.key_file) if mqtt.tls.key_file else None,
                cert_reqs=ssl.CERT_REQUIRED,
                tls_version=ssl.PROTOCOL_TLS_CLIENT,
            )
        client = aiomqtt.Client(
            mqtt.host, mqtt.port,
            username=mqtt.username,
            password=mqtt.password.get_secret_value() if mqtt.password else None,
            identifier=self.client_id,
            protocol=aiomqtt.ProtocolVersion.V311,
            clean_session=False,
            keepalive=mqtt.keepalive_s,
            timeout=_CONNECT_TIMEOUT_S,
            tls_params=tls_params,
            tls_insecure=mqtt.tls.insecure if mqtt.tls is not None else None,
            logger=self.log.getChild("mqtt"),
        )
        # Acknowledge after commit. aiomqtt 2.x does not expose paho's manual acknowledgement (empicano/aiomqtt
        # issue 345, PR 346 unmerged), so it is switched on in the paho client aiomqtt wraps, and it must be
        # before connecting: a persistent session's unacknowledged messages arrive right after CONNACK, and
        # paho would acknowledge those itself the moment they were queued.
        client._client.manual_ack_set(True)
        return client

    async def _session(self) -> None:
        client = self._client()
        # Before connecting: it takes over reading, and a persistent session's messages come right after CONNACK.
        session = open_session(client, pause_s=min(self.config.commit_interval_ms / 1000, _MAX_READ_PAUSE_S),
                               logger=self.log)
        self.fast_path = session.fast
        self.session = session
        await asyncio.wait_for(client.__aenter__(), timeout=_CONNECT_TIMEOUT_S)
        try:
            for topic_filter in self.router.filters:
                await client.subscribe(topic_filter, qos=self.config.qos)
            self._connected = True
            self._broker.ok()
            await self._consume(client, session)
        finally:
            await client.__aexit__(None, None, None)

    async def _consume(self, client: aiomqtt.Client, session: Session) -> None:
        """Receive and commit side by side: messages handled while a commit is on disk go into the next one."""
        pending: list[Inbound] = []
        handled = asyncio.Event()
        tasks = [
            asyncio.create_task(self._receive(session, pending, handled)),
            asyncio.create_task(self._commit_and_ack(session, pending, handled)),
            asyncio.create_task(_until_disconnected(client)),
        ]
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        for task in done:
            if task.exception() is not None:
                raise task.exception()  # type: ignore[misc]

    async def _receive(self, session: Session, pending: list[Inbound], handled: asyncio.Event) -> None:
        # Batches, not a message per await: a task switch per message cost more than handling it.
        handle_batch = self.router.handle_batch
        while True:
            batch = await session.batch()
            handle_batch(batch, self.ctx.now_ms())  # one receive time per batch: read in the same wake-up
            pending += batch
            handled.set()

    async def _commit_and_ack(self, session: Session, pending: list[Inbound], handled: asyncio.Event) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await handled.wait()
            handled.clear()
            await _gather_more(pending, handled, self.config.commit_interval_ms / 1000)
            # Everything handled up to here is in these rows; what arrives during the write waits for the next.
            batch = pending[:]
            pending.clear()
            rows = self.tracker.take_dirty()
            if rows:
                write = functools.partial(self.journal.write, rows, now_ms=self.ctx.now_ms())
                await loop.run_in_executor(self._executor, write)
            # Only this connection's acknowledgements are ours to send: after a reconnect the broker numbers
            # its redeliveries afresh, so a batch never outlives the connection it came in on.
            session.ack(batch)
            self.acknowledged += len(batch)


async def _gather_more(pending: list[Inbound], handled: asyncio.Event, interval_s: float) -> None:
    """Wait up to ``interval_s`` for a small batch to grow, but not once it is big enough.

    Returning early matters under load: sleeping the whole interval with the broker's in-flight window full
    (it waits for our acknowledgements) stalled the receive benchmark to a third of its rate.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + interval_s
    while len(pending) < _SMALL_BATCH and (left := deadline - loop.time()) > 0:
        try:
            await asyncio.wait_for(handled.wait(), left)
        except TimeoutError:
            return
        handled.clear()


async def _until_disconnected(client: aiomqtt.Client) -> None:
    """Raise ``MqttError`` when the connection is lost (what aiomqtt's message iterator would do)."""
    try:
        await asyncio.shield(client._disconnected)
    except aiomqtt.MqttError:
        raise
    except Exception as err:
        raise aiomqtt.MqttError(f"disconnected: {err}") from err
    raise aiomqtt.MqttError("disconnected")


SOURCE = LightsSource
