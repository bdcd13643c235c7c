"""An official enters a manual indicator on the village page: an admin key signed in, a decimal comma, a day;
the entry is the API's (same record, same signature), a refusal names its field and writes nothing, and an
entry the service never signed can be confirmed, signed, in one click. A real InfluxDB under the service."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from html import unescape
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from influxkit import scratch_database
from pages_kit import ADMIN_KEY, READ_KEY, controls_on_a_phone, page_config, shot, signing_site
from signed_kit import SITE
from test_browser import sign_in

from lab.localservices import free_port
from server.app import create_app
from server.pages.entry_form import EntryForm, typed
from server.timeparse import iso
from thonminh.contract import INDICATOR, INDICATOR_ENTRY, UPLINK, Point
from thonminh.lineprotocol import encode_line

ZONE = ZoneInfo("Asia/Ho_Chi_Minh")
VILLAGE = "kha-ly-thuong"
PAGE = f"/pages/villages/{VILLAGE}"
FORM = f"{PAGE}/indicators"
API = f"/api/v1/villages/{VILLAGE}"
POSTED = {"Content-Type": "application/x-www-form-urlencoded", "Sec-Fetch-Site": "same-origin"}
NOW_MS = int(time.time() * 1000)
DAY_MS = 86_400_000


@pytest.fixture
def influx(influxdb):
    with scratch_database(influxdb, "entry_form") as client:
        uplink = {"up": 1, "up_s": 60.0, "observed_s": 60.0}
        client.write(
            [encode_line(Point(UPLINK.name, {**SITE, "village": VILLAGE, "link": "fiber"}, uplink, NOW_MS))]
        )
        yield client


@pytest.fixture
def site(influx, tmp_path) -> Iterator[TestClient]:
    with signing_site(influx.url, influx.database, tmp_path) as client:
        yield client


def _sign_in(client: TestClient, key: str = ADMIN_KEY) -> None:
    answer = client.post(
        "/pages/signin", content=f"key={key}&next={PAGE}", headers=POSTED, follow_redirects=False
    )
    assert answer.status_code == 303


def _post(client: TestClient, fields: dict[str, str], **headers: str):
    body = "&".join(f"{k}={v}" for k, v in fields.items())
    return client.post(FORM, content=body.encode(), headers=POSTED | headers, follow_redirects=False)


def _entries(client: TestClient) -> list[dict]:
    return client.get(f"{API}/indicators", headers={"X-API-Key": READ_KEY}).json()["entries"]


def _eid(client: TestClient) -> dict:
    body = client.get(f"{API}/criteria", headers={"X-API-Key": READ_KEY}).json()
    return next(c for c in body["criteria"] if c["id"] == "eid_adoption")


def _days_ago(days: int) -> str:
    return (datetime.now(ZONE).date() - timedelta(days=days)).isoformat()


def _text(html: str) -> str:
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())


def test_an_admin_enters_a_value_with_a_decimal_comma_and_the_page_names_it(site) -> None:
    _sign_in(site)
    page = site.get(PAGE)
    assert 'id="entry"' in page.text and 'max="' + datetime.now(ZONE).date().isoformat() + '"' in page.text
    day = _days_ago(2)
    answer = _post(
        site, {"indicator": "eid_adoption_pct", "value": "27,5", "date": day, "note": "Biên bản 12"}
    )
    assert answer.status_code == 303, answer.text
    [entry] = _entries(site)
    midnight = datetime.fromisoformat(day).replace(tzinfo=ZONE)
    assert (entry["value"], entry["time"], entry["source"], entry["signature"]) == (
        27.5,
        iso(int(midnight.timestamp() * 1000)),
        "Biên bản 12 (key officer-hoa)",
        "verified",
    )
    assert answer.headers["location"] == f"{PAGE}?entered={entry['entered'].replace(':', '%3A')}#indicators"
    shown = _text(site.get(answer.headers["location"]).text)
    assert "Đã ghi Tỷ lệ người dân kích hoạt định danh điện tử (VNeID): 27,5 %, tính đến" in shown
    eid = _eid(site)
    assert (eid["verdict"], eid["evidence"]["verified_pct"]) == ("pass", 100.0)


def test_a_link_naming_an_entry_that_is_not_there_shows_no_notice(site) -> None:
    _sign_in(site)
    assert "Đã ghi" not in _text(site.get(PAGE, params={"entered": iso(NOW_MS)}).text)


def test_the_english_page_takes_a_decimal_point_and_an_empty_day_is_now(site) -> None:
    _sign_in(site)
    before = int(time.time() * 1000)
    answer = site.post(
        FORM + "?lang=en",
        content=b"indicator=eid_adoption_pct&value=26.25&date=&note=",
        headers=POSTED,
        follow_redirects=False,
    )
    assert answer.status_code == 303 and "lang=en" in answer.headers["location"]
    [entry] = _entries(site)
    assert entry["value"] == 26.25 and entry["source"] == "key officer-hoa"
    assert (
        entry["time"] == entry["entered"]
        and datetime.fromisoformat(entry["time"]).timestamp() * 1000 >= before
    )
    shown = _text(site.get(answer.headers["location"]).text)
    assert "Entered Share of residents with an activated e-ID (VNeID): 26.25 %, as of" in shown, shown[-3000:]


@pytest.mark.parametrize(
    ("fields", "field", "said"),
    [
        ({"value": "abc"}, "value", "Giá trị phải là một số từ 0 đến 100 %, ví dụ 27,5."),
        ({"value": "1.000"}, "value", "Giá trị phải là một số từ 0 đến 100 %"),  # a thousand, to a Vietnamese
        ({"value": "120"}, "value", "Giá trị phải là một số từ 0 đến 100 %"),
        ({"value": "-3"}, "value", "Giá trị phải là một số từ 0 đến 100 %"),
        ({"value": ""}, "value", "Giá trị phải là một số từ 0 đến 100 %"),
        ({"date": "2099-01-01"}, "date", "Ngày phải là một ngày có thật, từ năm 2000 đến hôm nay."),
        ({"date": "01/12/2026"}, "date", "Ngày phải là một ngày có thật, từ năm 2000 đến hôm nay."),
        ({"note": "a%0Ab"}, "note", "Ghi chú dài tối đa 200 ký tự, trên một dòng"),
        ({"note": "x" * 201}, "note", "Ghi chú dài tối đa 200 ký tự"),
        ({"indicator": "population"}, "indicator", "Không có chỉ số này."),
        ({"indicator": "population", "value": "abc"}, "indicator", "Không có chỉ số này."),
        ({"corrects": "2026-01-01T00:00:00Z"}, "corrects", "Không tìm thấy lần nhập cần xác nhận"),
    ],
)
def test_a_refused_field_is_named_the_form_keeps_what_was_typed_and_nothing_is_written(
    site, fields, field, said
) -> None:
    _sign_in(site)
    typed_in = {
        "indicator": "eid_adoption_pct",
        "value": "27,5",
        "date": _days_ago(1),
        "note": "ghi chú",
    } | fields
    answer = _post(site, typed_in)
    assert answer.status_code == 422
    shown = _text(answer.text)
    assert "Số liệu chưa được ghi." in shown and said in shown, shown[:2000]
    invalid = re.findall(r'name="(\w+)"[^>]*aria-invalid="true"', answer.text)
    assert invalid == ([] if field == "corrects" else [field])  # the entry confirmed is no field one types
    if field != "indicator":
        kept = re.search(r'name="value"[^>]*value="([^"]*)"', answer.text)
        assert kept is not None and unescape(kept.group(1)) == typed_in["value"]
    assert _entries(site) == []


def test_a_read_key_sees_no_form_and_its_post_is_refused(site) -> None:
    _sign_in(site, READ_KEY)
    page = site.get(PAGE)
    assert 'id="entry"' not in page.text and "hãy đăng nhập bằng khóa quản trị" in page.text
    refused = _post(site, {"indicator": "eid_adoption_pct", "value": "30"})
    assert refused.status_code == 403 and "Chỉ khóa quản trị mới được nhập số liệu" in refused.text
    assert _entries(site) == []


def test_a_post_without_a_session_gets_the_sign_in_form(site) -> None:
    refused = _post(site, {"indicator": "eid_adoption_pct", "value": "30"})
    assert refused.status_code == 401 and 'id="signin"' in refused.text
    assert _entries(site) == []


@pytest.mark.parametrize("headers", [{"Sec-Fetch-Site": "cross-site"}, {"Origin": "https://evil.example"}])
def test_an_entry_posted_from_another_site_is_not_recorded(site, headers) -> None:
    _sign_in(site)
    refused = site.post(
        FORM,
        content=b"indicator=eid_adoption_pct&value=99",
        headers={"Content-Type": "application/x-www-form-urlencoded"} | headers,
        follow_redirects=False,
    )
    assert refused.status_code == 403 and "được gửi từ một trang khác nên không được ghi" in refused.text
    assert _entries(site) == []


def test_a_post_that_is_not_the_form_and_an_unknown_village(site) -> None:
    _sign_in(site)
    twice = _post(site, {"value": "1", "indicator": "eid_adoption_pct&value=2"})
    assert twice.status_code == 400 and "trường «value» được gửi hai lần" in unescape(twice.text)
    unknown = site.post(
        "/pages/villages/thon-ma/indicators",
        content=b"indicator=eid_adoption_pct&value=40",
        headers=POSTED,
        follow_redirects=False,
    )
    assert unknown.status_code == 404 and "thon-ma" in unknown.text
    far = site.post(f"/pages/villages/{'x' * 300}/indicators", content=b"value=40", headers=POSTED)
    assert far.status_code == 404
    assert site.get("/api/v1/villages/thon-ma/indicators", headers={"X-API-Key": READ_KEY}).status_code == 404
    assert _entries(site) == []


def test_the_forms_address_asked_for_again_is_the_village_page(site) -> None:
    again = site.get(FORM + "?lang=en", follow_redirects=False)
    assert again.status_code == 303 and again.headers["location"] == f"{PAGE}?lang=en#indicators"


def test_an_entry_the_service_never_signed_is_confirmed_and_signed_in_one_click(site, influx) -> None:
    """An entry made before the service signed entries: unverified, until an official confirms its value."""
    as_of, entered = NOW_MS - 3 * DAY_MS, NOW_MS - 3 * DAY_MS + 60_000
    # as the service wrote them, with the village's places, before it signed them
    tags = {"village": VILLAGE, "gateway": "manual", "indicator": "eid_adoption_pct"}
    tags |= {k: SITE[k] for k in ("commune", "province")}
    said = {"value": 31.123456789, "unit": "%", "source": "key officer-cu"}
    old = [
        Point(INDICATOR.name, tags, said, as_of),
        Point(INDICATOR_ENTRY.name, tags, said | {"note": "", "as_of_ms": as_of, "corrects": ""}, entered),
    ]
    influx.write(map(encode_line, old))
    assert _eid(site)["verdict"] == "unverified"
    _sign_in(site)
    page = site.get(PAGE).text
    confirm = re.search(r'<form method="post"[^>]*class="inline confirm">(.*?)</form>', page, re.S)
    assert confirm is not None
    fields = dict(re.findall(r'type="hidden" name="(\w+)" value="([^"]*)"', confirm.group(1)))
    assert fields == {"indicator": "eid_adoption_pct", "value": "31,123456789", "corrects": iso(entered)}
    answer = _post(site, {k: v.replace(":", "%3A") for k, v in fields.items()})
    assert answer.status_code == 303, answer.text
    new, old_entry = _entries(site)
    assert (new["value"], new["time"], new["corrects"], new["signature"]) == (
        31.123456789,
        iso(as_of),
        iso(entered),
        "verified",
    )
    assert old_entry["superseded_by"] == new["entered"] and old_entry["signature"] == "unsigned"
    eid = _eid(site)
    assert (eid["verdict"], eid["evidence"]["verified_pct"]) == ("pass", 100.0)
    assert 'class="inline confirm"' not in site.get(PAGE).text  # a superseded entry needs no confirming


@pytest.mark.parametrize("value", [0.0, 1e-05, 27.5, 31.123456789, 99.99999999999999, 100.0, 1 / 3])
def test_a_value_written_for_the_form_reads_back_the_same(value) -> None:
    assert EntryForm(value=typed(value)).body().value == value


def test_an_official_enters_a_value_in_a_real_browser(live, watched) -> None:
    page, seen = watched
    sign_in(page, live, ADMIN_KEY, PAGE)
    page.fill("#entry input[name=value]", "abc")
    page.click("#entry button[type=submit]")
    page.wait_for_load_state("load")
    assert "Số liệu chưa được ghi." in page.inner_text("#entry")
    assert page.evaluate("document.activeElement.name") == "value"  # the field at fault has the focus
    page.fill("#entry input[name=value]", "28,4")
    page.fill("#entry input[name=note]", "Công an xã, tháng 12")
    page.click("#entry button[type=submit]")
    page.wait_for_load_state("load")
    assert "?entered=" in page.url and page.url.endswith("#indicators")
    notice = page.inner_text("#indicators .notice.done")
    assert "28,4 %" in notice and "Công an xã, tháng 12 (khóa API officer-hoa)" in page.inner_text(
        "#indicators table"
    )
    shot(page, "village_indicator_entered")
    assert seen.foreign() == []
    assert [e for e in seen.errors if "status of 422" not in e] == [], seen.errors


@pytest.mark.viewport({"width": 360, "height": 800})
def test_the_form_fits_a_phone_and_stays_off_paper(live, watched) -> None:
    page, _ = watched
    sign_in(page, live, ADMIN_KEY, PAGE)
    assert controls_on_a_phone(page, "#entry") == 5
    page.locator("#entry").scroll_into_view_if_needed()
    shot(page, "village-entry-360")
    page.emulate_media(media="print")
    assert not page.locator("#entry").is_visible()


def test_a_note_is_shown_as_text_never_as_markup(site) -> None:
    _sign_in(site)
    answer = _post(
        site, {"indicator": "eid_adoption_pct", "value": "30", "note": "%3Cscript%3Ealert(1)%3C%2Fscript%3E"}
    )
    assert answer.status_code == 303
    page = site.get(answer.headers["location"]).text
    assert "<script>alert(1)" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_an_entry_made_while_influxdb_is_down_says_it_was_not_recorded(tmp_path) -> None:
    dead = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    config = page_config(dead, "thonminh", evidence={"registry": str(tmp_path / "keys.sqlite")})
    with TestClient(create_app(config)) as client:
        _sign_in(client)
        answer = _post(client, {"indicator": "eid_adoption_pct", "value": "30"})
    assert answer.status_code == 503 and answer.headers["retry-after"] == "5"
    assert "Số liệu chưa được ghi. Lúc này không đọc được cơ sở dữ liệu đo đạc (InfluxDB)" in _text(
        answer.text
    )


def test_an_entry_the_services_key_cannot_sign_is_not_recorded_and_says_why(site, tmp_path) -> None:
    _sign_in(site)
    assert _post(site, {"indicator": "eid_adoption_pct", "value": "30"}).status_code == 303
    (tmp_path / "service.key").chmod(0o644)  # others could read it: it signs nothing more
    answer = _post(site, {"indicator": "eid_adoption_pct", "value": "31"})
    assert answer.status_code == 503
    shown = _text(answer.text)
    assert "Số liệu chưa được ghi. Không dùng được khóa ký của dịch vụ" in shown, shown[:1500]
    assert [e["value"] for e in _entries(site)] == [30.0]


def test_open_read_only_mode_takes_no_entry_from_an_admin_key_either(influx) -> None:
    """The API's PUT refuses every change in open read-only mode; the page's form is no way around it."""
    config = page_config(influx.url, influx.database)
    with TestClient(create_app(config, open_read_only=True)) as client:
        _sign_in(client)
        page = client.get(PAGE).text
        assert 'id="entry"' not in page and "hãy đăng nhập bằng khóa quản trị" not in page
        refused = _post(client, {"indicator": "eid_adoption_pct", "value": "30"})
        assert refused.status_code == 403 and "chế độ chỉ đọc" in _text(refused.text)
        assert _entries(client) == []
