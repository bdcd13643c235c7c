"""One radio reading: the parsed answers of one poll, combined into the contract's ``modem`` fields. Pure.

Precedence: a vendor's serving-cell report (``+QENG``, then ``+QCSQ``, ``+CPSI``, ``+QNWINFO``) is more
precise than ``+CESQ``, which is more precise than ``+CSQ``. Registration is the best of the registration
commands asked (registered > searching > denied > not registered > unknown): an LTE-only SIM is often
"not registered" for circuit-switched service (+CREG) while registered for data (+CEREG). A value nobody
reported is left out.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from edge.sources.modem.parsers import CesqSignal, OperatorInfo, Registration, access_tech_from_act
from edge.sources.modem.vendors import VendorSignal
from thonminh.contract import MODEM, FieldValue

__all__ = ["RadioReading", "modem_fields"]

_RANK = {"home": 0, "roaming": 0, "searching": 1, "denied": 2, "not_registered": 3, "unknown": 4}


def _checked(*names: str) -> tuple[str, ...]:
    return tuple(MODEM.field(n).name for n in names)


(REGISTERED, REG_STATE, OPERATOR, ACCESS_TECH, RSSI, RSRP, RSRQ, SINR, SIM) = _checked(
    "registered", "reg_state", "operator", "access_tech", "rssi_dbm", "rsrp_dbm", "rsrq_db", "sinr_db", "sim"
)


@dataclass
class RadioReading:
    """What one poll learnt; every part may be missing."""

    sim: str | None = None
    registrations: list[Registration] = field(default_factory=list)
    operator: OperatorInfo | None = None
    csq_rssi_dbm: float | None = None
    cesq: CesqSignal | None = None
    #: vendor reports, most precise first
    vendor: list[VendorSignal] = field(default_factory=list)

    def best_registration(self) -> Registration | None:
        if not self.registrations:
            return None
        return min(self.registrations, key=lambda r: _RANK.get(r.state, 4))


def _first(*values: float | None) -> float | None:
    return next((v for v in values if v is not None), None)


def modem_fields(reading: RadioReading) -> dict[str, FieldValue]:
    """The ``modem`` point's fields; an empty dict when nothing at all is known."""
    fields: dict[str, FieldValue] = {}
    registration = reading.best_registration()
    if registration is not None:
        fields[REGISTERED] = int(registration.registered)
        fields[REG_STATE] = registration.state
    vendor = [v for v in reading.vendor if v.service]
    in_service = bool(vendor) or not reading.vendor  # a vendor saying "no service" outweighs old AcT values
    tech = next((v.access_tech for v in vendor if v.access_tech), None)
    if tech is None and in_service:
        tech = access_tech_from_act(reading.operator.act if reading.operator else None)
        if tech is None and registration is not None and registration.registered:
            tech = access_tech_from_act(registration.act)
    if tech:
        fields[ACCESS_TECH] = tech
    if reading.operator is not None and reading.operator.name:
        fields[OPERATOR] = reading.operator.name
    elif registration is not None and registration.registered:
        numeric = next((v.operator for v in vendor if v.operator), None)
        if numeric:
            fields[OPERATOR] = numeric
    cesq = reading.cesq or CesqSignal()
    values = {
        RSSI: _first(*(v.rssi_dbm for v in vendor), reading.csq_rssi_dbm, cesq.rssi_dbm),
        RSRP: _first(*(v.rsrp_dbm for v in vendor), cesq.rsrp_dbm, cesq.ss_rsrp_dbm),
        RSRQ: _first(*(v.rsrq_db for v in vendor), cesq.rsrq_db, cesq.ss_rsrq_db),
        SINR: _first(*(v.sinr_db for v in vendor), cesq.ss_sinr_db),
    }
    fields.update({k: round(float(v), 2) for k, v in values.items() if v is not None})
    if reading.sim is not None:
        fields[SIM] = reading.sim
    return fields
