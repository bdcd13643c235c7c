"""A dossier for any period (``start=&end=``), read with pdftotext: the API's figures for the same window, the
local days the period touches, and the period, not a month, on the cover and in every part."""

from __future__ import annotations

import re
from datetime import datetime

import pdftools
import pytest
import rep_scenario as sc
from fastapi.testclient import TestClient
from rep_helpers import LABELS, section, summary_cells, vn
from rep_helpers import iso as _iso
from srv_helpers import READ

VILLAGE = "kha-ly-thuong"
URL = f"/api/v1/villages/{VILLAGE}/report.pdf"


def _local(ms: int, fmt: str = "%d/%m/%Y %H:%M:%S") -> str:
    return datetime.fromtimestamp(ms / 1000, sc.ZONE).strftime(fmt)


def _dossier(api: TestClient, start_ms: int, end_ms: int, url: str = URL) -> tuple[str, str]:
    response = api.get(url, params={"start": _iso(start_ms), "end": _iso(end_ms)}, headers=READ)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/pdf"
    return pdftools.text(response.content), response.headers["content-disposition"]


def _criteria(api: TestClient, start_ms: int, end_ms: int) -> dict:
    answer = api.get(
        f"/api/v1/villages/{VILLAGE}/criteria",
        headers=READ,
        params={"start": _iso(start_ms), "end": _iso(end_ms)},
    )
    assert answer.status_code == 200, answer.text
    return {c["id"]: c for c in answer.json()["criteria"]}


@pytest.fixture(scope="module")
def two_days(api: TestClient, month: sc.MonthScenario) -> tuple[str, str]:
    """Day 4 18:00 to day 6 06:00: three local days, the first and the last only in part."""
    return _dossier(api, month.at(4, 18), month.at(6, 6))


def test_the_cover_and_every_part_name_the_period_not_a_month(
    two_days: tuple[str, str], month: sc.MonthScenario
):
    text, disposition = two_days
    label = f"{_local(month.at(4, 18))} +07 – {_local(month.at(6, 6))} +07"
    flat = " ".join(text.split())
    assert f"Khoảng thời gian {label} (1 ngày 12 giờ)" in flat
    assert f"Thôn {sc.NAME_A} · {label}" in flat
    cover = text[: text.index("Lập lúc")]
    assert "Tháng" not in cover and "tháng" not in cover
    # under each part's heading (results, evidence, outages, lights, method): the period
    for heading in (
        "1. Kết quả các tiêu chí",
        "2. Minh chứng từng tiêu chí",
        "3. Sự cố mất kết nối",
        "4. Đèn chiếu sáng: lỗi trong khoảng thời gian",
        "Phương pháp đo",
    ):
        assert f"{heading} Khoảng thời gian: {label}" in flat, heading
    assert "trong tháng" not in flat and "của tháng" not in flat and "(tháng)" not in flat
    assert f"Hồ sơ minh chứng · thôn {sc.NAME_A} · {label} Trang 2" in flat  # the footer
    assert f"ho-so-{VILLAGE}-{_local(month.at(4, 18), '%Y%m%dT%H%M%S')}-" in disposition


def test_period_figures_equal_the_api_for_the_same_window(
    api: TestClient, two_days: tuple[str, str], month: sc.MonthScenario
):
    text, _ = two_days
    for c in _criteria(api, month.at(4, 18), month.at(6, 6)).values():
        ev = c["evidence"]
        unit = {"%": "%", "users/day": "người", "": ""}[ev["unit"]]
        row = section(text, c["title"]["vi"])
        value = f"{vn(ev['value'])} {unit}".strip() if ev["value"] is not None else "–"
        assert f"{LABELS[c['verdict']]} {value}" in row, (c["id"], row[:300])
        assert f"{vn(100 * ev['coverage'])} % ({vn(100 * c['min_coverage'])} %) {vn(ev['samples'], 0)}" in row


def test_daily_verdicts_are_the_parts_of_the_days_the_period_touches(
    api: TestClient, two_days: tuple[str, str], month: sc.MonthScenario
):
    text, _ = two_days
    parts = [
        (4, month.at(4, 18), month.at(5)),
        (5, month.at(5), month.at(6)),
        (6, month.at(6), month.at(6, 6)),
    ]
    days: dict[str, dict[str, list[str]]] = {}
    for day, lo, hi in parts:
        for cid, c in _criteria(api, lo, hi).items():
            days.setdefault(cid, {}).setdefault(c["verdict"], []).append(f"{day:02d}/{month.first:%m}")
    assert days["fiber_availability"]["fail"] == [f"05/{month.first:%m}"]  # 10:00-12:30 down on day 5
    for cid, c in _criteria(api, month.at(4, 18), month.at(6, 6)).items():
        if c["figure"] == "indicator.value":
            continue
        row = section(text, c["title"]["vi"])
        for verdict, label in (("fail", "Ngày không đạt"), ("insufficient_data", "Ngày chưa đủ dữ liệu")):
            listed = ", ".join(days[cid].get(verdict, [])) or "không có"
            assert f"{label}: {listed}." in row, (cid, verdict, row[-400:])


