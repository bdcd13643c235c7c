"""The pages over HTTP without a browser: formats, the daily values against the API, sessions, bad input."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

import httpx
import pages_scenario as scenario
import pytest
from fastapi.testclient import TestClient
from pages_kit import ADMIN_KEY, READ_KEY, page_config

from server.app import create_app
from server.pages.daily import daily_values
from server.pages.i18n import Lang
from server.timeparse import Window, iso

ZONE = ZoneInfo("Asia/Ho_Chi_Minh")
VI, EN = Lang("vi", ZONE), Lang("en", ZONE)
READ = {"X-API-Key": READ_KEY}


@pytest.fixture(scope="module")
def client(seeded) -> Iterator[TestClient]:
    with TestClient(create_app(page_config(seeded.url, seeded.database))) as test_client:
        yield test_client


def test_number_formats() -> None:
    assert VI.number(1234.5) == "1.234,5" and EN.number(1234.5) == "1,234.5"
    assert VI.percent(99.5) == "99,5 %" and EN.percent(99.5) == "99.5 %"
    assert VI.number(1234567, 0) == "1.234.567" and VI.number(None) == "–"
    assert VI.share(0.956) == "95,6 %"
    assert (
        VI.value(21.9, "users/day") == "21,9 người dùng/ngày"
        and EN.value(21.9, "users/day") == "21.9 users/day"
    )
    assert VI.threshold(">=", 99.0, "%") == "≥ 99 %" and VI.threshold(">", 99.5, "%") == "> 99,5 %"
    # a value beside the threshold is never written as the threshold itself
    assert VI.value(98.96, "%", 99.0) == "98,96 %" and VI.value(98.96, "%") == "99,0 %"


def test_who_entered_an_indicator_in_the_pages_words() -> None:
    from server.report import vi as dossier

    stored = "Nguyễn Thị Hoa, UBND xã (key officer-hoa)"
    assert (
        VI.source(stored) == dossier.source_text(stored) == "Nguyễn Thị Hoa, UBND xã (khóa API officer-hoa)"
    )
    assert EN.source(stored) == "Nguyễn Thị Hoa, UBND xã (API key officer-hoa)"
    assert VI.source("key officer-hoa") == "khóa API officer-hoa"
    assert VI.source("a note (with brackets)") == "a note (with brackets)"  # not ours: as written


def test_the_page_and_the_dossier_write_a_figure_alike() -> None:
    """A reviewer found "≥ 99,0 %" on the page and "≥ 99 %" in the dossier, coverage 97 % and 96,5 %, users
    "người/ngày" and "người dùng/ngày", an outage "2 giờ 30 phút" and "2 giờ 30 phút 5 giây"."""
    from server.report import vi as dossier

    assert VI.threshold(">=", 99.0, "%") == dossier.comparator_text(">=", 99.0, "%")
    assert VI.share(0.9652) == dossier.coverage_text(0.9652) == "96,5 %"
    assert VI.value(21.9, "users/day", 20.0) == dossier.value_text(21.9, "users/day", 20.0)
    assert VI.value(98.96, "%", 99.0) == dossier.value_text(98.96, "%", 99.0)
    assert VI.duration(9005) == dossier.duration_text(9005) == "2 giờ 30 phút"


def test_times_and_durations() -> None:
    moment = datetime(2025, 3, 1, 17, 5, 9, tzinfo=UTC)  # 00:05:09 on 2 March in Hanoi
    assert VI.when(moment, seconds=True) == "02/03/2025 00:05:09"
    assert EN.when(iso(int(moment.timestamp() * 1000))) == "2025-03-02 00:05"
    assert VI.day("2025-03-02") == "02/03" and EN.day("2025-03-02") == "Mar 2"  # not the ambiguous "03-02"
    assert VI.duration(9005) == "2 giờ 30 phút" and EN.duration(9005) == "2 h 30 min"
    assert VI.duration(0) == "0 giây" and EN.duration(90061) == "1 d 1 h"
    start = int(moment.timestamp() * 1000)
    assert VI.span(start, start + 28_000) == "02/03/2025 00:05:09 – 02/03/2025 00:05:37"
    assert VI.span(start, start + 86_400_000) == "02/03/2025 00:05 – 03/03/2025 00:05"


def test_a_days_bar_is_the_criterion_of_that_day(client: TestClient) -> None:
    """The chart's value for the outage day equals what /criteria answers for that day as its window."""
    service = client.app.state.service
    day_start = scenario.FIBER_DOWN[0] - 10 * scenario.H
    window = Window(day_start - 3 * scenario.DAY, day_start + 2 * scenario.DAY)
    fiber = next(c for c in service.criteria.criteria if c.id == "fiber_availability")
    days = daily_values(service, "kha-ly-thuong", fiber, window)
    assert [d.start_ms for d in days] == [window.start_ms + i * scenario.DAY for i in range(5)]
    for day in days:
        answer = client.get(
            "/api/v1/villages/kha-ly-thuong/criteria",
            headers=READ,
            params={"start": iso(day.start_ms), "end": iso(day.end_ms)},
        ).json()
        evidence = next(c for c in answer["criteria"] if c["id"] == "fiber_availability")
        assert day.value == pytest.approx(evidence["evidence"]["value"], abs=1e-9)
        assert day.coverage == pytest.approx(evidence["evidence"]["coverage"], abs=1e-9)
        assert day.verdict == evidence["verdict"]
    outage_day = days[3]
    assert outage_day.value == pytest.approx(100 * (1 - 9005 / 86400)) and outage_day.verdict == "fail"
    lights = next(c for c in service.criteria.criteria if c.id == "street_lighting")
    assert daily_values(service, "kha-ly-thuong", lights, window)[-1].verdict == "fail"  # L3 dark all night


