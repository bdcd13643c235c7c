"""End to end: ``thonminh edge run`` with fake ``ubus`` and ``hostapd_cli`` on PATH, into the real InfluxDB.

The simulated AP is scripted while the agent runs: stations come, the radio goes off and on, the tools
print garbage. Then everything the gateway wrote (logs, the SQLite buffer and its WAL, the state files, an
InfluxDB dump) is searched for every MAC address of the simulation, in every notation.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from edge.bufferschema import intake_path
from edge.sources.wifi.users import STATE_FILE, ram_path
from lab.localservices import InfluxDBServer
from lab.simulate.ap import SimulatedAp, install_fake_commands
from thonminh.influx import InfluxClient

from .privacy import leaks

TZ = ZoneInfo("Asia/Ho_Chi_Minh")
DEADLINE_S = 45.0


def wait_for(what: str, check: Callable[[], object], proc: subprocess.Popen[bytes], log: Path) -> object:
    end = time.monotonic() + DEADLINE_S
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise AssertionError(
                f"the agent exited ({proc.returncode}) waiting for {what}:\n{log.read_text()[-3000:]}"
            )
        value = check()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}:\n{log.read_text()[-3000:]}")


def rows(influx: InfluxClient, q: str) -> list[dict]:
    return influx.select(q).rows()


def test_agent_into_influxdb_without_addresses(
    tmp_path: Path, influx: InfluxClient, influxdb: InfluxDBServer
):
    ap = SimulatedAp.create(tmp_path / "ap.json", seed=11, leases_file=tmp_path / "dhcp.leases", live=True)
    macs = list(ap.state["pool"])
    for mac in macs[:4]:
        ap.join(mac)
        ap.traffic(mac, 10_000, 90_000)
    bin_dir = install_fake_commands(tmp_path / "bin", ap.path)
    config = tmp_path / "gateway.toml"
    config.write_text(f"""
state_dir = "state"
[site]
village = "kha-ly-thuong"
gateway = "gw-e2e"
latitude = 21.38
longitude = 106.57
[influxdb]
url = "{influxdb.url}"
database = "{influx.database}"
[buffer]
path = "buffer.sqlite"
commit_interval_ms = 20
[forwarder]
live_interval_s = 0.05
[clock]
check = "always"
[log]
level = "debug"
[[sources.wifi]]
name = "house-ubus"
backend = "ubus"
interval_s = 1
timeout_s = 0.9
leases_file = "{tmp_path / "dhcp.leases"}"
[[sources.wifi]]
name = "house-cli"
ap = "cultural-house-cli"
backend = "hostapd_cli"
interfaces = ["phy0-ap0"]
interval_s = 1
timeout_s = 0.9
""")
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"}
    log = tmp_path / "agent.log"
    thonminh = Path(sys.executable).with_name("thonminh")
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [str(thonminh), "edge", "run", "--config", str(config)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    try:
        q_up = "SELECT ap_up FROM wifi WHERE ap = 'cultural-house' AND ap_up = 1"
        wait_for("wifi samples", lambda: len(rows(influx, q_up)) >= 2, proc, log)
        ap.traffic(macs[0], 5_000, 7_000)
        wait_for(
            "bytes moved",
            lambda: rows(
                influx, "SELECT sum(rx_bytes) FROM wifi WHERE ap = 'cultural-house' AND rx_bytes >= 5000"
            ),
            proc,
            log,
        )
        ap.join(macs[4])
        ap.traffic(macs[4], 5_000, 7_000)
        ap.set(enabled=False)
        wait_for(
            "the AP seen down", lambda: rows(influx, "SELECT ap_up FROM wifi WHERE ap_up = 0"), proc, log
        )
        ap.set(enabled=True, fault="garbage")
        buffer = tmp_path / "buffer.sqlite"

        def rejected() -> int:
            # a reject sits in the intake on tmpfs until the minute's sync stores it in the buffer
            total = 0
            for db_path in (buffer, intake_path(buffer)):
                with contextlib.closing(sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)) as db:
                    total += db.execute("SELECT count(*) FROM rejects").fetchone()[0]
            return total

        wait_for("garbage rejected", rejected, proc, log)
        ap.set(fault="")
        since = int(time.time() * 1000)
        wait_for(
            "the AP back up",
            lambda: rows(influx, f"SELECT ap_up FROM wifi WHERE ap_up = 1 AND time > {since}ms"),
            proc,
            log,
        )
        # what the agent keeps in RAM (the day's users of each source) while it runs: a clean stop removes it
        in_ram = b"".join(
            ram_path(tmp_path / "state" / "wifi" / name / STATE_FILE).read_bytes()
            for name in ("house-ubus", "house-cli")
        )
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
    assert proc.returncode == 0, log.read_text()[-3000:]

    wifi = rows(influx, "SELECT * FROM wifi")
    by_ap = {r["ap"] for r in wifi}
    assert by_ap == {"cultural-house", "cultural-house-cli"}
    for r in wifi:
        assert r["village"] == "kha-ly-thuong" and 0 <= r["up_s"] <= r["observed_s"] + 1e-6
        assert r["up_s"] == (r["observed_s"] if r["ap_up"] else 0)
    totals = rows(
        influx,
        "SELECT sum(up_s), sum(observed_s), sum(rx_bytes), max(clients) FROM wifi "
        "WHERE ap = 'cultural-house'",
    )[0]
    assert 0 < totals["sum"] < totals["sum_1"]  # up most of the time, down for a while
    assert totals["max"] == 5 and totals["sum_2"] >= 5_000  # the fifth station's bytes
    daily = rows(influx, "SELECT * FROM wifi_daily WHERE ap = 'cultural-house'")
    midnight = datetime.now(TZ).replace(hour=0, minute=0, second=0, microsecond=0)
    assert {r["time"] for r in daily} <= {
        int(midnight.timestamp() * 1000),
        int(midnight.timestamp() * 1000) - 86_400_000,
    }  # run across midnight
    assert max(r["unique_users"] for r in daily) == 5 and max(r["sessions"] for r in daily) >= 5

    dump = json.dumps([s.rows() for s in influx.query("SELECT * FROM /.*/")])
    stored = b"".join(p.read_bytes() for p in tmp_path.glob("buffer.sqlite*"))
    state = b"".join(p.read_bytes() for p in (tmp_path / "state").rglob("*") if p.is_file())
    assert b"wifi" in stored and state and b'"salt"' in in_ram and "access point down" in log.read_text()
    assert not any(
        ram_path(tmp_path / "state" / "wifi" / name / STATE_FILE).exists()
        for name in ("house-ubus", "house-cli")
    )
    for name, haystack in (
        ("InfluxDB", dump),
        ("buffer", stored),
        ("state", state),
        ("RAM", in_ram),
        ("log", log.read_bytes()),
    ):
        assert leaks(haystack, macs) == [], f"a MAC address leaked into the {name}"
