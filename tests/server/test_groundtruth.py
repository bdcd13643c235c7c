"""Every figure of the API against synthetic villages whose ground truth is known (see scenario.py)."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import srv_scenario as sc
from srv_helpers import ADMIN, READ

from server.timeparse import iso

ZONE = ZoneInfo("Asia/Ho_Chi_Minh")

POINTS = sc.all_points()
WINDOW = {"start": iso(sc.W_START), "end": iso(sc.W_END)}
A = sc.A["village"]
PP = 0.01  # percentage points


def get(api, path: str, **params) -> dict:
    response = api.get(f"/api/v1{path}", params={**WINDOW, **params}, headers=READ)
    assert response.status_code == 200, response.text
    return response.json()


def assert_matches(got: dict, ref: dict) -> None:
    assert got["availability_pct"] == pytest.approx(ref["availability_pct"], abs=PP)
    for key in ("up_s", "down_s", "unknown_s", "observed_s"):
        assert got[key] == pytest.approx(ref[key], abs=1e-6), key
    assert got["coverage"] == pytest.approx(ref["coverage"], abs=1e-9)
    assert got["samples"] == ref["samples"]


def test_uptime_per_link_equals_the_ground_truth(api):
    body = get(api, f"/villages/{A}/uptime")
    links = {link["link"]: link for link in body["links"]}
    assert set(links) == {"fiber", "4g"}
    for link in links:
        assert_matches(
            links[link], sc.reference_availability(POINTS, sc.W_START, sc.W_END, village=A, link=link)
        )
    fiber = links["fiber"]
    # by hand: 2,640 minute samples (4 h gap), 9,005 s down (10:00:00 .. 12:30:05)
    assert (fiber["observed_s"], fiber["down_s"], fiber["unknown_s"]) == (158_400, 9_005, 14_400)
    assert fiber["availability_pct"] == pytest.approx(100 * 149_395 / 158_400, abs=PP)
    assert links["4g"]["availability_pct"] == pytest.approx(93.75, abs=PP)
    assert body["window"] == {
        "start": WINDOW["start"],
        "end": WINDOW["end"],
        "seconds": 172_800.0,
        "timezone": "Asia/Ho_Chi_Minh",
    }
    assert all('"uplink"' in q for q in body["queries"])


def test_uptime_per_local_day_puts_the_gap_in_unknown(api):
    body = get(api, f"/villages/{A}/uptime", step="1d", link="fiber")
    (fiber,) = body["links"]
    day1, day2 = fiber["steps"]
    assert (day1["start"], day1["end"], day2["end"]) == (
        iso(sc.D0),
        iso(sc.D0 + sc.DAY),
        iso(sc.D0 + 2 * sc.DAY),
    )
    assert_matches(day1, sc.reference_availability(POINTS, sc.D0, sc.D0 + sc.DAY, village=A, link="fiber"))
    assert_matches(day2, sc.reference_availability(POINTS, sc.D0 + sc.DAY, sc.W_END, village=A, link="fiber"))
    assert (day2["availability_pct"], day2["unknown_s"], day2["down_s"]) == (100.0, 14_400, 0)


def test_hourly_steps_on_an_unaligned_window(api):
    start, end = sc.D0 + 9 * sc.H + 17 * sc.M, sc.D0 + 13 * sc.H + 1_500
    body = get(api, f"/villages/{A}/uptime", step="1h", link="fiber", start=iso(start), end=iso(end))
    steps = body["links"][0]["steps"]
    assert [s["start"] for s in steps][:2] == [iso(start), iso(sc.D0 + 10 * sc.H)]
    assert steps[-1]["end"] == iso(end)
    for s in steps:
        ref = sc.reference_availability(POINTS, _ms(s["start"]), _ms(s["end"]), village=A, link="fiber")
        assert_matches(s, ref)
    # 10:00..11:00 was down throughout; the sample stamped 10:00:00 stands for 09:59..10:00 (up) and belongs,
    # like every sample, to the bucket holding its timestamp
    assert steps[1]["availability_pct"] == pytest.approx(100 * 60 / 3600, abs=PP)


def _ms(text: str) -> int:
    from datetime import datetime

    return int(datetime.fromisoformat(text).timestamp() * 1000)


def test_outages_to_the_second_including_one_open_at_each_end_of_the_window(api):
    body = get(api, f"/villages/{A}/outages")
    assert [
        (
            o["link"],
            o["start"],
            o["end"],
            o["open"],
            o["started_before_window"],
            o["duration_s"],
            o["in_window_s"],
            o["reason"],
        )
        for o in body["outages"]
    ] == [
        ("4g", iso(sc.LTE_DOWN_1[0]), iso(sc.LTE_DOWN_1[1]), False, True, 10_800.0, 7_200.0, "no signal"),
        (
            "fiber",
            iso(sc.FIBER_DOWN[0]),
            iso(sc.FIBER_DOWN[1]),
            False,
            False,
            9_005.0,
            9_005.0,
            "targets unreachable",
        ),
        ("4g", iso(sc.LTE_DOWN_2), None, True, False, 3_600.0, 3_600.0, "sim error"),
    ]
    links = {x["link"]: x for x in body["links"]}
    assert links["fiber"] == {
        "link": "fiber",
        "failures": 1,
        "restored": 1,
        "downtime_s": 9_005.0,
        "mtbf_s": 172_800.0 - 9_005.0 - 14_400.0,
        "mttr_s": 9_005.0,
    }  # the 4 h gap is unknown, not up
    assert links["4g"] == {
        "link": "4g",
        "failures": 1,
        "restored": 1,
        "downtime_s": 10_800.0,
        "mtbf_s": 172_800.0 - 10_800.0,
        "mttr_s": 10_800.0,
    }
    only_fiber = get(api, f"/villages/{A}/outages", link="fiber")
    assert [o["link"] for o in only_fiber["outages"]] == ["fiber"]


def test_wifi_service_and_daily_users(api):
    body = get(api, f"/villages/{A}/wifi")
    assert body["service"]["basis"] == "all_hours"
    assert body["service"]["availability_pct"] == pytest.approx(100 * (172_800 - 3_600) / 172_800, abs=PP)
    assert body["service"]["coverage"] == 1.0
    assert body["use"]["days"] == [
        {"date": iso(sc.D0 + 7 * sc.H)[:10], "unique_users": 34},
        {"date": iso(sc.D0 + sc.DAY + 7 * sc.H)[:10], "unique_users": 41},
    ]
    assert body["use"]["mean_daily_users"] == 37.5
    assert sum(w["user_days"] for w in body["use"]["weeks"]) == 75


def _users(api, start_ms: int, end_ms: int) -> dict:
    return get(api, f"/villages/{A}/wifi", start=iso(start_ms), end=iso(end_ms))["use"]


def test_daily_users_of_every_local_day_the_window_touches(api):
    day1 = sc.D0 + sc.DAY  # 00:00 local, the stamp of day 1's wifi_daily point (41 users)
    date0, date1 = iso(sc.D0 + 7 * sc.H)[:10], iso(day1 + 7 * sc.H)[:10]
    # 10:00..10:30 local on day 1: the day's point, stamped ten hours before the window opens, counts
    use = _users(api, day1 + 10 * sc.H, day1 + 10 * sc.H + 30 * sc.M)
    assert use["days"] == [{"date": date1, "unique_users": 41}]
    assert (use["mean_daily_users"], use["days_with_data"], use["coverage"]) == (41.0, 1, 1.0)
    # 19:00..24:00 local on day 0, entirely before day 1's midnight: day 0 only
    use = _users(api, day1 - 5 * sc.H, day1)
    assert use["days"] == [{"date": date0, "unique_users": 34}]
    # 23:00 on day 0 .. 01:00 on day 1: both
    assert [d["unique_users"] for d in _users(api, day1 - sc.H, day1 + sc.H)["days"]] == [34, 41]
    # 10:00 on day 1 .. 10:00 two days later touches three days, one of them (day 2) without a point
    use = _users(api, day1 + 10 * sc.H, day1 + 2 * sc.DAY + 10 * sc.H)
    assert (use["days_with_data"], use["coverage"]) == (1, pytest.approx(1 / 3))


@pytest.mark.parametrize("tz", ["UTC", "Europe/London", "America/New_York"])
def test_a_requests_tz_moves_no_gateways_day(api, tz: str):
    """A daily point is stamped at the gateway's local midnight (Asia/Ho_Chi_Minh): a request's ``tz=`` changes
    how times are read and labelled, not which point is a day's. Before, ``tz=UTC`` read from UTC midnight and
    missed the day's point (insufficient_data), and Europe/London dated it the day before."""
    day1 = sc.D0 + sc.DAY
    window = {"start": iso(day1 + 10 * sc.H), "end": iso(day1 + 10 * sc.H + 5 * sc.M)}
    date1 = iso(day1 + 7 * sc.H)[:10]
    here = get(api, f"/villages/{A}/criteria", **window)
    there = get(api, f"/villages/{A}/criteria", **window, tz=tz)
    [ours] = [c for c in here["criteria"] if c["id"] == "wifi_use"]
    [theirs] = [c for c in there["criteria"] if c["id"] == "wifi_use"]
    assert (
        (theirs["verdict"], theirs["evidence"]["value"])
        == (ours["verdict"], ours["evidence"]["value"])
        == (
            "pass",
            41.0,
        )
    )
    assert get(api, f"/villages/{A}/wifi", **window, tz=tz)["use"]["days"] == [
        {"date": date1, "unique_users": 41}
    ]


