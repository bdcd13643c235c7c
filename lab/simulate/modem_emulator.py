"""A cellular modem on a pseudo-terminal, answering AT commands in the formats real modules use.

``ModemEmulator("quectel")`` (EC25-like) or ``ModemEmulator("simcom")`` (SIM7600-like) opens a pty in raw
mode; pyserial opens its slave by path (``emulator.path``: the pty itself, or a by-id style symlink in
``link_dir``). A thread answers: echo (on until ``ATE0``), ``AT+CMEE`` error formats, ``+CPIN``, ``+CSQ``,
``+CESQ``, ``+CREG``/``+CGREG``/``+CEREG``, ``+COPS`` and the vendor commands (Quectel ``+QENG``, ``+QCSQ``,
``+QNWINFO``; SIMCom ``+CPSI``), from a ``RadioState`` that tests and the village simulator change at will.

Faults: ``inject_urc`` (now), ``urcs_in_next_answer`` (between the information lines and the final result
code), ``inject_garbage``, ``garbage = True`` (junk instead of answers), ``silent = True`` (no answers),
``reset()`` (restart: silence, then ``RDY`` and the boot URCs with echo back on), ``unplug()`` (the pty
closes and the path disappears) and ``replug()`` (a new pty, maybe under a new name).
"""

from __future__ import annotations

import os
import random
import select
import threading
import time
import tty
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

__all__ = ["ModemEmulator", "RadioState"]

Personality = Literal["quectel", "simcom", "generic"]

_CME_TEXT = {
    3: "operation not allowed",
    4: "operation not supported",
    10: "SIM not inserted",
    11: "SIM PIN required",
    13: "SIM failure",
    30: "no network service",
}
_IDENTITY = {
    "quectel": ("Quectel", ["Quectel", "EC25", "Revision: EC25EFAR06A06M4G"]),
    "simcom": (
        "SIMCOM INCORPORATED",
        ["Manufacturer: SIMCOM INCORPORATED", "Model: SIMCOM_SIM7600G-H", "Revision: LE20B04SIM7600G22"],
    ),
    "generic": ("Generic", ["Generic LTE modem"]),
}
_BOOT_URCS = {
    "quectel": ["RDY", "+CFUN: 1", "+CPIN: READY", "+QUSIM: 1", "+QIND: SMS DONE", "+QIND: PB DONE"],
    "simcom": ["RDY", "+CPIN: READY", "SMS DONE", "PB DONE"],
    "generic": ["RDY"],
}


@dataclass
class RadioState:
    """What the emulated modem reports. ``stat`` is the 27.007 registration status (1 home, 2 searching...)."""

    sim: Literal["ready", "pin", "absent"] = "ready"
    stat: int = 1
    operator: str = "Viettel"
    plmn: str = "45204"
    act: int = 7  # E-UTRAN
    csq: int = 20  # -73 dBm
    rsrp_dbm: int = -95
    rsrq_db: int = -10
    rssi_dbm: int = -65
    sinr_db: int = 12

    @property
    def registered(self) -> bool:
        return self.stat in (1, 5)


