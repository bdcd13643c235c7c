"""Benchmark of checking the manual indicators' signatures (server/evidence/indicator_check.py): what a province's
hourly evaluation pays for the e-ID criterion's verification, cold (a restarted service) and warm.

    .venv/bin/python bench/indicator_signatures.py [--villages 2000] [--entries 4]

Writes ``--entries`` signed e-ID entries a village over the last year (the value and its chained record, as
the service writes them: ``server.indicators.signed_point``, its own key registered as the service registers
it) into a private InfluxDB 1.x, then times what an evaluation of the province does for the criterion
(``server.evidence.indicator_record.indicators_verified``): two queries (the points of the 365-day window, the
whole record) and the checks (each point's signature, the first time; the record as a chain; each entry against
its point). There is no target: the figure is what this adds to the hourly evaluation (server_criteria.py).
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
from server.evidence.hourly import Verifier
from server.evidence.indicator_heads import IndicatorHeads
from server.evidence.indicator_record import indicators_verified
from server.evidence.registry import Registry
from server.evidence.service_key import ServiceKey
from server.indicators import point_id, signed_point
from server.queries import Scope
from server.reader import Reader
from server.rollups import Rollups
from thonminh.contract import INDICATOR, INDICATOR_ENTRY
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
            prev = ""
            for n in range(args.entries):
                # as the service enters them (server.indicators.put_indicator): the value, and the record chained
                time_ms = now_ms - (args.entries - n) * 360 * DAY_MS // (args.entries + 1)
                said = {"value": 20.0 + n, "unit": "%", "source": "key officer"}
                value = signed_point(key, INDICATOR.name, tags, said | {"entered_ms": time_ms}, time_ms)
                record = said | {"note": "", "as_of_ms": time_ms, "corrects": "", "seq": n + 1, "prev": prev}
                entry = signed_point(key, INDICATOR_ENTRY.name, tags, record, time_ms)
                prev = point_id(entry)
                lines += [encode_line(value), encode_line(entry)]
        client.write(lines)
        config = ServerConfig.model_validate({"influxdb": {"url": influx.url, "database": "thonminh"}})
        rollups = Rollups(client, database="thonminh", source_rp=None, rollup_rp="thonminh_1h")
        reader = Reader(client, rollups, zone=config.zone, use_rollups=False)
        verifier = Verifier(client, rollups.raw, registry)
        verifier.indicator_heads = IndicatorHeads(workdir / "indicator-heads.sqlite")
        province = Scope(province="bac-giang")
        villages = [f"village-{i:04d}" for i in range(args.villages)]
        window = (now_ms - 365 * DAY_MS, now_ms)

        def evaluation() -> tuple[float, int]:
            t0 = time.perf_counter()
            found = indicators_verified(reader, province, villages, verifier, window, "eid_adoption_pct")
            took = time.perf_counter() - t0
            counts = [v.counts[INDICATOR.name] for v in found.values()]
            assert len(found) == args.villages and all(n == ok for n, ok in counts), "all verify"
            return took, sum(n for n, _ in counts)

        def queries() -> float:
            t0 = time.perf_counter()
            reader.indicator_points(province, *window, "eid_adoption_pct")
            reader.indicator_entries(province)
            return time.perf_counter() - t0

        indicator_check._checked.clear()
        cold_s, points = evaluation()
        warm_s = statistics.median(evaluation()[0] for _ in range(args.runs))
        query_s = statistics.median(queries() for _ in range(args.runs))
        entries = args.villages * args.entries
        print(
            f"| {args.villages} villages x {args.entries} signed entries ({points:,} points, {entries:,} "
            "records) | time |"
        )
        print("| --- | --- |")
        print(
            f"| the e-ID criterion's verification, cold (every signature checked) | {cold_s * 1e3:.0f} ms |"
        )
        print(f"| the same, warm (each signature's result looked up): median | {warm_s * 1e3:.0f} ms |")
        print(f"| of which InfluxDB answering its two queries: median | {query_s * 1e3:.0f} ms |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
