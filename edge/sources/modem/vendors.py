"""Pure parsers of the vendor commands of the two modules most Pi gateways carry.

Quectel (EC25, EG25, EP06, EC200, RG50x): ``AT+QNWINFO``, ``AT+QCSQ``, ``AT+QENG="servingcell"``.
SIMCom (SIM7600, SIM7000, SIM7906, SIM5360): ``AT+CPSI?``.

Units, from the vendors' manuals and checked against field captures (see the test fixtures):

- ``+QENG`` RSRP/RSRQ/RSSI are dBm/dB; its SINR is dB (-20..+30) on current firmware. Older EC25 manuals
  describe 1/5 dB steps, but field captures (EP06-E, EC200T, a QDC507 next to ``+QCSQ``) show dB values,
  including negative ones, so the value is taken as dB and kept only inside -20..+40.
- ``+QCSQ`` LTE SINR is in 1/5 dB from -20 dB: ``value / 5 - 20``.
- ``+CPSI`` LTE RSRQ/RSRP/RSSI are in 1/10 dB(m) on SIM7600/SIM7906 (``-892`` = -89.2 dBm) and in whole
  units on SIM7000 (``-77``); the scale is told by the RSRP, which lies in -44..-140 dBm. Non-negative
  values (3GPP indices on some A76xx firmware) are left out rather than guessed.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace

from edge.sources.modem.parsers import ParseError, info_fields, number, printable

__all__ = [
    "VendorSignal",
    "normalise_access_tech",
    "parse_cpsi",
    "parse_manufacturer",
    "parse_qcsq",
    "parse_qeng_servingcell",
    "parse_qnwinfo",
]

_NO_SERVICE = {"NO SERVICE", "NOSERVICE", "NONE", "NO_SERVICE", "SEARCH", ""}


@dataclass(frozen=True, slots=True)
class VendorSignal:
    """What a vendor command says about the serving cell. ``service`` False means: no service now."""

    service: bool = True
    access_tech: str | None = None
    operator: str | None = None  # numeric MCC+MNC where the command gives it
    rssi_dbm: float | None = None
    rsrp_dbm: float | None = None
    rsrq_db: float | None = None
    sinr_db: float | None = None


def normalise_access_tech(text: str, line: str = "") -> str | None:
    """``FDD LTE`` -> ``LTE``, ``HSPA+`` -> ``WCDMA``, ``NR5G-SA`` -> ``NR5G``...; None for no service.

    A name none of these is kept as the modem wrote it (upper case), if it is printable ASCII of at most
    32 characters (``HDR``, a newer firmware's name); ``ParseError`` naming ``line`` otherwise.
    """
    t = printable(text.strip(), line or text, "access technology", 32).upper().replace("_", "-")
    if t in _NO_SERVICE:
        return None
    if "NSA" in t:
        return "NR5G-NSA"
    if "NR" in t:
        return "NR5G"
    if "NB" in t:
        return "NB-IoT"
    if "CAT-M" in t or "EMTC" in t:
        return "LTE-M"
    if "LTE" in t:
        return "LTE"
    if "TDS" in t or "TD-SCDMA" in t:
        return "TD-SCDMA"
    if any(k in t for k in ("WCDMA", "HSPA", "HSDPA", "HSUPA", "UMTS")):
        return "WCDMA"
    if any(k in t for k in ("GSM", "GPRS", "EDGE")):
        return "GSM"
    if "CDMA" in t or "EVDO" in t:
        return "CDMA"
    return t or None


def _num(value: str, line: str, what: str, low: float, high: float, scale: float = 1.0) -> float | None:
    """A number within [low, high] after scaling; '-' and empty mean unknown; out of range is omitted."""
    if value in ("", "-"):
        return None
    found = number(value, line, what) * scale
    return round(found, 2) if low <= found <= high else None


_RSRP = ("RSRP", -156.0, -30.0)
_RSRQ = ("RSRQ", -43.5, 20.0)
_RSSI = ("RSSI", -125.0, -20.0)
_SINR = ("SINR", -20.0, 40.0)
_MCC = re.compile(r"[0-9]{3}")
_MNC = re.compile(r"[0-9]{2,3}")


def _operator(mcc: str, mnc: str, line: str) -> str | None:
    """The numeric operator ``45204`` from its MCC and MNC; None where the modem left them out."""
    if mcc in ("", "-") or mnc in ("", "-"):
        return None
    if not (_MCC.fullmatch(mcc) and _MNC.fullmatch(mnc)):
        raise ParseError("MCC-MNC is not numeric", line)
    return mcc + mnc


# -- Quectel ---------------------------------------------------------------------------------------------


def parse_qnwinfo(lines: Sequence[str]) -> VendorSignal | None:
    """``+QNWINFO: "FDD LTE","45204","LTE BAND 3",1650`` (two lines under 5G NSA) or ``+QNWINFO: No Service``."""
    found = info_fields(lines, "+QNWINFO")
    if not found:
        return None
    techs = []
    operator = None
    for fields in found:
        line = ",".join(fields)
        tech = normalise_access_tech(fields[0], line) if fields else None
        if tech:
            techs.append(tech)
        # an operator by name ("Viettel", as +COPS's format may have it printed) is left out, as an empty one;
        # digits garbled by serial noise are refused
        named = len(fields) > 1 and fields[1].isascii() and not fields[1].isdigit()
        if len(fields) > 1 and operator is None and not named:
            operator = _operator(fields[1][:3], fields[1][3:], line)
    if not techs:
        return VendorSignal(service=False)
    tech = "NR5G-NSA" if "LTE" in techs and "NR5G" in techs else techs[-1]
    return VendorSignal(access_tech=tech, operator=operator)


def parse_qcsq(lines: Sequence[str]) -> VendorSignal | None:
    """``+QCSQ: "LTE",<rssi>,<rsrp>,<sinr>,<rsrq>`` (SINR in 1/5 dB from -20), ``"WCDMA",<rssi>,<rscp>,<ecio>``,
    ``"GSM",<rssi>`` or ``"NOSERVICE"``.
    """
    for fields in info_fields(lines, "+QCSQ"):
        line = ",".join(fields)
        tech = normalise_access_tech(fields[0], line) if fields else None
        if tech is None:
            return VendorSignal(service=False)
        rssi = _num(fields[1], line, *_RSSI) if len(fields) > 1 else None
        signal = VendorSignal(access_tech=tech, rssi_dbm=rssi)
        if tech in ("LTE", "LTE-M", "NB-IoT", "NR5G") and len(fields) >= 5:
            sinr = _num(fields[3], line, "SINR", 0.0, 250.0)
            signal = replace(
                signal,
                rsrp_dbm=_num(fields[2], line, *_RSRP),
                sinr_db=None if sinr is None else sinr / 5 - 20,
                rsrq_db=_num(fields[4], line, *_RSRQ),
            )
        return signal
    return None


def _qeng_lte(f: list[str], line: str) -> VendorSignal:
    # "LTE",<is_tdd>,<mcc>,<mnc>,<cellid>,<pcid>,<earfcn>,<band>,<ul_bw>,<dl_bw>,<tac>,<rsrp>,<rsrq>,<rssi>,<sinr>,...
    if len(f) < 15:
        raise ParseError(f"LTE serving cell with {len(f)} fields, expected at least 15", line)
    return VendorSignal(
        access_tech="LTE",
        operator=_operator(f[2], f[3], line),
        rsrp_dbm=_num(f[11], line, *_RSRP),
        rsrq_db=_num(f[12], line, *_RSRQ),
        rssi_dbm=_num(f[13], line, *_RSSI),
        sinr_db=_num(f[14], line, *_SINR),
    )


def _qeng_nr_sa(f: list[str], line: str) -> VendorSignal:
    # "NR5G-SA",<duplex>,<mcc>,<mnc>,<cellid>,<pcid>,<tac>,<arfcn>,<band>,<dl_bw>,<rsrp>,<rsrq>,<sinr>,...
    if len(f) < 13:
        raise ParseError(f"NR5G-SA serving cell with {len(f)} fields, expected at least 13", line)
    return VendorSignal(
        access_tech="NR5G",
        operator=_operator(f[2], f[3], line),
        rsrp_dbm=_num(f[10], line, *_RSRP),
        rsrq_db=_num(f[11], line, *_RSRQ),
        sinr_db=_num(f[12], line, *_SINR),
    )


def parse_qeng_servingcell(lines: Sequence[str]) -> VendorSignal | None:
    """``AT+QENG="servingcell"``: one line (LTE, NR5G-SA, WCDMA, GSM, or a bare SEARCH/LIMSRV state), or a
    state line followed by ``"LTE",...`` and ``"NR5G-NSA",...`` lines under EN-DC (LTE anchor values kept).
    """
    found = info_fields(lines, "+QENG")
    if not found:
        return None
    state = None
    cells: dict[str, tuple[list[str], str]] = {}
    for fields in found:
        line = ",".join(fields)
        if fields and fields[0].lower() == "servingcell":
            state = fields[1].upper() if len(fields) > 1 else None
            fields = fields[2:]
        if fields and fields[0]:
            cells[fields[0].upper()] = (fields, line)
    if state in ("SEARCH", None) and not cells:
        return VendorSignal(service=False)
    if "LTE" in cells:
        signal = _qeng_lte(*cells["LTE"])
        return replace(signal, access_tech="NR5G-NSA") if "NR5G-NSA" in cells else signal
    if "NR5G-SA" in cells:
        return _qeng_nr_sa(*cells["NR5G-SA"])
    for tech, (f, line) in cells.items():
        if tech == "WCDMA":
            return VendorSignal(access_tech="WCDMA")
        if tech == "GSM":
            # "GSM",<mcc>,<mnc>,<lac>,<cellid>,<bsic>,<arfcn>,<band>,<rxlev>,...
            return VendorSignal(access_tech="GSM", rssi_dbm=_num(f[8], line, *_RSSI) if len(f) > 8 else None)
        if tech == "NR5G-NSA":
            # "NR5G-NSA",<mcc>,<mnc>,<pcid>,<rsrp>,<sinr>,<rsrq>,...: NR leg without its LTE line
            return VendorSignal(
                access_tech="NR5G-NSA",
                rsrp_dbm=_num(f[4], line, *_RSRP) if len(f) > 6 else None,
                sinr_db=_num(f[5], line, *_SINR) if len(f) > 6 else None,
                rsrq_db=_num(f[6], line, *_RSRQ) if len(f) > 6 else None,
            )
        return VendorSignal(access_tech=normalise_access_tech(tech, line))
    return VendorSignal(service=state not in ("SEARCH", "LIMSRV"))


# -- SIMCom ----------------------------------------------------------------------------------------------


def parse_cpsi(lines: Sequence[str]) -> VendorSignal | None:
    """``+CPSI: <mode>,<op mode>,<mcc>-<mnc>,...``: ``NO SERVICE,Online``, GSM, WCDMA or LTE forms."""
    for fields in info_fields(lines, "+CPSI"):
        line = ",".join(fields)
        tech = normalise_access_tech(fields[0].replace("-LIMITED", ""), line) if fields else None
        if tech is None or "LIMITED" in (fields[0].upper() if fields else ""):
            return VendorSignal(service=False, access_tech=tech)
        operator = None
        if len(fields) > 2 and "-" in fields[2]:
            mcc, _, mnc = fields[2].partition("-")
            operator = _operator(mcc, mnc, line)
        signal = VendorSignal(access_tech=tech, operator=operator)
        if tech == "GSM" and len(fields) > 6:
            return replace(signal, rssi_dbm=_num(fields[6], line, *_RSSI))
        if tech in ("LTE", "LTE-M", "NB-IoT") and len(fields) >= 14:
            rsrp_raw = number(fields[11], line, "RSRP")
            if rsrp_raw >= 0:
                return signal  # 3GPP indices or nothing: unknown scale, left out
            scale = 0.1 if rsrp_raw <= -200 else 1.0
            return replace(
                signal,
                rsrq_db=_num(fields[10], line, *_RSRQ, scale=scale),
                rsrp_dbm=_num(fields[11], line, *_RSRP, scale=scale),
                rssi_dbm=_num(fields[12], line, *_RSSI, scale=scale),
                sinr_db=_num(fields[13], line, *_SINR),
            )
        return signal
    return None


def parse_manufacturer(lines: Sequence[str]) -> str:
    """``AT+CGMI`` / ``ATI`` text -> ``quectel``, ``simcom`` or ``generic``."""
    text = " ".join(lines).lower()
    if "quectel" in text:
        return "quectel"
    if "simcom" in text:
        return "simcom"
    return "generic"
