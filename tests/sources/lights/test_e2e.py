"""End to end through the real agent, a real Mosquitto and a real InfluxDB.

1. Real-format Tasmota and ESPHome messages (verbatim captures and the simulator) become the right
   ``streetlight`` samples in InfluxDB.
2. The agent is SIGKILLed again and again while lights keep publishing QoS 1 messages: after the last restart
   every published state change is in the journal, no message is missing, and the samples show the last state.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import aiomqtt

from edge.agent import Agent
from lab.localservices import MosquittoServer
from lab.simulate.lightlink import DeviceLink
from lab.simulate.lights import LightDevice, Output
from thonminh.influx import InfluxClient

from .conftest import gateway_config, load, read_journal, wait_for, write_toml

THONMINH = Path(sys.executable).with_name("thonminh")

E2E_INVENTORY = """id,device,channel,format,zone,latitude,longitude,rated_w,report_s
t-1,sl-t1,,tasmota,z1,21.38,106.57,60,
t-2,athomspv3a,,tasmota,z1,21.38,106.57,60,
e-1,sl-e1,,esphome,z2,21.38,106.57,80,
e-2,garagedoor1,,esphome,z2,21.38,106.57,80,
"""
# Verbatim captures (see fixtures/payloads.toml): a Tasmota 13 plug switched on but drawing nothing, and an
# ESPHome 2026.8 light that is off, both under our topic layout.
VERBATIM = [
    ("tele/athomspv3a/LWT", b"Online"),
    (
        "tele/athomspv3a/STATE",
        b'{"Time":"2024-01-14T18:03:15","Uptime":"0T00:03:14","UptimeSec":194,"Heap":183,'
        b'"SleepMode":"Dynamic","Sleep":50,"LoadAvg":21,"MqttCount":1,"Berry":{"HeapUsed":4,"Objects":46},'
        b'"POWER":"ON","Wifi":{"AP":1,"SSId":"indebuurt_IoT","BSSId":"18:E8:29:CA:17:C1","Channel":11,"Mode":"11n",'
        b'"RSSI":60,"Signal":-70,"LinkCount":1,"Downtime":"0T00:00:04"}}',
    ),
    (
        "tele/athomspv3a/SENSOR",
        b'{"Time":"2024-01-14T18:03:15","ENERGY":{"TotalStartTime":"2024-01-14T18:02:42",'
        b'"Total":1066.000,"Yesterday":0.000,"Today":0.000,"Period":0.00,"Power":0.00,"ApparentPower":0.00,'
        b'"ReactivePower":0.00,"Factor":0.00,"Voltage":227.7,"Current":0.000}}',
    ),
    ("esphome/garagedoor1/status", b"online"),
    (
        "esphome/garagedoor1/light/garage_esp_status_led/state",
        b'{"color_mode":"onoff","state":"OFF","color":{}}',
    ),
]


def _latest(influx: InfluxClient, after_ms: int) -> dict[str, dict[str, Any]]:
    result = influx.select(
        'SELECT "on", "online", "expected_on", "fault", "power_w", "voltage_v", "energy_kwh", "observed_s", '
        f'"lit_when_expected_s" FROM "streetlight" WHERE time > {after_ms}ms GROUP BY "light", "zone"'
    )
    latest: dict[str, dict[str, Any]] = {}
    for row in result.rows():
        latest[row["light"]] = row  # rows come in time order
    return latest


async def test_real_formats_end_up_as_samples_in_influxdb(
    tmp_path: Path,
    mosquitto: MosquittoServer,
    influx: InfluxClient,
) -> None:
    config = load(
        gateway_config(
            tmp_path,
            mqtt_port=mosquitto.port,
            inventory=E2E_INVENTORY,
            influx_url=influx.url,
            database=influx.database,
            lights={"lamp_failure_settle_s": 0},
        )
    )
    stop = asyncio.Event()
    agent = Agent(config)
    task = asyncio.create_task(agent.run(stop))
    try:
        await asyncio.wait_for(agent.started.wait(), 30)
        await wait_for(
            lambda: agent.sources and getattr(agent.sources[0], "connected", False), what="subscribed"
        )
        devices = [
            LightDevice("sl-t1", "tasmota", [Output(None, 60)], seed=3),
            LightDevice("sl-e1", "esphome", [Output(None, 80)], seed=3),
        ]
        async with contextlib.AsyncExitStack() as stack:
            for device in devices:
                link = await stack.enter_async_context(DeviceLink(device, "127.0.0.1", mosquitto.port))
                now = time.time_ns() // 1_000_000
                await link.publish(device.birth(now) + device.step(now, True) + device.report(now + 1))
            async with aiomqtt.Client(
                "127.0.0.1", mosquitto.port, identifier=f"verbatim-{tmp_path.name}"
            ) as raw:
                for topic, payload in VERBATIM:
                    await raw.publish(topic, payload, qos=1)
        after = time.time_ns() // 1_000_000 + 1000

        def done() -> bool:
            latest = _latest(influx, after)
            return set(latest) == {"t-1", "t-2", "e-1", "e-2"}

        await wait_for(done, timeout=30, what="samples of every light in InfluxDB")
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)
    latest = _latest(influx, after)
    t1, t2, e1, e2 = (latest[x] for x in ("t-1", "t-2", "e-1", "e-2"))
    assert (t1["on"], t1["online"], t1["expected_on"], t1["fault"]) == (1, 1, 1, "")
    assert 55 < t1["power_w"] < 65
    assert (t2["on"], t2["fault"], t2["power_w"], t2["voltage_v"], t2["energy_kwh"]) == (
        0,
        "lamp_failure",
        0.0,
        227.7,
        1066.0,
    )
    assert (e1["on"], e1["fault"]) == (1, "") and 75 < e1["power_w"] < 85
    assert (e2["on"], e2["fault"], e2["online"]) == (0, "dark", 1) and e2["power_w"] is None
    assert t1["observed_s"] == t1["lit_when_expected_s"] > 0
    assert t2["lit_when_expected_s"] == 0


# -- SIGKILL ---------------------------------------------------------------------------------------------

KILL_INVENTORY = (
    "id,device,channel,format,zone,latitude,longitude,rated_w,report_s\n"
    + "".join(f"j-{i},sl-j{i},,json,z1,21.38,106.57,100,\n" for i in range(6))
    + "".join(f"t-{i},sl-t{i},,tasmota,z2,21.38,106.57,60,\n" for i in range(4))
)


class Publisher:
    """Lights that keep reporting state changes at QoS 1; records what the broker has acknowledged."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.json_seq = {f"sl-j{i}": 0 for i in range(6)}
        self.tasmota_on: dict[str, bool] = {}
        self.tasmota_count = {f"sl-t{i}": 0 for i in range(4)}
        self.stop = asyncio.Event()
        self.rng = random.Random(7)

    async def run(self) -> None:
        async with aiomqtt.Client("127.0.0.1", self.port, identifier="sigkill-lights") as client:
            while not self.stop.is_set():
                device = self.rng.choice([*self.json_seq, *self.tasmota_count])
                if device in self.json_seq:
                    seq = self.json_seq[device] + 1
                    payload = (
                        f'{{"seq":{seq},"boot":1,"on":{"true" if seq % 2 else "false"},"power_w":{seq}}}'
                    )
                    await client.publish(f"thonminh/light/{device}/state", payload, qos=1)
                    self.json_seq[device] = seq  # acknowledged by the broker: it must not be lost
                else:
                    on = not self.tasmota_on.get(device, False)
                    await client.publish(f"stat/{device}/POWER", "ON" if on else "OFF", qos=1)
                    self.tasmota_on[device] = on
                    self.tasmota_count[device] += 1
                await asyncio.sleep(0.002)


