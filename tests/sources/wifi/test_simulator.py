"""The simulated AP: deterministic comings and goings, and tool outputs the real parsers read back."""

from __future__ import annotations

import subprocess
from pathlib import Path

from click.testing import CliRunner

from edge.cli import edge
from edge.sources.wifi.parsers import (
    is_locally_administered,
    parse_dnsmasq_leases,
    parse_hostapd_all_sta,
    parse_hostapd_status,
    parse_iw_info,
    parse_iw_station_dump,
    parse_ubus_clients,
)
from lab.simulate.ap import SimulatedAp
from lab.simulate.apoutput import render_leases

from .conftest import Harness

SAMPLE = Path(__file__).resolve().parents[3] / "edge" / "sources" / "wifi" / "sample.toml"


def run(harness: Harness, *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(harness.bin / argv[0]), *argv[1:]], capture_output=True, text=True, check=False
    )


def test_same_seed_same_day(tmp_path: Path):
    days = []
    for name in ("a", "b"):
        ap = SimulatedAp.create(tmp_path / f"{name}.json", seed=5, epoch=0)
        seen = []
        for _ in range(60):
            ap.step(60)
            seen.append(sorted(x["mac"] for x in ap.stations))
        days.append(seen)
    assert days[0] == days[1]
    counts = [len(s) for s in days[0]]
    assert max(counts) > 0 and len(set(counts)) > 1  # people come and go
    pool = SimulatedAp.load(tmp_path / "a.json").state["pool"]
    assert any(is_locally_administered(m) for m in pool) and not all(is_locally_administered(m) for m in pool)


def test_tools_print_what_the_parsers_read(harness: Harness):
    ap = harness.ap
    ap.step(600)
    for mac in ap.state["pool"][:3]:
        ap.join(mac)
    ap.advance(30)
    expected = {x["mac"]: (x["rx_bytes"], x["tx_bytes"]) for x in ap.stations}
    ubus = run(harness, "ubus", "-t", "5", "call", "hostapd.phy0-ap0", "get_clients")
    cli = run(harness, "hostapd_cli", "-i", "phy0-ap0", "all_sta")
    dump = run(harness, "iw", "dev", "phy0-ap0", "station", "dump")
    for stations in (
        parse_ubus_clients(ubus.stdout),
        parse_hostapd_all_sta(cli.stdout),
        parse_iw_station_dump(dump.stdout),
    ):
        assert {s.mac: (s.rx_bytes, s.tx_bytes) for s in stations} == expected
    assert parse_hostapd_status(run(harness, "hostapd_cli", "status").stdout).up  # with the Selected header
    assert parse_iw_info(run(harness, "iw", "dev", "phy0-ap0", "info").stdout).up
    assert parse_dnsmasq_leases(render_leases(ap.state), ap.state["epoch"]).active >= 3
    ap.set(signal_lines=False)
    assert "signal" not in run(harness, "iw", "dev", "phy0-ap0", "station", "dump").stdout


def test_tools_fail_like_the_real_ones(harness: Harness):
    assert run(harness, "ubus", "call", "hostapd.wlan9", "get_clients").returncode == 4
    iw = run(harness, "iw", "dev", "wlan9", "info")
    assert iw.returncode == 237 and "No such device" in iw.stderr
    harness.ap.set(fault="noconnect")
    cli = run(harness, "hostapd_cli", "-i", "phy0-ap0", "status")
    assert cli.returncode == 255 and "wpa_ctrl_open" in cli.stderr
    ssh = run(harness, "ssh", "-p", "22", "ap.invalid", "ubus call hostapd.phy0-ap0 get_clients")
    assert ssh.returncode == 255


def test_reboot_resets_counters(harness: Harness):
    ap = harness.ap
    ap.join("a8:96:75:f0:3b:c4")
    ap.traffic("a8:96:75:f0:3b:c4", 10, 10)
    ap.reboot()
    assert ap.stations == [] and ap.state["clock"] == 0
    ap.set(counter_bits=32)
    ap.join("a8:96:75:f0:3b:c4")
    ap.traffic("a8:96:75:f0:3b:c4", 2**32 + 5, 1)
    assert ap.stations[0]["rx_bytes"] == 5


def test_sample_config_passes_check_config(tmp_path: Path):
    site = '[site]\nvillage = "kha-ly-thuong"\ngateway = "gw1"\nlatitude = 21.38\nlongitude = 106.57\n'
    path = tmp_path / "gateway.toml"
    path.write_text(site + SAMPLE.read_text())
    result = CliRunner().invoke(edge, ["check-config", "--config", str(path)])
    assert result.exit_code == 0, result.output
    assert "wifi:wifi" in result.output
