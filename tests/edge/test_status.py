"""``thonminh edge status`` as a technician on site uses it: the real agent with every kind of source (uplinks
on loopback, the pty modem emulator, the simulated AP's ``ubus``, street lights on a real Mosquitto), InfluxDB
unreachable; then the agent stopped, then the gateway rebooted (tmpfs emptied). Also the health file's writer on
its own."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import signal
import socket
import sqlite3
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner

from edge.buffer import Buffer, NewRow
from edge.cli import edge
from edge.config import load_gateway_config
from edge.health import HealthBook, read_health
from edge.status import default_lang
from lab.localservices import MosquittoServer
from lab.simulate.ap import SimulatedAp, install_fake_commands
from lab.simulate.modem_emulator import ModemEmulator
from lab.simulate.targets import TcpTarget
from thonminh.evidencekeys import grouped, key_fingerprint

TZ = "Asia/Ho_Chi_Minh"
INVENTORY = """id,device,channel,format,zone,latitude,longitude,rated_w,report_s
t-1,sl-t1,,tasmota,z1,21.38,106.57,60,
t-2,sl-t2,,tasmota,z1,21.38,106.57,60,
"""


def cli(*args: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "thonminh.cli", "edge", *args], capture_output=True, text=True, timeout=timeout
    )


def status_json(config: Path) -> dict[str, Any]:
    result = CliRunner().invoke(edge, ["status", "--config", str(config), "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)  # type: ignore[no-any-return]


def by_source(data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {e["source"]: e for e in data["sources"]}


@pytest.fixture
def listening() -> Iterator[int]:
    with TcpTarget("127.0.0.1") as target:
        yield target.port


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def night_around_now() -> str:
    now = dt.datetime.now(ZoneInfo(TZ))
    on, off = now - dt.timedelta(hours=3), now + dt.timedelta(hours=3)
    return f'mode = "fixed"\non = "{on:%H:%M}"\noff = "{off:%H:%M}"'


def write_config(tmp_path: Path, *, up_port: int, modem: str, ubus: str, mqtt_port: int) -> Path:
    (tmp_path / "lights.csv").write_text(INVENTORY)
    uplink = """
[[sources.uplink]]
link = "{link}"
interface = "lo"
interval_s = 1
timeout_s = 0.5
down_after = 1
up_after = 1
[[sources.uplink.targets]]
kind = "tcp"
host = "127.0.0.1"
port = {port}
"""
    config = tmp_path / "gateway.toml"
    config.write_text(f"""
