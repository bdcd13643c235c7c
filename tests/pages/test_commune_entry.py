"""A commune's table for the e-ID share (server/pages/commune_entry.py): a commune official enters every
village's value at once, each entered and signed for its own village as the village page's form does, and a
refused value enters none. On the real InfluxDB."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from html import unescape
from urllib.parse import quote, urlencode
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from influxkit import scratch_database
from pages_kit import ADMIN_KEY, READ_KEY, controls_on_a_phone, page_config, shot, signing_site
from test_browser import sign_in

from lab.localservices import InfluxDBServer
from server.app import create_app
from server.pages.commune_entry import CommuneForm
from thonminh.contract import UPLINK, Point, site_tags
from thonminh.influx import InfluxClient
from thonminh.lineprotocol import encode_line

ZONE = ZoneInfo("Asia/Ho_Chi_Minh")
COMMUNE = "an-lac"
TABLE = f"/pages/communes/{COMMUNE}/indicators"
POSTED = {"Content-Type": "application/x-www-form-urlencoded", "Sec-Fetch-Site": "same-origin"}
READ = {"X-API-Key": READ_KEY}
#: the commune's villages as the table lists them (by name), and one of another commune
VILLAGES = ["ban-ven", "kha-ly-thuong", "lang-moi"]
ELSEWHERE = "ngoai-xa"
EID = "eid_adoption_pct"


def _uplinks(places: list[tuple[str, str]]) -> list[str]:
    """A sample of each village's fiber now, tagged with its commune: the villages the data has."""
    now_ms = int(time.time() * 1000)
    uplink = {"up": 1, "up_s": 60.0, "observed_s": 60.0}
    return [
        encode_line(
            Point(
                UPLINK.name,
                {**site_tags(v, f"gw-{v}", commune=c, province="bac-giang"), "link": "fiber"},
                uplink,
                now_ms,
            )
        )
        for v, c in places
    ]


@pytest.fixture
def influx(influxdb):
    with scratch_database(influxdb, "commune_entry") as client:
        client.write(_uplinks([(v, COMMUNE) for v in VILLAGES] + [(ELSEWHERE, "quang-minh")]))
        yield client


@pytest.fixture
def site(influx, tmp_path) -> Iterator[TestClient]:
    with signing_site(influx.url, influx.database, tmp_path) as client:
        yield client


def _sign_in(client: TestClient, key: str = ADMIN_KEY) -> None:
    body = f"key={key}&next={TABLE}"
    assert (
        client.post("/pages/signin", content=body, headers=POSTED, follow_redirects=False).status_code == 303
    )


def _post(client: TestClient, fields: dict[str, str], path: str = TABLE, **headers: str):
    return client.post(
        path, content=urlencode(fields).encode(), headers=POSTED | headers, follow_redirects=False
    )


def _entries(client: TestClient, village: str) -> list[dict]:
    return client.get(f"/api/v1/villages/{village}/indicators", headers=READ).json()["entries"]


def _text(html: str) -> str:
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())


def _day(days_ago: int) -> str:
    return (datetime.now(ZONE).date() - timedelta(days=days_ago)).isoformat()


def _marked(html: str) -> list[str]:
    """The names of the fields the page marks as refused, the focused one first."""
    fields = re.findall(r'<(?:input|select)[^>]*name="([^"]+)"[^>]*aria-invalid="true"[^>]*>', html)
    focused = re.findall(r'<(?:input|select)[^>]*name="([^"]+)"[^>]*autofocus[^>]*>', html)
    return focused + [f for f in fields if f not in focused]


