"""The API as another service uses it: the published schema, the errors and docs/api.md say what it does."""

from __future__ import annotations

import csv
import io
import re
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import srv_scenario as sc
from srv_helpers import ADMIN, READ

from server.errors import ParameterError
from server.timeparse import iso, parse_time

A = sc.A["village"]
WINDOW = {"start": iso(sc.W_START), "end": iso(sc.W_END)}
ZONE = ZoneInfo("Asia/Ho_Chi_Minh")
API_DOC = (Path(__file__).resolve().parents[2] / "docs" / "api.md").read_text(encoding="utf-8")


def _section(title: str) -> str:
    return API_DOC.split(f"\n{title}", 1)[1].split("\n#", 1)[0]


def _documented(section: str, item: str) -> dict[str, list[str]]:
    """``- name: `a, b, c` `` items of a section of docs/api.md, as {name: [a, b, c]} (``item``: the name's form)."""
    found = re.findall(rf"^- {item}: `([^`]+)`", section, flags=re.MULTILINE)
    return {name: [" ".join(part.split()) for part in text.split(",")] for name, text in found}


def _server_reads(text: str) -> bool:
    now = datetime(2026, 12, 7, 12, tzinfo=ZONE)
    try:
        parse_time(text, now=now, zone=ZONE, parameter="start")
    except ParameterError:
        return False
    return True


def test_every_date_the_server_reads_matches_the_published_pattern(api):
    # validated against the schema, the 29th to the 31st of every month were refused while the server took them
    schema = api.get("/api/v1/openapi.json").json()
    (start,) = [p for p in schema["paths"]["/api/v1/villages"]["get"]["parameters"] if p["name"] == "start"]
    pattern = re.compile(start["schema"]["pattern"])
    october = [f"2026-10-{day:02d}" for day in range(1, 32)]
    # the years the description names (2000..2200), and the local times on their edges that lie inside it
    edges = ["2000-01-01T00:00:00Z", "2100-06-30", "2199-12-31T23:59:59Z", "2200-01-01T00:00:00Z"]
    edges += ["1999-12-31T20:00:00-05:00", "2200-01-01T06:00:00+07:00", "2026-12-31T23:59:59.5+07:00"]
    for text in october + edges:
        assert _server_reads(text), text
        assert pattern.match(text), text
    for text in ("2201-01-01", "1998-12-31", "2026-13-01", "2026-10-32", "2026-10-00"):
        assert not pattern.match(text) and not _server_reads(text), text
    assert "2000..2200" in start["description"]
    # the pattern does not count the days of each month: the server refuses an impossible date in words
    impossible = api.get("/api/v1/villages", params={"start": "2026-02-31"}, headers=READ)
    assert impossible.status_code == 422 and pattern.match("2026-02-31")
    assert impossible.json() == {
        "detail": "start: '2026-02-31' is not an ISO 8601 time (2025-03-01T00:00:00+07:00), a date (2025-03-01) "
        "or a relative time (-30d, now-2h)",
        "parameter": "start",
    }


@pytest.mark.parametrize(
    ("filters", "parameter", "detail"),
    [
        (
            {"province": "bac-giang", "district": "nowhere"},
            "district",
            "no village matches district 'nowhere' in province 'bac-giang' (known: son-dong)",
        ),
        # each place exists, not together: the filter after which no village is left is named
        (
            {"province": "bac-giang", "district": "huu-lung"},
            "district",
            "no village matches district 'huu-lung' in province 'bac-giang' (known: son-dong)",
        ),
        (
            {"province": "bac-giang", "district": "son-dong", "commune": "huu-lung"},
            "commune",
            "no village matches commune 'huu-lung' in province 'bac-giang' and district 'son-dong' "
            "(known: an-lac, thanh-son)",
        ),
        (
            {"province": "nowhere", "district": "son-dong"},
            "province",
            "no village matches province 'nowhere' (known: bac-giang, lang-son)",
        ),
        (
            {"commune": "nowhere"},
            "commune",
            "no village matches commune 'nowhere' (known: an-lac, huu-lung, thanh-son)",
        ),
    ],
)
@pytest.mark.parametrize("window", [WINDOW, {}], ids=["request", "criterion"])
def test_a_rollup_that_matches_no_village_names_the_filter_that_left_none(
    api, filters, parameter, detail, window
):
    answer = api.get("/api/v1/criteria", params={**filters, **window}, headers=READ)
    assert answer.status_code == 404
    assert answer.json() == {"detail": detail, "parameter": parameter}


