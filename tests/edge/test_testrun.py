"""``thonminh edge test``: one sample of every configured source as line protocol, ``--send`` into the real
InfluxDB, signed in the agent's chain, and read back, ``--listen`` to the lights on the real Mosquitto; a broken
source fails alone."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from edge_helpers import async_wait_until, gateway_toml
from evidence_check import read_evidence, service_verification

from edge.config import load_gateway_config
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

    sent = run_test(config, "--send", "--source", "uplink", "--source", "modem:eg25", "--source", "wifi")
    assert sent.returncode == 0, sent.stderr
    assert '# sent 1 uplink point(s), read back 1: SELECT * FROM "uplink" WHERE' in sent.stderr
    assert "# sent 1 modem point(s), read back 1" in sent.stderr
    assert not any(line.startswith("gateway,") for line in sent.stdout.splitlines())
    rows = influx.select('SELECT "up", "link" FROM "uplink"').rows()
    assert [(r["up"], r["link"]) for r in rows] == [(1, "fiber")]
    # the day's Wi-Fi count is the agent's: a test's, counted from nothing, would replace it
    assert "# sent 1 wifi point(s), read back 1" in sent.stderr
    assert "# not sent: 1 wifi_daily point(s)" in sent.stderr
    assert not influx.select('SELECT * FROM "wifi_daily"').rows()
    assert read_evidence(influx).unsigned() == 0


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


def uplink_count(influx: InfluxClient) -> int:
    rows = influx.select('SELECT count("up") FROM "uplink"').rows()
    return int(rows[0]["count"]) if rows else 0


async def test_send_is_refused_beside_the_agent_and_signed_in_its_chain_after(
    tmp_path: Path, tcp: TcpTarget, influx: InfluxClient, start_agent
):
    """The agent runs, stops, ``--send`` writes, the agent runs again: the service verifies every point of the
    window, the test's among them, with no fault (no unsigned point, no gap, no number twice)."""
    config = gateway_toml(tmp_path, url=influx.url, database=influx.database, gateway_source=True)
    with config.open("a") as toml:
        toml.write(uplink(tcp.port).replace("timeout_s = 1", "interval_s = 1\ntimeout_s = 0.5"))
    start_ms = int(time.time() * 1000)
    _, running = await start_agent(config)
    await async_wait_until(lambda: uplink_count(influx) >= 2, timeout=30, what="the agent's uplink samples")
    refused = await asyncio.to_thread(run_test, config, "--send")
    assert refused.returncode == 1 and "Traceback" not in refused.stderr, refused.stderr
    assert (
        "the agent is running: stop it first" in refused.stderr and "or test without --send" in refused.stderr
    )
    assert not refused.stdout  # refused before sampling
    await running.finish()

    before = uplink_count(influx)
    sent = await asyncio.to_thread(run_test, config, "--send")
    assert sent.returncode == 0, sent.stderr
    assert "# sent 1 uplink point(s), read back 1" in sent.stderr
    assert uplink_count(influx) == before + 1

    _, running = await start_agent(config)  # continues the chain the test continued
    await async_wait_until(lambda: uplink_count(influx) >= before + 3, timeout=30, what="the agent again")
    await running.finish()
    end_ms = int(time.time() * 1000)

    gateway = load_gateway_config(config)
    evidence = read_evidence(influx)
    assert evidence.unsigned() == 0 and evidence.uncovered() == [] and evidence.chain_breaks() == []
    assert evidence.bad_signatures(gateway.evidence_key_path) == []
    assert {m.epoch for m in evidence.manifests} == {0}  # one chain, continued twice, never restarted
    found = service_verification(
        influx, gateway.evidence_key_path, gateway.site.tags(), start_ms, end_ms, tmp_path / "keys.sqlite"
    )
    assert found.faults == (), found.faults
    points, verified = found.counts["uplink"]
    assert points == verified >= before + 3  # the test's sample and both runs of the agent, all verified
    assert all(points == verified for points, verified in found.counts.values())


async def test_send_right_after_the_agent_stopped_does_not_count_its_last_seconds_twice(
    tmp_path: Path, tcp: TcpTarget, influx: InfluxClient, start_agent
):
    """The agent's last uplink sample stands for the interval before it, and the test's for the interval before
    its own: sent within one interval of the stop, the two counted the same seconds twice. ``--send`` waits out
    the rest of the agent's last interval, and says so."""
    config = gateway_toml(tmp_path, url=influx.url, database=influx.database)
    with config.open("a") as toml:
        toml.write(uplink(tcp.port).replace("timeout_s = 1", "interval_s = 6\ntimeout_s = 0.5"))
    _, running = await start_agent(config)
    await async_wait_until(lambda: uplink_count(influx) >= 1, timeout=30, what="the agent's uplink sample")
    await running.finish()
    sent = await asyncio.to_thread(run_test, config, "--send")
    assert sent.returncode == 0, sent.stderr
    rows = influx.select('SELECT "observed_s" FROM "uplink" ORDER BY time').rows()
    times = [(int(r["time"]), r["observed_s"]) for r in rows]  # epoch ms
    (agent_last, _), (test_at, test_observed) = times[-2], times[-1]
    assert test_at - 1000 * test_observed >= agent_last, times  # the test's seconds begin after the agent's
    assert "waiting" in sent.stderr and "twice" in sent.stderr, sent.stderr


@pytest.mark.skipif(os.geteuid() != 0, reason="giving the state directory to another user needs root")
def test_send_as_another_user_than_the_agents_is_refused(tmp_path: Path, tcp: TcpTarget):
    """The signing chain's live state is on tmpfs under the agent's user id: another user would start a chain
    of its own, and files the agent could not read."""
    config = gateway_toml(tmp_path, url="http://127.0.0.1:9", database="x")
    with config.open("a") as toml:
        toml.write(uplink(tcp.port))
    state = load_gateway_config(config).state_dir
    state.mkdir()
    os.chown(state, 65534, 65534)
    result = run_test(config, "--send")
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    assert f"{state} is " in result.stderr and "run it as the agent's user (sudo -u " in result.stderr
    assert "thonminh edge test ... --send)" in result.stderr
    assert not (tmp_path / "buffer.sqlite").exists() and not list(state.iterdir())


@pytest.mark.skipif(os.geteuid() != 0, reason="giving the state directory to another user needs root")
@pytest.mark.parametrize(
    ("words", "extra"),
    [("drain", ("--timeout", "5")), ("dead-letters requeue", ("--all",)), ("dead-letters purge", ("--all",))],
)
def test_buffer_commands_as_another_user_than_the_agents_are_refused(
    tmp_path: Path, words: str, extra: tuple[str, ...]
):
    """``edge drain`` signs what it forwards too: under plain sudo it forked the gateway's chain (the chain's live
    state is on tmpfs under the user's id), and the service then found numbers missing from both; each of these,
    run by root, leaves SQLite's journal beside the buffer where the agent cannot write it."""
    config = gateway_toml(tmp_path, url="http://127.0.0.1:9", database="x")
    state = load_gateway_config(config).state_dir
    state.mkdir()
    os.chown(state, 65534, 65534)
    run = [sys.executable, "-m", "thonminh.cli", "edge", *words.split(), "--config", str(config), *extra]
    result = subprocess.run(run, capture_output=True, text=True, timeout=120)
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    assert f"run it as the agent's user (sudo -u nobody thonminh edge {words})" in result.stderr, (
        result.stderr
    )
    assert not list(state.iterdir())
