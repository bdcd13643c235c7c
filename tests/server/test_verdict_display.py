"""Grafana's copy of the verdicts (server/verdict_display.py): what the service publishes, on a real InfluxDB.

The dashboards' side (the panels and alert rules that read it) is tested in tests/dashboards/.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import srv_scenario as scenario
from fastapi.testclient import TestClient
from influxkit import scratch_database
from signed_kit import Gateway, uplink_points
from srv_helpers import ADMIN, READ, make_config

from lab.localservices import InfluxDBServer
from server.app import create_app
from server.catalog import Evidence
from server.criteria import Verdict
from server.evidence.share import not_configured
from server.timeparse import Window, iso
from server.verdict_display import verdict_points, write_verdicts
from server.verdicts import keep_warm, publish, reverify
from thonminh.contract import CRITERION_VERDICT, VERIFICATION_RP
from thonminh.criteria import CriteriaSet, Criterion, load_criteria
from thonminh.influx import InfluxClient

#: the scenario's window ends there; the service's clock a few minutes after, so its default windows end there
END = scenario.W_END
CLOCK = (END + 5 * scenario.M) / 1000
COPY = f'"{VERIFICATION_RP}"."{CRITERION_VERDICT.name}"'
#: the shipped criteria over the scenario's two days, so that their verdicts are decided
SHORT = CriteriaSet(
    criteria=[
        Criterion.model_validate({**c.model_dump(), "window": "2d", "min_coverage": 0.5})
        for c in load_criteria().criteria
    ]
)


def _copy(client: InfluxClient) -> dict[tuple[str, str], dict[str, Any]]:
    rows = client.select(f"SELECT * FROM {COPY} GROUP BY village, criterion").series
    return {
        (s.tags["village"], s.tags["criterion"]): dict(zip(s.columns, s.values[-1], strict=True))
        for s in rows
    }


def test_publish_writes_what_the_api_answers(seeded: InfluxClient) -> None:
    config = make_config(
        seeded.url, seeded.database or "", villages={"kha-ly-thuong": {"name": "Khả Lý Thượng"}}
    )
    with TestClient(create_app(config, criteria=SHORT, clock=lambda: CLOCK)) as api:
        publish(api.app.state.service)  # type: ignore[attr-defined]
        copy = _copy(seeded)
        _holds_the_answers(api, copy)
    # Grafana's province table names each village as server.toml does, else by its slug
    assert {v: f["village_name"] for (v, _), f in copy.items()} == {
        "kha-ly-thuong": "Khả Lý Thượng",
        "ban-ven": "ban-ven",
        "lang-moi": "lang-moi",
        "xa-khac": "xa-khac",
    }


def _holds_the_answers(api: TestClient, copy: dict[tuple[str, str], dict[str, Any]]) -> None:
    villages = {r["village"] for r in api.get("/api/v1/villages", headers=READ).json()["villages"]}
    assert len(copy) == len(villages) * len(SHORT.criteria) > 0
    verdicts = set()
    for village in villages:
        answer = api.get(f"/api/v1/villages/{village}/criteria", headers=READ).json()
        for c in answer["criteria"]:
            shown, evidence = copy[(village, c["id"])], c["evidence"]
            assert shown["time"] == END  # stamped at the windows' end
            assert shown["verdict"] == c["verdict"], (village, c["id"])
            assert shown["coverage"] == pytest.approx(evidence["coverage"])
            assert shown.get("value") == (
                None if evidence["value"] is None else pytest.approx(evidence["value"])
            )
            assert shown.get("verified_pct") is None  # no key registry: nothing is known, nothing written
            verdicts.add(c["verdict"])
    assert {"pass", "fail", "insufficient_data"} <= verdicts


def test_the_hourly_loop_publishes(seeded: InfluxClient, app_for: Callable[..., Any]) -> None:
    """``keep_warm``, the service's background thread, writes the copy (not only a request's evaluation)."""
    api = app_for(seeded, clock=lambda: CLOCK + 3600)
    stop = threading.Event()
    thread = threading.Thread(target=keep_warm, args=(api.app.state.service, stop), daemon=True)  # type: ignore[attr-defined]
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while not any(v.get("time") == END + scenario.H for v in _copy(seeded).values()):
            assert time.monotonic() < deadline, "keep_warm published nothing"
            time.sleep(0.2)
    finally:
        stop.set()
        thread.join(timeout=10)


class CopyCounting(InfluxClient):
    """The service's real client, counting the writes of the verdict copy that pass through it."""

    copies = 0

    def write(self, lines, **kwargs):  # type: ignore[no-untyped-def]
        if not isinstance(lines, str | bytes):
            lines = list(lines)
            self.copies += any(line.startswith(CRITERION_VERDICT.name + ",") for line in lines)
        return super().write(lines, **kwargs)


