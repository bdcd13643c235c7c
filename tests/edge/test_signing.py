"""The gateway signs what it forwards (issue 21): real agent, real InfluxDB, verified from what InfluxDB returns."""

from __future__ import annotations

import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
from edge_helpers import CounterSource, async_wait_until, count, driver, gateway_toml, wait_until
from evidence_check import Evidence, read_evidence

from edge.bufferschema import Batch
from edge.config import load_gateway_config
from edge.signing import BatchSigner
from lab.localservices import InfluxDBServer
from thonminh.evidencekeys import GatewayKey
from thonminh.influx import InfluxClient


def assert_verifies(evidence: Evidence, key: Path, *, resigned_ok: bool = False) -> None:
    assert evidence.points and evidence.manifests
    assert evidence.unsigned() == 0, "points without evidence_seq"
    assert evidence.uncovered() == [], "points their manifest does not list"
    assert evidence.bad_signatures(key) == []
    assert evidence.chain_breaks() == []
    if not resigned_ok:
        assert evidence.counted_twice() == 0
        assert sum(m.count for m in evidence.manifests) == len(evidence.points)


async def test_a_clean_run_of_the_agent_verifies_entirely(influx: InfluxClient, tmp_path: Path, start_agent):
    config = gateway_toml(
        tmp_path,
        url=influx.url,
        database=influx.database,
        gateway_source=True,
        tables={"forwarder": {"batch_points": 700}},
    )
    counter = CounterSource.Config(name="c", run=1, total=3000, per_emit=50, pause_s=0.005)
    agent, running = await start_agent(config, extra_sources=[(CounterSource, counter)])
    await async_wait_until(lambda: count(influx, 1) == 3000, what="every point")
    await running.finish()
    key = load_gateway_config(config).evidence_key_path
    evidence = read_evidence(influx)
    assert_verifies(evidence, key)
    assert len(evidence.points) > 3000  # the gateway's own metrics too
    assert max(m.count for m in evidence.manifests) <= 2000 and len(evidence.manifests) >= 5
    assert {m.key for m in evidence.manifests} == {agent.forwarder.signer.key.fingerprint}
    assert stat.S_IMODE(key.stat().st_mode) == 0o600 and stat.S_IMODE(key.parent.stat().st_mode) == 0o700


@pytest.mark.parametrize("power_cut", [False, True], ids=["agent-sigkill", "power-cut"])
def test_sigkill_mid_batch_and_a_restart_leave_everything_verified(
    influxdb_server: InfluxDBServer, tmp_path: Path, power_cut: bool
):
    influx = InfluxClient(influxdb_server.url, database="sig")
    influx.create_database("sig")
    config = gateway_toml(
        tmp_path, url=influxdb_server.url, database="sig", tables={"forwarder": {"batch_points": 300}}
    )
    runtime = load_gateway_config(config).evidence_runtime()
    proc = driver(config, 0, 1_000_000, "--pause", "0.01")
    try:
        wait_until(lambda: count(influx, 0) > 500, timeout=60, what="points to arrive")
        influxdb_server.kill()  # batches in flight fail, and are kept signed
        time.sleep(1.0)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    pending = list(runtime.parent.glob(runtime.name + "-pending-*"))
    assert pending, "no signed batch was waiting when the agent was killed"
    if power_cut:  # RAM lost: the chain's state and the pending batches (not the buffer, to count the points)
        for path in runtime.parent.glob(runtime.name + "-*"):
            path.unlink()
    influxdb_server.start()
    ready = tmp_path / "ready"
    proc = driver(config, 1, 0, "--pause", "0.01", "--ready", str(ready))
    try:
        wait_until(ready.exists, timeout=60, what="the agent to restart")
        key = load_gateway_config(config).evidence_key_path
        with_buffer = tmp_path / "buffer.sqlite"
        from edge.buffer import Buffer

        def drained() -> bool:
            with Buffer(with_buffer, max_bytes=2**30, readonly=True) as b:
                return b.status().points == 0

        wait_until(drained, timeout=60, what="the buffer to drain")
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0, proc.stderr.read().decode() if proc.stderr else ""
    evidence = read_evidence(influx)
    got = sorted(r["n"] for r in influx.select("SELECT n FROM pipetest WHERE \"run\" = '0'").rows())
    assert got == list(range(len(got)))  # nothing lost in the middle, no point twice
    assert_verifies(evidence, key, resigned_ok=power_cut)
    epochs = {m.epoch for m in evidence.manifests}
    assert epochs == ({0, 1} if power_cut else {0})


