"""Helpers of ``bench/peer_mqtt2influxdb.py``: the peer's venv and config, our gateway's config, a QoS 1
publisher of simulated Tasmota lights, a supervisor that restarts the peer, and polling helpers."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from zoneinfo import ZoneInfo

import paho.mqtt.client as paho
from loads import STANDARD_VILLAGE

from lab.simulate.lights import LightDevice, Output, SimMessage
from thonminh.influx import InfluxClient

ROOT = Path(__file__).resolve().parent.parent

PEER = "mqtt2influxdb==1.5.2"
PEER_DEPS = ("paho-mqtt<2",)  # its Client() call predates paho 2's callback API versions
TZ = "Asia/Ho_Chi_Minh"
SENTINEL = "sl-sentinel"
WARM_KWH, DONE_KWH = 111.111, 999.999  # the sentinel's energy reading: warming up, end of a stream
VILLAGE_MSG_S = STANDARD_VILLAGE.light_messages_per_s  # bench/loads.py: STATE + SENSOR once a minute


def ensure_peer(venv: Path) -> Path:
    """The peer's executable in its own venv, installed from PyPI on first use."""
    exe = venv / "bin" / "mqtt2influxdb"
    if not exe.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run(
            [
                str(venv / "bin" / "pip"),
                "install",
                "--quiet",
                "--disable-pip-version-check",
                PEER,
                *PEER_DEPS,
            ],
            check=True,
        )
    return exe


def peer_config(path: Path, mqtt_port: int, influx_port: int, database: str) -> None:
    path.write_text(f"""mqtt:
  host: 127.0.0.1
  port: {mqtt_port}
influxdb:
  host: 127.0.0.1
  port: {influx_port}
  database: {database}
points:
  - measurement: streetlight_energy
    topic: tele/+/SENSOR
    fields:
      power_w: {{value: $.payload.ENERGY.Power, type: float}}
      voltage_v: {{value: $.payload.ENERGY.Voltage, type: float}}
      current_a: {{value: $.payload.ENERGY.Current, type: float}}
      energy_kwh: {{value: $.payload.ENERGY.Total, type: float}}
    tags:
      light: $.topic[1]
  - measurement: streetlight_state
    topic: tele/+/STATE
    fields:
      power: $.payload.POWER
    tags:
      light: $.topic[1]
""")


def gateway_config(
    path: Path, work: Path, mqtt_port: int, influx_url: str, database: str, lights: int
) -> None:
    work.mkdir(parents=True, exist_ok=True)
    inventory = work / "inventory.csv"
    rows = ["id,device,channel,format,zone,latitude,longitude,rated_w,report_s"]
    rows += [f"sl-{i:04d},sl-{i:04d},,tasmota,z1,21.38,106.57,60," for i in range(lights)]
    rows.append(f"{SENTINEL},{SENTINEL},,tasmota,z1,21.38,106.57,60,")
    inventory.write_text("\n".join(rows) + "\n")
    now = dt.datetime.now(ZoneInfo(TZ))
    on, off = (now - dt.timedelta(hours=3)).strftime("%H:%M"), (now + dt.timedelta(hours=3)).strftime("%H:%M")
    path.write_text(f"""state_dir = "{work / "state"}"
[site]
village = "bench"
gateway = "bench-gw"
latitude = 21.38
longitude = 106.57
[influxdb]
url = "{influx_url}"
database = "{database}"
[mqtt]
host = "127.0.0.1"
port = {mqtt_port}
client_id = "bench-gateway"
[buffer]
path = "{work / "buffer.sqlite"}"
[forwarder]
backoff_initial_s = 0.5
backoff_max_s = 2.0
[clock]
check = "always"
[log]
level = "warning"
[sources.gateway]
enabled = false
[sources.lights]
inventory = "{inventory}"
interval_s = 1
report_period_s = 600
[sources.lights.schedule]
mode = "fixed"
on = "{on}"
off = "{off}"
""")


class Publisher:
    """One MQTT client publishing the devices' messages at QoS 1, waiting for every PUBACK."""

    def __init__(self, port: int) -> None:
        self.client = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id=f"bench-pub-{os.getpid()}")
        self.client.max_inflight_messages_set(1000)
        self.client.max_queued_messages_set(0)
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        self.pending: list[paho.MQTTMessageInfo] = []

    def publish(self, messages: list[SimMessage]) -> None:
        for m in messages:
            self.pending.append(self.client.publish(m.topic, m.payload, qos=1))

    def flush(self) -> None:
        for info in self.pending:
            info.wait_for_publish(60)
        self.pending.clear()

    def close(self) -> None:
        self.flush()
        self.client.loop_stop()
        self.client.disconnect()