def test_wifi_use_criterion_over_a_window_of_minutes(api):
    start = sc.D0 + sc.DAY + 10 * sc.H
    body = get(api, f"/villages/{A}/criteria", start=iso(start), end=iso(start + 5 * sc.M))
    wifi_use = next(c for c in body["criteria"] if c["id"] == "wifi_use")
    assert wifi_use["verdict"] == "pass"
    assert (wifi_use["evidence"]["value"], wifi_use["evidence"]["coverage"]) == (41.0, 1.0)
    # the day is counted whole, its users before 10:00 and after 10:05 too: the evidence says which days
    detail = wifi_use["evidence"]["detail"]
    assert (detail["days_from"], detail["days_until"]) == (iso(sc.D0 + sc.DAY), iso(sc.D0 + 2 * sc.DAY))
    assert f"time >= '{iso(sc.D0 + sc.DAY)}'" in wifi_use["evidence"]["queries"][0]


def test_wifi_during_opening_hours_when_the_ap_reports_them(api):
    body = get(api, f"/villages/{sc.B['village']}/wifi")
    # open 07:00..21:00 (14 h a day), down 08:00..09:00: 13/14 of opening hours
    assert body["service"]["basis"] == "opening_hours"
    assert body["service"]["availability_pct"] == pytest.approx(100 * 13 / 14, abs=PP)
    assert body["service"]["open_s"] == 2 * 14 * 3600


