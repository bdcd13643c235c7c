"""Interface binding on real interfaces: a gateway namespace with two veth uplinks to two 'ISP' namespaces.

    [isp-fiber ns] eth0 198.18.1.2 --- fib0 198.18.1.1 [gw ns] lte0 198.18.2.1 --- eth0 198.18.2.2 [isp-4g ns]

Both ISPs hold the same "Internet" address 198.18.100.1 with TCP, HTTP (204) and DNS targets; ICMP is the
kernel's. The gateway's default route goes through the fiber (metric 100), then 4G (metric 700). Nothing in
these namespaces leads anywhere else, so no probe can leave the machine. Phases: both up; the fiber cut
(4G still answers, bound to lte0, although the default route points at the dead fiber); failover (the fiber
default route removed: 4G becomes active).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

HERE = Path(__file__).parent
ROOT = HERE.parents[2]
INTERNET = "198.18.100.1"


def ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, timeout=10)


def _netns_usable() -> str | None:
    name = f"tmchk{uuid.uuid4().hex[:6]}"
    try:
        ip("netns", "add", name)
    except (OSError, subprocess.CalledProcessError) as err:
        return (
            f"cannot create network namespaces here ({err}); the loopback source-address test covers binding"
        )
    ip("netns", "del", name)
    return None


@pytest.fixture
def namespaces() -> Iterator[dict[str, str]]:
    reason = _netns_usable()
    if reason:
        pytest.skip(reason)
    tag = uuid.uuid4().hex[:6]
    ns = {"gw": f"tm{tag}gw", "fiber": f"tm{tag}fib", "4g": f"tm{tag}lte"}
    servers: list[subprocess.Popen[str]] = []
    try:
        for name in ns.values():
            ip("netns", "add", name)
            ip("-n", name, "link", "set", "lo", "up")
        for isp, gw_if, subnet in (("fiber", "fib0", "198.18.1"), ("4g", "lte0", "198.18.2")):
            ip("-n", ns["gw"], "link", "add", gw_if, "type", "veth", "peer", "name", "eth0", "netns", ns[isp])
            ip("-n", ns["gw"], "addr", "add", f"{subnet}.1/30", "dev", gw_if)
            ip("-n", ns["gw"], "link", "set", gw_if, "up")
            ip("-n", ns[isp], "addr", "add", f"{subnet}.2/30", "dev", "eth0")
            ip("-n", ns[isp], "link", "set", "eth0", "up")
            ip("-n", ns[isp], "addr", "add", f"{INTERNET}/32", "dev", "lo")
        ip("-n", ns["gw"], "route", "add", "default", "via", "198.18.1.2", "dev", "fib0", "metric", "100")
        ip("-n", ns["gw"], "route", "add", "default", "via", "198.18.2.2", "dev", "lte0", "metric", "700")
        # unprivileged ping sockets in the gateway: the probe takes the SOCK_DGRAM path there
        subprocess.run(
            ["ip", "netns", "exec", ns["gw"], "sysctl", "-qw", "net.ipv4.ping_group_range=0 2147483647"],
            check=True,
            timeout=10,
        )
        for isp in ("fiber", "4g"):
            server = subprocess.Popen(
                [
                    "ip",
                    "netns",
                    "exec",
                    ns[isp],
                    sys.executable,
                    "-m",
                    "lab.simulate.targets",
                    "--tcp",
                    f"{INTERNET}:8080",
                    "--http",
                    f"{INTERNET}:8081",
                    "--dns",
                    f"{INTERNET}:5353",
                ],
                stdout=subprocess.PIPE,
                text=True,
                cwd=ROOT,
                env={**os.environ, "PYTHONPATH": str(ROOT)},
            )
            servers.append(server)
            assert server.stdout is not None and server.stdout.readline().startswith("ready")
        yield ns
    finally:
        for server in servers:
            server.terminate()
            server.wait(timeout=10)
        for name in ns.values():
            subprocess.run(["ip", "netns", "del", name], capture_output=True, timeout=10)


def test_probes_go_through_their_own_uplink_only(namespaces: dict[str, str]):
    gw = namespaces["gw"]
    targets = [
        {"kind": "tcp", "host": INTERNET, "port": 8080},
        {"kind": "http", "url": f"http://{INTERNET}:8081/generate_204", "expect_status": 204},
        {"kind": "dns", "host": INTERNET, "port": 5353, "query": "vnexpress.net"},
        {"kind": "icmp", "host": INTERNET},
    ]
    links = [
        {"link": name, "interface": iface, "interval_s": 5, "timeout_s": 0.5, "min_ok": 4, "targets": targets}
        for name, iface in (("fiber", "fib0"), ("4g", "lte0"))
    ]
    phases = [
        [],
        [["ip", "-n", namespaces["fiber"], "link", "set", "eth0", "down"]],  # the fiber is cut
        [["ip", "-n", gw, "route", "del", "default", "via", "198.18.1.2", "dev", "fib0"]],  # failover
    ]
    run = subprocess.run(
        [
            "ip",
            "netns",
            "exec",
            gw,
            sys.executable,
            str(HERE / "netns_probe.py"),
            json.dumps({"links": links, "phases": phases}),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert run.returncode == 0, run.stderr
    both, cut, failover = [json.loads(line) for line in run.stdout.splitlines()]

    assert both["fiber"]["errors"] == [None] * 4 and both["4g"]["errors"] == [None] * 4
    assert (both["fiber"]["up"], both["fiber"]["active"]) == (1, 1)
    assert (both["4g"]["up"], both["4g"]["active"]) == (1, 0)

    # the fiber is dead and still holds the default route; 4G answers because its probes never use that route
    assert cut["fiber"]["up"] == 0 and cut["fiber"]["targets_ok"] == 0
    # how a cut link fails depends on timing: neighbour resolution times out, or the queue is full (ENOBUFS)
    assert set(cut["fiber"]["errors"]) <= {
        "timeout",
        "no route to host",
        "network is unreachable",
        "no buffer space available",
    }
    assert cut["4g"]["up"] == 1 and cut["4g"]["errors"] == [None] * 4

    assert (failover["fiber"]["active"], failover["4g"]["active"]) == (0, 1)
    assert failover["4g"]["up"] == 1
