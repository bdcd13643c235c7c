"""What the simulated access point's tools print: the formats of real devices (see tests/sources/wifi/fixtures).

Imported by the fake tools on every poll, so it imports only ``json``.
"""

from __future__ import annotations

import json
from typing import Any

__all__ = [
    "State",
    "render_hostapd_all_sta",
    "render_hostapd_status",
    "render_iw_info",
    "render_iw_station_dump",
    "render_leases",
    "render_ubus_get_clients",
]

State = dict[str, Any]


def render_ubus_get_clients(s: State) -> str:
    clients = {}
    for i, x in enumerate(s["stations"]):
        clients[x["mac"]] = {
            "auth": True,
            "assoc": True,
            "authorized": True,
            "preauth": False,
            "wds": False,
            "wmm": True,
            "ht": True,
            "vht": False,
            "he": False,
            "wps": False,
            "mfp": False,
            "rrm": [0, 0, 0, 0, 0],
            "extended_capabilities": [],
            "aid": i + 1,
            "bytes": {"rx": x["rx_bytes"], "tx": x["tx_bytes"]},
            "airtime": {"rx": 0, "tx": 0},
            "packets": {"rx": x["rx_bytes"] // 1100, "tx": x["tx_bytes"] // 1100},
            "rate": {"rx": 72200, "tx": 72200},
            "signal": x["signal"],
            "capabilities": {},
        }
    return json.dumps({"freq": 2437, "clients": clients}, indent="\t") + "\n"


def render_hostapd_status(s: State, iface: str) -> str:
    state = "ENABLED" if s["enabled"] else "DISABLED"
    return (
        f"state={state}\nphy=phy0\nfreq=2437\nnum_sta_non_erp=0\nchannel=6\nsecondary_channel=0\n"
        f"ieee80211n=1\nbeacon_int=100\ndtim_period=2\nbss[0]={iface}\nbssid[0]=02:00:00:00:00:01\n"
        f"ssid[0]={s['ssid']}\nnum_sta[0]={len(s['stations'])}\n"
    )


def render_hostapd_all_sta(s: State) -> str:
    out = []
    for i, x in enumerate(s["stations"]):
        rx, tx = x["rx_bytes"], x["tx_bytes"]
        out.append(
            f"{x['mac']}\nflags=[AUTH][ASSOC][AUTHORIZED][WMM][HT]\naid={i + 1}\ncapability=0x431\n"
            f"listen_interval=10\nsupported_rates=02 04 0b 16 0c 12 18 24 30 48 60 6c\n"
            f"timeout_next=NULLFUNC POLL\nrx_packets={rx // 1100}\ntx_packets={tx // 1100}\n"
            f"rx_bytes={rx}\ntx_bytes={tx}\ninactive_msec=220\nsignal={x['signal']}\n"
            f"rx_rate_info=720\ntx_rate_info=720\nconnected_time={int(s['clock'] - x['joined_at'])}\n"
        )
    return "".join(out)


def render_iw_info(s: State, iface: str) -> str:
    head = f"Interface {iface}\n\tifindex 9\n\twdev 0x2\n\taddr 02:00:00:00:00:01\n"
    if not s["enabled"]:
        return head + "\ttype managed\n\twiphy 0\n\ttxpower 20.00 dBm\n"
    return (
        head + f"\tssid {s['ssid']}\n\ttype AP\n\twiphy 0\n"
        "\tchannel 6 (2437 MHz), width: 20 MHz, center1: 2437 MHz\n\ttxpower 20.00 dBm\n"
    )


def render_iw_station_dump(s: State, iface: str) -> str:
    out = []
    now_ms = int((s["epoch"] + s["clock"]) * 1000)
    for x in s["stations"]:
        rx, tx, sig = x["rx_bytes"], x["tx_bytes"], x["signal"]
        signal = f"\tsignal:  \t{sig} dBm\n\tsignal avg:\t{sig - 2} dBm\n" if s["signal_lines"] else ""
        joined_ms = int((s["epoch"] + x["joined_at"]) * 1000)
        out.append(
            f"Station {x['mac']} (on {iface})\n\tinactive time:\t1060 ms\n\trx bytes:\t{rx}\n"
            f"\trx packets:\t{rx // 1100}\n\ttx bytes:\t{tx}\n\ttx packets:\t{tx // 1100}\n"
            f"\ttx retries:\t0\n\ttx failed:\t0\n{signal}"
            f"\ttx bitrate:\t72.2 MBit/s MCS 7 short GI\n\trx bitrate:\t24.0 MBit/s\n"
            f"\tauthorized:\tyes\n\tauthenticated:\tyes\n\tassociated:\tyes\n\tpreamble:\tshort\n"
            f"\tWMM/WME:\tyes\n\tMFP:\t\tno\n\tTDLS peer:\tno\n\tDTIM period:\t2\n"
            f"\tbeacon interval:100\n\tshort slot time:yes\n"
            f"\tconnected time:\t{int(s['clock'] - x['joined_at'])} seconds\n"
            f"\tassociated at [boottime]:\t{x['joined_at']:.3f}s\n\tassociated at:\t{joined_ms} ms\n"
            f"\tcurrent time:\t{now_ms} ms\n"
        )
    return "".join(out)


def render_leases(s: State) -> str:
    lines = []
    for i, (mac, expiry) in enumerate(sorted(s["leases"].items())):
        lines.append(f"{int(expiry)} {mac} 192.168.50.{10 + i} * 01:{mac}\n")
    return "".join(lines)
