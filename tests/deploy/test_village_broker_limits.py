"""The installed village broker refuses what a hostile light could abuse (issue 18.6): an oversize payload is
dropped by the broker before any subscriber or queue sees it, an oversize packet closes only its sender's
connection, and the gateway's session goes on receiving the light's good reports around them."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from installkit import Installed, InstalledBroker, install
from test_village_broker import Watched, gateway_login

#: The lights source refuses payloads over its max_payload_bytes (16 KiB); the broker refuses them first.
OVERSIZE_PAYLOAD = 16_385
OVERSIZE_PACKET = 70_000


@pytest.fixture(scope="module")
def village(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[InstalledBroker, Installed]]:
    work = tmp_path_factory.mktemp("village-limits")
    installed = install(work / "root")
    broker = InstalledBroker(installed, work / "broker")
    broker.start()
    yield broker, installed
    broker.stop()


def gateway_of(broker: InstalledBroker, installed: Installed) -> Watched:
    gateway = gateway_login(broker, installed)
    subscribed = gateway.client.subscribe("tele/+/#", qos=1)
    assert subscribed[0] == 0
    return gateway


def wait_for_messages(watched: Watched, count: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while len(watched.messages) < count and time.monotonic() < deadline:
        time.sleep(0.05)


def test_an_oversize_payload_is_dropped_by_the_broker(village: tuple[InstalledBroker, Installed]) -> None:
    broker, installed = village
    gateway = gateway_of(broker, installed)
    time.sleep(0.2)  # the SUBACK
    light = Watched(broker, "sl-klt-001", installed.secret("sl-klt-001"), "DVES_6A1B2C")
    try:
        for payload in (b'{"n":1}', b"x" * OVERSIZE_PAYLOAD, b"y" * (OVERSIZE_PAYLOAD - 1), b'{"n":2}'):
            light.client.publish("tele/sl-klt-001/STATE", payload, qos=1).wait_for_publish(10)
        wait_for_messages(gateway, 3)
        time.sleep(0.3)  # room for a fourth message that must not come
    finally:
        light.close()
        gateway.close()
    assert gateway.messages == [b'{"n":1}', b"y" * (OVERSIZE_PAYLOAD - 1), b'{"n":2}']
    assert light.disconnects == [0], "a payload over the limit is dropped, its sender stays connected"


def test_an_oversize_packet_closes_only_its_senders_connection(
    village: tuple[InstalledBroker, Installed],
) -> None:
    broker, installed = village
    gateway = gateway_of(broker, installed)
    time.sleep(0.2)
    light = Watched(broker, "sl-klt-002", installed.secret("sl-klt-002"), "DVES_6A1B2D")
    try:
        light.client.publish("tele/sl-klt-002/STATE", b"z" * OVERSIZE_PACKET, qos=1)
        deadline = time.monotonic() + 10
        while not light.disconnects and time.monotonic() < deadline:
            time.sleep(0.05)
        assert light.disconnects and light.disconnects[0] != 0, (
            "the broker kept a connection over max_packet_size"
        )
        other = Watched(broker, "sl-klt-001", installed.secret("sl-klt-001"), "DVES_6A1B2C")
        other.client.publish("tele/sl-klt-001/STATE", b'{"n":3}', qos=1).wait_for_publish(10)
        other.close()
        wait_for_messages(gateway, 1)
    finally:
        light.client.loop_stop()
        gateway.close()
    assert gateway.messages == [b'{"n":3}']
    assert gateway.disconnects == [0] and len(gateway.sessions) == 1, "the gateway was dropped"
