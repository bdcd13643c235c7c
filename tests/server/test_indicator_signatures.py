"""Manual indicators signed by the criteria service's own key: an entry made through the API verifies, and one
written around it (altered, injected, copied to another village, signed by a gateway's key or by a retired
service key) makes the verdict ``unverified`` with the point named, on a real InfluxDB."""

from __future__ import annotations

import logging
import time
from datetime import datetime

import pytest
from signed_kit import SITE, VILLAGE, Gateway, register_over_api
from srv_helpers import ADMIN, READ

from server.timeparse import iso
from thonminh.contract import INDICATOR, INDICATOR_ENTRY, UPLINK, Point
from thonminh.evidence import INDICATOR_SIGNATURE, GatewayKey, indicator_message
from thonminh.evidencekeys import to_b64
from thonminh.influx import InfluxClient
from thonminh.lineprotocol import encode_line

DAY_MS = 86_400_000
NOW = int(time.time() * 1000)
OTHER = "thon-khac"
_UP = {"up": 1, "up_s": 60.0, "observed_s": 60.0}
PUT = "/api/v1/villages/{village}/indicators/eid_adoption_pct"


@pytest.fixture
def api(influx: InfluxClient, app_for, tmp_path):
    for village in (VILLAGE, OTHER):
        uplink = Point(UPLINK.name, {**SITE, "village": village, "link": "fiber"}, _UP, NOW - DAY_MS)
        influx.write([encode_line(uplink)])
    return app_for(influx, evidence={"registry": str(tmp_path / "keys.sqlite")})


def _enter(api, value: float, *, days_ago: float = 2, village: str = VILLAGE) -> dict:
    answer = api.put(
        PUT.format(village=village),
        json={"value": value, "time": iso(NOW - int(days_ago * DAY_MS))},
        headers=ADMIN,
    )
    assert answer.status_code == 200, answer.text
    return answer.json()


def _eid(api, village: str = VILLAGE) -> dict:
    body = api.get(f"/api/v1/villages/{village}/criteria", headers=READ).json()
    return next(c for c in body["criteria"] if c["id"] == "eid_adoption")


def _stored(influx: InfluxClient, village: str = VILLAGE) -> list[tuple[dict, dict, int]]:
    """The village's indicator points as InfluxDB holds them: (tags, fields, time)."""
    result = influx.query(
        f"SELECT * FROM {INDICATOR.name} WHERE village = '{village}' GROUP BY *", epoch="ms"
    )[0]
    return [
        (dict(s.tags), {k: v for k, v in row.items() if k != "time" and v is not None}, int(row["time"]))
        for s in result.series
        for row in s.rows()
    ]


def _write(influx: InfluxClient, tags: dict, fields: dict, time_ms: int) -> None:
    influx.write([encode_line(Point(INDICATOR.name, tags, fields, time_ms))])


def _service_key(tmp_path) -> GatewayKey:
    return GatewayKey.from_pem((tmp_path / "service.key").read_text(), tmp_path / "service.key")


def test_an_entry_through_the_api_is_signed_by_the_services_own_key(api, influx, tmp_path, caplog) -> None:
    caplog.set_level(logging.INFO, logger="server.evidence.service_key")
    _enter(api, 31.5)
    assert [r.getMessage() for r in caplog.records] == ["the service's indicator key is registered"]
    eid = _eid(api)
    assert eid["verdict"] == "pass" and eid["evidence"]["verified_pct"] == 100.0
    check = eid["evidence"]["verification"]
    assert (check["status"], check["points"], check["verified_points"], check["faults"]) == (
        "verified",
        1,
        1,
        [],
    )
    key_file = tmp_path / "service.key"
    assert key_file.stat().st_mode & 0o777 == 0o600
    fingerprint = _service_key(tmp_path).fingerprint
    assert [(k["gateway"], k["fingerprint"], k["valid_until"]) for k in check["keys"]] == [
        ("manual", fingerprint, None)
    ]
    registered = api.get("/api/v1/keys", headers=READ).json()["keys"]
    assert [(k["gateway"], k["village"], k["fingerprint"]) for k in registered] == [
        ("manual", "*", fingerprint)
    ]
    ((_, fields, _),) = _stored(influx)
    assert fields["key"] == fingerprint and len(fields[INDICATOR_SIGNATURE]) == 88


