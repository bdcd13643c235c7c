"""A long outage over the disk budget (exact, oldest-first, counted drops), and the edge commands."""

from __future__ import annotations

import json
import logging
import re
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner, Result
from edge_helpers import BASE_MS, MEASUREMENT, CounterSource, arrived, async_wait_until, count, gateway_toml

from edge.buffer import Buffer, NewRow
from edge.cli import edge
from lab.localservices import InfluxDBServer
from thonminh.influx import InfluxClient

MB = 1024 * 1024


def cli(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "thonminh.cli", "edge", *args], capture_output=True, text=True, timeout=timeout
    )


async def test_budget_exceeded_during_a_long_outage_drops_exactly_the_oldest(
    influxdb_server: InfluxDBServer, tmp_path: Path, start_agent, caplog
):
    caplog.set_level(logging.INFO)
    client = InfluxClient(influxdb_server.url, database="budget")
    client.create_database("budget")
    influxdb_server.stop()  # the uplink is down for the whole stream
    config = gateway_toml(
        tmp_path,
        url=influxdb_server.url,
        database="budget",
        tables={"buffer": {"max_bytes": MB}, "forwarder": {"flush_deadline_s": 0.5}},
    )
    total = 30_000
    # points that stay about their size compressed, so 30,000 of them are over the budget
    counter = CounterSource.Config(run=7, total=total, per_emit=500, noise_chars=24)
    agent, running = await start_agent(config, extra_sources=[(CounterSource, counter)])
    source = agent.sources[-1]
    await async_wait_until(lambda: source.done and source.done.is_set(), what="the stream")
    await running.finish()

    # Whole rows (up to buffer.row_points points) go, the oldest first; every point in them is counted.
    status = json.loads(cli("status", "--config", str(config), "--json").stdout)
    kept = status["points"]
    assert 5000 < kept < total
    assert status["dropped_total"] == total - kept
    assert 0.95 * 0.6 * MB < status["bytes"] <= 0.6 * MB  # the rows' share; the WAL and index take the rest
    assert sum(p.stat().st_size for p in tmp_path.glob("buffer.sqlite*") if p.suffix != ".lock") <= MB
    drops = [r for r in caplog.records if r.getMessage().startswith("disk budget reached")]
    assert len(drops) == 1, "one log line per episode, not per point"

    influxdb_server.start()
    drained = cli("drain", "--config", str(config), "--timeout", "60")
    assert drained.returncode == 0, drained.stderr
    assert "draining" in drained.stderr  # the progress bar (only its label when not on a terminal)
    done = re.search(r"done: (\d+) written, 0 left", drained.stderr)
    assert done, drained.stderr
    forwarded = int(done.group(1))
    got = sorted(r["n"] for r in arrived(client, 7))
    assert len(got) == len(set(got)) == forwarded
    assert got[-kept:] == list(range(total - kept, total))
    # A batch the agent signed before the drops reached its rows is sent whole, as its manifest signed it (a CI
    # run saw 692 such points): those drops arrive after all, the oldest points of the stream, and the ack
    # takes them off dropped_total. Whether the agent had one pending when the drops came is a matter of timing.
    late = got[: forwarded - kept]
    assert all(n < total - kept for n in late)
    after = json.loads(cli("status", "--config", str(config), "--json").stdout)
    assert after["points"] == 0 and after["dropped_total"] == total - forwarded


async def test_status_runs_beside_the_agent_and_a_second_agent_is_refused(
    influx: InfluxClient, tmp_path: Path, start_agent
):
    config = gateway_toml(tmp_path, url=influx.url, database=influx.database, gateway_source=True)
    agent, running = await start_agent(config)
    await async_wait_until(lambda: count_gateway(influx) >= 2, what="gateway self-metrics")
    agent.stats.reject("lights:mqtt", "payload is not JSON", b"{not json")
    await async_wait_until(lambda: agent.buffer.counters["rejected_total"] == 1, what="the reject to commit")
    text = cli("status", "--config", str(config), "--lang", "en")
    assert text.returncode == 0, text.stderr
    assert "    forwarded " in text.stdout and "last successful write" in text.stdout
    assert "reject" in text.stdout and "lights:mqtt: payload is not JSON: '{not json'" in text.stdout
    second = cli("run", "--config", str(config), timeout=60)
    assert second.returncode == 1 and "is in use by process" in second.stderr
    await running.finish()
    rows = influx.select("SELECT * FROM gateway").rows()
    assert rows[-1]["rejected_total"] == 1 and rows[-1]["version"]
    assert {
        "uptime_s",
        "buffer_points",
        "buffer_bytes",
        "forwarded_total",
        "dropped_total",
        "lag_s",
        "clock_synced",
    } <= set(rows[-1])


def count_gateway(client: InfluxClient) -> int:
    rows = client.select("SELECT count(uptime_s) FROM gateway").rows()
    return int(rows[0]["count"]) if rows else 0


def run_in_process(*args: str) -> Result:
    """The same commands in-process (CliRunner): fast, for the command logic; the tests above use processes."""
    return CliRunner().invoke(edge, list(args))


def test_dead_letters_commands(influx: InfluxClient, tmp_path: Path):
    config = str(gateway_toml(tmp_path, url=influx.url, database=influx.database))
    with Buffer(tmp_path / "buffer.sqlite", max_bytes=MB) as buffer:
        buffer.put([NewRow(f"{MEASUREMENT},run=8 n={i}i", BASE_MS + i) for i in range(3)])
        batch = buffer.take(3, MB)
        buffer.ack(
            batch,
            dead=[(line, "write: HTTP 400: partial write: field type conflict") for line in batch.lines],
        )
    listed = run_in_process("dead-letters", "list", "--config", config)
    assert listed.exit_code == 0, listed.output
    assert listed.stdout.count("field type conflict") == 3
    assert f"line: {MEASUREMENT},run=8 n=0i {BASE_MS}" in listed.stdout
    assert run_in_process("dead-letters", "requeue", "--config", config).exit_code == 2  # ids or --all
    requeued = run_in_process("dead-letters", "requeue", "--config", config, "1", "2")
    assert requeued.stdout.strip() == "requeued 2 point(s)"
    purged = run_in_process("dead-letters", "purge", "--config", config, "--all")
    assert purged.stdout.strip() == "purged 1 dead letter(s)"
    drained = run_in_process("drain", "--config", config)
    assert drained.exit_code == 0, drained.output
    assert sorted(r["n"] for r in arrived(influx, 8)) == [0, 1]
    assert count(influx, 8) == 2
    status = json.loads(run_in_process("status", "--config", config, "--json").stdout)
    assert status["dead_letters"] == 0 and status["dead_letter_total"] == 3 and status["forwarded_total"] == 2
