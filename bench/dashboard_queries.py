"""Benchmark of the dashboards' panels: what InfluxDB spends answering them.

    .venv/bin/python bench/dashboard_queries.py [--days 30] [--province-villages 2000] [--board FILE]
        [--every-panel]

Writes ``--days`` of the standard village (bench/loads.py: 30 lights, about 67,700 points a day) to a private
InfluxDB 1.x, lets the criteria service publish its verdicts (server/verdict_display.py), then runs every
query of the village board's criterion panels (verdict and coverage) as Grafana sends them for that village
and reports, per panel, InfluxDB's CPU seconds and the wall time. ``--board`` (repeatable) takes another
board's JSON, e.g. the village board from before the verdicts were published, whose panels computed each
figure from the raw points (``git show 7055551:dashboards/json/village.json``); ``--every-panel`` times every
panel of the boards, each over its own range (the board's default for most). Then the province table:
``--province-villages`` villages' published verdicts, the table's statement for all of them.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
# Grafana's interpolation, as the tests emulate it
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "dashboards"))

from agent_cpu import cpu_s
from grafana_macros import ALL, TemplateVar, interpolate, parse_duration_ms, resolve_time
from loads import SITE, village_points
from server_criteria import BenchInflux, private_influx

from dashboards.boards import province
from dashboards.criteria import CRITERIA
from server.app import create_app
from server.config import ServerConfig
from server.evidence_display import ensure_retention_policy
from server.verdict_display import verdict_points, write_verdicts
from server.verdicts import publish
from thonminh.influx import InfluxClient
from thonminh.lineprotocol import encode_line

ROOT = Path(__file__).resolve().parent.parent
HOUR_MS = 3_600_000


def seed(client: InfluxClient, start_ms: int, days: int) -> int:
    lines: list[str] = []
    written = 0
    for points in village_points(start_ms, days * 86_400):
        lines.extend(encode_line(p) for p in points)
        if len(lines) >= 50_000:
            client.write(lines)
            written += len(lines)
            lines.clear()
    client.write(lines)
    return written + len(lines)


def timed(influx: BenchInflux, client: InfluxClient, statement: str) -> tuple[float, float, int]:
    """InfluxDB's CPU seconds, the wall seconds and the series of one statement."""
    assert influx.process is not None
    cpu0, t0 = cpu_s(influx.process.pid), time.perf_counter()
    series = client.select(statement).series
    return cpu_s(influx.process.pid) - cpu0, time.perf_counter() - t0, len(series)


def panels(board: dict[str, Any], every: bool) -> list[dict[str, Any]]:
    """The board's panels with queries: the criterion panels (verdict, coverage), or ``every`` one."""
    titles = {c.title.vi for c in CRITERIA.criteria}
    out = []
    stack = list(board["panels"])
    while stack:
        panel = stack.pop(0)
        stack[:0] = panel.get("panels", [])
        title = panel.get("title", "").removeprefix("Độ phủ dữ liệu: ")
        if panel.get("targets") and (every or title in titles):
            out.append(panel)
    return out


def one_board(path: str, influx: BenchInflux, client: InfluxClient, now_ms: int, every: bool) -> None:
    """Each panel of the board for the seeded village over its own range, as one refresh asks them."""
    board = json.loads(Path(path).read_text())
    print(f"\n{path}:")
    variables = {t: TemplateVar(t, [SITE[t]]) for t in ("village", "commune", "district")}
    total_cpu = total_wall = 0.0
    print(f"\n{'panel':60s} {'InfluxDB CPU':>12s} {'wall':>8s}")
    for panel in panels(board, every):
        start = now_ms - parse_duration_ms(panel["timeFrom"]) if panel.get("timeFrom") else None
        if start is None:
            start = resolve_time(board["time"]["from"], now_ms)
        cpu = wall = 0.0
        for target in panel["targets"]:
            text = interpolate(
                target["query"], variables=variables, from_ms=start, to_ms=now_ms, interval_ms=60_000
            )
            c, w, _ = timed(influx, client, text)
            cpu, wall = cpu + c, wall + w
        total_cpu, total_wall = total_cpu + cpu, total_wall + wall
        print(f"{panel['title'][:60]:60s} {cpu:10.2f} s {wall:6.2f} s")
    what = "every panel" if every else "the criterion panels"
    print(f"{what + ', one refresh':60s} {total_cpu:10.2f} s {total_wall:6.2f} s")


