"""``thonminh edge test``: one sample of every configured source as line protocol, ``--send`` into the real
InfluxDB and read back, ``--listen`` to the lights on the real Mosquitto; a broken source fails alone."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from lab.localservices import InfluxDBServer, MosquittoServer
from lab.simulate.ap import SimulatedAp, install_fake_commands
from lab.simulate.modem_emulator import ModemEmulator
from lab.simulate.targets import TcpTarget
from thonminh.influx import InfluxClient

INVENTORY = (
    "id,device,channel,format,zone,latitude,longitude,rated_w,report_s\n"
    "t-1,sl-t1,,tasmota,z1,21.38,106.57,60,\n"
)


def run_test(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "thonminh.cli", "edge", "test", "--config", str(config), *args],
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def tcp() -> Iterator[TcpTarget]:
    with TcpTarget("127.0.0.1") as target:
        yield target


@pytest.fixture
def modem(tmp_path: Path) -> Iterator[ModemEmulator]:
    with ModemEmulator(
        "quectel", link_dir=tmp_path / "by-id", link_name="usb-Quectel_EG25-G-if02-port0"
    ) as m:
        yield m


def write_config(tmp_path: Path, *, influx_url: str, database: str, mqtt_port: int, body: str) -> Path:
    now = dt.datetime.now(ZoneInfo("Asia/Ho_Chi_Minh"))
    on, off = now - dt.timedelta(hours=3), now + dt.timedelta(hours=3)
    (tmp_path / "lights.csv").write_text(INVENTORY)
    path = tmp_path / "gateway.toml"
    path.write_text(f"""
state_dir = "state"
[site]
village = "kha-ly-thuong"
gateway = "klt-gw1"
latitude = 21.38
longitude = 106.57
[influxdb]
url = "{influx_url}"
database = "{database}"
timeout_s = 5
[mqtt]
host = "127.0.0.1"
port = {mqtt_port}
client_id = "gw-test-{tmp_path.name[-20:]}"
[buffer]
path = "buffer.sqlite"
[clock]
check = "always"
[sources.lights]
inventory = "lights.csv"
interval_s = 1
[sources.lights.schedule]
mode = "fixed"
on = "{on:%H:%M}"
off = "{off:%H:%M}"
{body}""")
    return path


def uplink(port: int, interface: str = "lo") -> str:
    return (
        f'[[sources.uplink]]\nlink = "fiber"\ninterface = "{interface}"\ntimeout_s = 1\n'
        f'[[sources.uplink.targets]]\nkind = "tcp"\nhost = "127.0.0.1"\nport = {port}\n'
    )


def test_one_sample_of_every_source_sent_and_read_back(
    tmp_path: Path,
    tcp: TcpTarget,
    modem: ModemEmulator,
    influx: InfluxClient,
    influxdb: InfluxDBServer,
    mosquitto: MosquittoServer,
):
    ap = SimulatedAp.create(tmp_path / "ap.json", seed=5)
    ap.join(next(iter(ap.state["pool"])))
    ap.save()
    ubus = Path(install_fake_commands(tmp_path / "bin", ap.path)) / "ubus"
    body = uplink(tcp.port) + (
        f'[sources.modem]\nport = "{modem.path}"\nid = "eg25"\ncommand_timeout_s = 1\n'
        f'[sources.wifi]\nbackend = "ubus"\ncommand = "{ubus}"\n'
    )
    config = write_config(
        tmp_path, influx_url=influxdb.url, database=influx.database, mqtt_port=mosquitto.port, body=body
    )

    printed = run_test(config)
    assert printed.returncode == 0, printed.stderr
    lines = printed.stdout.splitlines()
    assert {line.split(",", 1)[0] for line in lines} == {"uplink", "modem", "wifi", "wifi_daily", "gateway"}
    assert any(line.startswith("uplink,") and "up=1i" in line and "link=fiber" in line for line in lines)
    assert any(line.startswith("modem,") and 'operator="Viettel"' in line for line in lines)
    assert any(line.startswith("wifi,") and "clients=1i" in line for line in lines)
    assert "# lights:lights (sources.lights[0]): 0 point(s): push source" in printed.stderr
    assert not influx.select("SHOW MEASUREMENTS").rows()  # nothing sent without --send

    sent = run_test(config, "--send", "--source", "uplink", "--source", "modem:eg25")
    assert sent.returncode == 0, sent.stderr
    assert '# sent 1 uplink point(s), read back 1: SELECT * FROM "uplink" WHERE' in sent.stderr
    assert "# sent 1 modem point(s), read back 1" in sent.stderr
    assert "wifi" not in sent.stdout
    rows = influx.select('SELECT "up", "link" FROM "uplink"').rows()
    assert [(r["up"], r["link"]) for r in rows] == [(1, "fiber")]


def test_a_broken_source_fails_alone_and_an_unreachable_influxdb_fails_the_send(
    tmp_path: Path, tcp: TcpTarget, mosquitto: MosquittoServer
):
    body = uplink(tcp.port) + uplink(tcp.port, "nosuchif0").replace('"fiber"', '"4g"')
    config = write_config(
        tmp_path, influx_url="http://127.0.0.1:9", database="x", mqtt_port=mosquitto.port, body=body
    )
    result = run_test(config, "--send")
    assert result.returncode == 1
    assert (
        "# uplink:4g (sources.uplink[1]): FAILED: ConfigError: sources.uplink[1].interface: no network "
        "interface 'nosuchif0'" in result.stderr
    )
    assert any(line.startswith("uplink,") and "link=fiber" in line for line in result.stdout.splitlines())
    assert "# send: http://127.0.0.1:9: " in result.stderr and "Traceback" not in result.stderr
    unknown = run_test(config, "--source", "uplnk")
    assert unknown.returncode == 2 and "no enabled source matches uplnk" in unknown.stderr


def test_listen_to_the_lights(tmp_path: Path, mosquitto: MosquittoServer):
    config = write_config(
        tmp_path, influx_url="http://127.0.0.1:9", database="x", mqtt_port=mosquitto.port, body=""
    )
    subprocess.run(
        ["mosquitto_pub", "-p", str(mosquitto.port), "-t", "tele/sl-t1/LWT", "-m", "Online", "-r"],
        check=True,
        timeout=10,
    )
    result = run_test(config, "--listen", "2.5", "--source", "lights")
    assert result.returncode == 0, result.stderr
    assert "push source: listened 2.5 s" in result.stderr
    assert any(line.startswith("streetlight,") and "light=t-1" in line for line in result.stdout.splitlines())
