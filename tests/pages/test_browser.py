"""The pages as a person sees them: a real headless Chromium against the service and a seeded InfluxDB.

Every test checks the rendered text, that no request left 127.0.0.1 and that the page logged no error; each
keeps a screenshot in tests/pages/artefacts/. The figures on the pages are compared with the API's answers for
the same village and window, formatted the Vietnamese way (99,6 %), and with the scenario's ground truth.
"""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import httpx
import pages_scenario as scenario
import pytest
from pages_kit import ADMIN_KEY, READ_KEY, shot

from server.pages.i18n import Lang

ZONE = ZoneInfo("Asia/Ho_Chi_Minh")
VI = Lang("vi", ZONE)
EN = Lang("en", ZONE)
VILLAGE = "/pages/villages/kha-ly-thuong"


def sign_in(page, live: str, key: str = READ_KEY, target: str = VILLAGE) -> None:
    page.goto(f"{live}/pages/signin?next={target}")
    page.fill("#key", key)
    page.click("#signin button[type=submit]")
    page.wait_for_load_state("load")


def clean(seen, *refused: int) -> None:
    """No request left 127.0.0.1 and nothing failed, but the statuses the test asked for (a refused page is
    logged by the browser as a failed load)."""
    assert seen.foreign() == [], f"requests left this machine: {seen.foreign()}"
    expected = {
        f"console: Failed to load resource: the server responded with a status of {s} " for s in refused
    }
    assert [e for e in seen.errors if not any(e.startswith(x) for x in expected)] == [], seen.errors


def local(ms: int, fmt: str) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).astimezone(ZONE).strftime(fmt)


def api(live: str, path: str) -> dict:
    answer = httpx.get(f"{live}/api/v1{path}", headers={"X-API-Key": READ_KEY}, timeout=30)
    answer.raise_for_status()
    return answer.json()


def test_protected_page_refused_without_a_key(live, watched) -> None:
    page, seen = watched
    response = page.goto(f"{live}{VILLAGE}")
    assert response.status == 401
    body = page.inner_text("body")
    assert "Trang này cần đăng nhập bằng khóa đọc." in body
    assert "Khả Lý Thượng" not in body and "Danh sách cần sửa" not in body
    assert page.locator("#key").count() == 1
    shot(page, "signin-refused")
    clean(seen, 401)


def test_sign_in_sets_a_session_cookie_and_the_key_never_in_a_url(live, watched, context) -> None:
    page, seen = watched
    page.goto(f"{live}{VILLAGE}")
    page.fill("#key", "not-the-key-0123456789")
    page.click("#signin button[type=submit]")
    assert "Khóa không đúng." in page.inner_text("body")
    assert context.cookies() == []
    sign_in(page, live)
    assert page.url == f"{live}{VILLAGE}"
    assert page.locator("h1").inner_text() == "Khả Lý Thượng"
    cookies = context.cookies()
    assert [(c["name"], c["httpOnly"], c["sameSite"]) for c in cookies] == [("thonminh_session", True, "Lax")]
    assert READ_KEY not in cookies[0]["value"]
    assert not any(READ_KEY in url for url in seen.requests)
    assert page.evaluate("document.cookie") == "", "the session cookie must not be readable by scripts"
    # signing out ends the session: the page is refused again
    page.click("header form button")
    page.wait_for_load_state("load")
    assert page.goto(f"{live}{VILLAGE}").status == 401
    clean(seen, 401)