def _words(markup: str) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", markup)).split())


def test_places_are_shown_by_their_names_else_their_slugs(client: TestClient) -> None:
    """An official reads "An Lạc", not "an-lac"; a place server.toml does not name keeps its slug."""
    village = client.get("/pages/villages/kha-ly-thuong", headers=READ).text
    said = {_words(p) for p in re.findall(r'<p class="place">.*?</p>|<td class="place">.*?</td>', village)}
    assert said == {"An Lạc · Sơn Động · Bắc Giang · kha-ly-thuong"}
    everywhere = client.get("/pages/", headers=READ).text
    said = {_words(p) for p in re.findall(r'<td class="place">.*?</td>', everywhere)}
    assert {"An Lạc · Sơn Động · Bắc Giang", "huu-lung · huu-lung · lang-son"} <= said
    province = client.get("/pages/", headers=READ, params={"province": "bac-giang", "commune": "an-lac"}).text
    heading = province[province.index("<h1>") : province.index("</h1>")]
    assert heading.endswith(" · Bắc Giang · An Lạc") and "bac-giang" not in heading
    assert '<input type="hidden" name="province" value="bac-giang">' in province  # the filter keeps the slug


def test_the_overview_says_up_to_when_its_verdicts_hold(client: TestClient) -> None:
    """The default windows end at the last whole hour, or at the hour before while the next is evaluated: the
    official reads which."""

    def ends() -> str:
        answer = client.get("/api/v1/criteria", headers=READ).json()
        return max(w["end"] for c in answer["criteria"] for w in c["windows"])

    before = ends()
    page = client.get("/pages/", headers=READ).text
    after = ends()
    shown = page[page.index('<p class="window">') :].split("</p>")[0]
    end = shown.split('datetime="')[1].split('"')[0]
    assert end in (before, after) and end.endswith(":00:00Z"), shown
    assert shown.startswith('<p class="window">Kết quả tính đến: ') and VI.when(end) in shown
    month = client.get("/pages/", headers=READ, params={"month": "2025-03"}).text
    assert f">{VI.when('2025-03-31T17:00:00Z')}</time>" in month  # a month: its end, local midnight