def test_lighting_availability_and_the_failed_light(api):
    body = get(api, f"/villages/{A}/lighting")
    chosen = sc.in_window(POINTS, sc.W_START, sc.W_END, "streetlight", village=A)
    expected = sum(p.fields["expected_on_s"] for p in chosen)
    lit = sum(p.fields["lit_when_expected_s"] for p in chosen)
    assert expected == 3 * 86_400  # 12 h a night, two nights, three lights
    assert body["availability_pct"] == pytest.approx(100 * lit / expected, abs=PP)
    lights = {x["light"]: x for x in body["lights"]}
    assert lights["L1"]["availability_pct"] == 100.0
    l3 = [p for p in chosen if p.tags["light"] == "L3"]
    assert lights["L3"]["lit_when_expected_s"] == sum(p.fields["lit_when_expected_s"] for p in l3)
    assert lights["L3"]["fault"] == "lamp_failure"
    assert body["by_fault"] == {"lamp_failure": ["L3"]}
    assert body["coverage"] == 1.0


def test_modem_shares_and_medians(api):
    body = get(api, f"/villages/{A}/modem")
    assert body["samples"] == 576
    assert body["registered_pct"] == pytest.approx(100 * 566 / 576, abs=PP)
    assert body["rsrp_share_pct"]["-110"] == pytest.approx(100 * 278 / 566, abs=PP)
    assert body["rsrp_share_pct"]["-120"] == 100.0
    assert body["hours_with_data"] == 48 and body["coverage"] == 1.0
    assert body["medians"] == [
        {"link": "4g", "modem": "ec25", "rsrp_dbm": -115, "rsrq_db": -10, "sinr_db": 8, "rssi_dbm": -70}
    ]


@pytest.fixture(scope="module")
def eid_entered(seeded):
    """The e-ID indicator entered by an official through the API, dated inside the window."""
    from fastapi.testclient import TestClient
    from srv_helpers import make_config

    from server.app import create_app

    with TestClient(create_app(make_config(seeded.url, seeded.database))) as client:
        response = client.put(
            f"/api/v1/villages/{A}/indicators/eid_adoption_pct",
            headers=ADMIN,
            json={"value": 27.5, "unit": "%", "note": "commune office", "time": iso(sc.D0 + sc.DAY)},
        )
    assert response.status_code == 200, response.text
    return response.json()


def test_indicator_is_stored_as_a_contract_point_with_who_entered_it(eid_entered, seeded):
    assert eid_entered["source"] == "commune office (key officer-hoa)"
    rows = seeded.select("SELECT * FROM indicator GROUP BY *").series
    assert rows[0].tags | {} == {
        "village": A,
        "gateway": "manual",
        "indicator": "eid_adoption_pct",
        "commune": "an-lac",
        "district": "son-dong",
        "province": "bac-giang",
    }
    assert rows[0].rows()[0]["value"] == 27.5 and rows[0].rows()[0]["unit"] == "%"