def test_a_value_altered_with_a_direct_write_makes_the_verdict_unverified_at_its_time(api, influx) -> None:
    _enter(api, 31.5)
    ((tags, _, time_ms),) = _stored(influx)
    _write(influx, tags, {"value": 80.0}, time_ms)  # the tamper drill of docs/evidence.md
    eid = _eid(api)
    assert eid["verdict"] == "unverified"
    assert eid["evidence"]["value"] == 80.0  # what InfluxDB holds, as Grafana reads it; its signature fails
    check = eid["evidence"]["verification"]
    assert (check["status"], check["points"], check["verified_points"]) == ("unverified", 1, 0)
    (fault,) = check["faults"]
    assert (fault["kind"], fault["gateway"], fault["start"], fault["end"]) == (
        "altered",
        "manual",
        iso(time_ms),
        iso(time_ms),
    )
    assert "indicator=eid_adoption_pct" in fault["detail"] and "differ" in fault["detail"]
    # the record is intact, so the entry verifies; what the criterion reads at its time does not
    assert _reads(api) == [(31.5, "verified", "altered")]
    row = _indicator_rows(api)[0]
    assert "tiêu chí không đọc giá trị này" in row and "đang tính" not in row


def test_a_value_beside_the_genuine_one_in_a_series_of_its_own_is_what_the_record_warns_of(
    api, influx
) -> None:
    """The same time, another tag: InfluxDB keeps both points, the criteria may read either, and the entry's
    `read` said verified after the genuine one alone."""
    _enter(api, 31.5)
    ((tags, _, time_ms),) = _stored(influx)
    _write(influx, {**tags, "commune": "a-forged"}, {"value": 99.0, "unit": "%", "source": "key x"}, time_ms)
    assert _eid(api)["verdict"] == "unverified"
    assert _reads(api) == [(31.5, "verified", "unsigned")]
    assert "tiêu chí không đọc giá trị này" in _indicator_rows(api)[0]


def test_a_point_written_around_the_api_is_unsigned_and_located(api, influx) -> None:
    _enter(api, 20.0, days_ago=10)
    ((tags, _, _),) = _stored(influx)
    forged_ms = NOW - 3 * DAY_MS
    _write(influx, tags, {"value": 90.0, "unit": "%", "source": "key officer-hoa"}, forged_ms)
    eid = _eid(api)
    assert eid["verdict"] == "unverified" and eid["evidence"]["value"] == 90.0
    check = eid["evidence"]["verification"]
    assert (check["points"], check["verified_points"]) == (2, 1)
    assert eid["evidence"]["verified_pct"] == 50.0
    assert [(f["kind"], f["start"]) for f in check["faults"]] == [("unsigned", iso(forged_ms))]


def test_a_signed_point_copied_to_another_village_does_not_verify_there(api, influx) -> None:
    _enter(api, 40.0)
    ((tags, fields, time_ms),) = _stored(influx)
    _write(influx, {**tags, "village": OTHER}, fields, time_ms)
    assert _eid(api)["verdict"] == "pass"
    other = _eid(api, OTHER)
    assert other["verdict"] == "unverified"
    assert [f["kind"] for f in other["evidence"]["verification"]["faults"]] == ["altered"]


def test_a_gateways_key_cannot_sign_a_manual_indicator(api, influx) -> None:
    gw = Gateway()
    register_over_api(api, gw, valid_from_ms=NOW - 30 * DAY_MS)
    _enter(api, 40.0)
    ((tags, fields, time_ms),) = _stored(influx)
    forged = {**fields, "value": 99.0, "key": gw.fingerprint}
    forged[INDICATOR_SIGNATURE] = to_b64(
        gw.key.sign(indicator_message(INDICATOR.name, tags, forged, time_ms))
    )
    _write(influx, tags, forged, time_ms)
    (fault,) = _eid(api)["evidence"]["verification"]["faults"]
    assert fault["kind"] == "unregistered_key" and gw.fingerprint in fault["detail"]