def test_the_4g_signal_shares_are_called_shares(client: TestClient) -> None:
    """The 4G section gives the share of RSRP readings at or above each level, in percent: its label said a count
    ("Số lần đo", "RSRP readings") beside a percentage."""
    for lang, label in (("vi", "Tỷ lệ lần đo RSRP ≥"), ("en", "Share of RSRP readings ≥")):
        page = client.get("/pages/villages/kha-ly-thuong", headers=READ, params={"lang": lang})
        text = " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page.text)).split())
        shares = re.findall(rf"{label} (-\d+) dBm (\d+[,.]\d) %", text)
        assert len(shares) >= 2, text[text.find("RSRP") - 200 : text.find("RSRP") + 400]


def test_pages_refused_without_a_session_and_api_key_still_works(client: TestClient) -> None:
    for path in ("/pages/", "/pages/villages/kha-ly-thuong"):
        refused = client.get(path)
        assert (
            refused.status_code == 401
            and 'name="key"' in refused.text
            and "Khả Lý Thượng" not in refused.text
        )
    assert client.get("/pages/villages/kha-ly-thuong", headers=READ).status_code == 200
    assert client.get("/api/v1/villages/kha-ly-thuong/criteria").status_code == 401


def test_session_cookie(seeded) -> None:
    app = create_app(page_config(seeded.url, seeded.database))
    with TestClient(app, base_url="https://village.example") as https:
        answer = https.post(
            "/pages/signin", data={"key": READ_KEY, "next": "/pages/"}, follow_redirects=False
        )
        assert answer.status_code == 303 and answer.headers["location"] == "/pages/"
        cookie = answer.headers["set-cookie"]
        assert (
            "HttpOnly" in cookie
            and "SameSite=lax" in cookie
            and "Secure" in cookie
            and READ_KEY not in cookie
        )
        assert https.get("/pages/").status_code == 200
        # a tampered cookie is no session
        token = https.cookies.get("thonminh_session")
        https.cookies.set("thonminh_session", token[:-2] + ("AA" if not token.endswith("AA") else "BB"))
        assert https.get("/pages/").status_code == 401
        # an address on another site is never where sign-in leads
        evil = https.post(
            "/pages/signin", data={"key": ADMIN_KEY, "next": "//evil.example/x"}, follow_redirects=False
        )
        assert evil.headers["location"] == "/pages/"
        assert https.post("/pages/signin", data={"key": "wrong-key-0123456789"}).status_code == 401


def test_a_changed_key_ends_its_sessions(seeded) -> None:
    with TestClient(create_app(page_config(seeded.url, seeded.database))) as first:
        first.post("/pages/signin", data={"key": READ_KEY})
        token = first.cookies.get("thonminh_session")
    changed = page_config(seeded.url, seeded.database, read_key="another-key-0123456789ab")
    with TestClient(create_app(changed)) as second:
        second.cookies.set("thonminh_session", token)
        assert second.get("/pages/").status_code == 401
    with TestClient(create_app(page_config(seeded.url, seeded.database))) as same:
        same.cookies.set("thonminh_session", token)
        assert same.get("/pages/").status_code == 200


