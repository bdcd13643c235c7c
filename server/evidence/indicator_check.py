"""Checking the manual indicators' signatures: each point the criteria service entered carries its key's
fingerprint and its signature (``server.evidence.service_key``); any other point was written around the API.

A point of ``indicator`` or ``indicator_entry`` verifies when its ``key`` is one of the service's registered
keys (village ``*``), its ``sig`` is that key's signature of the point's ``indicator_message``, and it was
entered within that key's period. The result of a village is a ``Verification``, as a gateway's hours give, so a
verdict weighs and shows it the same way: one fault per point that does not verify, at its time. The record's
own checks (a chain, and each entry against its point) are ``server.evidence.indicator_record``'s.
"""

from __future__ import annotations

import binascii
import threading
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field

from server.evidence.combine import Verification
from server.evidence.faults import Fault
from server.evidence.registry import KeyRecord, KeySnapshot
from server.evidence.selected import selections
from server.timeparse import iso
from thonminh.contract import FieldValue
from thonminh.evidence import INDICATOR_SIGNATURE, SERVICE_KEY_VILLAGE, indicator_message, message_id
from thonminh.evidencekeys import from_b64, signature_ok
from thonminh.influxresponse import StatementResult

__all__ = ["PointCheck", "Village", "check_point", "villages"]

_DETAIL = {
    "unsigned": "without the criteria service's signature: not entered through its API",
    "altered": "whose values differ from what the criteria service signed",
    "bad_signature": "whose signature is not one (not 64 bytes of base64)",
    "unregistered_key": "signed by key {key}, which is not one of the criteria service's registered keys",
    "expired_key": "entered at {entered}, outside the period of the service's key {key}",
}

#: (key, message, signature) -> whether the signature is the key's: the same entries are checked at every
#: evaluation (a province holds a few thousand); cleared when full
_checked: dict[tuple[str, bytes, bytes], bool] = {}
_checked_lock = threading.Lock()
_CHECKED_MAX = 50_000


@dataclass(frozen=True, slots=True)
class PointCheck:
    """A point's check: ``fault`` is None when it verifies; ``record`` is the key that signed it, if registered."""

    fault: str | None
    record: KeyRecord | None
    detail: str = ""
    #: the id of the point's signed message (``message_id``), when it verifies: what the next entry names
    id: str = ""


def _signature_ok(snapshot: KeySnapshot, record: KeyRecord, message: bytes, signature: bytes) -> bool:
    memo = (record.fingerprint, message, signature)
    found = _checked.get(memo)
    if found is None:
        found = signature_ok(snapshot.public[(record.gateway, record.fingerprint)], message, signature)
        with _checked_lock:
            if len(_checked) >= _CHECKED_MAX:
                _checked.clear()
            _checked[memo] = found
    return found


def check_point(
    snapshot: KeySnapshot,
    measurement: str,
    tags: Mapping[str, str | None],
    fields: Mapping[str, FieldValue | None],
    time_ms: int,
) -> PointCheck:
    """Whether one point of a manual indicator is as the service signed it, and if not, why."""
    key, sig = fields.get("key"), fields.get(INDICATOR_SIGNATURE)
    if not isinstance(key, str) or not isinstance(sig, str) or not key or not sig:
        return PointCheck("unsigned", None, _DETAIL["unsigned"])
    record = snapshot.of_village(SERVICE_KEY_VILLAGE).get(key)
    if record is None:
        return PointCheck("unregistered_key", None, _DETAIL["unregistered_key"].format(key=key))
    try:
        signature = from_b64(sig, "sig")
    except (ValueError, binascii.Error):
        signature = b""
    if len(signature) != 64:
        return PointCheck("bad_signature", record, _DETAIL["bad_signature"])
    message = indicator_message(measurement, tags, fields, time_ms)
    if not _signature_ok(snapshot, record, message, signature):
        return PointCheck("altered", record, _DETAIL["altered"])
    entered = fields.get("entered_ms", time_ms)
    entered_ms = (
        int(entered) if isinstance(entered, int | float) and not isinstance(entered, bool) else time_ms
    )
    if not record.covers(entered_ms):
        detail = _DETAIL["expired_key"].format(entered=iso(entered_ms), key=key)
        return PointCheck("expired_key", record, detail)
    return PointCheck(None, record, id=message_id(message))


def villages(result: StatementResult, snapshot: KeySnapshot) -> dict[str, Village]:
    """Each village's points of ``result`` checked: counts, faults, keys, and what stands at each time."""
    found_by: dict[str, Village] = defaultdict(Village)
    for series in result.series:
        measurement, tags = series.name, series.tags
        found = found_by[tags.get("village") or ""]
        selected = tuple(selections(measurement, tags))
        for row in series.rows():
            time_ms = int(row.pop("time"))
            check = check_point(snapshot, measurement, tags, row, time_ms)
            found.count(measurement, selected, check.fault is None)
            entered = row.get("entered_ms")
            found.at[(tags.get("indicator") or "", time_ms)] = (check.fault is None, entered)
            if check.fault is None and check.record is not None:
                found.keys.add((check.record.gateway, check.record.fingerprint))
            elif check.fault is not None:
                found.fault(
                    check.fault,
                    tags.get("gateway") or "",
                    time_ms,
                    time_ms,
                    check.detail,
                    measurement,
                    selected,
                )
    return found_by


@dataclass
class Village:
    """A village's checked indicator points, as they add up."""

    counts: dict[str, list[int]] = field(default_factory=lambda: defaultdict(lambda: [0, 0]))
    selected: dict[str, list[int]] = field(default_factory=lambda: defaultdict(lambda: [0, 0]))
    faults: list[Fault] = field(default_factory=list)
    keys: set[tuple[str, str]] = field(default_factory=set)
    #: (indicator, time) -> (whether the point there verifies, its ``entered_ms``)
    at: dict[tuple[str, int], tuple[bool, object]] = field(default_factory=dict)

    def count(self, measurement: str, selected: tuple[str, ...], verified: bool) -> None:
        self._add(measurement, selected, 1, int(verified))

    def missing(self, measurement: str, selected: tuple[str, ...], count: int) -> None:
        """Points the record says should be there and are not: counted, none verified."""
        self._add(measurement, selected, count, 0)

    def unverify(self, measurement: str, selected: tuple[str, ...]) -> None:
        """A point counted as verified that the record shows is not the one it should be."""
        self._add(measurement, selected, 0, -1)

    def _add(self, measurement: str, selected: tuple[str, ...], points: int, verified: int) -> None:
        for counts, name in ((self.counts, measurement), *((self.selected, s) for s in selected)):
            counts[name][0] += points
            counts[name][1] += verified

    def fault(
        self,
        kind: str,
        gateway: str,
        start_ms: int,
        end_ms: int,
        detail: str,
        measurement: str,
        selected: tuple[str, ...],
        count: int = 1,
    ) -> None:
        of = ", ".join(s.removeprefix(f"{measurement} ") for s in selected)
        points = f"{count} {measurement} point{'s' if count != 1 else ''}{' of ' + of if of else ''}"
        self.faults.append(
            Fault(
                kind,
                gateway,
                start_ms,
                end_ms,
                f"{points} {detail}",
                (measurement,),
                count,
                selections=selected,
            )
        )

    def verification(self) -> Verification:
        return Verification(
            {m: (n[0], n[1]) for m, n in self.counts.items()},
            tuple(sorted(self.faults, key=lambda f: f.start_ms)),
            frozenset(self.keys),
            selected={k: (n[0], n[1]) for k, n in self.selected.items()},
        )
