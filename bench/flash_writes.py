"""Bytes the gateway writes to its SD card per village-day, with InfluxDB up, down and draining.

    .venv/bin/python bench/flash_writes.py [--minutes 10]

The real agent (``thonminh edge run``) on the default config, fed by the real simulator (``thonminh simulate``)
at real cadence: the standard village of ``bench/loads.py`` (30 lights reporting STATE + SENSOR every minute,
one sample per light a minute, uplinks every 10 s, modem every 30 s, Wi-Fi every 60 s: about 67,700 points a
day), against a local Mosquitto and InfluxDB 1.x. The simulator's gateway.toml is put back to the defaults
(commit intervals, self-metrics every 60 s). Three phases of ``--minutes`` each: InfluxDB up, InfluxDB down,
InfluxDB back while the backlog drains. For each, the agent's ``write_bytes`` from ``/proc/<pid>/io`` (bytes
the process caused to be written to storage, every file it writes: the buffer's store, WAL and index, the light
journal's snapshot and log, sources' state, and the filesystem's metadata blocks the agent dirties; the intake and
the health file are on tmpfs and write nothing to storage) and its fsync/fdatasync calls (``strace -f``),
extrapolated from the phase to a day; then per file the bytes its write calls asked for and its syncs (``strace
-y``). The state directory and the buffer must be on a disk filesystem (tmpfs counts nothing): the script prints
which.

A phase is a whole number of the agent's ``buffer.sync_interval_s`` (``--minutes`` is rounded to one, at least
one): the store of the intake on the SD card happens once an interval, and a phase that held one store more or
less than its share would be off by that store.

The figure counts pages the agent dirtied: a write to a page already dirty and not yet written back costs
nothing more, so a run shorter than the kernel's writeback period (``vm.dirty_expire_centisecs``) would
under-count: phases are minutes long.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from loads import STANDARD_VILLAGE, per_day

from edge.config import load_gateway_config
from lab.localservices import InfluxDBServer, MosquittoServer
from thonminh.influx import InfluxClient

ROOT = Path(__file__).resolve().parents[1]
THONMINH = [sys.executable, "-m", "thonminh.cli"]
LIMIT_MB = 50.0
DAY_S = 86_400


def scenario(path: Path, seconds: float) -> Path:
    """The standard village as a simulator scenario, at real time (speed 1) and a night that lasts the run."""
    v = STANDARD_VILLAGE
    path.write_text(f"""
name = "standard village (bench/flash_writes.py)"
seed = 7
duration_s = {int(seconds) + 600}
speed = 1

[site]
village = "kha-ly-thuong"
gateway = "klt-gw1"
commune = "tien-dung"
district = "luc-ngan"
province = "bac-giang"
latitude = 21.38
longitude = 106.57
timezone = "Asia/Ho_Chi_Minh"

[lights]
count = {v.lights}
id_prefix = "klt"
formats = {{ tasmota = 1.0 }}
zones = ["nha-van-hoa", "xom-dinh"]
rated_w = [60]
report_period_s = {int(v.report_s)}
interval_s = {v.streetlight_s}
night = {{ start_s = -3600, end_s = {int(seconds) + 3600} }}

[uplinks]
interval_s = {v.uplink_s}
timeout_s = 1.0
down_after = 2
up_after = 2

[[uplinks.links]]
link = "fiber"
host = "127.0.0.2"
outages = []

[[uplinks.links]]
link = "4g"
host = "127.0.0.3"
outages = []

[modem]
personality = "quectel"
id = "ec25"
link = "4g"
operator = "Viettel"
interval_s = {v.modem_s}
jitter_db = 1.5
signal = [{{ at_s = 0, rsrp_dbm = -92, rsrq_db = -9, sinr_db = 14, rssi_dbm = -63 }}]

