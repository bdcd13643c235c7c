"""Benchmark of checking the manual indicators' signatures (server/evidence/indicator_check.py): what a province's
hourly evaluation pays for the e-ID criterion's verification, cold (a restarted service) and warm.

    .venv/bin/python bench/indicator_signatures.py [--villages 2000] [--entries 4]

Writes ``--entries`` signed e-ID entries a village over the last year, as the service signs them
(``server.indicators.signed_point``, its own key registered as the service registers it), into a private
InfluxDB 1.x, then times what an evaluation of the province does for the criterion: one query of every
indicator point in the criterion's 365-day window, and the check of each (a signature per point the first time,
a lookup after). There is no target: the figure is what this adds to the hourly evaluation (server_criteria.py).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from server_criteria import private_influx

from server.config import ServerConfig
from server.evidence import indicator_check
from server.evidence.indicator_check import check_series
from server.evidence.registry import Registry
from server.evidence.service_key import ServiceKey
from server.indicators import signed_point
from server.queries import Scope
from server.reader import Reader
from server.rollups import Rollups
from thonminh.contract import INDICATOR
from thonminh.influx import InfluxClient
from thonminh.lineprotocol import encode_line

DAY_MS = 86_400_000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--villages", type=int, default=2000)
    parser.add_argument("--entries", type=int, default=4, help="signed entries a village in the year")
    parser.add_argument("--runs", type=int, default=5, help="timed warm checks")
    args = parser.parse_args()
    with private_influx("bench-indicators-") as (influx, workdir):
        client = InfluxClient(influx.url, database="thonminh", timeout=600)
        client.create_database("thonminh")
        now_ms = int(time.time() * 1000)
        registry = Registry(workdir / "keys.sqlite")
        # registered before the year's entries were made, as a service running that year had it
        year_ago = (now_ms - 400 * DAY_MS) / 1000
        key = ServiceKey(workdir / "service.key", registry, "manual", clock=lambda: year_ago).current()
        lines = []
        for i in range(args.villages):
            tags = {"village": f"village-{i:04d}", "gateway": "manual", "indicator": "eid_adoption_pct"}
            tags |= {"commune": f"commune-{i // 10}", "province": "bac-giang"}
            for n in range(args.entries):
                time_ms = now_ms - (n + 1) * 360 * DAY_MS // (args.entries + 1)
                fields = {"value": 20.0 + n, "unit": "%", "source": "key officer", "entered_ms": time_ms}
                lines.append(encode_line(signed_point(key, INDICATOR.name, tags, fields, time_ms)))
        client.write(lines)
        config = ServerConfig.model_validate({"influxdb": {"url": influx.url, "database": "thonminh"}})
        reader = Reader(
            client,
            Rollups(client, database="thonminh", source_rp=None, rollup_rp="thonminh_1h"),
            zone=config.zone,
            use_rollups=False,
        )
        start_ms = now_ms - 365 * DAY_MS

        def evaluation() -> tuple[float, float, int]:
            t0 = time.perf_counter()
            points = reader.indicator_points(
                Scope(province="bac-giang"), start_ms, now_ms, "eid_adoption_pct"
            )
            t1 = time.perf_counter()
            found = check_series(points, registry.snapshot())
            t2 = time.perf_counter()
            assert all(v.counts[INDICATOR.name][0] == v.counts[INDICATOR.name][1] for v in found.values())
            return t1 - t0, t2 - t1, sum(v.counts[INDICATOR.name][0] for v in found.values())

        indicator_check._checked.clear()
        query_s, cold_s, points = evaluation()
        warm = [evaluation() for _ in range(args.runs)]
        warm_query = statistics.median(w[0] for w in warm)
        warm_check = statistics.median(w[1] for w in warm)
        print(f"| {args.villages} villages x {args.entries} signed entries ({points:,} points) | time |")
        print("| --- | --- |")
        print(
            f"| the query of the province's 365 days: cold / median warm | {query_s * 1e3:.0f} / "
            f"{warm_query * 1e3:.0f} ms |"
        )
        print(
            f"| the check, cold (every signature) | {cold_s * 1e3:.0f} ms ({cold_s / points * 1e6:.0f} µs a point) |"
        )
        print(f"| the check, warm (each point looked up): median | {warm_check * 1e3:.0f} ms |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
