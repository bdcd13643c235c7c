"""The village broker as deploy/install-gateway.sh installs it, run by a real Mosquitto with Debian's main config.

Issue 18: a light's login could take over the gateway's MQTT session by connecting with the gateway's client id
(Mosquitto drops the older connection of a client id). The installed config ties client ids to user names, so a
hostile or misconfigured light only ever reconnects itself: the gateway's session and every other light's
connection survive, and nothing the lights report is lost.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import paho.mqtt.client as mqtt
import pytest
from installkit import Installed, InstalledBroker, install
from paho.mqtt.enums import CallbackAPIVersion

from edge.config import load_gateway_config

REPORTS = 150
TAKEOVERS = 9


@pytest.fixture(scope="module")
def village(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[InstalledBroker, Installed]]:
    work = tmp_path_factory.mktemp("village")
    installed = install(work / "root")
    broker = InstalledBroker(installed, work / "broker")
    broker.start()
    yield broker, installed
    broker.stop()


class Watched:
    """A paho client that records its connects (session present or not), disconnects and messages."""

    def __init__(self, broker: InstalledBroker, user: str, password: str, client_id: str) -> None:
        self.client_id = client_id
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=False)
        self.client.username_pw_set(user, password)
        self.sessions: list[bool] = []
        self.disconnects: list[int] = []  # MQTT reason codes: 0 is our own clean disconnect
        self.messages: list[bytes] = []
        self.connected = threading.Event()
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = lambda _c, _u, _f, rc, _p: self.disconnects.append(
            getattr(rc, "value", rc)
        )
        self.client.on_message = lambda _c, _u, msg: self.messages.append(msg.payload)
        self.client.connect("127.0.0.1", broker.port, keepalive=30)
        self.client.loop_start()
        assert self.connected.wait(10), f"{user} could not connect"

    def _on_connect(
        self, _c: mqtt.Client, _u: object, flags: mqtt.ConnectFlags, rc: object, _p: object
    ) -> None:
        assert not getattr(rc, "is_failure", False), rc
        self.sessions.append(flags.session_present)
        self.connected.set()

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def gateway_login(broker: InstalledBroker, installed: Installed) -> Watched:
    """The gateway connected as its installed gateway.toml has it log in: user, password and client id."""
    config = load_gateway_config(installed.path("/etc/thonminh/gateway.toml"), environ=installed.env())
    assert config.mqtt.username is not None and config.mqtt.password is not None
    return Watched(
        broker, config.mqtt.username, config.mqtt.password.get_secret_value(), config.mqtt.client_id
    )


def test_the_installed_broker_starts_and_the_gateway_logs_in(
    village: tuple[InstalledBroker, Installed],
) -> None:
    broker, installed = village
    gateway = gateway_login(broker, installed)
    gateway.close()
    assert gateway.disconnects == [0]


def test_a_light_cannot_take_over_the_gateways_or_another_lights_session(
    village: tuple[InstalledBroker, Installed],
) -> None:
    broker, installed = village
    gateway = gateway_login(broker, installed)
    gateway.client.subscribe("tele/+/#", qos=1)
    time.sleep(0.2)  # the SUBACK
    light = Watched(broker, "sl-klt-001", installed.secret("sl-klt-001"), "DVES_6A1B2C")
    hostile_sessions: list[bool] = []
    try:
        for i in range(REPORTS):
            light.client.publish("tele/sl-klt-001/STATE", f'{{"n":{i}}}', qos=1).wait_for_publish(10)
            if i % (REPORTS // TAKEOVERS) == 7:
                # another light's login under the gateway's client id, then under the first light's
                target = gateway.client_id if len(hostile_sessions) % 2 == 0 else "sl-klt-001"
                hostile = Watched(broker, "sl-klt-002", installed.secret("sl-klt-002"), target)
                hostile_sessions += hostile.sessions
                hostile.close()
            time.sleep(0.01)
        deadline = time.monotonic() + 10
        while len(gateway.messages) < REPORTS and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        light.close()
        gateway.close()
    assert len(hostile_sessions) == TAKEOVERS
    # the gateway's persistent session existed: the first hostile login under its id must not have found it
    # (later ones find the hostile login's own session, kept under its user name)
    assert hostile_sessions[0] is False, "a light's login resumed the gateway's persistent session"
    assert gateway.disconnects == [0] and len(gateway.sessions) == 1, "the gateway was dropped"
    assert light.disconnects == [0] and len(light.sessions) == 1, "the light was dropped"
    assert gateway.messages == [f'{{"n":{i}}}'.encode() for i in range(REPORTS)]


def test_broker_log_names_the_user_as_the_client(village: tuple[InstalledBroker, Installed]) -> None:
    broker, installed = village
    hostile = Watched(broker, "sl-klt-002", installed.secret("sl-klt-002"), "thonminh-gateway")
    hostile.close()
    deadline = time.monotonic() + 5
    while "as sl-klt-002" not in broker.tail_log(200) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert "as sl-klt-002" in broker.tail_log(200)
