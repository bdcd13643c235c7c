"""The village's verification as the pages show it, from verification answers shaped as the API gives them:
the summary's rules (the weakest criterion, each key and fault once) and the block's words in vi and en.
The same block on a real service's page is checked in test_browser.py and by the demo's test."""

from __future__ import annotations

import html
import re
from zoneinfo import ZoneInfo

import verification_cases as cases

from server.pages.i18n import Lang
from server.pages.rendering import templates
from server.verification_view import summarise
from thonminh.evidencekeys import grouped

ZONE = ZoneInfo("Asia/Ho_Chi_Minh")
_BLOCK = '{% from "_verification.html" import verification_block with context %}{{ verification_block(s) }}'


def shown(criteria: list[dict], lang: str) -> str:
    page = templates.env.from_string(_BLOCK).render(s=summarise(criteria), L=Lang(lang, ZONE))
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page)).split())


def test_fingerprints_are_read_in_groups_of_four() -> None:
    assert grouped("3f2a9c4107be55d0") == "3f2a 9c41 07be 55d0"


def test_the_village_is_as_verified_as_its_weakest_criterion() -> None:
    s = summarise(cases.tampered())
    assert s.status == "unverified" and s.verified_pct == 98.5 and s.min_verified_pct == 99.0
    assert [(c.id, c.verified_pct, c.points, c.verified_points, c.signed) for c in s.criteria] == [
        ("fiber_availability", 98.5, 200, 197, True),
        ("wifi_service", 100.0, 100, 100, True),
        ("street_lighting", None, 0, 0, True),
        ("eid", 100.0, 1, 1, True),
    ]
    # the altered point is in two criteria's answers, and the keys in every one: each is shown once
    assert [f.kind for f in s.faults] == ["altered", "missing_seq"] and s.faults_total == 2
    assert [(k.fingerprint, k.of_service) for k in s.keys] == [
        (cases.OLD_FINGERPRINT, False),
        (cases.FINGERPRINT, False),
        (cases.SERVICE_FINGERPRINT, True),
    ]
    assert summarise(cases.not_configured()).status == "not_configured"
    all_verified = [c for c in cases.tampered() if c["id"] != "fiber_availability"]
    assert summarise(all_verified).status == "verified" and summarise(all_verified).verified_pct == 100.0


def test_an_evaluation_kept_before_indicators_were_signed_shows_the_indicator_unsigned() -> None:
    # server.kept_evaluation may hold answers of a version that said not_signed for a manual indicator
    kept = cases.kept_unsigned()
    assert [c.signed for c in summarise(kept).criteria] == [True, True, True, False]
    assert summarise(kept).status == summarise(cases.tampered()).status == "unverified"
    assert "Định danh điện tử Nhập tay, chưa được ký Số điểm được đếm theo giờ tròn" in shown(kept, "vi")
    assert "e-ID adoption Entered by hand, not signed" in shown(kept, "en")


def test_block_in_vietnamese() -> None:
    text = shown(cases.tampered(), "vi")
    assert "Chưa xác minh Đã xác minh 98,5 % (tối thiểu 99,0 %)" in text
    assert "Cáp quang hoạt động 98,5 % Chưa xác minh 197 / 200 điểm" in text
    assert "Đèn chiếu sáng Không có mẫu 0 / 0 điểm" in text
    # an indicator entered through the API, signed by the service's own key, named as such among the keys
    assert "Định danh điện tử 100,0 % 1 / 1 điểm" in text
    assert (
        "manual (dịch vụ tiêu chí, ký chỉ số nhập tay) 8c07 d2a1 4f9e 0b36 01/02/2025 07:00 hiện hành" in text
    )
    # keys: grouped fingerprint, validity in local time; the current key is open-ended
    assert "gw-kly 0123 4567 89ab cdef 01/01/2025 07:00 04/03/2025 07:00" in text
    assert "gw-kly 3f2a 9c41 07be 55d0 04/03/2025 07:00 hiện hành" in text
    # faults: the kind in words, the span in local time to the second, the detail as the service wrote it
    assert (
        "Giá trị bị sửa gw-kly 05/03/2025 10:00:00 05/03/2025 10:00:00 uplink link=fiber: value differs "
        "from the signed digest"
    ) in text
    assert "Thiếu lô dữ liệu (số thứ tự bị hụt) gw-kly 06/03/2025 17:00:00 06/03/2025 17:05:00" in text
    assert "Chưa cấu hình" not in text


def test_block_in_english() -> None:
    text = shown(cases.tampered(), "en")
    assert "Unverified Verified 98.5 % (minimum 99.0 %)" in text
    assert (
        "Altered value gw-kly 2025-03-05 10:00:00" in text and "Missing batch (gap in the sequence)" in text
    )
    assert "3f2a 9c41 07be 55d0 2025-03-04 07:00 current" in text
    assert "e-ID adoption 100.0 % 1 / 1 points" in text
    assert "manual (the criteria service, signs manual indicators) 8c07 d2a1 4f9e 0b36" in text
    # a window off the hour: its points outnumber its samples, and the block says why
    assert "Points are counted by whole hours: every hour the window touches" in text


def test_without_a_key_registry_the_block_says_so() -> None:
    assert "Chưa cấu hình xác minh: dịch vụ không có danh sách khóa của các gateway." in shown(
        cases.not_configured(), "vi"
    )
    text = shown(cases.not_configured(), "en")
    assert "Verification not configured" in text and "Verified" not in text and "Signing keys" not in text


def test_a_clean_village_says_no_fault() -> None:
    clean = [c for c in cases.tampered() if c["id"] == "eid"]
    clean[0]["evidence"] |= {"verified_pct": 100.0, "verification": cases.check("verified", 50, 50)}
    text = shown(clean, "vi")
    assert (
        "Đã xác minh 100,0 % (tối thiểu 99,0 %)" in text
        and "Chưa xác minh" not in text
        and "Không phát hiện sai lệch nào." in text
    )


def test_a_verdict_unverified_at_a_full_share_says_why() -> None:
    """A deleted batch leaves 100 % of what is left verified: "Unverified" beside "100 %" read as a mistake."""
    assert summarise(cases.deleted_batch()).held_whatever_share
    assert not summarise(cases.tampered()).held_whatever_share  # 98.5 % under 99 % says why by itself
    text = shown(cases.deleted_batch(), "vi")
    assert "Chưa xác minh dù tỷ lệ đạt mức tối thiểu: có số liệu đã ký bị sửa hoặc bị xóa" in text
    assert "Unverified although the share reaches the minimum" in shown(cases.deleted_batch(), "en")
    assert "dù tỷ lệ đạt mức tối thiểu" not in shown(cases.tampered(), "vi")


def test_a_share_is_written_on_its_side_of_100_and_of_the_minimum() -> None:
    """One forged point of 2,500 is 99,96 %: written "100,0 %" it read as every point verified; 98,96 % under a
    minimum of 99 % read as "99,0 %" beside "unverified"."""
    for share, written in ((99.96, "99,96 %"), (98.96, "98,96 %"), (100.0, "100,0 %"), (99.5, "99,5 %")):
        clean = [c for c in cases.tampered() if c["id"] == "eid"]
        clean[0]["evidence"] |= {"verified_pct": share, "verification": cases.check("verified", 50, 50)}
        assert f"Đã xác minh {written} (tối thiểu 99,0 %)" in shown(clean, "vi"), share