def _started(log: Path) -> int:
    return log.read_text().count("agent started")


def _agent(config: Path, log: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    with log.open("ab") as out:
        return subprocess.Popen(
            [str(THONMINH), "edge", "run", "--config", str(config)],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
        )


async def test_sigkilled_agent_loses_no_light_message(
    tmp_path: Path,
    mosquitto: MosquittoServer,
    influx: InfluxClient,
) -> None:
    data = gateway_config(
        tmp_path,
        mqtt_port=mosquitto.port,
        inventory=KILL_INVENTORY,
        influx_url=influx.url,
        database=influx.database,
        lights={"report_period_s": 600},
    )
    config = write_toml(tmp_path / "gateway.toml", data)
    journal = tmp_path / "state" / "lights" / "lights" / "lights.sqlite"
    log = tmp_path / "agent.log"
    publisher = Publisher(mosquitto.port)
    rng = random.Random(11)
    proc = _agent(config, log)
    try:
        # the persistent session must exist before the lights start: wait until a first message is journaled
        async with aiomqtt.Client("127.0.0.1", mosquitto.port, identifier="sigkill-probe") as probe:

            async def probed() -> bool:
                await probe.publish("stat/sl-t0/POWER", "OFF", qos=1)
                return "t-0" in read_journal(journal)

            await wait_for(probed, timeout=30, what=f"the agent to subscribe\n{log.read_text()[-2000:]}")
        task = asyncio.create_task(publisher.run())
        for run in range(1, 4):
            await wait_for(lambda r=run: _started(log) >= r, timeout=30, what="the agent to start")
            await asyncio.sleep(rng.uniform(0.2, 1.0))  # a random moment: mid-batch, mid-commit, mid-ack
            proc.send_signal(signal.SIGKILL)
            await asyncio.to_thread(proc.wait, 10)
            await asyncio.sleep(rng.uniform(0.0, 0.5))  # lights keep publishing to the queued session
            proc = _agent(config, log)
        await asyncio.sleep(0.5)
        publisher.stop.set()
        await task
        assert sum(publisher.json_seq.values()) > 300, "the lights did not publish enough to prove anything"

        def complete() -> bool:
            states = read_journal(journal)
            return all(
                states.get(f"j-{d[4:]}", {}).get("seq") == seq for d, seq in publisher.json_seq.items()
            ) and all(states.get(f"t-{d[4:]}", {}).get("on") is on for d, on in publisher.tasmota_on.items())

        await wait_for(complete, timeout=30, what="every published state in the journal")
        states = read_journal(journal)
        for device, seq in publisher.json_seq.items():
            state = states[f"j-{device[4:]}"]
            assert state["seq_gaps"] == 0, f"{device}: messages lost"
            assert state["on"] is bool(seq % 2) and state["power_w"] == seq
        for device, count in publisher.tasmota_count.items():
            assert states[f"t-{device[4:]}"]["reports"] >= count  # at least once: redeliveries may repeat
        # and the samples written after the last restart show the last states
        after = time.time_ns() // 1_000_000 + 1000
        await wait_for(lambda: len(_latest(influx, after)) == 10, timeout=30, what="fresh samples")
        latest = _latest(influx, after)
        for device, seq in publisher.json_seq.items():
            assert latest[f"j-{device[4:]}"]["on"] == seq % 2
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            await asyncio.to_thread(proc.wait, 20)
        except subprocess.TimeoutExpired:
            proc.kill()
    assert proc.returncode == 0, log.read_text()[-3000:]