def test_village_criteria_verdicts_with_evidence(api, eid_entered):
    body = get(api, f"/villages/{A}/criteria")
    verdicts = {c["id"]: c for c in body["criteria"]}
    assert {k: v["verdict"] for k, v in verdicts.items()} == {
        "fiber_availability": "fail",
        "lte_availability": "fail",
        "lte_signal": "fail",
        "wifi_service": "pass",
        "wifi_use": "pass",
        "street_lighting": "fail",
        "eid_adoption": "pass",
    }
    fiber = verdicts["fiber_availability"]["evidence"]
    assert fiber["value"] == pytest.approx(100 * 149_395 / 158_400, abs=PP)
    assert fiber["coverage"] == pytest.approx(158_400 / 172_800)
    assert fiber["samples"] == 2_640
    assert fiber["window"]["start"] == WINDOW["start"] and fiber["window"]["end"] == WINDOW["end"]
    assert fiber["queries"] and all(q.startswith("SELECT") for q in fiber["queries"])
    assert verdicts["eid_adoption"]["evidence"]["value"] == 27.5
    assert body["counts"] == {"pass": 3, "fail": 4, "insufficient_data": 0, "unverified": 0}


def test_too_little_data_is_insufficient_never_a_pass(api):
    body = get(api, f"/villages/{sc.C['village']}/criteria")
    verdicts = {c["id"]: c for c in body["criteria"]}
    fiber = verdicts["fiber_availability"]
    assert fiber["evidence"]["value"] == 100.0  # everything it saw was up ...
    assert fiber["evidence"]["coverage"] == pytest.approx(7_200 / 172_800)  # ... but it saw two hours
    assert fiber["verdict"] == "insufficient_data"
    assert body["counts"]["pass"] == 0


def test_province_rollup_counts_and_verdicts(api, eid_entered):
    body = get(api, "/criteria", province="bac-giang")
    villages = {v["village"]: v for v in body["villages"]}
    assert set(villages) == {A, sc.B["village"], sc.C["village"]}  # xa-khac is in lang-son
    assert villages[A]["province"] == "bac-giang" and villages[A]["commune"] == "an-lac"
    fiber = {c["id"]: c for c in body["criteria"]}["fiber_availability"]
    assert fiber["counts"] == {"pass": 1, "fail": 1, "insufficient_data": 1, "unverified": 0}
    assert villages[sc.B["village"]]["verdicts"]["fiber_availability"]["verdict"] == "pass"
    assert villages[A]["verdicts"]["fiber_availability"]["value"] == pytest.approx(
        100 * 149_395 / 158_400, abs=PP
    )
    district = get(api, "/criteria", district="son-dong", commune="thanh-son")
    assert [v["village"] for v in district["villages"]] == [sc.C["village"]]


def test_villages_list_with_place_and_last_seen(api):
    body = get(api, "/villages", start=iso(sc.D0 - sc.DAY), end=iso(sc.W_END + sc.DAY))
    villages = {v["village"]: v for v in body["villages"]}
    assert set(villages) == {A, sc.B["village"], sc.C["village"], sc.D["village"]}
    assert villages[A] | {} == {
        "village": A,
        "gateway": "gw-kly",
        "commune": "an-lac",
        "district": "son-dong",
        "province": "bac-giang",
        "last_seen": iso(sc.D0 + 2 * sc.DAY + 59 * sc.M),
        "last_seen_precision": "sample",
    }
    assert villages[sc.C["village"]]["last_seen"] == iso(sc.D0 + 5 * sc.H + 119 * sc.M)


def test_csv_exports(api):
    response = api.get(
        f"/api/v1/villages/{A}/uptime",
        params={**WINDOW, "step": "1d"},
        headers={**READ, "Accept": "text/csv"},
    )
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    lines = response.text.splitlines()
    assert (
        lines[0] == "village,link,start,end,availability_pct (%),up_s (s),down_s (s),unknown_s (s),"
        "observed_s (s),coverage (0..1),samples,timezone"
    )
    assert len(lines) == 1 + 2 * 2  # two links, two days
    assert response.headers["content-disposition"] == (
        f"attachment; filename=\"uptime-{A}.csv\"; filename*=UTF-8''uptime-{A}.csv"
    )
    outages = api.get(f"/api/v1/villages/{A}/outages", params={**WINDOW, "format": "csv"}, headers=READ)
    rows = outages.text.splitlines()
    local = [datetime.fromtimestamp(ms / 1000, ZONE).isoformat() for ms in sc.FIBER_DOWN]
    assert rows[2].startswith(f"{A},fiber,{local[0]},{local[1]},false,false,9005.0")  # Excel reads them right
    assert local[0].endswith("+07:00")
    excel = api.get(f"/api/v1/villages/{A}/outages", params={**WINDOW, "format": "excel"}, headers=READ)
    assert excel.content.startswith("\ufeff".encode()) and excel.content[3:] == outages.content
    rollup = api.get(
        "/api/v1/criteria", params={**WINDOW, "province": "bac-giang", "format": "csv"}, headers=READ
    )
    assert rollup.status_code == 200 and len(rollup.text.splitlines()) == 1 + 3 * 7
