"""The gateway's systemd unit and install script on Raspberry Pi OS, checked without systemd.

The unit file is parsed as systemd reads it (sections, repeated keys); the install script runs for real into a
temporary root with the system's commands stubbed (tests/deploy/installkit.py), files-only (``--root``), and as a
``--dry-run`` of a full install to show the system steps it would take and their order.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from installkit import Installed, install

from edge.config import ENV_FILE, load_gateway_config

ROOT = Path(__file__).resolve().parents[2]
UNIT = ROOT / "deploy/thonminh-gateway.service"
INSTALL = ROOT / "deploy/install-gateway.sh"
THONMINH = Path(sys.executable).with_name("thonminh")


def parse_unit(text: str) -> dict[str, dict[str, list[str]]]:
    """systemd's unit syntax: [Section], Key=Value, repeated keys accumulate, '#'/';' comments."""
    sections: dict[str, dict[str, list[str]]] = {}
    current = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], {})
            continue
        assert current is not None and "=" in line, f"not a unit line: {raw!r}"
        key, value = (part.strip() for part in line.split("=", 1))
        current.setdefault(key, []).append(value)
    return sections


UNIT_DATA = parse_unit(UNIT.read_text(encoding="utf-8"))
SERVICE = {k: v[-1] for k, v in UNIT_DATA["Service"].items()}


def test_unit_is_notify_with_watchdog_and_always_restarts() -> None:
    assert SERVICE["Type"] == "notify"
    assert int(SERVICE["WatchdogSec"]) >= 10
    assert SERVICE["Restart"] == "always"
    assert UNIT_DATA["Unit"]["StartLimitIntervalSec"] == ["0"]
    assert int(SERVICE["TimeoutStopSec"]) > 10  # longer than the forwarder's default flush deadline


def test_unit_runs_as_a_dedicated_user_with_only_what_it_needs() -> None:
    assert SERVICE["User"] == "thonminh" and SERVICE["Group"] == "thonminh"
    assert SERVICE["SupplementaryGroups"].split() == ["dialout"]
    assert set(SERVICE["AmbientCapabilities"].split()) == {"CAP_NET_RAW", "CAP_NET_ADMIN"}
    assert set(SERVICE["CapabilityBoundingSet"].split()) == {"CAP_NET_RAW", "CAP_NET_ADMIN"}
    assert SERVICE["NoNewPrivileges"] == "yes" and SERVICE["ProtectSystem"] == "strict"
    assert SERVICE["ReadWritePaths"] == "/var/lib/thonminh" and SERVICE["StateDirectory"] == "thonminh"


def test_unit_runs_the_venv_with_the_etc_config_and_logs_to_journald() -> None:
    assert (
        SERVICE["ExecStart"] == "/opt/thonminh/venv/bin/thonminh edge run --config /etc/thonminh/gateway.toml"
    )
    assert "check-config" in SERVICE["ExecStartPre"]
    assert SERVICE["EnvironmentFile"] == "-/etc/thonminh/gateway.env"
    # where every edge command looks for it by hand: beside the config
    assert Path(SERVICE["EnvironmentFile"].lstrip("-")) == Path("/etc/thonminh/gateway.toml").with_name(
        ENV_FILE
    )
    assert SERVICE["StandardOutput"] == SERVICE["StandardError"] == "journal"
    assert UNIT_DATA["Install"]["WantedBy"] == ["multi-user.target"]


def run_install(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(INSTALL), *args], capture_output=True, text=True, timeout=60, check=True
    )


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    """A full install (system steps stubbed) into a temporary root, with the example config."""
    return install(tmp_path_factory.mktemp("install") / "root")


def test_install_enables_the_unit_even_when_check_config_fails(installed: Installed) -> None:
    """The example config names a modem this machine lacks: the unit is still enabled, just not started."""
    result = installed.result
    assert result.returncode == 1, result.stdout + result.stderr
    assert "sources.modem[0].port" in result.stderr and "enabled but not started" in result.stderr
    enable = f"systemctl --root={installed.root} enable thonminh-gateway.service"
    assert enable in installed.calls, installed.calls
    assert not any("restart thonminh-gateway" in call for call in installed.calls)
    # and once the technician has fixed the machine-specific parts, the rest of the config is valid
    config = installed.path("/etc/thonminh/gateway.toml")
    subprocess.run(
        [str(THONMINH), "edge", "check-config", "--static", "--config", str(config)],
        check=True,
        capture_output=True,
        timeout=60,
    )


