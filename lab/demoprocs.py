"""The demo's children, each in its own process group and stopped in reverse order of starting; waiting on them;
and the criteria service's port, which must be the demo's own server's and no one else's."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from lab.localservices import InfluxDBServer, MosquittoServer, port_problem

__all__ = ["ROOT", "Child", "DemoError", "Processes", "check_free", "wait_for", "wait_own_server"]

ROOT = Path(__file__).resolve().parent.parent
GRACE_S = 8.0


class DemoError(RuntimeError):
    """Something the demo needs did not happen; the message says what and where its log is."""


@dataclass
class Child:
    name: str
    proc: subprocess.Popen[bytes]
    log: Path

    def tail(self, lines: int = 25) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        return ""


class Processes:
    """Children in their own process groups, stopped in reverse order of starting."""

    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        self.children: list[Child] = []
        self.services: list[InfluxDBServer | MosquittoServer] = []

    def start(self, name: str, *args: str, env: dict[str, str] | None = None) -> Child:
        log = self.log_dir / f"{name}.log"
        with log.open("ab") as out:
            proc = subprocess.Popen(
                [sys.executable, "-m", "thonminh.cli", *args],
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                cwd=ROOT,
                start_new_session=True,
                env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
            )
        child = Child(name, proc, log)
        self.children.append(child)
        return child

    def pids(self) -> dict[str, int]:
        out = {s.name: s.process.pid for s in self.services if s.process is not None}
        return out | {c.name: c.proc.pid for c in self.children}

    def check(self) -> None:
        for child in self.children:
            if child.proc.poll() is not None:
                raise DemoError(
                    f"{child.name} exited with {child.proc.returncode}; its log ({child.log}) ends:\n"
                    f"{child.tail()}"
                )

    def stop_all(self) -> None:
        for child in reversed(self.children):
            _stop_group(child.proc)
        for service in reversed(self.services):
            pid = service.process.pid if service.process is not None else None
            with contextlib.suppress(Exception):
                service.stop(timeout=GRACE_S)
            if pid is not None:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(pid, signal.SIGKILL)


def _stop_group(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the whole group, SIGKILL to whatever of it is left after the grace period."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(GRACE_S)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(5)


def wait_for(what: str, check: Callable[[], Any], procs: Processes, timeout: float) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        procs.check()
        with contextlib.suppress(httpx.HTTPError, OSError, ValueError, KeyError):
            value = check()
            if value:
                return value
        if time.monotonic() > deadline:
            raise DemoError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.3)


def check_free(port: int) -> None:
    problem = port_problem(port)
    if problem:
        raise DemoError(f"{problem}; give the criteria service another port with --port")


def _answers_to_our_key(api: httpx.Client) -> bool:
    answer = api.get("/health")
    body = answer.json()
    # a read key gets the details: only the server that was given the demo's keys knows this one
    return answer.status_code == 200 and isinstance(body, dict) and body.get("auth") is not None


def wait_own_server(api: httpx.Client, server: Child, port: int, procs: Processes) -> None:
    """Until the demo's own server answers on ``port``. Whoever else took the port answers /health too, and
    the demo's server then exits: a port still taken once it has is said to be in use."""
    try:
        wait_for("the criteria service", lambda: _answers_to_our_key(api), procs, 90)
    except DemoError as err:
        problem = port_problem(port) if server.proc.poll() is not None else None
        if problem:
            raise DemoError(
                f"{problem}: the criteria service could not listen on it (its log: {server.log})"
            ) from err
        raise
