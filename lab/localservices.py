"""Run a real InfluxDB 1.x or Mosquitto on a free loopback port with its files in one directory.

Used by the test fixtures (which stop, kill and restart them to inject faults), the demo and the benchmarks.
Nothing here talks to anything beyond 127.0.0.1.
"""

from __future__ import annotations

import errno
import os
import pwd
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import httpx

__all__ = [
    "InfluxDBServer",
    "LocalService",
    "MosquittoServer",
    "ServiceError",
    "find_binary",
    "free_port",
    "port_problem",
]


class ServiceError(RuntimeError):
    """A local service could not be found, started or stopped."""


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that is free now on ``host``."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        port: int = s.getsockname()[1]
        return port


def port_problem(port: int, host: str = "127.0.0.1") -> str | None:
    """Why a server could not listen on ``host:port`` now (``port N is in use``), or None when it could."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        # as uvicorn and the daemons bind: connections of an earlier run in TIME_WAIT do not hold the port
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError as err:
            if err.errno == errno.EADDRINUSE:
                return f"port {port} is in use (another process listens on {host}:{port})"
            return f"cannot listen on {host}:{port}: {err.strerror or err}"
    return None


def find_binary(name: str) -> str:
    """The path of ``name`` on PATH or in the sbin directories Debian installs daemons into."""
    found = shutil.which(name) or shutil.which(name, path="/usr/sbin:/usr/local/sbin:/sbin")
    if not found:
        raise ServiceError(f"{name} not found: run `make setup` (installs the Debian package) first")
    return found


class LocalService:
    """A daemon with ``start``/``stop``/``kill``/``restart`` on the same port and data directory."""

    name = "service"

    def __init__(self, workdir: Path, *, port: int | None = None, host: str = "127.0.0.1") -> None:
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.host = host
        self.port = port or free_port(host)
        self.process: subprocess.Popen[bytes] | None = None
        self.log_path = self.workdir / f"{self.name}.log"

    # subclasses fill these in
    def command(self) -> list[str]:
        raise NotImplementedError

    def ready(self) -> bool:
        raise NotImplementedError

    def prepare(self) -> None:
        """Write config files before the first start."""

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self, *, timeout: float = 30.0) -> None:
        if self.running:
            return
        self.prepare()
        log = open(self.log_path, "ab")  # noqa: SIM115 - the child keeps it open
        try:
            self.process = subprocess.Popen(
                self.command(),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        finally:
            log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise ServiceError(f"{self.name} exited with {self.process.returncode}: {self.tail_log()}")
            if self.ready():
                return
            time.sleep(0.05)
        self.kill()
        raise ServiceError(f"{self.name} did not become ready on port {self.port}: {self.tail_log()}")

    def stop(self, *, timeout: float = 15.0) -> None:
        """Graceful stop (SIGTERM), then SIGKILL if it does not go."""
        if not self.running:
            return
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
        self._wait_port_free()

    def kill(self) -> None:
        """SIGKILL: the service vanishes mid-operation, as on a power cut."""
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)
        self._wait_port_free()

    def restart(self) -> None:
        self.stop()
        self.start()

    def _wait_port_free(self, timeout: float = 5.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with socket.socket() as s:
                if s.connect_ex((self.host, self.port)) != 0:
                    return
            time.sleep(0.05)

    def tail_log(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def __enter__(self) -> LocalService:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


class InfluxDBServer(LocalService):
    """InfluxDB 1.x (``influxd``) with meta, data and WAL dirs and both bind addresses in ``workdir``."""

    name = "influxd"

    def __init__(self, workdir: Path, *, port: int | None = None, host: str = "127.0.0.1") -> None:
        super().__init__(workdir, port=port, host=host)
        self.rpc_port = free_port(host)
        self.config_path = self.workdir / "influxdb.conf"

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def prepare(self) -> None:
        d = self.workdir
        self.config_path.write_text(
            f"""reporting-disabled = true
bind-address = "{self.host}:{self.rpc_port}"
[meta]
  dir = "{d / "meta"}"
[data]
  dir = "{d / "data"}"
  wal-dir = "{d / "wal"}"
  query-log-enabled = false
  wal-fsync-delay = "0s"
[http]
  bind-address = "{self.host}:{self.port}"
  log-enabled = false
  max-body-size = 0
[continuous_queries]
  enabled = true
  log-enabled = false
  run-interval = "1s"
[monitor]
  store-enabled = false
[logging]
  level = "warn"
"""
        )

    def command(self) -> list[str]:
        return [find_binary("influxd"), "-config", str(self.config_path)]

    def ready(self) -> bool:
        try:
            return httpx.get(f"{self.url}/ping", timeout=0.5).status_code == 204
        except httpx.HTTPError:
            return False


class MosquittoServer(LocalService):
    """Mosquitto 2.x with persistence in ``workdir``. ``extra_config`` adds listeners, auth, ACLs, TLS."""

    name = "mosquitto"

    def __init__(
        self,
        workdir: Path,
        *,
        port: int | None = None,
        host: str = "127.0.0.1",
        extra_config: str = "",
        allow_anonymous: bool = True,
    ) -> None:
        super().__init__(workdir, port=port, host=host)
        self.extra_config = extra_config
        self.allow_anonymous = allow_anonymous
        self.config_path = self.workdir / "mosquitto.conf"

    def prepare(self) -> None:
        # As root, mosquitto would drop to user "mosquitto" and lose access to a private workdir.
        user = pwd.getpwuid(os.getuid()).pw_name
        self.config_path.write_text(
            f"""per_listener_settings false
user {user}
persistence true
persistence_location {self.workdir}/
autosave_interval 1
log_dest stderr
log_type error
log_type warning
max_queued_messages 1000000
max_inflight_messages 100
listener {self.port} {self.host}
allow_anonymous {"true" if self.allow_anonymous else "false"}
{self.extra_config}
"""
        )

    def command(self) -> list[str]:
        return [find_binary("mosquitto"), "-c", str(self.config_path)]

    def ready(self) -> bool:
        with socket.socket() as s:
            s.settimeout(0.5)
            return s.connect_ex((self.host, self.port)) == 0


def env_url(name: str) -> str | None:
    """A service URL given by the environment (the demo uses existing services when these are set)."""
    return os.environ.get(name) or None
