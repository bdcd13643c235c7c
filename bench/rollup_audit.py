"""Benchmark of the rollup audit (server/rollup_rows.py): what comparing a day's stored rollup rows with those
computed from the samples costs the pass that rolls an older day again, against the same pass without it.

    .venv/bin/python bench/rollup_audit.py [--villages 400] [--repeat 3]

Seeds ``--villages`` villages of bench/server_seed.py for two days, every one with its uplinks, an access point,
a modem and five lights (9 series), rolls them up, then rolls one whole UTC day again, as the reconciling
pass does a day a pass: unaudited (``into``: inside InfluxDB; ``write``: read and written back) and audited
(read, compared with the rows stored, written back, in either mode). The cost is per rollup row, so the table
also gives it for a province of 2,000 villages of the standard load (36 series each: 30 lights), whose
reconciling pass rolls 1.7 million hourly rows a day, and the same for the Python memory the roll holds at its
peak (tracemalloc, in a run of its own).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import server_seed
from agent_cpu import cpu_s
from server_criteria import private_influx

from server.plan import DAY_MS, floor_day
from server.rollups import AUDIT_VILLAGES, Rollups
from thonminh.influx import InfluxClient

PROVINCE_ROWS_PER_DAY = 2_000 * 36 * 24
#: series a village of the standard load has (30 lights), against the seed's 9
SERIES_SCALE = 36 / 9
PASS_INTERVAL_S = 300.0  # the rollups' interval_s by default


def measure(
    rollups: Rollups, day: int, audit: bool, repeat: int, influx_pid: int
) -> tuple[float, float, float]:
    """Median wall, Python CPU and InfluxDB CPU seconds of rolling ``day`` again."""
    runs = []
    for _ in range(repeat):
        influx0, cpu0, t0 = cpu_s(influx_pid), time.process_time(), time.perf_counter()
        rollups.roll(day, day + DAY_MS, audit=audit)
        runs.append((time.perf_counter() - t0, time.process_time() - cpu0, cpu_s(influx_pid) - influx0))
    return tuple(statistics.median(r[i] for r in runs) for i in range(3))  # type: ignore[return-value]


def peak_mib(rollups: Rollups, day: int, audit: bool) -> float:
    """The Python memory that rolling ``day`` again holds at its peak (tracemalloc: a run of its own, slower)."""
    tracemalloc.start()
    try:
        rollups.roll(day, day + DAY_MS, audit=audit)
        return tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()


def province_peak(peak_mib: float, rows: int, villages: int) -> float:
    """The peak for a province: an audited roll holds ``AUDIT_VILLAGES`` villages at a time, so it grows with
    the series of a village, not with the villages, once there are more than a group."""
    if villages >= AUDIT_VILLAGES:
        return peak_mib * SERIES_SCALE
    return peak_mib * PROVINCE_ROWS_PER_DAY / rows


def settle(influx_pid: int) -> None:
    """Wait for InfluxDB to finish compacting the bulk load: its CPU would be counted as the passes'."""
    while True:
        before = cpu_s(influx_pid)
        time.sleep(2.0)
        if cpu_s(influx_pid) - before < 0.1:
            return


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--villages", type=int, default=400)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with private_influx("bench-rollup-audit-") as (influx, _):
        client = InfluxClient(influx.url, database="thonminh", timeout=600)
        client.create_database("thonminh")
        now_ms = int(time.time() * 1000)
        plan = server_seed.SeedPlan(
            args.villages, 2, now_ms - 3_600_000, per_province=args.villages, subset=1
        )
        server_seed.seed(client, plan)
        settle(influx.process.pid)
        day = floor_day(plan.end_ms) - DAY_MS
        rows_table = []
        for mode in ("into", "write"):
            rollups = Rollups(client, database="thonminh", source_rp=None, rollup_rp="thonminh_1h", mode=mode)
            rollups.prepare()
            rollups.roll(plan.start_ms, plan.end_ms)
            rows = sum(
                len(s.values)
                for s in client.select(
                    f'SELECT samples FROM "thonminh"."thonminh_1h"."uplink_1h", "thonminh"."thonminh_1h"."wifi_1h", '
                    f'"thonminh"."thonminh_1h"."modem_1h", "thonminh"."thonminh_1h"."streetlight_1h" '
                    f"WHERE time >= {day}ms AND time < {day + DAY_MS}ms GROUP BY *"
                ).series
            )
            for audit in (False, True) if mode == "into" else (True,):  # write mode audits every roll
                wall, py, db = measure(rollups, day, audit, args.repeat, influx.process.pid)
                scale = PROVINCE_ROWS_PER_DAY / rows
                province = (py + db) * scale
                peak = peak_mib(rollups, day, audit)
                rows_table.append(
                    f"| {mode} | {'audited' if audit else 'not audited'} | {rows:,} | {wall:.2f} s | "
                    f"{py:.2f} / {db:.2f} | {province:.0f} CPU-s | {province / PASS_INTERVAL_S * 100:.0f} % | "
                    f"{peak:.0f} MiB | {province_peak(peak, rows, args.villages) / 1024:.2f} GiB |"
                )
            assert rollups.status.audit.altered == rollups.status.audit.extra == 0, rollups.status.audit
        print(
            f"{args.villages} villages x 9 series, one UTC day rolled again, median of {args.repeat}; the province "
            f"column scales CPU by rows to {PROVINCE_ROWS_PER_DAY:,} hourly rows a day"
        )
        print()
        print(
            "| mode | pass | hourly rows of the day | wall | CPU: service / InfluxDB | province: CPU a pass "
            "| of one core (a pass every 300 s) | peak Python memory | province: peak |"
        )
        print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
        print("\n".join(rows_table))


if __name__ == "__main__":
    main()
