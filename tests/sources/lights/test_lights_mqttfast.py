"""mqttfast: the fast path is active with the installed aiomqtt/paho, decodes PUBLISH packets right, and batches."""

from __future__ import annotations

import asyncio
import logging
import struct
from pathlib import Path

import aiomqtt
import paho.mqtt.client as paho

from edge.sources.lights.mqttfast import FastSession, fast_path_supported, open_session
from edge.sources.lights.source import LightsSource
from thonminh.localservices import MosquittoServer

from .conftest import Collector, gateway_config, load, wait_for


def _publish(topic: str, payload: bytes, *, qos: int, mid: int = 0, retain: bool = False, dup: bool = False) -> bytes:
    body = struct.pack("!H", len(topic)) + topic.encode() + (struct.pack("!H", mid) if qos else b"") + payload
    length, n = b"", len(body)  # MQTT's variable-length integer, 7 bits a byte
    while True:
        n, digit = n >> 7, n & 0x7F
        length += bytes([digit | (0x80 if n else 0)])
        if not n:
            break
    return bytes([0x30 | int(dup) << 3 | qos << 1 | int(retain)]) + length + body


async def test_fast_path_is_supported_by_the_installed_versions() -> None:
    assert fast_path_supported() is None
    client = aiomqtt.Client("127.0.0.1", 1, protocol=aiomqtt.ProtocolVersion.V311)
    assert fast_path_supported(client) is None
    assert open_session(client, pause_s=0.0, logger=logging.getLogger(__name__)).fast
    v5 = aiomqtt.Client("127.0.0.1", 1, protocol=aiomqtt.ProtocolVersion.V5)
    assert fast_path_supported(v5) == "not MQTT 3.1.1"


async def test_publish_packets_are_decoded_and_anything_else_left_to_paho() -> None:
    session = FastSession(aiomqtt.Client("127.0.0.1", 1), pause_s=0.0)
    one = _publish("tele/sl-a/STATE", b'{"POWER":"ON"}', qos=1, mid=513)
    two = _publish("esphome/sl-c/status", b"online", qos=0, retain=True)
    suback = bytes([0x90, 3, 0, 1, 1])
    session._buf = one + two + suback + one
    session._take_publishes()
    assert session._inbox == [("tele/sl-a/STATE", b'{"POWER":"ON"}', 1, 513, False),
                              ("esphome/sl-c/status", b"online", 0, 0, True)]
    # plain tuples, which the garbage collector stops tracking (a named tuple it would traverse until acked)
    assert all(type(m) is tuple for m in session._inbox)
    assert session._pos == len(one + two)  # the SUBACK (and what follows) is paho's
    session._inbox, session._buf, session._pos = [], one + one[:-3], 0
    session._take_publishes()
    assert len(session._inbox) == 1 and session._pos == len(one)  # a partial packet waits for more bytes
    # remaining lengths of one, two and three bytes; a redelivery (DUP set) is decoded like any other
    sizes = [_publish("tele/sl-b/SENSOR", bytes(n), qos=1, mid=n, dup=n == 300) for n in (10, 300, 20_000)]
    assert [len(p) - len(bytes(n)) for p, n in zip(sizes, (10, 300, 20_000), strict=True)] == [22, 23, 24]
    qos2 = _publish("tele/sl-b/STATE", b"{}", qos=2, mid=7)
    session._inbox, session._buf, session._pos = [], b"".join(sizes) + qos2, 0
    session._take_publishes()
    assert session._inbox == [("tele/sl-b/SENSOR", bytes(n), 1, n, False) for n in (10, 300, 20_000)]
    assert session._pos == len(b"".join(sizes))  # QoS 2 is paho's
    bad = bytes([0x32, 4, 0, 9, b"a"[0], b"b"[0]])  # topic length beyond the packet: malformed, paho reports it
    session._inbox, session._buf, session._pos = [], bad, 0
    session._take_publishes()
    assert session._inbox == [] and session._pos == 0


async def test_the_source_receives_through_the_fast_path(tmp_path: Path, mosquitto: MosquittoServer,
                                                         collector: Collector) -> None:
    config = load(gateway_config(tmp_path, mqtt_port=mosquitto.port))
    (_, cfg), = config.source_instances()
    source = LightsSource(cfg, collector.context(config, tmp_path / "state"))
    await source.init()
    task = asyncio.create_task(source.run())
    try:
        await wait_for(lambda: source.connected)
        publisher = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id="fast-path-test")
        publisher.connect("127.0.0.1", mosquitto.port)
        publisher.loop_start()
        try:
            infos = [publisher.publish(f"tele/sl-a{i % 2}/STATE", b'{"POWER":"ON"}', qos=1) for i in range(500)]
            for info in infos:
                info.wait_for_publish(20)
        finally:
            publisher.loop_stop()
            publisher.disconnect()
        await wait_for(lambda: source.acknowledged >= 500)
        assert source.fast_path and isinstance(source.session, FastSession)
        assert source.session.decoded > 0  # PUBLISH packets decoded by mqttfast, not one by one by paho
        assert source.session.reads < 500  # many messages per event-loop wake-up
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await source.close()