def test_village_page_shows_the_apis_figures(live, watched) -> None:
    page, seen = watched
    sign_in(page, live)
    body = page.inner_text("body")
    shot(page, "village")
    criteria = api(live, "/villages/kha-ly-thuong/criteria")
    for c in criteria["criteria"]:
        card = page.locator(f"#c-{c['id']}").inner_text()
        assert c["title"]["vi"] in card
        assert VI.t(c["verdict"]) in card
        assert VI.value(c["evidence"]["value"], c["evidence"]["unit"], c["threshold"]) in card
        assert VI.share(c["evidence"]["coverage"], c["min_coverage"]) in card
    # the ground truth, in Vietnamese formats and local time
    fiber = next(c for c in criteria["criteria"] if c["id"] == "fiber_availability")
    shown = VI.value(fiber["evidence"]["value"], "%", fiber["threshold"])
    assert "," in shown and shown in body
    outages = page.locator("#outages").inner_text()
    assert local(scenario.FIBER_DOWN[0], "%d/%m/%Y 10:00:00") in outages
    assert local(scenario.FIBER_DOWN[1], "%d/%m/%Y 12:30:05") in outages
    assert "2 giờ 30 phút" in outages
    repairs = page.locator("#lights").inner_text()
    assert "L3" in repairs and "Hỏng bóng" in repairs and "L1" not in repairs.split("Danh sách cần sửa")[1]
    # since: the first report showing the fault, the sample stamped at the end of the 10 minutes it failed in
    assert local(scenario.L3_FAILS + 10 * scenario.M, "%d/%m/%Y 19:10") in repairs
    assert "21,12345, 106,54321" in repairs
    head = page.locator("section.head")
    window = f"start={head.get_attribute('data-start')}&end={head.get_attribute('data-end')}"
    wifi = page.locator("#wifi").inner_text()
    use = api(live, f"/villages/kha-ly-thuong/wifi?{window}")["use"]
    # each beside the threshold of the village's criterion on it, as on its card
    threshold = {c["id"]: c["threshold"] for c in criteria["criteria"]}
    assert VI.value(use["mean_daily_users"], "users/day", threshold["wifi_use"]) in wifi
    # yesterday by its date: in the first local hour of a day the default window ends at midnight, and
    # yesterday is then the window's last day, not the one before it
    day = datetime.fromtimestamp((scenario.TODAY - scenario.DAY + scenario.TZ) / 1000, UTC).date()
    yesterday = next(d for d in use["days"] if d["date"] == day.isoformat())
    assert (
        f"{VI.day(yesterday['date'])} {VI.value(yesterday['unique_users'], 'users/day', threshold['wifi_use'])}"
        in wifi
    )
    assert yesterday["unique_users"] == scenario.USERS[scenario.DAYS - 1]
    lighting = api(live, f"/villages/kha-ly-thuong/lighting?{window}")
    assert (
        VI.value(lighting["availability_pct"], "%", threshold["street_lighting"])
        in page.locator("#lights").inner_text()
    )
    indicators = page.locator("#indicators").inner_text()
    # who entered it in the page's words: the server stores "(key officer-hoa)", English on a Vietnamese page
    assert "31,5 %" in indicators and f"{scenario.EID[1]} (khóa API officer-hoa)" in indicators
    assert local(scenario.EID_AS_OF, "%d/%m/%Y %H:%M") in indicators
    entry = api(live, "/villages/kha-ly-thuong/indicators")["entries"][0]
    assert VI.when(entry["entered"], seconds=True) in indicators
    assert "Giờ Việt Nam (Asia/Ho_Chi_Minh, UTC+07:00)" in body
    assert page.locator("svg.chart").count() >= 5
    # this service has no key registry: the verification block says so, and no share is shown
    verification = page.locator("#verification")
    assert verification.is_visible() and "Chưa cấu hình xác minh" in verification.inner_text()
    assert page.locator("dd.verified").count() == 0
    # the fourth verdict's count, in its own colour (purple, white text) as the browser paints it
    unverified = page.locator("div.counts span.verdict.unverified")
    assert unverified.inner_text() == "Chưa xác minh: 0"
    colours = unverified.evaluate("e => [getComputedStyle(e).backgroundColor, getComputedStyle(e).color]")
    assert colours == ["rgb(106, 27, 154)", "rgb(255, 255, 255)"]
    clean(seen)


def test_english_switch(live, watched) -> None:
    page, seen = watched
    sign_in(page, live)
    page.click("a.lang")
    page.wait_for_load_state("load")
    assert "lang=en" in page.url
    body = page.inner_text("body")
    assert "Street lights" in body and "Repair list" in body and "Lamp failure" in body
    assert "2 h 30 min" in body and "31.5 %" in body
    assert page.locator("html").get_attribute("lang") == "en"
    shot(page, "village-en")
    clean(seen)


@pytest.mark.viewport({"width": 390, "height": 844})
def test_phone_screen(live, watched) -> None:
    page, seen = watched
    sign_in(page, live)
    # nothing wider than the screen: wide tables scroll inside their own box
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    assert page.locator("#c-fiber_availability").bounding_box()["width"] <= 390
    # an outage's reason, a long URL in it, wraps on the screen: its table needs no sideways scrolling
    outages = page.locator("#outages table.outages")
    widths = outages.evaluate("t => [t.scrollWidth, t.parentElement.clientWidth]")
    assert widths[0] <= widths[1], widths
    shot(page, "village-phone")
    page.goto(f"{live}/pages/")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    shot(page, "overview-phone")
    clean(seen)