@dataclass
class ModemEmulator:
    personality: Personality = "quectel"
    link_dir: Path | None = None
    link_name: str = "usb-Quectel_EC25-if02-port0"
    state: RadioState = field(default_factory=RadioState)
    #: per-answer delay, seconds (a slow modem)
    delay_s: float = 0.0
    silent: bool = False
    garbage: bool = False
    urcs_in_next_answer: list[str] = field(default_factory=list)
    commands: list[str] = field(default_factory=list)
    echo: bool = True
    cmee: int = 0
    reg_n: dict[str, int] = field(default_factory=lambda: {"CREG": 0, "CGREG": 0, "CEREG": 0})

    def __post_init__(self) -> None:
        self._master: int | None = None
        self._slave: int | None = None
        self._tty = ""
        self._thread: threading.Thread | None = None
        self._stop_r, self._stop_w = os.pipe()
        self._write_lock = threading.Lock()

    # -- lifecycle ---------------------------------------------------------------------------------------------
    @property
    def path(self) -> str:
        """Where pyserial opens it: the by-id style symlink when ``link_dir`` is set, else the pty."""
        return str(self.link_dir / self.link_name) if self.link_dir else self._tty

    @property
    def tty(self) -> str:
        return self._tty

    @property
    def plugged(self) -> bool:
        return self._master is not None

    def start(self) -> ModemEmulator:
        master, slave = os.openpty()
        tty.setraw(slave)  # no line discipline echo of our own output before pyserial configures the port
        self._master, self._slave, self._tty = master, slave, os.ttyname(slave)
        if self.link_dir is not None:
            self.link_dir.mkdir(parents=True, exist_ok=True)
            link = self.link_dir / self.link_name
            link.unlink(missing_ok=True)
            link.symlink_to(self._tty)
        self._thread = threading.Thread(target=self._serve, name=f"modem-{self.personality}", daemon=True)
        self._thread.start()
        return self

    def unplug(self) -> None:
        """The device vanishes: the pty closes (reads on the other side fail) and the path disappears."""
        if self._thread is not None:
            os.write(self._stop_w, b"x")
            self._thread.join(timeout=5)
            os.read(self._stop_r, 64)
            self._thread = None
        for fd in (self._master, self._slave):
            if fd is not None:
                os.close(fd)
        self._master = self._slave = None
        if self.link_dir is not None:
            (self.link_dir / self.link_name).unlink(missing_ok=True)

    def replug(self, link_name: str | None = None) -> str:
        """Plug in again (a fresh pty, like ttyUSB2 coming back as ttyUSB5); returns the new path."""
        if self.plugged:
            self.unplug()
        if link_name is not None:
            self.link_name = link_name
        self.echo, self.cmee = True, 0
        self.start()
        return self.path

    def stop(self) -> None:
        self.unplug()
        os.close(self._stop_r)
        os.close(self._stop_w)

    def __enter__(self) -> ModemEmulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- faults --------------------------------------------------------------------------------------------
    def inject_urc(self, *lines: str) -> None:
        self._send("".join(f"\r\n{line}\r\n" for line in lines).encode())

    def inject_garbage(self, data: bytes | None = None) -> None:
        self._send(data if data is not None else bytes(random.getrandbits(8) for _ in range(64)) + b"\r\n")

    def reset(self, boot_s: float = 0.3) -> None:
        """Restart: silent for ``boot_s``, then the boot URCs; echo on and numeric-free errors again."""
        self.silent = True

        def boot() -> None:
            time.sleep(boot_s)
            self.echo, self.cmee, self.silent = True, 0, False
            self.inject_urc(*_BOOT_URCS[self.personality])

        threading.Thread(target=boot, daemon=True).start()

    # -- the modem -----------------------------------------------------------------------------------------
    def _send(self, data: bytes) -> None:
        with self._write_lock:
            if self._master is not None:
                try:
                    os.write(self._master, data)
                except OSError:
                    pass

    def _serve(self) -> None:
        assert self._master is not None
        master, buffer = self._master, b""
        while True:
            ready, _, _ = select.select([master, self._stop_r], [], [], 1.0)
            if self._stop_r in ready:
                return
            if master not in ready:
                continue
            try:
                data = os.read(master, 4096)
            except OSError:
                time.sleep(0.01)  # nobody has the slave open right now
                continue
            buffer += data
            while b"\r" in buffer:
                raw, buffer = buffer.split(b"\r", 1)
                command = raw.decode("ascii", "replace").strip()
                if command:
                    self._command(command)

    def _command(self, command: str) -> None:
        self.commands.append(command)
        if self.silent:
            return
        if self.echo:
            self._send(command.encode() + b"\r")
        if self.delay_s:
            time.sleep(self.delay_s)
        if self.garbage:
            self.inject_garbage(b"\xff\xfe+C\x00SQ: ,,\x1b[0m\r\n")
            return
        lines, final = self._answer(command)
        urcs, self.urcs_in_next_answer = self.urcs_in_next_answer, []
        out = [f"\r\n{line}\r\n" for line in lines[:1]] + [f"\r\n{u}\r\n" for u in urcs]
        out += [f"\r\n{line}\r\n" for line in lines[1:]] + [f"\r\n{final}\r\n"]
        self._send("".join(out).encode())

    def _error(self, code: int) -> tuple[list[str], str]:
        if self.cmee == 1:
            return [], f"+CME ERROR: {code}"
        if self.cmee == 2:
            return [], f"+CME ERROR: {_CME_TEXT.get(code, 'unknown')}"
        return [], "ERROR"

    def _answer(self, command: str) -> tuple[list[str], str]:  # noqa: C901 - one branch per command
        s, upper, vendor = self.state, command.upper(), self.personality
        if upper in ("AT", "ATE0", "ATE1") or upper.startswith("AT+CMEE="):
            if upper.startswith("ATE"):
                self.echo = upper == "ATE1"
            elif upper.startswith("AT+CMEE="):
                self.cmee = int(upper[8:] or 0)
            return [], "OK"
        if upper in ("AT+CGMI", "AT+GMI"):
            return [_IDENTITY[vendor][0]], "OK"
        if upper == "ATI":
            return _IDENTITY[vendor][1], "OK"
        if upper == "AT+CPIN?":
            if s.sim == "absent":
                return self._error(10)
            return ["+CPIN: READY" if s.sim == "ready" else "+CPIN: SIM PIN"], "OK"
        if upper == "AT+CSQ":
            return [f"+CSQ: {s.csq if s.registered or s.stat == 2 else 99},99"], "OK"
        if upper == "AT+CESQ":
            if not s.registered:
                return ["+CESQ: 99,99,255,255,255,255"], "OK"
            return [f"+CESQ: 99,99,255,255,{int((s.rsrq_db + 20) * 2)},{s.rsrp_dbm + 141}"], "OK"
        for name in ("CREG", "CGREG", "CEREG"):
            if upper == f"AT+{name}?":
                n = self.reg_n[name]
                loc = ',"4D2","1A2B3C4",7' if n >= 2 and s.registered else ""
                return [f"+{name}: {n},{s.stat}{loc}"], "OK"
            if upper.startswith(f"AT+{name}="):
                self.reg_n[name] = int(upper.split("=", 1)[1] or 0)
                return [], "OK"
        if upper == "AT+COPS?":
            if s.sim == "absent":
                return self._error(10)
            return [f'+COPS: 0,0,"{s.operator}",{s.act}' if s.registered else "+COPS: 0"], "OK"
        if vendor == "quectel" and upper == "AT+QNWINFO":
            if not s.registered:
                return ["+QNWINFO: No Service"], "OK"
            return [f'+QNWINFO: "FDD LTE","{s.plmn}","LTE BAND 3",1650'], "OK"
        if vendor == "quectel" and upper == "AT+QCSQ":
            if not s.registered:
                return ['+QCSQ: "NOSERVICE"'], "OK"
            return [f'+QCSQ: "LTE",{s.rssi_dbm},{s.rsrp_dbm},{(s.sinr_db + 20) * 5},{s.rsrq_db}'], "OK"
        if vendor == "quectel" and upper == 'AT+QENG="SERVINGCELL"':
            if not s.registered:
                return ['+QENG: "servingcell","SEARCH"'], "OK"
            return [
                f'+QENG: "servingcell","NOCONN","LTE","FDD",{s.plmn[:3]},{s.plmn[3:]},1A2B3C4,123,1650,3,5,5,'
                f"4D2,{s.rsrp_dbm},{s.rsrq_db},{s.rssi_dbm},{s.sinr_db},-"
            ], "OK"
        if vendor == "simcom" and upper == "AT+CPSI?":
            if not s.registered:
                return ["+CPSI: NO SERVICE,Online"], "OK"
            return [
                f"+CPSI: LTE,Online,{s.plmn[:3]}-{s.plmn[3:]},0x04D2,27506436,123,EUTRAN-BAND3,1650,5,5,"
                f"{s.rsrq_db * 10},{s.rsrp_dbm * 10},{s.rssi_dbm * 10},{s.sinr_db}"
            ], "OK"
        return [], "ERROR"
