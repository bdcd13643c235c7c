"""The key registry through the API, and verification in the criteria answers: verified_pct, the verification
block, and the fourth verdict (unverified); without a registry nothing changes."""

from __future__ import annotations

import csv
import io
import logging
import time

import pytest
from signed_kit import GATEWAY, SITE, VILLAGE, Gateway, register_over_api, uplink_points
from srv_helpers import ADMIN, READ

from server.evidence import source
from server.evidence.source import HOUR_MS
from server.timeparse import iso
from thonminh.contract import Point, site_tags
from thonminh.lineprotocol import encode_line

NOW = int(time.time() * 1000)
T0 = NOW - NOW % HOUR_MS - 4 * HOUR_MS
HOURS = 3
WINDOW = {"start": iso(T0), "end": iso(T0 + HOURS * HOUR_MS)}


@pytest.fixture
def signed(influx, app_for, tmp_path):
    """A service with a key registry over a village whose gateway signs 3 hours of uplink and Wi-Fi samples."""
    api = app_for(influx, evidence={"registry": str(tmp_path / "keys.sqlite")})
    gw = Gateway()
    register_over_api(api, gw, valid_from_ms=T0 - HOUR_MS)
    influx.write(gw.sign(uplink_points(T0, HOURS)))
    return api, gw


def _criterion(api, cid: str) -> dict:
    body = api.get(f"/api/v1/villages/{VILLAGE}/criteria", params=WINDOW, headers=READ).json()
    return next(c for c in body["criteria"] if c["id"] == cid)


def test_registering_needs_an_admin_key_and_a_real_key(signed) -> None:
    api, gw = signed
    path = f"/api/v1/gateways/{GATEWAY}/keys"
    body = {"village": VILLAGE, "public_key": Gateway().public_key}
    assert api.post(path, json=body).status_code == 401
    assert api.post(path, json=body, headers=READ).status_code == 403
    bad = api.post(path, json={**body, "public_key": "AAAA"}, headers=ADMIN)
    assert bad.status_code == 422
    assert bad.json() == {
        "detail": "public_key: an Ed25519 public key is 32 bytes, this one 3",
        "parameter": "public_key",
    }
    again = api.post(path, json={**body, "public_key": gw.public_key}, headers=ADMIN)
    assert again.status_code == 409 and gw.fingerprint in again.json()["detail"]


def test_a_new_key_ends_the_previous_period_and_a_lost_gateway_is_retired(signed) -> None:
    api, gw = signed
    new = Gateway()
    at = iso(T0 + 90 * 60_000)
    added = api.post(
        f"/api/v1/gateways/{GATEWAY}/keys",
        headers=ADMIN,
        json={"village": VILLAGE, "public_key": new.public_key, "valid_from": at},
    )
    assert added.status_code == 201, added.text
    assert added.json()["registered_by"] == "officer-hoa" and added.json()["valid_until"] is None
    listed = api.get(f"/api/v1/gateways/{GATEWAY}/keys", headers=READ).json()["keys"]
    assert [(k["fingerprint"], k["valid_from"], k["valid_until"]) for k in listed] == [
        (gw.fingerprint, iso(T0 - HOUR_MS), at),
        (new.fingerprint, at, None),
    ]
    retired = api.post(
        f"/api/v1/gateways/{GATEWAY}/keys/{new.fingerprint}/retire",
        headers=ADMIN,
        json={"valid_until": iso(T0 + 2 * HOUR_MS)},
    )
    assert retired.status_code == 200 and retired.json()["valid_until"] == iso(T0 + 2 * HOUR_MS)
    longer = api.post(f"/api/v1/gateways/{GATEWAY}/keys/{new.fingerprint}/retire", headers=ADMIN, json={})
    assert longer.status_code == 409
    assert api.get("/api/v1/keys", params={"village": VILLAGE}, headers=READ).json()["keys"] == [
        *listed[:1],
        retired.json(),
    ]
    assert api.get("/api/v1/keys", params={"village": "elsewhere"}, headers=READ).json() == {"keys": []}


def test_an_unknown_gateway_or_key_is_a_404_that_says_so(signed) -> None:
    api, _ = signed
    answer = api.get("/api/v1/gateways/gw-none/keys", headers=READ)
    assert answer.status_code == 404 and answer.json()["detail"] == "gateway 'gw-none' has no registered key"
    retire = api.post(f"/api/v1/gateways/{GATEWAY}/keys/{'0' * 16}/retire", headers=ADMIN, json={})
    assert retire.status_code == 404 and "has no key 0000000000000000" in retire.json()["detail"]


