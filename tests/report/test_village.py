"""A village's monthly dossier read as a person reads it: pdftotext and pdftoppm on the PDF the API serves.

The figures are compared with the API's answers for the same windows (the month, and each day of it) and,
for the fiber availability, with the scenario's ground truth; the formatting the test expects is written here
(decimal comma, thousands dot), not borrowed from the code under test.
"""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path
from zoneinfo import ZoneInfo

import pdftools
import pytest
import rep_scenario as sc
from fastapi.testclient import TestClient
from rep_helpers import iso as _iso
from rep_helpers import vn
from srv_helpers import READ

from server.report import vi
from thonminh.figures import FIGURES

VILLAGE = "kha-ly-thuong"


@pytest.fixture(scope="module")
def pdf(api: TestClient, month: sc.MonthScenario) -> bytes:
    response = api.get(f"/api/v1/villages/{VILLAGE}/report.pdf", params={"month": month.text}, headers=READ)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/pdf"
    assert f"ho-so-{VILLAGE}-{month.text}.pdf" in response.headers["content-disposition"]
    return response.content


@pytest.fixture(scope="module")
def text(pdf: bytes) -> str:
    return pdftools.text(pdf)


@pytest.fixture(scope="module")
def month_criteria(api: TestClient, month: sc.MonthScenario) -> dict:
    answer = api.get(
        f"/api/v1/villages/{VILLAGE}/criteria",
        params={"start": _iso(month.start_ms), "end": _iso(month.end_ms)},
        headers=READ,
    )
    assert answer.status_code == 200, answer.text
    return {c["id"]: c for c in answer.json()["criteria"]}


def _section(text: str, title: str) -> str:
    """The lines of a criterion's evidence: from its heading to the next blank-line-separated heading."""
    heading = re.search(rf"^\f?\s*{re.escape(title)}$", text, re.M)
    assert heading is not None, title
    return text[heading.start() : heading.start() + 1500]


def test_vietnamese_text_comes_out_exactly(text: str, month_criteria: dict, month: sc.MonthScenario):
    for expected in (
        "HỒ SƠ MINH CHỨNG THÔN THÔNG MINH",
        f"Thôn {sc.NAME_A} · tháng {month.first:%m/%Y}",
        "Khả Lý Thượng (kha-ly-thuong)",
        "Asia/Ho_Chi_Minh (UTC+07:00)",
        "Trưởng thôn",
        "Cán bộ Ủy ban nhân dân xã",
        "mất tín hiệu quang",
        "Nguyễn Thị Hoa, UBND xã",
        "Hỏng bóng",
        "Phương pháp đo",
        "Sự cố mất kết nối",
    ):
        assert expected in text, expected
    for criterion in month_criteria.values():  # each evidence heading holds the whole title on one line
        assert _section(text, criterion["title"]["vi"])
    assert unicodedata.is_normalized("NFC", text)
    assert not re.search("[\u0300-\u036f]", text), "a diacritic came out as a separate combining mark"


def test_month_figures_equal_the_api(text: str, month_criteria: dict):
    labels = {"pass": "Đạt", "fail": "Không đạt", "insufficient_data": "Chưa đủ dữ liệu"}
    for c in month_criteria.values():
        ev = c["evidence"]
        unit = {"%": "%", "users/day": "người"}[ev["unit"]]
        row = " ".join(_section(text, c["title"]["vi"]).split())
        assert f"{labels[c['verdict']]} {vn(ev['value'])} {unit}" in row, (c["id"], row[:300])
        assert f"{vn(100 * ev['coverage'])} % ({vn(100 * c['min_coverage'])} %) {vn(ev['samples'], 0)}" in row


def test_fiber_availability_is_the_ground_truth(text: str, month_criteria: dict, month: sc.MonthScenario):
    fiber = month_criteria["fiber_availability"]["evidence"]
    down_s = sum(hi - lo for lo, hi in month.fiber_down) / 1000
    observed_s = fiber["samples"] * 300.0
    assert fiber["samples"] == month.days * 288
    expected = 100 * (observed_s - down_s) / observed_s
    assert f"Không đạt {vn(expected)} % ≥ 99 %" in " ".join(
        _section(text, "Đường truyền cáp quang hoạt động ổn định").split()
    )