def test_the_table_lists_the_communes_villages_and_enters_each_signed(site) -> None:
    _sign_in(site)
    page = site.get(TABLE)
    assert page.status_code == 200
    names = re.findall(r'name="v\.([^"]+)"', page.text)
    assert names == ["ban-ven", "kha-ly-thuong", "lang-moi"]  # Bản Vẹn, Khả Lý Thượng, lang-moi: by name
    assert ELSEWHERE not in page.text
    day = _day(1)
    answer = _post(
        site,
        {
            "indicator": EID,
            "date": day,
            "note": "Công an xã, 6/12",
            "v.kha-ly-thuong": "27,5",
            "v.lang-moi": "31",
        },
    )
    assert answer.status_code == 303, answer.text
    [khaly] = _entries(site, "kha-ly-thuong")
    [moi] = _entries(site, "lang-moi")
    assert _entries(site, "ban-ven") == []  # left empty: nothing entered for it
    midnight = datetime.fromisoformat(day).replace(tzinfo=ZONE).astimezone(ZoneInfo("UTC"))
    for entry, value in ((khaly, 27.5), (moi, 31.0)):
        assert (entry["value"], entry["signature"], entry["source"]) == (
            value,
            "verified",
            "Công an xã, 6/12 (key officer-hoa)",
        )
        assert datetime.fromisoformat(entry["time"]) == midnight
    assert answer.headers["location"] == (
        f"{TABLE}?indicator={EID}&entered={quote(khaly['entered'], safe='')}#entered"
    )
    shown = site.get(answer.headers["location"])
    said = _text(shown.text)
    assert (
        "Đã ghi Tỷ lệ người dân kích hoạt định danh điện tử (VNeID) cho 2 thôn: Khả Lý Thượng: 27,5 %" in said
    )
    assert "lang-moi: 31 %" in said
    assert re.search(r"Trang tổng hợp tính lại kết quả của các thôn lúc \d\d/\d\d/\d{4} \d\d:00\.", said)
    assert said.count("vừa ghi") == 2 and shown.text.count('class="fresh"') == 2
    # the village's own criterion reads it, verified
    criteria = site.get("/api/v1/villages/kha-ly-thuong/criteria", headers=READ).json()["criteria"]
    eid = next(c for c in criteria if c["id"] == "eid_adoption")
    assert (eid["evidence"]["value"], eid["evidence"]["verified_pct"]) == (27.5, 100.0)


def test_the_table_shows_the_value_counting_now(site, influx) -> None:
    _sign_in(site)
    for day, value in ((_day(5), "20"), (_day(2), "24,5")):
        assert _post(site, {"indicator": EID, "date": day, "v.ban-ven": value}).status_code == 303
    row = _text(site.get(TABLE).text).split("Bản Vẹn")[1].split("Khả Lý Thượng")[0]
    assert row.startswith(" 24,5 % (tính đến") and "tiêu chí không đọc" not in row
    assert "Chưa có giá trị nào được nhập." in _text(site.get(TABLE).text).split("Khả Lý Thượng")[1]
    # the value its criterion reads changed around the service: the record still says 24,5, the table warns
    series = influx.query("SELECT * FROM indicator WHERE village = 'ban-ven' GROUP BY *", epoch="ms")[
        0
    ].series
    tags, last_ms = series[0].tags, max(row["time"] for s in series for row in s.rows())
    influx.write(
        [encode_line(Point("indicator", {k: v for k, v in tags.items() if v}, {"value": 90.0}, last_ms))]
    )
    row = _text(site.get(TABLE).text).split("Bản Vẹn")[1].split("Khả Lý Thượng")[0]
    assert row.startswith(" 24,5 % (tính đến") and "tiêu chí không đọc giá trị này" in row


