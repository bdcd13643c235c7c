"""Pure parsers of 3GPP TS 27.007 responses: +CPIN, +CSQ, +CESQ, +CREG/+CGREG/+CEREG/+C5GREG, +COPS, errors.

Each takes the information lines of one command (the AT layer has already taken the final result code and
the unsolicited lines out) and returns typed values. A value the modem reports as unknown (CSQ 99, CESQ 255,
an empty field) comes back as ``None``, never as 0 or -113. A line that has the command's prefix but cannot
be read raises ``ParseError`` naming the line, so the source can count and keep it.

Every number goes through ``number`` and every text a reading keeps through ``printable``: ``int()`` and
``float()`` would also take ``'²'`` (``str.isdigit`` is true for it, ``int`` then fails), ``'٣١'``, ``'3_1'`` or
``'-1e999'``, and a line of serial noise must come back as a ``ParseError``, never as a reading or a crash.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from edge.rejects import shown

__all__ = [
    "CesqSignal",
    "CmeError",
    "OperatorInfo",
    "ParseError",
    "Registration",
    "access_tech_from_act",
    "info_fields",
    "number",
    "parse_cesq",
    "parse_cme_error",
    "parse_cops",
    "parse_cpin",
    "parse_csq",
    "parse_registration",
    "printable",
    "sim_from_error",
    "split_fields",
]


class ParseError(ValueError):
    """A response line with the right prefix whose content cannot be read."""

    def __init__(self, message: str, line: str) -> None:
        super().__init__(f"{message}: {shown(line, _SHOWN_CHARS)}")
        self.line = line


#: How much of the line a reason quotes: a whole +QENG line, about; the line itself is the reject's sample.
_SHOWN_CHARS = 160
#: A number as modems print it: ASCII digits, an optional minus and decimals, no exponent. Nine digits are
#: more than any value of these commands has, so the number is always finite and exact.
_NUMBER = re.compile(r"-?[0-9]{1,9}(?:\.[0-9]{1,6})?")


def split_fields(payload: str) -> list[str]:
    """Split ``a,"b,c", d`` into ``['a', 'b,c', 'd']``: commas inside quotes kept, quotes and spaces removed."""
    payload = payload.strip()
    if not payload:
        return []
    out: list[str] = []
    current: list[str] = []
    quoted = False
    for ch in payload:
        if ch == '"':
            quoted = not quoted
        elif ch == "," and not quoted:
            out.append("".join(current).strip())
            current = []
            continue
        current.append(ch)
    out.append("".join(current).strip())
    return [v[1:-1] if len(v) >= 2 and v[0] == v[-1] == '"' else v for v in out]


def info_fields(lines: Sequence[str], prefix: str) -> list[list[str]]:
    """The fields of every line starting with ``prefix`` (``+CSQ``; the colon and spaces are optional)."""
    found = []
    for line in lines:
        text = line.strip()
        if text.upper().startswith(prefix.upper()):
            rest = text[len(prefix) :]
            found.append(split_fields(rest[1:] if rest.startswith(":") else rest))
    return found


def number(value: str, line: str, what: str) -> float:
    """``value`` as a number, or ``ParseError`` naming ``what`` and the line (the one reader of numbers)."""
    if not _NUMBER.fullmatch(value):
        raise ParseError(f"{what} is not a number", line)
    return float(value)


def _int(value: str, line: str, what: str) -> int:
    found = number(value, line, what)
    if not found.is_integer():
        raise ParseError(f"{what} is not an integer", line)
    return int(found)


def printable(value: str, line: str, what: str, limit: int = 64) -> str:
    """``value`` if it is printable ASCII of at most ``limit`` characters (a name a reading may keep)."""
    if len(value) > limit or not value.isascii() or not value.isprintable():
        raise ParseError(f"{what} is not printable ASCII of at most {limit} characters", line)
    return value


# -- errors and the SIM ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CmeError:
    """``+CME ERROR: 10`` (``AT+CMEE=1``) or ``+CME ERROR: SIM not inserted`` (``AT+CMEE=2``)."""

    code: int | None
    text: str | None


# TS 27.007 section 9.2.1 numbers of the errors that say something about the SIM
_SIM_ERRORS = {
    10: "absent",
    11: "pin",
    12: "pin",
    13: "error",
    14: "error",
    15: "error",
    16: "pin",
    17: "pin",
    18: "pin",
}
_SIM_TEXTS = (
    ("not inserted", "absent"),
    ("sim pin", "pin"),
    ("sim puk", "pin"),
    ("password", "pin"),
    ("sim failure", "error"),
    ("sim busy", "error"),
    ("sim wrong", "error"),
    ("sim", "error"),
)


def parse_cme_error(final: str) -> CmeError | None:
    """The error of a ``+CME ERROR:`` / ``+CMS ERROR:`` final result code; None for anything else."""
    match = re.match(r"^\+CM[ES] ERROR:\s*(.*)$", final.strip(), re.IGNORECASE)
    if not match:
        return None
    detail = match.group(1).strip()
    if re.fullmatch(r"[0-9]{1,5}", detail):
        return CmeError(int(detail), None)
    return CmeError(None, detail or None)


def sim_from_error(error: CmeError | None) -> str:
    """The ``sim`` state implied by a failed ``AT+CPIN?``: absent, pin or error."""
    if error is None:
        return "error"
    if error.code is not None:
        return _SIM_ERRORS.get(error.code, "error")
    text = (error.text or "").lower()
    return next((state for needle, state in _SIM_TEXTS if needle in text), "error")


def parse_cpin(lines: Sequence[str]) -> str | None:
    """``+CPIN: READY`` -> ``ready``; ``SIM PIN``, ``SIM PUK``, ``PH-SIM PIN``... -> ``pin``; None if absent."""
    for fields in info_fields(lines, "+CPIN"):
        code = (fields[0] if fields else "").upper()
        if code == "READY":
            return "ready"
        if "PIN" in code or "PUK" in code:
            return "pin"
        if code in ("NOT INSERTED", "SIM NOT INSERTED", "ABSENT"):
            return "absent"
        return "error"  # NOT READY, SIM failure, ...: a SIM that is there but not usable
    return None


# -- signal ----------------------------------------------------------------------------------------------


def parse_csq(lines: Sequence[str]) -> float | None:
    """``+CSQ: <rssi>,<ber>`` -> RSSI in dBm: 0..31 is -113 + 2n, 100..191 (TD-SCDMA) is n - 216; 99/199 unknown."""
    for fields in info_fields(lines, "+CSQ"):
        line = ",".join(fields)
        if not fields or fields[0] == "":
            raise ParseError("no rssi", line)
        n = _int(fields[0], line, "rssi")
        if 0 <= n <= 31:
            return -113.0 + 2 * n
        if 100 <= n <= 191:
            return float(n - 216)
        if n in (99, 199):
            return None
        raise ParseError(f"rssi {n} out of range", line)
    return None


@dataclass(frozen=True, slots=True)
class CesqSignal:
    """``+CESQ`` values converted per TS 27.007 section 8.69 (None where the modem says 'not known')."""

    rssi_dbm: float | None = None  # from <rxlev>: GSM only
    rscp_dbm: float | None = None
    ecno_db: float | None = None
    rsrq_db: float | None = None
    rsrp_dbm: float | None = None
    ss_rsrq_db: float | None = None
    ss_rsrp_dbm: float | None = None
    ss_sinr_db: float | None = None


def _level(value: str, line: str, top: int, unknown: int, scale: float, offset: float) -> float | None:
    if value == "":
        return None
    n = _int(value, line, "level")
    if n == unknown:
        return None
    if not 0 <= n <= top:
        raise ParseError(f"level {n} out of range 0..{top}", line)
    return n * scale + offset


def parse_cesq(lines: Sequence[str]) -> CesqSignal | None:
    """``+CESQ: <rxlev>,<ber>,<rscp>,<ecno>,<rsrq>,<rsrp>[,<ss_rsrq>,<ss_rsrp>,<ss_sinr>]``.

    Each level is the lower bound of its 3GPP range: rsrp ``n - 141`` dBm, rsrq ``n/2 - 20`` dB, rxlev
    ``n - 111`` dBm, rscp ``n - 121`` dBm, ecno ``n/2 - 24.5`` dB, NR ss_rsrp ``n - 157`` dBm, ss_rsrq
    ``n/2 - 43.5`` dB, ss_sinr ``n/2 - 23.5`` dB; 99 (rxlev) and 255 (the others) mean not known.
    """
    for fields in info_fields(lines, "+CESQ"):
        line = ",".join(fields)
        if len(fields) < 6:
            raise ParseError(f"{len(fields)} fields, expected at least 6", line)
        f = fields + [""] * (9 - len(fields))
        return CesqSignal(
            rssi_dbm=_level(f[0], line, 63, 99, 1.0, -111.0),
            rscp_dbm=_level(f[2], line, 96, 255, 1.0, -121.0),
            ecno_db=_level(f[3], line, 49, 255, 0.5, -24.5),
            rsrq_db=_level(f[4], line, 34, 255, 0.5, -20.0),
            rsrp_dbm=_level(f[5], line, 97, 255, 1.0, -141.0),
            ss_rsrq_db=_level(f[6], line, 127, 255, 0.5, -43.5),
            ss_rsrp_dbm=_level(f[7], line, 127, 255, 1.0, -157.0),
            ss_sinr_db=_level(f[8], line, 127, 255, 0.5, -23.5),
        )
    return None


# -- registration and operator ---------------------------------------------------------------------------

# <stat> of +CREG/+CGREG/+CEREG/+C5GREG (TS 27.007 sections 7.2, 10.1.19-20, 10.1.22)
_STATES = {
    0: "not_registered",
    1: "home",
    2: "searching",
    3: "denied",
    4: "unknown",
    5: "roaming",
    6: "home",
    7: "roaming",
    8: "not_registered",
    9: "home",
    10: "roaming",
    11: "not_registered",
}


@dataclass(frozen=True, slots=True)
class Registration:
    command: str  # CREG, CGREG, CEREG or C5GREG
    stat: int
    act: int | None = None

    @property
    def state(self) -> str:
        return _STATES.get(self.stat, "unknown")

    @property
    def registered(self) -> bool:
        return self.state in ("home", "roaming")


#: A bare <stat>, 0..11, in ASCII digits
_STAT = re.compile(r"[0-9]|1[01]")


def _looks_like_read_form(fields: list[str]) -> bool:
    # read form: <n>,<stat>[,...]; URC form: <stat>[,<lac>,<ci>[,<AcT>]]. In the read form the second field
    # is a bare stat (0..11); in the URC form it is a location area code, normally quoted hex.
    if len(fields) == 2:
        return True
    return len(fields) >= 4 and _STAT.fullmatch(fields[1]) is not None


def parse_registration(
    lines: Sequence[str], command: str = "CREG", *, solicited: bool = True
) -> Registration | None:
    """``+CREG: <n>,<stat>[,<lac>,<ci>[,<AcT>[,...]]]`` (read) or ``+CREG: <stat>[,...]`` (URC), any of the
    four registration commands. With ``solicited`` the read form is expected; a URC that slipped into the
    answer (same prefix) is recognised by its shape and skipped.
    """
    prefix = f"+{command}"
    candidates = info_fields(lines, prefix)
    if solicited:
        read = [f for f in candidates if _looks_like_read_form(f)]
        if not read and candidates:
            raise ParseError(f"no {command} read response", ",".join(candidates[-1]))
        candidates = read[-1:]
    for fields in candidates:
        line = ",".join(fields)
        stat_index = 1 if solicited else 0
        if len(fields) <= stat_index or fields[stat_index] == "":
            raise ParseError("no stat", line)
        stat = _int(fields[stat_index], line, "stat")
        if not 0 <= stat <= 11:
            raise ParseError(f"stat {stat} out of range", line)
        act_index = stat_index + 3
        act = None
        if len(fields) > act_index and fields[act_index] != "":
            act = _int(fields[act_index], line, "AcT")
        return Registration(command, stat, act)
    return None


@dataclass(frozen=True, slots=True)
class OperatorInfo:
    mode: int
    name: str | None = None
    act: int | None = None


def parse_cops(lines: Sequence[str]) -> OperatorInfo | None:
    """``+COPS: <mode>[,<format>,<oper>[,<AcT>]]``; ``+COPS: 0`` alone means no operator selected."""
    for fields in info_fields(lines, "+COPS"):
        line = ",".join(fields)
        if not fields or fields[0].startswith("("):
            raise ParseError("not a +COPS? answer", line)
        mode = _int(fields[0], line, "mode")
        name = printable(fields[2], line, "operator") if len(fields) > 2 and fields[2] else None
        act = _int(fields[3], line, "AcT") if len(fields) > 3 and fields[3] != "" else None
        return OperatorInfo(mode, name, act)
    return None


# <AcT> of +COPS/+CREG (TS 27.007 section 7.3; 100 is Quectel's CDMA)
_ACT = {
    0: "GSM",
    1: "GSM",
    2: "WCDMA",
    3: "GSM",
    4: "WCDMA",
    5: "WCDMA",
    6: "WCDMA",
    7: "LTE",
    8: "GSM",
    9: "NB-IoT",
    10: "LTE",
    11: "NR5G",
    12: "NR5G",
    13: "NR5G-NSA",
    100: "CDMA",
}


def access_tech_from_act(act: int | None) -> str | None:
    return None if act is None else _ACT.get(act)