def test_a_service_without_a_registry_says_so(influx, app_for) -> None:
    api = app_for(influx)
    answer = api.get("/api/v1/keys", headers=READ)
    assert answer.status_code == 404 and "[evidence] registry" in answer.json()["detail"]


def test_clean_signed_data_is_verified_in_every_verdicts_evidence(signed) -> None:
    api, gw = signed
    fiber = _criterion(api, "fiber_availability")
    assert fiber["verdict"] == "pass" and fiber["min_verified_pct"] == 99.0
    assert fiber["evidence"]["verified_pct"] == 100.0
    assert fiber["evidence"]["verification"] == {
        "status": "verified",
        "min_verified_pct": 99.0,
        "points": 180,
        "verified_points": 180,
        "keys": [
            {
                "gateway": GATEWAY,
                "village": VILLAGE,
                "fingerprint": gw.fingerprint,
                "valid_from": iso(T0 - HOUR_MS),
                "valid_until": None,
            }
        ],
        "faults": [],
        "faults_total": 0,
    }
    lights = _criterion(api, "street_lighting")
    assert lights["verdict"] == "insufficient_data" and lights["evidence"]["verified_pct"] is None
    assert lights["evidence"]["verification"]["status"] == "no_samples"
    eid = _criterion(api, "eid_adoption")
    # a manual indicator with no entry in the window: nothing signed to verify (test_indicator_signatures.py)
    assert eid["evidence"]["verification"]["status"] == "no_samples"


def test_unsigned_points_make_the_verdict_unverified_and_are_named(signed, influx) -> None:
    api, _ = signed
    forged = [
        Point("uplink", {**SITE, "link": "fiber"}, {"up": 1, "up_s": 60.0, "observed_s": 60.0}, t + 30_000)
        for t in range(T0 + HOUR_MS, T0 + HOUR_MS + 10 * 60_000, 60_000)
    ]
    influx.write([encode_line(p) for p in forged])
    fiber = _criterion(api, "fiber_availability")
    assert fiber["verdict"] == "unverified"
    assert fiber["evidence"]["verified_pct"] == pytest.approx(100 * 180 / 190)
    assert fiber["evidence"]["verification"]["faults"] == [
        {
            "kind": "unsigned",
            "gateway": GATEWAY,
            "start": iso(forged[0].time_ms),
            "end": iso(forged[-1].time_ms),
            "detail": "10 uplink point(s) of link=fiber without evidence_seq: written by no gateway's forwarder",
        }
    ]
    assert _criterion(api, "wifi_service")["verdict"] == "pass"  # its samples are all signed
    rollup = api.get("/api/v1/criteria", params=WINDOW, headers=READ).json()
    assert rollup["villages"][0]["verdicts"]["fiber_availability"]["verdict"] == "unverified"
    assert next(c for c in rollup["criteria"] if c["id"] == "fiber_availability")["counts"]["unverified"] == 1
    rows = list(
        csv.DictReader(
            io.StringIO(
                api.get(
                    f"/api/v1/villages/{VILLAGE}/criteria", params={**WINDOW, "format": "csv"}, headers=READ
                ).text
            )
        )
    )
    row = next(r for r in rows if r["criterion"] == "fiber_availability")
    assert (row["verdict"], row["verification"], round(float(row["verified_pct (%)"]), 3)) == (
        "unverified",
        "unverified",
        94.737,
    )


@pytest.mark.parametrize("what", ["batch", "point"])
def test_signed_data_deleted_makes_every_verdict_it_may_touch_unverified(signed, influx, what) -> None:
    """A deleted batch (its points and manifest) or point was a fault beside a verified verdict: the share is of
    the points left, 100 %, so deleting an outage's samples raised the availability with the verdict verified.
    A digest does not say which measurement its point was, so every figure of the village is held."""
    api, gw = signed
    gone = gw.manifests[3]
    if what == "batch":
        for measurement in ("uplink", "wifi"):  # not the manifests stamped in the span: the others' too
            influx.query(
                f"DELETE FROM {measurement} WHERE time >= {gone.first_ms}ms AND time <= {gone.last_ms}ms"
            )
        influx.query(f'DELETE FROM "evidence" WHERE time >= {gone.time_ms}ms AND time <= {gone.time_ms}ms')
    else:
        influx.query(f"DELETE FROM uplink WHERE time >= {gone.first_ms}ms AND time <= {gone.first_ms}ms")
    kind = {"batch": "missing_seq", "point": "deleted_point"}[what]
    for cid in ("fiber_availability", "wifi_service"):
        c = _criterion(api, cid)
        assert (c["verdict"], c["evidence"]["verified_pct"]) == ("unverified", 100.0), cid
        check = c["evidence"]["verification"]
        assert check["status"] == "unverified" and kind in {f["kind"] for f in check["faults"]}, check