state_dir = "state"
gateway_interval_s = 1
[site]
village = "kha-ly-thuong"
gateway = "klt-gw1"
name = "Khả Lý Thượng"
latitude = 21.38
longitude = 106.57
[influxdb]
url = "http://127.0.0.1:{closed_port()}"
database = "unreachable"
timeout_s = 1
[mqtt]
host = "127.0.0.1"
port = {mqtt_port}
client_id = "gw-status-{tmp_path.name[-20:]}"
[buffer]
path = "buffer.sqlite"
commit_interval_ms = 20
[forwarder]
backoff_initial_s = 0.05
backoff_max_s = 0.5
flush_deadline_s = 0.5
[clock]
check = "always"
{uplink.format(link="fiber", port=up_port)}
{uplink.format(link="4g", port=closed_port())}
[sources.modem]
port = "{modem}"
id = "eg25"
interval_s = 1
command_timeout_s = 0.5
[sources.wifi]
backend = "ubus"
command = "{ubus}"
interval_s = 1
timeout_s = 0.9
[sources.lights]
inventory = "lights.csv"
interval_s = 1
reconnect_initial_s = 0.1
reconnect_max_s = 0.5
[sources.lights.schedule]
{night_around_now()}
""")
    return config


def publish(port: int, topic: str, payload: str, *, retain: bool = False) -> None:
    args = ["mosquitto_pub", "-h", "127.0.0.1", "-p", str(port), "-t", topic, "-m", payload, "-q", "1"]
    subprocess.run(args + (["-r"] if retain else []), check=True, timeout=10)


def wait_for(what: str, check: Any, proc: subprocess.Popen[bytes], log: Path, timeout: float = 45) -> Any:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        assert proc.poll() is None, f"the agent exited waiting for {what}:\n{log.read_text()[-3000:]}"
        value = check()
        if value:
            return value
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}:\n{log.read_text()[-3000:]}\n{check.__doc__ or ''}")


def test_status_per_source_while_the_uplink_is_down_and_after_the_agent_stopped(
    tmp_path: Path, listening: int, mosquitto: MosquittoServer
):
    ap = SimulatedAp.create(tmp_path / "ap.json", seed=3)
    for mac in list(ap.state["pool"])[:2]:
        ap.join(mac)
    ap.save()
    ubus = str(Path(install_fake_commands(tmp_path / "bin", ap.path)) / "ubus")
    link = "usb-Quectel_EG25-G-if02-port0"
    with ModemEmulator("quectel", link_dir=tmp_path / "serial" / "by-id", link_name=link) as modem:
        config = write_config(
            tmp_path, up_port=listening, modem=modem.path, ubus=ubus, mqtt_port=mosquitto.port
        )
        publish(mosquitto.port, "tele/sl-t1/LWT", "Online", retain=True)
        publish(mosquitto.port, "tele/sl-t2/LWT", "Offline", retain=True)
        log = tmp_path / "agent.log"
        with log.open("wb") as out:
            proc = subprocess.Popen(
                [sys.executable, "-m", "thonminh.cli", "edge", "run", "--config", str(config)],
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        try:

            def lights_connected() -> bool:
                return by_source(status_json(config))["lights:lights"]["detail"].get("mqtt_connected") is True

            wait_for("the lights to connect", lights_connected, proc, log)
            # The agent writes a source's new state within 2 s but a change of its details alone (lights online
            # 0/2 to 1/2) only at its 30 s refresh, and no config sets that. So both lights come on, all well
            # ("ok"), then t-2's controller drops off the network (its will, "Offline"): the state changes to
            # "degraded" with the details the test checks, written at once instead of up to 30 s later.
            publish(mosquitto.port, "stat/sl-t1/POWER", "ON")
            publish(mosquitto.port, "tele/sl-t2/LWT", "Online", retain=True)
            publish(mosquitto.port, "stat/sl-t2/POWER", "ON")

            def all_lights_well() -> bool:
                lights = by_source(status_json(config))["lights:lights"]
                return lights["state"] == "ok" and lights["detail"].get("lights_online") == "2/2"

            wait_for("both lights on and online", all_lights_well, proc, log)
            publish(mosquitto.port, "tele/sl-t2/LWT", "Offline", retain=True)

            def settled() -> dict[str, Any] | None:
                data = status_json(config)
                settled.__doc__ = json.dumps(data, indent=1)
                s = by_source(data)
                ready = (
                    s["lights:lights"]["detail"].get("lights_online") == "1/2"
                    and s["modem:eg25"]["state"] == "ok"
                    and s["wifi:wifi"]["state"] == "ok"
                    and s["uplink:4g"]["state"] == "down"
                    and s["uplink:fiber"]["state"] == "ok"
                    and data["influxdb"]["state"] == "down"
                )
                return data if ready else None

            data = wait_for("every source to report", settled, proc, log)
            s = by_source(data)
            assert data["agent"]["running"] is True and data["clock"]["synced"] is True
            assert (
                s["uplink:fiber"]["detail"]["targets"] == "1/1" and s["uplink:fiber"]["detail"]["rtt_ms"] >= 0
            )
            assert "refused" in s["uplink:4g"]["detail"]["reason"]
            assert s["uplink:4g"]["since_ms"] <= s["uplink:4g"]["at_ms"]
            radio = s["modem:eg25"]["detail"]
            assert (
                radio["operator"],
                radio["access_tech"],
                radio["rsrp_dbm"],
                radio["sinr_db"],
                radio["reg_state"],
            ) == ("Viettel", "LTE", -95, 12, "home")
            assert s["wifi:wifi"]["detail"]["clients"] == 2
            assert s["lights:lights"]["state"] == "degraded"
            assert s["lights:lights"]["detail"]["faults"] == "offline 1"
            assert s["gateway:gateway"]["state"] == "ok"
            assert data["influxdb"]["last_write_ms"] is None and data["influxdb"]["backlog_points"] > 0

            started = time.monotonic()
            english = cli("status", "--config", str(config), "--lang", "en")
            assert english.returncode == 0, english.stderr
            assert (
                time.monotonic() - started < 15
            )  # no network wait although the uplink and InfluxDB are down
            key = key_fingerprint(load_gateway_config(config).evidence_key_path)
            assert key, "the agent makes its signing key at its first start"
            for text in (
                # grouped, as the pages and the dossier print it: the technician compares like with like
                f"Gateway klt-gw1 · Khả Lý Thượng (kha-ly-thuong) · signing key {grouped(key)}",
                "Agent: running",
                "uplink:4g: DOWN",
                "uplink:fiber: UP",
                "operator: Viettel",
                "access technology: LTE",
                "RSRP (dBm): -95",
                "registration: home",
                "clients: 2",
                "lights online: 1/2",
                "faults: offline 1",
                "MQTT connected: yes",
                "last successful write: never",
                "Clock: synchronised",
            ):
                assert text in english.stdout, (text, english.stdout)
            vietnamese = cli("status", "--config", str(config), "--lang", "vi")
            for text in (
                "uplink:4g: MẤT KẾT NỐI",
                "nhà mạng: Viettel",
                "đèn trực tuyến: 1/2",
                "ghi thành công gần nhất: chưa bao giờ",
                "Dịch vụ gateway: đang chạy",
            ):
                assert text in vietnamese.stdout, (text, vietnamese.stdout)
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=30)

    stopped = cli("status", "--config", str(config), "--lang", "en")
    assert stopped.returncode == 0, stopped.stderr
    assert "Agent: stopped" in stopped.stdout and "uplink:4g: DOWN" in stopped.stdout
    assert "operator: Viettel" in stopped.stdout  # the states as the agent left them
    after = status_json(config)
    assert after["agent"]["running"] is False and after["agent"]["stopped_ms"] >= after["agent"]["started_ms"]
    # the health file is on tmpfs beside the buffer's intake, never on the SD card
    health = load_gateway_config(str(config)).health_path()
    assert health.parent == load_gateway_config(str(config)).buffer.intake_path().parent
    assert health.is_file() and not list((tmp_path / "state").rglob("health*"))
    assert (
        stat.S_IMODE(health.stat().st_mode) == 0o600 and stat.S_IMODE(health.parent.stat().st_mode) == 0o700
    )

    health.unlink()  # a reboot empties tmpfs: the buffer says the agent ran before, the health is gone
    rebooted = cli("status", "--config", str(config), "--lang", "en")
    assert rebooted.returncode == 0, rebooted.stderr
    assert (
        "Agent: has not run since the gateway started (source health is kept in RAM only)" in rebooted.stdout
    )
    assert "uplink:4g: UNKNOWN  (no report yet)" in rebooted.stdout and "backlog:" in rebooted.stdout
    assert status_json(config)["agent"] == {"running": False}


def test_status_before_the_agent_ever_ran(tmp_path: Path):
    config = tmp_path / "gateway.toml"
    config.write_text(
        'state_dir = "state"\n[site]\nvillage = "v"\ngateway = "g"\nlatitude = 21\nlongitude = 106\n'
        '[buffer]\npath = "buffer.sqlite"\n'
    )
    result = cli("status", "--config", str(config), "--lang", "en")
    assert result.returncode == 0, result.stderr
    assert (
        "Agent: has not run yet" in result.stdout
        and "gateway:gateway: UNKNOWN  (no report yet)" in result.stdout
    )
    # the agent's clock state is not known before it ever ran: not said "not synchronised" as a fact
    assert "Clock: unknown (the agent has not run)" in result.stdout
    vi = cli("status", "--config", str(config), "--lang", "vi")
    assert "Dịch vụ gateway: chưa chạy lần nào" in vi.stdout
    assert "Đồng hồ: chưa rõ (agent chưa chạy)" in vi.stdout and "chưa đồng bộ" not in vi.stdout
    assert json.loads(cli("status", "--config", str(config), "--json").stdout)["agent"] == {"running": False}


def test_the_buffer_line_in_both_languages(tmp_path: Path):
    """Every word of the buffer's figures in the language asked for, not the counters' names."""
    config = tmp_path / "gateway.toml"
    config.write_text(
        'state_dir = "state"\n[site]\nvillage = "v"\ngateway = "g"\nlatitude = 21\nlongitude = 106\n'
        '[buffer]\npath = "buffer.sqlite"\n[clock]\ncheck = "always"\n'
    )
    with Buffer(tmp_path / "buffer.sqlite", max_bytes=2**20) as buffer:
        buffer.put([NewRow("m f=1i", 1_700_000_000_000)], rejects=[("lights:mqtt", "not JSON", "{x")])
    vi = cli("status", "--config", str(config), "--lang", "vi")
    assert vi.returncode == 0, vi.stderr
    assert "    đã gửi 0; bỏ vì hết dung lượng 0; bị từ chối 1 (1 đầu vào, 0 điểm vào thư chết)" in vi.stdout
    assert "_total" not in vi.stdout and "inputs" not in vi.stdout
    assert "Đồng hồ: đã đồng bộ" in vi.stdout  # the agent ran: the clock's check is the answer
    en = cli("status", "--config", str(config), "--lang", "en")
    assert (
        "    forwarded 0; dropped for the disk budget 0; rejected 1 (1 inputs, 0 dead-lettered points)"
        in en.stdout
    )


def test_status_while_the_agent_creates_its_buffer(tmp_path: Path):
    """The agent's first start opens the buffer file before its tables exist: a technician asking then sees
    the status without a backlog, not a traceback; a file that is no buffer at all is named as damaged, beside
    the rest of the status (tests/edge/test_damaged_files.py has the whole of it)."""
    config = tmp_path / "gateway.toml"
    config.write_text(
        'state_dir = "state"\n[site]\nvillage = "v"\ngateway = "g"\nlatitude = 21\nlongitude = 106\n'
        '[buffer]\npath = "buffer.sqlite"\n'
    )
    buffer = load_gateway_config(config).buffer.path
    buffer.parent.mkdir(parents=True, exist_ok=True)
    sqlite3.connect(buffer).execute("PRAGMA journal_mode=WAL").close()  # the file, not yet the schema
    result = cli("status", "--config", str(config), "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert "points" not in data and data["sources"]
    buffer.write_bytes(b"not a database, at all" * 100)
    broken = cli("status", "--config", str(config), "--lang", "en")
    assert broken.returncode == 0 and f"Buffer: DAMAGED: the buffer {buffer} is damaged" in broken.stdout


def test_language_from_the_locale():
    assert default_lang({"LANG": "en_GB.UTF-8"}) == "en"
    assert default_lang({"LANG": "vi_VN.UTF-8"}) == "vi"
    assert default_lang({"LANG": "C.UTF-8"}) == "vi"
    assert default_lang({"LC_ALL": "en_US.UTF-8", "LANG": "vi_VN.UTF-8"}) == "en"


async def test_health_file_written_on_change_rate_limited_and_a_failed_write_keeps_running(tmp_path: Path):
    now = [1_700_000_000_000]
    runtime = tmp_path / "shm" / "thonminh-test"
    path = runtime / "health.json"
    book = HealthBook(path, now_ms=lambda: now[0], urgent_s=0.2, refresh_s=5.0)
    report = book.reporter("uplink:fiber", "uplink")
    stop = asyncio.Event()
    task = asyncio.create_task(book.run(stop))
    report("ok", {"rtt_ms": 10.0})
    await asyncio.sleep(0.4)
    assert read_health(path)["sources"][0]["state"] == "ok"  # type: ignore[index]
    assert stat.S_IMODE(runtime.stat().st_mode) == 0o700  # made private: tmpfs is open to every user
    writes = book.writes
    for i in range(50):  # details only: no write before refresh_s
        now[0] += 1000
        report("ok", {"rtt_ms": 10.0 + i})
        await asyncio.sleep(0.01)
    assert book.writes == writes
    now[0] += 1000
    for state in ("down", "ok", "down"):  # a flapping state: written within urgent_s, not at every flap
        report(state, {"rtt_ms": None, "reason": "0/1 targets answered"})  # type: ignore[arg-type]
    await asyncio.sleep(0.5)
    assert book.writes == writes + 1
    entry = read_health(path)["sources"][0]  # type: ignore[index]
    assert (entry["state"], entry["since_ms"], entry["detail"]) == (
        "down",
        now[0],
        {"reason": "0/1 targets answered"},
    )
    # someone else's file stands where the directory was: the write fails, is logged once, and nothing raises
    path.unlink()
    runtime.rmdir()
    runtime.write_text("not a directory")
    report("ok", {})
    await asyncio.sleep(0.5)
    assert not task.done()
    assert book.write() is False
    stop.set()
    with contextlib.suppress(asyncio.CancelledError):
        await asyncio.wait_for(task, 5)