[ap]
id = "cultural-house"
ssid = "ThonMinh-Free"
interval_s = {v.wifi_s}
timeout_s = 2.5
devices = 40
randomised_share = 0.3
initial_clients = 4
arrivals_per_hour = 8
stay_min_s = 900
stay_max_s = 2700
""")
    return path


def default_config(path: Path) -> None:
    """Undo the simulator's demo settings: commit, live and sync intervals and self-metrics cadence back to the
    defaults."""
    text = path.read_text()
    text = re.sub(r"(?m)^(commit_interval_ms|live_interval_s|sync_interval_s) = .*\n", "", text)
    text = re.sub(r"(?m)^gateway_interval_s = .*$", "gateway_interval_s = 60.0", text)
    text = re.sub(r"(?ms)^(\[sources\.gateway\][^\[]*?)interval_s = [0-9.]+", r"\g<1>interval_s = 60.0", text)
    path.write_text(text)


def start_simulator(
    village: Path, out: Path, mqtt_port: int, influx_url: str
) -> tuple[subprocess.Popen[bytes], Path]:
    """``thonminh simulate`` of ``village`` into ``out``: the process, and its gateway.toml once written, set to
    the defaults (``default_config``). Shared with bench/agent_cpu.py."""
    sim = subprocess.Popen(
        [*THONMINH, "simulate", "--scenario", str(village), "--out", str(out), "--mqtt-port", str(mqtt_port)]
        + ["--influx-url", influx_url, "--duration", "0", "--lead", "2"],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    config = out / "gateway.toml"
    for _ in range(300):
        if config.exists():
            break
        time.sleep(0.1)
    default_config(config)
    return sim, config


def write_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/io").read_text().splitlines():
        if line.startswith("write_bytes:"):
            return int(line.split()[1])
    raise RuntimeError("no write_bytes in /proc/<pid>/io")


#: A traced call on a file, as ``strace -y -s 0`` prints it (a call cut by another thread's ends in
#: ``<unfinished ...>`` with every argument printed; its ``<... resumed>`` line is not matched).
_CALL = re.compile(r"^\d+\s+(write|pwrite64|fsync|fdatasync)\(\d+<([^>]+)>(?:, \"\"(?:\.\.\.)?, (\d+))?")
_SYNCS = ("fsync", "fdatasync")


def traced(strace_out: Path, under: Path) -> tuple[dict[str, int], dict[str, list[int]]]:
    """From a ``strace -y`` log: fsync and fdatasync calls (on any file), and per file under ``under`` (the
    gateway's files on disk; the intake and the evidence runtime are on tmpfs, elsewhere) the bytes its write and
    pwrite64 calls asked for and its syncs."""
    counts = dict.fromkeys(_SYNCS, 0)
    files: dict[str, list[int]] = {}
    for line in strace_out.read_text().splitlines():
        m = _CALL.match(line)
        if m is None:
            continue
        call, path, size = m.groups()
        if call in counts:
            counts[call] += 1
        if not path.startswith(f"{under}/"):
            continue
        entry = files.setdefault(os.path.relpath(path, under), [0, 0])
        if call in counts:
            entry[1] += 1
        else:
            entry[0] += int(size or 0)
    return counts, files


def measure(
    pid: int, seconds: float, work: Path, name: str, gateway: Path
) -> tuple[int, dict[str, int], dict[str, list[int]]]:
    """``write_bytes`` of ``pid`` over ``seconds``, its fsync/fdatasync calls and what each file under
    ``gateway`` (its directory) took."""
    out = work / f"strace-{name}.txt"
    tracer = None
    if shutil.which("strace"):
        tracer = subprocess.Popen(
            ["strace", "-f", "-qq", "-y", "-s", "0", "-e", "trace=write,pwrite64,fsync,fdatasync"]
            + ["-e", "signal=none", "-p", str(pid), "-o", str(out)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(1.0)
    before = write_bytes(pid)
    time.sleep(seconds)
    written = write_bytes(pid) - before
    counts, files = dict.fromkeys(_SYNCS, -1), {}
    if tracer is not None:
        tracer.send_signal(signal.SIGINT)
        tracer.wait(30)
        counts, files = traced(out, gateway)
    return written, counts, files


def per_file(phases: list[tuple[str, int, dict[str, list[int]]]], seconds: float) -> list[str]:
    """Where each phase's bytes went, per day: what write/pwrite64 calls asked of each file and its syncs; the
    rest of ``write_bytes`` is what no such call shows (the WAL index ``-shm``, written through a memory
    mapping; ext4's inode blocks; a call's bytes rounded up to whole pages)."""
    day = DAY_S / seconds
    names = sorted(
        {f for _, _, files in phases for f in files}, key=lambda f: -sum(p[2].get(f, [0])[0] for p in phases)
    )
    out = ["| file | " + " | ".join(name for name, _, _ in phases) + " |", "| --- |" + " --- |" * len(phases)]
    for f in names:
        cells = [files.get(f, [0, 0]) for _, _, files in phases]
        out.append(
            f"| `{f}` | "
            + " | ".join(f"{b * day / 1e6:.1f} MB, {n * day:,.0f} syncs" for b, n in cells)
            + " |"
        )
    rest = [(written - sum(b for b, _ in files.values())) * day / 1e6 for _, written, files in phases]
    out.append(
        "| not in a write call (-shm, inode blocks, page rounding) | "
        + " | ".join(f"{r:.1f} MB" for r in rest)
        + " |"
    )
    return out


def filesystem(path: Path) -> str:
    out = subprocess.run(["df", "-T", str(path)], capture_output=True, text=True).stdout.splitlines()
    return out[-1].split()[1] if len(out) > 1 else "?"


def row(name: str, written: int, counts: dict[str, int], seconds: float) -> str:
    mb_day = written / seconds * DAY_S / 1e6
    points_day = per_day(STANDARD_VILLAGE)
    calls = counts["fsync"] + counts["fdatasync"]
    return (
        f"| {name} | {written / 1e6:.2f} MB in {seconds:.0f} s | {mb_day:.1f} MB | "
        f"{written / (seconds / DAY_S * points_day):,.0f} B | {calls * DAY_S / seconds:,.0f} "
        f"({counts['fdatasync']} fdatasync + {counts['fsync']} fsync) | {LIMIT_MB:.0f} MB | {mb_day / LIMIT_MB:.2f} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--minutes",
        type=float,
        default=10.0,
        help="length of each phase, rounded to a whole number of buffer.sync_interval_s",
    )
    parser.add_argument(
        "--warmup", type=float, default=75.0, help="seconds before measuring (a light cadence)"
    )
    parser.add_argument(
        "--dir", type=Path, default=None, help="where the gateway's files go (a disk, not tmpfs)"
    )
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="flash-", dir=args.dir))
    influx = InfluxDBServer(work / "influxdb")
    mqtt = MosquittoServer(work / "mosquitto")
    procs: list[subprocess.Popen[bytes]] = []
    try:
        influx.start()
        mqtt.start()
        InfluxClient(influx.url, database="thonminh").create_database("thonminh")
        out = work / "village"
        village = scenario(work / "village.toml", 4 * max(args.minutes * 60, 600))
        sim, config = start_simulator(village, out, mqtt.port, influx.url)
        procs.append(sim)
        sync_s = load_gateway_config(config).buffer.sync_interval_s
        seconds = max(1, round(args.minutes * 60 / sync_s)) * sync_s
        agent = subprocess.Popen(
            [*THONMINH, "edge", "run", "--config", str(config)],
            cwd=out,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        procs.append(agent)
        time.sleep(args.warmup)
        rows, phases = [], []
        for name, before in (
            ("InfluxDB up", None),
            ("InfluxDB down", influx.stop),
            ("InfluxDB back, draining", influx.start),
        ):
            if before is not None:
                before()
            if agent.poll() is not None:
                raise SystemExit(f"the agent exited with {agent.returncode}")
            written, counts, files = measure(agent.pid, seconds, work, name.split()[1].rstrip(","), out)
            rows.append(row(name, written, counts, seconds))
            phases.append((name, written, files))
        load = os.getloadavg()
        print(
            f"Flash writes of the agent (thonminh edge run, default config) at the standard village load "
            f"({per_day(STANDARD_VILLAGE):,} points a day, {STANDARD_VILLAGE.lights} lights), real cadence; "
            f"{seconds / 60:g} min a phase ({seconds / sync_s:g} stores of the intake) extrapolated to a day; "
            f"files on {filesystem(out)}; "
            f"load average {load[0]:.2f}.\n"
        )
        print(
            "| phase | written (/proc/pid/io write_bytes) | per village-day | per point | fsync + fdatasync a day "
            "| limit | ratio |"
        )
        print("| --- | --- | --- | --- | --- | --- | --- |")
        print("\n".join(rows))
        print(f"\nPer file, per village-day (files under {out}):\n")
        print("\n".join(per_file(phases, seconds)))
    finally:
        for proc in reversed(procs):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(30)
                except subprocess.TimeoutExpired:
                    proc.kill()
        mqtt.stop()
        influx.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
