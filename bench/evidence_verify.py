"""Benchmark of signed evidence, the central side (issue 21): verifying a village-month, and the criteria
request with verification on.

    .venv/bin/python bench/evidence_verify.py [--days 30] [--batch-s 30] [--requests 30] [--profile]

Generates the standard village (bench/loads.py: 30 lights, about 67,700 points a day) signed as a gateway
does (thonminh/evidence.py: one manifest per ``--batch-s`` seconds of points, never across a UTC hour,
chained), writes it to a private InfluxDB 1.x, registers the key, then times:

- a cold verification of the whole window by the service's own verifier (every hour read and verified; the
  target is under 10 s for a month), with the time spent reading InfluxDB, and the CPU seconds of the
  verifier and of InfluxDB (which the load of other work on a shared machine does not change);
- the same answers read alone, hashed and checked by nobody: the CPU of InfluxDB answering and of Python
  receiving, half of whose sum is what two cores cannot beat with this InfluxDB and a verifier in Python;
- the same statements answered to readers that only count the bytes, two at once: what no verifier, in any
  language, can beat on this machine with this InfluxDB;
- the same window verified cold again by ``thonminh verify``, with its default worker processes, each a part
  of it (the command a technician runs);
- the same window verified again by a service started afresh on the same files (the settled hours' results
  kept on disk, so a restart reads none of them from InfluxDB again);
- one village's criteria over HTTP with verification on (default windows, 30 days; hours cached as the
  service keeps them), median of ``--requests`` (the target is under 150 ms).
"""

from __future__ import annotations

import argparse
import cProfile
import json
import pstats
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx
from agent_cpu import cpu_s
from evidence_floors import answering_floor, reading_floor
from loads import SITE, village_points
from server_criteria import BenchInflux, private_influx, serve_app

from server.app import create_app
from server.config import EvidenceSettings, ServerConfig
from server.evidence.combine import Verification
from server.evidence.registry import Registry
from server.evidence.workers import default_processes
from server.indicator_models import IndicatorIn
from server.indicators import put_indicator
from server.timeparse import iso
from thonminh.contract import Point
from thonminh.evidence import (
    EVIDENCE_FIELD,
    MANIFEST_MEASUREMENT,
    GatewayKey,
    Manifest,
    PublicKey,
    digest_line,
    fingerprint,
    pack_seq,
    public_key_text,
)
from thonminh.influx import InfluxClient
from thonminh.lineprotocol import encode_line

KEY = "bench-key-0123456789abcdef"
HOUR_MS = 3_600_000
LIMITS = {"verify_month_s": 10.0, "criteria_s": 0.150}


class TimedClient(InfluxClient):
    """The verifier's InfluxDB client, adding up the time its queries took (HTTP, InfluxDB and JSON)."""

    spent = 0.0

    def query(self, q, **kwargs):  # type: ignore[no-untyped-def]
        t0 = time.perf_counter()
        try:
            return super().query(q, **kwargs)
        finally:
            self.spent += time.perf_counter() - t0