def test_a_lost_service_key_is_replaced_and_entries_under_the_old_one_keep_verifying(
    api, influx, tmp_path
) -> None:
    _enter(api, 20.0, days_ago=5)
    old = _service_key(tmp_path).fingerprint
    (tmp_path / "service.key").unlink()  # a restored backup without it, a new disk
    _enter(api, 30.0, days_ago=1)
    new = _service_key(tmp_path).fingerprint
    assert new != old
    check = _eid(api)["evidence"]["verification"]
    assert (check["status"], check["points"], check["verified_points"]) == ("verified", 2, 2)
    periods = {k["fingerprint"]: k["valid_until"] for k in check["keys"]}
    assert periods[new] is None and periods[old] is not None  # the old key's period ended when the new began


def test_a_key_the_registry_retired_signs_nothing_more(api, influx, tmp_path) -> None:
    _enter(api, 20.0, days_ago=5)
    retired = _service_key(tmp_path)
    answer = api.post(f"/api/v1/gateways/manual/keys/{retired.fingerprint}/retire", json={}, headers=ADMIN)
    assert answer.status_code == 200, answer.text
    _enter(api, 30.0, days_ago=1)  # the service makes a new key rather than sign with the retired one
    assert _service_key(tmp_path).fingerprint != retired.fingerprint
    assert _eid(api)["evidence"]["verification"]["status"] == "verified"
    # whoever kept the retired key signs an entry dated after its period: it is named
    ((tags, fields, _), *_) = _stored(influx)
    time_ms = NOW - DAY_MS // 2
    forged = {**fields, "value": 95.0, "key": retired.fingerprint, "entered_ms": NOW + 1000}
    forged.pop(INDICATOR_SIGNATURE)
    forged[INDICATOR_SIGNATURE] = to_b64(
        retired.sign(indicator_message(INDICATOR.name, tags, forged, time_ms))
    )
    _write(influx, tags, forged, time_ms)
    eid = _eid(api)
    assert eid["verdict"] == "unverified"
    assert [f["kind"] for f in eid["evidence"]["verification"]["faults"]] == ["expired_key"]


@pytest.mark.parametrize(
    ("gateway", "village", "parameter"), [("manual", VILLAGE, "gateway"), ("gw-x", "*", "village")]
)
def test_no_gateway_key_can_be_registered_as_the_services(api, gateway, village, parameter) -> None:
    answer = api.post(
        f"/api/v1/gateways/{gateway}/keys",
        json={"village": village, "public_key": Gateway().public_key},
        headers=ADMIN,
    )
    assert answer.status_code == 422 and answer.json()["parameter"] == parameter, answer.text


def test_a_service_without_a_registry_signs_nothing_and_says_so(influx, app_for, tmp_path) -> None:
    uplink = Point(UPLINK.name, {**SITE, "link": "fiber"}, _UP, NOW - DAY_MS)
    influx.write([encode_line(uplink)])
    api = app_for(influx)
    _enter(api, 31.5)
    ((_, fields, _),) = _stored(influx)
    assert "key" not in fields and INDICATOR_SIGNATURE not in fields
    eid = _eid(api)
    assert eid["verdict"] == "pass" and eid["evidence"]["verification"]["status"] == "not_configured"


def test_the_record_and_the_village_page_say_which_entries_the_service_signed(api, influx) -> None:
    _enter(api, 20.0, days_ago=5)
    _enter(api, 30.0, days_ago=1)
    record = influx.query(
        f"SELECT * FROM {INDICATOR_ENTRY.name} WHERE village = '{VILLAGE}' GROUP BY *", epoch="ms"
    )[0]
    ((tags, row),) = [(s.tags, r) for s in record.series for r in s.rows() if r["value"] == 30.0]
    # the newer entry's record rewritten as if the key officer-hoa had entered 95 %
    influx.write(
        [
            encode_line(
                Point(INDICATOR_ENTRY.name, tags, {"value": 95.0, "source": "key officer-hoa"}, row["time"])
            )
        ]
    )
    entries = api.get(f"/api/v1/villages/{VILLAGE}/indicators", headers=READ).json()["entries"]
    assert [(e["value"], e["signature"]) for e in entries] == [(95.0, "altered"), (20.0, "verified")]
    page = api.get(f"/pages/villages/{VILLAGE}", headers=READ).text
    section = page[page.index('<section id="indicators"') :]
    rows = section[: section.index("</table>")].split("<tr")[2:]
    assert [("không có chữ ký hợp lệ của dịch vụ" in r) for r in rows] == [True, False]
    block = page[page.index('<section id="verification"') :]
    assert "manual <small>(dịch vụ tiêu chí, ký chỉ số nhập tay)</small>" in block


