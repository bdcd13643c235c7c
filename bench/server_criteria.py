"""Benchmark of the criteria service: one village's criteria and a province roll-up over 30 days.

    .venv/bin/python bench/server_criteria.py [--villages 1000] [--days 30] [--requests 30]

Seeds a private InfluxDB 1.x with synthetic villages (bench/server_seed.py: two links at 5-minute samples,
plus Wi-Fi, lights and a modem for one village in ten), lets the service roll them up hourly, then runs the
service over HTTP (uvicorn on loopback) and, side by side in the same run, the bare InfluxQL requests the
service issued for the same answer (recorded from its InfluxDB client, replayed one after another). Prints
markdown rows: median latency, the limit, and the service's overhead over its own queries as a ratio.
"""

from __future__ import annotations

import argparse
import random
import shutil
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx
import server_seed
import uvicorn
from fastapi import FastAPI

from lab.localservices import InfluxDBServer, free_port
from server.app import create_app
from server.config import ServerConfig
from thonminh.influx import InfluxClient

KEY = "bench-key-0123456789abcdef"
LIMITS = {"village": 0.150, "province": 3.0}


class BenchInflux(InfluxDBServer):
    """InfluxDB 1.x with room for a fast bulk load."""

    def prepare(self) -> None:
        super().prepare()
        text = self.config_path.read_text().replace(
            '  wal-fsync-delay = "0s"\n',
            '  wal-fsync-delay = "0s"\n  cache-max-memory-size = "4g"\n  cache-snapshot-memory-size = "256m"\n'
            # data hours old is compacted TSM in real life: let the bulk load get there within the run
            '  cache-snapshot-write-cold-duration = "2s"\n  compact-full-write-cold-duration = "5s"\n',
        )
        self.config_path.write_text(text)


@contextmanager
def private_influx(prefix: str) -> Iterator[tuple[BenchInflux, Path]]:
    """A ``BenchInflux`` of the run's own in a fresh directory (``prefix``), and that directory; both gone after."""
    workdir = Path(tempfile.mkdtemp(prefix=prefix))
    influx = BenchInflux(workdir / "influxdb")
    influx.start()
    try:
        yield influx, workdir
    finally:
        influx.stop()
        shutil.rmtree(workdir, ignore_errors=True)


class RecordingClient(InfluxClient):
    """The service's InfluxDB client, keeping the InfluxQL requests of the current measurement."""

    recording: list[str] | None = None

    def query(self, q, **kwargs):  # type: ignore[no-untyped-def]
        if self.recording is not None and q.lstrip().upper().startswith(("SELECT", "SHOW")):
            self.recording.append(q)
        return super().query(q, **kwargs)


def timed(fn, n: int) -> list[float]:
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return out