def test_keep_warm_does_not_write_again_what_the_sweep_just_published(seeded: InfluxClient) -> None:
    """The sweep publishes at once when it finds an hour changed; ``keep_warm``'s next look finds that very
    evaluation and writes nothing (it used to write the copy a second time within the minute). The next hour's
    evaluation it writes."""
    client = CopyCounting(seeded.url, database=seeded.database, timeout=10)
    config = make_config(seeded.url, seeded.database or "")
    now = [CLOCK]
    with TestClient(create_app(config, criteria=SHORT, clock=lambda: now[0], client=client)) as api:
        service = api.app.state.service  # type: ignore[attr-defined]
        publish(service)  # as reverify_pass does
        assert client.copies == 1
        stop = threading.Event()
        thread = threading.Thread(target=keep_warm, args=(service, stop), kwargs={"every_s": 0.05})
        thread.start()
        try:
            time.sleep(1)  # twenty looks
            assert client.copies == 1
            now[0] += 3600
            deadline = time.monotonic() + 20
            while client.copies < 2:
                assert time.monotonic() < deadline, "keep_warm did not publish the next hour's evaluation"
                time.sleep(0.05)
        finally:
            stop.set()
            thread.join(timeout=10)


def test_a_key_registered_within_the_hour_is_published_at_once(
    influxdb: InfluxDBServer, tmp_path: Path
) -> None:
    """An officer registers a gateway's key: the API's verdicts change at once, and so does Grafana's copy,
    within ``keep_warm``'s look (not at the next hour). Fiber over the 3 signed hours before the clock's hour."""
    hour = END
    fiber = next(c for c in load_criteria().criteria if c.id == "fiber_availability")
    criteria = CriteriaSet(criteria=[Criterion.model_validate({**fiber.model_dump(), "window": "3h"})])
    gw = Gateway(site=dict(scenario.A))
    with scratch_database(influxdb, "keys_published") as db:
        db.write(gw.sign(uplink_points(hour - 3 * scenario.H, 3, site=dict(scenario.A))))
        config = make_config(db.url, db.database or "", evidence={"registry": str(tmp_path / "keys.sqlite")})
        with TestClient(create_app(config, criteria=criteria, clock=lambda: CLOCK)) as api:
            stop = threading.Event()
            service = api.app.state.service  # type: ignore[attr-defined]
            thread = threading.Thread(target=keep_warm, args=(service, stop), kwargs={"every_s": 0.2})
            thread.start()
            try:
                assert _published_verdict(db, "unverified")  # signed by a key nobody registered yet
                answer = api.post(
                    f"/api/v1/gateways/{gw.site['gateway']}/keys",
                    headers=ADMIN,
                    json={
                        "village": "kha-ly-thuong",
                        "public_key": gw.public_key,
                        "valid_from": iso(hour - scenario.DAY),
                    },
                )
                assert answer.status_code == 201, answer.text
                assert _published_verdict(db, "pass")
            finally:
                stop.set()
                thread.join(timeout=10)