def test_a_key_file_others_can_read_enters_nothing_and_says_why(api, influx, tmp_path, caplog) -> None:
    _enter(api, 20.0)
    (tmp_path / "service.key").chmod(0o644)  # whoever reads it can sign as the service
    answer = api.put(PUT.format(village=VILLAGE), json={"value": 90.0}, headers=ADMIN)
    assert answer.status_code == 503 and "signing key cannot be used" in answer.json()["detail"], answer.text
    assert "mode 0644" in caplog.text
    assert [f["value"] for _, f, _ in _stored(influx)] == [20.0]  # nothing entered unsigned


def _delete(influx: InfluxClient, measurement: str, time_ms: int) -> None:
    influx.query(
        f"DELETE FROM {measurement} WHERE village = '{VILLAGE}' AND time >= {time_ms}ms AND time <= {time_ms}ms"
    )


def _faults(api) -> list[tuple[str, str]]:
    return [(f["kind"], f["start"]) for f in _eid(api)["evidence"]["verification"]["faults"]]


def _reads(api) -> list[tuple[float, str, str]]:
    """(value, the record's signature, what the criteria read at its time) of each entry, newest first."""
    entries = api.get(f"/api/v1/villages/{VILLAGE}/indicators", headers=READ).json()["entries"]
    return [(e["value"], e["signature"], e["read"]) for e in entries]


def _indicator_rows(api) -> list[str]:
    """The village page's rows of the record, newest first."""
    page = api.get(f"/pages/villages/{VILLAGE}", headers=READ).text
    section = page[page.index('<section id="indicators"') :]
    return section[: section.index("</table>")].split("<tr")[2:]


def test_the_record_is_a_chain_and_the_service_keeps_its_count(api, influx, tmp_path) -> None:
    for value, days_ago in ((20.0, 9), (25.0, 6), (30.0, 3)):
        _enter(api, value, days_ago=days_ago)
    eid = _eid(api)
    assert (eid["verdict"], eid["evidence"]["value"], eid["evidence"]["verification"]["faults"]) == (
        "pass",
        30.0,
        [],
    )
    record = influx.query(f"SELECT seq, prev FROM {INDICATOR_ENTRY.name} WHERE village = '{VILLAGE}'")[0]
    rows = record.series[0].rows()
    assert [r["seq"] for r in rows] == [1, 2, 3] and rows[0]["prev"] == "" and len(rows[1]["prev"]) == 64
    assert (tmp_path / "indicator-heads.sqlite").exists()


def test_the_newest_entry_deleted_brings_the_older_value_back_and_is_named(api, influx) -> None:
    _enter(api, 30.0, days_ago=9)
    lower = _enter(api, 20.0, days_ago=2)  # the official's correction down, under the 25 % threshold
    entered_ms = _ms(lower["entered"])
    _delete(influx, INDICATOR_ENTRY.name, entered_ms)
    _delete(influx, INDICATOR.name, _ms(lower["time"]))
    eid = _eid(api)
    assert eid["evidence"]["value"] == 30.0  # what the deletion wanted the criteria to read
    assert eid["verdict"] == "unverified" and eid["evidence"]["verified_pct"] == 50.0
    (fault,) = _eid(api)["evidence"]["verification"]["faults"]
    assert fault["kind"] == "deleted_entry" and fault["start"] > iso(NOW - 10 * DAY_MS)
    assert (
        "1 entry of the village's manual indicator record" in fault["detail"] and "is gone" in fault["detail"]
    )
    page = api.get(f"/pages/villages/{VILLAGE}", headers=READ).text
    block = page[page.index('<section id="verification"') :]
    assert "Mục nhập tay bị xóa khỏi sổ ghi" in block and 'data-status="unverified"' in block


