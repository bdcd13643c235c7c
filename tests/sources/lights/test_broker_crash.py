"""The village broker itself crashing, and Tasmota's QoS 0 reports, through the real agent into InfluxDB.

The broker runs firmware_config/mosquitto/mosquitto.conf with its generated users (the gateway logs in with its
own), its persistence on disk; the agent runs as a process. Only what reaches InfluxDB is checked:

1. Mosquitto is SIGKILLed under a connected agent, and again while the agent is down with a report queued for its
   session (and saved by the broker's autosave): the agent reconnects by itself, and the queued report and every
   later one reach InfluxDB; no stale value stays.
2. A Tasmota light publishing at QoS 0 (its default) while the agent is SIGKILLed: the broker queues the report
   for the gateway's session (queue_qos0_messages), and InfluxDB shows it after the agent's restart.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import aiomqtt
import pytest

from thonminh.influx import InfluxClient

from .conftest import gateway_config, wait_for, write_toml
from .test_mosquitto import VillageBroker, generate_auth

THONMINH = Path(sys.executable).with_name("thonminh")
GATEWAY_USER = "thonminh-gateway"
INVENTORY = """id,device,channel,format,zone,latitude,longitude,rated_w,report_s
j-1,sl-j1,,json,z1,21.38,106.57,100,
t-1,sl-t1,,tasmota,z2,21.38,106.57,60,
"""


class SavingBroker(VillageBroker):
    """The village broker, saving its persistence every second instead of every 30 s (so the test need not wait)."""

    def prepare(self) -> None:
        super().prepare()
        with self.config_path.open("a") as f:
            f.write("autosave_interval 1\n")


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[tuple[SavingBroker, dict[str, str]]]:
    work = tmp_path / "broker"
    work.mkdir()
    passwords = generate_auth(work, INVENTORY, GATEWAY_USER)
    server = SavingBroker(work)
    server.start()
    yield server, passwords
    server.kill()


class Agent:
    """``thonminh edge run`` as a process, started and SIGKILLed at will."""

    def __init__(self, config: Path, log: Path) -> None:
        self.config, self.log = config, log
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [str(THONMINH), "edge", "run", "--config", str(self.config)],
                stdout=out,
                stderr=subprocess.STDOUT,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )

    def kill(self) -> None:
        assert self.proc is not None and self.proc.poll() is None, self.tail()
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> int | None:
        if self.proc is None or self.proc.poll() is not None:
            return None
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return None

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-3000:] if self.log.exists() else ""


@pytest.fixture
def agent(
    tmp_path: Path, broker: tuple[SavingBroker, dict[str, str]], influx: InfluxClient
) -> Iterator[Agent]:
    server, passwords = broker
    data = gateway_config(
        tmp_path,
        mqtt_port=server.port,
        inventory=INVENTORY,
        influx_url=influx.url,
        database=influx.database,
        lights={"report_period_s": 600},
        mqtt={"username": GATEWAY_USER, "password": passwords[GATEWAY_USER], "client_id": GATEWAY_USER},
    )
    running = Agent(write_toml(tmp_path / "gateway.toml", data), tmp_path / "agent.log")
    running.start()
    yield running
    running.stop()


def latest_power(influx: InfluxClient, light: str, after_ms: int) -> float | None:
    result = influx.select(
        f'SELECT last("power_w") FROM "streetlight" WHERE "light" = \'{light}\' AND time > {after_ms}ms'
    )
    rows = result.rows()
    return rows[0]["last"] if rows else None


async def until_power(
    influx: InfluxClient,
    light: str,
    value: float,
    agent: Agent,
    *,
    after_ms: int | None = None,
    timeout: float = 30.0,
) -> None:
    since = after_ms if after_ms is not None else time.time_ns() // 1_000_000
    await wait_for(
        lambda: latest_power(influx, light, since) == value,
        timeout=timeout,
        what=f"{light} power_w = {value} in InfluxDB\n{agent.tail()}",
    )


def light_client(server: SavingBroker, user: str, password: str) -> aiomqtt.Client:
    return aiomqtt.Client(
        "127.0.0.1", server.port, username=user, password=password, identifier=user, timeout=10
    )


async def publish_json(server: SavingBroker, password: str, seqs: range) -> None:
    async with light_client(server, "sl-j1", password) as light:
        for seq in seqs:
            payload = f'{{"seq":{seq},"boot":1,"on":true,"power_w":{seq}}}'
            await light.publish("thonminh/light/sl-j1/state", payload, qos=1)


async def saved(server: SavingBroker) -> None:
    """Until the broker's autosave has written what it held now. Killed before that (1.3 s after the gateway
    subscribed, on a loaded CI machine), the restarted broker knew no session and the reports went to nobody."""
    since, store = time.time(), server.workdir / "data" / "mosquitto.db"
    await wait_for(
        lambda: store.exists() and store.stat().st_mtime > since, timeout=10, what="the broker's autosave"
    )


async def test_mosquitto_sigkilled_with_its_persistence(
    broker: tuple[SavingBroker, dict[str, str]],
    agent: Agent,
    influx: InfluxClient,
) -> None:
    server, passwords = broker

    # the gateway's persistent session exists once a first report has gone all the way through
    async def through() -> bool:
        await publish_json(server, passwords["sl-j1"], range(1, 2))
        return latest_power(influx, "j-1", 0) == 1

    await wait_for(through, timeout=30, what=f"the agent to subscribe\n{agent.tail()}")
    await publish_json(server, passwords["sl-j1"], range(2, 21))
    await until_power(influx, "j-1", 20, agent, after_ms=0)

    # 1. the broker dies under the connected agent, the gateway's session saved; the agent reconnects by itself
    await saved(server)
    server.kill()
    server.start()
    await publish_json(server, passwords["sl-j1"], range(21, 31))
    await until_power(influx, "j-1", 30, agent)

    # 2. the agent is down, a report is queued for its session and saved, then the broker dies too
    agent.kill()
    await publish_json(server, passwords["sl-j1"], range(31, 32))
    await saved(server)  # the queued report is on disk
    server.kill()
    server.start()
    agent.start()
    await until_power(influx, "j-1", 31, agent)
    await publish_json(server, passwords["sl-j1"], range(32, 33))
    await until_power(influx, "j-1", 32, agent)
    assert agent.stop() == 0, agent.tail()


async def test_tasmota_qos0_reports_queued_while_the_agent_is_down(
    broker: tuple[SavingBroker, dict[str, str]],
    agent: Agent,
    influx: InfluxClient,
) -> None:
    server, passwords = broker

    async def report(power: float) -> None:
        async with light_client(server, "sl-t1", passwords["sl-t1"]) as light:
            await light.publish("stat/sl-t1/POWER", "ON", qos=0)
            await light.publish(
                "tele/sl-t1/SENSOR", f'{{"ENERGY":{{"Power":{power},"Voltage":229.5}}}}', qos=0
            )

    async def through() -> bool:
        await report(55.0)
        return latest_power(influx, "t-1", 0) == 55.0

    await wait_for(through, timeout=30, what=f"the agent to subscribe\n{agent.tail()}")

    agent.kill()
    await report(57.5)  # QoS 0, nobody connected to take it: the broker queues it for the gateway's session
    agent.start()
    await until_power(influx, "t-1", 57.5, agent)
    await report(58.5)
    await until_power(influx, "t-1", 58.5, agent)
    assert agent.stop() == 0, agent.tail()
