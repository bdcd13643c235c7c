"""Forged rollup rows the audit put right stay named in the village's evidence (``server.rollup_findings``).

Before, a forged rollup row was rolled again from the samples and only the service's log and ``/health`` knew
it had been there: the API's evidence, the village page, the dossier and ``thonminh verify`` said nothing, and
the answers that had used it were not marked. Each test forges rows on a real InfluxDB.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from signed_kit import GATEWAY, SITE, VILLAGE, Gateway, register, uplink_points
from test_evidence_cli import run
from test_rollup_audit import NoDelete

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "report"))
import pdftools

from server.app import create_app
from server.config import load_server_config
from server.evidence.registry import Registry
from server.rollup_findings import MAX_PER_VILLAGE, RollupFindings
from server.rollup_rows import Difference
from server.rollups import Rollups
from server.timeparse import HOUR_MS, iso
from thonminh.contract import Point
from thonminh.influx import InfluxClient
from thonminh.lineprotocol import encode_line

H = HOUR_MS
NOW = int(time.time() * 1000)
T0 = NOW - NOW % H - 4 * H
RP = "thonminh_1h"


def _config(tmp_path: Path, influx: InfluxClient) -> Path:
    path = tmp_path / "server.toml"
    path.write_text(
        f'[influxdb]\nurl = "{influx.url}"\ndatabase = "{influx.database}"\n'
        '[evidence]\nregistry = "keys.sqlite"\n[rollups]\nbackground = false\n'
    )
    return path


def _kept_availability(api: TestClient) -> float:
    answer = api.get("/api/v1/criteria")  # the default evaluation of every village, kept for the hour
    assert answer.status_code == 200, answer.text
    (village,) = answer.json()["villages"]  # a row without a village tag makes no village of its own
    assert village["village"] == VILLAGE
    return village["verdicts"]["fiber_availability"]["value"]


def _uplink_faults(api: TestClient) -> tuple[dict, list[dict]]:
    answer = api.get(f"/api/v1/villages/{VILLAGE}/criteria")
    assert answer.status_code == 200, answer.text
    uplink = next(c for c in answer.json()["criteria"] if c["id"] == "fiber_availability")
    verification = uplink["evidence"]["verification"]
    return verification, [f for f in verification["faults"] if f["kind"] == "rollup_altered"]


def _forge(client: InfluxClient, tags: dict[str, str], time_ms: int, **fields: float) -> None:
    client.write(encode_line(Point("uplink_1h", tags, fields, time_ms)), retention_policy=RP)


def test_a_forged_row_put_right_is_a_fault_of_the_village_on_every_surface(
    influx: InfluxClient, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = _config(tmp_path, influx)
    gw = Gateway()
    register(Registry(tmp_path / "keys.sqlite"), gw)
    influx.write(gw.sign(uplink_points(T0, 3)))
    app = create_app(load_server_config(config), open_read_only=True)
    with TestClient(app) as api:
        rollups: Rollups = app.state.rollups
        rollups.roll(T0, T0 + 3 * H)
        rollups.mark(T0, T0 + 3 * H)
        verification, found = _uplink_faults(api)
        assert found == [] and verification["status"] == "verified"

        row = {**SITE, "link": "fiber"}
        _forge(influx, row, T0 + H, up_s=0.0, observed_s=3600.0, samples=60)
        _forge(influx, {"link": "fiber"}, T0 + H, up_s=0.0, observed_s=3600.0, samples=60)  # no village's
        assert _kept_availability(api) < 70.0  # the hour's evaluation, kept for the hour, uses the forgery
        rollups.roll(T0, T0 + 3 * H, audit=True)
        assert (rollups.status.audit.altered, rollups.status.audit.extra) == (1, 1)
        # rows put right change the kept evaluation at once, not at the next hour
        assert _kept_availability(api) == 100.0
        shown = influx.select(  # Grafana's copy of the verification, written after the roll
            f'SELECT faults FROM "{influx.database}"."thonminh_verified"."uplink" WHERE time >= {T0}ms'
        ).series[0]
        assert [r["faults"] for r in shown.rows()] == [0, 1, 0]

        verification, found = _uplink_faults(api)
        assert [(f["gateway"], f["start"], f["end"]) for f in found] == [
            (GATEWAY, iso(T0 + H), iso(T0 + 2 * H))
        ]
        assert "1 row(s) of the rollup uplink_1h" in found[0]["detail"] and "1 altered" in found[0]["detail"]
        assert "put right from the samples" in found[0]["detail"]
        # the samples verify, and the answers read the rows put right: the share stays, the fault is named
        assert verification["status"] == "verified" and verification["verified_points"] == 180
        page = api.get(f"/pages/villages/{VILLAGE}")
        assert page.status_code == 200 and "Số liệu tổng hợp bị sửa" in page.text
        dossier = api.get(
            f"/api/v1/villages/{VILLAGE}/report.pdf", params={"start": iso(T0), "end": iso(NOW)}
        )
        assert dossier.status_code == 200, dossier.text
        assert "Số liệu tổng hợp bị sửa" in " ".join(pdftools.text(dossier.content, layout=False).split())

    again = create_app(load_server_config(config), open_read_only=True)  # a restart: kept on disk
    with TestClient(again) as api:
        assert len(_uplink_faults(api)[1]) == 1
    window = ("--village", VILLAGE, "--start", iso(T0), "--end", iso(T0 + 3 * H))
    code, out = run(capsys, "verify", "--config", str(config), *window)
    assert code == 1, out
    assert f"rollup_altered     {GATEWAY}  {iso(T0 + H)} .. {iso(T0 + 2 * H)} [uplink]" in out
    code, out = run(
        capsys, "verify", "--config", str(config), "--village", VILLAGE, "--start", iso(T0 + 2 * H)
    )
    assert code == 0, out  # a window its span does not touch


def test_a_forged_row_the_server_keeps_makes_the_verdicts_that_read_it_unverified(
    influx: InfluxClient, tmp_path: Path
) -> None:
    """A server without ``DELETE`` (3.x) keeps an extra row the audit found, and long windows go on reading it:
    the fault said so, but the verdict stayed ``pass`` with every sample verified. Known forged data still read
    is not verified evidence, whatever the share of the samples."""
    config = _config(tmp_path, influx)
    gw = Gateway()
    register(Registry(tmp_path / "keys.sqlite"), gw, valid_from_ms=T0 - 2 * H)
    influx.write(gw.sign(uplink_points(T0, 3)))
    keeping = NoDelete(influx.url, database=influx.database)
    app = create_app(load_server_config(config), open_read_only=True, client=keeping)
    window = {"start": iso(T0 - H), "end": iso(T0 + 3 * H)}
    with TestClient(app) as api:
        rollups: Rollups = app.state.rollups
        rollups.roll(T0 - H, T0 + 3 * H)
        rollups.mark(T0 - H, T0 + 3 * H)
        # an hour of fiber no gateway measured, before its first sample: a row with no samples under it
        _forge(influx, {**SITE, "link": "fiber"}, T0 - H, up_s=3600.0, observed_s=3600.0, samples=360)
        rollups.roll(T0 - H, T0 + 3 * H, audit=True)
        assert rollups.status.audit.extra == 1 and rollups.status.audit.removed == 0
        body = api.get(f"/api/v1/villages/{VILLAGE}/criteria", params=window).json()
        fiber = next(c for c in body["criteria"] if c["id"] == "fiber_availability")
        checked = fiber["evidence"]["verification"]
        assert checked["verified_points"] == checked["points"] == 180  # the samples all verify
        assert [f["kind"] for f in checked["faults"]] == ["rollup_altered"]
        assert "could not be deleted" in checked["faults"][0]["detail"]
        assert (fiber["verdict"], checked["status"]) == ("unverified", "unverified")
        wifi = next(c for c in body["criteria"] if c["id"] == "wifi_service")
        assert wifi["evidence"]["verification"]["status"] == "verified"  # its rows are the samples'
        lte = next(c for c in body["criteria"] if c["id"] == "lte_availability")["evidence"]["verification"]
        assert (lte["status"], lte["faults"]) == ("no_samples", [])  # the row is the fiber's, not 4G's
        # the page's row of the fiber says so beside its share, which alone would read as verified
        page = api.get(f"/pages/villages/{VILLAGE}", params=window).text
        row = page[page.index("Đường truyền cáp quang", page.index('id="verification"')) :].split("</tr>")[0]
        assert "100,0" in row and "Chưa xác minh" in row
        # deleted by hand (a server whose DELETE the audit could not use): the next pass reads it back gone
        influx.query(f'DELETE FROM "uplink_1h" WHERE "link" = \'fiber\' AND time = {T0 - H}ms')
        rollups.roll(T0 + 2 * H, T0 + 3 * H)
        body = api.get(f"/api/v1/villages/{VILLAGE}/criteria", params=window).json()
        fiber = next(c for c in body["criteria"] if c["id"] == "fiber_availability")
        (fault,) = fiber["evidence"]["verification"]["faults"]
        assert "put right" in fault["detail"] and "could not be deleted" not in fault["detail"]
        # verified again, and judged on the samples alone: they cover 3 of the window's 4 hours, the forged
        # row had covered the fourth
        assert fiber["evidence"]["verification"]["status"] == "verified"
        assert (fiber["verdict"], fiber["evidence"]["coverage"]) == ("insufficient_data", 0.75)


def _difference(kind: str, time_ms: int, village: str = "v1", rollup: str = "uplink_1h") -> Difference:
    tags = (("gateway", "gw"), ("link", "fiber"), ("village", village)) if village else (("link", "fiber"),)
    return Difference(kind, rollup, (tags, time_ms), {"up_s": 1.0}, {"up_s": 2.0})


def test_findings_merge_nearby_rows_keep_a_bound_and_outlive_a_restart(tmp_path: Path) -> None:
    # 06:00 UTC yesterday: T0 .. T0 + 10 h lie in one UTC day, whose daily row the windows below all touch (the
    # module's T0, 4 h ago, put the windows across midnight from 00:00 to 03:00 UTC, and the test failed then)
    T0 = NOW - NOW % (24 * H) - 18 * H
    now = [T0 / 1000]
    path = tmp_path / "findings.json"
    findings = RollupFindings(path, clock=lambda: now[0])
    findings.record(
        "uplink_1h",
        [
            _difference("altered", T0),
            _difference("extra", T0 + H),
            _difference("late", T0 + 2 * H),  # late samples are no forgery
            _difference("missing", T0 + 2 * H),
            _difference("altered", T0, village=""),  # no village's answer reads it
        ],
    )
    (fault,) = findings.faults("v1", T0, T0 + 30 * H)
    assert (fault.kind, fault.start_ms, fault.end_ms, fault.count, fault.measurements) == (
        "rollup_altered",
        T0,
        T0 + 2 * H,
        2,
        ("uplink",),
    )
    now[0] += 3600
    findings.record(
        "uplink_1h", [_difference("extra", T0 + H)]
    )  # found again (kept by a server): counted once
    assert findings.faults("v1", T0, T0 + 30 * H)[0].count == 2
    findings.record("uplink_1h", [_difference("altered", T0 + 3 * H)])  # within two hours: the same finding
    findings.record("uplink_1h", [_difference("altered", T0 + 9 * H)])  # a forgery of its own
    findings.record("uplink_1d", [_difference("altered", T0 - T0 % (24 * H), rollup="uplink_1d")])
    assert [(f.start_ms, f.end_ms, f.count) for f in findings.faults("v1", T0 + 3 * H, T0 + 10 * H)] == [
        (T0, T0 + 4 * H, 3),
        (T0 + 9 * H, T0 + 10 * H, 1),
        (T0 - T0 % (24 * H), T0 - T0 % (24 * H) + 24 * H, 1),
    ]
    between = findings.faults("v1", T0 + 4 * H, T0 + 9 * H)  # spans end and start where the window does
    assert [f for f in between if f.end_ms - f.start_ms < 24 * H] == []
    assert findings.faults("v2", 0, T0 * 2) == []
    reread = RollupFindings(path, clock=lambda: now[0])
    assert reread.faults("v1", 0, T0 * 2) == findings.faults("v1", 0, T0 * 2)

    for i in range(MAX_PER_VILLAGE + 5):  # far apart: each its own finding, the oldest dropped
        now[0] += 1
        findings.record("uplink_1h", [_difference("altered", T0 + (20 + 3 * i) * H)])
    kept = findings.faults("v1", 0, T0 * 2)
    assert len(kept) == MAX_PER_VILLAGE and kept[-1].start_ms == T0 + (20 + 3 * (MAX_PER_VILLAGE + 4)) * H
    assert len(json.loads(path.read_text())["findings"]) == MAX_PER_VILLAGE


def test_an_unreadable_file_is_logged_and_the_service_starts_without_it(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "findings.json"
    for text in (
        "{not json",
        '{"format": 99, "findings": []}',
        '{"format": 1, "findings": [{"village": 1}]}',
    ):
        path.write_text(text)
        with caplog.at_level(logging.ERROR, logger="server.rollup_findings"):
            assert RollupFindings(path, clock=time.time).faults("v1", 0, NOW) == []
    assert caplog.text.count("rollup findings unreadable") == 3


def test_a_replica_sharing_the_file_names_what_the_rollups_replica_found(tmp_path: Path) -> None:
    """Replicas behind a load balancer run the rollups in one of them (docs/scaling.md): the others read the
    findings it writes, when the file changes."""
    path = tmp_path / "findings.json"
    writer, reader = (RollupFindings(path, clock=time.time) for _ in range(2))
    assert reader.faults("v1", 0, T0 * 2) == []
    writer.record("uplink_1h", [_difference("altered", T0)])
    assert [f.start_ms for f in reader.faults("v1", 0, T0 * 2)] == [T0]


def test_rows_of_one_audit_in_one_hour_are_each_counted(tmp_path: Path) -> None:
    """Two lights of one gateway forged in the same hour are two rows, not one found again."""
    findings = RollupFindings(tmp_path / "findings.json", clock=time.time)
    site = (("gateway", "gw"), ("village", "v3"))
    findings.record(
        "streetlight_1h",
        [
            Difference("altered", "streetlight_1h", ((*site, ("light", lt)), T0), {}, {})
            for lt in ("l1", "l2")
        ],
    )
    assert [f.count for f in findings.faults("v3", 0, T0 * 2)] == [2]


def test_kept_rows_outlive_a_restart_and_an_older_file_still_loads(tmp_path: Path) -> None:
    path = tmp_path / "findings.json"
    kept = replace(
        _difference("extra", T0), kept=True, tags={"gateway": "gw", "link": "fiber", "village": "v1"}
    )
    RollupFindings(path, clock=lambda: T0 / 1000).record("uplink_1h", [kept])
    (fault,) = RollupFindings(path, clock=lambda: T0 / 1000).faults("v1", T0, T0 + H)  # read from the file
    assert fault.still_read and "could not be deleted" in fault.detail
    body = json.loads(path.read_text())
    assert body["findings"][0]["kept_rows"] == [
        [[["gateway", "gw"], ["link", "fiber"], ["village", "v1"]], T0]
    ]
    assert fault.selections == ("uplink link=fiber",) and body["findings"][0]["selections"] == list(
        fault.selections
    )
    del body["findings"][0][
        "kept_rows"
    ]  # as the version before wrote it: kept, no rows to read back, no link
    del body["findings"][0]["selections"]
    path.write_text(json.dumps(body))
    (older,) = RollupFindings(path, clock=lambda: T0 / 1000).faults("v1", T0, T0 + H)
    assert older.still_read and older.touches("uplink", {"link": "4g"})
