"""A figure just under its threshold or minimum is written under it everywhere on the village page.

A reviewer found the API's fiber coverage 0.79981 (insufficient_data) shown "80,0 % (≥ 80,0 %)", and its value
98.99494 (fail) "98,99 %" on the card but "99,0 %" in the card's daily values and in the outages table. The page
is rendered here from a view shaped as ``server.pages.views.village_view`` makes it, with those numbers: no
database holds a figure that close to its threshold on purpose.
"""

from __future__ import annotations

import html
import re
from types import SimpleNamespace as NS
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from server.pages.charts import bar_chart
from server.pages.daily import Day
from server.pages.i18n import Lang, decimals
from server.pages.rendering import templates
from server.pages.views import VERDICTS_SHOWN
from server.verification_view import summarise

ZONE = ZoneInfo("Asia/Ho_Chi_Minh")
VI, EN = Lang("vi", ZONE), Lang("en", ZONE)
START_MS, DAY_MS = 1_764_522_000_000, 86_400_000  # 01/12 00:00 in Hanoi
END_MS = START_MS + 30 * DAY_MS


def test_a_value_is_written_on_its_side_of_the_limit() -> None:
    assert VI.share(0.79981, 0.8) == "79,98 %" and VI.share(0.8, 0.8) == "80,0 %"
    assert VI.share(0.79981) == "80,0 %"  # without its minimum: one decimal
    assert VI.value(98.99494, "%", 99.0) == "98,99 %" and VI.value(99.0, "%", 99.0) == "99,0 %"
    assert VI.value(98.99996, "%", 99.0) == "98,99996 %"  # not "99,000 %": as many decimals as it takes
    assert VI.value(99.04, "%", 99.0) == "99,04 %"  # above it is not the threshold either
    # a threshold with more decimals than the value: 99,96 % is not written 100,0 % under ≥ 99,97 %
    assert VI.value(99.96, "%", 99.97) == "99,96 %"
    # a value the verdict takes for the threshold (it compares to 9 decimals) is written as the threshold
    assert VI.value(98.99999999999, "%", 99.0) == "99,0 %"
    assert EN.value(20, "users/day", 10) == "20.0 users/day" and decimals(25.0, None) == 1


def _criterion(cid: str, figure: str, value: float, coverage: float, verdict: str, **more: Any) -> NS:
    window = NS(start="2025-11-30T17:00:00Z", end="2025-12-30T17:00:00Z")
    out = NS(
        id=cid,
        title=NS(vi=cid, en=cid),
        figure=figure,
        params=more.pop("params", {}),
        comparator=">=",
        threshold=more.pop("threshold", 99.0),
        unit=more.pop("unit", "%"),
        min_coverage=more.pop("min_coverage", 0.8),
        verdict=verdict,
        evidence=NS(value=value, unit="%", coverage=coverage, window=window, verified_pct=None, detail={}),
    )
    days = [Day(START_MS + 7 * DAY_MS, START_MS + 8 * DAY_MS, value, 1.0, verdict)]
    return NS(out=out, days=days, window=window, days_counted=None)


