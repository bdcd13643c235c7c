"""Back ends that fetch the raw text of an access point's station list, each with a timeout.

``read()`` returns a ``RawReading`` (the text, parsed elsewhere by pure functions), raises ``ApAbsent``
when the AP's management plane answered that the configured BSS does not exist (the radio is off: down),
or ``BackendError`` when it did not answer at all (command missing, timeout, connection refused, login
refused: unknown). Messages are built from our own words and exit codes, never from the device's output,
so they cannot carry a MAC address into a log.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import shlex
import signal
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol

from edge.sources.wifi.config import WifiConfig
from edge.sources.wifi.parsers import redact

__all__ = [
    "ApAbsent",
    "Backend",
    "BackendError",
    "CommandResult",
    "HostapdCliBackend",
    "IwBackend",
    "RawReading",
    "UbusBackend",
    "run_command",
]

Format = Literal["ubus", "hostapd_cli", "iw"]
UBUS_NOT_FOUND = 4
_SSH_FAILED = 255
_IW_NO_DEVICE = "No such device"


class BackendError(Exception):
    """The back end gave no usable answer: the AP's state is unknown for this poll.

    ``sample`` is the (already redacted) output when the answer was garbage rather than missing.
    """

    def __init__(self, message: str, *, sample: str | None = None) -> None:
        super().__init__(message)
        self.sample = sample


class ApAbsent(Exception):
    """The AP answered that the configured BSS does not exist: the public Wi-Fi is down."""


@dataclass(frozen=True, slots=True)
class RawReading:
    format: Format
    iface: str
    stations_text: str
    status_text: str | None = None
    leases_text: str | None = None
    leases_error: str | None = None


@dataclass(frozen=True, slots=True)
class CommandResult:
    returncode: int
    stdout: str
    stderr: str


class Backend(Protocol):
    name: str

    async def read(self) -> RawReading: ...

    async def close(self) -> None: ...


async def run_command(argv: list[str], timeout: float) -> CommandResult:
    """Run ``argv`` (no shell) with a deadline; the whole process group is killed on timeout or cancel."""
    try:
        proc = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            start_new_session=True,
        )
    except FileNotFoundError:
        raise BackendError(f"{argv[0]}: command not found") from None
    except PermissionError:
        raise BackendError(f"{argv[0]}: not executable") from None
    try:
        out, err = await asyncio.wait_for(proc.communicate(), timeout)
    except (TimeoutError, asyncio.CancelledError) as exc:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        await proc.wait()
        if isinstance(exc, asyncio.CancelledError):
            raise
        raise BackendError(
            f"{Path(argv[0]).name} {' '.join(argv[1:3])}: no answer within {timeout:g} s"
        ) from None
    assert proc.returncode is not None
    return CommandResult(proc.returncode, out.decode(errors="replace"), err.decode(errors="replace"))


def _first_line(text: str) -> str:
    line = next((x.strip() for x in text.splitlines() if x.strip()), "")
    return redact(line, limit=160)


async def _read_local_file(path: str | None) -> tuple[str | None, str | None]:
    if path is None:
        return None, None
    try:
        return await asyncio.to_thread(Path(path).read_text, errors="replace"), None
    except OSError as err:
        return None, f"{path}: {err.strerror or err}"


class Rotating:
    """Try the configured interface names in order, starting with the last one that answered."""

    def __init__(self, interfaces: list[str]) -> None:
        self._names = list(interfaces)

    def order(self) -> list[str]:
        return list(self._names)

    def found(self, name: str) -> None:
        self._names.remove(name)
        self._names.insert(0, name)


class UbusBackend:
    """``ubus call hostapd.<iface> get_clients`` on this machine, or over SSH on the AP."""

    def __init__(self, config: WifiConfig) -> None:
        self.config = config
        self.name: str = config.backend
        self._ifaces = Rotating(config.interfaces)
        self._ubus = config.command or "ubus"
        self._ssh = config.ssh if config.backend == "ubus_ssh" else None

    def _argv(self, remote: list[str]) -> list[str]:
        ssh = self._ssh
        if ssh is None:
            return remote
        argv = [
            ssh.command,
            "-o",
            "BatchMode=yes",
            "-o",
            f"ConnectTimeout={math.ceil(self.config.timeout_s)}",
            "-p",
            str(ssh.port),
            "-l",
            ssh.user,
        ]
        if ssh.identity_file:
            argv += ["-i", str(ssh.identity_file), "-o", "IdentitiesOnly=yes"]
        if ssh.known_hosts_file:
            argv += ["-o", f"UserKnownHostsFile={ssh.known_hosts_file}", "-o", "StrictHostKeyChecking=yes"]
        return [*argv, ssh.host, shlex.join(remote)]

    async def _run(self, remote: list[str]) -> CommandResult:
        result = await run_command(self._argv(remote), self.config.timeout_s)
        if self._ssh is not None and result.returncode == _SSH_FAILED:
            raise BackendError(f"ssh to {self._ssh.host} failed: {_first_line(result.stderr)}")
        return result

    async def read(self) -> RawReading:
        wait = str(max(1, math.ceil(self.config.timeout_s)))
        for iface in self._ifaces.order():
            result = await self._run([self._ubus, "-t", wait, "call", f"hostapd.{iface}", "get_clients"])
            if result.returncode == UBUS_NOT_FOUND:
                continue
            if result.returncode != 0:
                raise BackendError(f"ubus exited {result.returncode}: {_first_line(result.stderr)}")
            self._ifaces.found(iface)
            leases, leases_error = await self._leases()
            return RawReading("ubus", iface, result.stdout, None, leases, leases_error)
        names = ", ".join(f"hostapd.{i}" for i in self.config.interfaces)
        raise ApAbsent(f"ubus: no {names} (radio disabled, or check `interfaces`)")

    async def _leases(self) -> tuple[str | None, str | None]:
        path = self.config.leases_file
        if self._ssh is None or path is None:
            return await _read_local_file(path)
        try:
            result = await self._run(["cat", path])
        except BackendError as err:
            return None, str(err)
        if result.returncode != 0:
            return None, f"cat {path} exited {result.returncode}"
        return result.stdout, None

    async def close(self) -> None:
        return None


class HostapdCliBackend:
    """``hostapd_cli -i <iface> status`` then ``all_sta``, on a Linux AP run by hostapd."""

    def __init__(self, config: WifiConfig) -> None:
        self.config = config
        self.name = "hostapd_cli"
        self._ifaces = Rotating(config.interfaces)
        self._cmd = config.command or "hostapd_cli"

    async def _cli(self, iface: str, command: str) -> str:
        argv = [self._cmd]
        if self.config.hostapd_ctrl_dir:
            argv += ["-p", str(self.config.hostapd_ctrl_dir)]
        result = await run_command([*argv, "-i", iface, command], self.config.timeout_s)
        text = result.stdout + result.stderr
        if result.returncode != 0 or "Failed to connect to hostapd" in text:
            # hostapd may well be running with another ctrl_interface: unknown, not down.
            raise BackendError(
                f"hostapd_cli -i {iface} {command} exited {result.returncode}: "
                f"{_first_line(result.stderr or result.stdout)}"
            )
        return result.stdout

    async def read(self) -> RawReading:
        errors = []
        for iface in self._ifaces.order():
            try:
                status = await self._cli(iface, "status")
            except BackendError as err:
                errors.append(str(err))
                continue
            stations = await self._cli(iface, "all_sta")
            self._ifaces.found(iface)
            leases, leases_error = await _read_local_file(self.config.leases_file)
            return RawReading("hostapd_cli", iface, stations, status, leases, leases_error)
        raise BackendError("; ".join(errors))

    async def close(self) -> None:
        return None


class IwBackend:
    """``iw dev <iface> info`` then ``station dump`` (needs no hostapd control socket)."""

    def __init__(self, config: WifiConfig) -> None:
        self.config = config
        self.name = "iw"
        self._ifaces = Rotating(config.interfaces)
        self._cmd = config.command or "iw"

    async def _iw(self, *args: str) -> CommandResult:
        return await run_command([self._cmd, "dev", *args], self.config.timeout_s)

    async def read(self) -> RawReading:
        for iface in self._ifaces.order():
            info = await self._iw(iface, "info")
            if info.returncode != 0 and _IW_NO_DEVICE in info.stderr + info.stdout:
                continue
            if info.returncode != 0:
                raise BackendError(
                    f"iw dev {iface} info exited {info.returncode}: {_first_line(info.stderr)}"
                )
            dump = await self._iw(iface, "station", "dump")
            if dump.returncode != 0:
                raise BackendError(
                    f"iw dev {iface} station dump exited {dump.returncode}: {_first_line(dump.stderr)}"
                )
            self._ifaces.found(iface)
            leases, leases_error = await _read_local_file(self.config.leases_file)
            return RawReading("iw", iface, dump.stdout, info.stdout, leases, leases_error)
        raise ApAbsent(f"iw: no interface {', '.join(self.config.interfaces)}")

    async def close(self) -> None:
        return None
