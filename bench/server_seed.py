"""Synthetic villages for the criteria service benchmark, written to InfluxDB as gzip line protocol.

Every village has two uplinks (fiber, 4g) sampled every 5 minutes, with a few random outages and, for one
village in twenty, a day-long gap; one village in ``subset`` (default 10) also has a cultural-house AP, five
street lights (15-minute samples), a modem and daily Wi-Fi users. Villages are spread over provinces of
``villages_per_province``, districts of 100 and communes of 10. One series' tags and fields are checked by the
contract's encoder; the rest of its lines reuse that prefix, since encoding 17 M points one by one would time
Python, not the service.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

from thonminh.contract import Point, site_tags
from thonminh.influx import InfluxClient
from thonminh.lineprotocol import encode_line

__all__ = ["SeedPlan", "province_of", "seed", "village_name"]

STEP_MS = 300_000


def village_name(i: int) -> str:
    return f"v{i:05d}"


def province_of(i: int, per_province: int) -> str:
    return f"p{i // per_province:03d}"


class SeedPlan:
    def __init__(
        self,
        villages: int,
        days: int,
        end_ms: int,
        *,
        per_province: int = 1000,
        subset: int = 10,
        seed: int = 7,
    ) -> None:
        self.villages = villages
        self.days = days
        self.end_ms = end_ms - end_ms % STEP_MS
        self.start_ms = self.end_ms - days * 86_400_000
        self.per_province = per_province
        self.subset = subset
        self.seed = seed

    def tags(self, i: int) -> dict[str, str]:
        return site_tags(
            village_name(i),
            f"gw{i:05d}",
            commune=f"c{i // 10:04d}",
            district=f"d{i // 100:03d}",
            province=province_of(i, self.per_province),
        )

    def _prefix(self, point: Point) -> str:
        line = encode_line(point)  # validates the series once against the contract
        return line[: line.index(" ")]

    def village_lines(self, i: int) -> Iterator[str]:
        rng = random.Random(self.seed * 1_000_003 + i)
        tags = self.tags(i)
        times = range(self.start_ms + STEP_MS, self.end_ms + 1, STEP_MS)
        gap = (rng.randrange(self.start_ms, self.end_ms), 86_400_000) if i % 20 == 7 else None
        for link in ("fiber", "4g"):
            prefix = self._prefix(Point("uplink", {**tags, "link": link}, {"up": 1, "observed_s": 300.0}, 0))
            downs = [
                (t, t + rng.randrange(300_000, 4 * 3_600_000))
                for t in (rng.randrange(self.start_ms, self.end_ms) for _ in range(rng.randrange(0, 4)))
            ]
            for t in times:
                if gap and gap[0] <= t < gap[0] + gap[1]:
                    continue
                down = any(a <= t < b for a, b in downs)
                if down:
                    yield f"{prefix} up=0i,up_s=0.0,observed_s=300.0,loss_pct=100.0 {t}"
                else:
                    yield f"{prefix} up=1i,up_s=300.0,observed_s=300.0,rtt_ms=14.2,loss_pct=0.0 {t}"
            event = self._prefix(Point("uplink_event", {**tags, "link": link}, {"state": "up"}, 0))
            for a, b in downs:
                yield f'{event} state="down",reason="targets unreachable" {a}'
                yield f'{event} state="up",reason="targets answered" {b}'
        if i % self.subset == 0:
            yield from self._services(tags, rng)

    def _services(self, tags: dict[str, str], rng: random.Random) -> Iterator[str]:
        ap = self._prefix(Point("wifi", {**tags, "ap": "cultural-house"}, {"observed_s": 300.0}, 0))
        modem = self._prefix(Point("modem", {**tags, "link": "4g", "modem": "ec25"}, {"registered": 1}, 0))
        rsrp = rng.choice((-95.0, -105.0, -112.0))
        for t in range(self.start_ms + STEP_MS, self.end_ms + 1, STEP_MS):
            yield f"{ap} ap_up=1i,up_s=300.0,observed_s=300.0,clients=4i {t}"
            yield f"{modem} registered=1i,rsrp_dbm={rsrp + rng.randrange(-6, 7)},sinr_db=9.0 {t}"
        for n in range(5):
            light = self._prefix(
                Point("streetlight", {**tags, "light": f"L{n}", "zone": "main"}, {"observed_s": 900.0}, 0)
            )
            for t in range(self.start_ms + 900_000, self.end_ms + 1, 900_000):
                local_h = (t // 3_600_000 + 7) % 24
                want = 900.0 if local_h >= 18 or local_h < 6 else 0.0
                lit = 0.0 if n == 4 and int(tags["village"][1:]) % 3 == 0 else want  # a failed lamp
                yield (
                    f"{light} on={int(lit > 0)}i,online=1i,expected_on={int(want > 0)}i,observed_s=900.0,"
                    f'expected_on_s={want},lit_when_expected_s={lit},ok_s={900.0 - want + lit},fault="" {t}'
                )
        daily = self._prefix(Point("wifi_daily", {**tags, "ap": "cultural-house"}, {"unique_users": 1}, 0))
        for day in range(self.days):
            yield f"{daily} unique_users={rng.randrange(5, 60)}i,sessions=80i {self.start_ms + day * 86_400_000}"


def seed(client: InfluxClient, plan: SeedPlan, *, batch_villages: int = 4, writers: int = 2) -> int:
    """Write every village; returns the number of lines. Villages go in whole batches, so each batch holds
    long runs of one series (cheap for the TSM engine)."""
    total = 0

    def send(lines: list[str]) -> None:
        client.write("\n".join(lines), gzip=True, timeout=300)

    with ThreadPoolExecutor(max_workers=writers) as pool:
        pending = []
        for first in range(0, plan.villages, batch_villages):
            lines = [
                line
                for i in range(first, min(first + batch_villages, plan.villages))
                for line in plan.village_lines(i)
            ]
            total += len(lines)
            pending.append(pool.submit(send, lines))
            if len(pending) > writers * 2:
                pending.pop(0).result()
        for future in pending:
            future.result()
    return total
