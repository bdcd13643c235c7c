"""The gateway's systemd unit and install script on Raspberry Pi OS, checked without systemd.

The unit file is parsed as systemd reads it (sections, repeated keys); the install script runs for real into a
temporary root (``--root``: files only, no apt/useradd/systemctl, no venv), and as a ``--dry-run`` of a full
install to show the system steps it would take.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from edge.config import load_gateway_config

ROOT = Path(__file__).resolve().parents[2]
UNIT = ROOT / "deploy/thonminh-gateway.service"
INSTALL = ROOT / "deploy/install-gateway.sh"


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
    assert SERVICE["ExecStart"] == "/opt/thonminh/venv/bin/thonminh edge run --config /etc/thonminh/gateway.toml"
    assert "check-config" in SERVICE["ExecStartPre"]
    assert SERVICE["EnvironmentFile"] == "-/etc/thonminh/gateway.env"
    assert SERVICE["StandardOutput"] == SERVICE["StandardError"] == "journal"
    assert UNIT_DATA["Install"]["WantedBy"] == ["multi-user.target"]


def run_install(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", str(INSTALL), *args], capture_output=True, text=True, timeout=60, check=True)


def test_install_into_a_root_writes_config_unit_and_state(tmp_path: Path) -> None:
    run_install("--root", str(tmp_path), "--no-pip")
    assert (tmp_path / "etc/systemd/system/thonminh-gateway.service").read_bytes() == UNIT.read_bytes()
    assert (tmp_path / "etc/systemd/journald.conf.d/thonminh.conf").exists()
    assert (tmp_path / "var/lib/thonminh").is_dir()
    config_path = tmp_path / "etc/thonminh/gateway.toml"
    assert oct(config_path.stat().st_mode & 0o777) == "0o640"
    config = load_gateway_config(config_path, environ={})
    assert str(config.buffer.path) == "/var/lib/thonminh/buffer.sqlite"
    assert str(config.state_dir) == "/var/lib/thonminh"


def test_reinstall_keeps_the_config_and_the_buffer(tmp_path: Path) -> None:
    run_install("--root", str(tmp_path), "--no-pip")
    config = tmp_path / "etc/thonminh/gateway.toml"
    config.write_text(config.read_text() + "\n# edited by the technician\n")
    buffer = tmp_path / "var/lib/thonminh/buffer.sqlite"
    buffer.write_bytes(b"SQLite format 3\x00 points waiting")
    run_install("--root", str(tmp_path), "--no-pip")
    assert config.read_text().endswith("# edited by the technician\n")
    assert buffer.read_bytes() == b"SQLite format 3\x00 points waiting"


def test_full_install_plan(tmp_path: Path) -> None:
    out = run_install("--dry-run").stdout
    for step in ("apt-get install", "useradd --system", "usermod --append --groups dialout thonminh",
                 "python3 -m venv /opt/thonminh/venv", "/opt/thonminh/venv/bin/pip install --quiet --upgrade",
                 "systemctl daemon-reload", "edge check-config --config /etc/thonminh/gateway.toml",
                 "systemctl enable thonminh-gateway.service", "chown -R thonminh:thonminh /var/lib/thonminh"):
        assert step in out, step


@pytest.mark.parametrize("script", ["deploy/install-gateway.sh", "scripts/make-secrets.sh",
                                    "deploy/compose/influxdb-init/10-thonminh.sh"])
def test_shell_scripts_parse(script: str) -> None:
    subprocess.run(["bash", "-n", str(ROOT / script)], check=True)
