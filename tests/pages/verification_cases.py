"""Verification answers as the API gives them (JSON), for the page and dossier tests of how they are shown:
a village whose fiber point was altered and whose batch went missing, and a service without a key registry."""

from __future__ import annotations

from typing import Any

FINGERPRINT = "3f2a9c4107be55d0"
OLD_FINGERPRINT = "0123456789abcdef"
SERVICE_FINGERPRINT = "8c07d2a14f9e0b36"
ALTERED = {
    "kind": "altered",
    "gateway": "gw-kly",
    "start": "2025-03-05T03:00:00Z",
    "end": "2025-03-05T03:00:00Z",
    "detail": "uplink link=fiber: value differs from the signed digest",
}
MISSING = {
    "kind": "missing_seq",
    "gateway": "gw-kly",
    "start": "2025-03-06T10:00:00Z",
    "end": "2025-03-06T10:05:00Z",
    "detail": "batch 0:118 absent",
}
KEYS = [
    {
        "gateway": "gw-kly",
        "fingerprint": OLD_FINGERPRINT,
        "valid_from": "2025-01-01T00:00:00Z",
        "valid_until": "2025-03-04T00:00:00Z",
    },
    {
        "gateway": "gw-kly",
        "fingerprint": FINGERPRINT,
        "valid_from": "2025-03-04T00:00:00Z",
        "valid_until": None,
    },
]
#: the criteria service's own key, which signs manual indicators (village ``*``)
SERVICE_KEY = {
    "gateway": "manual",
    "village": "*",
    "fingerprint": SERVICE_FINGERPRINT,
    "valid_from": "2025-02-01T00:00:00Z",
    "valid_until": None,
}


def _criterion(
    cid: str,
    vi: str,
    en: str,
    verified_pct: float | None,
    check: dict[str, Any],
    verdict: str = "pass",
    figure: str = "uplink.availability",
) -> dict[str, Any]:
    return {
        "id": cid,
        "title": {"vi": vi, "en": en},
        "figure": figure,
        "verdict": verdict,
        "evidence": {"verified_pct": verified_pct, "verification": check},
    }


def check(
    status: str,
    points: int,
    verified: int,
    faults: list[dict[str, Any]] | None = None,
    minimum: float | None = 99.0,
    keys: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    return {
        "status": status,
        "min_verified_pct": minimum,
        "points": points,
        "verified_points": verified,
        "keys": KEYS if keys is None else keys,
        "faults": faults or [],
        "faults_total": len(faults or []),
    }


def tampered() -> list[dict[str, Any]]:
    """Fiber 98.5 % verified (an altered point, a missing batch: unverified), Wi-Fi all verified, street lights
    with no sample in the window, an indicator entered through the API (signed by the service's key)."""
    return [
        _criterion(
            "fiber_availability",
            "Cáp quang hoạt động",
            "Fiber availability",
            98.5,
            check("unverified", 200, 197, [ALTERED, MISSING]),
            verdict="unverified",
        ),
        _criterion(
            "wifi_service",
            "Wi-Fi công cộng hoạt động",
            "Public Wi-Fi service",
            100.0,
            check("verified", 100, 100, [ALTERED]),
            figure="wifi.service",
        ),
        _criterion(
            "street_lighting",
            "Đèn chiếu sáng",
            "Street lighting",
            None,
            check("no_samples", 0, 0, keys=[]),
            figure="lighting.availability",
        ),
        _criterion(
            "eid",
            "Định danh điện tử",
            "e-ID adoption",
            100.0,
            check("verified", 1, 1, keys=[SERVICE_KEY]),
            figure="indicator.value",
        ),
    ]


def kept_unsigned() -> list[dict[str, Any]]:
    """``tampered`` as a version that did not sign manual indicators kept it: the indicator ``not_signed``."""
    kept = tampered()
    kept[-1]["evidence"] = {"verified_pct": None, "verification": check("not_signed", 0, 0, keys=[])}
    return kept


def not_configured() -> list[dict[str, Any]]:
    return [
        _criterion(
            "fiber_availability",
            "Cáp quang hoạt động",
            "Fiber availability",
            None,
            check("not_configured", 0, 0, minimum=None, keys=[]),
        )
    ]


def deleted_batch() -> list[dict[str, Any]]:
    """Fiber at 100 % of the points left but ``unverified``: a batch was deleted (a number skipped)."""
    gap = {**MISSING, "detail": "manifests 118..118 of epoch 0 are missing: 1 batch(es) deleted"}
    fiber = tampered()[0]
    fiber["evidence"] = {"verified_pct": 100.0, "verification": check("unverified", 200, 200, [gap])}
    return [fiber]