def _days(api: TestClient, month: sc.MonthScenario) -> dict[str, dict[str, list[int]]]:
    """Per criterion, the days the API judges ``fail`` and ``insufficient_data`` for that one day."""
    found: dict[str, dict[str, list[int]]] = {}
    for day in range(1, month.days + 1):
        answer = api.get(
            f"/api/v1/villages/{VILLAGE}/criteria",
            headers=READ,
            params={"start": _iso(month.at(day)), "end": _iso(month.at(day + 1))},
        ).json()
        for c in answer["criteria"]:
            found.setdefault(c["id"], {}).setdefault(c["verdict"], []).append(day)
    return found


def test_daily_verdicts_equal_the_api_day_by_day(
    api: TestClient, text: str, month_criteria: dict, month: sc.MonthScenario
):
    days = _days(api, month)
    assert days["fiber_availability"]["fail"] == [5, 20]  # the scenario's outages, as the API sees them
    for cid, c in month_criteria.items():
        if c["figure"] == "indicator.value":
            continue  # entered now and then: no daily chart
        section = " ".join(_section(text, c["title"]["vi"]).split())
        for verdict, label in (("fail", "Ngày không đạt"), ("insufficient_data", "Ngày chưa đủ dữ liệu")):
            listed = ", ".join(map(str, days[cid].get(verdict, []))) or "không có"
            assert f"{label}: {listed}." in section, (cid, verdict, section[-400:])


def test_the_method_gives_each_formula_in_vietnamese(pdf: bytes, month_criteria: dict):
    # compared without spaces: a table cell wraps a formula at its spaces and after a ``(`` (test_method.py); the
    # descriptions' window (Grafana's range) is the dossier's month
    method = "".join(pdftools.text(pdf, layout=False).split("Phương pháp đo")[-1].split())
    for c in month_criteria.values():
        formula = FIGURES[c["figure"]].description
        assert "".join(formula.vi.replace("khoảng thời gian", "tháng").split()) in method, c["id"]
        assert "".join(formula.en.split()) not in method, c["id"]


def test_sums_over_several_lights_say_so(text: str, month: sc.MonthScenario):
    """The lights' observed time adds up over the 3 lights (90 days in a 30-day month): the line says whose sum it
    is. The Wi-Fi's one access point needs no such word."""
    lights = " ".join(_section(text, "Đèn chiếu sáng công cộng hoạt động theo lịch").split())
    summed = re.search(r"Tổng của 3 đèn – ([^.]*?)thời gian quan sát: (\d+) ngày", lights)
    assert summed is not None, lights[:600]
    assert int(summed[2]) > month.days  # the sum is longer than the month, as the line now explains
    assert "sáng đúng lịch: " in summed[1] and "lịch yêu cầu sáng: " in summed[1]
    wifi = " ".join(_section(text, "Wi-Fi công cộng tại nhà văn hóa hoạt động").split())
    assert "thời gian quan sát: " in wifi and "Tổng của" not in wifi


def test_outages_faults_and_gateways_are_listed_in_local_time(text: str, month: sc.MonthScenario):
    flat = " ".join(text.split())
    for lo, hi in month.fiber_down:
        start, end = (sc.datetime.fromtimestamp(ms / 1000, sc.ZONE) for ms in (lo, hi))
        assert f"Cáp quang {start:%d/%m/%Y %H:%M:%S} +07 {end:%d/%m/%Y %H:%M:%S} +07" in flat
    # L3 fails on day 18 at 19:00 and stays failed: every day from the 18th shows it
    assert f"L3 truong-hoc Hỏng bóng 18/{month.first:%m}–{month.days}/{month.first:%m} 58,6 %" in flat
    assert re.search(r"gw-kly 0\.1\.0, 0\.1\.1 ", flat)


def test_a4_embedded_fonts_and_vector_charts(pdf: bytes, tmp_path: Path):
    size = pdftools.info(pdf)["Page size"]
    assert size.startswith("595.276 x 841.89"), size  # A4 in points
    fonts = pdftools.fonts(pdf)
    assert fonts and all(
        f["emb"] == "yes" and f["uni"] == "yes" and "DejaVuSans" in f["name"] for f in fonts
    ), fonts
    assert pdftools.images(pdf) == []  # the charts are drawn, not pasted in as pictures
    page = pdftools.render(pdf, 2, tmp_path)
    # the fiber chart's failing days (red) and the passing ones (green) are on the page as drawn bars
    assert page.count("#c62828") > 200
    assert page.count("#2e7d32") > 2000


