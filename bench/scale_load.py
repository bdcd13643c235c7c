"""Load test: N simulated gateways writing concurrently to one InfluxDB, then the criteria roll-up over them.

    .venv/bin/python bench/scale_load.py [--gateways 200] [--hours 2] [--lights 30]

Each gateway writes its village's points at the contract's cadences (uplinks every 10 s on two links, modem
30 s, Wi-Fi 60 s, every street light 60 s, self-metrics 60 s), compressed in time: ``--hours`` of village time
per gateway, sent as fast as InfluxDB takes it in batches of 500 points (ten minutes of a village), each
gateway from its own thread and HTTP connection, retrying with backoff like the forwarder. The lines are
built before the clock starts (a gateway
encodes on its own Pi; what is measured is the central InfluxDB). Then the criteria service's
``rollup_criteria`` (its plain functions, no HTTP) answers every criterion for every village of the province.

Prints markdown rows: measured figure, the need at province and national scale, and the ratio.
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
from datetime import UTC, datetime
from pathlib import Path

from server import verdicts

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from lab.localservices import InfluxDBServer
from thonminh.contract import Point, site_tags
from thonminh.errors import InfluxConnectionError, InfluxServerError
from thonminh.influx import InfluxClient
from thonminh.lineprotocol import encode_line

PROVINCE_VILLAGES = 2_000
NATIONAL_VILLAGES = 70_000
#: points per write: ten minutes of one village's data, what a forwarder sends when it keeps up
BATCH = 500
#: influxd is killed (and the run fails) above this resident size: the machine is shared
RSS_LIMIT_MB = 4_096


def cadence_points_per_s(lights: int) -> float:
    """Points per second one village sends at the sources' default cadences: two uplinks every 10 s, the modem
    every 30 s, Wi-Fi every 60 s (plus its rewritten wifi_daily point), every light and the self-metrics every 60 s.
    Uplink events and manual indicators are rare enough to leave out."""
    return 2 / 10 + 1 / 30 + 2 / 60 + lights / 60 + 1 / 60


class BenchInflux(InfluxDBServer):
    """InfluxDB 1.x that snapshots its cache to TSM quickly, so on-disk size can be measured in the run."""

    def prepare(self) -> None:
        super().prepare()
        text = self.config_path.read_text().replace(
            '  wal-fsync-delay = "0s"\n',
            '  wal-fsync-delay = "0s"\n  cache-snapshot-write-cold-duration = "1s"\n'
            '  compact-full-write-cold-duration = "3s"\n  max-concurrent-compactions = 1\n',
        )
        self.config_path.write_text(text)


def village_lines(i: int, start_ms: int, hours: float, lights: int, rng: random.Random) -> list[str]:
    """One gateway's points, as line protocol from the one encoder (thonminh/lineprotocol.py)."""
    tags = site_tags(
        f"v{i:05d}",
        f"gw{i:05d}",
        commune=f"c{i // 10:04d}",
        district=f"d{i // 100:03d}",
        province="bac-giang",
    )
    end_ms = start_ms + int(hours * 3_600_000)
    out: list[str] = []

    def series(measurement: str, extra: dict[str, str], step_s: int, fields) -> None:
        series_tags = {**tags, **extra}
        for t in range(start_ms + step_s * 1000, end_ms + 1, step_s * 1000):
            out.append(encode_line(Point(measurement, series_tags, fields(t), t)))

    for link in ("fiber", "4g"):
        series(
            "uplink",
            {"link": link},
            10,
            lambda t, link=link: {
                "up": 1,
                "up_s": 10.0,
                "observed_s": 10.0,
                "rtt_ms": round(rng.gauss(9 if link == "fiber" else 45, 2), 2),
                "loss_pct": 0.0,
                "targets_ok": 3,
                "targets_total": 3,
                "active": int(link == "fiber"),
            },
        )
    series(
        "modem",
        {"link": "4g", "modem": "ec25"},
        30,
        lambda t: {
            "registered": 1,
            "reg_state": "home",
            "operator": "Viettel",
            "access_tech": "LTE",
            "rsrp_dbm": float(rng.randint(-105, -85)),
            "rsrq_db": float(rng.randint(-12, -6)),
            "sinr_db": float(rng.randint(5, 20)),
            "sim": "ready",
        },
    )
    series(
        "wifi",
        {"ap": "cultural-house"},
        60,
        lambda t: {
            "ap_up": 1,
            "up_s": 60.0,
            "observed_s": 60.0,
            "clients": rng.randint(0, 12),
            "rx_bytes": rng.randint(0, 5_000_000),
            "tx_bytes": rng.randint(0, 20_000_000),
        },
    )
    for n in range(lights):
        energy = [100.0 + n]

        def light(t: int, energy=energy) -> dict[str, object]:
            lit = (t // 3_600_000) % 24 >= 11  # UTC 11-23 h = local evening and night
            energy[0] += 0.001 if lit else 0.0
            return {
                "on": int(lit),
                "online": 1,
                "expected_on": int(lit),
                "observed_s": 60.0,
                "expected_on_s": 60.0 if lit else 0.0,
                "lit_when_expected_s": 60.0 if lit else 0.0,
                "ok_s": 60.0,
                "power_w": round(rng.uniform(35, 37), 1) if lit else 0.4,
                "energy_kwh": round(energy[0], 3),
                "fault": "",
            }

        series("streetlight", {"light": f"l{n:03d}", "zone": f"z{n % 4}"}, 60, light)
    uptime = [0.0]
    series(
        "gateway",
        {},
        60,
        lambda t: {
            "uptime_s": uptime.__setitem__(0, uptime[0] + 60) or uptime[0],
            "buffer_points": 0,
            "buffer_bytes": 0,
            "forwarded_total": 0,
            "dropped_total": 0,
            "rejected_total": 0,
            "lag_s": 1.0,
            "clock_synced": 1,
            "cpu_temp_c": 50.0,
            "version": "0.1.0",
        },
    )
    return out


def write_all(url: str, database: str, per_gateway: list[list[str]]) -> tuple[float, list[float], int]:
    """Every gateway in its own thread and connection, released together, retrying like the forwarder
    (InfluxDB answers 500 "timeout" when overloaded: back off and send the same batch again).
    Returns wall time, per-batch latencies (including retries) and the number of retries."""
    barrier = threading.Barrier(len(per_gateway) + 1)
    latencies: list[float] = []
    errors: list[BaseException] = []
    retries = [0]
    lock = threading.Lock()

    def gateway(lines: list[str]) -> None:
        with InfluxClient(url, database=database, timeout=120) as client:
            barrier.wait()
            try:
                for i in range(0, len(lines), BATCH):
                    t0 = time.perf_counter()
                    backoff = 0.5
                    for _ in range(20):
                        try:
                            client.write(lines[i : i + BATCH])
                            break
                        except (InfluxServerError, InfluxConnectionError):
                            with lock:
                                retries[0] += 1
                            time.sleep(backoff * random.uniform(0.5, 1.5))
                            backoff = min(backoff * 2, 8.0)
                    else:
                        raise RuntimeError("a batch failed 20 times")
                    with lock:
                        latencies.append(time.perf_counter() - t0)
            except BaseException as err:  # noqa: BLE001 - reported after the run
                errors.append(err)

    threads = [threading.Thread(target=gateway, args=(lines,), daemon=True) for lines in per_gateway]
    for t in threads:
        t.start()
    barrier.wait()
    t0 = time.perf_counter()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - t0
    if errors:
        raise RuntimeError(f"{len(errors)} gateway(s) failed, first: {errors[0]}")
    return elapsed, latencies, retries[0]


def tsm_bytes(workdir: Path, timeout_s: float = 90.0) -> tuple[int, int]:
    """On-disk TSM and WAL bytes once the cache has been snapshotted (WAL drained) or the timeout passes."""
    deadline = time.monotonic() + timeout_s
    while True:
        tsm = sum(p.stat().st_size for p in (workdir / "data").rglob("*.tsm"))
        wal = sum(p.stat().st_size for p in (workdir / "wal").rglob("*.wal"))
        if (tsm and wal < 1_000_000) or time.monotonic() > deadline:
            return tsm, wal
        time.sleep(1)


def rollup(url: str, database: str, start_ms: int, end_ms: int) -> tuple[str, float, int]:
    """The criteria service's province roll-up through its own functions; falls back to the InfluxQL it sums."""
    start = datetime.fromtimestamp(start_ms / 1000, UTC).isoformat()
    end = datetime.fromtimestamp(end_ms / 1000, UTC).isoformat()
    try:
        from server.app import create_app  # noqa: F401 - proves the service is present
        from server.config import ServerConfig
        from server.criteria import load_criteria
        from server.queries import Scope
        from server.reader import Reader
        from server.rollups import Rollups
        from server.service import Service

        config = ServerConfig.model_validate(
            {
                "influxdb": {"url": url, "database": database, "timeout_s": 300},
                "rollups": {"enabled": False},
                "auth": {"read_keys": {"bench": "b" * 20}},
                "max_buckets": 100_000,
            }
        )
        client = config.influxdb.client()
        rollups = Rollups(
            client,
            database=database,
            source_rp=None,
            rollup_rp="thonminh_1h",
            mode="write",
            late_window_h=6,
            backfill_days=1,
            reconcile_days=1,
            create_retention_policy=False,
        )
        service = Service(
            config,
            Reader(client, rollups, zone=config.zone, use_rollups=False),
            rollups,
            load_criteria(config.criteria_file),
        )
        t0 = time.perf_counter()
        out = verdicts.rollup_criteria(service, Scope(province="bac-giang"), start, end)
        return "criteria service rollup_criteria()", time.perf_counter() - t0, len(out.villages)
    except ImportError as err:
        print(f"(criteria service not importable: {err}; timing the equivalent InfluxQL)", file=sys.stderr)
    with InfluxClient(url, database=database, timeout=300) as client:
        tf = f"time >= {start_ms}ms AND time <= {end_ms}ms AND \"province\" = 'bac-giang'"
        q = (
            f'SELECT sum("up_s"), sum("observed_s") FROM "uplink" WHERE {tf} GROUP BY "village", "link"; '
            f'SELECT sum("up_s"), sum("observed_s") FROM "wifi" WHERE {tf} GROUP BY "village"; '
            f'SELECT sum("lit_when_expected_s"), sum("expected_on_s") FROM "streetlight" WHERE {tf} GROUP BY "village"'
        )
        t0 = time.perf_counter()
        results = client.query(q)
        return "equivalent InfluxQL sums", time.perf_counter() - t0, len(results[2].series)


def _rss_mb(server: InfluxDBServer) -> float | None:
    if server.process is None:
        return None
    try:
        status = Path(f"/proc/{server.process.pid}/status").read_text().splitlines()
        return next(int(line.split()[1]) for line in status if line.startswith("VmRSS")) / 1024
    except (OSError, StopIteration):
        return None


def _progress(server: InfluxDBServer, what: str) -> None:
    rss = _rss_mb(server)
    print(f"[{time.strftime('%H:%M:%S')}] {what}; influxd RSS {rss or 0:.0f} MB", file=sys.stderr, flush=True)


def _guard(server: InfluxDBServer, stop: threading.Event, peak: list[float]) -> None:
    while not stop.wait(0.5):
        rss = _rss_mb(server) or 0.0
        peak[0] = max(peak[0], rss)
        if rss > RSS_LIMIT_MB:
            print(f"influxd above {RSS_LIMIT_MB} MB: killed, run aborted", file=sys.stderr, flush=True)
            server.kill()
            return


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--gateways", type=int, default=200)
    ap.add_argument("--hours", type=float, default=2.0, help="village time each gateway sends")
    ap.add_argument("--lights", type=int, default=30, help="street lights per village")
    args = ap.parse_args()
    rng = random.Random(7)
    end_ms = int(time.time() * 1000) // 60_000 * 60_000
    start_ms = end_ms - int(args.hours * 3_600_000)

    t0 = time.perf_counter()
    per_gateway = [village_lines(i, start_ms, args.hours, args.lights, rng) for i in range(args.gateways)]
    points = sum(map(len, per_gateway))
    build_s = time.perf_counter() - t0
    fields_per_point = statistics.mean(line.split(" ")[1].count(",") + 1 for line in per_gateway[0])

    workdir = Path(tempfile.mkdtemp(prefix="thonminh-scale-"))
    server = BenchInflux(workdir)
    server.start()
    stop, peak = threading.Event(), [0.0]
    threading.Thread(target=_guard, args=(server, stop, peak), daemon=True).start()
    try:
        with InfluxClient(server.url, timeout=60) as admin:
            admin.create_database("thonminh")
        wall, latencies, retries = write_all(server.url, "thonminh", per_gateway)
        _progress(server, f"wrote {points:,} points in {wall:.1f} s ({retries} retries)")
        tsm, wal = tsm_bytes(workdir)
        _progress(server, f"TSM {tsm / 1e6:.1f} MB, WAL {wal / 1e6:.1f} MB")
        how, rollup_s, villages = rollup(server.url, "thonminh", start_ms, end_ms)
        _progress(server, f"roll-up in {rollup_s:.2f} s")
    finally:
        stop.set()
        server.stop()
        shutil.rmtree(workdir, ignore_errors=True)

    rate = points / wall
    per_village = cadence_points_per_s(args.lights)
    province_need = per_village * PROVINCE_VILLAGES
    national_need = per_village * NATIONAL_VILLAGES
    bytes_per_point = tsm / points if tsm else float("nan")
    year_s = 365 * 86400
    lat = sorted(latencies)
    p99 = lat[int(0.99 * (len(lat) - 1))]

    print(
        f"{args.gateways} gateways x {args.hours:g} h of village time, {args.lights} lights/village: "
        f"{points:,} points ({fields_per_point:.1f} fields/point), lines built in {build_s:.1f} s; "
        f"InfluxDB {server.name} on this machine ({how} for the roll-up)\n"
    )
    print("| figure | measured | need: province (2,000 villages) | ratio | need: national (70,000) | ratio |")
    print("| --- | --- | --- | --- | --- | --- |")
    print(
        f"| write throughput, points/s (one InfluxDB) | {rate:,.0f} | {province_need:,.0f} | "
        f"{rate / province_need:.1f}x | {national_need:,.0f} | {rate / national_need:.2f}x |"
    )
    print(
        f"| village time written per wall second | {args.gateways * args.hours * 3600 / wall:,.0f} village-s/s | "
        f"{PROVINCE_VILLAGES:,} village-s/s | {args.gateways * args.hours * 3600 / wall / PROVINCE_VILLAGES:.1f}x | "
        f"{NATIONAL_VILLAGES:,} | {args.gateways * args.hours * 3600 / wall / NATIONAL_VILLAGES:.2f}x |"
    )
    print(
        f"| write batch latency p50 / p99 ({BATCH} points, with retries) | {statistics.median(lat) * 1000:.0f} / "
        f"{p99 * 1000:.0f} ms | | | | |"
    )
    print(f"| batches retried after InfluxDB 500/timeout | {retries} of {len(lat)} | | | | |")
    print(f"| influxd peak resident memory | {peak[0]:,.0f} MB | guard {RSS_LIMIT_MB:,} MB | | | |")
    print(
        f"| storage, bytes per point on disk (TSM, WAL left {wal / 1e6:.1f} MB) | {bytes_per_point:.1f} | | | | |"
    )
    print(
        f"| storage per year | {per_village * year_s * bytes_per_point / 1e9:.2f} GB/village | "
        f"{province_need * year_s * bytes_per_point / 1e12:.2f} TB | | "
        f"{national_need * year_s * bytes_per_point / 1e12:.1f} TB | |"
    )
    print(
        f"| criteria roll-up, all criteria x {villages} villages over {args.hours:g} h | {rollup_s:.2f} s | "
        f"interactive limit 10 s | {10 / rollup_s:.1f}x | | |"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