@pytest.mark.parametrize(
    ("fields", "marked", "words"),
    [
        ({"v.ban-ven": "27,5", "v.lang-moi": "120"}, ["v.lang-moi"], "giá trị của lang-moi chưa hợp lệ"),
        (
            {"v.ban-ven": "1.000", "v.kha-ly-thuong": "abc", "v.lang-moi": "30"},
            ["v.ban-ven", "v.kha-ly-thuong"],
            "giá trị của Bản Vẹn, Khả Lý Thượng chưa hợp lệ. Giá trị phải là một số từ 0 đến 100 %",
        ),
        ({"v.ban-ven": "", "v.lang-moi": " "}, ["v.ban-ven"], "Chưa có giá trị nào"),
        (
            {"v.ban-ven": "30", "date": _day(-2)},
            ["date"],
            "Ngày phải là một ngày có thật, từ năm 2000 đến hôm nay.",
        ),
        ({"v.ban-ven": "30", "date": "7/12/2026"}, ["date"], "Ngày phải là một ngày có thật"),
        ({"v.ban-ven": "30", "date": "1990-01-01"}, ["date"], "từ năm 2000 đến hôm nay"),
        ({"v.ban-ven": "30", "note": "a\nb"}, ["note"], "Ghi chú dài tối đa 200 ký tự"),
        ({"v.ban-ven": "30", "indicator": "nope"}, ["indicator"], "Không có chỉ số này."),
    ],
)
def test_a_refused_value_enters_no_village_and_is_marked(site, fields, marked, words) -> None:
    _sign_in(site)
    answer = _post(site, {"indicator": EID, "date": _day(0), "note": ""} | fields)
    assert answer.status_code == 422, answer.text
    said = _text(answer.text)
    assert "Số liệu chưa được ghi." in said and words in said
    assert _marked(answer.text) == marked
    for village in VILLAGES:
        assert _entries(site, village) == []
        typed = fields.get(f"v.{village}", "")
        assert f'name="v.{village}" inputmode="decimal" autocomplete="off" size="8"' in answer.text
        assert f'value="{typed}"' in answer.text.split(f'name="v.{village}"')[1].split(">")[0]


@pytest.mark.parametrize(
    ("body", "words"),
    [
        (b"indicator=eid_adoption_pct&v.ban-ven=30&v.ban-ven=31", "trường «v.ban-ven» được gửi hai lần"),
        (b"indicator=eid_adoption_pct&v.ngoai-xa=30", "có giá trị cho một thôn không thuộc xã này"),
        (b"indicator=eid_adoption_pct&v.ban-ven=30&key=x", "«key» không phải một trường của biểu mẫu này"),
        (b"&".join(b"v.t%d=1" % i for i in range(1100)), "có nhiều trường hơn biểu mẫu này có"),
    ],
)
def test_a_post_that_is_not_the_table_is_a_400_naming_why_and_writes_nothing(
    site, body: bytes, words
) -> None:
    _sign_in(site)
    answer = site.post(TABLE, content=body, headers=POSTED, follow_redirects=False)
    assert answer.status_code == 400 and f"Biểu mẫu không hợp lệ: {words}" in unescape(answer.text)
    assert all(_entries(site, v) == [] for v in [*VILLAGES, ELSEWHERE])


def test_the_form_reads_any_number_of_villages_up_to_the_limit() -> None:
    form = CommuneForm.read(b"indicator=x&date=&note=&v.a=1&v.b=&v.c=2,5")
    assert form.values == {"a": "1", "b": "", "c": "2,5"} and form.typed() == ["a", "c"]
    assert form.of_villages(["a", "b", "c", "d"]) and not form.of_villages(["a", "b"])


def test_only_an_admin_key_may_see_or_post_the_table(site) -> None:
    _sign_in(site, READ_KEY)
    seen = site.get(TABLE)
    assert seen.status_code == 403 and 'name="v.' not in seen.text
    posted = _post(site, {"indicator": EID, "v.ban-ven": "30"})
    assert posted.status_code == 403 and _entries(site, "ban-ven") == []
    assert f'href="{TABLE}"' not in site.get("/pages/", params={"commune": COMMUNE}).text
    site.cookies.clear()
    assert site.get(TABLE).status_code == 401  # not signed in: the sign-in form
    _sign_in(site)
    crossed = _post(site, {"indicator": EID, "v.ban-ven": "30"}, **{"Sec-Fetch-Site": "cross-site"})
    assert crossed.status_code == 403 and _entries(site, "ban-ven") == []


def test_the_overview_of_a_commune_and_a_village_page_link_the_table(site) -> None:
    _sign_in(site)
    link = f'href="{TABLE}"'
    assert link in site.get("/pages/", params={"commune": COMMUNE}).text
    assert link not in site.get("/pages/").text  # a province's overview: no one commune to enter for
    assert link in site.get("/pages/villages/kha-ly-thuong").text