def serve_app(app: FastAPI) -> tuple[uvicorn.Server, threading.Thread, str]:
    """``app`` served by uvicorn on a free loopback port in a thread: the server, its thread, its base URL once
    it has started. Shared by the service's benchmarks."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    return server, thread, f"http://127.0.0.1:{port}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--villages", type=int, default=1000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--requests", type=int, default=30, help="timed requests per single-village figure")
    parser.add_argument("--rollup-requests", type=int, default=5, help="timed province roll-ups")
    args = parser.parse_args()

    with private_influx("bench-server-") as (influx, _):
        return run(args, influx)


def run(args: argparse.Namespace, influx: InfluxDBServer) -> int:
    database = "thonminh"
    admin = InfluxClient(influx.url, database=database, timeout=600)
    admin.create_database(database)
    now_ms = int(time.time() * 1000)
    plan = server_seed.SeedPlan(args.villages, args.days, now_ms - 3_600_000, per_province=args.villages)
    t0 = time.perf_counter()
    points = server_seed.seed(admin, plan)
    seed_s = time.perf_counter() - t0
    print(
        f"seeded {points:,} points for {args.villages} villages x {args.days} days in {seed_s:.0f} s "
        f"({points / seed_s:,.0f} points/s)",
        file=sys.stderr,
    )

    config = ServerConfig.model_validate(
        {
            "influxdb": {"url": influx.url, "database": database, "timeout_s": 120},
            "auth": {"read_keys": {"bench": KEY}},
            "rollups": {"background": False, "backfill_days": args.days + 2},
        }
    )
    client = RecordingClient(influx.url, database=database, timeout=120)
    app = create_app(config, client=client)
    rollups = app.state.rollups
    t0 = time.perf_counter()
    rollups.prepare()
    while True:  # the catch-up the background loop does on start, run here to time it
        state = rollups.maintain(max_backfill_days=args.days + 2)
        if state and state.from_ms <= plan.start_ms:
            break
    rollup_s = time.perf_counter() - t0
    print(f"hourly rollups of {args.days} days written in {rollup_s:.0f} s", file=sys.stderr)

    server, thread, base = serve_app(app)
    http = httpx.Client(base_url=f"{base}/api/v1", headers={"X-API-Key": KEY}, timeout=300)
    bare = InfluxClient(influx.url, database=database, timeout=300)
    rng = random.Random(1)
    rows = []

    def measure(name: str, paths: list[str], n: int, limit: float | None) -> None:
        for path in paths[:2]:  # warm up
            assert http.get(path).status_code == 200, http.get(path).text
        service, raw = [], []
        for i in range(n):
            path = paths[i % len(paths)]
            client.recording = []
            t0 = time.perf_counter()
            response = http.get(path)
            service.append(time.perf_counter() - t0)
            assert response.status_code == 200, response.text
            recorded, client.recording = client.recording, None
            t0 = time.perf_counter()
            for q in recorded:
                bare.query(q)
            raw.append(time.perf_counter() - t0)
        s, r = statistics.median(service), statistics.median(raw)
        within = f"{s / limit:.2f} of the limit" if limit else ""
        ratio = f"{s / r:.2f}" if r > 0.001 else "no query (served from the hour's evaluation)"
        rows.append(
            f"| {name} | {s * 1000:.0f} ms (p95 {sorted(service)[int(0.95 * (n - 1))] * 1000:.0f}) | "
            f"{f'{limit * 1000:.0f} ms' if limit else '-'} | {within} | {r * 1000:.0f} ms | {ratio} |"
        )

    villages = [server_seed.village_name(i) for i in rng.sample(range(args.villages), min(args.villages, 50))]
    subset = [server_seed.village_name(i) for i in range(0, args.villages, 10)][:50]
    measure(
        "one village's criteria (30 d, village with Wi-Fi/lights/modem)",
        [f"/villages/{v}/criteria" for v in subset],
        args.requests,
        LIMITS["village"],
    )
    measure(
        "one village's criteria (30 d, any village)",
        [f"/villages/{v}/criteria" for v in villages],
        args.requests,
        LIMITS["village"],
    )
    measure(
        "one village's uptime, step=1d (30 d)",
        [f"/villages/{v}/uptime?step=1d" for v in villages],
        args.requests,
        None,
    )
    measure("one village's outages (30 d)", [f"/villages/{v}/outages" for v in villages], args.requests, None)
    province = plan.tags(0)["province"]
    # an explicit window is evaluated on every request: the cold path, held to the limit (the last 30 days to the
    # last whole hour, as the default windows are, so both read the same rollups)
    hour = int(time.time()) // 3600 * 3600
    explicit = "&".join(
        f"{k}={datetime.fromtimestamp(t, UTC).strftime('%Y-%m-%dT%H:%M:%SZ')}"
        for k, t in (("start", hour - 30 * 86400), ("end", hour))
    )
    measure(
        f"province roll-up, {args.villages} villages (explicit 30 d window, evaluated per request)",
        [f"/criteria?province={province}&{explicit}"],
        args.rollup_requests,
        LIMITS["province"],
    )
    measure(
        f"province roll-up, {args.villages} villages (default windows: evaluated once an hour)",
        [f"/criteria?province={province}"],
        args.rollup_requests,
        None,
    )
    measure(f"villages list ({args.villages})", ["/villages"], args.rollup_requests, None)
    server.should_exit = True
    thread.join(timeout=10)

    print(
        f"\nCriteria service, {args.villages} villages x {args.days} days ({points:,} points; seeded in "
        f"{seed_s:.0f} s, rolled up in {rollup_s:.0f} s), InfluxDB 1.6 on this machine, service over HTTP on "
        "loopback; bare = the same InfluxQL requests replayed one after another.\n"
    )
    print("| measurement | service median | limit | share of limit | bare InfluxQL median | service / bare |")
    print("| --- | --- | --- | --- | --- | --- |")
    for row in rows:
        print(row)
    return 0


if __name__ == "__main__":
    sys.exit(main())
