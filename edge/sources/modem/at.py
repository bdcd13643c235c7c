"""An AT command channel over a serial port: pyserial opens and configures the port, asyncio reads it.

The port's descriptor is watched with ``loop.add_reader``, so no thread blocks and the event loop never
waits on the modem. One command runs at a time; each has its own timeout. Lines are sorted as they come:

- the echo of the command (when echo is on, e.g. after the modem restarted) is dropped;
- a final result code (``OK``, ``ERROR``, ``+CME ERROR: <n|text>``, ``+CMS ERROR: ...``, ``NO CARRIER``...)
  ends the command;
- a line with the command's own prefix (``+CSQ:`` for ``AT+CSQ``) belongs to the answer;
- an unsolicited result code (``RDY``, ``+QIND: ...``, ``POWERED DOWN``, or any other ``+XXX:`` prefix) goes to
  ``on_urc``, even in the middle of an answer;
- any other text belongs to the answer (``ATI``, ``AT+CGMI`` answer without a prefix).

A read error (the USB device vanished, the pty was closed) ends the channel: the running and every later
command raise ``ModemGone``; the owner closes it and opens a new one, maybe on a new device node.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field

import serial

from edge.sources.modem.parsers import CmeError, parse_cme_error
from thonminh.errors import ThonminhError

__all__ = [
    "ATChannel",
    "ATError",
    "ATResponse",
    "ATTimeout",
    "ModemGone",
    "command_prefix",
    "is_final",
    "is_urc",
]

_FINAL_ERRORS = ("ERROR", "NO CARRIER", "NO ANSWER", "NO DIALTONE", "BUSY")
_URC_LINES = {
    "RDY",
    "POWERED DOWN",
    "NORMAL POWER DOWN",
    "SMS DONE",
    "PB DONE",
    "SMS READY",
    "CALL READY",
    "RING",
    "UNDER-VOLTAGE POWER DOWN",
    "OVER-VOLTAGE POWER DOWN",
    "UNDER-VOLTAGE WARNING",
    "OVER-VOLTAGE WARNING",
    "START",
    "PSUTTZ",
}
_PREFIX = re.compile(r"^AT([+^$#%*&][A-Z0-9]+)", re.IGNORECASE)
_MAX_LINE = 4096


class ATTimeout(ThonminhError, TimeoutError):
    """The modem gave no final result code in time (silent, busy, or answering garbage)."""


class ModemGone(ThonminhError):
    """The serial device stopped working: unplugged, reset, or closed."""


@dataclass(frozen=True, slots=True)
class ATResponse:
    command: str
    lines: tuple[str, ...]
    final: str


class ATError(ThonminhError):
    """The modem answered with an error result code; ``cme`` holds ``+CME ERROR`` details."""

    def __init__(self, response: ATResponse) -> None:
        super().__init__(f"{response.command}: {response.final}")
        self.response = response
        self.cme: CmeError | None = parse_cme_error(response.final)


def is_final(line: str) -> bool:
    upper = line.upper()
    return upper == "OK" or upper in _FINAL_ERRORS or upper.startswith(("+CME ERROR", "+CMS ERROR"))


def is_urc(line: str) -> bool:
    """A line that is unsolicited wherever it appears (``+XXX:`` lines are decided by the command's prefix)."""
    return line.strip().upper() in _URC_LINES


def command_prefix(command: str) -> str | None:
    """``AT+CSQ`` -> ``+CSQ``, ``AT+QENG="servingcell"`` -> ``+QENG``, ``ATI`` -> None."""
    match = _PREFIX.match(command.strip())
    return match.group(1).upper() if match else None


@dataclass
class _Pending:
    command: str
    prefix: str | None
    future: asyncio.Future[str]
    lines: list[str] = field(default_factory=list)


class ATChannel:
    """``async with ATChannel(path) as at: await at.command("AT+CSQ", timeout=2)``."""

    def __init__(
        self,
        port: str,
        *,
        baudrate: int = 115200,
        logger: logging.Logger | None = None,
        on_urc: Callable[[str], None] | None = None,
    ) -> None:
        self.port = port
        self.baudrate = baudrate
        self.log = logger or logging.getLogger(__name__)
        self.on_urc = on_urc or (lambda line: None)
        self._serial: serial.Serial | None = None
        self._fd: int | None = None
        self._buffer = b""
        self._pending: _Pending | None = None
        self._lock = asyncio.Lock()
        self._gone: str | None = None
        #: bytes dropped because no line end came within _MAX_LINE bytes (line noise, wrong baud rate)
        self.discarded_bytes = 0

    @property
    def is_open(self) -> bool:
        return self._fd is not None and self._gone is None

    async def open(self) -> None:
        """Open and configure the port; ``serial.SerialException`` (an ``OSError``) when it cannot be opened."""
        port = serial.Serial()
        port.port = self.port
        port.baudrate = self.baudrate
        port.timeout = 0
        port.exclusive = True  # another program on the same AT port would steal half of our answers
        port.open()  # O_NONBLOCK: returns at once
        self._serial = port
        self._fd = port.fileno()
        self._gone = None
        asyncio.get_running_loop().add_reader(self._fd, self._readable)

    async def close(self) -> None:
        if self._fd is not None:
            with contextlib.suppress(Exception):
                asyncio.get_running_loop().remove_reader(self._fd)
        if self._serial is not None:
            with contextlib.suppress(Exception):
                self._serial.close()
        self._serial, self._fd = None, None
        self._fail_pending(ModemGone(f"{self.port}: closed"))

    async def __aenter__(self) -> ATChannel:
        await self.open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def command(self, command: str, *, timeout: float, prefix: str | None = None) -> ATResponse:
        """Send one command; return its answer lines on ``OK``, raise ``ATError`` on an error result code,
        ``ATTimeout`` without a final result code in ``timeout`` s, ``ModemGone`` if the device vanished.
        """
        async with self._lock:
            if self._fd is None or self._gone is not None:
                raise ModemGone(f"{self.port}: {self._gone or 'not open'}")
            future: asyncio.Future[str] = asyncio.get_running_loop().create_future()
            pending = _Pending(command, (prefix or command_prefix(command) or "").upper() or None, future)
            self._pending = pending
            try:
                async with asyncio.timeout(timeout):
                    await self._write((command + "\r").encode())
                    final = await future
            except TimeoutError:
                raise ATTimeout(f"{command}: no final result code within {timeout:g} s") from None
            finally:
                self._pending = None
                if not future.done():
                    future.cancel()
                elif not future.cancelled():
                    future.exception()  # already raised another way (a failed write): mark it seen
        response = ATResponse(command, tuple(pending.lines), final)
        if final.upper() != "OK":
            raise ATError(response)
        return response

    # -- internals -----------------------------------------------------------------------------------------
    async def _write(self, data: bytes) -> None:
        loop = asyncio.get_running_loop()
        while data:
            assert self._fd is not None
            try:
                written = os.write(self._fd, data)
            except BlockingIOError:
                ready = loop.create_future()
                loop.add_writer(self._fd, ready.set_result, None)
                try:
                    await ready
                finally:
                    loop.remove_writer(self._fd)
                continue
            except OSError as err:
                self._lost(err)
                raise ModemGone(f"{self.port}: {err.strerror or err}") from err
            data = data[written:]

    def _readable(self) -> None:
        assert self._fd is not None
        try:
            data = os.read(self._fd, 4096)
        except BlockingIOError:
            return
        except OSError as err:
            self._lost(err)
            return
        if not data:
            self._lost(OSError(errno.EIO, "end of file"))
            return
        self._feed(data)

    def _lost(self, err: OSError) -> None:
        self._gone = err.strerror or str(err)
        if self._fd is not None:
            with contextlib.suppress(Exception):
                asyncio.get_running_loop().remove_reader(self._fd)
        self._fail_pending(ModemGone(f"{self.port}: {self._gone}"))

    def _fail_pending(self, err: Exception) -> None:
        if self._pending is not None and not self._pending.future.done():
            self._pending.future.set_exception(err)

    def _feed(self, data: bytes) -> None:
        self._buffer += data
        while True:
            ends = [i for i in (self._buffer.find(b"\r"), self._buffer.find(b"\n")) if i >= 0]
            if not ends:
                if len(self._buffer) > _MAX_LINE:
                    self.discarded_bytes += len(self._buffer)
                    self._buffer = b""
                return
            cut = min(ends)
            raw, self._buffer = self._buffer[:cut], self._buffer[cut + 1 :]
            if len(raw) > _MAX_LINE:
                self.discarded_bytes += len(raw)
                continue
            text = raw.decode("utf-8", "replace").strip().strip("\x00")
            if text:
                self._line(text)

    def _line(self, text: str) -> None:
        pending = self._pending
        if pending is None or pending.future.done():
            self.on_urc(text)
            return
        upper = text.upper()
        if upper.replace(" ", "") == pending.command.upper().replace(" ", ""):
            return  # echo
        if is_final(text):
            pending.future.set_result(text)
        elif pending.prefix and upper.startswith(pending.prefix):
            pending.lines.append(text)
        elif is_urc(text) or (text.startswith("+") and ":" in text):
            self.on_urc(text)
        else:
            pending.lines.append(text)
