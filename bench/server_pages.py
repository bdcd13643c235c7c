"""Benchmark of the pages: one village's page and a province's overview, over 30 days.

    .venv/bin/python bench/server_pages.py [--villages 2000] [--days 30] [--requests 30] [--quick]

Seeds a private InfluxDB 1.x with the criteria benchmark's synthetic villages (bench/server_seed.py), lets the
service catch up on its hourly rollups, signs in once through the sign-in form and times the pages over HTTP
(uvicorn on loopback), beside the API answers they are built from, in the same run. Prints markdown rows:
median and p95 against the limits (village page 300 ms, province overview 2 s).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx
import server_seed
import uvicorn
from server_criteria import BenchInflux, private_influx, serve_app

from server.app import create_app
from server.config import ServerConfig
from thonminh.influx import InfluxClient

KEY = "bench-key-0123456789abcdef"
LIMITS = {"village": 0.300, "overview": 2.0}


def timed(fn: Callable[[], httpx.Response], n: int) -> list[float]:
    fn()  # warm up
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        response = fn()
        out.append(time.perf_counter() - t0)
        assert response.status_code == 200, response.text[:500]
    return out


def row(name: str, times: list[float], limit: float | None) -> str:
    median = statistics.median(times)
    p95 = sorted(times)[int(0.95 * (len(times) - 1))]
    share = f"{median / limit:.2f}" if limit else "-"
    return (
        f"| {name} | {median * 1000:.0f} ms (p95 {p95 * 1000:.0f}) | "
        f"{f'{limit * 1000:.0f} ms' if limit else '-'} | {share} |"
    )


def serve(
    config: ServerConfig, days: int, start_ms: int
) -> tuple[uvicorn.Server, threading.Thread, str, float]:
    app = create_app(config)
    rollups = app.state.rollups
    t0 = time.perf_counter()
    rollups.prepare()
    while True:  # the catch-up the background loop does on start, run here to time it
        state = rollups.maintain(max_backfill_days=days + 2)
        if state and state.from_ms <= start_ms:
            break
    rollup_s = time.perf_counter() - t0
    server, thread, base = serve_app(app)
    return server, thread, base, rollup_s


def run(args: argparse.Namespace, influx: BenchInflux) -> int:
    database = "thonminh"
    admin = InfluxClient(influx.url, database=database, timeout=600)
    admin.create_database(database)
    plan = server_seed.SeedPlan(
        args.villages, args.days, int(time.time() * 1000) - 3_600_000, per_province=args.villages
    )
    t0 = time.perf_counter()
    points = server_seed.seed(admin, plan)
    seed_s = time.perf_counter() - t0
    print(f"seeded {points:,} points in {seed_s:.0f} s", file=sys.stderr)
    config = ServerConfig.model_validate(
        {
            "influxdb": {"url": influx.url, "database": database, "timeout_s": 120},
            "auth": {"read_keys": {"bench": KEY}},
            "rollups": {"background": False, "backfill_days": args.days + 2},
            "villages": {server_seed.village_name(0): {"name": "Khả Lý Thượng", "public": True}},
        }
    )
    server, thread, base, rollup_s = serve(config, args.days, plan.start_ms)
    print(f"rolled up in {rollup_s:.0f} s", file=sys.stderr)
    browser = httpx.Client(base_url=base, timeout=300)
    signed = browser.post("/pages/signin", data={"key": KEY, "next": "/pages/"}, follow_redirects=False)
    assert signed.status_code == 303, signed.text[:300]
    api = httpx.Client(base_url=f"{base}/api/v1", headers={"X-API-Key": KEY}, timeout=300)
    full = server_seed.village_name(0)  # one village in ten has Wi-Fi, lights and a modem: this one does
    province = plan.tags(0)["province"]
    rows = [
        row(
            "village page (30 d, Wi-Fi, lights, modem)",
            timed(lambda: browser.get(f"/pages/villages/{full}"), args.requests),
            LIMITS["village"],
        ),
        row(
            "  its criteria from the API alone",
            timed(lambda: api.get(f"/villages/{full}/criteria"), args.requests),
            None,
        ),
        row(
            "public status page (30 d)",
            timed(lambda: browser.get(f"/pages/status/{full}"), args.requests),
            None,
        ),
        row(
            f"province overview, {args.villages} villages (30 d)",
            timed(lambda: browser.get(f"/pages/?province={province}"), args.rollup_requests),
            LIMITS["overview"],
        ),
        row(
            "  its roll-up from the API alone",
            timed(lambda: api.get(f"/criteria?province={province}"), args.rollup_requests),
            None,
        ),
    ]
    server.should_exit = True
    thread.join(timeout=10)
    print(
        f"\nPages, {args.villages} villages x {args.days} days ({points:,} points), InfluxDB on this machine, "
        "the service over HTTP on loopback, signed in with a session cookie.\n"
    )
    print("| page | median | limit | share of limit |")
    print("| --- | --- | --- | --- |")
    print("\n".join(rows))
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--villages", type=int, default=2000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--requests", type=int, default=30, help="timed requests per village page")
    parser.add_argument("--rollup-requests", type=int, default=5, help="timed province overviews")
    parser.add_argument("--quick", action="store_true", help="200 villages, 10 requests")
    args = parser.parse_args()
    if args.quick:
        args.villages, args.requests, args.rollup_requests = 200, 10, 3
    with private_influx("bench-pages-") as (influx, _):
        return run(args, influx)


if __name__ == "__main__":
    sys.exit(main())
