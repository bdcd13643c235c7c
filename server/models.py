"""Response and request bodies: what the OpenAPI schema shows and what the CSV exports flatten."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from thonminh.criteria import VERDICTS

__all__ = [
    "AvailabilityOut",
    "CriteriaRollupOut",
    "CriterionVerdictOut",
    "EvidenceOut",
    "FaultOut",
    "KeyPeriodOut",
    "HealthOut",
    "LightingOut",
    "ModemOut",
    "OutagesOut",
    "UptimeOut",
    "VillageCriteriaOut",
    "VerificationOut",
    "VillagesOut",
    "WifiOut",
    "WindowOut",
]

Counts = dict[str, int]


class ErrorOut(BaseModel):
    """Every answer other than 2xx (but a 503 from /health)."""

    detail: str = Field(description="what was wrong, naming the parameter and echoing the input as given")
    parameter: str | None = Field(None, description="the parameter to blame, when one is")


class WindowOut(BaseModel):
    start: str
    end: str
    seconds: float
    timezone: str = Field(description="time zone of day and week boundaries")


class AvailabilityOut(BaseModel):
    availability_pct: float | None = Field(description="up / observed, percent; null without samples")
    up_s: float
    down_s: float
    unknown_s: float = Field(description="window time without samples: neither up nor down")
    observed_s: float
    coverage: float = Field(description="observed / window, 0..1")
    samples: int
    min_coverage: float = Field(
        description="the coverage a verdict on this availability needs (criteria.yaml)"
    )
    enough_data: bool = Field(
        description="false when coverage is under min_coverage: the availability stands "
        "on too little data to be read as the link's (a verdict would be "
        "insufficient_data)"
    )


class UptimeStep(AvailabilityOut):
    start: str
    end: str


class LinkUptime(AvailabilityOut):
    link: str
    steps: list[UptimeStep] | None = None


class UptimeOut(BaseModel):
    village: str
    window: WindowOut
    step: str | None
    links: list[LinkUptime]
    queries: list[str]


class OutageOut(BaseModel):
    link: str
    start: str
    end: str | None = Field(description="null while the outage is still open at the end of the window")
    open: bool
    started_before_window: bool
    duration_s: float = Field(description="start to end, or to the window's end while open")
    in_window_s: float
    reason: str


class LinkReliability(BaseModel):
    link: str
    failures: int = Field(description="outages that started inside the window")
    restored: int
    downtime_s: float
    mtbf_s: float | None = Field(
        description="observed up time (sum of up_s) / failures: time without data counts neither way"
    )
    mttr_s: float | None = Field(description="mean duration of the outages restored inside the window")


class OutagesOut(BaseModel):
    village: str
    window: WindowOut
    outages: list[OutageOut]
    links: list[LinkReliability]
    queries: list[str]


class WifiServiceOut(BaseModel):
    ap: str | None = None
    availability_pct: float | None
    basis: str = Field(description="opening_hours when the AP reports open_s, else all_hours")
    up_s: float
    observed_s: float
    open_s: float
    up_open_s: float
    coverage: float
    samples: int


class WifiUseOut(BaseModel):
    days: list[dict[str, Any]]
    weeks: list[dict[str, Any]]
    mean_daily_users: float | None
    days_with_data: int
    coverage: float


class WifiOut(BaseModel):
    village: str
    window: WindowOut
    service: WifiServiceOut
    access_points: list[WifiServiceOut]
    use: WifiUseOut
    queries: list[str]


class LightOut(BaseModel):
    light: str
    zone: str
    availability_pct: float | None
    expected_on_s: float
    lit_when_expected_s: float
    ok_pct: float | None
    coverage: float
    samples: int
    fault: str | None
    online: bool | None


class LightingOut(BaseModel):
    village: str
    window: WindowOut
    availability_pct: float | None
    expected_on_s: float
    lit_when_expected_s: float
    coverage: float
    samples: int
    lights: list[LightOut]
    by_fault: dict[str, list[str]]
    fault_window: WindowOut = Field(description="faults are each light's last report in this window")
    queries: list[str]


class ModemOut(BaseModel):
    village: str
    window: WindowOut
    registered_pct: float | None
    rsrp_share_pct: dict[str, float | None] = Field(description="share of RSRP readings >= key dBm")
    coverage: float = Field(description="hours with readings / window hours")
    samples: int
    hours_with_data: int
    medians: list[dict[str, Any]]
    queries: list[str]


Verdict = Literal[VERDICTS]  # type: ignore[valid-type]


class KeyPeriodOut(BaseModel):
    gateway: str
    village: str = Field(
        description="its village; '*': the criteria service's own key, which signs manual indicators"
    )
    fingerprint: str
    valid_from: str
    valid_until: str | None = Field(description="null: the gateway's current key")


class FaultOut(BaseModel):
    kind: str = Field(
        description="unsigned, no_manifest, altered, injected, deleted_point, replayed, missing_seq, "
        "broken_chain, unregistered_key, expired_key, bad_signature, malformed_manifest, verification_failed "
        "or rollup_altered"
    )
    gateway: str
    start: str = Field(description="the first time concerned")
    end: str = Field(description="the last time concerned (equal to start for a single point)")
    detail: str


class VerificationOut(BaseModel):
    status: Literal["verified", "unverified", "not_configured", "no_samples", "not_signed"] = Field(
        description="verified: verified_pct reaches min_verified_pct (100 without one); not_configured: no key "
        "registry; no_samples: no signed sample in the window; not_signed: an older kept evaluation's indicator"
    )
    min_verified_pct: float | None
    points: int = Field(
        description="the figure's samples (points of its measurement, of its link or access point) in the UTC "
        "hours that the samples its value reads touch: the window's; Wi-Fi users per day from the local midnight "
        "of the window's first day"
    )
    verified_points: int = Field(description="of those, covered by a valid manifest")
    keys: list[KeyPeriodOut] = Field(description="the registered keys that signed them")
    faults: list[FaultOut] = Field(description="at most 20, oldest first")
    faults_total: int


class EvidenceOut(BaseModel):
    value: float | None
    unit: str
    coverage: float
    samples: int
    window: WindowOut
    window_rule: str = Field(
        description="how the window was chosen; every window includes its start and excludes its end"
    )
    queries: list[str]
    detail: dict[str, Any] = Field(default_factory=dict)
    verified_pct: float | None = Field(
        description="percent of the figure's samples covered by valid signed "
        "manifests (docs/evidence.md); null without samples or without "
        "a key registry"
    )
    verification: VerificationOut


class Title(BaseModel):
    vi: str
    en: str


class CriterionOut(BaseModel):
    id: str
    title: Title
    figure: str
    params: dict[str, Any]
    comparator: str
    threshold: float
    unit: str
    min_coverage: float
    min_verified_pct: float | None = Field(None, description="under it a verdict with a value is unverified")
    window: str


class CriterionVerdictOut(CriterionOut):
    verdict: Verdict
    evidence: EvidenceOut


class VillageCriteriaOut(BaseModel):
    village: str
    window_rule: str = Field(
        description="'request': start/end given; 'criterion': each criterion's own window"
    )
    timezone: str
    criteria: list[CriterionVerdictOut]
    counts: Counts


class RollupCriterionOut(CriterionOut):
    counts: Counts
    windows: list[WindowOut]
    queries: list[str]


class RollupVerdict(BaseModel):
    verdict: Verdict
    value: float | None
    coverage: float
    samples: int
    verified_pct: float | None = None


class RollupVillageOut(BaseModel):
    village: str
    gateway: str | None = None
    commune: str | None = None
    district: str | None = None
    province: str | None = None
    verdicts: dict[str, RollupVerdict]


class CriteriaRollupOut(BaseModel):
    filter: dict[str, str | None]
    window_rule: str
    timezone: str
    criteria: list[RollupCriterionOut]
    villages: list[RollupVillageOut]


class VillageOut(BaseModel):
    village: str
    gateway: str | None
    commune: str | None
    district: str | None
    province: str | None
    last_seen: str
    last_seen_precision: str = Field(
        description="sample: the last sample's time; hour/day: the end of the last "
        "rolled-up hour or UTC day with samples"
    )


class VillagesOut(BaseModel):
    window: WindowOut
    villages: list[VillageOut]
    queries: list[str]


class HealthOut(BaseModel):
    """Without a key: the status and version only; with a read key also the service's settings, its InfluxDB
    (address included) and the rollups. No answer names an address to a stranger."""

    status: str
    version: str
    auth: str | None = None
    timezone: str | None = None
    influxdb: dict[str, Any] | None = None
    rollups: dict[str, Any] | None = None
    #: the key registry, when verification is configured: ``ok``, and the keys registered or the error
    evidence: dict[str, Any] | None = None