def test_install_does_the_system_steps(installed: Installed) -> None:
    apt = next(call for call in installed.calls if call.startswith("apt-get install"))
    assert {"python3-venv", "mosquitto", "mosquitto-clients", "openssl"} <= set(apt.split())
    for step in (
        "useradd --system --user-group --home-dir /var/lib/thonminh",
        "usermod --append --groups dialout",
        f"chown -R thonminh:thonminh {installed.root}/var/lib/thonminh",
        f"chown mosquitto:mosquitto {installed.root}/etc/mosquitto/passwd",
    ):
        assert any(call.startswith(step) for call in installed.calls), step


def test_thonminh_is_on_the_path(installed: Installed) -> None:
    link = installed.path("/usr/local/bin/thonminh")
    assert os.readlink(link) == "/opt/thonminh/venv/bin/thonminh"  # the path on the installed system
    target = installed.path(os.readlink(link))
    done = subprocess.run([str(target), "--help"], capture_output=True, text=True, timeout=60, check=True)
    assert "edge" in done.stdout


def test_install_writes_config_unit_broker_and_state(installed: Installed) -> None:
    assert installed.path("/etc/systemd/system/thonminh-gateway.service").read_bytes() == UNIT.read_bytes()
    assert installed.path("/etc/systemd/journald.conf.d/thonminh.conf").exists()
    assert installed.path("/var/lib/thonminh").is_dir()
    config_path = installed.path("/etc/thonminh/gateway.toml")
    assert oct(config_path.stat().st_mode & 0o777) == "0o640"
    config = load_gateway_config(config_path, environ=installed.env())
    assert str(config.buffer.path) == "/var/lib/thonminh/buffer.sqlite"
    assert str(config.state_dir) == "/var/lib/thonminh"
    assert config.mqtt.username == config.mqtt.client_id == "thonminh-gateway"
    assert config.mqtt.password is not None
    assert config.mqtt.password.get_secret_value() == installed.secret("thonminh-gateway")
    broker = [
        line
        for line in installed.path("/etc/mosquitto/conf.d/thonminh.conf").read_text().splitlines()
        if not line.startswith("#")
    ]
    assert "password_file /etc/mosquitto/passwd" in broker
    assert not any(line.startswith("persistence_location") for line in broker)  # Debian's main config has it
    assert not any("/mosquitto/" in line.replace("/etc/mosquitto/", "") for line in broker)
    for name in ("passwd", "acl", "certs/server.crt", "certs/server.key"):
        assert installed.path(f"/etc/mosquitto/{name}").exists(), name
    assert installed.path("/etc/thonminh/mqtt-passwords.secret.csv").stat().st_mode & 0o077 == 0


def test_files_only_install_and_reinstall_keep_the_config_and_the_buffer(tmp_path: Path) -> None:
    run_install("--root", str(tmp_path), "--no-pip")
    assert (tmp_path / "etc/mosquitto/conf.d/thonminh.conf").exists()
    config = tmp_path / "etc/thonminh/gateway.toml"
    config.write_text(config.read_text() + "\n# edited by the technician\n")
    buffer = tmp_path / "var/lib/thonminh/buffer.sqlite"
    buffer.write_bytes(b"SQLite format 3\x00 points waiting")
    run_install("--root", str(tmp_path), "--no-pip")
    assert config.read_text().endswith("# edited by the technician\n")
    assert buffer.read_bytes() == b"SQLite format 3\x00 points waiting"


def test_reinstall_keeps_the_broker_passwords(tmp_path: Path) -> None:
    first = install(tmp_path / "root")
    before = first.secret("thonminh-gateway")
    again = install(tmp_path / "root")
    assert again.secret("thonminh-gateway") == before == again.env()["THONMINH_MQTT__PASSWORD"]


def test_full_install_plan() -> None:
    out = run_install("--dry-run").stdout
    steps = (
        "apt-get install",
        "useradd --system",
        "usermod --append --groups dialout thonminh",
        "python3 -m venv /opt/thonminh/venv",
        "/opt/thonminh/venv/bin/pip install --quiet --upgrade",
        "ln -sfn /opt/thonminh/venv/bin/thonminh /usr/local/bin/thonminh",
        "gen_auth.py",
        "systemctl daemon-reload",
        "systemctl enable thonminh-gateway.service mosquitto.service",
        "edge check-config --config /etc/thonminh/gateway.toml",
        "systemctl restart thonminh-gateway.service",
    )
    for step in steps:
        assert step in out, step
    # enabling comes before the check that may fail
    assert out.index("systemctl enable") < out.index("check-config")


@pytest.mark.parametrize(
    "script",
    ["deploy/install-gateway.sh", "scripts/make-secrets.sh", "deploy/compose/influxdb-init/10-thonminh.sh"],
)
def test_shell_scripts_parse(script: str) -> None:
    subprocess.run(["bash", "-n", str(ROOT / script)], check=True)
