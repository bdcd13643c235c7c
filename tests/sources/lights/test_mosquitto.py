"""firmware_config/mosquitto with the generated passwords and ACL, loaded into a real Mosquitto.

A device cannot publish to another light's topics or read other topics, anonymous clients and wrong
passwords are refused, the TLS listener works with the generated CA, and the gateway reads everything.
"""

from __future__ import annotations

import asyncio
import base64
import csv
import getpass
import importlib.util
import ssl
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import aiomqtt
import pytest

from edge.sources.lights.source import LightsSource
from lab.localservices import MosquittoServer, free_port

from .conftest import Collector, gateway_config, load, running, wait_for

ROOT = Path(__file__).resolve().parents[3]
MOSQ = ROOT / "firmware_config" / "mosquitto"
_spec = importlib.util.spec_from_file_location("gen_auth", MOSQ / "gen_auth.py")
assert _spec is not None and _spec.loader is not None
gen_auth = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(gen_auth)
INVENTORY = """id,device,channel,format,zone,latitude,longitude,rated_w,report_s
a,sl-a,,tasmota,z,21.38,106.57,60,
b,sl-b,,tasmota,z,21.38,106.57,60,
c,sl-c,,esphome,z,21.38,106.57,80,
d,sl-d,,json,z,21.38,106.57,100,
"""


class VillageBroker(MosquittoServer):
    """Mosquitto running firmware_config/mosquitto/mosquitto.conf, its paths moved into ``workdir``."""

    def __init__(self, workdir: Path) -> None:
        super().__init__(workdir)
        self.tls_port = free_port()

    def prepare(self) -> None:
        text = (MOSQ / "mosquitto.conf").read_text()
        for old, new in [
            ("/mosquitto/config/", f"{self.workdir}/"),
            ("/mosquitto/data/", f"{self.workdir}/data/"),
            ("listener 1883", f"listener {self.port} 127.0.0.1"),
            ("listener 8883", f"listener {self.tls_port} 127.0.0.1"),
        ]:
            assert old in text, f"mosquitto.conf no longer has {old!r}"
            text = text.replace(old, new)
        (self.workdir / "data").mkdir(exist_ok=True)
        # as root, mosquitto would switch to user "mosquitto" and lose access to the private workdir
        self.config_path.write_text(text + f"\nuser {getpass.getuser()}\n")