@pytest.mark.parametrize(
    ("path", "status", "text"),
    [
        ("/pages/villages/nowhere", 404, "Thôn nowhere không có trong dữ liệu."),
        ("/pages/villages/" + "x" * 300, 404, "không có trong dữ liệu"),
        ("/pages/villages/kha-ly-thuong?month=2150-12", 422, "chưa bắt đầu"),
        ("/pages/villages/kha-ly-thuong?month=2025-00", 422, "YYYY-MM"),
        ("/pages/villages/kha-ly-thuong?month=march", 422, "YYYY-MM"),
        ("/pages/villages/kha-ly-thuong?month=1999-12", 422, "2000..2200"),
        ("/pages/villages/kha-ly-thuong?month=0000-01", 422, "2000..2200"),
        ("/pages/villages/kha-ly-thuong?start=yesterday", 422, "not an ISO 8601 time"),
        ("/pages/villages/kha-ly-thuong?start=2025-03-02&end=2025-03-01", 422, "window is empty"),
        ("/pages/villages/kha-ly-thuong?month=2025-13&lang=en", 422, "Month 2025-13 is not valid"),
        ("/pages/?sort=nope", 422, "is not a criterion"),
        # not public, not in the data: the same words, so a visitor learns neither
        ("/pages/status/ban-ven", 404, "Không có trang trạng thái công khai của thôn ban-ven."),
        ("/pages/status/nowhere", 404, "Không có trang trạng thái công khai của thôn nowhere."),
        ("/pages/nonexistent", 404, "Không có trang nào ở địa chỉ này."),  # was {"detail":"Not Found"}
    ],
)
def test_bad_input_is_a_page_not_a_500(client: TestClient, path: str, status: int, text: str) -> None:
    answer = client.get(path, headers=READ)
    assert answer.status_code == status, answer.text[:300]
    assert answer.headers["content-type"].startswith("text/html")
    assert text in answer.text


def test_the_overview_filter_keeps_its_verdict_when_sorted(client: TestClient) -> None:
    """The verdict filtered by is the one the select shows and the one every column's sort link keeps."""
    page = client.get(
        "/pages/", headers=READ, params={"verdict": "fail", "criterion": "fiber_availability"}
    ).text
    assert re.search(r'<select name="verdict">.*?</select>', page, re.S)[0].count(" selected") == 1
    assert '<option value="fail" selected>' in page
    sorts = [html.unescape(href) for href in re.findall(r'<a href="([^"]+)" class="sort', page)]
    assert len(sorts) > 1
    for href in sorts:
        query = parse_qs(urlsplit(href).query)
        assert query["verdict"] == ["fail"] and query["criterion"] == ["fiber_availability"], href
    assert "Macro" not in page


def test_a_verdict_filtered_for_any_criterion_shows_the_villages_with_it(client: TestClient) -> None:
    """A review asked for "Không đạt" with the criterion left at "Tất cả": the filter was ignored, and a village
    with no failing criterion was listed under a select that still said "Không đạt"."""
    rollup = client.get("/api/v1/criteria", headers=READ).json()["villages"]
    for verdict in ("pass", "fail", "insufficient_data"):
        page = client.get("/pages/", headers=READ, params={"verdict": verdict}).text
        listed = re.findall(r'<tr><td><a href="/pages/villages/([^"?]+)', page)
        having = [
            v["village"] for v in rollup if any(r["verdict"] == verdict for r in v["verdicts"].values())
        ]
        assert sorted(listed) == sorted(having), verdict


def _dossier(client: TestClient, **period: str) -> tuple[httpx.Response, list[str], dict[str, str]]:
    """What the dossier route answers for ``period``, the PDF links the village page offers for it, and the
    page's text in each language."""
    route = client.get("/api/v1/villages/kha-ly-thuong/report.pdf", headers=READ, params=period)
    pages = {
        lang: client.get("/pages/villages/kha-ly-thuong", headers=READ, params={**period, "lang": lang})
        for lang in ("vi", "en")
    }
    assert all(page.status_code == 200 for page in pages.values())
    links = re.findall(r'<a class="dossier" href="([^"]+)"', pages["vi"].text)
    text = {
        lang: " ".join(html.unescape(re.sub(r"<[^>]+>", " ", p.text)).split()) for lang, p in pages.items()
    }
    return route, [html.unescape(link) for link in links], text


def test_a_month_before_any_data(client: TestClient) -> None:
    """No PDF link for a month the dossier refuses (422 before any data): the page says why instead."""
    route, links, text = _dossier(client, month="2001-01")
    assert route.status_code == 422 and links == []
    assert "Không có dữ liệu nào trong khoảng thời gian này." in text["vi"]
    assert (
        "Không có hồ sơ PDF cho 01/2001: thôn chưa gửi dữ liệu nào trước khi hết khoảng thời gian này."
        in text["vi"]
    )
    assert "No dossier PDF for January 2001: the village sent no data before its end." in text["en"]


