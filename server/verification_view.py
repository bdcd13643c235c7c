"""What the pages and the dossier show of a village's verification: one summary of its verdicts' evidence.

Every verdict's evidence carries ``verified_pct`` and ``verification`` (the service's own results, the API's
objects); a page or a dossier shows them for the village as a whole, so this module only gathers them: the
lowest verified share of any criterion (a village is as verified as its weakest figure), the keys and the
faults once each (several criteria read the same points, so the same fault shows in each of their answers).
Nothing here verifies anything: that is ``server.evidence``'s.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from server.evidence.share import below_minimum
from thonminh.evidence import SERVICE_KEY_VILLAGE
from thonminh.evidencekeys import grouped

__all__ = ["CriterionVerified", "FaultShown", "KeyShown", "VerificationSummary", "summarise"]

#: the statuses the evidence can have, the worst first: the village's status is its worst criterion's
_WORST_FIRST = ("unverified", "verified", "no_samples", "not_signed", "not_configured")


@dataclass(frozen=True, slots=True)
class KeyShown:
    gateway: str
    fingerprint: str
    valid_from: str | None
    #: None: the gateway's current key, open-ended
    valid_until: str | None
    #: ``*``: the criteria service's own key, which signs manual indicators (None in an older kept evaluation)
    village: str | None = None

    @property
    def of_service(self) -> bool:
        return self.village == SERVICE_KEY_VILLAGE

    @property
    def grouped(self) -> str:
        return grouped(self.fingerprint)


@dataclass(frozen=True, slots=True)
class FaultShown:
    kind: str
    gateway: str
    start: str
    end: str
    detail: str


@dataclass(frozen=True, slots=True)
class CriterionVerified:
    id: str
    title_vi: str
    title_en: str
    status: str
    verified_pct: float | None
    points: int
    verified_points: int
    #: False for a manual indicator in an evaluation kept by a version that did not sign them: nothing was
    #: verified, which is not the same as a figure without samples
    signed: bool = True


@dataclass(frozen=True, slots=True)
class VerificationSummary:
    """The village's verification over the window of its verdicts."""

    #: ``verified``, ``unverified``, ``no_samples``, ``not_signed`` (manual indicators alone) or
    #: ``not_configured`` (no key registry at the service)
    status: str
    #: the lowest verified share of the criteria that have samples; None without any
    verified_pct: float | None
    min_verified_pct: float | None
    criteria: list[CriterionVerified]
    keys: list[KeyShown]
    faults: list[FaultShown]
    #: faults found, also those the answers left out (each answer lists a bounded number)
    faults_total: int

    @property
    def configured(self) -> bool:
        return self.status != "not_configured"

    @property
    def held_whatever_share(self) -> bool:
        """Some criterion is unverified though its share reaches the minimum: signed data was changed, deleted or
        written around the signatures, or forged rollup rows are still read (its faults say which), which a reader
        of "99,9 %" cannot guess."""
        return any(
            c.status == "unverified"
            and c.verified_pct is not None
            and not below_minimum(c.verified_pct, self.min_verified_pct)
            for c in self.criteria
        )

    @property
    def faults_left_out(self) -> int:
        return max(0, self.faults_total - len(self.faults))


def _field(obj: Any, name: str) -> Any:
    # the service's pydantic objects, or the same answer read back as JSON (the demo's report)
    return obj.get(name) if isinstance(obj, dict) else getattr(obj, name)


def summarise(criteria: Iterable[Any]) -> VerificationSummary:
    """The summary of a village's verdicts (``CriterionVerdictOut``s, or their JSON)."""
    rows: list[CriterionVerified] = []
    keys: dict[tuple[str, str], KeyShown] = {}
    faults: dict[tuple[str, str, str, str, str], FaultShown] = {}
    statuses: set[str] = set()
    minimum: float | None = None
    total = 0
    for c in criteria:
        ev = _field(c, "evidence")
        check = _field(ev, "verification")
        title = _field(c, "title")
        status = str(_field(check, "status"))
        statuses.add(status)
        rows.append(
            CriterionVerified(
                str(_field(c, "id")),
                str(_field(title, "vi")),
                str(_field(title, "en")),
                status,
                _field(ev, "verified_pct"),
                int(_field(check, "points")),
                int(_field(check, "verified_points")),
                # an evaluation kept by a version before the service signed manual indicators
                # (server.kept_evaluation) says ``not_signed`` of them
                status != "not_signed",
            )
        )
        level = _field(check, "min_verified_pct")
        if level is not None:
            minimum = level if minimum is None else max(minimum, level)
        for k in _field(check, "keys"):
            shown = KeyShown(
                *(_field(k, n) for n in ("gateway", "fingerprint", "valid_from", "valid_until", "village"))
            )
            keys.setdefault((shown.gateway, shown.fingerprint), shown)
        for f in _field(check, "faults"):
            fault = FaultShown(
                *(str(_field(f, n) or "") for n in ("kind", "gateway", "start", "end", "detail"))
            )
            faults.setdefault((fault.kind, fault.gateway, fault.start, fault.end, fault.detail), fault)
        total = max(total, int(_field(check, "faults_total")))
    status = next((s for s in _WORST_FIRST if s in statuses), "not_configured")
    shares = [r.verified_pct for r in rows if r.verified_pct is not None]
    return VerificationSummary(
        status,
        min(shares) if shares else None,
        minimum,
        rows,
        sorted(keys.values(), key=lambda k: (k.gateway, k.valid_from or "")),
        sorted(faults.values(), key=lambda f: (f.start, f.kind, f.gateway)),
        max(total, len(faults)),
    )
