"""Faults a fuzzing review found: indicator entries of one millisecond that overwrote each other, malformed
bodies answered as a 422 naming a character offset (and before the key was checked), a bad ``tz`` told several
times, and key-registration conflicts that named no parameter."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from signed_kit import GATEWAY, VILLAGE, Gateway, register_over_api
from srv_helpers import ADMIN, READ, make_config, serving, write

from server import indicators
from server.app import create_app
from server.timeparse import iso
from thonminh.contract import INDICATOR, UPLINK, Point
from thonminh.influx import InfluxClient

V = "thon-a"
PUT = f"/api/v1/villages/{V}/indicators/eid_adoption_pct"
#: every request of a test sees this same instant: entries made together share their millisecond
FROZEN_S = 1_767_000_000.123


def _village(influx: InfluxClient) -> None:
    write(
        influx,
        [
            Point(
                UPLINK.name,
                {"village": V, "gateway": "gw", "commune": "xa", "link": "fiber"},
                {"up": 1, "up_s": 60.0, "observed_s": 60.0},
                1_741_500_000_000,
            )
        ],
    )


@pytest.fixture
def api(influx: InfluxClient, app_for):
    _village(influx)
    return app_for(influx)


# -- A: entries of one millisecond ---------------------------------------------------------------------------


@pytest.mark.parametrize("clock", [lambda: FROZEN_S, time.time], ids=["one-millisecond", "real-clock"])
def test_concurrent_entries_are_all_kept(influx: InfluxClient, clock):
    """30 PUTs at once, through uvicorn: each gets its own ``entered`` (the entry's id) and the record keeps all 30
    (before: InfluxDB kept one point per millisecond and tags, though every request had its 200). A clock that
    gives them all the same millisecond makes the collision certain."""
    _village(influx)
    app = create_app(make_config(influx.url, influx.database), clock=clock)
    n = 30
    with serving(app) as base, httpx.Client(base_url=base, timeout=60) as http:

        def put(i: int) -> httpx.Response:
            return http.put(PUT, json={"value": float(i), "note": f"par {i}"}, headers=ADMIN)

        with ThreadPoolExecutor(max_workers=n) as pool:
            answers = list(pool.map(put, range(n)))
        assert [a.status_code for a in answers] == [200] * n, [a.text for a in answers]
        entered = [a.json()["entered"] for a in answers]
        assert len(set(entered)) == n, sorted(entered)
        record = http.get(f"/api/v1/villages/{V}/indicators", headers=READ).json()["entries"]
    assert sorted(e["note"] for e in record) == sorted(f"par {i}" for i in range(n))
    assert {e["entered"]: e["note"] for e in record} == {
        a.json()["entered"]: f"par {i}" for i, a in enumerate(answers)
    }
    # the criteria read the latest of them: each entry "as of now" has its own as-of point too
    values = influx.select(f'SELECT "value" FROM "{INDICATOR.name}" WHERE "village" = \'{V}\'')
    assert sum(len(s.rows()) for s in values.series) == n


def test_an_entry_made_after_a_restart_does_not_overwrite_one_of_the_same_millisecond(
    influx, app_for, monkeypatch
):
    """A restarted service remembers nothing of the entries made before: it reads what InfluxDB holds at that
    millisecond for the village before it takes it."""
    _village(influx)
    first = app_for(influx, clock=lambda: FROZEN_S)
    before = first.put(PUT, json={"value": 10.0, "note": "before"}, headers=ADMIN)
    assert before.status_code == 200, before.text
    monkeypatch.setattr(indicators, "_last_ms", {})  # a new process: nothing in memory
    again = app_for(influx, clock=lambda: FROZEN_S)
    after = again.put(PUT, json={"value": 20.0, "note": "after"}, headers=ADMIN)
    assert after.status_code == 200, after.text
    assert before.json()["entered"] == iso(int(FROZEN_S * 1000))
    assert after.json()["entered"] != before.json()["entered"]
    record = again.get(f"/api/v1/villages/{V}/indicators", headers=READ).json()["entries"]
    assert [(e["note"], e["entered"]) for e in record] == [
        ("after", after.json()["entered"]),
        ("before", before.json()["entered"]),
    ]


# -- B: bodies that are not JSON -----------------------------------------------------------------------------

JSON = {"Content-Type": "application/json"}
BROKEN = [
    (b'{"value": 27', "line 1 column 13"),
    (b"", "empty"),
    (b"   ", "line 1 column 4"),
    (b'{"value": 27, "note": "\xff"}', "0xff"),
    (b"\xff", "0xff"),
    (b'{"value": 1' + b"0" * 5000 + b"}", "a number of more than 4300 digits"),  # not Python's own advice
]


@pytest.mark.parametrize(("body", "words"), BROKEN)
def test_a_body_that_is_not_json_is_a_400_naming_the_body(api, body: bytes, words: str):
    answer = api.put(PUT, content=body, headers={**ADMIN, **JSON})
    assert answer.status_code == 400, answer.text
    assert answer.json()["parameter"] == "body"
    assert answer.json()["detail"].startswith("body: ") and words in answer.json()["detail"], answer.text


def test_a_key_registration_body_that_is_not_json_is_a_400_too(api):
    answer = api.post("/api/v1/gateways/gw-x/keys", content=b'{"village":', headers={**ADMIN, **JSON})
    assert answer.status_code == 400, answer.text
    assert answer.json()["parameter"] == "body" and "line 1 column 12" in answer.json()["detail"]


def test_a_json_body_of_the_wrong_shape_is_still_a_422(api):
    answer = api.put(PUT, json=[1, 2], headers=ADMIN)
    assert answer.status_code == 422 and answer.json()["parameter"] == "body", answer.text


@pytest.mark.parametrize(("body", "_"), BROKEN)
@pytest.mark.parametrize(
    ("path", "method"), [(PUT, "PUT"), ("/api/v1/gateways/gw-x/keys", "POST")], ids=["indicator", "keys"]
)
def test_credentials_are_checked_before_the_body(api, path: str, method: str, body: bytes, _):
    """Whatever the body, no key or a wrong one is a 401, and a read key where an admin key is needed a 403:
    the body was read first (a 422 or 400 told a stranger about the body)."""
    for headers, status in [
        ({}, 401),
        ({"X-API-Key": "not-a-key-at-all-123"}, 401),
        ({"Authorization": "Bearer not-a-key-at-all-123"}, 401),
        (READ, 403),
    ]:
        answer = api.request(method, path, content=body, headers={**headers, **JSON})
        assert answer.status_code == status, (headers, answer.text)
        assert answer.json()["parameter"] == "X-API-Key"
        if status == 401:
            assert answer.headers["www-authenticate"] == "ApiKey"


def test_a_bad_body_in_open_read_only_mode_is_refused_as_any_change_is(influx, app_for):
    _village(influx)
    api = app_for(influx, open_read_only=True, auth={"read_keys": {}, "admin_keys": {}})
    answer = api.put(PUT, content=b'{"value": 27', headers={**ADMIN, **JSON})
    assert answer.status_code == 403 and "read-only" in answer.json()["detail"], answer.text


# -- C: one message per fault, naming its parameter ----------------------------------------------------------


@pytest.mark.parametrize("tz", ["a.b", "x" * 65, "Nowhere/Atall"])
@pytest.mark.parametrize("path", ["uptime", "criteria", "outages", "indicators"])
def test_a_bad_time_zone_is_told_once(api, tz: str, path: str):
    answer = api.get(f"/api/v1/villages/{V}/{path}", params={"tz": tz}, headers=READ)
    assert answer.status_code == 422, answer.text
    assert answer.json()["parameter"] == "tz"
    assert answer.json()["detail"].count("tz") == 1, answer.json()["detail"]


def test_the_time_zone_parameter_is_published_as_before(api):
    schema = api.get("/api/v1/openapi.json").json()
    tz = next(
        p
        for p in schema["paths"]["/api/v1/villages/{village}/uptime"]["get"]["parameters"]
        if p["name"] == "tz"
    )
    assert tz["schema"]["anyOf"][0] == {
        "type": "string",
        "minLength": 1,
        "maxLength": 64,
        "pattern": r"^[A-Za-z0-9_+\-/]+$",
    }


def test_key_registration_conflicts_name_their_parameter(influx, app_for, tmp_path):
    api = app_for(influx, evidence={"registry": str(tmp_path / "keys.sqlite")})
    gw = Gateway()
    now_ms = int(time.time() * 1000)
    register_over_api(api, gw, valid_from_ms=now_ms - 3_600_000)
    path = f"/api/v1/gateways/{GATEWAY}/keys"
    twice = api.post(path, json={"village": VILLAGE, "public_key": gw.public_key}, headers=ADMIN)
    assert twice.status_code == 409, twice.text
    assert twice.json()["parameter"] == "public_key" and gw.fingerprint in twice.json()["detail"]
    earlier = api.post(
        path,
        json={"village": VILLAGE, "public_key": Gateway().public_key, "valid_from": iso(now_ms - 7_200_000)},
        headers=ADMIN,
    )
    assert earlier.status_code == 409, earlier.text
    assert earlier.json()["parameter"] == "valid_from" and "valid_from" in earlier.json()["detail"]


def test_minus_zero_is_entered_as_zero(api):
    """A review's ``{"value": -0}`` was stored and shown as -0.0."""
    answer = api.put(PUT, content=b'{"value": -0.0}', headers={**ADMIN, **JSON})
    assert answer.status_code == 200, answer.text
    assert '"value":0.0' in answer.text and "-0" not in answer.json()["line"]


def test_a_field_given_twice_in_a_body_is_refused_after_the_key(api):
    """A review's ``{"value": 5, "value": 6}`` entered 6, where the page's form refuses a field posted twice."""
    twice = b'{"value": 5, "value": 6}'
    assert api.put(PUT, content=twice, headers=JSON).status_code == 401  # the key first
    answer = api.put(PUT, content=twice, headers={**ADMIN, **JSON})
    assert answer.status_code == 422, answer.text
    assert answer.json() == {"detail": "value: given twice in the body; give it once", "parameter": "value"}
    assert api.get(f"/api/v1/villages/{V}/indicators", headers=ADMIN).json()["entries"] == []
