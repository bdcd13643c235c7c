"""Wi-Fi source figures: parsing a crowded AP, one whole poll, and the daily-user bookkeeping.

    .venv/bin/python bench/wifi.py

Prints markdown table rows, each figure next to the limit or the peer measured in the same run:
parsing 250 stations against ``json.loads`` of the same ubus text (the floor for that format), a whole
poll through the fake ``ubus`` against running the bare fake tool (the floor of any poll) and against
``timeout_s``, and hashing + persisting 250 users against the poll interval.
"""

from __future__ import annotations

import asyncio
import json
import logging
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from edge.config import GatewayConfig, SiteConfig  # noqa: E402
from edge.sources.wifi.config import WifiConfig  # noqa: E402
from edge.sources.wifi.parsers import parse_hostapd_all_sta, parse_iw_station_dump, parse_ubus_clients  # noqa: E402
from edge.sources.wifi.source import WifiSource  # noqa: E402
from edge.sources.wifi.users import DailyUsers, Sighting  # noqa: E402
from lab.simulate.ap import SimulatedAp, install_fake_commands  # noqa: E402
from lab.simulate.apoutput import (  # noqa: E402
    render_hostapd_all_sta,
    render_iw_station_dump,
    render_ubus_get_clients,
)

STATIONS = 250
INTERVAL_S = 60.0
TIMEOUT_S = 5.0


def median_s(fn: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def row(figure: str, value_s: float, against: str, other_s: float) -> None:
    print(
        f"| {figure} | {value_s * 1000:.2f} ms | {against} | {other_s * 1000:.2f} ms | {value_s / other_s:.3g} |"
    )


def main() -> None:
    tmp = Path(tempfile.mkdtemp(prefix="bench-wifi-"))
    ap = SimulatedAp.create(tmp / "ap.json", seed=1, pool=STATIONS, leases_file=tmp / "dhcp.leases")
    for mac in ap.state["pool"]:
        ap.join(mac)
        ap.traffic(mac, 123_456, 7_654_321)
    ap.advance(600)
    s = ap.state
    ubus, cli, dump = (
        render_ubus_get_clients(s),
        render_hostapd_all_sta(s),
        render_iw_station_dump(s, "phy0-ap0"),
    )
    print("| figure | value | against | limit or peer | ratio |")
    print("| --- | --- | --- | --- | --- |")
    floor = median_s(lambda: json.loads(ubus), 30)
    row(
        f"parse ubus get_clients, {STATIONS} stations",
        median_s(lambda: parse_ubus_clients(ubus), 30),
        "json.loads of the same text",
        floor,
    )
    row(
        f"parse hostapd_cli all_sta, {STATIONS} stations",
        median_s(lambda: parse_hostapd_all_sta(cli), 30),
        "json.loads of the ubus text",
        floor,
    )
    row(
        f"parse iw station dump, {STATIONS} stations",
        median_s(lambda: parse_iw_station_dump(dump), 30),
        "json.loads of the ubus text",
        floor,
    )

    bin_dir = Path(install_fake_commands(tmp / "bin", ap.path))
    bare = median_s(
        lambda: subprocess.run(
            [bin_dir / "ubus", "call", "hostapd.phy0-ap0", "get_clients"], capture_output=True, check=True
        ),
        10,
    )
    gateway = GatewayConfig(
        site=SiteConfig(village="bench", gateway="gw", latitude=21.0, longitude=106.0),
        state_dir=tmp / "state",
    )
    clock = {"mono": 0.0}

    async def emit(points: object) -> None:
        return None

    ctx = gateway.source_context(
        WifiSource,
        "sources.wifi[0]",
        emit=emit,
        logger=logging.getLogger("bench"),
        state_dir=tmp / "state",
        now_ms=lambda: int(time.time() * 1000),
        monotonic=lambda: clock["mono"],
    )
    source = WifiSource(
        WifiConfig(
            command=str(bin_dir / "ubus"),
            interval_s=INTERVAL_S,
            timeout_s=TIMEOUT_S,
            leases_file=str(tmp / "dhcp.leases"),
        ),
        ctx,
    )

    async def polls(n: int) -> list[float]:
        await source.init()
        times = []
        for _ in range(n):
            clock["mono"] += INTERVAL_S
            start = time.perf_counter()
            points = await source.sample()
            times.append(time.perf_counter() - start)
            assert points and points[0].fields["clients"] == STATIONS
        await source.close()
        return times

    poll = statistics.median(asyncio.run(polls(10)))
    row(f"one poll (ubus, {STATIONS} stations, leases)", poll, "bare fake ubus run", bare)
    row(f"one poll (ubus, {STATIONS} stations, leases)", poll, "timeout_s", TIMEOUT_S)

    users = DailyUsers(tmp / "users", ZoneInfo("Asia/Ho_Chi_Minh"))
    sightings = [Sighting(m, 600) for m in ap.state["pool"]]
    now = int(time.time() * 1000)
    book = median_s(lambda: users.observe(sightings, now, INTERVAL_S), 20)
    row(f"hash + persist {STATIONS} users (fsync)", book, "interval_s", INTERVAL_S)


if __name__ == "__main__":
    main()