def test_without_a_registry_the_same_data_keeps_its_verdict(influx, app_for) -> None:
    api = app_for(influx)
    influx.write([encode_line(p) for p in uplink_points(T0, HOURS)])
    fiber = _criterion(api, "fiber_availability")
    assert fiber["verdict"] == "pass"
    assert fiber["evidence"]["verified_pct"] is None
    assert fiber["evidence"]["verification"] == {
        "status": "not_configured",
        "min_verified_pct": 99.0,
        "points": 0,
        "verified_points": 0,
        "keys": [],
        "faults": [],
        "faults_total": 0,
    }


def test_a_registry_broken_under_the_service_is_a_503_that_says_so(signed, tmp_path, caplog) -> None:
    # the source of every verdict's trust: not mended, not passed by; said, and the operator told where
    api, _ = signed
    assert api.get("/api/v1/health", headers=READ).json()["evidence"] == {"ok": True, "keys": 1}
    (tmp_path / "keys.sqlite").write_bytes(b"not a database " * 100)
    health = api.get("/api/v1/health", headers=READ)
    assert health.status_code == 503 and health.json()["status"] == "unavailable"
    assert health.json()["evidence"] == {"ok": False, "error": "the gateways' key registry cannot be read"}
    for answer in (
        api.get(f"/api/v1/villages/{VILLAGE}/criteria", params=WINDOW, headers=READ),
        api.get(f"/api/v1/gateways/{GATEWAY}/keys", headers=READ),
        api.post(
            f"/api/v1/gateways/{GATEWAY}/keys",
            headers=ADMIN,
            json={"village": VILLAGE, "public_key": Gateway().public_key},
        ),
    ):
        assert answer.status_code == 503, answer.text
        assert "key registry cannot be read" in answer.json()["detail"]
        assert str(tmp_path) not in answer.text and answer.headers["Retry-After"] == "60"
    page = api.get(f"/pages/villages/{VILLAGE}", headers=READ)
    assert page.status_code == 503 and "Không đọc được sổ khóa của các gateway" in page.text
    said = [
        getattr(r, "error", "")
        for r in caplog.records
        if r.message.startswith("the key registry cannot be read: ")
    ]
    assert said and all(f"key registry {tmp_path / 'keys.sqlite'}: file is not a database" == e for e in said)


def test_a_village_the_verifier_fails_on_is_unverified_and_the_others_answered(
    signed, influx, monkeypatch, caplog
) -> None:
    """A fault of the verifier on one village's data (such as a manifest it could not read, found and fixed
    before) costs that village's verification, logged with its traceback: its figures are unverified with a
    fault that says so, and every other village, the province's roll-up and the rollups are still answered
    (before: the exception ended the roll-up of every village, and the rollup pass that writes Grafana's copy)."""
    api, _ = signed
    other = Gateway(site=site_tags("ban-ven", "gw-bv"))
    answer = api.post(
        "/api/v1/gateways/gw-bv/keys",
        headers=ADMIN,
        json={"village": "ban-ven", "public_key": other.public_key, "valid_from": iso(T0 - HOUR_MS)},
    )
    assert answer.status_code == 201, answer.text
    influx.write(other.sign(uplink_points(T0, HOURS, site=other.site)))
    real = source.verify_hour

    def failing(points, *args, **kwargs):  # type: ignore[no-untyped-def]
        if any(p.tags.get("village") == "ban-ven" for p in points):
            raise RuntimeError("a fault of the verifier")
        return real(points, *args, **kwargs)

    monkeypatch.setattr(source, "verify_hour", failing)
    with caplog.at_level(logging.ERROR):
        rollup = api.get("/api/v1/criteria", params=WINDOW, headers=READ)
        assert rollup.status_code == 200, rollup.text
        api.app.state.rollups.roll(T0, T0 + HOURS * HOUR_MS)  # writes Grafana's copy of the verification
    verdicts = {v["village"]: v["verdicts"]["fiber_availability"] for v in rollup.json()["villages"]}
    assert verdicts["kha-ly"]["verified_pct"] == 100.0
    assert (verdicts["ban-ven"]["verdict"], verdicts["ban-ven"]["verified_pct"]) == ("unverified", 0.0)
    body = api.get("/api/v1/villages/ban-ven/criteria", params=WINDOW, headers=READ).json()
    checked = next(c for c in body["criteria"] if c["id"] == "fiber_availability")["evidence"]["verification"]
    assert checked["status"] == "unverified"
    assert [f["kind"] for f in checked["faults"]] == ["verification_failed"]
    assert "'verification failed' in its log" in checked["faults"][0]["detail"]
    assert "RuntimeError: a fault of the verifier" in caplog.text  # the traceback, in the log only
