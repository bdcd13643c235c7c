"""The source against the simulated AP through every back end: up, down, unknown, bytes, users, leases."""

from __future__ import annotations

import json
import logging

import httpx
import pytest

from edge.sources.wifi.backends import BackendError
from edge.sources.wifi.source import OPTIONAL_FIELDS
from edge.sources.wifi.ubushttp import UbusHttpBackend
from edge.sources.wifi.users import STATE_FILE, ram_path
from thonminh.contract import WIFI, WIFI_DAILY
from thonminh.errors import ConfigError
from thonminh.lineprotocol import encode_line

from .conftest import Harness
from .privacy import leaks

BACKENDS = ["ubus", "ubus_ssh", "ubus_http", "hostapd_cli", "iw"]
A, B, C = "a8:96:75:f0:3b:c4", "0e:ed:c0:e3:59:0e", "8c:be:be:f5:8f:59"


def warnings(caplog: pytest.LogCaptureFixture, text: str) -> list[str]:
    return [r.getMessage() for r in caplog.records if text in r.getMessage()]


@pytest.mark.parametrize("backend", BACKENDS)
async def test_up_clients_bytes_and_daily_users(harness: Harness, backend: str):
    ap = harness.ap
    for mac in (A, B):
        ap.join(mac)
    source = harness.source(harness.config(backend))
    await source.init()
    first = await harness.poll(source, 0)
    wifi = first[WIFI.name]
    assert wifi.tags["ap"] == "cultural-house" and wifi.tags["village"] == "kha-ly-thuong"
    assert wifi.fields["ap_up"] == 1 and wifi.fields["observed_s"] == 0 and wifi.fields["clients"] == 2
    ap.traffic(A, 1_000, 50_000)
    ap.traffic(B, 2_000, 70_000)
    ap.join(C)
    ap.traffic(C, 300, 4_000)
    second = await harness.poll(source, 60)
    wifi = second[WIFI.name]
    assert (wifi.fields["up_s"], wifi.fields["observed_s"], wifi.fields["clients"]) == (60, 60, 3)
    assert (wifi.fields["rx_bytes"], wifi.fields["tx_bytes"]) == (3_300, 124_000)
    daily = second[WIFI_DAILY.name]
    assert (daily.fields["unique_users"], daily.fields["sessions"]) == (3, 3)
    assert daily.time_ms == int(harness.clock.wall_ms // 86_400_000 * 86_400_000 - 7 * 3600_000)
    for point in (wifi, daily):
        encode_line(point)  # valid against the contract
    await source.close()


@pytest.mark.parametrize("backend", BACKENDS)
async def test_radio_disabled_is_down_and_logged_once(
    harness: Harness, backend: str, caplog: pytest.LogCaptureFixture
):
    caplog.set_level(logging.INFO)
    harness.ap.join(A)
    source = harness.source(harness.config(backend))
    await harness.poll(source, 0)
    harness.ap.set(enabled=False)
    for _ in range(2):
        points = await harness.poll(source, 60)
        wifi = points[WIFI.name]
        assert (wifi.fields["ap_up"], wifi.fields["up_s"], wifi.fields["observed_s"]) == (0, 0.0, 60)
        assert wifi.fields["clients"] == 0 and WIFI_DAILY.name in points
    assert len(warnings(caplog, "access point down")) == 1
    harness.ap.set(enabled=True)
    points = await harness.poll(source, 60)
    assert points[WIFI.name].fields["ap_up"] == 1
    assert len(warnings(caplog, "access point down: recovered")) == 1
    # A is back after the AP was down: a new session of the same user
    assert (points[WIFI_DAILY.name].fields["unique_users"], points[WIFI_DAILY.name].fields["sessions"]) == (
        1,
        2,
    )
    await source.close()


@pytest.mark.parametrize(
    ("backend", "fault", "rejected"),
    [
        ("ubus", "garbage", True),
        ("ubus", "partial", True),
        ("ubus", "crash", False),
        ("ubus_ssh", "noconnect", False),
        ("ubus_http", "garbage", True),
        ("hostapd_cli", "noconnect", False),
        ("hostapd_cli", "partial", True),
        ("iw", "garbage", True),
    ],
)
async def test_no_usable_answer_is_unknown(
    harness: Harness, backend: str, fault: str, rejected: bool, caplog: pytest.LogCaptureFixture
):
    caplog.set_level(logging.INFO)
    harness.ap.join(A)
    source = harness.source(harness.config(backend))
    await harness.poll(source, 0)
    harness.ap.set(fault=fault)
    for _ in range(2):
        assert await harness.poll(source, 60) == {}  # no sample: the interval is not observed
    assert len(warnings(caplog, "no usable answer")) == 1
    assert bool(harness.rejected) == rejected
    harness.ap.set(fault="")
    harness.ap.traffic(A, 10, 20)
    wifi = (await harness.poll(source, 60))[WIFI.name]
    # only the time since the failed poll is observed; the bytes after the gap cannot be placed in time
    assert (wifi.fields["ap_up"], wifi.fields["observed_s"], wifi.fields["rx_bytes"]) == (1, 60, 0)
    assert len(warnings(caplog, "no usable answer from the access point: recovered")) == 1
    await source.close()


async def test_missing_command_and_timeout_are_unknown(harness: Harness, caplog: pytest.LogCaptureFixture):
    source = harness.source(harness.config("ubus", command=str(harness.tmp / "nope" / "ubus")))
    assert await harness.poll(source) == {}
    assert "command not found" in warnings(caplog, "no usable answer")[0]
    harness.ap.set(fault="hang")
    source = harness.source(harness.config("iw", timeout_s=1))
    assert await harness.poll(source) == {}
    assert "no answer within 1 s" in warnings(caplog, "no usable answer")[-1]


@pytest.mark.parametrize("backend", ["ubus", "iw"])
async def test_station_leaving_and_ap_reboot(harness: Harness, backend: str):
    ap = harness.ap
    for mac in (A, B):
        ap.join(mac)
        ap.traffic(mac, 10_000, 20_000)
    source = harness.source(harness.config(backend))
    await harness.poll(source, 0)
    ap.traffic(A, 100, 200)
    ap.traffic(B, 1_000, 2_000)
    ap.leave(B)  # its last 1000/2000 bytes cannot be seen any more
    wifi = (await harness.poll(source))[WIFI.name]
    assert (wifi.fields["clients"], wifi.fields["rx_bytes"], wifi.fields["tx_bytes"]) == (1, 100, 200)
    ap.reboot()
    ap.join(A)
    ap.traffic(A, 300, 400)  # counters start again from zero
    wifi = (await harness.poll(source, 60))[WIFI.name]
    assert (wifi.fields["clients"], wifi.fields["rx_bytes"], wifi.fields["tx_bytes"]) == (1, 300, 400)


async def test_unreachable_as_down(harness: Harness):
    source = harness.source(harness.config("hostapd_cli", unreachable_as_down=True))
    await harness.poll(source, 0)
    harness.ap.set(fault="noconnect")
    points = await harness.poll(source, 60)
    assert list(points) == [WIFI.name]
    assert (points[WIFI.name].fields["ap_up"], points[WIFI.name].fields["observed_s"]) == (0, 60)


async def test_wrong_interface_names_and_rotation(harness: Harness):
    harness.ap.set(ifaces=["wlan0"])  # an older OpenWrt
    source = harness.source(harness.config("ubus", interfaces=["phy0-ap0", "wlan0"]))
    assert (await harness.poll(source))[WIFI.name].fields["ap_up"] == 1
    source = harness.source(harness.config("ubus", interfaces=["phy1-ap0"]))
    assert (await harness.poll(source))[WIFI.name].fields["ap_up"] == 0  # the BSS does not exist: down
    source = harness.source(harness.config("hostapd_cli", interfaces=["phy1-ap0"]))
    assert await harness.poll(source) == {}  # hostapd_cli cannot tell a wrong name from hostapd missing


async def test_http_session_expiry_logs_in_again(harness: Harness):
    source = harness.source(harness.config("ubus_http"))
    assert harness.http is not None
    await harness.poll(source, 0)
    harness.http.sessions.clear()
    assert (await harness.poll(source))[WIFI.name].fields["ap_up"] == 1
    bad = harness.source(harness.config("ubus_http", http={"url": harness.http.url, "password": "wrong"}))
    assert await harness.poll(bad) == {}
    await source.close()
    await bad.close()


async def test_an_http_answer_nested_too_deep_is_a_backend_error_without_addresses(harness: Harness):
    deep = f'{{"jsonrpc": "2.0", "id": 1, "station": "{A}", "result": ' + "[" * 100_000

    def uhttpd(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, text=deep)

    backend = UbusHttpBackend(harness.config("ubus_http"), transport=httpx.MockTransport(uhttpd))
    with pytest.raises(BackendError, match="answer is not JSON") as raised:
        await backend.read()  # json's RecursionError, turned into the back end's own error
    assert raised.value.sample is not None and "<mac>" in raised.value.sample
    assert leaks(raised.value.sample, [A]) == []
    await backend.close()


async def test_leases_and_optional_fields_follow_the_contract(
    harness: Harness, caplog: pytest.LogCaptureFixture
):
    caplog.set_level(logging.INFO)
    harness.ap.join(A)
    config = harness.config("iw", opening_hours=[{"days": "mon-sun", "open": "07:00", "close": "21:00"}])
    source = harness.source(config)
    fields = (await harness.poll(source))[WIFI.name].fields
    for name in OPTIONAL_FIELDS:
        # written once the contract declares them (proposed to the lead), never before
        assert (name in fields) == (name in WIFI.fields)
    harness.ap.set(leases_file=None)  # the simulator stops writing it
    (harness.tmp / "dhcp.leases").write_text("<html>garbage</html>\n")
    await harness.poll(source)
    (harness.tmp / "dhcp.leases").unlink()
    await harness.poll(source)
    assert len(warnings(caplog, "DHCP leases unreadable")) == 1
    assert any("leases" in reason for reason, _ in harness.rejected)


@pytest.mark.parametrize("backend", ["ubus", "hostapd_cli", "iw"])
@pytest.mark.parametrize("expiry", ["²³", "9" * 5000])  # str.isdigit() is true for both; int() takes neither
async def test_a_garbled_lease_file_leaves_out_only_the_lease_count(
    harness: Harness, backend: str, expiry: str
):
    harness.ap.join(A)
    source = harness.source(harness.config(backend))
    assert (await harness.poll(source, 0))[WIFI.name].fields["dhcp_leases"] == 1
    harness.ap.set(leases_file=None)  # the simulator stops writing it
    (harness.tmp / "dhcp.leases").write_text(f"{expiry} {A} 10.0.0.2 phone *\n")
    points = await harness.poll(source, 60)
    wifi = points[WIFI.name]
    assert (wifi.fields["ap_up"], wifi.fields["clients"], wifi.fields["observed_s"]) == (1, 1, 60)
    assert "dhcp_leases" not in wifi.fields and points[WIFI_DAILY.name].fields["unique_users"] == 1
    [(reason, sample)] = harness.rejected
    assert reason == "wifi cultural-house: leases: dnsmasq leases: 1 line(s) not in the lease-file format"
    assert isinstance(sample, str) and leaks(sample, [A]) == []
    assert "<mac>" in sample or sample.endswith("...(cut)")  # redacted, or cut before the address
    await source.close()


async def test_restart_same_day_keeps_the_count(harness: Harness):
    for mac in (A, B):
        harness.ap.join(mac)
    source = harness.source(harness.config("hostapd_cli"))
    await harness.poll(source, 0)
    again = harness.source(harness.config("hostapd_cli"))
    daily = (await harness.poll(again, 300))[WIFI_DAILY.name]
    assert (daily.fields["unique_users"], daily.fields["sessions"]) == (2, 2)


async def test_sigkill_keeps_the_count_a_power_cut_loses_at_most_15_minutes_a_stop_nothing(harness: Harness):
    stored = harness.tmp / "state" / "wifi" / STATE_FILE
    ram = ram_path(stored)
    harness.ap.join(A)
    source = harness.source(harness.config("hostapd_cli"))
    await harness.poll(source, 0)  # the first poll of a run is stored on the SD card
    harness.ap.join(B)
    await harness.poll(source)  # B is in RAM only: no flash write for a minute's change
    assert ram.parent.stat().st_mode & 0o777 == 0o700 and ram.stat().st_mode & 0o777 == 0o600
    assert (
        len(json.loads(ram.read_text())["users"]) == 2 and len(json.loads(stored.read_text())["users"]) == 1
    )

    # SIGKILL: the source never closes; the next start resumes from the RAM copy
    again = harness.source(harness.config("hostapd_cli"))
    daily = (await harness.poll(again))[WIFI_DAILY.name]
    assert (daily.fields["unique_users"], daily.fields["sessions"]) == (2, 2)
    assert len(json.loads(stored.read_text())["users"]) == 2  # a start stores at its first poll
    harness.ap.join(C)
    for _ in range(14):  # C is counted for 14 minutes, the SD card's copy is 14 minutes old
        await harness.poll(again)
    assert len(json.loads(stored.read_text())["users"]) == 2
    await harness.poll(again)  # 15 minutes since the last store: stored
    assert len(json.loads(stored.read_text())["users"]) == 3
    harness.ap.join("5e:1b:00:00:00:04")
    await harness.poll(again)

    # power cut: tmpfs is gone; the SD card's copy lacks only the last minute's new user
    ram.unlink()
    after_cut = harness.source(harness.config("hostapd_cli"))
    harness.ap.leave("5e:1b:00:00:00:04")
    daily = (await harness.poll(after_cut))[WIFI_DAILY.name]
    assert daily.fields["unique_users"] == 3

    # a clean stop stores everything and leaves nothing in RAM
    harness.ap.join("5e:1b:00:00:00:05")
    await harness.poll(after_cut)
    await after_cut.close()
    assert not ram.exists() and len(json.loads(stored.read_text())["users"]) == 4
    daily = (await harness.poll(harness.source(harness.config("hostapd_cli"))))[WIFI_DAILY.name]
    assert daily.fields["unique_users"] == 4


async def test_no_daily_count_while_the_clock_is_unsynchronised(harness: Harness):
    class AgentClock:  # the agent passes its clock's ``synced`` as ctx.clock_synced
        in_sync = False

        def synced(self) -> bool:
            return self.in_sync

    clock = AgentClock()
    harness.ap.join(A)
    source = harness.source(harness.config("ubus"), clock_synced=clock.synced)
    assert list(await harness.poll(source)) == [WIFI.name]  # the wifi sample is stamped and corrected later
    assert not (harness.tmp / "state" / "wifi" / "wifi-users.json").exists()  # day and salt untouched
    assert not ram_path(harness.tmp / "state" / "wifi" / "wifi-users.json").exists()
    clock.in_sync = True
    daily = (await harness.poll(source))[WIFI_DAILY.name]
    assert (daily.fields["unique_users"], daily.fields["sessions"]) == (1, 1)


async def test_first_poll_and_a_long_stall(harness: Harness):
    source = harness.source(harness.config("ubus"))
    assert (await harness.poll(source))[WIFI.name].fields["observed_s"] == 0
    assert (await harness.poll(source, 119))[WIFI.name].fields["observed_s"] == 119
    assert (await harness.poll(source, 3600))[WIFI.name].fields["observed_s"] == 60


def test_config_errors_name_the_key(harness: Harness, tmp_path):
    from edge.config import load_gateway_config

    base = '[site]\nvillage = "v"\ngateway = "g"\nlatitude = 1\nlongitude = 1\n[sources.wifi]\n'
    cases = {
        'backend = "ubus_ssh"\n': "sources.wifi[0]: backend = 'ubus_ssh' needs",
        'interfaces = ["wlan0; rm -rf /"]\n': "sources.wifi[0].interfaces[0]",
        'ap = "Cultural House"\n': "sources.wifi[0].ap",
        "interval_s = 5\ntimeout_s = 5\n": "must exceed timeout_s",
        'opening_hours = [{open = "25:00", close = "21:00"}]\n': "sources.wifi[0].opening_hours[0].open",
    }
    for extra, message in cases.items():
        path = tmp_path / "gateway.toml"
        path.write_text(base + extra)
        with pytest.raises(ConfigError) as info:
            load_gateway_config(path)
        assert message in str(info.value), str(info.value)