def test_a_listing_over_places_that_exist_nowhere_is_empty_as_documented(api):
    listing = api.get("/api/v1/villages", params={"province": "nowhere", **WINDOW}, headers=READ)
    assert listing.status_code == 200 and listing.json()["villages"] == []
    villages = _section("### `GET /villages?")
    assert "matches no village" in villages and "empty" in villages
    schema = api.get("/api/v1/openapi.json").json()
    assert "404" not in schema["paths"]["/api/v1/villages"]["get"]["responses"]
    said = schema["paths"]["/api/v1/criteria"]["get"]["responses"]["404"]["description"]
    assert "filter" in said and "village is not in the data" not in said
    conventions = _section("## Conventions")
    assert "404 unknown village or a roll-up filter that matches no village" in conventions


def _csv(api, path: str, **params) -> list[list[str]]:
    answer = api.get(f"/api/v1{path}", params={"format": "csv", **params}, headers=READ)
    assert answer.status_code == 200, answer.text
    return list(csv.reader(io.StringIO(answer.text)))


def test_the_csv_headers_and_times_are_as_documented(api):
    documented = _documented(_section("## CSV"), "([a-z-]+)")
    # an end with milliseconds, as a default end (now) has: they are kept, and never padded to microseconds
    window = {"start": iso(sc.W_START), "end": iso(sc.W_END + 303)}
    tables = {
        "uptime": _csv(api, f"/villages/{A}/uptime", step="1d", **window),
        "outages": _csv(api, f"/villages/{A}/outages", **window),
        "criteria": _csv(api, f"/villages/{A}/criteria", **window),
        "roll-up": _csv(api, "/criteria", province="bac-giang", **window),
    }
    assert {name: table[0] for name, table in tables.items()} == documented
    local = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{3})?\+07:00$")
    for name, (header, *rows) in tables.items():
        for column in ("start", "end"):
            times = [row[header.index(column)] for row in rows if row[header.index(column)]]
            assert times and all(local.match(t) for t in times), (name, column, times[:3])
    end = tables["uptime"][-1][3]
    assert end == datetime.fromtimestamp((sc.W_END + 303) / 1000, ZONE).isoformat(timespec="milliseconds")
    assert end.endswith(".303+07:00")
    assert "2026-12-07T21:48:44.303+07:00" in _section("## CSV")
    assert "`format=excel`" in _section("## CSV")


ALL_FIGURES = """
version: 1
criteria:
""" + "".join(
    f"""
  - id: {figure.replace(".", "_")}
    title: {{vi: "{figure}", en: "{figure}"}}
    figure: {figure}
    params: {params}
    comparator: ">="
    threshold: 1
    window: 30d
    min_coverage: 0
"""
    for figure, params in [
        ("uplink.availability", "{link: fiber}"),
        ("wifi.service", "{}"),
        ("wifi.daily_users", "{}"),
        ("lighting.availability", "{}"),
        ("modem.registered_share", "{}"),
        ("modem.rsrp_share", "{rsrp_min_dbm: -110}"),
        ("indicator.value", "{indicator: eid_adoption_pct}"),
    ]
)


def test_each_figure_s_evidence_detail_holds_what_the_docs_list(seeded, app_for, tmp_path):
    criteria = tmp_path / "criteria.yaml"
    criteria.write_text(ALL_FIGURES, encoding="utf-8")
    api = app_for(seeded, criteria_file=str(criteria))
    entered = api.put(
        f"/api/v1/villages/{A}/indicators/eid_adoption_pct",
        json={"value": 30.0, "unit": "%", "note": "test", "time": iso(sc.D0 + sc.H)},
        headers=ADMIN,
    )
    assert entered.status_code == 200, entered.text
    answer = api.get(f"/api/v1/villages/{A}/criteria", params=WINDOW, headers=READ).json()
    given = {c["figure"]: list(c["evidence"]["detail"]) for c in answer["criteria"]}
    assert given == _documented(_section("### `GET /villages/{village}/criteria"), "`([a-z_]+\\.[a-z_]+)`")
    # a count is a whole number, as evidence.samples is (InfluxDB's sums made it 28.0)
    uplink = next(c["evidence"] for c in answer["criteria"] if c["figure"] == "uplink.availability")
    assert isinstance(uplink["detail"]["samples"], int) and uplink["detail"]["samples"] == uplink["samples"]