def test_overview_sorts_filters_and_links(live, watched) -> None:
    page, seen = watched
    sign_in(page, live, target="/pages/")
    rollup = api(live, "/criteria")
    rows = page.locator("table.overview tbody tr")
    assert rows.count() == len(rollup["villages"]) == 3
    names = rows.locator("td:first-child").all_inner_texts()
    assert names == sorted(names, key=str.casefold) and "Khả Lý Thượng" in names and "Bản Vẹn" in names
    counts = page.locator("tr.counts").inner_text()
    fiber = next(c for c in rollup["criteria"] if c["id"] == "fiber_availability")
    # pass, fail, unverified, insufficient data: each count in its verdict's colour
    shown = " ".join(str(fiber["counts"][v]) for v in ("pass", "fail", "unverified", "insufficient_data"))
    assert shown in counts, (shown, counts)
    shot(page, "overview")
    # sort by fiber availability: the worst first (Bản Vẹn has one day of data: insufficient)
    page.click("a.sort:has-text('cáp quang')")
    page.wait_for_load_state("load")
    first = page.locator("table.overview tbody tr").first.inner_text()
    assert "Bản Vẹn" in first
    page.fill("input[name=q]", "khả")
    page.click("form.filters button")
    page.wait_for_load_state("load")
    assert page.locator("table.overview tbody tr").count() == 1
    page.select_option("select[name=verdict]", "fail")
    page.select_option("select[name=criterion]", "fiber_availability")
    page.fill("input[name=q]", "")
    page.click("form.filters button")
    page.wait_for_load_state("load")
    expected = sum(1 for v in rollup["villages"] if v["verdicts"]["fiber_availability"]["verdict"] == "fail")
    assert page.locator("table.overview tbody tr").count() == expected
    # the filter box shows what it filters by, and sorting keeps it
    assert page.locator("select[name=verdict]").input_value() == "fail"
    page.click("a.sort:has-text('cáp quang')")
    page.wait_for_load_state("load")
    assert page.locator("table.overview tbody tr").count() == expected
    assert page.locator("select[name=verdict]").input_value() == "fail"
    page.goto(f"{live}/pages/?q=khả")
    page.click("text=Khả Lý Thượng")
    page.wait_for_load_state("load")
    assert page.url.startswith(f"{live}{VILLAGE}") and page.locator("h1").inner_text() == "Khả Lý Thượng"
    clean(seen)


def test_public_status_page_needs_no_key_and_shows_no_devices(live, watched, context) -> None:
    page, seen = watched
    response = page.goto(f"{live}/pages/status/kha-ly-thuong")
    assert response.status == 200 and context.cookies() == []
    body = page.inner_text("body")
    assert "Khả Lý Thượng" in body and "Đạt" in body
    assert "L3" not in body and "Danh sách cần sửa" not in body and "ec25" not in body
    assert scenario.EID[1] not in body
    shot(page, "status")
    page.goto(f"{live}/pages/status/")
    assert page.locator("ul.villages li").all_inner_texts() == ["Khả Lý Thượng"]
    # a village that did not opt in has no public page
    assert page.goto(f"{live}/pages/status/ban-ven").status == 404
    clean(seen, 404)


def test_bad_input_is_a_clear_page(live, watched) -> None:
    page, seen = watched
    sign_in(page, live, key=ADMIN_KEY)
    assert page.goto(f"{live}/pages/villages/khong-co").status == 404
    assert "Thôn khong-co không có trong dữ liệu." in page.inner_text("body")
    assert page.goto(f"{live}{VILLAGE}?month=2150-01").status == 422
    assert "Tháng 01/2150 chưa bắt đầu." in page.inner_text("body")
    assert page.goto(f"{live}{VILLAGE}?month=2025-13").status == 422
    assert "YYYY-MM" in page.inner_text("body")
    shot(page, "error")
    assert page.goto(f"{live}{VILLAGE}?month=2001-01").status == 200
    body = page.inner_text("body")
    assert "Không có dữ liệu nào trong khoảng thời gian này." in body
    assert set(page.locator(".criterion .verdict").all_inner_texts()) == {"Chưa đủ dữ liệu"}
    clean(seen, 404, 422)


def test_api_docs_load_offline(live, watched) -> None:
    page, seen = watched
    page.goto(f"{live}/api/v1/docs")
    page.wait_for_selector(".swagger-ui .info .title", timeout=15_000)
    assert "thonminh criteria service" in page.inner_text(".swagger-ui .info .title")
    page.wait_for_selector(".opblock-summary-path", timeout=15_000)
    assert "/api/v1/villages/{village}/criteria" in page.inner_text(".swagger-ui")
    shot(page, "api-docs")
    clean(seen)