def page(lang: Lang) -> str:
    """The village page of a village whose fiber is 98.99494 % with coverage 0.79981, its lights 94.996 %, its
    Wi-Fi 94.99 %, 9.96 users a day over a coverage of 0.4998, 4G signal 89.96 % at -110 dBm."""
    rows = [
        _criterion("fiber_availability", "uplink.availability", 98.99494, 0.79981, "insufficient_data",
                   params={"link": "fiber"}),
        _criterion("fiber_two", "uplink.availability", 98.99494, 0.9, "fail", params={"link": "fiber2"}),
        _criterion("wifi_service", "wifi.service", 94.99, 0.9, "fail", threshold=95.0),
        _criterion("wifi_use", "wifi.daily_users", 9.96, 0.4998, "insufficient_data", threshold=10,
                   unit="users/day", min_coverage=0.5),
        _criterion("street_lighting", "lighting.availability", 94.996, 0.9, "fail", threshold=95.0),
        _criterion("lte_signal", "modem.rsrp_share", 89.96, 0.4999, "insufficient_data", threshold=90.0,
                   params={"rsrp_min_dbm": -110}, min_coverage=0.5),
    ]  # fmt: skip
    link = NS(failures=1, downtime_s=9005, mtbf_s=None, mttr_s=9005)
    extra = {
        "place_links": [],
        "dossier": None,
        "verification": summarise([]),
        "outages": NS(links=[NS(link="fiber", **vars(link)), NS(link="fiber2", **vars(link))], outages=[]),
        "wifi": NS(
            service=NS(availability_pct=94.99),
            use=NS(
                mean_daily_users=9.96, coverage=0.4998, days=[{"date": "2025-12-08", "unique_users": 9.96}]
            ),
        ),
        "wifi_days": None,
        "lighting": NS(availability_pct=94.996, lights=[], by_fault={}),
        "repairs": [],
        "modem": NS(
            registered_pct=99.99,
            rsrp_share_pct={"-120": 99.96, "-110": 89.96, "-100": 50.0, "-90": None},
            coverage=0.4999,
            medians=[],
        ),
        "indicators": [],
        "entries": [],
        "counting": set(),
        "counted_from": {},
        "indicator_titles": {},
    }
    view = NS(
        village="kha-ly-thuong",
        name="Khả Lý Thượng",
        period=NS(month=None, query=dict, api_query=dict),
        window=NS(start=START_MS, end=END_MS, start_ms=START_MS, end_ms=END_MS),
        criteria=NS(counts={v: 0 for v in VERDICTS_SHOWN}),
        rows=rows,
        no_data=False,
        extra=extra,
    )
    markup = templates.get_template("village.html").render(
        L=lang,
        principal=None,
        base="",
        with_lang=lambda code: "",
        link=lambda path, **query: path,
        chart=bar_chart,
        VERDICTS=VERDICTS_SHOWN,
        here="",
        view=view,
        entered="",
        entry=None,
    )
    return markup


def _text(markup: str) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", markup)).split())


def _part(markup: str, start: str, end: str) -> str:
    return _text(markup[markup.index(start) : markup.index(end, markup.index(start))])


@pytest.fixture(scope="module")
def vi_page() -> str:
    return page(VI)


def test_coverage_under_its_minimum_is_not_written_as_the_minimum(vi_page: str) -> None:
    card = _part(vi_page, 'id="c-fiber_availability"', "</article>")
    assert "Độ phủ dữ liệu 79,98 % (≥ 80,0 %)" in card and "Chưa đủ dữ liệu" in card, card


def test_the_days_values_and_the_outages_table_write_the_cards_value(vi_page: str) -> None:
    article = vi_page[vi_page.index('id="c-fiber_two"') :]
    card = _part(article, "<dl", "</dl>")
    assert "Đo được 98,99 %" in card, card
    days = _part(article, '<table class="day-values">', "</table>")
    assert "08/12 98,99 % Không đạt" in days and "99,0 %" not in days, days
    links = _part(vi_page, '<table class="links', "</table>")
    assert "Cáp quang 98,99 %" in links and "99,0 %" not in links, links


def test_a_bars_title_writes_the_days_value_as_the_list_does(vi_page: str) -> None:
    start = vi_page.index('id="c-fiber_two"')
    chart = vi_page[start : vi_page.index('<details class="day-values">', start)]
    assert "08/12: 98,99 % (Không đạt)" in _text(chart), _text(chart)


def test_every_card_writes_a_figure_beside_its_criterions_threshold(vi_page: str) -> None:
    wifi = _part(vi_page, 'id="wifi"', "</section>")
    # 94,99 % under ≥ 95 %, 9,96 users under ≥ 10, coverage 49,98 % under 50 %: each on its side
    assert "Tỷ lệ hoạt động 94,99 %" in wifi, wifi
    assert "9,96 người dùng/ngày" in wifi and "10,0" not in wifi, wifi
    assert "49,98 %" in wifi and "50,0 %" not in wifi, wifi
    # the per-day list writes a day as the criterion's day values do: same decimals, same unit
    assert "08/12 9,96 người dùng/ngày" in wifi, wifi
    lights = _part(vi_page, 'id="lights"', "</section>")
    assert "94,996 %" in lights and "95,0 %" not in lights, lights
    signal = _part(vi_page, 'id="signal"', "</section>")
    # -110 dBm is the criterion's level, -120 is no criterion's: one decimal as everywhere
    assert "89,96 %" in signal and "100,0 %" in signal and "49,99 %" in signal, signal


def test_the_english_page_uses_the_same_rule() -> None:
    card = _part(page(EN), 'id="c-fiber_availability"', "</article>")
    assert "79.98 % (≥ 80.0 %)" in card, card