def test_no_dossier_for_the_month_running_now(client: TestClient) -> None:
    """The month picker offers this month; the dossier covers a month that has ended: words, not a link."""
    service = client.app.state.service
    month = f"{service.now().astimezone(service.zone):%Y-%m}"
    route, links, text = _dossier(client, month=month)
    assert route.status_code == 422 and links == []
    # the month as people write it, as on the dossier's cover (it said "tháng 2026-12")
    assert (
        f"Chưa có hồ sơ PDF cho tháng {VI.month(month)}: hồ sơ chỉ làm cho một tháng đã kết thúc."
        in text["vi"]
    )
    assert (
        f"No dossier PDF for {EN.month(month)} yet: a dossier covers a whole month that has ended."
        in text["en"]
    )
    assert VI.month("2026-12") == "12/2026" and EN.month("2026-12") == "December 2026"
    # the commune's overview says it alike (it said "tháng 2026-12-01 – 2027-01-01")
    page = client.get("/pages/", headers=READ, params={"commune": "an-lac", "month": month}).text
    assert f"Chưa có hồ sơ PDF cho tháng {VI.month(month)}: hồ sơ chỉ làm cho một tháng đã kết thúc." in page


def test_a_villages_commune_district_and_province_link_their_overviews(client: TestClient) -> None:
    """A review found the commune's overview, and its dossier, reachable only by typing ``?commune=``."""
    page = client.get("/pages/villages/kha-ly-thuong", headers=READ, params={"month": "2025-03"}).text
    place = re.search(r'<p class="place">(.*?)</p>', page, re.S)[0]
    links = [(html.unescape(h), name) for h, name in re.findall(r'<a href="([^"]+)">([^<]+)</a>', place)]
    assert links == [
        ("/pages/?province=bac-giang&district=son-dong&commune=an-lac&month=2025-03", "An Lạc"),
        ("/pages/?province=bac-giang&district=son-dong&month=2025-03", "Sơn Động"),
        ("/pages/?province=bac-giang&month=2025-03", "Bắc Giang"),
    ]
    commune = client.get(links[0][0], headers=READ).text
    listed = sorted(re.findall(r'<tr><td><a href="/pages/villages/([^"?]+)', commune))
    assert listed == ["ban-ven", "kha-ly-thuong"] and "· Bắc Giang · Sơn Động · An Lạc</h1>" in commune
    overview = client.get("/pages/", headers=READ).text
    wanted = 'href="/pages/?province=lang-son&amp;district=huu-lung&amp;commune=huu-lung">huu-lung</a>'
    assert wanted in overview


def test_each_chart_has_its_days_values_as_text(client: TestClient) -> None:
    """A review could read a day's value only in a bar's tooltip, which a phone never shows."""
    page = client.get("/pages/villages/kha-ly-thuong", headers=READ).text
    articles = re.findall(r'<article class="criterion".*?</article>', page, re.S)
    charted = [a for a in articles if "<svg" in a]
    assert len(charted) >= 3
    for article in charted:
        titles = [html.unescape(t) for t in re.findall(r"<rect[^>]*><title>([^<]+)</title>", article)]
        rows = re.findall(r"<tr><td>(.*?)</td>(.*?)</tr>", article.split('<details class="day-values">')[1])
        said = [f"{day}: {_words(cells)}" for day, cells in rows]
        # the tooltip: "06/03: 100,0 % (Đạt)"; the row: "06/03 | 100,0 % | Đạt"
        assert [t.replace(" (", " ").rstrip(")") for t in titles] == said, (titles, said)


def test_a_month_not_started_is_written_as_people_write_it(client: TestClient) -> None:
    page = client.get("/pages/villages/kha-ly-thuong", headers=READ, params={"month": "2150-12"})
    assert page.status_code == 422 and "Tháng 12/2150 chưa bắt đầu." in page.text


