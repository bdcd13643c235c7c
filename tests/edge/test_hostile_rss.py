"""The real agent process against thousands of hostile MQTT messages on a real broker (issue 18.6).

Long topics, thousands of unknown device ids and large payloads from devices nobody installed: the agent's
resident memory stays under the gateway's 60 MB and settles (the last rounds add nothing), and every refusal
is counted by its reason in the buffer and in the ``gateway`` measurement that reaches InfluxDB.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from itertools import pairwise
from pathlib import Path

from sourcekit import publish_all

from edge.buffer import Buffer
from edge.config import load_gateway_config
from edge.health import read_health
from lab.localservices import MosquittoServer
from thonminh.influx import InfluxClient

LIMIT_MB = 60.0
#: ``thonminh edge run`` as installed on a gateway: the test extras' rich and pygments, which httpx imports
#: for its own CLI when they are present, are absent there (as in bench/agent_rss.py).
AGENT = (
    "import sys\nfor name in ('rich', 'pygments'): sys.modules[name] = None\n"
    "from thonminh.cli import main\nmain(sys.argv[1:])"
)
#: What a round may add to the resident set once it has settled (allocator noise, not a leak). A leak grows it
#: every round; the allocator's one-time growth (its arenas, SQLite's page cache) comes in one round, sooner or
#: later with the machine's load (round 3 in a CI run, where it had come by round 2): so at least one of the
#: last three rounds must add less than this.
SETTLED_MB = 0.5
ROUNDS = 5
INVENTORY = "id,device,channel,format,zone,latitude,longitude,rated_w,report_s\nt-1,sl-t1,,tasmota,z1,21.3,106.5,60,\n"


def write_config(tmp_path: Path, mqtt_port: int, influx: InfluxClient) -> Path:
    (tmp_path / "inventory.csv").write_text(INVENTORY)
    config = f"""state_dir = "{tmp_path / "state"}"
gateway_interval_s = 1.0

[site]
village = "kha-ly-thuong"
gateway = "klt-gw1"
latitude = 21.38
longitude = 106.57

[mqtt]
host = "127.0.0.1"
port = {mqtt_port}
client_id = "gw-hostile"

[influxdb]
url = "{influx.url}"
database = "{influx.database}"

[buffer]
path = "{tmp_path / "buffer.sqlite"}"

[clock]
check = "always"

[log]
level = "warning"

[sources.lights]
inventory = "{tmp_path / "inventory.csv"}"
interval_s = 1
"""
    path = tmp_path / "gateway.toml"
    path.write_text(config)
    return path


def hostile_round(k: int) -> Iterator[tuple[str, bytes]]:
    """2,500 messages no light of the inventory sends, all different from the other rounds'."""
    for i in range(300):  # a light's own prefix with a 20 KB topic
        yield f"tele/sl-t1/{k}-{i:04d}{'x' * 20_000}", b'{"POWER":"ON"}'
    for i in range(200):  # devices nobody installed, with long names
        yield f"tele/{k}-{i:04d}{'y' * 10_000}/STATE", b'{"POWER":"ON"}'
    for i in range(2_000):  # and many short ones, each with a payload just under the lights' limit
        yield f"tele/stranger-{k}-{i:04d}/STATE", b'{"POWER":"ON","pad":"' + b"z" * 12_000 + b'"}'


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError(f"no VmRSS for {pid}")


def counters(path: Path) -> dict[str, int]:
    """The buffer's persisted counters, read beside the running agent as ``thonminh edge status`` does."""
    with Buffer(path, max_bytes=1, exclusive=False, readonly=True) as buffer:
        return buffer.status(rejects=0).counters


def wait_until(condition: Callable[[], bool], what: str, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def test_hostile_messages_leave_the_agent_under_60_mb_and_counted_by_reason(
    tmp_path: Path,
    mosquitto_server: MosquittoServer,
    influx: InfluxClient,
) -> None:
    config = write_config(tmp_path, mosquitto_server.port, influx)
    buffer = tmp_path / "buffer.sqlite"
    log = (tmp_path / "agent.log").open("wb")
    agent = subprocess.Popen(
        [sys.executable, "-c", AGENT, "edge", "run", "--config", str(config)],
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        # the agent's subscription exists once a probe from an unknown device is counted
        def probed() -> bool:
            publish_all(mosquitto_server.port, iter([("tele/probe/STATE", b"{}")]))
            return buffer.exists() and counters(buffer).get("rejected_unknown_device", 0) > 0

        wait_until(probed, "the agent subscribed", timeout=60)
        sent = counters(buffer)["rejected_total"]
        rss = [rss_mb(agent.pid)]
        for k in range(ROUNDS):
            sent += publish_all(mosquitto_server.port, hostile_round(k))
            wait_until(lambda n=sent: counters(buffer)["rejected_total"] >= n, f"round {k} counted")
            time.sleep(1.0)  # the round's last commit and the garbage it leaves
            rss.append(rss_mb(agent.pid))
        final = counters(buffer)
        assert agent.poll() is None, "the agent died"
    finally:
        agent.send_signal(signal.SIGTERM)
        code = agent.wait(30)
        log.close()
    print(
        f"agent RSS before, then after each round of 2,500 hostile messages: "
        f"{', '.join(f'{r:.1f}' for r in rss)} MB"
    )
    assert code == 0, (tmp_path / "agent.log").read_text()[-2000:]
    assert max(rss) < LIMIT_MB, f"the agent's RSS reached {max(rss):.1f} MB"
    steps = [after - before for before, after in pairwise(rss[-4:])]
    assert min(steps) < SETTLED_MB, f"the agent's RSS kept growing: {rss}"
    probes = final["rejected_unknown_device"] - 2_000 * ROUNDS
    assert probes >= 1
    assert final["rejected_topic_too_long"] == 300 * ROUNDS + 200 * ROUNDS
    assert final["rejected_total"] == sent
    # thonminh edge status names the last few unknown devices (the lights source's health, as the agent left it)
    health = read_health(load_gateway_config(str(config)).health_path())  # on tmpfs, beside the intake
    assert health is not None
    (lights,) = [s for s in health["sources"] if s["source"] == "lights:lights"]
    assert lights["detail"]["unknown_devices"] == ", ".join(
        f"stranger-{ROUNDS - 1}-{i:04d}" for i in range(1992, 2000)
    )
    # the gateway measurement in InfluxDB says the same (its last point, written after the last round)
    rows = influx.select(
        "SELECT last(rejected_unknown_device) AS u, last(rejected_topic_too_long) AS t, "
        "last(rejected_total) AS total FROM gateway"
    ).rows()
    assert rows and (rows[0]["u"], rows[0]["t"], rows[0]["total"]) == (
        final["rejected_unknown_device"],
        final["rejected_topic_too_long"],
        sent,
    ), json.dumps(rows)