def province_table(
    args: argparse.Namespace, influx: BenchInflux, client: InfluxClient, now_ms: int, verdicts: dict[str, Any]
) -> None:
    """The province table over ``--province-villages`` villages' published verdicts (two evaluations each, all
    the verdicts of the seeded village)."""
    hour = now_ms - now_ms % HOUR_MS
    villages = [f"v{i:05d}" for i in range(args.province_villages)]
    places = {
        v: {"village": v, "commune": f"c{i // 10:04d}", "district": f"d{i // 100:03d}"}
        for i, v in enumerate(villages)
    }
    for stamp in (hour - HOUR_MS, hour):
        results = {cid: dict.fromkeys(villages, verdict) for cid, verdict in verdicts.items()}
        write_verdicts(client, client.database or "", verdict_points(stamp, places, results))
    board = province.build()
    (table,) = board.rows[0].panels
    variables = {v.name: TemplateVar(v.name, [ALL], all_value=v.all_value) for v in board.variables}
    cpu = wall = 0.0
    rows = 0
    for query in table.queries:
        text = interpolate(
            query.influxql,
            variables=variables,
            from_ms=now_ms - 30 * 86_400_000,
            to_ms=now_ms,
            interval_ms=60_000,
        )
        c, w, n = timed(influx, client, text)
        cpu, wall, rows = cpu + c, wall + w, max(rows, n)
    print(
        f"\nprovince table, {args.province_villages} villages: InfluxDB {cpu:.2f} CPU-s, {wall:.2f} s wall, {rows} rows"
    )


def _one_village_verdicts(client: InfluxClient, now_ms: int) -> dict[str, Any]:
    """The service's verdicts for the seeded village, published as it does each hour."""
    ensure_retention_policy(client, client.database or "")
    app = create_app(_config(client), client=client, clock=lambda: now_ms / 1000)
    evaluation = publish(app.state.service)
    return {cid: per[SITE["village"]] for cid, per in evaluation.results.items()}


def _config(client: InfluxClient) -> ServerConfig:
    return ServerConfig.model_validate(
        {
            "influxdb": {"url": client.url, "database": client.database, "timeout_s": 300},
            "auth": {"read_keys": {"bench": "bench-read-key-0123456789"}},
            "rollups": {"enabled": False, "background": False},
        }
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--province-villages", type=int, default=2000)
    parser.add_argument(
        "--board", action="append", help="a board's JSON (repeatable; default: the committed village board)"
    )
    parser.add_argument(
        "--every-panel", action="store_true", help="time every panel, not only the criteria's"
    )
    args = parser.parse_args()
    with private_influx("bench-dashboards-") as (influx, _):
        client = InfluxClient(influx.url, database="thonminh", timeout=600)
        client.create_database("thonminh")
        now_ms = int(time.time() * 1000)
        end_ms = now_ms - now_ms % HOUR_MS
        t0 = time.perf_counter()
        points = seed(client, end_ms - args.days * 86_400_000, args.days)
        print(
            f"seeded {points:,} points ({args.days} days of the standard village) in {time.perf_counter() - t0:.0f} s"
        )
        time.sleep(10)  # let InfluxDB compact what was just written, as hours-old data is
        t0 = time.perf_counter()
        verdicts = _one_village_verdicts(client, now_ms)
        print(
            f"the service evaluated and published the village's verdicts in {time.perf_counter() - t0:.2f} s"
        )
        for path in args.board or [str(ROOT / "dashboards" / "json" / "village.json")]:
            one_board(path, influx, client, now_ms, args.every_panel)
        province_table(args, influx, client, now_ms, verdicts)
    return 0


if __name__ == "__main__":
    sys.exit(main())