def test_the_dossier_link_offered_is_a_pdf(client: TestClient) -> None:
    start, end = iso(scenario.TODAY - 3 * scenario.DAY), iso(scenario.TODAY - scenario.DAY)
    route, links, text = _dossier(client, start=start, end=end)
    assert route.status_code == 200 and len(links) == 1 and "hồ sơ PDF" not in text["vi"]
    pdf = client.get(links[0], headers=READ)
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"


def test_no_dossier_for_a_window_longer_than_a_dossier_covers(client: TestClient) -> None:
    """The page shows a window the dossier refuses (over its 92 days): the route's reason, not a link."""
    start, end = iso(scenario.TODAY - 100 * scenario.DAY), iso(scenario.TODAY - scenario.DAY)
    route, links, text = _dossier(client, start=start, end=end)
    assert route.status_code == 422 and links == []
    # in the page's words: the API's message said "100 days, 0:00:00" in English inside a Vietnamese sentence
    assert (
        "Không có hồ sơ PDF cho khoảng thời gian này: một hồ sơ dài tối đa 92 ngày; hãy chọn một tháng."
        in text["vi"]
    )
    assert "No dossier PDF for this window: a dossier covers at most 92 days; choose a month." in text["en"]
    assert "longer than" not in text["vi"]


def test_the_status_page_charts_wifi_users_as_the_village_page(client: TestClient) -> None:
    """Every criterion card of the public page has its daily chart, Wi-Fi users per day the village page's."""
    service = client.app.state.service
    ids = [
        c.id for c in service.criteria.criteria if c.figure == "wifi.daily_users" and not c.params.get("ap")
    ]
    assert ids
    status = client.get("/pages/status/kha-ly-thuong").text
    village = client.get("/pages/villages/kha-ly-thuong", headers=READ).text

    def card(page: str, criterion: str) -> str:
        return page.split(f'<article class="criterion" id="c-{criterion}">')[1].split("</article>")[0]

    for criterion in ids:
        assert '<svg class="chart"' in card(status, criterion), criterion
        assert card(status, criterion) == card(village, criterion)


def test_every_asset_is_served_from_this_machine(client: TestClient) -> None:
    docs = client.get("/api/v1/docs")
    assert docs.status_code == 200 and "http://" not in docs.text and "https://" not in docs.text
    for path in (
        "/api/v1/docs-assets/swagger-ui-bundle.js",
        "/api/v1/docs-assets/swagger-ui.css",
        "/pages/static/pages.css",
        "/pages/static/favicon.svg",
    ):
        assert client.get(path).status_code == 200, path
    page = client.get("/pages/villages/kha-ly-thuong", headers=READ).text
    assert "https://" not in page and "//cdn" not in page


def test_without_a_key_registry_the_village_page_says_verification_is_not_configured(
    client: TestClient,
) -> None:
    answer = client.get("/api/v1/villages/kha-ly-thuong/criteria", headers=READ).json()
    assert {c["evidence"]["verification"]["status"] for c in answer["criteria"]} == {"not_configured"}
    page = client.get("/pages/villages/kha-ly-thuong", headers=READ).text
    block = page[page.index('<section id="verification"') : page.index('<section id="outages"')]
    assert 'data-status="not_configured"' in block
    assert "Chưa cấu hình xác minh: dịch vụ không có danh sách khóa của các gateway." in block
    assert "fingerprint" not in block and 'class="verified"' not in page  # no share where nothing is verified
    english = client.get("/pages/villages/kha-ly-thuong?lang=en", headers=READ).text
    assert "Verification not configured" in english