def test_a_failing_pass_does_not_end_the_background_threads(
    influxdb: InfluxDBServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The key registry's file unreadable (a disk fault, a bad restore): each pass fails and says so, and the
    threads go on, so the verdicts move again once it is readable. Before, the error ended the threads, and the
    service went on answering with the verdicts and roll-ups of the hour it had last made."""
    with scratch_database(influxdb, "broken_registry") as db:
        db.write(
            Gateway(site=dict(scenario.A)).sign(uplink_points(END - 3 * scenario.H, 3, site=dict(scenario.A)))
        )
        registry = tmp_path / "keys.sqlite"
        config = make_config(db.url, db.database or "", evidence={"registry": str(registry)})
        with TestClient(create_app(config, clock=lambda: CLOCK)) as api:
            registry.write_bytes(b"not a database " * 100)
            stop = threading.Event()
            service = api.app.state.service  # type: ignore[attr-defined]
            threads = [
                threading.Thread(target=keep_warm, args=(service, stop), kwargs={"every_s": 0.05}),
                threading.Thread(target=reverify, args=(service, stop), kwargs={"every_s": 0.05}),
                # its display copy of the verification, after each pass, reads the registry too
                threading.Thread(target=api.app.state.rollups.run, args=(stop, 0.05)),  # type: ignore[attr-defined]
            ]
            with caplog.at_level(logging.ERROR):
                for thread in threads:
                    thread.start()
                try:
                    deadline = time.monotonic() + 10
                    while not all(
                        said in caplog.text
                        for said in ("the sweep failed", "roll-up failed", "rollups: the pass failed")
                    ):
                        assert time.monotonic() < deadline, caplog.text
                        time.sleep(0.05)
                    time.sleep(0.3)  # several sweep passes
                    assert all(thread.is_alive() for thread in threads)
                    assert "file is not a database" in caplog.text
                finally:
                    stop.set()
                    for thread in threads:
                        thread.join(timeout=10)


def _published_verdict(db: InfluxClient, wanted: str, timeout_s: float = 20) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found = _copy(db).get(("kha-ly-thuong", "fiber_availability"), {})
        if found.get("verdict") == wanted and found.get("time") == END:
            return True
        time.sleep(0.1)
    raise AssertionError(f"Grafana's copy did not become {wanted}: {_copy(db)}")


def _verdict(value: float | None, verdict: str) -> Verdict:
    criterion = load_criteria().criteria[0]
    evidence = Evidence(value, "%", 1, 60, Window(END - scenario.DAY, END))  # a whole 1 and 100: Python ints
    return Verdict(criterion, "kha-ly-thuong", verdict, evidence, not_configured(99.0))


def test_whole_numbers_are_written_as_floats(seeded: InfluxClient) -> None:
    """InfluxDB keeps a field's first type for its shard: a 100 written as an integer would refuse every later
    99.5 of that criterion until the shard ends."""
    places = {"kha-ly-thuong": {"village": "kha-ly-thuong", "gateway": "gw-kly"}}
    first = verdict_points(
        END + 7 * scenario.DAY, places, {"fiber": {"kha-ly-thuong": _verdict(100, "pass")}}
    )
    assert first[0].fields == {"verdict": "pass", "coverage": 1.0, "value": 100.0}
    assert all(type(first[0].fields[k]) is float for k in ("coverage", "value"))
    later = verdict_points(
        END + 8 * scenario.DAY, places, {"fiber": {"kha-ly-thuong": _verdict(99.5, "fail")}}
    )
    assert write_verdicts(seeded, seeded.database or "", first)
    assert write_verdicts(seeded, seeded.database or "", later)
    empty = verdict_points(
        END + 9 * scenario.DAY, places, {"fiber": {"kha-ly-thuong": _verdict(None, "fail")}}
    )
    assert "value" not in empty[0].fields  # no figure: no field, which the panels read as null


def test_a_refused_write_is_a_warning_not_a_crash(caplog: pytest.LogCaptureFixture) -> None:
    places = {"kha-ly-thuong": {"village": "kha-ly-thuong"}}
    points = verdict_points(END, places, {"fiber": {"kha-ly-thuong": _verdict(99.0, "pass")}})
    dead = InfluxClient("http://127.0.0.1:9", database="nowhere", timeout=1)
    with caplog.at_level(logging.WARNING):
        assert not write_verdicts(dead, "nowhere", points)
    assert "verdict display copy not written" in caplog.text