def seed(client: InfluxClient, start_ms: int, days: int, batch_s: int) -> tuple[int, list[Manifest], str]:
    """Sign and write the village's points; returns (points, the first manifests, public key)."""
    key = GatewayKey.generate()
    fp = fingerprint(key.public_key())
    prev, n, points, lines = "", 0, 0, []
    batch: list[Point] = []
    first: list[Manifest] = []

    def flush() -> None:
        nonlocal prev, n, batch
        if not batch:
            return
        seq = pack_seq(1, n)
        signed = [
            encode_line(Point(p.measurement, p.tags, {**p.fields, EVIDENCE_FIELD: seq}, p.time_ms))
            for p in batch
        ]
        manifest = Manifest.build(SITE, 1, n, prev, [digest_line(x) for x in signed], fp).signed(key)
        lines.extend(signed)
        lines.append(
            encode_line(Point(MANIFEST_MEASUREMENT, manifest.tags, manifest.fields(), manifest.time_ms))
        )
        prev, n, batch = manifest.id, n + 1, []
        if len(first) < 1:
            first.append(manifest)

    step_s = 10
    for i, step in enumerate(village_points(start_ms, days * 86_400, step_s=step_s)):
        t = start_ms + i * step_s * 1000
        # wifi_daily is stamped at local midnight: a batch holds only points of its own hour, as the gateway's
        by_hour = [p for p in step if p.time_ms // HOUR_MS == t // HOUR_MS]
        for p in step:
            if p.time_ms // HOUR_MS != t // HOUR_MS:
                flush()
                batch = [p]
                flush()
        if batch and batch[0].time_ms // HOUR_MS != t // HOUR_MS:
            flush()
        batch.extend(by_hour)
        points += len(step)
        if (i + 1) % (batch_s // step_s) == 0:
            flush()
        if len(lines) > 50_000:
            client.write(lines)
            lines = []
    flush()
    client.write(lines)
    return points, first * n, public_key_text(key.public_key())


def signature_cost(manifest: Manifest, public: PublicKey) -> float:
    """Seconds of one manifest's signature check on this machine."""
    t0 = time.perf_counter()
    for _ in range(2000):
        assert manifest.signature_ok(public)
    return (time.perf_counter() - t0) / 2000


def from_the_command_line(
    config: ServerConfig, workdir: Path, influx_pid: int, before: Verification, start_ms: int, end_ms: int
) -> str:
    """The same month verified cold by ``thonminh verify``, as a technician runs it, with its default worker
    processes (the machine's cores, at most 4: server/evidence/workers.py), each a part of the month. Run as a
    command, not in this process: spawned workers import their parent's main module, which here would be this
    benchmark and its whole service (1.4 CPU-s each), where the command's is the CLI's."""
    toml = workdir / "verify.toml"
    toml.write_text(
        f'[influxdb]\nurl = "{config.influxdb.url}"\ndatabase = "{config.influxdb.database}"\ntimeout_s = 300\n'
        f'[evidence]\nregistry = "{config.evidence.registry}"\n'
    )
    command = [str(Path(sys.executable).with_name("thonminh")), "verify", "--config", str(toml), "--json"]
    command += ["--village", SITE["village"], "--start", iso(start_ms), "--end", iso(end_ms)]
    influx0, children0, t0 = cpu_s(influx_pid), reaped_cpu_s(), time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    took, cpu = time.perf_counter() - t0, reaped_cpu_s() - children0  # the command and its workers
    influx_cpu = cpu_s(influx_pid) - influx0
    answer = json.loads(done.stdout)
    points = {m: (c["points"], c["verified_points"]) for m, c in answer["measurements"].items()}
    assert done.returncode == 0 and not answer["faults"], done.stdout[-500:]
    assert points == dict(before.counts), (points, before.counts)
    processes = default_processes()
    return (
        f"| the same, cold, by `thonminh verify` in {processes} worker processes (its default here) | "
        f"{took:.1f} s | {LIMITS['verify_month_s']:.0f} s | {took / LIMITS['verify_month_s']:.2f} | CPU: the "
        f"command and its workers {cpu:.1f} s, InfluxDB {influx_cpu:.1f} s |"
    )


def reaped_cpu_s() -> float:
    """CPU seconds of this process's children that have ended and been waited for, with theirs: a command and
    the workers it started and joined, not InfluxDB, which runs on."""
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime


def restarted(config: ServerConfig, url: str, before: Verification, start_ms: int, end_ms: int) -> str:
    """The same month verified by a service started afresh on the same files: the settled hours' results come
    from the store the first verification wrote (server/evidence/store.py), not from InfluxDB."""
    client = TimedClient(url, database=config.influxdb.database, timeout=300)
    app = create_app(config, client=client)
    cpu0, t0 = time.process_time(), time.perf_counter()
    found = app.state.service.verifier.verify(SITE["village"], start_ms, end_ms)
    took, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    assert (found.counts, found.faults) == (before.counts, before.faults)
    return (
        f"| the same month after a restart (results kept on disk) | {took:.2f} s | - | - | CPU {cpu:.2f} s; "
        f"InfluxDB {client.spent:.2f} s (the manifests' numbers around the window) |"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument(
        "--batch-s", type=int, default=60, help="seconds of points per manifest (a multiple of 10)"
    )
    parser.add_argument("--requests", type=int, default=30)
    parser.add_argument("--profile", action="store_true", help="print the verification's top functions")
    args = parser.parse_args()
    with private_influx("bench-evidence-") as (influx, workdir):
        return run(args, influx, workdir)


def run(args: argparse.Namespace, influx: BenchInflux, workdir: Path) -> int:
    database = "thonminh"
    admin = InfluxClient(influx.url, database=database, timeout=600)
    admin.create_database(database)
    now_ms = int(time.time() * 1000)
    end_ms = now_ms - now_ms % HOUR_MS
    start_ms = end_ms - args.days * 86_400_000
    t0 = time.perf_counter()
    points, signed, public = seed(admin, start_ms, args.days, args.batch_s)
    manifests = len(signed)
    print(
        f"signed and wrote {points:,} points and {manifests:,} manifests in {time.perf_counter() - t0:.0f} s",
        file=sys.stderr,
    )
    registry = Registry(workdir / "keys.sqlite")
    # from the local midnight before the data: the day's wifi_daily point and its manifests are stamped there
    registry.add(
        SITE["gateway"],
        SITE["village"],
        public,
        valid_from_ms=start_ms - 86_400_000,
        by="bench",
        now_ms=now_ms,
    )
    config = ServerConfig.model_validate(
        {
            "influxdb": {"url": influx.url, "database": database, "timeout_s": 300},
            "auth": {"read_keys": {"bench": KEY}},
            "rollups": {"background": False, "backfill_days": args.days + 2},
            # one process: the verifier's own cost; the service's default, several, is timed after
            "evidence": {"registry": str(workdir / "keys.sqlite"), "workers": 1},
        }
    )
    time.sleep(8)  # let InfluxDB snapshot the bulk load to TSM, as hours-old data is in real life
    # the hourly rollups, by a service without verification (with it, each pass would also write Grafana's copy)
    plain = create_app(
        config.model_copy(update={"evidence": EvidenceSettings()}),
        client=InfluxClient(influx.url, database=database, timeout=300),
    )
    plain.state.rollups.prepare()
    while True:
        state = plain.state.rollups.maintain(max_backfill_days=args.days + 2)
        if state and state.from_ms <= start_ms:
            break
    client = TimedClient(influx.url, database=database, timeout=300)
    app = create_app(config, client=client)
    app.state.rollups.prepare()
    service = app.state.service
    verifier = service.verifier
    profiler = cProfile.Profile() if args.profile else None
    assert influx.process is not None
    Path("/proc/self/clear_refs").write_text("5")  # the peak RSS from here on: the verification's own
    influx_cpu0, cpu0, t0 = cpu_s(influx.process.pid), time.process_time(), time.perf_counter()
    if profiler:
        profiler.enable()
    found = verifier.verify(SITE["village"], start_ms, end_ms)
    if profiler:
        profiler.disable()
    verify_s = time.perf_counter() - t0
    # CPU, which the other sessions' load on this shared box does not move: the floor on two free cores
    verify_cpu, influx_cpu = time.process_time() - cpu0, cpu_s(influx.process.pid) - influx_cpu0
    floor_s = max(verify_cpu, (verify_cpu + influx_cpu) / 2)
    peak_mb = int(Path("/proc/self/status").read_text().split("VmHWM:")[1].split()[0]) / 1024
    total = sum(p for p, _ in found.counts.values())
    verified = sum(v for _, v in found.counts.values())
    # wifi_daily rewrites one point a day all day: the database holds fewer points than were written
    assert verified == total and not found.faults, (total, verified, found.faults[:3])
    read_s = client.spent
    key = next(iter(registry.snapshot().public.values()))
    sig_s = signature_cost(signed[0], key) * manifests
    rows = [
        f"| verify {args.days} days, cold ({total:,} points, {manifests:,} manifests) | {verify_s:.1f} s | "
        f"{LIMITS['verify_month_s']:.0f} s | {verify_s / LIMITS['verify_month_s']:.2f} | reading InfluxDB "
        f"{read_s:.1f} s (overlapped); CPU: the verifier {verify_cpu:.1f} s, InfluxDB {influx_cpu:.1f} s, so "
        f"{floor_s:.1f} s at best on two free cores; {sig_s:.1f} s if every signature were checked; peak RSS "
        f"{peak_mb:.0f} MB |"
    ]
    print(
        f"verified in {verify_s:.1f} s (reading {read_s:.1f} s; CPU {verify_cpu:.1f} s here, "
        f"{influx_cpu:.1f} s InfluxDB)",
        file=sys.stderr,
    )
    if profiler:
        pstats.Stats(profiler, stream=sys.stderr).sort_stats("tottime").print_stats(15)
    limit_s = LIMITS["verify_month_s"]
    rows.append(reading_floor(admin, influx.process.pid, database, start_ms, end_ms, limit_s))
    rows.append(answering_floor(influx.url, influx.process.pid, database, start_ms, end_ms, limit_s))
    rows.append(from_the_command_line(config, workdir, influx.process.pid, found, start_ms, end_ms))
    rows.append(restarted(config, influx.url, found, start_ms, end_ms))

    # the village's e-ID share, entered as an official does: signed by the service, its record chained
    put_indicator(service, SITE["village"], "eid_adoption_pct", IndicatorIn(value=31.5), "bench")
    server, _, base = serve_app(app)
    http = httpx.Client(base_url=f"{base}/api/v1", headers={"X-API-Key": KEY}, timeout=300)
    path = f"/villages/{SITE['village']}/criteria"
    first = http.get(path)
    assert first.status_code == 200, first.text
    shown = {
        c["id"]: (c["verdict"], c["evidence"]["verified_pct"], c["evidence"]["verification"]["faults_total"])
        for c in first.json()["criteria"]
    }
    print(f"verdicts, verified_pct, faults: {shown}", file=sys.stderr)

    def median_of(client: httpx.Client) -> tuple[float, float]:
        times = []
        for _ in range(args.requests):
            t0 = time.perf_counter()
            assert client.get(path).status_code == 200
            times.append(time.perf_counter() - t0)
        return statistics.median(times), sorted(times)[int(0.95 * (len(times) - 1))]

    median, p95 = median_of(http)
    rows.append(
        f"| one village's criteria with verification (30 d default windows, hours cached) | "
        f"{median * 1000:.0f} ms (p95 {p95 * 1000:.0f}) | {LIMITS['criteria_s'] * 1000:.0f} ms | "
        f"{median / LIMITS['criteria_s']:.2f} | every verdict verified_pct 100 |"
    )
    server.should_exit = True
    # the same request of a service without a key registry, on the same database: what verification adds
    other, _, base = serve_app(plain)
    http = httpx.Client(base_url=f"{base}/api/v1", headers={"X-API-Key": KEY}, timeout=300)
    http.get(path)
    median, p95 = median_of(http)
    rows.append(
        f"| the same without a key registry (no verification) | {median * 1000:.0f} ms (p95 "
        f"{p95 * 1000:.0f}) | - | - | - |"
    )
    other.should_exit = True

    print(
        f"\nSigned evidence, the standard village x {args.days} days, one manifest per {args.batch_s} s of points; "
        "InfluxDB 1.x on this machine.\n"
    )
    print("| measurement | result | limit | share of limit | notes |")
    print("| --- | --- | --- | --- | --- |")
    for row in rows:
        print(row)
    return 0


if __name__ == "__main__":
    sys.exit(main())
