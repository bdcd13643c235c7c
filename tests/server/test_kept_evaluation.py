"""A restart answers the roll-ups at once with the evaluation kept from before it, while the first one of the
new process is made (every village's kept hours added up again: half an hour for a province), instead of 503."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from signed_kit import Gateway, uplink_points
from srv_helpers import ADMIN, READ, make_config

from server import verdicts
from server.app import create_app
from server.evidence.source import HOUR_MS
from server.kept_evaluation import MAX_AGE_MS
from server.timeparse import iso
from thonminh.contract import site_tags
from thonminh.criteria import CriteriaSet, load_criteria
from thonminh.influx import InfluxClient

NOW_MS = int(time.time() * 1000)
HOUR = NOW_MS - NOW_MS % HOUR_MS
T0 = HOUR - 4 * HOUR_MS


def _app(
    influx: InfluxClient, tmp_path: Path, now_ms: int = NOW_MS, criteria: CriteriaSet | None = None
) -> TestClient:
    config = make_config(
        influx.url,
        influx.database or "",
        evidence={"registry": str(tmp_path / "keys.sqlite"), "results": str(tmp_path / "results.sqlite")},
    )
    return TestClient(create_app(config, criteria=criteria, clock=lambda: now_ms / 1000))


def _rollup(api: TestClient) -> httpx.Response:
    return api.get("/api/v1/criteria", headers=READ)


@pytest.fixture
def evaluated(influx: InfluxClient, tmp_path: Path) -> httpx.Response:
    """A service that signed data was verified by, and made its default evaluation; what its roll-up said."""
    with _app(influx, tmp_path) as api:
        for village, gateway in (("kha-ly", "gw-kly"), ("ban-ven", "gw-bv")):
            gw = Gateway(site=site_tags(village, gateway))
            answer = api.post(
                f"/api/v1/gateways/{gateway}/keys",
                headers=ADMIN,
                json={"village": village, "public_key": gw.public_key, "valid_from": iso(T0 - HOUR_MS)},
            )
            assert answer.status_code == 201, answer.text
            influx.write(gw.sign(uplink_points(T0, 4, site=gw.site)))
        verdicts.default_evaluation(api.app.state.service, wait=True)  # type: ignore[attr-defined]
        answer = _rollup(api)
        assert answer.status_code == 200, answer.text
        return answer


@contextmanager
def _first_evaluation_under_way(api: TestClient, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The new process's first evaluation started, as keep_warm starts it, and held until the block ends."""
    monkeypatch.setattr(verdicts, "FIRST_EVALUATION_WAIT_S", 0.5)
    service = api.app.state.service  # type: ignore[attr-defined]
    release, started = threading.Event(), threading.Event()
    verify = service.verifier.verify

    def held(*args, **kwargs):  # type: ignore[no-untyped-def]
        started.set()
        release.wait(30)
        return verify(*args, **kwargs)

    monkeypatch.setattr(service.verifier, "verify", held)
    first = threading.Thread(target=verdicts.default_evaluation, args=(service,), kwargs={"wait": True})
    first.start()
    assert started.wait(10)
    try:
        yield
    finally:
        release.set()
        first.join(30)


def test_a_restart_answers_with_the_kept_evaluation_while_it_makes_its_own(
    influx: InfluxClient, tmp_path: Path, evaluated, monkeypatch
) -> None:
    fiber = {v["village"]: v["verdicts"]["fiber_availability"] for v in evaluated.json()["villages"]}
    assert fiber["kha-ly"]["verified_pct"] == fiber["ban-ven"]["verified_pct"] == 100.0
    with _app(influx, tmp_path) as api:
        with _first_evaluation_under_way(api, monkeypatch):
            assert _rollup(api).json() == evaluated.json()  # before: 503, the first evaluation being made
        assert _rollup(api).json() == evaluated.json()  # its own, now


@pytest.mark.parametrize("kept", ["too old", "unreadable", "other criteria"])
def test_a_kept_evaluation_too_old_or_unreadable_is_not_used(
    influx: InfluxClient, tmp_path: Path, evaluated, monkeypatch, kept: str
) -> None:
    path = tmp_path / "results-evaluation.json"
    now_ms, criteria = NOW_MS, None
    if kept == "too old":
        now_ms = json.loads(path.read_text())["hour_ms"] + MAX_AGE_MS + HOUR_MS
    elif kept == "unreadable":
        path.write_text('{"version": 1, "hour_ms": ')
    else:  # the fiber threshold raised since: the kept verdicts were judged by another
        data = load_criteria().model_dump()
        data["criteria"][0]["threshold"] += 0.5
        criteria = CriteriaSet.model_validate(data)
    with _app(influx, tmp_path, now_ms, criteria) as api, _first_evaluation_under_way(api, monkeypatch):
        assert _rollup(api).status_code == 503  # says it is still making its first, as without a kept one
