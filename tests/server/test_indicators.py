"""Manual indicators against their description: fixed unit, valid range, known names, strict types; a record of
every entry that a correction supersedes without deleting."""

from __future__ import annotations

import logging

import pytest
from srv_helpers import ADMIN, READ, write

from thonminh.contract import UPLINK, Point
from thonminh.influx import InfluxClient

PUT = "/api/v1/villages/thon-a/indicators/eid_adoption_pct"


@pytest.fixture
def api(influx: InfluxClient, app_for):
    write(
        influx,
        [
            Point(
                UPLINK.name,
                {"village": "thon-a", "gateway": "gw", "commune": "xa", "link": "fiber"},
                {"up": 1, "up_s": 60.0, "observed_s": 60.0},
                1_741_500_000_000,
            )
        ],
    )
    return app_for(influx)


@pytest.mark.parametrize(
    ("body", "status", "parameter", "words"),
    [
        ({"value": 150.0}, 422, "value", "outside eid_adoption_pct's range 0..100 %"),
        ({"value": -1}, 422, "value", "outside"),
        ({"value": 30.0, "unit": "people"}, 422, "unit", "measured in '%', not 'people'"),
        ({"value": "27"}, 422, "value", ""),
        ({"value": True}, 422, "value", ""),
    ],
)
def test_an_entry_is_checked_against_the_indicators_description(api, body, status, parameter, words):
    answer = api.put(PUT, json=body, headers=ADMIN)
    assert answer.status_code == status, answer.text
    assert answer.json()["parameter"] == parameter
    assert words in answer.json()["detail"]


def test_a_second_entry_for_the_same_time_is_recorded_as_the_correction_it_is(api):
    """It replaces the value the criteria read at that time, so the record says it does, as with ``corrects``:
    the page strikes the older entry through, where both stood as if both counted."""
    first = api.put(PUT, json={"value": 72.5, "time": "2025-03-01"}, headers=ADMIN).json()
    again = api.put(PUT, json={"value": 27.5, "time": "2025-03-01T00:00:00+07:00"}, headers=ADMIN).json()
    assert again["corrects"] == first["entered"]
    other_day = api.put(PUT, json={"value": 28.0, "time": "2025-03-02"}, headers=ADMIN).json()
    assert other_day["corrects"] is None
    third = api.put(PUT, json={"value": 27.0, "time": "2025-03-01"}, headers=ADMIN).json()
    assert third["corrects"] == again["entered"]  # the entry that still counted, not the first again
    record = api.get("/api/v1/villages/thon-a/indicators", headers=READ).json()["entries"]
    assert [(e["value"], e["superseded_by"]) for e in record] == [
        (27.0, None),
        (28.0, None),
        (27.5, third["entered"]),
        (72.5, again["entered"]),
    ]


def test_an_unknown_indicator_is_refused_with_the_known_ones(api):
    answer = api.put("/api/v1/villages/thon-a/indicators/eid_adoption", json={"value": 30.0}, headers=ADMIN)
    assert answer.status_code == 422
    assert "known: eid_adoption_pct" in answer.json()["detail"]


def test_the_unit_comes_from_the_description_and_every_entry_is_kept(api, influx: InfluxClient):
    first = api.put(PUT, json={"value": 31.5, "note": "xã báo cáo", "time": "2025-03-01"}, headers=ADMIN)
    assert first.status_code == 200, first.text
    assert first.json()["unit"] == "%"
    fixed = api.put(
        PUT, json={"value": 13.5, "note": "sửa lỗi nhập", "corrects": first.json()["entered"]}, headers=ADMIN
    )
    assert fixed.status_code == 200, fixed.text
    assert fixed.json()["time"] == first.json()["time"]  # the correction stands for the same time

    record = api.get("/api/v1/villages/thon-a/indicators", headers=READ).json()
    assert [(e["value"], e["note"], e["superseded_by"]) for e in record["entries"]] == [
        (13.5, "sửa lỗi nhập", None),
        (31.5, "xã báo cáo", fixed.json()["entered"]),
    ]
    assert record["entries"][0]["source"] == "sửa lỗi nhập (key officer-hoa)"
    assert record["indicators"]["eid_adoption_pct"]["unit"] == "%"
    # the criterion reads the corrected value
    verdicts = api.get(
        "/api/v1/villages/thon-a/criteria", params={"start": "2025-02-01", "end": "2025-04-01"}, headers=READ
    ).json()
    eid = next(c for c in verdicts["criteria"] if c["id"] == "eid_adoption")
    assert (eid["evidence"]["value"], eid["verdict"]) == (13.5, "fail")
    # the threshold is in the indicator's unit, as the value is: every surface prints "≥ 25 %" from it
    assert (eid["unit"], eid["evidence"]["unit"], eid["threshold"]) == ("%", "%", 25.0)


def test_a_correction_must_name_an_entry_that_exists(api):
    answer = api.put(PUT, json={"value": 10.0, "corrects": "2025-03-01T00:00:00Z"}, headers=ADMIN)
    assert answer.status_code == 422 and answer.json()["parameter"] == "corrects"
    # empty names no entry, as an empty time means now (a client that always sends both fields)
    empty = api.put(PUT, json={"value": 10.0, "time": "", "corrects": ""}, headers=ADMIN)
    assert empty.status_code == 200 and empty.json()["corrects"] is None, empty.text


def test_a_record_not_written_by_the_service_is_left_out_and_logged(api, influx: InfluxClient, caplog):
    """Anyone with InfluxDB's write credential can add to the record an entry the service never wrote, with
    fields missing: the record, the village page and a correction still answer, the entry left out and logged
    (before: a 500 on all three)."""
    good = api.put(PUT, json={"value": 31.5, "time": "2025-03-01"}, headers=ADMIN)
    assert good.status_code == 200, good.text
    influx.write(
        [
            'indicator_entry,gateway=x,indicator=eid_adoption_pct,village=thon-a value=99.0,unit="%" 1741600000000',
            "indicator_entry,gateway=x,indicator=eid_adoption_pct,village=thon-a as_of_ms=1i 1741600000001",
        ]
    )
    with caplog.at_level(logging.WARNING):
        record = api.get("/api/v1/villages/thon-a/indicators", headers=READ)
        page = api.get("/pages/villages/thon-a", headers=READ)
        fixed = api.put(PUT, json={"value": 13.5, "corrects": good.json()["entered"]}, headers=ADMIN)
    assert record.status_code == 200, record.text
    assert [e["value"] for e in record.json()["entries"]] == [31.5]
    assert page.status_code == 200, page.text
    assert fixed.status_code == 200, fixed.text
    assert any(getattr(r, "rows", None) == 2 for r in caplog.records), caplog.text


def test_a_value_a_version_before_entered_ms_wrote_is_read_by_its_value_alone():
    """Such a point names no entry: it is neither a replay nor replaced, but the entry's value or not."""
    from server.indicators import _read

    entry = {"time": 1_760_000_000_000, "as_of_ms": 1_759_000_000_000, "value": 27.5}
    older = {"tags": {"village": "v"}, "fields": {"value": 27.5, "unit": "%"}}
    assert _read(entry, [older], None) == "not_configured"
    assert _read(entry, [{**older, "fields": {"value": 90.0}}], None) == "altered"
    assert (
        _read(entry, [older, older], None) == "altered"
    )  # two series at one time: which is read is not known
    assert _read(entry, [], None) == "missing"
