"""deploy/install-gateway.sh run into a temporary root, and the village broker it installs, started for real.

The system's own commands (apt-get, useradd, usermod, chown, systemctl) are recording stubs first on PATH: the
machine's packages, users and init system stay untouched, and the test reads what the script asked of them.
The venv is a stand-in whose ``python`` and ``thonminh`` are this checkout's, so ``check-config`` and the
broker's user generator run for real on the installed files.
"""

from __future__ import annotations

import getpass
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from lab.localservices import MosquittoServer, free_port

ROOT = Path(__file__).resolve().parents[2]
INSTALL = ROOT / "deploy/install-gateway.sh"
STUBBED = ("apt-get", "useradd", "usermod", "chown", "systemctl")
#: The main config of Debian's mosquitto package (2.0.x, bookworm): it includes conf.d/, where ours goes.
DEBIAN_MOSQUITTO_CONF = """pid_file /run/mosquitto/mosquitto.pid

persistence true
persistence_location /var/lib/mosquitto/

log_dest file /var/log/mosquitto/mosquitto.log

include_dir /etc/mosquitto/conf.d
"""

__all__ = ["INSTALL", "Installed", "InstalledBroker", "install"]


@dataclass
class Installed:
    root: Path
    result: subprocess.CompletedProcess[str]
    calls: list[str]

    def path(self, system_path: str) -> Path:
        """Where a path of the installed system lies in the temporary root."""
        return self.root / system_path.lstrip("/")

    def secret(self, user: str) -> str:
        lines = self.path("/etc/thonminh/mqtt-passwords.secret.csv").read_text().splitlines()
        return next(line.split(",")[1] for line in lines if line.startswith(f"{user},"))

    def env(self) -> dict[str, str]:
        lines = self.path("/etc/thonminh/gateway.env").read_text().splitlines()
        return dict(line.split("=", 1) for line in lines if line and not line.startswith("#"))


def _stub_venv(root: Path) -> None:
    bin_dir = root / "opt/thonminh/venv/bin"
    bin_dir.mkdir(parents=True)
    for name, target in (
        ("python", sys.executable),
        ("thonminh", Path(sys.executable).with_name("thonminh")),
    ):
        (bin_dir / name).write_text(f'#!/bin/sh\nexec "{target}" "$@"\n')
        (bin_dir / name).chmod(0o755)


def _stub_commands(stubs: Path, log: Path) -> None:
    stubs.mkdir()
    for name in (*STUBBED, "pip"):
        (stubs / name).write_text(f'#!/bin/sh\necho "{name} $*" >> "{log}"\n')
        (stubs / name).chmod(0o755)


def install(root: Path, *args: str, system: bool = True) -> Installed:
    """Run the installer into ``root`` (created), as root would on a Pi, with the system's commands stubbed."""
    root.mkdir(parents=True, exist_ok=True)
    stubs, log = root.parent / f"{root.name}-stubs", root.parent / f"{root.name}-calls.log"
    if not stubs.exists():
        _stub_commands(stubs, log)
        _stub_venv(root)
        # the venv's pip is the recording stub: installing the package is pip's business, not this test's
        os.symlink(stubs / "pip", root / "opt/thonminh/venv/bin/pip")
    env = {**os.environ, "PATH": f"{stubs}:{os.environ['PATH']}"}
    cmd = ["bash", str(INSTALL), "--root", str(root), *(["--system"] if system else []), *args]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=120, env=env, check=False)
    calls = log.read_text().splitlines() if log.exists() else []
    return Installed(root, result, calls)


class InstalledBroker(MosquittoServer):
    """Mosquitto with Debian's main config and the installed conf.d, every /etc path moved into the root and the
    listeners onto free loopback ports (``port`` for 1883, ``tls_port`` for 8883)."""

    def __init__(self, installed: Installed, workdir: Path) -> None:
        super().__init__(workdir)
        self.installed = installed
        self.tls_port = free_port()

    def _mapped(self, text: str) -> str:
        root = self.installed.root
        for old, new in (
            ("/etc/mosquitto/", f"{root}/etc/mosquitto/"),
            ("/var/lib/mosquitto/", f"{self.workdir}/"),
            ("/var/log/mosquitto/", f"{self.workdir}/"),
            ("/run/mosquitto/", f"{self.workdir}/"),
            ("listener 1883", f"listener {self.port} 127.0.0.1"),
            ("listener 8883", f"listener {self.tls_port} 127.0.0.1"),
        ):
            text = text.replace(old, new)
        return text

    def prepare(self) -> None:
        conf_d = self.workdir / "conf.d"
        conf_d.mkdir(exist_ok=True)
        installed = self.installed.path("/etc/mosquitto/conf.d/thonminh.conf").read_text()
        assert "listener 1883" in installed and "listener 8883" in installed, "the installed listeners moved"
        (conf_d / "thonminh.conf").write_text(self._mapped(installed))
        main = self._mapped(DEBIAN_MOSQUITTO_CONF).replace(
            f"{self.installed.root}/etc/mosquitto/conf.d", str(conf_d)
        )
        # as root, mosquitto would switch to user "mosquitto" and lose access to the private workdir
        self.config_path.write_text(main + f"user {getpass.getuser()}\n")
