"""The modem source: every ``interval_s``, read the 4G modem's radio state over its AT port.

One poll asks ``AT+CPIN?``, ``AT+CSQ``, ``AT+CESQ``, ``AT+CREG?``/``AT+CGREG?``/``AT+CEREG?``/``AT+C5GREG?``,
``AT+COPS?`` and the vendor's serving-cell commands (Quectel ``AT+QENG="servingcell"``, ``AT+QCSQ``,
``AT+QNWINFO``; SIMCom ``AT+CPSI?``), and writes one ``modem`` point. A command the modem does not know
(plain ``ERROR``) is not asked again until the port is reopened.

When the modem cannot be read (the port is missing, it vanished, it is silent or answers garbage), the
source logs once, writes a point with only ``available = 0`` and ``reg_state = "unknown"`` (we know nothing,
so nothing else is claimed; never a 0 or a -113), closes the port and tries again after a backoff (doubling up to
``backoff_max_s``, jittered), possibly on a new device node behind the same by-id link. It never stops the agent.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Sequence
from typing import TypeVar

from edge.sources.base import PolledSource, SourceContext
from edge.sources.modem.at import ATChannel, ATError, ATResponse, ATTimeout, ModemGone, is_urc
from edge.sources.modem.config import ModemConfig
from edge.sources.modem.parsers import (
    ParseError,
    parse_cesq,
    parse_cops,
    parse_cpin,
    parse_csq,
    parse_registration,
    sim_from_error,
)
from edge.sources.modem.reading import (
    ACCESS_TECH,
    OPERATOR,
    REG_STATE,
    REGISTERED,
    RSRP,
    SIM,
    SINR,
    RadioReading,
    modem_fields,
)
from edge.sources.modem.vendors import (
    VendorSignal,
    parse_cpsi,
    parse_manufacturer,
    parse_qcsq,
    parse_qeng_servingcell,
    parse_qnwinfo,
)
from thonminh.backoff import Backoff
from thonminh.contract import MODEM, Point
from thonminh.logs import Episode, RateLimited

__all__ = ["SOURCE", "ModemSource"]

T = TypeVar("T")
LINK_TAG, MODEM_TAG = MODEM.tags
AVAILABLE = MODEM.field("available").name
_REGISTRATIONS = ("CEREG", "C5GREG", "CGREG", "CREG")
#: 27.007 basics every modem has: an error from these is an answer about the SIM or network, not "unknown command"
_ALWAYS_ASKED = frozenset({"AT+CPIN?", "AT+CSQ", "AT+CREG?", "AT+CEREG?", "AT+COPS?"})
#: vendor serving-cell commands, most precise first
_VENDOR: dict[str, tuple[tuple[str, Callable[[Sequence[str]], VendorSignal | None]], ...]] = {
    "quectel": (
        ('AT+QENG="servingcell"', parse_qeng_servingcell),
        ("AT+QCSQ", parse_qcsq),
        ("AT+QNWINFO", parse_qnwinfo),
    ),
    "simcom": (("AT+CPSI?", parse_cpsi),),
    "generic": (),
}
#: unsolicited lines after which echo and error format must be set again
_RESTART_URCS = ("RDY", "POWERED DOWN", "+CFUN:", "+CPIN: NOT READY")
_KNOWN_URC_PREFIXES = (
    "+CREG:",
    "+CGREG:",
    "+CEREG:",
    "+C5GREG:",
    "+CPIN:",
    "+QIND:",
    "+QUSIM:",
    "+CFUN:",
    "+CMTI:",
    "+CMT:",
    "+CDS:",
    "+CBM:",
    "+CGEV:",
    "+CTZE:",
    "+CTZV:",
    "+QIURC:",
    "+QNITZ:",
    "+QSIMSTAT:",
    "+CRING:",
    "+CLIP:",
    "+CPSI:",
    "+QCSQ:",
    "*PSUTTZ",
    "DST:",
    "+PSUTTZ:",
)


class ModemSource(PolledSource):
    """Radio state of one cellular modem."""

    kind = "modem"
    Config = ModemConfig

    def __init__(self, config: ModemConfig, ctx: SourceContext) -> None:
        super().__init__(config, ctx)
        self.config: ModemConfig = config
        self.channel: ATChannel | None = None
        self.vendor: str | None = None if config.vendor == "auto" else config.vendor
        self._unsupported: set[str] = set()
        self._needs_setup = True
        self._next_open = 0.0
        self._backoff = Backoff(config.backoff_initial_s, config.backoff_max_s)
        self._unavailable = Episode(
            self.log, f"modem {config.id}: unavailable", modem=config.id, port=config.port
        )
        self._limited = RateLimited(self.log, period=300.0)
        self.urcs: list[str] = []  # the last unsolicited lines, for tests and `status`

    async def init(self) -> None:
        # A missing port is not a config error here: USB modems come and go. It is reported, then retried.
        for problem in self.config.environment_problems(self.ctx.key_path):
            self.log.warning(problem, extra={"modem": self.config.id})

    async def close(self) -> None:
        await self._close()

    # -- one poll ------------------------------------------------------------------------------------------
    async def sample(self) -> Sequence[Point]:
        tags = {LINK_TAG: self.config.link, MODEM_TAG: self.config.id}
        if self.channel is None and not await self._open():
            return [self._unavailable_point(tags)]
        try:
            if self._needs_setup:
                await self._setup()
            reading = await self._poll()
        except (ATTimeout, ATError, ModemGone, OSError) as err:  # ATError: the setup itself was refused
            await self._failed(f"{type(err).__name__}: {err}")
            return [self._unavailable_point(tags)]
        self._unavailable.ok()
        self._backoff.reset()
        fields = modem_fields(reading) or {REG_STATE: "unknown"}
        # answering but not registered is degraded: the modem is there, the 4G link cannot carry traffic
        self.ctx.health(
            "ok" if fields.get(REGISTERED) == 1 else "degraded",
            {key: fields.get(key) for key in (OPERATOR, ACCESS_TECH, RSRP, SINR, REG_STATE, SIM)},
        )
        return [self.ctx.point(MODEM.name, tags, {**fields, AVAILABLE: 1})]

    def _unavailable_point(self, tags: dict[str, str]) -> Point:
        return self.ctx.point(MODEM.name, tags, {REG_STATE: "unknown", AVAILABLE: 0})

    async def _open(self) -> bool:
        if self.ctx.monotonic() < self._next_open:
            return False
        channel = ATChannel(
            self.config.port, baudrate=self.config.baudrate, logger=self.log, on_urc=self._urc
        )
        try:
            await channel.open()
        except OSError as err:  # serial.SerialException is an OSError (IOError)
            await self._failed(f"cannot open {self.config.port}: {err}")
            return False
        self.channel = channel
        self._needs_setup = True
        self._unsupported.clear()
        return True

    async def _close(self) -> None:
        if self.channel is not None:
            await self.channel.close()
            self.channel = None

    async def _failed(self, reason: str) -> None:
        await self._close()
        delay = self._backoff.next()
        self._unavailable.problem(reason, retry_in_s=round(delay, 1))
        self.ctx.health("down", {"error": reason, "port": self.config.port})
        self._next_open = self.ctx.monotonic() + delay

    async def _setup(self) -> None:
        """Echo off, verbose errors, and which vendor this is. Raises if the modem does not answer."""
        await self._at("AT")
        await self._at("ATE0")
        try:
            await self._at("AT+CMEE=2")
        except ATError:
            pass  # errors then come as plain ERROR: still final result codes
        if self.config.vendor == "auto":
            try:
                self.vendor = parse_manufacturer((await self._at("AT+CGMI")).lines)
            except ATError:
                self.vendor = "generic"
        self._needs_setup = False

    async def _at(self, command: str) -> ATResponse:
        assert self.channel is not None
        return await self.channel.command(command, timeout=self.config.command_timeout_s)

    async def _ask(self, command: str) -> list[str] | ATError | None:
        """The answer lines, the error the modem gave, or None for a command it does not support."""
        if command in self._unsupported:
            return None
        try:
            return list((await self._at(command)).lines)
        except ATError as err:
            unsupported = (
                err.cme is None or err.cme.code == 4 or "not supported" in (err.cme.text or "").lower()
            )
            if unsupported and command not in _ALWAYS_ASKED:
                self._unsupported.add(command)  # plain ERROR / "operation not supported": skip from now on
            return err

    def _parse(self, what: str, parse: Callable[[], T]) -> T | None:
        try:
            return parse()
        except ParseError as err:
            self.ctx.reject(f"modem {self.config.id}: {what}: {err}", err.line)
            self._limited.warning(
                what,
                f"modem {self.config.id}: unreadable {what} answer",
                error=str(err),
                modem=self.config.id,
            )
            return None

    async def _poll(self) -> RadioReading:
        reading = RadioReading()
        answer = await self._ask("AT+CPIN?")
        if isinstance(answer, ATError):
            reading.sim = sim_from_error(answer.cme)
        elif answer is not None:
            reading.sim = self._parse("CPIN", lambda: parse_cpin(answer))
        if isinstance(csq := await self._ask("AT+CSQ"), list):
            reading.csq_rssi_dbm = self._parse("CSQ", lambda: parse_csq(csq))
        if isinstance(cesq := await self._ask("AT+CESQ"), list):
            reading.cesq = self._parse("CESQ", lambda: parse_cesq(cesq))
        for name in _REGISTRATIONS:
            lines = await self._ask(f"AT+{name}?")
            if isinstance(lines, list):
                registration = self._parse(name, functools.partial(parse_registration, lines, name))
                if registration is not None:
                    reading.registrations.append(registration)
        if isinstance(cops := await self._ask("AT+COPS?"), list):
            reading.operator = self._parse("COPS", lambda: parse_cops(cops))
        for command, parser in _VENDOR.get(self.vendor or "generic", ()):
            lines = await self._ask(command)
            if isinstance(lines, list):
                signal = self._parse(command, functools.partial(parser, lines))
                if signal is not None:
                    reading.vendor.append(signal)
        return reading

    def _urc(self, line: str) -> None:
        self.urcs = [*self.urcs[-49:], line]
        upper = line.upper()
        if upper.startswith(_RESTART_URCS):
            self._needs_setup = True  # the modem restarted: echo is back on, error format reset
            self.log.info("modem restarted or changed state", extra={"modem": self.config.id, "urc": line})
        elif is_urc(line) or upper.startswith(_KNOWN_URC_PREFIXES):
            self.log.debug("modem URC", extra={"modem": self.config.id, "urc": line})
        else:
            self.ctx.reject(f"modem {self.config.id}: unexpected line from the modem", line)
            self._limited.log(
                logging.WARNING,
                "unexpected",
                f"modem {self.config.id}: unexpected line",
                line=line[:80],
                modem=self.config.id,
            )


SOURCE = ModemSource
