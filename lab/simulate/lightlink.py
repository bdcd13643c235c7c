"""Simulated street-light controllers on a broker: each device on its own MQTT connection, as its firmware makes it.

``DeviceLink`` connects one ``LightDevice`` (``lights``) the way its firmware does (own client id, credentials,
retained will); ``run_village`` drives a set of devices on a schedule until stopped.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
import threading
import time
from collections.abc import Callable, Mapping, Sequence

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.reasoncodes import ReasonCode

from lab.simulate.lights import LightDevice, SimMessage

__all__ = ["DeviceLink", "run_village"]


class DeviceLink:
    """One device's own MQTT connection, with its retained will, as its firmware would make it.

    paho's own network thread keeps it (a village has tens of devices); ``drop`` cuts the socket without a
    DISCONNECT, as a power cut does, and the link stays down as a dead device would."""

    def __init__(
        self,
        device: LightDevice,
        host: str,
        port: int,
        *,
        username: str | None = None,
        password: str | None = None,
        tls_context: ssl.SSLContext | None = None,
        keepalive: int = 30,
    ) -> None:
        will = device.will()
        self.device = device
        self._address = (host, port, keepalive)
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=f"sim-{device.device}", reconnect_on_failure=False
        )
        if username is not None:
            self.client.username_pw_set(username, password)
        self.client.will_set(will.topic, will.payload, will.qos, will.retain)
        if tls_context is not None:
            self.client.tls_set_context(tls_context)
        self._connected = threading.Event()
        self.client.on_connect = self._on_connect

    def _on_connect(
        self, client: mqtt.Client, userdata: object, flags: object, reason: ReasonCode, properties: object
    ) -> None:
        if not reason.is_failure:
            self._connected.set()

    async def open(self) -> DeviceLink:
        host, port, keepalive = self._address
        await asyncio.to_thread(self.client.connect, host, port, keepalive)
        self.client.loop_start()
        if not await asyncio.to_thread(self._connected.wait, 10):
            self.client.loop_stop()
            raise ConnectionError(
                f"{self.device.device}: the broker at {host}:{port} did not accept the device"
            )
        return self

    async def close(self) -> None:
        self.client.disconnect()
        await asyncio.to_thread(self.client.loop_stop)

    async def __aenter__(self) -> DeviceLink:
        return await self.open()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def publish(self, messages: Sequence[SimMessage]) -> None:
        sent = [(m, self.client.publish(m.topic, m.payload, qos=m.qos, retain=m.retain)) for m in messages]
        for message, info in sent:
            if message.qos and self.client.is_connected():
                await asyncio.to_thread(info.wait_for_publish, 10)

    def drop(self) -> None:
        """The connection dies without a DISCONNECT (power cut, Wi-Fi gone): the broker publishes the will."""
        sock = self.client.socket()
        if isinstance(sock, socket.socket):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


async def run_village(
    devices: Sequence[LightDevice],
    *,
    host: str,
    port: int,
    expected_on: Callable[[int], bool],
    report_period_s: float,
    stop: asyncio.Event,
    now_ms: Callable[[], int] = lambda: time.time_ns() // 1_000_000,
    credentials: Mapping[str, tuple[str, str]] | None = None,
    tls_context: ssl.SSLContext | None = None,
) -> None:
    """Run every device on its own connection until ``stop``; reports every ``report_period_s`` (with jitter)."""

    async def one(device: LightDevice) -> None:
        username, password = (credentials or {}).get(device.device, (None, None))
        async with DeviceLink(
            device, host, port, username=username, password=password, tls_context=tls_context
        ) as link:
            await link.publish(device.birth(now_ms()))
            while not stop.is_set():
                t = now_ms()
                await link.publish(device.step(t, expected_on(t)) + device.report(t))
                if device.behaviour == "offline":
                    link.drop()
                    await stop.wait()
                    return
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), report_period_s * device.rng.uniform(0.9, 1.1))

    await asyncio.gather(*(one(d) for d in devices))
