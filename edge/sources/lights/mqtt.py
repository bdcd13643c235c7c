"""One MQTT connection of the lights source: paho-mqtt 2.x run by asyncio, through paho's public API only.

aiomqtt 2.x gives no public way to acknowledge a message after its effect is committed (empicano/aiomqtt
issue 345); paho 2.x does (``Client(manual_ack=True)`` and ``Client.ack(mid, qos)``), and documents how to
run it in any event loop: the ``on_socket_open``/``on_socket_close``/``on_socket_register_write``/
``on_socket_unregister_write`` callbacks tell when to watch its socket, and ``loop_read``/``loop_write``/
``loop_misc`` do the work (paho's ``examples/loop_asyncio.py``). That is all this module uses.

``Connection`` is an async context manager: connected and subscribed inside, ``batch()`` hands over every
message received since the last call, ``ack()`` acknowledges messages once the caller has committed them. The
session is persistent (``clean_session=False``): what arrives while the agent is down is queued at the
broker, and what was delivered but not acknowledged is delivered again after a reconnect. A connection is
never reused: acknowledgements belong to the connection their messages came in on.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import ssl
import threading
from collections.abc import Callable, Sequence
from typing import Any, Final, NamedTuple

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode, MQTTProtocolVersion
from paho.mqtt.reasoncodes import ReasonCode

from edge.config import MqttSettings

__all__ = ["BrokerError", "Connection", "Inbound"]

#: Packets read per wake-up of the reader at most, so a flood cannot hold the event loop.
_MAX_PACKETS_PER_WAKE: Final = 256
#: Bytes (topics and payloads) the inbox holds at most; then the socket is left unread until the source takes
#: them (TCP holds the broker back). Hostile messages of 10-60 KB would otherwise pile up megabytes, and the
#: agent's resident memory keeps its peak (its budget: 60 MB). A few hundred light reports fit.
_MAX_INBOX_BYTES: Final = 64 * 1024
_MISC_PERIOD_S: Final = 1.0


class BrokerError(Exception):
    """The broker refused us, or the connection to it was lost."""


class Inbound(NamedTuple):
    """One received message. ``topic`` is ``""`` when it was not valid UTF-8 (the router refuses it)."""

    topic: str
    payload: bytes
    qos: int
    mid: int
    retain: bool


class Connection:
    """A persistent MQTT 3.1.1 session with manual acknowledgement, driven by the running event loop."""

    def __init__(
        self,
        settings: MqttSettings,
        *,
        client_id: str,
        filters: Sequence[str],
        qos: int,
        timeout: float = 30.0,
        read_pause_s: float = 0.0,
        logger: logging.Logger | None = None,
    ) -> None:
        self._settings = settings
        self._read_pause_s = read_pause_s
        self._filters = list(filters)
        self._qos = qos
        self._timeout = timeout
        self._log = logger or logging.getLogger(__name__)
        self._loop = asyncio.get_running_loop()
        self._thread = threading.get_ident()
        self._client = self._make_client(client_id)
        self._inbox: list[Inbound] = []
        self._ready = asyncio.Event()
        self._connack: asyncio.Future[ReasonCode] = self._loop.create_future()
        self._subacks: dict[int, asyncio.Future[list[ReasonCode]]] = {}
        self._lost: BrokerError | None = None
        self._misc: asyncio.Task[None] | None = None
        #: Messages received on this connection (the test checks that reads take many at a time).
        self.received = 0
        self.wakeups = 0
        self._inbox_bytes = 0
        self._held: tuple[socket.socket, int] | None = None
        #: Subscribed, and so taking batches: only then may the socket wait for the source (before, the
        #: CONNACK and SUBACKs must be read, whatever a persistent session's backlog puts before them).
        self._subscribed = False

    def _make_client(self, client_id: str) -> paho.Client:
        s = self._settings
        client = paho.Client(
            CallbackAPIVersion.VERSION2,
            client_id=client_id,
            clean_session=False,
            protocol=MQTTProtocolVersion.MQTTv311,
            reconnect_on_failure=False,
            manual_ack=True,
        )
        client.enable_logger(self._log.getChild("paho"))
        client.connect_timeout = self._timeout
        if s.username is not None:
            client.username_pw_set(s.username, s.password.get_secret_value() if s.password else None)
        if s.tls is not None:
            client.tls_set(
                ca_certs=str(s.tls.ca_file) if s.tls.ca_file else None,
                certfile=str(s.tls.cert_file) if s.tls.cert_file else None,
                keyfile=str(s.tls.key_file) if s.tls.key_file else None,
                cert_reqs=ssl.CERT_REQUIRED,
                tls_version=ssl.PROTOCOL_TLS_CLIENT,
            )
            client.tls_insecure_set(s.tls.insecure)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_subscribe = self._on_subscribe
        client.on_message = self._on_message
        client.on_socket_open = self._on_socket_open
        client.on_socket_close = self._on_socket_close
        client.on_socket_register_write = self._on_socket_register_write
        client.on_socket_unregister_write = self._on_socket_unregister_write
        return client

    # -- lifecycle -------------------------------------------------------------------------------------------

    async def __aenter__(self) -> Connection:
        s = self._settings
        try:
            # connect() blocks on the TCP connection and the TLS handshake (each within connect_timeout): not on
            # the event loop's thread
            await asyncio.to_thread(self._client.connect, s.host, s.port, s.keepalive_s)
            code = await self._wait(self._connack)
            if code.is_failure:
                raise BrokerError(f"connection refused: {code}")
            for topic_filter in self._filters:
                await self._subscribe(topic_filter)
            self._subscribed = True
        except BaseException:
            await self.close()
            raise
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        """Disconnect cleanly (the broker keeps the session); nothing of this connection is watched after."""
        self._lost = self._lost or BrokerError("closed")
        self._ready.set()
        if self._client.socket() is not None:
            self._client.disconnect()
            self._client.loop_write()  # sends DISCONNECT; paho then closes the socket (on_socket_close)
        sock = self._client.socket()
        if sock is not None:  # the socket would not take DISCONNECT now: drop the connection instead
            self._unwatch(sock.fileno())
            sock.close()
        if self._misc is not None:
            self._misc.cancel()
            await asyncio.gather(self._misc, return_exceptions=True)

    async def _subscribe(self, topic_filter: str) -> None:
        done: asyncio.Future[list[ReasonCode]] = self._loop.create_future()
        rc, mid = self._client.subscribe(topic_filter, qos=self._qos)
        if rc != MQTTErrorCode.MQTT_ERR_SUCCESS or mid is None:
            raise BrokerError(f"subscribe {topic_filter}: {paho.error_string(rc)}")
        self._subacks[mid] = done
        codes = await self._wait(done)
        if any(code.is_failure for code in codes):
            raise BrokerError(f"subscribe {topic_filter}: refused ({', '.join(map(str, codes))})")

    async def _wait(self, future: asyncio.Future[Any]) -> Any:
        """``future``'s result, or ``BrokerError`` when the connection is lost first or the timeout passes."""
        lost = self._loop.create_task(self._until_lost())
        try:
            done, _ = await asyncio.wait(
                [future, lost], timeout=self._timeout, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            lost.cancel()
        if future in done:
            return future.result()
        if self._lost is not None:
            raise self._lost
        raise BrokerError(f"no answer from the broker within {self._timeout:g} s")

    async def _until_lost(self) -> None:
        while self._lost is None:
            self._ready.clear()
            await self._ready.wait()

    # -- messages --------------------------------------------------------------------------------------------

    async def batch(self) -> list[Inbound]:
        """Every message received since the last call; waits for one. ``BrokerError`` once the connection is lost."""
        while not self._inbox:
            if self._lost is not None:
                raise self._lost
            self._ready.clear()
            await self._ready.wait()
        out, self._inbox, self._inbox_bytes = self._inbox, [], 0
        if self._held is not None:
            sock, fd = self._held
            self._held = None
            self._resume(sock, fd)
        return out

    def ack(self, messages: Sequence[Inbound]) -> None:
        """Acknowledge these messages (QoS 0 ones need nothing). Never on a lost connection: the broker numbers
        its redeliveries anew, so they are delivered again and acknowledged then."""
        if self._lost is not None:
            return
        for message in messages:
            if message.qos:
                self._client.ack(message.mid, message.qos)

    # -- paho's callbacks: on the event loop's thread, except the socket ones during connect() ---------------

    def _on_connect(
        self, client: paho.Client, userdata: Any, flags: Any, code: ReasonCode, props: Any
    ) -> None:
        if not self._connack.done():
            self._connack.set_result(code)

    def _on_disconnect(
        self, client: paho.Client, userdata: Any, flags: Any, code: ReasonCode, props: Any
    ) -> None:
        self._lost = self._lost or BrokerError(f"disconnected: {code}")
        self._ready.set()

    def _on_subscribe(
        self, client: paho.Client, userdata: Any, mid: int, codes: list[ReasonCode], props: Any
    ) -> None:
        done = self._subacks.pop(mid, None)
        if done is not None and not done.done():
            done.set_result(codes)

    def _on_message(self, client: paho.Client, userdata: Any, message: paho.MQTTMessage) -> None:
        try:
            topic = message.topic
        except UnicodeDecodeError:  # a broker checks topics are UTF-8; if one did not, the router refuses it
            topic = ""
        self._inbox.append(Inbound(topic, bytes(message.payload), message.qos, message.mid, message.retain))
        self.received += 1
        self._inbox_bytes += len(topic) + len(message.payload)

    def _on_socket_open(self, client: paho.Client, userdata: Any, sock: Any) -> None:
        self._soon(self._watch, sock)

    def _watch(self, sock: socket.socket) -> None:
        if self._lost is not None:
            return  # closed while connect() was under way in its thread
        self._loop.add_reader(sock.fileno(), self._readable, sock)
        if self._misc is None:
            self._misc = self._loop.create_task(self._misc_loop())

    def _on_socket_close(self, client: paho.Client, userdata: Any, sock: Any) -> None:
        self._soon(self._unwatch, sock.fileno())  # by number: the socket is closed right after this call

    def _unwatch(self, fd: int) -> None:
        self._loop.remove_reader(fd)
        self._loop.remove_writer(fd)

    def _on_socket_register_write(self, client: paho.Client, userdata: Any, sock: Any) -> None:
        self._soon(self._loop.add_writer, sock.fileno(), client.loop_write)

    def _on_socket_unregister_write(self, client: paho.Client, userdata: Any, sock: Any) -> None:
        self._soon(self._loop.remove_writer, sock.fileno())

    def _soon(self, func: Callable[..., object], *args: Any) -> None:
        """Run ``func`` now on the event loop's thread, or soon from paho's connect() in its thread."""
        if threading.get_ident() == self._thread:
            func(*args)
        else:
            self._loop.call_soon_threadsafe(func, *args)

    def _readable(self, sock: socket.socket) -> None:
        """Read the packets waiting (``loop_read`` takes one at a time); then, if that emptied the socket, leave it
        alone for ``read_pause_s``: at a village's rates the next messages are then read together, in one
        wake-up of the event loop and of the source, instead of one wake-up each. Under a flood the socket is
        never empty and nothing pauses."""
        self.wakeups += 1
        before = len(self._inbox)
        emptied = False
        for _ in range(_MAX_PACKETS_PER_WAKE):
            count = self.received
            if self._client.loop_read() != MQTTErrorCode.MQTT_ERR_SUCCESS:
                return  # on_disconnect has said why
            if self._subscribed and self._inbox_bytes >= _MAX_INBOX_BYTES:
                self._hold(sock)
                break
            # a read that took no message found the socket empty (or a packet that is not a PUBLISH: the
            # selector calls again for what is left); TLS may hold decrypted bytes the selector cannot see
            if self.received == count and not (isinstance(sock, ssl.SSLSocket) and sock.pending()):
                emptied = True
                break
        if len(self._inbox) > before:
            self._ready.set()
        if emptied and self._read_pause_s > 0 and self._client.socket() is sock:
            fd = sock.fileno()
            self._loop.remove_reader(fd)
            self._loop.call_later(self._read_pause_s, self._resume, sock, fd)

    def _hold(self, sock: socket.socket) -> None:
        """Leave the socket unread until ``batch()`` takes the inbox."""
        fd = sock.fileno()
        self._loop.remove_reader(fd)
        self._held = (sock, fd)

    def _resume(self, sock: socket.socket, fd: int) -> None:
        if self._lost is None and self._client.socket() is sock:
            self._loop.add_reader(fd, self._readable, sock)

    async def _misc_loop(self) -> None:
        """Keepalive: paho sends PINGREQ and notices a silent broker here."""
        while self._client.loop_misc() == MQTTErrorCode.MQTT_ERR_SUCCESS:
            await asyncio.sleep(_MISC_PERIOD_S)