@pytest.mark.parametrize("commune", ["nowhere", "x" * 300])
def test_an_unknown_commune_is_a_404(site, commune: str) -> None:
    _sign_in(site)
    assert site.get(f"/pages/communes/{commune}/indicators").status_code == 404
    posted = _post(site, {"indicator": EID, "v.ban-ven": "30"}, path=f"/pages/communes/{commune}/indicators")
    assert posted.status_code == 404 and _entries(site, "ban-ven") == []


def test_the_english_table(site) -> None:
    _sign_in(site)
    answer = _post(site, {"indicator": EID, "v.ban-ven": "12.5", "v.lang-moi": "x"}, path=TABLE + "?lang=en")
    assert answer.status_code == 422
    said = _text(answer.text)
    assert "The value is not recorded. No village is entered: the value for lang-moi is not valid." in said
    answer = _post(site, {"indicator": EID, "date": "", "v.ban-ven": "12.5"}, path=TABLE + "?lang=en")
    assert answer.status_code == 303 and "lang=en" in answer.headers["location"]
    assert (
        "Entered Share of residents with an activated e-ID (VNeID) for these villages (1): Bản Vẹn: 12.5 %, as of"
        in _text(site.get(answer.headers["location"]).text)
    )


class _SevenVillagesAtMost(InfluxDBServer):
    """A real InfluxDB that takes at most 7 values of a tag in a measurement: a write naming an 8th village
    is refused (``max-values-per-tag``), the failure midway a commune's entries can meet."""

    def prepare(self) -> None:
        super().prepare()
        text = self.config_path.read_text()
        self.config_path.write_text(text.replace("[data]\n", "[data]\n  max-values-per-tag = 7\n", 1))


def test_a_failure_midway_keeps_what_was_entered_and_the_rest_to_send_again(tmp_path) -> None:
    with _SevenVillagesAtMost(tmp_path / "influxdb") as server:
        client = InfluxClient(server.url, database="thonminh")
        client.create_database("thonminh")
        now_ms = int(time.time() * 1000)
        tags = {"gateway": "manual", "indicator": EID}
        client.write(
            [  # six villages already entered: the commune's first makes seven, its second is refused
                encode_line(Point(m, {**tags, "village": f"elsewhere-{i}"}, {"value": 1.0}, now_ms - 1000))
                for i in range(6)
                for m in ("indicator", "indicator_entry")
            ]
            + _uplinks([(v, COMMUNE) for v in VILLAGES])
        )
        config = page_config(server.url, "thonminh", evidence={"registry": str(tmp_path / "keys.sqlite")})
        with TestClient(create_app(config)) as site:
            _sign_in(site)
            fields = {"indicator": EID, "date": _day(1), "v.ban-ven": "20", "v.kha-ly-thuong": "25,5"}
            answer = _post(site, fields | {"v.lang-moi": "30"})
            assert answer.status_code == 502, answer.text
            said = _text(answer.text)
            assert "Đã ghi cho Bản Vẹn. Chưa ghi cho Khả Lý Thượng, lang-moi" in said
            assert "Số liệu chưa được ghi." not in said  # one was
            assert [e["value"] for e in _entries(site, "ban-ven")] == [20.0]
            assert _entries(site, "kha-ly-thuong") == [] and _entries(site, "lang-moi") == []
            kept = {v: answer.text.split(f'name="v.{v}"')[1].split(">")[0] for v in VILLAGES}
            assert 'value=""' in kept["ban-ven"]  # entered: not to be sent twice
            assert 'value="25,5"' in kept["kha-ly-thuong"] and 'value="30"' in kept["lang-moi"]