def test_a_period_inside_one_day_is_one_bar_and_says_so(api: TestClient, month: sc.MonthScenario, tmp_path):
    response = api.get(
        URL, headers=READ, params={"start": _iso(month.at(5, 9)), "end": _iso(month.at(5, 13))}
    )
    assert response.status_code == 200, response.text
    text = pdftools.text(response.content)
    flat = " ".join(text.split())
    assert f"{_local(month.at(5, 9))} +07 – 13:00:00 +07 (4 giờ)" in flat  # one day: its date once
    fiber = section(text, "Đường truyền cáp quang hoạt động ổn định")
    assert "chỉ có một cột" in fiber
    assert f"Ngày không đạt: 05/{month.first:%m}." in fiber  # 2.5 h of 4 h down
    # the one red bar, 40 pt wide at most, as high as 37.5 % of the 86 pt scale: rows of 40 red pixels at 72 dpi
    # (the red verdict cells are 32 mm wide; a bar as wide as the chart would be about 320 pixels)
    page = pdftools.render(response.content, 2, tmp_path, dpi=72)
    widths = [_red_run(page, y) for y in range(page.height)]
    streak = longest = 0
    for width in widths:  # the bar: consecutive rows of one width (a verdict cell's text breaks its rows up)
        streak = streak + 1 if 37 <= width <= 42 else 0
        longest = max(longest, streak)
    assert 28 <= longest <= 36, widths
    assert max(widths) < 100, max(widths)


def _red_run(page: pdftools.Image, y: int) -> int:
    """The longest run of verdict-red pixels in row ``y``."""
    longest = run = 0
    row = page.rgb[y * page.width * 3 : (y + 1) * page.width * 3]
    for x in range(page.width):
        r, g, b = row[3 * x : 3 * x + 3]
        run = run + 1 if abs(r - 0xC6) < 12 and abs(g - 0x28) < 12 and abs(b - 0x28) < 12 else 0
        longest = max(longest, run)
    return longest


def test_a_whole_month_given_as_start_and_end_is_the_month(api: TestClient, month: sc.MonthScenario):
    response = api.get(
        URL, headers=READ, params={"start": month.first.isoformat(), "end": month.following.isoformat()}
    )
    assert response.status_code == 200, response.text
    assert f"ho-so-{VILLAGE}-{month.text}.pdf" in response.headers["content-disposition"]
    assert f"Thôn {sc.NAME_A} · tháng {month.first:%m/%Y}" in pdftools.text(response.content)


def test_the_end_is_capped_at_now(api: TestClient):
    response = api.get(URL, headers=READ, params={"start": "-3h", "end": "+2d"})
    assert response.status_code == 200, response.text
    name = re.search(r"-(\d{8}T\d{6})-(\d{8}T\d{6})\.pdf", response.headers["content-disposition"])
    assert name, response.headers["content-disposition"]
    end = datetime.strptime(name.group(2), "%Y%m%dT%H%M%S").replace(tzinfo=sc.ZONE)
    assert abs((datetime.now(sc.ZONE) - end).total_seconds()) < 120
    # no data in the last three hours: every criterion is insufficient_data, which is the evidence
    assert "Tổng hợp: Đạt: 0 · Không đạt: 0 · Chưa đủ dữ liệu: 7" in " ".join(
        pdftools.text(response.content).split()
    )


def test_a_commune_dossier_for_a_period(api: TestClient, month: sc.MonthScenario):
    text, disposition = _dossier(api, month.at(19), month.at(21), "/api/v1/communes/an-lac/report.pdf")
    label = f"{_local(month.at(19))} +07 – {_local(month.at(21))} +07"
    flat = " ".join(text.split())
    assert f"Xã {sc.COMMUNE} · {label}" in flat
    assert f"Bảng tổng hợp các thôn Khoảng thời gian: {label}" in flat
    assert "1.1. Kết quả các tiêu chí" in text and "2.1. Kết quả các tiêu chí" in text
    roll_up = api.get(
        "/api/v1/criteria",
        headers=READ,
        params={"commune": "an-lac", "start": _iso(month.at(19)), "end": _iso(month.at(21))},
    ).json()
    summary = text[text.index("Bảng tổng hợp các thôn") :]
    row = next(line for line in summary.splitlines() if line.strip().startswith(sc.NAME_A))
    village = next(v for v in roll_up["villages"] if v["village"] == VILLAGE)
    assert "".join(row.split()).endswith(summary_cells(village, roll_up["criteria"])), row
    assert "ho-so-an-lac-" in disposition
