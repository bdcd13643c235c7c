"""Receiving and acknowledging QoS 1 messages through aiomqtt 2.x / paho-mqtt 2.x without their per-message costs.

The ONE module of the lights source that reaches into aiomqtt's and paho's internals. Measured with cProfile on
``bench/lights_receive.py`` (20,000 queued Tasmota messages, before this module): every message cost one
event-loop iteration (aiomqtt's reader calls ``loop_read()``, which reads one packet per wake-up), three to four
``recv`` calls (paho reads the fixed header byte by byte), paho's ``_packet_read``/``_handle_publish``/
``_handle_on_message`` plus aiomqtt's ``Message`` and queue put/get (together more than the parsing, tracking
and journaling of the message), and one ``send`` per PUBACK. Here instead:

- the socket is read 64 KiB at a time into a buffer that paho also reads from (``_sock_recv`` replaced), and
  one reader callback handles every complete packet in it: QoS 0/1 PUBLISH packets (MQTT 3.1.1) are decoded
  here into ``Inbound`` tuples, anything else (CONNACK, SUBACK, PINGRESP, a partial or malformed packet) goes
  through paho's own ``loop_read`` as before, so connection handling and errors stay paho's;
- messages are handed over as a batch (one list and one event wake-up per read, not a queue item each);
- a batch's PUBACKs are queued as one packet and written with one ``send``, only when ``ack`` is called, which
  the source does after the journal commit (paho's manual acknowledgement stays switched on);
- at low rates reading is paced: after a read that found only a few messages the socket is left alone for
  ``pause_s`` (the commit interval anyway), so 2,000 lights reporting every 10 s cost a wake-up per pause
  instead of one per message. Under load every read finds many messages and nothing is paced.

``open_session`` checks the installed versions and the internals it relies on; when they differ it logs once
and returns the plain path (aiomqtt's queue, ``ack`` per message), which is slower but equally correct.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import operator
import struct
from collections import deque
from collections.abc import Callable, Sequence
from importlib.metadata import version
from typing import Any, Final, Protocol

import aiomqtt
import paho.mqtt.client as paho

__all__ = ["FastSession", "Inbound", "PlainSession", "Session", "fast_path_supported", "open_session"]

_RECV_BYTES: Final = 65_536
#: Socket reads per wake-up before yielding to the event loop (fairness under a flood).
_MAX_READS_PER_WAKE: Final = 16
#: Fewer messages than this in the last ``pause_s`` is a low rate: pause reading for ``pause_s`` after each read.
#: Judged over time, not per read: under load a read just after an acknowledgement often finds only the first
#: few of the broker's next window, and pausing then stalled the receive benchmark by a fifth.
_PACE_BELOW: Final = 64
_PUBLISH: Final = 0x30
_PUBLISH_QOS1: Final = 0x32
_PUBACK: Final = 0x40
_PUBACK_HEAD: Final = bytes([_PUBACK, 2])
_U16: Final = struct.Struct("!H").pack
_MID: Final = operator.itemgetter(3)  # of an Inbound
_QOS: Final = operator.itemgetter(2)
_IS_1: Final = (1).__eq__
_SUPPORTED_MAJOR: Final = {"aiomqtt": "2.", "paho-mqtt": "2."}
_PAHO_INTERNALS: Final = ("_sock_recv", "_packet_queue", "_in_packet", "_registered_write", "_protocol", "_sock",
                          "loop_read", "loop_write", "on_socket_open", "on_message", "manual_ack_set")
_AIOMQTT_INTERNALS: Final = ("_client", "_disconnected", "_queue", "_loop")


#: One received message: ``(topic, payload, qos, mid, retain)``. A plain tuple, not a named tuple: the garbage
#: collector stops tracking a plain tuple of strings and numbers at its first young collection, but never a
#: tuple subclass. As named tuples, the in-flight window's messages (up to 1,000, held until their commit)
#: were traversed by every collection, promoted to the oldest generation, and set off full collections of
#: the process (~70 ms each on the receive benchmark, about one per 40,000 messages).
Inbound = tuple[str, bytes, int, int, bool]


class Session(Protocol):
    """What the source needs from a connection: batches in, acknowledgements out."""

    fast: bool

    async def batch(self) -> list[Inbound]:
        """Every message received since the last call; waits for at least one."""
        ...

    def ack(self, messages: Sequence[Inbound]) -> None:
        """Acknowledge these messages (QoS 0 ones need nothing)."""
        ...


_fallback_logged = False


def fast_path_supported(client: aiomqtt.Client | None = None) -> str | None:
    """None when the fast path works with the installed versions (and this client); else why not."""
    for dist, major in _SUPPORTED_MAJOR.items():
        found = version(dist)
        if not found.startswith(major):
            return f"{dist} {found} is not {major}x"
    if client is not None:
        missing = [a for a in _AIOMQTT_INTERNALS if not hasattr(client, a)]
        missing += [f"paho.{a}" for a in _PAHO_INTERNALS if not hasattr(client._client, a)]
        if missing:
            return f"internals differ: {', '.join(missing)}"
        if client._client._protocol != paho.MQTTv311:
            return "not MQTT 3.1.1"
        packet = getattr(client._client, "_in_packet", None)
        if not isinstance(packet, dict) or "command" not in packet:
            return "internals differ: paho._in_packet"
    return None


def open_session(client: aiomqtt.Client, *, pause_s: float, logger: logging.Logger) -> Session:
    """The fast session for this (not yet connected) client, or the plain one (logged once per process)."""
    global _fallback_logged
    why = fast_path_supported(client)
    if why is None:
        return FastSession(client, pause_s=pause_s)
    if not _fallback_logged:
        _fallback_logged = True
        logger.warning("MQTT fast path off, using aiomqtt's plain path (slower, same guarantees)",
                       extra={"reason": why})
    return PlainSession(client)


class PlainSession:
    """aiomqtt's own queue and paho's ``ack`` per message."""

    fast = False

    def __init__(self, client: aiomqtt.Client) -> None:
        self._client = client
        self._queue: asyncio.Queue[aiomqtt.Message] = client._queue

    async def batch(self) -> list[Inbound]:
        msgs = [await self._queue.get()]
        while not self._queue.empty():
            msgs.append(self._queue.get_nowait())
        return [(m.topic.value, m.payload if isinstance(m.payload, bytes) else str(m.payload).encode(),
                 m.qos, m.mid, bool(m.retain)) for m in msgs]

    def ack(self, messages: Sequence[Inbound]) -> None:
        for _, _, qos, mid, _ in messages:
            if qos > 0:
                self._client._client.ack(mid, qos)


class FastSession:
    """Buffered reads, PUBLISH decoded here, messages in batches, one ``send`` per batch of PUBACKs.

    Created before the client connects (a persistent session's queued messages arrive right after CONNACK).
    Everything runs on the event loop's thread except paho's ``on_socket_open``, which only schedules.
    """

    fast = True

    def __init__(self, client: aiomqtt.Client, *, pause_s: float) -> None:
        self._client = client
        self._paho: Any = client._client
        self._loop: asyncio.AbstractEventLoop = client._loop
        self._pause_s = pause_s
        self._buf = b""
        self._pos = 0
        self._inbox: list[Inbound] = []
        self._ready = asyncio.Event()
        self._fd = -1
        self._paused: asyncio.TimerHandle | None = None
        self._recent: deque[tuple[float, int]] = deque()  # (loop time, messages) of the reads in the last pause_s
        self._recent_total = 0
        #: Wake-ups of the reader and messages decoded here (not by paho): the test checks the path is used.
        self.reads = 0
        self.decoded = 0
        self._recv_raw: Callable[[int], bytes] = self._paho._sock_recv
        self._paho._sock_recv = self._recv
        self._paho.on_message = self._on_paho_message
        aiomqtt_open = self._paho.on_socket_open

        def on_socket_open(c: paho.Client, userdata: Any, sock: Any) -> None:
            aiomqtt_open(c, userdata, sock)  # schedules aiomqtt's reader; ours, scheduled after, replaces it
            self._loop.call_soon_threadsafe(self._start_reading, sock.fileno())

        self._paho.on_socket_open = on_socket_open

    # -- receiving -------------------------------------------------------------------------------------------

    async def batch(self) -> list[Inbound]:
        while not self._inbox:
            self._ready.clear()
            await self._ready.wait()
        out, self._inbox = self._inbox, []
        return out

    def _start_reading(self, fd: int) -> None:
        self._fd = fd
        self._paused = None
        if self._paho._sock is not None:
            self._loop.add_reader(fd, self._readable)

    def _recv(self, bufsize: int) -> bytes:
        """paho's ``_sock_recv``: serve from the buffer, refill it with one large read when empty."""
        if self._pos >= len(self._buf):
            data = self._recv_raw(_RECV_BYTES)  # paho's own: SSL want-read/write become BlockingIOError
            if not data:
                return data
            self._buf, self._pos = data, 0
        out = self._buf[self._pos:self._pos + bufsize]
        self._pos += len(out)
        return out

    def _readable(self) -> None:
        before = len(self._inbox)
        try:
            self._drain()
        except Exception as exc:  # what aiomqtt's reader does: a broken connection ends the session
            if not self._client._disconnected.done():
                self._client._disconnected.set_exception(exc)
            return
        self.reads += 1
        got = len(self._inbox) - before
        if got:
            self._ready.set()
        if self._pause_s > 0 and self._low_rate(got) and self._paho._sock is not None and self._paused is None:
            self._loop.remove_reader(self._fd)
            self._paused = self._loop.call_later(self._pause_s, self._start_reading, self._fd)

    def _low_rate(self, got: int) -> bool:
        now = self._loop.time()
        recent = self._recent
        recent.append((now, got))
        self._recent_total += got
        while recent[0][0] < now - self._pause_s:
            self._recent_total -= recent.popleft()[1]
        return self._recent_total < _PACE_BELOW

    def _drain(self) -> None:
        client = self._paho
        for _ in range(_MAX_READS_PER_WAKE):
            # One packet through paho (refilling the buffer from the socket when it is empty), then every
            # complete PUBLISH after it here. A packet paho has begun stays paho's until it is complete.
            if client.loop_read() != paho.MQTT_ERR_SUCCESS or client._sock is None:
                return
            if client._in_packet["command"] == 0:
                self._take_publishes()
            if self._pos >= len(self._buf):
                pending = getattr(client._sock, "pending", None)  # TLS: decrypted bytes epoll cannot see
                if pending is None or pending() == 0:
                    return

    def _take_publishes(self) -> None:
        """Decode the complete QoS 0/1 PUBLISH packets at the head of the buffer; stop at anything else."""
        buf, pos, end = self._buf, self._pos, len(self._buf)
        inbox = self._inbox
        append = inbox.append
        taken = len(inbox)
        while pos + 4 <= end:
            header = buf[pos]
            kind = header & 0xF6  # the packet type and QoS; DUP and RETAIN may be anything
            if kind == _PUBLISH_QOS1:
                qos = 1
            elif kind == _PUBLISH:
                qos = 0
            else:
                break  # QoS 2 or not a PUBLISH: paho's
            # The remaining length: one or two bytes up to 16 KiB (every light message), unrolled (~0.3 us a
            # message less than the loop); longer ones through the general decoding.
            length = buf[pos + 1]
            if length < 0x80:
                i = pos + 2
            elif buf[pos + 2] < 0x80:
                length = (length & 0x7F) | buf[pos + 2] << 7
                i = pos + 3
            else:
                found = _remaining_length(buf, pos + 1, end)
                if found is None:
                    break  # incomplete or over-long length: paho's
                length, i = found
            stop = i + length
            if stop > end or length < 2:
                break
            head = i + 2 + (buf[i] << 8 | buf[i + 1])
            if head + 2 * qos > stop:
                break  # malformed: paho reports it
            try:
                topic = buf[i + 2:head].decode()
            except UnicodeDecodeError:
                break  # paho's path delivers it (decoded with replacement) so it is acknowledged, not looped
            if qos:
                mid = buf[head] << 8 | buf[head + 1]
                append((topic, buf[head + 2:stop], 1, mid, (header & 1) == 1))
            else:
                append((topic, buf[head:stop], 0, 0, (header & 1) == 1))
            pos = stop
        self.decoded += len(inbox) - taken
        self._pos = pos

    def _on_paho_message(self, client: paho.Client, userdata: Any, message: paho.MQTTMessage) -> None:
        try:
            topic = message.topic
        except UnicodeDecodeError:
            topic = bytes(message._topic).decode("utf-8", "replace")
        self._inbox.append((topic, bytes(message.payload), message.qos, message.mid, bool(message.retain)))

    # -- acknowledging ---------------------------------------------------------------------------------------

    def ack(self, messages: Sequence[Inbound]) -> None:
        client = self._paho
        # PUBACK = 0x40 0x02 and the message id, for the QoS 1 messages: built in C, not a Python expression
        # per message
        mids = itertools.compress(map(_MID, messages), map(_IS_1, map(_QOS, messages)))
        packet = b"".join(map(_PUBACK_HEAD.__add__, map(_U16, mids)))
        if not packet or client._sock is None:
            return  # nothing to acknowledge, or the connection is gone and the broker will deliver them again
        # Queue all PUBACKs as one packet without paho asking aiomqtt to register a writer (a thread-safe
        # call per ack), then write it now; loop_write registers the writer itself if the socket is full.
        registered = client._registered_write
        client._registered_write = True
        try:
            client._packet_queue(_PUBACK, packet, 0, 0)
        finally:
            client._registered_write = registered
        client.loop_write()


def _remaining_length(buf: bytes, i: int, end: int) -> tuple[int, int] | None:
    """MQTT's variable-length integer at ``buf[i]``: (value, index after it), or None if incomplete or too long."""
    length, shift = 0, 0
    while i < end and shift <= 21:
        byte = buf[i]
        i += 1
        length |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return length, i
    return None
