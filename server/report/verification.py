"""The dossier's verification part: how much of the period's data the gateways' signatures cover, the keys
that signed it (fingerprint and period) and the faults found with their spans; or that the service does not
verify. Formats ``server.verification_view``'s summary of the verdicts' own evidence, nothing more.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

from reportlab.lib.units import mm
from reportlab.platypus import Flowable, Spacer

from server.pages.i18n import text as page_text
from server.pages.names import fault_detail_text
from server.report import vi
from server.report.layout import grid, para
from server.report.period import Period
from server.report.styles import Styles
from server.verification_view import VerificationSummary

__all__ = ["status_line", "verification"]

NOT_CONFIGURED = (
    "Không cấu hình xác minh: dịch vụ tiêu chí không có danh sách khóa của các gateway, nên không "
    "kiểm tra được số liệu có đúng là do gateway đo và gửi hay không."
)

#: why a row's points can outnumber its criterion's samples (``points`` in docs/api.md)
HOURS = (
    "Số điểm được đếm theo giờ tròn: mọi giờ mà khoảng thời gian chạm tới (người dùng Wi-Fi mỗi ngày: từ 0 giờ của "
    "ngày đầu), nên có thể nhiều hơn số mẫu ở phần 1 khi khoảng thời gian không bắt đầu hoặc kết thúc ở giờ tròn."
)


def status_line(s: VerificationSummary) -> str:
    """One line for the cover: ``Đã xác minh 100,0 % · khóa 3f2a 9c41 07be 55d0``."""
    if not s.configured:
        return "Không cấu hình xác minh"
    if s.verified_pct is None:
        return "Không có mẫu nào của gateway để xác minh"
    keys = ", ".join(k.grouped for k in s.keys)
    head = vi.verdict_style("unverified").label if s.status == "unverified" else "Đã xác minh"
    return f"{head}: {vi.verified(s.verified_pct, s.min_verified_pct)} số điểm có chữ ký hợp lệ" + (
        f" · khóa {keys}" if keys else ""
    )


def _summary(s: VerificationSummary) -> str:
    share = (
        "không có mẫu nào để xác minh"
        if s.verified_pct is None
        else vi.verified(s.verified_pct, s.min_verified_pct)
    )
    minimum = (
        f"; mức tối thiểu của tiêu chí: {vi.number(s.min_verified_pct, 1)} %, dưới mức đó kết quả là "
        f"«{vi.verdict_style('unverified').label}»"
        if s.min_verified_pct is not None
        else ""
    )
    return (
        f"Đã xác minh (thấp nhất trong các tiêu chí): {share}{minimum}. Mỗi lô số liệu được gateway ký bằng khóa "
        "riêng của nó; dịch vụ tiêu chí đọc lại số liệu từ InfluxDB và kiểm tra từng điểm với bản kê đã ký. "
        "Chỉ số nhập tay được chính dịch vụ tiêu chí ký bằng khóa của dịch vụ khi được nhập (qua API hoặc trên "
        "trang của thôn)."
    )


def verification(s: VerificationSummary, period: Period, zone: ZoneInfo, st: Styles) -> list[Flowable]:
    if not s.configured:
        return [para(NOT_CONFIGURED, st.body)]
    shares = [["Tiêu chí", "Đã xác minh", "Số điểm có chữ ký hợp lệ / số điểm"]]
    shares += [
        [c.title_vi, page_text("not_signed", "vi"), "–"]
        if not c.signed
        else [
            c.title_vi,
            (
                vi.verified(c.verified_pct, s.min_verified_pct)
                if c.verified_pct is not None
                else "không có mẫu"
            )
            # a share above the minimum is unverified too when forged rollup rows are still read
            + (f" · {vi.verdict_style('unverified').label}" if c.status == "unverified" else ""),
            f"{vi.number(c.verified_points, 0)} / {vi.number(c.points, 0)}" if c.points else "–",
        ]
        for c in s.criteria
    ]
    keys = [["Gateway", "Dấu vân tay khóa", "Hiệu lực từ", "Hiệu lực đến"]]
    keys += [
        [
            f"{k.gateway} ({page_text('service_key', 'vi')})" if k.of_service else k.gateway,
            k.grouped,
            vi.local_time(k.valid_from, zone) if k.valid_from else "–",
            vi.local_time(k.valid_until, zone) if k.valid_until else "hiện hành",
        ]
        for k in s.keys
    ] or [["–", f"không có khóa nào ký số liệu trong {period.noun}", "–", "–"]]
    parts: list[Flowable] = [
        para(_summary(s), st.body),
        *([para(page_text("held_note", "vi"), st.body)] if s.held_whatever_share else []),
        grid(shares, st, [80 * mm, 30 * mm, 64 * mm]),
        para(HOURS, st.small),
        Spacer(1, 6),
        para("Khóa ký số liệu:", st.lead),
        grid(keys, st, [34 * mm, 50 * mm, 45 * mm, 45 * mm]),
        Spacer(1, 6),
    ]
    if not s.faults:
        return [*parts, para(f"Không phát hiện sai lệch nào trong {period.noun}.", st.body)]
    faults = [["Sai lệch", "Gateway", "Từ", "Đến", "Chi tiết"]]
    faults += [
        [
            vi.fault_kind_text(f.kind),
            f.gateway,
            vi.local_time(f.start, zone) if f.start else "–",
            vi.local_time(f.end, zone) if f.end else "–",
            fault_detail_text(f.detail, "vi"),
        ]
        for f in s.faults
    ]
    parts += [
        para(f"Sai lệch được phát hiện ({vi.number(s.faults_total, 0)}):", st.lead),
        grid(faults, st, [36 * mm, 24 * mm, 34 * mm, 34 * mm, 46 * mm]),
    ]
    if s.faults_left_out:
        parts.append(para(f"và {vi.number(s.faults_left_out, 0)} sai lệch khác (xem API).", st.small))
    return parts