async def test_samples_held_for_the_clock_are_signed_after_correction(
    influx: InfluxClient, tmp_path: Path, start_agent
):
    synced = tmp_path / "synced"
    config = gateway_toml(
        tmp_path,
        url=influx.url,
        database=influx.database,
        tables={"clock": {"check": "file", "sync_file": str(synced), "check_interval_s": 0.1}},
    )
    counter = CounterSource.Config(name="c", run=5, total=200, per_emit=1, pause_s=0.005, stamp_now=True)
    agent, running = await start_agent(config, extra_sources=[(CounterSource, counter)])
    await async_wait_until(lambda: agent.buffer.held == 200, what="the samples to be held")
    assert count(influx, 5) == 0
    synced.touch()
    await async_wait_until(lambda: count(influx, 5) == 200, what="the corrected samples")
    await running.finish()
    evidence = read_evidence(influx)
    assert_verifies(evidence, load_gateway_config(config).evidence_key_path)
    rows = influx.select("SELECT n, clock_unsynced FROM pipetest").rows()
    assert all(r["time"] > 1_700_000_000_000 for r in rows)


async def test_live_points_go_grouped_before_each_store_of_the_intake(
    influx: InfluxClient, tmp_path: Path, start_agent
):
    config = gateway_toml(
        tmp_path,
        url=influx.url,
        database=influx.database,
        tables={"forwarder": {"live_interval_s": 60.0}, "buffer": {"sync_interval_s": 2.0}},
    )
    # 100 points, each in a commit of its own (about 40 ms apart): some 4 s, two stores or more of the intake
    counter = CounterSource.Config(name="c", run=6, total=100, per_emit=1, pause_s=0.02, stamp_now=True)
    started = time.monotonic()
    agent, running = await start_agent(config, extra_sources=[(CounterSource, counter)])
    await async_wait_until(lambda: count(influx, 6) == 100, timeout=60, what="every point")
    took = time.monotonic() - started
    await running.finish()
    evidence = read_evidence(influx)
    assert_verifies(evidence, load_gateway_config(config).evidence_key_path)
    # about one manifest per store of the intake (every 2 s), not one per commit (100 points, most in a commit
    # of their own)
    assert len(evidence.manifests) <= took / 2 + 3, (len(evidence.manifests), took)


def test_edge_init_creates_the_key_and_says_how_to_register_it(tmp_path: Path):
    out = tmp_path / "gateway.toml"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "thonminh.cli",
            "edge",
            "init",
            "--no-input",
            "--output",
            str(out),
            "--name",
            "Khả Lý Thượng",
            "--gateway",
            "klt-gw1",
            "--latitude",
            "21",
            "--longitude",
            "106",
            "--influx-url",
            "http://influx:8086",
            "--state-dir",
            "state",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    key = load_gateway_config(out).evidence_key_path
    from thonminh.evidence import fingerprint, load_or_create_key, public_key_text
    from thonminh.evidencekeys import grouped

    public = load_or_create_key(key)[0].public_key()
    # grouped as the pages and the dossier print it, so the technician compares like with like
    assert f"fingerprint {grouped(fingerprint(public))}" in result.stdout
    assert (
        f"--gateway klt-gw1 --village kha-ly-thuong --public-key {public_key_text(public)} --valid-from "
        in result.stdout
    )
    assert stat.S_IMODE(key.stat().st_mode) == 0o600

    # later, on a running gateway whose init output is long gone: the same, from the key the agent uses
    def edge_key() -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "thonminh.cli", "edge", "key", "--config", str(out)]
        return subprocess.run(command, capture_output=True, text=True, timeout=60)

    shown = edge_key()
    assert shown.returncode == 0, shown.stderr
    lines = shown.stdout.splitlines()
    assert lines[:2] == [
        f"signing key {key}, fingerprint {grouped(fingerprint(public))}",
        f"public key: {public_key_text(public)}",
    ]
    # the same keys add line as init's (its options: tests/edge/test_registration.py)
    assert lines[-1] in result.stdout.splitlines()
    key.unlink()
    missing = edge_key()
    assert missing.returncode == 1 and f"no signing key at {key}" in missing.stderr
    assert not key.exists()  # it makes none: that is the agent's (or init's) to do


