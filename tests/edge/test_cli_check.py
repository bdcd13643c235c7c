"""``thonminh edge check-config`` says what will not work: each fault of issue 19, through the real command."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "edge" / "gateway.example.toml"
SITE = """
[site]
village = "kha-ly-thuong"
gateway = "gw1"
latitude = 21.38
longitude = 106.57
[influxdb]
url = "http://192.0.2.10:8086"
"""
UPLINK = """
[[sources.uplink]]
link = "fiber"
interface = "lo"
[[sources.uplink.targets]]
kind = "tcp"
host = "127.0.0.1"
port = 9
"""


def check(path: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.upper().startswith("THONMINH_")}
    return subprocess.run(
        [sys.executable, "-m", "thonminh.cli", "edge", "check-config", "--config", str(path), *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**environ, **(env or {})},
    )


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "gateway.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_light_inventory_that_does_not_exist_is_an_error(tmp_path: Path):
    path = write(tmp_path, SITE + '[sources.lights]\ninventory = "lights.csv"\n')
    result = check(path)
    assert result.returncode == 2, result.stderr
    assert (
        f"error: gateway.toml: sources.lights[0].inventory: {tmp_path / 'lights.csv'} does not exist"
        in result.stderr
    )
    assert check(path, "--static").returncode == 0  # the file itself is fine
    (tmp_path / "lights.csv").write_text("id,device,format,zone,rated_w\nl-1,sl-1,tasmota,z1,sixty\n")
    bad = check(path)
    assert bad.returncode == 2 and "sources.lights[0].inventory: " in bad.stderr and "rated_w" in bad.stderr


def test_wifi_tool_and_leases_file_missing_are_warnings(tmp_path: Path):
    path = write(
        tmp_path,
        SITE + '[sources.wifi]\nbackend = "hostapd_cli"\ncommand = "no-such-hostapd_cli"\n'
        'leases_file = "/nonexistent/dhcp.leases"\n',
    )
    result = check(path)
    assert result.returncode == 0, result.stderr
    assert (
        "warning: gateway.toml: sources.wifi[0].command: 'no-such-hostapd_cli' not found on this machine"
        in result.stderr
    )
    assert (
        "warning: gateway.toml: sources.wifi[0].leases_file: /nonexistent/dhcp.leases does not exist"
        in result.stderr
    )
    assert "(2 warning(s))" in result.stderr
    strict = check(path, "--strict")
    assert strict.returncode == 2 and "error: gateway.toml: sources.wifi[0].command" in strict.stderr
    tool = tmp_path / "hostapd_cli"
    tool.write_text("#!/bin/sh\n")
    tool.chmod(0o755)
    (tmp_path / "dhcp.leases").write_text("")
    path = write(
        tmp_path,
        SITE + f'[sources.wifi]\nbackend = "hostapd_cli"\ncommand = "{tool}"\n'
        f'leases_file = "{tmp_path / "dhcp.leases"}"\n',
    )
    assert "warning" not in check(path).stderr


def test_a_deleted_influxdb_section_is_a_warning_naming_the_default(tmp_path: Path):
    text = SITE.replace('[influxdb]\nurl = "http://192.0.2.10:8086"\n', "")
    result = check(write(tmp_path, text))
    assert result.returncode == 0, result.stderr
    assert (
        "warning: gateway.toml: influxdb: not set: points go to the default http://127.0.0.1:8086 "
        "(database 'thonminh')"
    ) in result.stderr
    from_env = check(write(tmp_path, text), env={"THONMINH_INFLUXDB__URL": "http://192.0.2.10:8086"})
    assert "warning" not in from_env.stderr


def test_a_misspelt_section_is_named_with_its_line(tmp_path: Path):
    text = EXAMPLE.read_text(encoding="utf-8").replace("[[sources.uplink]]", "[[sources.uplnk]]", 1)
    line = text.splitlines().index("[[sources.uplnk]]") + 1
    result = check(write(tmp_path, text), "--static")
    assert result.returncode == 2
    assert (
        f"error: gateway.toml: line {line}: [[sources.uplnk]]: unknown section 'sources.uplnk' "
        f"(did you mean 'sources.uplink'?)"
    ) in result.stderr
    plain = check(write(tmp_path, SITE + "[forwardr]\nbatch_points = 10\n"), "--static")
    assert (
        "gateway.toml: line 9: [forwardr]: unknown section 'forwardr' (did you mean 'forwarder'?)"
        in plain.stderr
    )


def test_an_environment_variable_is_named_as_the_origin_of_what_this_machine_lacks(tmp_path: Path):
    path = write(tmp_path, SITE + UPLINK + '[sources.modem]\nport = "/dev/null"\n')
    env = {
        "THONMINH_SOURCES__UPLINK__0__INTERFACE": "nosuchif0",
        "THONMINH_SOURCES__MODEM__PORT": "/dev/serial/by-id/no-such-modem",
    }
    result = check(path, env=env)
    assert result.returncode == 2
    lines = [line.removeprefix("error: ") for line in result.stderr.splitlines()]
    assert any(
        line.startswith(
            "THONMINH_SOURCES__UPLINK__0__INTERFACE: sources.uplink[0].interface: no "
            "network interface 'nosuchif0'"
        )
        for line in lines
    ), result.stderr
    assert (
        "THONMINH_SOURCES__MODEM__PORT: sources.modem[0].port: /dev/serial/by-id/no-such-modem does not exist"
        in result.stderr
    )
    assert "gateway.toml" not in result.stderr.replace(str(path), "")


def test_the_effective_config_only_when_asked(tmp_path: Path):
    path = write(tmp_path, SITE + UPLINK)
    quiet = check(path)
    assert quiet.returncode == 0 and quiet.stdout == ""
    assert "ok: " in quiet.stderr and "uplink:fiber" in quiet.stderr
    shown = check(path, "--print", env={"THONMINH_INFLUXDB__PASSWORD": "s3cret"})
    assert json.loads(shown.stdout)["influxdb"]["url"] == "http://192.0.2.10:8086"
    assert "s3cret" not in shown.stdout


def test_gateway_env_beside_the_config_is_read_as_the_unit_reads_it(tmp_path: Path):
    """The unit gives the agent /etc/thonminh/gateway.env (``EnvironmentFile=``); a command a technician runs by
    hand (``sudo -u thonminh thonminh edge drain``) read only gateway.toml and went to InfluxDB without the
    password. Every edge command now reads gateway.env beside the config; the shell's environment wins."""
    path = write(tmp_path, SITE + UPLINK)
    assert json.loads(check(path, "--print").stdout)["influxdb"]["password"] is None
    (tmp_path / "gateway.env").write_text(
        "# written by install-gateway.sh\n"
        'THONMINH_INFLUXDB__PASSWORD="s3cret"\n'
        "THONMINH_SOURCES__UPLINK__0__INTERFACE=nosuchif0\n",
        encoding="utf-8",
    )
    bad = check(path)
    assert bad.returncode == 2
    assert (
        "THONMINH_SOURCES__UPLINK__0__INTERFACE: sources.uplink[0].interface: no network interface 'nosuchif0'"
        in bad.stderr
    )
    shown = check(path, "--print", env={"THONMINH_SOURCES__UPLINK__0__INTERFACE": "lo"})
    assert shown.returncode == 0, shown.stderr
    settings = json.loads(shown.stdout)
    assert settings["influxdb"]["password"] == "**********" and "s3cret" not in shown.stdout
    assert settings["sources"]["uplink"][0]["interface"] == "lo"


def test_every_problem_is_its_own_error_line(tmp_path: Path):
    """docs/configuration.md: "Every problem is one line"; the second of two began without ``error:``."""
    path = write(tmp_path, SITE.replace("http://192.0.2.10:8086", "htp:/x"))
    result = check(path, "--static", env={"THONMINH_BUFFER__MAX_BYTES": "lots"})
    assert result.returncode == 2
    lines = result.stderr.splitlines()
    assert len(lines) == 2 and all(line.startswith("error: ") for line in lines), result.stderr
    assert lines[0].startswith("error: gateway.toml: influxdb.url: ")
    assert lines[1].startswith("error: THONMINH_BUFFER__MAX_BYTES: buffer.max_bytes: ")
