"""The pages name what the data writes as ids or in the gateway's English as people say it, in the page's
language, with the dossier's words: a link's name, a light's fault, an outage's reason, what MTBF and MTTR mean,
and a manual indicator as the criterion that reads it."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator

import httpx
import pages_scenario as scenario
import pytest
from pages_kit import READ_KEY

from server.evidence.faults import point_detail
from server.pages import names
from server.report import vi

READ = {"X-API-Key": READ_KEY}


@pytest.fixture(scope="module")
def get(live: str) -> Iterator:
    def page(path: str, lang: str) -> str:
        answer = httpx.get(f"{live}{path}", headers=READ, params={"lang": lang}, timeout=30)
        answer.raise_for_status()
        return answer.text

    yield page


def section(page: str, name: str) -> str:
    """A section of a page as its reader sees the words: tags dropped, entities read, whitespace squashed."""
    block = page[page.index(f'<section id="{name}"') :].split("</section>")[0]
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", block)).split())


@pytest.mark.parametrize(
    ("lang", "reason"),
    [
        ("vi", "0/3 địa chỉ kiểm tra trả lời (cần tối thiểu 2): tcp 127.0.0.2:34629: refused;"),
        ("en", "0/3 test addresses answered (at least 2 needed): tcp 127.0.0.2:34629: refused;"),
    ],
)
def test_an_outages_reason_is_in_the_pages_language(get, lang: str, reason: str) -> None:
    shown = section(get("/pages/villages/kha-ly-thuong", lang), "outages")
    assert reason in shown and "targets answered" not in shown and "min_ok" not in shown
    assert "icmp 10.0.0.1: no reply" in shown  # the failed targets as the gateway wrote them


def test_the_start_reason_and_other_texts() -> None:
    assert names.reason_text("start", "vi") == "đường truyền không hoạt động ngay khi gateway bắt đầu đo"
    assert names.reason_text("start", "en") == "down from the moment the gateway started measuring"
    assert names.reason_text("2/3 targets answered", "en") == "2/3 test addresses answered"
    assert names.reason_text("mất tín hiệu quang", "en") == "mất tín hiệu quang"  # no fixed form: as written
    assert vi.reason_text(scenario.FIBER_REASON) == names.reason_text(scenario.FIBER_REASON, "vi")


@pytest.mark.parametrize(("lang", "fiber"), [("vi", "Cáp quang"), ("en", "Fiber")])
def test_links_by_their_names(get, lang: str, fiber: str) -> None:
    page = get("/pages/villages/kha-ly-thuong", lang)
    block = page[page.index('<section id="outages"') :].split("</section>")[0]
    rows = re.findall(r'<tr(?: class="outage")?><td>([^<]*)</td>', block)
    assert rows == [fiber, "4G", fiber] or rows == ["4G", fiber, fiber], rows  # the two links, the one outage
    assert names.link_name("satellite", lang) == "satellite"  # an id nobody named yet: as written


@pytest.mark.parametrize(
    ("lang", "mtbf", "mttr"),
    [
        ("vi", "thời gian hoạt động trung bình giữa hai lần mất kết nối", "thời gian khôi phục trung bình"),
        ("en", "mean time between failures", "mean time to restore"),
    ],
)
def test_mtbf_and_mttr_say_what_they_mean(get, lang: str, mtbf: str, mttr: str) -> None:
    page = get("/pages/villages/kha-ly-thuong", lang)
    block = page[page.index('<section id="outages"') :].split("</section>")[0]
    assert f'<abbr title="{mtbf}">MTBF</abbr>' in block and f'<abbr title="{mttr}">MTTR</abbr>' in block
    shown = section(page, "outages")
    assert shown.count(f"MTBF ({mtbf}): ") == 1 and shown.count(f"MTTR ({mttr}): ") == 1
    # the dossier's definitions, word for word
    vi_note = vi.reliability_note("khoảng thời gian")
    assert vi_note.startswith(
        "MTBF (thời gian hoạt động trung bình giữa hai lần mất kết nối): tổng thời gian"
    )
    if lang == "vi":
        assert vi_note in shown


@pytest.mark.parametrize(("lang", "label"), [("vi", "Mất kết nối: 1"), ("en", "Offline: 1")])
def test_light_faults_are_capitalised_and_the_dossiers_words(get, lang: str, label: str) -> None:
    assert label in section(get("/pages/villages/xa-khac", lang), "lights")
    for kind, pair in names.LIGHT_FAULTS.items():
        assert all(word[0].isupper() for word in pair), kind
        assert vi.light_fault_text(kind) == names.light_fault_name(kind, "vi")


def test_an_indicator_is_named_as_the_criterion_that_reads_it(get) -> None:
    # the criterion (criteria.yaml) and the indicator (thonminh/figures.py) had two English names for one figure
    page = get("/pages/villages/kha-ly-thuong", "en")
    shown = section(page, "indicators")
    assert shown.count("Share of residents with an activated e-ID (VNeID)") == 2, shown  # criterion, entry
    assert "Electronic ID (VNeID) adoption" not in page


@pytest.mark.parametrize(
    ("kind", "words"),
    [
        ("unsigned", "không có evidence_seq: không do bộ chuyển tiếp của gateway nào ghi"),
        ("no_manifest", "có bản kê ký số (manifest) không còn trong InfluxDB"),
        ("altered", "có giá trị khác với giá trị bản kê đã ký"),
        ("injected", "nằm ở chuỗi và thời điểm mà bản kê của chúng không liệt kê"),
    ],
)
def test_a_point_faults_detail_is_said_in_vietnamese(kind: str, words: str) -> None:
    """A review read "2 uplink point(s) of link=fiber whose values differ..." on the Vietnamese pages and dossier."""
    detail = point_detail(kind, 2, "uplink", ("uplink link=fiber",))
    assert names.fault_detail_text(detail, "vi") == f"2 mẫu đo đường truyền (link=fiber) {words}"
    assert names.fault_detail_text(detail, "en") == detail
    assert names.fault_detail_text(point_detail(kind, 1, "wifi_daily", ()), "vi") == (
        f"1 số người dùng Wi-Fi trong ngày {words}"
    )


def test_another_faults_detail_is_shown_as_written() -> None:
    for detail in (
        "batches 5..7 of epoch 1 are missing",
        "3 gadget point(s) whose values differ from what their manifest signed",
    ):
        assert names.fault_detail_text(detail, "vi") == detail
