"""No MAC address, in any notation, in anything the source emits, rejects, logs or keeps on disk.

The end-to-end counterpart (SQLite buffer and InfluxDB) is in test_e2e.py.
"""

from __future__ import annotations

import logging
import subprocess
from pathlib import Path

import pytest

from edge.sources.wifi.parsers import parse_dnsmasq_leases, parse_iw_station_dump
from thonminh.lineprotocol import encode_line

from .conftest import Harness
from .privacy import leaks, notations

FIXTURES = Path(__file__).parent / "fixtures"


def test_notations_are_all_found():
    forms = notations("0e:ed:c0:e3:59:0e")
    assert {
        "0e:ed:c0:e3:59:0e",
        "0E-ED-C0-E3-59-0E",
        "0eed.c0e3.590e",
        "0EEDC0E3590E",
        "01:0e:ed:c0:e3:59:0e",
    } <= forms
    assert leaks("station 0EED.C0E3.590E seen", ["0e:ed:c0:e3:59:0e"]) == ["0EED.C0E3.590E", "0eed.c0e3.590e"]
    assert leaks("nothing here", ["0e:ed:c0:e3:59:0e"]) == []


async def test_no_address_in_points_rejects_logs_or_state(harness: Harness, caplog: pytest.LogCaptureFixture):
    caplog.set_level(logging.DEBUG)
    ap = harness.ap
    macs = list(ap.state["pool"])
    for mac in macs[:8]:
        ap.join(mac)
        ap.traffic(mac, 1234, 5678)
    # the fixtures' real addresses pass through the same parsers
    real = [s.mac for s in parse_iw_station_dump((FIXTURES / "iw_station_dump_ath9k_lede.txt").read_text())]
    macs += real
    for backend in ("ubus", "ubus_ssh", "ubus_http", "hostapd_cli", "iw"):
        source = harness.source(harness.config(backend))
        await harness.poll(source, 60, churn=True)
        ap.set(fault="garbage")
        await harness.poll(source, 60)
        ap.set(fault="")
        ap.set(enabled=False)
        await harness.poll(source, 60)
        ap.set(enabled=True)
        await source.close()
    # leases the parser cannot read go to reject() too
    harness.ap.set(leases_file=None)
    (harness.tmp / "dhcp.leases").write_text("".join(f"garbage {m} {m.upper()}\n" for m in macs))
    await harness.poll(harness.source(harness.config("iw")), 60)

    # the faults really put addresses in front of the source: a leak would be seen
    ap.set(fault="garbage")
    garbage = subprocess.run(
        [harness.bin / "iw", "dev", "phy0-ap0", "station", "dump"], capture_output=True, check=True
    ).stdout
    ap.set(fault="")
    assert leaks(garbage, macs)

    lines = "\n".join(encode_line(p) for p in harness.emitted)
    rejected = "\n".join(f"{reason} {sample}" for reason, sample in harness.rejected)
    logged = "\n".join(f"{r.getMessage()} {r.__dict__}" for r in caplog.records)
    stored = b"".join(p.read_bytes() for p in (harness.tmp / "state").rglob("*") if p.is_file())
    assert harness.emitted and harness.rejected and caplog.records and stored  # something to search in
    assert {p.fields.get("clients") for p in harness.emitted if p.measurement == "wifi"} - {0}
    for name, haystack in (("points", lines), ("rejects", rejected), ("logs", logged), ("state", stored)):
        assert leaks(haystack, macs) == [], f"a MAC address leaked into the {name}"


def test_leases_parser_returns_counts_only():
    count = parse_dnsmasq_leases((FIXTURES / "dnsmasq_leases_openwrt_vm.txt").read_text(), 0)
    assert leaks(repr(count), ["00:1c:42:0f:b1:c7"]) == []