def test_an_official_enters_a_communes_values_in_a_real_browser(live, watched) -> None:
    page, seen = watched
    sign_in(page, live, ADMIN_KEY, f"/pages/?commune={COMMUNE}")
    page.click(f'a[href="{TABLE}"]')  # from the commune's overview
    page.wait_for_load_state("load")
    assert page.inner_text("h1") == "Nhập chỉ số cho các thôn · An Lạc · Sơn Động · Bắc Giang"
    page.fill('input[name="v.ban-ven"]', "12.345")  # a thousand to a Vietnamese reader: refused
    page.fill('input[name="v.kha-ly-thuong"]', "33,3")
    page.click("#entry button[type=submit]")
    page.wait_for_load_state("load")
    assert "Chưa ghi thôn nào: giá trị của Bản Vẹn chưa hợp lệ." in page.inner_text("#entry-error")
    assert page.evaluate("document.activeElement.name") == "v.ban-ven"  # the value at fault has the focus
    assert page.input_value('input[name="v.kha-ly-thuong"]') == "33,3"  # the rest as typed
    page.fill('input[name="v.ban-ven"]', "12,3")
    page.click("#entry button[type=submit]")
    page.wait_for_load_state("load")
    assert page.url.endswith("#entered")
    notice = page.inner_text("#entered")
    assert "cho 2 thôn" in notice and "Bản Vẹn: 12,3 %" in notice and "Khả Lý Thượng: 33,3 %" in notice
    shot(page, "commune_indicators_entered")
    assert seen.foreign() == []
    assert [e for e in seen.errors if "status of 422" not in e] == [], seen.errors


@pytest.mark.viewport({"width": 360, "height": 800})
def test_the_table_fits_a_phone(live, watched) -> None:
    page, _ = watched
    sign_in(page, live, ADMIN_KEY, TABLE)
    assert (
        controls_on_a_phone(page, "#entry") == 3 + 2 + 1
    )  # indicator, day, note; the two villages' values; the button
    shot(page, "commune-entry-360")


def test_a_value_for_today_counts_over_one_entered_earlier_today_with_no_day(site) -> None:
    """A review entered 30 through the API (no time: it stands at its time of entry, that morning), then 26 in
    the table for today (its midnight): 30 went on counting, and the table marked it "vừa ghi"."""
    _sign_in(site)
    put = site.put(
        f"/api/v1/villages/ban-ven/indicators/{EID}", headers={"X-API-Key": ADMIN_KEY}, json={"value": 30}
    )
    assert put.status_code == 200, put.text
    morning = put.json()["time"]
    answer = _post(site, {"indicator": EID, "date": _day(0), "v.ban-ven": "26"})
    assert answer.status_code == 303
    newest, first = _entries(site, "ban-ven")
    assert (newest["value"], newest["time"], newest["corrects"]) == (26.0, morning, first["entered"])
    table = _text(site.get(answer.headers["location"]).text)
    assert "Bản Vẹn 26 % (tính đến" in table and "(vừa ghi)" in table
    assert "không phải giá trị đang tính" not in table
    # it stands in the hour still running, which verdicts read once it has ended: the notice says from when
    hour = datetime.fromisoformat(morning).replace(minute=0, second=0, microsecond=0)
    next_hour = hour + timedelta(hours=1)
    assert f"Kết quả đánh giá tính giá trị này từ {next_hour.astimezone(ZONE):%d/%m/%Y %H:%M}." in table
    window = {"start": _day(2), "end": "now"}
    criteria = site.get("/api/v1/villages/ban-ven/criteria", params=window, headers=READ).json()["criteria"]
    assert next(c for c in criteria if c["id"] == "eid_adoption")["evidence"]["value"] == 26.0
    village = site.get("/pages/villages/ban-ven").text
    # the village page says so beside the value, not "counts now" over a verdict of no data
    counted = [_text(row) for row in village.split("<tr") if "(kết quả đánh giá tính từ" in row]
    assert len(counted) == 1 and counted[0].startswith("> Tỷ lệ") and "(đang tính)" not in village
    assert f"26 % (kết quả đánh giá tính từ {next_hour.astimezone(ZONE):%d/%m/%Y %H:%M})" in counted[0]


def test_a_value_for_a_day_before_the_one_counting_is_entered_and_said_not_to_count(site) -> None:
    _sign_in(site)
    assert _post(site, {"indicator": EID, "date": _day(1), "v.ban-ven": "40"}).status_code == 303
    answer = _post(site, {"indicator": EID, "date": _day(3), "v.ban-ven": "20"})
    assert answer.status_code == 303
    table = _text(site.get(answer.headers["location"]).text)
    assert "Bản Vẹn: 20 %, tính đến" in table and "(không phải giá trị đang tính" in table
    assert "Bản Vẹn 40 % (tính đến" in table and "(vừa ghi)" not in table
