"""The pages printed (Ctrl+P) and read on a 360 px phone, in a real headless Chromium against the service.

Printed: every column of the overview and every day of the Wi-Fi strip on the sheet, the verdicts in their
colours as Chrome prints by default (no background graphics), the controls left off, an outage with its reason.
On a phone: the charts' labels readable, no column of a record table off the screen, the overview's village
column in view while its criteria scroll, a local time on one line. The overview's filter keeps the sort order.
"""

from __future__ import annotations

from urllib.parse import quote
from zoneinfo import ZoneInfo

import pdftools
import pytest
import verification_cases as cases
from pages_kit import READ_KEY, shot

from server.pages.i18n import Lang
from server.pages.rendering import templates
from server.verification_view import summarise

VILLAGE = "/pages/villages/kha-ly-thuong"
PHONE = {"width": 360, "height": 800}
#: A4 at 96 CSS px an inch, no margins: the width a sheet lays the page out at
SHEET = {"width": 794, "height": 1123}
#: whether the browser prints an element's background as it is (Chrome leaves backgrounds off by default)
ADJUST = "e => { const s = getComputedStyle(e); return s.printColorAdjust || s.webkitPrintColorAdjust; }"
PURPLE = "#6a1b9a"  # an unverified badge's background (pages.css --unverified): nothing else on these pages


def sign_in(page, live: str, target: str = VILLAGE) -> None:
    page.goto(f"{live}/pages/signin?next={quote(target, safe='/')}")
    page.fill("#key", READ_KEY)
    page.click("#signin button[type=submit]")
    page.wait_for_load_state("load")


def printed(page, tmp_path, name: str, **size: str) -> tuple[bytes, str]:
    """The page as Chrome prints it (print media, no background graphics): the PDF and its words."""
    page.emulate_media(media="print")
    pdf = page.pdf(**(size or {"format": "A4"}))
    (tmp_path / f"{name}.pdf").write_bytes(pdf)
    return pdf, " ".join(pdftools.text(pdf, layout=False).split())


def off_screen(page, selector: str, width: int) -> list[str]:
    """The cells matching ``selector`` that are not wholly inside the screen's width."""
    return page.eval_on_selector_all(
        selector,
        f"""cells => cells.filter(c => {{ const r = c.getBoundingClientRect();
            return r.width > 0 && (r.left < -0.5 || r.right > {width} + 0.5); }}).map(c => c.innerText)""",
    )


def test_the_printed_overview_has_every_criterion_its_colours_and_no_controls(
    live, watched, tmp_path
) -> None:
    page, _ = watched
    sign_in(page, live, "/pages/")
    titles = page.locator("table.overview thead tr:first-child th").all_inner_texts()[2:]
    assert len(titles) == 7 and "VNeID" in titles[-1]
    page.set_viewport_size(SHEET)
    pdf, text = printed(page, tmp_path, "overview")
    shot(page, "overview-print")
    # the last criteria were cut at the sheet's right edge (the table's sideways scroll box)
    for title in titles:
        assert title.split()[-1].rstrip(" ▲▼") in text, title
    assert page.eval_on_selector("table.overview", "t => t.getBoundingClientRect().right") <= SHEET["width"]
    # the counts keep their colours and read without them: each pill's mark, the legend's words
    assert page.eval_on_selector("tr.counts .verdict.unverified", ADJUST) == "exact"
    assert pdftools.render(pdf, 1, tmp_path).count(PURPLE) > 40
    assert "✓ Đạt ✗ Không đạt ! Chưa xác minh ? Chưa đủ dữ liệu" in text
    # screen-only parts stay off the sheet: nav, language switch, sign-out, the filter form, the API docs link
    for word in ("Trạng thái công khai", "English", "Đăng xuất", "Lọc", "Tài liệu API"):
        assert word not in text, word
    assert "Giờ Việt Nam (Asia/Ho_Chi_Minh" in text  # what the times mean stays


def test_the_printed_village_page_has_every_day_and_its_verdict_colours(live, watched, tmp_path) -> None:
    page, _ = watched
    sign_in(page, live)
    days = page.locator("table.days td").all_inner_texts()
    assert len(days) >= 28
    pdf, text = printed(page, tmp_path, "village")
    missing = [d for d in days if " ".join(d.split()) not in text]
    assert missing == [], f"{len(missing)} of {len(days)} days not printed: {missing}"
    assert page.eval_on_selector("div.counts span.verdict", ADJUST) == "exact"
    assert pdftools.render(pdf, 1, tmp_path).count(PURPLE) > 40  # "Chưa xác minh: 0", on the first sheet
    for word in ("30 ngày gần nhất", "API: /api/v1", "Đăng xuất"):
        assert word not in text, word


def test_a_printed_outage_keeps_its_reason_on_its_sheet(live, watched, tmp_path) -> None:
    """The outages alone on the sheet, pushed down by a spacer until the sheet ends between an outage and its
    reason: both go to the next sheet, the reason never stands alone at the top of it."""
    page, _ = watched
    sign_in(page, live)
    page.set_viewport_size(SHEET)
    page.emulate_media(media="print")
    page.add_style_tag(content="main > :not(#outages, #spacer), footer { display: none !important; }")
    top = page.eval_on_selector("#outages tr.reason", "r => r.getBoundingClientRect().top + window.scrollY")
    start = page.locator("#outages tr.outage td").nth(1).inner_text()
    for into in (3, 9):
        spacer = SHEET["height"] - top - into  # the sheet ends `into` px into the reason's row
        page.evaluate(
            "h => { const s = document.getElementById('spacer') || document.createElement('div'); s.id = 'spacer';"
            " s.style.height = h + 'px'; document.querySelector('main').prepend(s); }",
            spacer,
        )
        pdf = page.pdf(width=f"{SHEET['width']}px", height=f"{SHEET['height']}px")
        sheets = [" ".join(s.split()) for s in pdftools.text(pdf, layout=False).split("\f")]
        with_start = [n for n, s in enumerate(sheets) if start in s]
        with_reason = [n for n, s in enumerate(sheets) if "Lý do:" in s]
        assert with_start == with_reason == [1], (into, with_start, with_reason)