def test_the_cover_names_the_places_as_people_write_them(text: str):
    """server.toml names the commune and the province, not the district: that one shows as its slug."""
    flat = " ".join(text.split())
    for row in (
        f"Thôn {sc.NAME_A} (kha-ly-thuong)",
        f"Xã {sc.COMMUNE}",
        "Huyện son-dong",
        f"Tỉnh {sc.PROVINCE}",
    ):
        assert row in flat, row


def test_without_a_key_registry_the_dossier_says_it_does_not_verify(text: str):
    flat = " ".join(text.split())
    assert "Xác minh số liệu Không cấu hình xác minh" in flat  # the cover's line
    assert "5. Xác minh số liệu (chữ ký số)" in flat
    assert "Không cấu hình xác minh: dịch vụ tiêu chí không có danh sách khóa của các gateway" in flat


def test_the_method_states_the_cadence_the_data_shows_not_a_guessed_one(pdf: bytes):
    """A gateway samples at the intervals its own configuration sets, which the service does not know: the method
    says so, and gives the mean length of one sample in the village's data (observed seconds over samples)."""
    method = " ".join(pdftools.text(pdf, layout=False).split("Phương pháp đo")[-1].split())
    assert "mỗi phút" not in method
    assert "mỗi mẫu là một chu kỳ thăm dò, theo chu kỳ cấu hình trên gateway" in method
    assert "Gateway đọc modem 4G theo chu kỳ cấu hình trên gateway" in method
    cadence = method[method.index("Thời gian trung bình của một mẫu") :]
    cadence = cadence[: cadence.index(".")]
    # the scenario: uplinks and Wi-Fi every 5 minutes, lights every 10; a modem reading carries no observed
    # seconds, so the 4G signal gets no figure
    assert cadence == (
        "Thời gian trung bình của một mẫu (tổng thời gian quan sát chia cho số mẫu) trong tháng: "
        "Đường truyền cáp quang hoạt động ổn định: 5 phút; Kết nối di động 4G hoạt động ổn định: 5 phút; "
        "Wi-Fi công cộng tại nhà văn hóa hoạt động: 5 phút; Đèn chiếu sáng công cộng hoạt động theo lịch: 10 phút"
    ), cadence


def test_wifi_users_per_day_names_the_whole_days_it_counts(text: str, month: sc.MonthScenario):
    """A month's days have all ended: the dossier names them and says nothing still grows."""
    shown = " ".join(_section(text, "Người dân sử dụng Wi-Fi công cộng tại nhà văn hóa").split())
    first, until = f"01/{month.first:%m/%Y} 00:00:00 +07", f"01/{month.following:%m/%Y} 00:00:00 +07"
    assert f"Các ngày được tính (cả ngày): {first} – {until}" in shown, shown
    assert "ngày cuối chưa kết thúc" not in shown


def test_a_day_still_running_is_said_to_grow():
    """A dossier made while the last day runs (a window closing within today) holds a value that still grows
    until that day's midnight: the line says so, with the page's words."""
    line = vi.days_counted_text(
        "2026-12-06T17:00:00Z", "2026-12-07T17:00:00Z", True, ZoneInfo("Asia/Ho_Chi_Minh")
    )
    assert line == (
        "Các ngày được tính (cả ngày): 07/12/2026 00:00:00 +07 – 08/12/2026 00:00:00 +07; ngày cuối chưa kết thúc: "
        "giá trị còn thay đổi đến 08/12/2026 00:00:00 +07"
    )


def test_who_entered_an_indicator_is_said_in_vietnamese(text: str):
    """The server stores "(key officer-hoa)": the dossier printed that English under a Vietnamese figure."""
    flat = " ".join(text.split())
    assert "Nguyễn Thị Hoa, UBND xã (khóa API officer-hoa)" in flat
    assert "(key officer-hoa)" not in flat