def test_wifi_users_per_day_says_which_days_it_counts_and_that_today_still_grows(seeded) -> None:
    """A day's Wi-Fi point counts the whole local day, and today's is rewritten until midnight: a window that
    closes within today holds a value that still grows after it closed. The card says which days, and that.
    The service's clock is late in the scenario's day: in the first hours of a real Vietnamese day, 08:00 to
    09:00 had not come yet and the page refused the window (a test that failed from 17:00 to 02:00 UTC)."""
    late = (scenario.TODAY + 23 * scenario.H) / 1000
    with TestClient(create_app(page_config(seeded.url, seeded.database), clock=lambda: late)) as client:
        _wifi_days_counted(client)


def _wifi_days_counted(client: TestClient) -> None:
    def card(start_ms: int, end_ms: int, lang: str) -> str:
        page = client.get(
            "/pages/villages/kha-ly-thuong",
            headers=READ,
            params={"start": iso(start_ms), "end": iso(end_ms), "lang": lang},
        )
        article = page.text[page.text.index('id="c-wifi_use"') :].split("</article>")[0]
        return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", article)).split())

    today = card(scenario.TODAY + 8 * scenario.H, scenario.TODAY + 9 * scenario.H, "vi")
    assert f"Các ngày được tính (cả ngày) {VI.span(scenario.TODAY, scenario.TODAY + scenario.DAY)}" in today
    assert (
        f"ngày cuối chưa kết thúc: giá trị còn thay đổi đến {VI.when(scenario.TODAY + scenario.DAY)}" in today
    )
    english = card(scenario.TODAY + 8 * scenario.H, scenario.TODAY + 9 * scenario.H, "en")
    assert "the last day has not ended: the value still changes until" in english
    before = card(
        scenario.TODAY - 3 * scenario.DAY + scenario.H, scenario.TODAY - scenario.DAY - scenario.H, "vi"
    )
    assert (
        f"Các ngày được tính (cả ngày) {VI.span(scenario.TODAY - 3 * scenario.DAY, scenario.TODAY - scenario.DAY)}"
        in before
    )
    assert "ngày cuối chưa kết thúc" not in before  # the days have ended: the value is final


def test_a_months_page_points_to_the_api_request_that_answers_it(client: TestClient) -> None:
    """The page printed ``criteria?month=…``, which the API ignores (its answer was the last 30 days): the
    pointer gives the month's two local midnights, and following it gives the page's verdicts."""
    first = datetime.fromtimestamp((scenario.TODAY - 40 * scenario.DAY) / 1000, ZONE).date().replace(day=1)
    page = client.get("/pages/villages/kha-ly-thuong", headers=READ, params={"month": f"{first:%Y-%m}"})
    pointer = re.search(r'<p class="api">API: <code>([^<]+)</code>', page.text)
    assert pointer, page.text
    path = html.unescape(pointer.group(1))
    assert "month=" not in path and f"start={first:%Y-%m-%d}" in path, path
    answer = client.get(path, headers=READ)
    assert answer.status_code == 200, answer.text
    midnight = iso(int(datetime.combine(first, datetime.min.time(), ZONE).timestamp() * 1000))
    got = answer.json()["criteria"]
    assert {c["evidence"]["window"]["start"] for c in got} == {midnight}
    badges = re.findall(
        r'<article class="criterion" id="c-([\w-]+)">.*?<span class="verdict (\w+)">', page.text, re.DOTALL
    )
    assert dict(badges) == {c["id"]: c["verdict"] for c in got}