def _signer(tmp_path: Path) -> BatchSigner:
    key, _ = GatewayKey.load_or_create(tmp_path / "evidence" / "gateway.key")
    return BatchSigner(
        key,
        {"village": "v1", "gateway": "g1"},
        runtime=tmp_path / "run" / "evidence",
        durable=tmp_path / "evidence" / "chain.json",
    )


def _batch(first: int, count: int) -> Batch:
    """Points an hour apart, so each batch gets several manifests."""
    lines = [
        f"pipetest,run=9 n={n}i {1_700_000_000_000 + n * 1_800_000}" for n in range(first, first + count)
    ]
    return Batch("\n".join(lines).encode(), id_list=None, count=count, ranges=((first + 1, first + count),))


def test_the_chain_is_picked_up_on_tmpfs_from_the_newest_batch_acknowledged_or_pending(tmp_path: Path):
    first = _signer(tmp_path)
    assert first.start() == "first"
    a, b = first.sign(_batch(0, 5)), first.sign(_batch(5, 5))
    assert (a.seq, b.seq, first.chain.n) == ((0, 0), (0, 3), 6)
    first.done(b)  # acknowledged out of order, the newest first: its file is kept, cut to the chain
    first.done(a)
    assert not list(first.runtime.parent.glob("evidence-pending-*"))
    assert (tmp_path / "run" / "evidence-chain.json").stat().st_size < 300  # the chain only, not b's points
    again = _signer(tmp_path)
    assert again.start() == "continued" and again.chain == first.chain  # the agent was killed here
    c = again.sign(_batch(10, 2))
    assert c.seq == (0, 6)
    killed = _signer(tmp_path)  # killed before c was acknowledged: its file holds the chain after it
    assert killed.start() == "continued" and killed.chain == again.chain
    assert [p.seq for p in killed.pending()] == [(0, 6)]
    for path in tmp_path.glob("run/evidence-*"):  # a power cut: RAM lost, the stored chain is older
        path.unlink()
    rebooted = _signer(tmp_path)
    assert rebooted.start() == "new epoch" and (rebooted.chain.epoch, rebooted.chain.n) == (1, 7)


#: Libraries the gateway must not load (the agent's 60 MB bound): the service's, the reports', and the
#: Ed25519 of ``cryptography`` (9 MB; the agent signs with PyNaCl).
HEAVY = (
    "cryptography",
    "fastapi",
    "starlette",
    "uvicorn",
    "reportlab",
    "jinja2",
    "numpy",
    "server",
    "dashboards",
    "lab",
)
SIGNING_AGENT = """import asyncio, sys
from edge.agent import Agent
from edge.config import load_gateway_config

async def main():
    stop = asyncio.Event()
    agent = Agent(load_gateway_config(sys.argv[1]))
    task = asyncio.create_task(agent.run(stop))
    while agent.buffer is None or agent.buffer.counters["forwarded_total"] < 20:
        await asyncio.sleep(0.05)
    stop.set()
    await task
    print(agent.forwarder.signer.chain.n)

asyncio.run(main())
print(" ".join(sorted({m.partition(".")[0] for m in sys.modules} & set(sys.argv[2:]))))
"""


def test_the_signing_agent_loads_no_big_library(influx: InfluxClient, tmp_path: Path):
    config = gateway_toml(
        tmp_path,
        url=influx.url,
        database=influx.database,
        gateway_source=True,
        # its 20 forwarded points (each signed and sent alone) at 0.1 s intervals: 2 s of the agent, not 10
        gateway_interval_s=0.1,
        tables={"forwarder": {"live_interval_s": 0.0}},
    )
    done = subprocess.run(
        [sys.executable, "-c", SIGNING_AGENT, str(config), *HEAVY],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    manifests, loaded = [*done.stdout.splitlines(), ""][:2]
    assert int(manifests) > 0, "the agent forwarded nothing signed"
    assert loaded == "", f"the running agent loaded {loaded}"
