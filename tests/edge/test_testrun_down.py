"""``thonminh edge test`` exits 1 when a source says it does not work (a modem it cannot open, an uplink whose
targets refused), as docs/deployment.md promises, and says why once: its points (``available=0``, ``up=0``) are
still printed, they are what the agent would send."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from edge.cli import edge


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # nothing listens once it is closed: connecting is refused


def edge_test(tmp_path: Path, body: str, *args: str) -> Result:
    config = tmp_path / "gateway.toml"
    config.write_text(f"""
state_dir = "state"
[site]
village = "kha-ly-thuong"
gateway = "klt-gw1"
latitude = 21.38
longitude = 106.57
[influxdb]
url = "http://127.0.0.1:9"
database = "x"
[buffer]
path = "buffer.sqlite"
[clock]
check = "always"
[sources.gateway]
enabled = false
{body}""")
    return CliRunner().invoke(edge, ["test", "--config", str(config), *args])


def assert_no_line_twice(stderr: str) -> None:
    lines = stderr.splitlines()
    assert len(lines) == len(set(lines)), stderr


def test_a_missing_modem_exits_1_saying_why_once(tmp_path: Path):
    port = tmp_path / "by-id" / "usb-Quectel_EC25-if02-port0"
    result = edge_test(tmp_path, f'[sources.modem]\nport = "{port}"\n', "--source", "modem")
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    assert (
        f"# modem:modem (sources.modem[0]): 1 point(s); DOWN: sources.modem[0].port: {port} does not exist"
        in result.stderr
    )
    assert result.stderr.count("does not exist") == 1 and "No such file" not in result.stderr, result.stderr
    assert "unavailable: cannot open" not in result.stderr  # the same fact, not said twice
    assert_no_line_twice(result.stderr)
    assert "available=0i" in result.stdout  # the point the agent would send


def test_a_port_that_is_no_modem_exits_1_with_the_reason(tmp_path: Path):
    result = edge_test(tmp_path, '[sources.modem]\nport = "/dev/null"\n', "--source", "modem")
    assert result.exit_code == 1, result.output
    (line,) = [line for line in result.stderr.splitlines() if line.startswith("# modem:modem")]
    assert line.startswith("# modem:modem (sources.modem[0]): 1 point(s); DOWN: cannot open /dev/null: "), (
        line
    )
    assert_no_line_twice(result.stderr)


@pytest.mark.parametrize("min_ok", [1, 2])
def test_an_uplink_whose_targets_do_not_answer_exits_1_with_the_reason(tmp_path: Path, min_ok: int):
    port = closed_port()
    body = (
        f'[[sources.uplink]]\nlink = "fiber"\ninterface = "lo"\ntimeout_s = 1\nmin_ok = {min_ok}\n'
        f'[[sources.uplink.targets]]\nkind = "tcp"\nhost = "127.0.0.1"\nport = {port}\n'
        f'[[sources.uplink.targets]]\nkind = "tcp"\nhost = "127.0.0.1"\nport = {port}\n'
    )
    result = edge_test(tmp_path, body, "--source", "uplink")
    assert result.exit_code == 1, result.output
    assert (
        f"# uplink:fiber (sources.uplink[0]): 1 point(s); DOWN: 0/2 targets answered (min_ok {min_ok}): "
        f"tcp 127.0.0.1:{port}: refused" in result.stderr
    ), result.stderr
    assert "up=0i" in result.stdout
    assert_no_line_twice(result.stderr)


def test_a_working_uplink_exits_0(tmp_path: Path):
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        body = (
            '[[sources.uplink]]\nlink = "fiber"\ninterface = "lo"\ntimeout_s = 1\n'
            f'[[sources.uplink.targets]]\nkind = "tcp"\nhost = "127.0.0.1"\nport = {server.getsockname()[1]}\n'
        )
        result = edge_test(tmp_path, body, "--source", "uplink")
    assert result.exit_code == 0, result.output
    assert "# uplink:fiber (sources.uplink[0]): 1 point(s)\n" in result.stderr and "DOWN" not in result.stderr