def test_an_entry_deleted_between_two_is_a_gap(api, influx) -> None:
    first = _enter(api, 20.0, days_ago=9)
    middle = _enter(api, 40.0, days_ago=6)
    last = _enter(api, 30.0, days_ago=3)
    _delete(influx, INDICATOR_ENTRY.name, _ms(middle["entered"]))
    _delete(influx, INDICATOR.name, _ms(middle["time"]))
    (fault,) = _eid(api)["evidence"]["verification"]["faults"]
    assert (fault["kind"], fault["start"], fault["end"]) == (
        "deleted_entry",
        first["entered"],
        last["entered"],
    )
    assert _eid(api)["verdict"] == "unverified"


def test_the_point_the_criteria_read_deleted_alone_is_named(api, influx) -> None:
    _enter(api, 30.0, days_ago=9)
    lower = _enter(api, 20.0, days_ago=2)
    _delete(influx, INDICATOR.name, _ms(lower["time"]))  # the record kept, the value gone
    eid = _eid(api)
    assert eid["evidence"]["value"] == 30.0 and eid["verdict"] == "unverified"
    assert _faults(api) == [("deleted_point", lower["time"])]
    assert _reads(api) == [(20.0, "verified", "missing"), (30.0, "verified", "verified")]
    assert ["đã bị xoá" in r for r in _indicator_rows(api)] == [True, False]


def test_an_older_signed_value_written_back_over_its_correction_is_named(api, influx) -> None:
    first = _enter(api, 30.0, days_ago=4)
    ((tags, old_fields, time_ms),) = _stored(influx)
    fixed = api.put(
        PUT.format(village=VILLAGE), json={"value": 20.0, "corrects": first["entered"]}, headers=ADMIN
    )
    assert fixed.status_code == 200 and fixed.json()["time"] == first["time"], fixed.text
    assert _eid(api)["evidence"]["value"] == 20.0 and _faults(api) == []
    assert _reads(api) == [(20.0, "verified", "verified"), (30.0, "verified", "replaced")]
    _write(influx, tags, old_fields, time_ms)  # the first entry's point, signature and all, at the same time
    eid = _eid(api)
    assert eid["evidence"]["value"] == 30.0 and eid["verdict"] == "unverified"
    assert _faults(api) == [("replayed_entry", first["time"])]
    assert _reads(api) == [(20.0, "verified", "replayed"), (30.0, "verified", "verified")]
    assert ["đang tính" in r or "tiêu chí không đọc" in r for r in _indicator_rows(api)] == [True, False]
    assert "tiêu chí không đọc giá trị này" in _indicator_rows(api)[0]


def test_a_lost_count_continues_from_the_record(api, influx, tmp_path) -> None:
    _enter(api, 20.0, days_ago=5)
    (tmp_path / "indicator-heads.sqlite").unlink()
    _enter(api, 30.0, days_ago=1)
    record = influx.query(f"SELECT seq FROM {INDICATOR_ENTRY.name} WHERE village = '{VILLAGE}'")[0]
    assert [r["seq"] for r in record.series[0].rows()] == [1, 2]
    assert _eid(api)["verdict"] == "pass" and _faults(api) == []


def test_the_oldest_entries_gone_with_the_retention_policy_are_no_fault(api, influx) -> None:
    first = _enter(api, 20.0, days_ago=9)
    _enter(api, 30.0, days_ago=3)
    _delete(influx, INDICATOR_ENTRY.name, _ms(first["entered"]))
    _delete(influx, INDICATOR.name, _ms(first["time"]))
    assert _eid(api)["verdict"] == "pass" and _faults(api) == []


def _ms(text: str) -> int:
    return int(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1000)


def test_an_unreadable_count_file_is_a_503_not_a_verdict_without_it(api, tmp_path, caplog) -> None:
    _enter(api, 20.0)
    (tmp_path / "indicator-heads.sqlite").write_bytes(b"not a database, " * 256)
    answer = api.get(f"/api/v1/villages/{VILLAGE}/criteria", headers=READ)
    assert answer.status_code == 503 and "manual indicator entries" in answer.json()["detail"], answer.text
    assert "indicator-heads.sqlite" in caplog.text