def test_pages_asked_for_no_period_offer_the_last_months_dossier(client: TestClient) -> None:
    """A reviewer found the dossier out of reach: the default village page neither linked one nor said why,
    and no page linked a commune's. Both offer the last month that ended where its route makes one."""
    service = client.app.state.service
    this_month = service.now().astimezone(ZONE).date().replace(day=1)
    last = f"{this_month - timedelta(days=1):%Y-%m}"
    had_data = scenario.FIRST < int(
        datetime.combine(this_month, datetime.min.time(), ZONE).timestamp() * 1000
    )
    pages = {
        "village": (client.get("/pages/villages/kha-ly-thuong", headers=READ), "villages/kha-ly-thuong"),
        "commune": (client.get("/pages/", headers=READ, params={"commune": "an-lac"}), "communes/an-lac"),
    }
    for which, (page, route) in pages.items():
        links = re.findall(r'<a class="dossier" href="([^"]+)">([^<]+)</a>', page.text)
        if not had_data:  # the scenario's first day is in this month: no month before it to file
            assert links == [] and "no-dossier" not in page.text, which
            continue
        ((href, words),) = links
        assert html.unescape(href).endswith(f"/api/v1/{route}/report.pdf?month={last}"), href
        assert VI.month(last) in words and "PDF" in words, words
        pdf = client.get(html.unescape(href), headers=READ)
        assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf", which
    english = client.get("/pages/villages/kha-ly-thuong", headers=READ, params={"lang": "en"}).text
    if had_data:  # the dossier is in Vietnamese only: the English page says so on the link
        assert re.search(r'<a class="dossier" [^>]+>Dossier PDF, [^<]+ \(in Vietnamese\)</a>', english)
    # a commune filter with no data before the month's end offers none, and says nothing about it
    empty = client.get("/pages/", headers=READ, params={"commune": "khong-co"})
    assert 'class="dossier"' not in empty.text


def test_the_overview_picks_a_month_for_its_place(client: TestClient) -> None:
    """The overview had no month control: a commune's official could not see last month's verdicts without
    writing the URL. Its month form keeps the place it shows."""
    page = client.get("/pages/", headers=READ, params={"commune": "an-lac"})
    form = re.search(r'<form method="get" action="([^"]+)" class="period">(.*?)</form>', page.text, re.DOTALL)
    assert form, page.text
    action, inner = html.unescape(form.group(1)), form.group(2)
    kept = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)">', inner))
    assert action == "/pages/" and kept == {"commune": "an-lac"}, (action, kept)
    assert 'name="month"' in inner
    month = f"{datetime.fromtimestamp((scenario.TODAY - 40 * scenario.DAY) / 1000, ZONE):%Y-%m}"
    chosen = client.get(action, headers=READ, params={**kept, "month": month})  # as a browser submits it
    assert chosen.status_code == 200
    assert f'value="{month}"' in chosen.text  # the form shows the month chosen
    # every village link of the page keeps it, and the place too: the table is the commune's for that month
    linked = set(re.findall(r'href="/pages/villages/([\w-]+)\?month=' + month, chosen.text))
    assert "kha-ly-thuong" in linked and "xa-khac" not in linked, linked


def test_the_overview_shows_each_measured_value_under_its_verdict(client: TestClient) -> None:
    """The values were only in tooltips, which a phone cannot show and paper cannot print."""
    rollup = client.get("/api/v1/criteria", headers=READ).json()
    page = client.get("/pages/", headers=READ).text
    rows = {
        m.group(1): m.group(2)
        for m in re.finditer(r'<tr><td><a href="/pages/villages/([\w-]+)">.*?</a></td>(.*?)</tr>', page, re.S)
    }
    shown = 0
    for village in rollup["villages"]:
        cells = re.findall(r'<td class="cell[^"]*">(.*?)</td>', rows[village["village"]], re.S)
        for c, cell in zip(rollup["criteria"], cells, strict=True):  # the table's columns, in its order
            verdict = village["verdicts"].get(c["id"])
            if verdict and verdict["value"] is not None:
                value = VI.value(verdict["value"], c["unit"], c["threshold"])
                assert value in html.unescape(cell), (c["id"], cell)
                shown += 1
    assert shown > 0


def test_an_error_page_sends_a_visitor_not_signed_in_to_the_public_pages(client: TestClient) -> None:
    """The overview asks for a sign-in: its link was a dead end for someone who came to a public page."""
    public = client.get("/pages/status/nowhere").text
    assert 'href="/pages/status/"' in public and "Về danh sách trang trạng thái công khai" in public
    assert 'href="/pages/"' in client.get("/pages/status/nowhere", headers=READ).text
