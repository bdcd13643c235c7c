"""The parsers on verbatim outputs of real access points (see fixtures/README.md), quirks included."""

from __future__ import annotations

from pathlib import Path

import pytest

from edge.sources.wifi.parsers import (
    LeaseCount,
    ParseError,
    Station,
    is_locally_administered,
    normalize_mac,
    parse_dnsmasq_leases,
    parse_hostapd_all_sta,
    parse_hostapd_status,
    parse_iw_info,
    parse_iw_station_dump,
    parse_ubus_clients,
    redact,
)

FIXTURES = Path(__file__).parent / "fixtures"


def fixture(name: str) -> str:
    return (FIXTURES / name).read_text()


# -- ubus ----------------------------------------------------------------------------------------------------


def test_ubus_get_clients_real_station():
    [station] = parse_ubus_clients(fixture("ubus_get_clients_dawn_139.json"))
    assert station.mac == "cc:66:0a:c8:83:b4"
    assert (station.rx_bytes, station.tx_bytes, station.connected_s) == (6587442, 162734411, None)


def test_ubus_get_clients_cut_short_is_rejected():
    with pytest.raises(ParseError, match="not JSON"):
        parse_ubus_clients(fixture("ubus_get_clients_dawn_139_cut.json"))


def test_ubus_get_clients_with_a_redacted_address_is_rejected():
    # The tab-indented layout and the whitespace-only line inside `capabilities` are fine; the key is not.
    with pytest.raises(ParseError, match="not a MAC address"):
        parse_ubus_clients(fixture("ubus_get_clients_hass_openwrt_1.json"))
    text = fixture("ubus_get_clients_hass_openwrt_1.json").replace("xx:xx:xx:xx:xx:xx", "a8:96:75:f0:3b:c4")
    [station] = parse_ubus_clients(text)
    assert (station.rx_bytes, station.tx_bytes) == (148449402, 8522063)


def test_ubus_skips_stations_that_are_not_associated_and_rejects_bad_counters():
    text = (
        '{"freq": 2437, "clients": {"aa:bb:cc:dd:ee:01": {"assoc": false, "bytes": {"rx": 1, "tx": 2}},'
        ' "aa:bb:cc:dd:ee:02": {"assoc": true}}}'
    )
    [station] = parse_ubus_clients(text)
    assert station.mac == "aa:bb:cc:dd:ee:02" and station.rx_bytes is None
    with pytest.raises(ParseError, match="bytes.rx"):
        parse_ubus_clients('{"clients": {"aa:bb:cc:dd:ee:02": {"bytes": {"rx": "lots", "tx": 1}}}}')
    with pytest.raises(ParseError, match="no 'clients'"):
        parse_ubus_clients('{"freq": 2437}')


def test_ubus_get_clients_nested_too_deep_or_with_odd_numbers_is_rejected():
    with pytest.raises(ParseError, match="not JSON"):
        parse_ubus_clients("[" * 100_000)  # the JSON decoder's RecursionError
    for rx in ('"²"', '"1_0"', '"٣"', "-1", str(2**64), "1.5", "true"):
        with pytest.raises(ParseError, match="bytes.rx"):
            parse_ubus_clients(
                f'{{"clients": {{"aa:bb:cc:dd:ee:02": {{"bytes": {{"rx": {rx}, "tx": 1}}}}}}}}'
            )


# -- hostapd_cli ---------------------------------------------------------------------------------------------


def test_hostapd_all_sta_blocks_concatenated():
    text = "".join(
        fixture(n)
        for n in (
            "hostapd_cli_sta_rdkb_wpa2.txt",
            "hostapd_cli_all_sta_firewalla_he.txt",
            "hostapd_cli_sta_open_randomised.txt",
        )
    )
    stations = parse_hostapd_all_sta(text)
    assert [s.mac for s in stations] == ["48:3b:38:35:cc:fb", "9a:75:ab:b5:34:cb", "0e:ed:c0:e3:59:0e"]
    assert [(s.rx_bytes, s.tx_bytes, s.connected_s) for s in stations] == [
        (85643, 89672, 60),
        (1688544, 4315584, 14521),
        (18215, 3541, 16),
    ]
    assert [is_locally_administered(s.mac) for s in stations] == [False, True, True]


def test_hostapd_sta_without_final_newline():
    [station] = parse_hostapd_all_sta(fixture("hostapd_cli_sta_osw_keyid.txt"))
    assert (station.rx_bytes, station.tx_bytes, station.connected_s) == (0, 0, 2983)


def test_hostapd_all_sta_skips_unassociated_and_rejects_garbage():
    text = "aa:bb:cc:dd:ee:01\nflags=[AUTH]\nrx_bytes=5\naa:bb:cc:dd:ee:02\nflags=[AUTH][ASSOC]\n"
    assert [s.mac for s in parse_hostapd_all_sta(text)] == ["aa:bb:cc:dd:ee:02"]
    assert parse_hostapd_all_sta("") == []
    with pytest.raises(ParseError):
        parse_hostapd_all_sta("rx_bytes=5\n")
    with pytest.raises(ParseError, match="timed out or failed"):
        parse_hostapd_all_sta("'ALL_STA' command timed out.\n")


@pytest.mark.parametrize(
    "name", ["hostapd_cli_status_test_model.txt", "hostapd_cli_status_wifi_presence.txt"]
)
def test_hostapd_status_enabled(name: str):
    status = parse_hostapd_status(fixture(name))
    assert status.up