@pytest.mark.viewport(PHONE)
def test_a_phone_reads_the_charts_and_every_column(live, watched) -> None:
    page, seen = watched
    sign_in(page, live)
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    # each axis label as drawn: its size in the SVG's units times the SVG's scale, and its box
    drawn = page.eval_on_selector_all(
        "svg.chart",
        """charts => charts.flatMap(svg => { const scale = svg.getBoundingClientRect().width / 640;
            return [...svg.querySelectorAll('text.axis')].map(t =>
                [parseFloat(getComputedStyle(t).fontSize) * scale, t.getBoundingClientRect().height]); })""",
    )
    assert len(drawn) > 20
    assert min(size for size, _ in drawn) >= 9 and min(box for _, box in drawn) >= 9, min(drawn)
    # outages (count, duration, MTBF, MTTR), the repair list (last report, position), who entered an indicator
    # and when: every cell on the screen
    for selector in ("#outages table td", "table.repairs td", "table.entries td"):
        assert page.locator(selector).count() >= 4, selector
        assert off_screen(page, selector, PHONE["width"]) == [], selector
    shot(page, "village-360")
    assert seen.foreign() == []


@pytest.mark.viewport(PHONE)
def test_a_phone_reads_the_keys_and_faults_of_the_verification(live, watched) -> None:
    page, _ = watched
    block = templates.env.from_string(
        '{% from "_verification.html" import verification_block with context %}{{ verification_block(s) }}'
    ).render(s=summarise(cases.tampered()), L=Lang("vi", ZoneInfo("Asia/Ho_Chi_Minh")))
    page.set_content(
        '<!doctype html><html lang="vi"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<link rel="stylesheet" href="{live}/pages/static/pages.css"></head><body><main>{block}</main></body></html>'
    )
    page.wait_for_load_state("load")
    assert (
        page.locator("table.keys td").count() == 12 and page.locator("table.evidence-faults td").count() == 10
    )
    for selector in ("table.keys td", "table.evidence-faults td", "#verification table td"):
        assert off_screen(page, selector, PHONE["width"]) == [], selector
    shot(page, "verification-360")
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]


@pytest.mark.viewport(PHONE)
def test_the_phones_overview_keeps_the_village_column_in_view(live, watched) -> None:
    page, _ = watched
    sign_in(page, live, "/pages/")
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    assert page.locator("p.scroll-hint").is_visible() and page.locator("p.legend").is_visible()
    # scrolled to its last criterion, the table still shows which village each row is
    page.eval_on_selector("table.overview", "t => { t.parentElement.scrollLeft = t.scrollWidth; }")
    assert off_screen(page, "table.overview tbody td:first-child", PHONE["width"]) == []
    assert off_screen(page, "table.overview thead th:last-child", PHONE["width"]) == []
    shot(page, "overview-360-scrolled")


@pytest.mark.viewport(PHONE)
def test_a_phones_header_links_are_a_fingers_size(live, watched) -> None:
    """The header's links (overview, status, language, sign-out) were 22 px tall on a phone."""
    page, _ = watched
    sign_in(page, live)
    heights = page.eval_on_selector_all(
        "nav a, nav button.link, form.period a", "els => els.map(e => e.getBoundingClientRect().height)"
    )
    assert heights and min(heights) >= 44, heights


@pytest.mark.viewport(PHONE)
def test_a_phone_shows_an_english_time_on_one_line(live, watched) -> None:
    page, _ = watched
    sign_in(page, live, f"{VILLAGE}?lang=en")
    lines = page.eval_on_selector_all(
        "#outages tr.outage td:nth-child(2), #outages tr.outage td:nth-child(3), table.repairs td:nth-child(3),"
        " table.repairs td:nth-child(4), table.entries td:nth-child(3), table.entries td:nth-child(5)",
        """cells => cells.map(c => { const r = document.createRange(); r.selectNodeContents(c);
            const tops = [...r.getClientRects()].filter(x => x.width > 0).map(x => Math.round(x.top));
            return [c.innerText, new Set(tops).size]; })""",
    )
    assert len(lines) == 6 and all(text[:4].isdigit() for text, _ in lines), lines
    assert [text for text, n in lines if n != 1] == [], lines


def test_the_overview_filter_keeps_a_descending_sort(live, watched) -> None:
    page, _ = watched
    sign_in(page, live, "/pages/?sort=fiber_availability&order=desc")
    first = page.locator("table.overview tbody tr td:first-child").all_inner_texts()
    assert "▼" in page.locator("a.sort.on").inner_text()
    page.click("form.filters button")
    page.wait_for_load_state("load")
    assert "order=desc" in page.url and "sort=fiber_availability" in page.url
    assert "▼" in page.locator("a.sort.on").inner_text()
    assert page.locator("table.overview tbody tr td:first-child").all_inner_texts() == first