def generate_auth(work: Path, inventory: str, gateway_user: str) -> dict[str, str]:
    """The village broker's users, ACL and certificates for ``inventory``, generated into ``work`` as the installer
    makes them: each user's password."""
    (work / "inventory.csv").write_text(inventory)
    done = subprocess.run(
        [
            sys.executable,
            str(MOSQ / "gen_auth.py"),
            "--inventory",
            str(work / "inventory.csv"),
            "--out-dir",
            str(work),
            "--gateway-user",
            gateway_user,
            "--passwords-out",
            str(work / "secrets.csv"),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    subprocess.run(["sh", str(MOSQ / "gen_certs.sh"), str(work / "certs")], check=True, capture_output=True)
    with open(work / "secrets.csv") as f:
        return {row["user"]: row["password"] for row in csv.DictReader(line for line in f if line[0] != "#")}


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[VillageBroker, dict[str, str]]]:
    work = tmp_path_factory.mktemp("village-broker")
    passwords = generate_auth(work, INVENTORY, "gw")
    server = VillageBroker(work)
    server.start()
    yield server, passwords
    server.stop()


def client(
    broker: VillageBroker,
    user: str | None,
    password: str | None,
    *,
    tls: bool = False,
    ident: str | None = None,
) -> aiomqtt.Client:
    context = None
    if tls:
        context = ssl.create_default_context(cafile=str(broker.workdir / "certs" / "ca.crt"))
    return aiomqtt.Client(
        "127.0.0.1",
        broker.tls_port if tls else broker.port,
        username=user,
        password=password,
        identifier=ident or f"t-{user}",
        tls_context=context,
        timeout=10,
    )


async def _first(messages: aiomqtt.MessagesIterator, timeout: float = 10.0) -> aiomqtt.Message:
    return await asyncio.wait_for(anext(messages), timeout)


def test_generated_files(broker: tuple[VillageBroker, dict[str, str]]) -> None:
    server, passwords = broker
    assert set(passwords) == {"gw", "sl-a", "sl-b", "sl-c", "sl-d"}
    assert (server.workdir / "passwd").stat().st_mode & 0o077 == 0
    lines = (server.workdir / "passwd").read_text().splitlines()
    assert len(lines) == 5 and all(line.split(":", 1)[1].startswith("$7$101$") for line in lines)
    acl = (server.workdir / "acl").read_text()
    assert "user sl-a\ntopic write stat/sl-a/#\ntopic write tele/sl-a/#\ntopic read cmnd/sl-a/#" in acl
    assert "user sl-c\ntopic write esphome/sl-c/#" in acl


async def test_anonymous_and_wrong_passwords_are_refused(
    broker: tuple[VillageBroker, dict[str, str]],
) -> None:
    server, passwords = broker
    for user, password, tls in [
        (None, None, False),
        (None, None, True),
        ("sl-a", "wrong", False),
        ("sl-a", passwords["sl-b"], False),
        ("nobody", "x", True),
    ]:
        with pytest.raises(aiomqtt.MqttCodeError) as err:
            async with client(server, user, password, tls=tls):
                pass
        assert err.value.rc in (4, 5, 134, 135), err.value  # bad user name or password / not authorised


async def test_devices_publish_only_their_own_topics(broker: tuple[VillageBroker, dict[str, str]]) -> None:
    server, pw = broker
    async with client(server, "gw", pw["gw"]) as gw:
        for topic in ("tele/+/#", "stat/+/#", "esphome/+/#", "thonminh/light/+/#"):
            await gw.subscribe(topic, qos=1)
        async with client(server, "sl-a", pw["sl-a"]) as a:
            # refused: another light's topics, a foreign tree, another format's tree
            for topic in (
                "tele/sl-b/STATE",
                "stat/sl-b/POWER",
                "esphome/sl-a/status",
                "thonminh/light/sl-a/state",
                "cmnd/sl-b/POWER",
                "tasmota/discovery/x/config",
            ):
                await a.publish(topic, b"forged", qos=1)
            await a.publish("tele/sl-a/STATE", b'{"POWER":"ON"}', qos=1)
        # messages of one publisher arrive in order: had any forged one passed, it would come first
        first = await _first(gw.messages)
        assert (first.topic.value, first.payload) == ("tele/sl-a/STATE", b'{"POWER":"ON"}')
        for user, topic in (("sl-c", "esphome/sl-c/status"), ("sl-d", "thonminh/light/sl-d/state")):
            async with client(server, user, pw[user]) as device:
                await device.publish("tele/sl-a/STATE", b"forged", qos=1)
                await device.publish(topic, b"online", qos=1)
            msg = await _first(gw.messages)
            assert (msg.topic.value, msg.payload) == (topic, b"online")


async def test_devices_cannot_read_other_topics(broker: tuple[VillageBroker, dict[str, str]]) -> None:
    server, pw = broker
    async with (
        client(server, "sl-a", pw["sl-a"], ident="reader-a") as a,
        client(server, "gw", pw["gw"], ident="gw-reader") as gw,
    ):
        # Mosquitto 2.0 grants the subscription and filters what it delivers
        await a.subscribe("tele/#", qos=1)
        await a.subscribe("stat/sl-b/#", qos=1)
        assert list(await a.subscribe("cmnd/sl-a/#", qos=1)) == [1]
        await gw.subscribe("tele/+/#", qos=1)
        async with client(server, "sl-b", pw["sl-b"]) as b:
            await b.publish("tele/sl-b/STATE", b'{"POWER":"OFF"}', qos=1)
            await b.publish("stat/sl-b/POWER", b"OFF", qos=1)
        await gw.publish("cmnd/sl-a/POWER", b"ON", qos=1)  # and the gateway may not command the lights
        # the broker has routed sl-b's message (the gateway got it), and sl-a got nothing at all
        assert (await _first(gw.messages)).topic.value == "tele/sl-b/STATE"
        with pytest.raises(TimeoutError):
            await _first(a.messages, timeout=0.5)


async def test_tls_listener_with_the_generated_ca(broker: tuple[VillageBroker, dict[str, str]]) -> None:
    server, pw = broker
    async with client(server, "gw", pw["gw"], tls=True, ident="gw-tls") as gw:
        await gw.subscribe("thonminh/light/+/#", qos=1)
        async with client(server, "sl-d", pw["sl-d"], tls=True) as d:
            await d.publish("thonminh/light/sl-d/state", b'{"on":true}', qos=1)
        msg = await _first(gw.messages)
        assert msg.payload == b'{"on":true}'
    with pytest.raises(aiomqtt.MqttError):  # plain MQTT on the TLS port goes nowhere
        async with aiomqtt.Client("127.0.0.1", server.tls_port, username="gw", password=pw["gw"], timeout=1):
            pass


def test_rerun_keeps_existing_passwords(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    inv = tmp_path / "inv.csv"
    inv.write_text(INVENTORY)
    args = ["--inventory", str(inv), "--out-dir", str(tmp_path)]
    assert gen_auth.main(args) == 0
    before = (tmp_path / "passwords.secret.csv").read_text()
    inv.write_text(INVENTORY + "e,sl-e,,json,z,21.38,106.57,100,\n")
    assert gen_auth.main(args) == 0
    after = (tmp_path / "passwords.secret.csv").read_text()
    kept = [line for line in before.splitlines() if line.startswith("sl-")]
    assert len(kept) == 4 and all(line in after for line in kept) and "sl-e," in after
    assert gen_auth.main(["--inventory", str(tmp_path / "missing.csv"), "--out-dir", str(tmp_path)]) == 2
    assert "missing.csv" in capsys.readouterr().err
    assert gen_auth.main([*args, "--gateway-user", "sl-a"]) == 2
    assert "also a device" in capsys.readouterr().err


def test_password_hash_matches_mosquitto_passwd(tmp_path: Path) -> None:
    """Our $7$ hash is what mosquitto_passwd computes for the same salt."""
    subprocess.run(["mosquitto_passwd", "-c", "-b", str(tmp_path / "pw"), "alice", "s3cret"], check=True)
    _, hashed = (tmp_path / "pw").read_text().strip().split(":", 1)
    _, _, iterations, salt, _ = hashed.split("$")
    assert gen_auth.hash_password("s3cret", salt=base64.b64decode(salt), iterations=int(iterations)) == hashed


async def test_the_source_reads_through_tls_with_the_gateway_user(
    broker: tuple[VillageBroker, dict[str, str]],
    tmp_path: Path,
) -> None:
    server, pw = broker
    collector = Collector()
    data = gateway_config(
        tmp_path,
        mqtt_port=server.tls_port,
        inventory=INVENTORY,
        mqtt={
            "username": "gw",
            "password": pw["gw"],
            "tls": {"ca_file": str(server.workdir / "certs" / "ca.crt")},
        },
    )
    config = load(data)
    ((_, cfg),) = config.source_instances()
    async with running(LightsSource(cfg, collector.context(config, tmp_path / "state"))) as source:
        async with client(server, "sl-d", pw["sl-d"], tls=True, ident="sl-d-tls") as d:
            await d.publish("thonminh/light/sl-d/state", b'{"on":true,"power_w":97.5}', qos=1)
        await wait_for(lambda: source.tracker.states["d"].power_w == 97.5, what="the state over TLS")