def test_hostapd_status_disabled_is_down_and_cut_short_is_rejected():
    disabled = fixture("hostapd_cli_status_test_model.txt").replace("state=ENABLED", "state=DISABLED")
    status = parse_hostapd_status(disabled)
    assert not status.up and "DISABLED" in status.reason
    # the Selected interface header is skipped; the poster's cut removed ssid[0]
    with pytest.raises(ParseError, match="no ssid line"):
        parse_hostapd_status(fixture("hostapd_cli_status_selected_interface_cut.txt"))
    with pytest.raises(ParseError, match="no state"):
        parse_hostapd_status("Selected interface 'wlan0'\n")
    with pytest.raises(ParseError, match="FAIL"):
        parse_hostapd_status("FAIL\n")


# -- iw ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("iw_station_dump_ath9k_lede.txt", ("5c:8d:4e:06:ad:86", 94561, 124382, 223)),
        ("iw_station_dump_ath10k_lede.txt", ("1c:5c:f2:52:5c:fc", 190138, 311347, 985)),
        ("iw_station_dump_ipq4019_spaces.txt", ("8c:be:be:f5:8f:59", 14835, 10450, None)),
        ("iw_station_dump_huge_current_time.txt", ("0c:8b:95:aa:b8:f0", 6074902, 2142543, 170543)),
        # MLO: no signal and no counters at station level; the links' counters are summed
        ("iw_station_dump_mlo_no_signal.txt", ("00:03:7f:04:31:78", 116 + 1323, 0 + 1538, 383)),
    ],
)
def test_iw_station_dump(name: str, expected: tuple):
    [station] = parse_iw_station_dump(fixture(name))
    assert (station.mac, station.rx_bytes, station.tx_bytes, station.connected_s) == expected


def test_iw_station_dump_several_and_garbage():
    text = fixture("iw_station_dump_ath9k_lede.txt") + fixture("iw_station_dump_ath10k_lede.txt")
    assert len(parse_iw_station_dump(text)) == 2
    assert parse_iw_station_dump("") == []
    assert parse_iw_station_dump("Station 02:00:00:00:00:09 (on wlan0)\n\tassociated:\tno\n") == []
    with pytest.raises(ParseError, match="before any 'Station"):
        parse_iw_station_dump("\trx bytes:\t5\n")
    with pytest.raises(ParseError, match="rx bytes"):
        parse_iw_station_dump("Station 02:00:00:00:00:09 (on wlan0)\n\trx bytes:\t-5\n")


def test_iw_info():
    assert parse_iw_info(fixture("iw_info_ap.txt")).up
    managed = fixture("iw_info_ap.txt").replace("type AP", "type managed")
    assert not parse_iw_info(managed).up
    no_ssid = "".join(line for line in fixture("iw_info_ap.txt").splitlines(True) if "ssid" not in line)
    assert parse_iw_info(no_ssid).reason == "no SSID"
    with pytest.raises(ParseError):
        parse_iw_info("command failed: No such device (-19)\n")


# -- dnsmasq -------------------------------------------------------------------------------------------------


def test_dnsmasq_leases_expiry():
    text = fixture("dnsmasq_leases_openwrt_vm.txt")
    assert parse_dnsmasq_leases(text, now_s=1633703200) == LeaseCount(2, 4)  # two still valid at that moment
    assert parse_dnsmasq_leases(text, now_s=1733703200).active == 0


def test_dnsmasq_lease_file_quirks():
    count = parse_dnsmasq_leases(fixture("dnsmasq_leases_format_cases.txt"), now_s=1633700000)
    # infinite (0), two hardware-type prefixed ones, the lease length (broken RTC) are active; the old one is
    # not; the DHCPv6 lease after the duid line is not counted at all
    assert (count.active, count.total) == (4, 5)
    assert parse_dnsmasq_leases("", now_s=0) == LeaseCount(0, 0)
    with pytest.raises(ParseError, match="lease-file format"):
        parse_dnsmasq_leases("<html>502 Bad Gateway</html>\n", now_s=0)


@pytest.mark.parametrize("expiry", ["²³", "٣٤٥", "1_700_000_000", "9" * 5000, "-5", "1e9"])
def test_dnsmasq_lines_with_odd_numbers_are_bad_lines_not_crashes(expiry: str):
    bad = f"{expiry} aa:bb:cc:dd:ee:ff 10.0.0.2 h *\n"
    with pytest.raises(ParseError, match="1 line"):
        parse_dnsmasq_leases(bad, now_s=1.8e9)
    good = "0 aa:bb:cc:dd:ee:fe 10.0.0.3 h *\n"
    assert parse_dnsmasq_leases(bad + good, now_s=1.8e9) == LeaseCount(1, 1)  # only the bad line left out


# -- addresses -----------------------------------------------------------------------------------------------


def test_normalize_and_redact_every_notation():
    assert normalize_mac("A8-96-75-F0-3B-C4") == "a8:96:75:f0:3b:c4"
    with pytest.raises(ParseError):
        normalize_mac("a8:96:75:f0:3b")
    text = (
        "a8:96:75:f0:3b:c4 A8:96:75:F0:3B:C4 a8-96-75-f0-3b-c4 a896.75f0.3bc4 a89675f03bc4 "
        "1:a8:96:75:f0:3b:c4 01:a8:96:75:f0:3b:c4 20-80:00:02:08:fe:80:00 keep 2437 deadbeef"
    )
    out = redact(text)
    assert out.split() == ["<mac>"] * 8 + ["keep", "2437", "deadbeef"]
    assert redact("x" * 5000, limit=100).endswith("...(cut)")
    # a station printed by mistake (a debug log, an assertion message) shows no address
    assert repr(Station("a8:96:75:f0:3b:c4", 1, 2)) == "Station(rx_bytes=1, tx_bytes=2, connected_s=None)"
