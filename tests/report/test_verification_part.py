"""The dossier's verification part read with pdftotext, from verification answers shaped as the API gives them
(tests/pages/verification_cases.py): the share, the key fingerprints and their periods, the faults with their
spans in local time, or that the service does not verify. The real service's part: test_village.py, the demo."""

from __future__ import annotations

import sys
from pathlib import Path
from zoneinfo import ZoneInfo

import pdftools
from reportlab.platypus import Paragraph

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "pages"))
import verification_cases as cases

from server.report.month import Month
from server.report.pdf import _render
from server.report.period import Period
from server.report.styles import styles
from server.report.verification import status_line, verification
from server.verification_view import summarise

ZONE = ZoneInfo("Asia/Ho_Chi_Minh")
MARCH = Period.of_month(Month(2025, 3, ZONE))


def printed(criteria: list[dict]) -> str:
    st = styles()
    s = summarise(criteria)
    story = [Paragraph(status_line(s), st.body), *verification(s, MARCH, ZONE, st)]
    return " ".join(pdftools.text(_render(story, "test"), layout=False).split())


def test_a_tampered_month() -> None:
    text = printed(cases.tampered())
    assert text.startswith(
        "Chưa xác minh: 98,5 % số điểm có chữ ký hợp lệ · khóa 0123 4567 89ab cdef, 3f2a 9c41 07be 55d0, "
        "8c07 d2a1 4f9e 0b36"
    )
    assert "Đã xác minh (thấp nhất trong các tiêu chí): 98,5 %; mức tối thiểu của tiêu chí: 99,0 %" in text
    assert (
        "Cáp quang hoạt động 98,5 % · Chưa xác minh 197 / 200" in text
        and "Đèn chiếu sáng không có mẫu –" in text
        and "Định danh điện tử 100,0 % 1/1 Số điểm được đếm theo giờ tròn" in text
    )
    assert (
        "manual (dịch vụ tiêu chí, ký chỉ số nhập tay) 8c07 d2a1 4f9e 0b36 01/02/2025 07:00:00 +07 hiện hành"
        in text
    )
    assert "gw-kly 3f2a 9c41 07be 55d0 04/03/2025 07:00:00 +07 hiện hành" in text
    assert "gw-kly 0123 4567 89ab cdef 01/01/2025 07:00:00 +07 04/03/2025 07:00:00 +07" in text
    assert "Sai lệch được phát hiện (2):" in text
    assert "Giá trị bị sửa gw-kly 05/03/2025 10:00:00 +07 05/03/2025 10:00:00 +07 uplink link=fiber" in text
    assert (
        "Thiếu lô dữ liệu (số thứ tự bị hụt) gw-kly 06/03/2025 17:00:00 +07 06/03/2025 17:05:00 +07" in text
    )


def test_an_evaluation_kept_before_indicators_were_signed() -> None:
    assert "Định danh điện tử Nhập tay, chưa được ký –" in printed(cases.kept_unsigned())


def test_without_a_key_registry() -> None:
    text = printed(cases.not_configured())
    assert text.startswith(
        "Không cấu hình xác minh Không cấu hình xác minh: dịch vụ tiêu chí không có danh sách "
        "khóa của các gateway"
    )
    assert "Dấu vân tay" not in text and "Sai lệch" not in text


def test_a_clean_month() -> None:
    clean = [c for c in cases.tampered() if c["id"] == "wifi_service"]
    clean[0]["evidence"]["verification"] = cases.check("verified", 100, 100, keys=cases.KEYS[1:])
    text = printed(clean)
    assert text.startswith("Đã xác minh: 100,0 % số điểm có chữ ký hợp lệ · khóa 3f2a 9c41 07be 55d0")
    assert "Không phát hiện sai lệch nào trong tháng." in text


def test_a_fault_with_an_endless_text_still_prints() -> None:
    """Whoever can write to InfluxDB chooses a manifest's key and a gateway's name (up to 64 KB each), and a
    fault quotes them: a table cell taller than a page stopped ReportLab (LayoutError), and with it the
    village's dossier. A cell is cut to what a page holds; the API keeps the whole text."""
    criteria = cases.tampered()
    faults = criteria[0]["evidence"]["verification"]["faults"]
    faults.append(
        {**cases.ALTERED, "kind": "unregistered_key", "gateway": "g" * 3000, "detail": "key " + "K" * 20_000}
    )
    text = printed(criteria)
    assert "Khóa chưa đăng ký" in text
    assert "key KKKK" in text and "K…" in text and "K" * 20_000 not in text.replace(" ", "")


def test_a_month_unverified_at_a_full_share_says_why() -> None:
    text = printed(cases.deleted_batch())
    assert "Chưa xác minh dù tỷ lệ đạt mức tối thiểu: có số liệu đã ký bị sửa hoặc bị xóa" in text
    assert "dù tỷ lệ" not in printed(cases.tampered())