def devices(n: int) -> list[LightDevice]:
    return [LightDevice(f"sl-{i:04d}", "tasmota", [Output(None, 60)], seed=1) for i in range(n)]


def report(device: LightDevice, now_ms: int) -> list[SimMessage]:
    """The device's periodic telemetry (relay on), STATE then SENSOR. Each report's energy counter is 10 Wh
    above the last one, so the last report of every light can be recognised in InfluxDB."""
    if device.started_ms is None:
        device.birth(now_ms)
        device.on = [True]
    device.energy_kwh = round(device.energy_kwh + 0.01, 3)
    return device.report(now_ms)


def sentinel_messages(kwh: float) -> list[SimMessage]:
    """A report of the sentinel light: processed after everything published before it."""
    now_ms = int(time.time() * 1000)
    device = LightDevice(SENTINEL, "tasmota", [Output(None, 60)], seed=1)
    device.birth(now_ms)
    device.on = [True]
    device.energy_kwh = kwh
    return device.report(now_ms)


def send_sentinel(port: int, kwh: float) -> None:
    pub = Publisher(port)
    pub.publish(sentinel_messages(kwh))
    pub.close()


def wait_until(check, timeout: float, what: str) -> float:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if check():
                return time.monotonic()
        except Exception:  # noqa: BLE001 - InfluxDB restarting, database not there yet
            pass
        time.sleep(0.05)
    raise TimeoutError(f"timed out waiting for {what}")


def peer_has(client: InfluxClient, kwh: float) -> bool:
    rows = client.select(f"SELECT last(energy_kwh) FROM streetlight_energy WHERE light = '{SENTINEL}'").rows()
    return bool(rows) and abs(rows[0]["last"] - kwh) < 1e-6


def ours_has(client: InfluxClient, kwh: float) -> bool:
    rows = client.select(f"SELECT last(energy_kwh) FROM streetlight WHERE light = '{SENTINEL}'").rows()
    return bool(rows) and abs(rows[0]["last"] - kwh) < 1e-6


def warm_up(port: int, ready, what: str) -> None:
    """Send the warm-up sentinel until ``ready()``: the system is subscribed and writing."""
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        send_sentinel(port, WARM_KWH)
        try:
            wait_until(ready, 3, what)
            return
        except TimeoutError:
            continue
    raise TimeoutError(f"{what} never became ready")


def settled(count) -> int:
    """``count()`` once it stopped growing for 3 s (a backlog drains newest-first in part, see live_share)."""
    last, since = -1, time.monotonic()
    while time.monotonic() - since < 3.0:
        now = count()
        if now != last:
            last, since = now, time.monotonic()
        time.sleep(0.3)
    return last


def peer_points(client: InfluxClient) -> int:
    total = 0
    for measurement, field in (("streetlight_energy", "power_w"), ("streetlight_state", "power")):
        rows = client.select(f"SELECT count({field}) FROM {measurement} WHERE light != '{SENTINEL}'").rows()
        total += rows[0]["count"] if rows else 0
    return total


class Supervised:
    """The peer as pm2/systemd run it: started again one second after it exits."""

    def __init__(self, argv: list[str], log: Path) -> None:
        self.argv, self.log, self.restarts = argv, log, -1
        self._stop = threading.Event()
        self._proc: subprocess.Popen[bytes] | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.restarts += 1
            with self.log.open("ab") as out:
                self._proc = subprocess.Popen(
                    self.argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
                )
            self._proc.wait()
            self._stop.wait(1.0)

    def stop(self) -> None:
        self._stop.set()
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()
            self._proc.wait(10)
        self._thread.join(10)


def start_ours(config: Path, log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "thonminh.cli", "edge", "run", "--config", str(config)],
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            cwd=ROOT,
        )


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        proc.kill()


def last_readings_kept(client: InfluxClient, measurement: str, finals: dict[str, float]) -> int:
    rows = client.select(f"SELECT last(energy_kwh) FROM {measurement} GROUP BY light").rows()
    return sum(1 for r in rows if r["light"] in finals and abs(r["last"] - finals[r["light"]]) < 0.0015)
