"""Words and number, time and duration formats of the pages, in Vietnamese (default) and English.

Vietnamese writes a decimal comma and a dot between thousands (99,5 %; 1.234); English the other way round.
Every time is shown in the service's zone (Asia/Ho_Chi_Minh), and the pages say which.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from server.pages import names
from thonminh.figures import UNIT_WORDS

__all__ = ["LANGS", "Lang", "lang_of", "reliability_note", "text"]

LANGS = ("vi", "en")

_TEXT: dict[str, tuple[str, str]] = {
    # (vi, en)
    "app": (
        "Thôn thông minh: bằng chứng hạ tầng số",
        "Smart village: evidence of the digital infrastructure",
    ),
    "switch": ("English", "Tiếng Việt"),
    "overview": ("Tổng hợp", "Overview"),
    "sign_in": ("Đăng nhập", "Sign in"),
    "sign_out": ("Đăng xuất", "Sign out"),
    "signed_in_as": ("Đã đăng nhập", "Signed in as"),
    "key": ("Khóa đọc (read key)", "Read key"),
    "sign_in_intro": (
        "Nhập khóa đọc do quản trị viên cấp. Khóa chỉ được gửi một lần; trình duyệt giữ một phiên đăng nhập.",
        "Enter the read key your administrator gave you. It is sent once; the browser keeps a session.",
    ),
    "bad_key": ("Khóa không đúng.", "That key is not valid."),
    "need_sign_in": ("Trang này cần đăng nhập bằng khóa đọc.", "This page needs a sign-in with a read key."),
    "criteria": ("Tiêu chí", "Criteria"),
    "criterion": ("Tiêu chí", "Criterion"),
    "verdict": ("Kết quả", "Verdict"),
    "pass": ("Đạt", "Pass"),
    "fail": ("Không đạt", "Fail"),
    "insufficient_data": ("Chưa đủ dữ liệu", "Insufficient data"),
    "unverified": ("Chưa xác minh", "Unverified"),
    "measured": ("Đo được", "Measured"),
    "threshold": ("Ngưỡng", "Threshold"),
    "coverage": ("Độ phủ dữ liệu", "Coverage"),
    "window": ("Khoảng thời gian", "Window"),
    "daily": ("Theo ngày", "Per day"),
    "no_chart": ("Không có giá trị theo ngày", "No daily values"),
    "outages": ("Mất kết nối", "Outages"),
    "link": ("Đường truyền", "Link"),
    "start": ("Bắt đầu", "Start"),
    "end": ("Kết thúc", "End"),
    "duration": ("Thời lượng", "Duration"),
    "reason": ("Lý do", "Reason"),
    "still_open": ("chưa khôi phục", "still open"),
    "no_outages": ("Không có lần mất kết nối nào.", "No outages."),
    # a link's reliability, as the dossier explains it too (server/report/outages.py)
    "mtbf": ("thời gian hoạt động trung bình giữa hai lần mất kết nối", "mean time between failures"),
    "mttr": ("thời gian khôi phục trung bình", "mean time to restore"),
    "reliability_note": (
        "MTBF ({mtbf}): tổng thời gian đường truyền hoạt động đo được trong {noun} chia cho số lần mất bắt đầu "
        "trong {noun}. MTTR ({mttr}): thời lượng trung bình của các lần mất đã khôi phục trong {noun}.",
        "MTBF ({mtbf}): the link's up time measured in {noun} divided by the number of outages that started in "
        "{noun}. MTTR ({mttr}): the mean duration of the outages restored in {noun}.",
    ),
    "window_noun": ("khoảng thời gian", "the window"),
    "availability": ("Tỷ lệ hoạt động", "Availability"),
    "wifi": ("Wi-Fi công cộng", "Public Wi-Fi"),
    "wifi_users": ("Người dùng Wi-Fi mỗi ngày", "Wi-Fi users per day"),
    "mean_users": ("Trung bình mỗi ngày", "Mean per day"),
    "lights": ("Đèn chiếu sáng công cộng", "Street lights"),
    "on_schedule": ("Sáng đúng lịch", "Lit when scheduled"),
    "lights_count": ("Số đèn", "Lights"),
    "faults": ("Lỗi", "Faults"),
    "repair_list": ("Danh sách cần sửa", "Repair list"),
    "pole": ("Cột đèn", "Pole"),
    "fault": ("Lỗi", "Fault"),
    "since": ("Từ khi", "Since"),
    "last_report": ("Báo cáo cuối", "Last report"),
    "position": ("Vị trí", "Position"),
    "no_repairs": ("Không có đèn nào cần sửa.", "No light needs repair."),
    "signal": ("Tín hiệu 4G", "4G signal"),
    "registered": ("Đăng ký mạng", "Registered"),
    "rsrp_share": ("Tỷ lệ lần đo RSRP ≥ {dbm} dBm", "Share of RSRP readings ≥ {dbm} dBm"),
    "median": ("Trung vị", "Median"),
    "indicators": ("Chỉ số nhập tay", "Manual indicators"),
    "value": ("Giá trị", "Value"),
    "entered_by": ("Người nhập", "Entered by"),
    "entered_at": ("Thời điểm nhập", "Entered at"),
    "as_of": ("Số liệu tính đến", "As of"),
    "corrected": ("đã sửa lúc", "corrected at"),
    "entry_unsigned": (
        "không có chữ ký hợp lệ của dịch vụ: không nhập qua API, hoặc đã bị sửa",
        "no valid signature of the service: not entered through the API, or changed since",
    ),
    "no_indicator": ("Chưa có giá trị nào được nhập.", "No value entered."),
    "no_data": ("Không có dữ liệu", "No data"),
    "month": ("Tháng", "Month"),
    "show": ("Xem", "Show"),
    "last_30": ("30 ngày gần nhất", "Last 30 days"),
    "villages": ("Thôn", "Villages"),
    "village": ("Thôn", "Village"),
    "place": ("Xã / huyện / tỉnh", "Commune / district / province"),
    "counts": ("Số thôn theo kết quả", "Villages per verdict"),
    "filter": ("Lọc", "Filter"),
    "search": ("Tên thôn", "Village name"),
    "any": ("Tất cả", "Any"),
    "shown": ("Hiển thị {n} / {total} thôn", "Showing {n} of {total} villages"),
    "evaluated_to": ("Kết quả tính đến", "Verdicts up to"),
    "status": ("Trạng thái công khai", "Public status"),
    "status_note": (
        "Trang công khai: chỉ kết quả và tỷ lệ hoạt động, không có thông tin thiết bị.",
        "Public page: verdicts and availability only, no device details.",
    ),
    "times_in": ("Giờ Việt Nam ({zone}, UTC{offset})", "Times in {zone} (UTC{offset})"),
    "error": ("Lỗi", "Error"),
    "not_found": ("Không tìm thấy", "Not found"),
    "back": ("Về trang tổng hợp", "Back to the overview"),
    "api": ("API", "API"),
    "documents": ("Tài liệu API", "API docs"),
    "unknown_village": ("Thôn {village} không có trong dữ liệu.", "Village {village} is not in the data."),
    "not_ready": (
        "Dịch vụ đang tính kết quả lần đầu cho mọi thôn (từ {since}): trang sẽ tự tải lại sau ít phút.",
        "The service is still making its first evaluation of every village (since {since}): this page reloads "
        "by itself in a minute.",
    ),
    "influx_down": (
        "Lúc này không đọc được cơ sở dữ liệu đo đạc (InfluxDB): trang sẽ tự tải lại khi đọc được.",
        "The measurements' database (InfluxDB) cannot be read right now: this page reloads by itself.",
    ),
    "influx_refused": (
        "Cơ sở dữ liệu đo đạc (InfluxDB) từ chối một truy vấn; nhật ký của dịch vụ có chi tiết.",
        "The measurements' database (InfluxDB) refused a query; the service's log has the details.",
    ),
    "registry_unreadable": (
        "Không đọc được sổ khóa của các gateway nên chưa thể xác minh dữ liệu: người quản trị cần khôi phục "
        "tệp này từ bản sao lưu. Trang sẽ tự tải lại.",
        "The gateways' key registry cannot be read, so nothing can be verified: the administrator must restore "
        "it from its backup. This page reloads by itself.",
    ),
    "bad_month": (
        "Tháng {month} không hợp lệ: hãy viết YYYY-MM, ví dụ 2025-03.",
        "Month {month} is not valid: write YYYY-MM, e.g. 2025-03.",
    ),
    "future_month": ("Tháng {month} chưa bắt đầu.", "Month {month} has not started yet."),
    # a daily figure counts whole local days (server.catalog.days_counted)
    "days_counted": ("Các ngày được tính (cả ngày)", "Days counted (whole days)"),
    "day_running": (
        "ngày cuối chưa kết thúc: giá trị còn thay đổi đến {until}",
        "the last day has not ended: the value still changes until {until}",
    ),
    "no_data_month": ("Không có dữ liệu nào trong khoảng thời gian này.", "There is no data in this window."),
    # why the village page offers no dossier PDF (server/pages/dossier.py)
    "dossier_month_open": (
        "Chưa có hồ sơ PDF cho tháng {month}: hồ sơ chỉ làm cho một tháng đã kết thúc.",
        "No dossier PDF for {month} yet: a dossier covers a whole month that has ended.",
    ),
    "dossier_no_data": (
        "Không có hồ sơ PDF cho {period}: thôn chưa gửi dữ liệu nào trước khi hết khoảng thời gian này.",
        "No dossier PDF for {period}: the village sent no data before its end.",
    ),
    # the dossier is the commune's paper, in Vietnamese only (docs/report.md): an English page says so
    "cross_site": (
        "Biểu mẫu này được gửi từ một trang khác: hãy đăng nhập hoặc đăng xuất ngay trên trang này.",
        "This form was sent from another site: sign in or out on this site itself.",
    ),
    "bad_form": ("Biểu mẫu không hợp lệ.", "The form is not valid."),
    "dossier_link": ("Hồ sơ PDF {period}", "Dossier PDF, {period} (in Vietnamese)"),
    "commune_dossier_link": (
        "Hồ sơ PDF của xã, {period}",
        "The commune's dossier PDF, {period} (in Vietnamese)",
    ),
    "month_of": ("tháng {month}", "{month}"),
    "dossier_too_long": (
        "Không có hồ sơ PDF cho khoảng thời gian này: một hồ sơ dài tối đa {detail} ngày; hãy chọn một tháng.",
        "No dossier PDF for this window: a dossier covers at most {detail} days; choose a month.",
    ),
    "dossier_refused": (
        "Không làm được hồ sơ PDF cho khoảng thời gian này ({detail}).",
        "No dossier PDF can be made for this window ({detail}).",
    ),
    "day_unit": ("ngày", "d"),
    "hour_unit": ("giờ", "h"),
    "minute_unit": ("phút", "min"),
    "second_unit": ("giây", "s"),
    # signed evidence (docs/evidence.md)
    "verification": ("Xác minh dữ liệu (chữ ký số)", "Verification (signatures)"),
    "verified": ("Đã xác minh", "Verified"),
    "verified_share": ("Đã xác minh {pct}", "Verified {pct}"),
    "verified_min": ("tối thiểu {pct}", "minimum {pct}"),
    "verified_none": ("Không có mẫu nào của gateway để xác minh.", "No gateway sample to verify."),
    "verified_points": ("{verified} / {points} điểm", "{verified} / {points} points"),
    "verified_hours": (
        "Số điểm được đếm theo giờ tròn: mọi giờ mà khoảng thời gian chạm tới (người dùng Wi-Fi mỗi ngày: từ 0 giờ "
        "của ngày đầu), nên có thể nhiều hơn số mẫu của kết quả khi khoảng thời gian không bắt đầu hoặc kết thúc "
        "ở giờ tròn.",
        "Points are counted by whole hours: every hour the window touches (Wi-Fi users per day: from the first "
        "day's midnight), so they can outnumber a result's samples when the window does not start or end on the "
        "hour.",
    ),
    "held_note": (
        "Chưa xác minh dù tỷ lệ đạt mức tối thiểu: có số liệu đã ký bị xóa, hoặc số liệu tổng hợp bị sửa vẫn còn "
        "trong cơ sở dữ liệu (xem các sai lệch bên dưới).",
        "Unverified although the share reaches the minimum: signed data was deleted, or forged rollup rows are "
        "still in the database (see the faults below).",
    ),
    "not_configured": (
        "Chưa cấu hình xác minh: dịch vụ không có danh sách khóa của các gateway.",
        "Verification not configured: the service has no registry of the gateways' keys.",
    ),
    "no_samples": ("Không có mẫu", "No samples"),
    "not_signed": ("Nhập tay, chưa được ký", "Entered by hand, not signed"),
    "keys": ("Khóa ký số liệu", "Signing keys"),
    "service_key": ("dịch vụ tiêu chí, ký chỉ số nhập tay", "the criteria service, signs manual indicators"),
    "fingerprint": ("Dấu vân tay khóa", "Key fingerprint"),
    "valid_from": ("Hiệu lực từ", "Valid from"),
    "valid_until": ("Hiệu lực đến", "Valid until"),
    "open_ended": ("hiện hành", "current"),
    "no_keys": (
        "Không có khóa nào ký dữ liệu trong khoảng thời gian này.",
        "No key signed data in this window.",
    ),
    "evidence_faults": ("Sai lệch phát hiện", "Faults found"),
    "fault_kind": ("Loại", "Kind"),
    "detail": ("Chi tiết", "Detail"),
    "no_evidence_faults": ("Không phát hiện sai lệch nào.", "No fault found."),
    "more_faults": ("và {n} sai lệch khác (xem API)", "and {n} more (see the API)"),
    "fault_unsigned": ("Điểm không có chữ ký", "Unsigned point"),
    "fault_no_manifest": ("Không có bản kê ký cho điểm", "No signed manifest for the point"),
    "fault_altered": ("Giá trị bị sửa", "Altered value"),
    "fault_injected": ("Điểm bị chèn thêm", "Injected point"),
    "fault_deleted_point": ("Điểm bị xóa", "Deleted point"),
    "fault_deleted_entry": ("Mục nhập tay bị xóa khỏi sổ ghi", "Entry deleted from the record"),
    "fault_replayed_entry": ("Giá trị cũ bị ghi đè lên bản sửa", "An older value written back"),
    "fault_replayed": ("Bản kê bị phát lại", "Replayed manifest"),
    "fault_missing_seq": ("Thiếu lô dữ liệu (số thứ tự bị hụt)", "Missing batch (gap in the sequence)"),
    "fault_broken_chain": ("Chuỗi bản kê bị đứt", "Broken chain of manifests"),
    "fault_bad_signature": ("Chữ ký không hợp lệ", "Bad signature"),
    "fault_unregistered_key": ("Khóa chưa đăng ký", "Unregistered key"),
    "fault_expired_key": ("Khóa ngoài thời hạn hiệu lực", "Key outside its validity"),
    "fault_malformed_manifest": ("Bản kê không đọc được", "Malformed manifest"),
    "fault_rollup_altered": (
        "Số liệu tổng hợp bị sửa (đã tính lại từ các mẫu)",
        "Rollup rows forged (rolled again from the samples)",
    ),
    "fault_verification_failed": (
        "Không xác minh được (lỗi của dịch vụ, xem nhật ký)",
        "Could not be verified (a fault of the service: see its log)",
    ),
    # the overview's table is wider than a phone: its village column stays, the criteria scroll sideways
    "scroll_hint": (
        "Kéo bảng sang ngang để xem các tiêu chí khác.",
        "Swipe the table sideways to see the other criteria.",
    ),
    # the verification table's last column (its header is empty), as a phone shows it beside each value
    "points_label": ("Số điểm đã xác minh", "Points verified"),
}


def text(key: str, lang: str, **values: object) -> str:
    """The page word ``key`` in ``lang``; an unknown key shows as itself, so a gap is visible, not a crash."""
    pair = _TEXT.get(key)
    if pair is None:
        return key
    chosen = pair[0] if lang == "vi" else pair[1]
    return chosen.format(**values) if values else chosen


def reliability_note(lang: str, noun: str) -> str:
    """What MTBF and MTTR mean, once a page or dossier: ``noun`` names its period (``tháng``, ``the window``)."""
    return text("reliability_note", lang, noun=noun, mtbf=text("mtbf", lang), mttr=text("mttr", lang))


def lang_of(value: str | None) -> str:
    return value if value in LANGS else "vi"


@dataclass(frozen=True, slots=True)
class Lang:
    """The formats of one language and zone, handed to the templates as ``L``."""

    code: str
    zone: ZoneInfo

    def t(self, key: str, **values: object) -> str:
        return text(key, self.code, **values)

    def link(self, link: str) -> str:
        return names.link_name(link, self.code)

    def light_fault(self, fault: str) -> str:
        return names.light_fault_name(fault, self.code)

    def reason(self, reason: str) -> str:
        return names.reason_text(reason, self.code)

    def source(self, source: str) -> str:
        return names.source_text(source, self.code)

    def reliability_note(self) -> str:
        return reliability_note(self.code, self.t("window_noun"))

    def number(self, value: float | None, digits: int = 1) -> str:
        """``1.234,5`` in Vietnamese, ``1,234.5`` in English; trailing zeros kept to ``digits``; ``–`` for none."""
        if value is None:
            return "–"
        plain = f"{value:,.{digits}f}"
        if self.code == "vi":
            plain = plain.replace(",", "\x00").replace(".", ",").replace("\x00", ".")
        return plain

    def percent(self, value: float | None, digits: int = 1) -> str:
        return "–" if value is None else f"{self.number(value, digits)} %"

    def share(self, value: float | None) -> str:
        """A 0..1 share (coverage) in percent, one decimal: ``96,5 %``."""
        return "–" if value is None else self.percent(100 * value)

    def unit(self, unit: str) -> str:
        """A figure's unit in words (``người dùng/ngày``), as ``thonminh.figures.UNIT_WORDS`` spells it."""
        words = UNIT_WORDS.get(unit)
        return unit if words is None else words.vi if self.code == "vi" else words.en

    def value(self, value: float | None, unit: str, threshold: float | None = None) -> str:
        """A figure with its unit: one decimal, or as many as it takes (up to three) not to write a value on one
        side of ``threshold`` as the threshold itself (98,96 % is not 99,0 %)."""
        if value is None:
            return "–"
        digits = next(
            (d for d in (1, 2) if threshold is None or round(value, d) != threshold or value == threshold), 3
        )
        return f"{self.number(value, digits)} {self.unit(unit)}".rstrip()

    def threshold(self, comparator: str, threshold: float, unit: str) -> str:
        """``≥ 99 %``: the criterion's comparator as people write it, a whole threshold without decimals."""
        shown = self.number(threshold, 0 if float(threshold).is_integer() else 1)
        return f"{_SIGNS.get(comparator, comparator)} {shown} {self.unit(unit)}".rstrip()

    def when(self, moment: datetime | int | str | None, *, seconds: bool = False) -> str:
        """A local time, ``06/03/2025 19:05`` (vi) or ``2025-03-06 19:05`` (en); the zone is named on the page."""
        if moment is None:
            return "–"
        local = _to_datetime(moment).astimezone(self.zone)
        clock = "%H:%M:%S" if seconds else "%H:%M"
        return local.strftime(("%d/%m/%Y " if self.code == "vi" else "%Y-%m-%d ") + clock)

    def span(self, start: datetime | int | str, end: datetime | int | str) -> str:
        """A window ``start – end``, to the second when it is shorter than an hour (a demo's minute)."""
        short = (_to_datetime(end) - _to_datetime(start)).total_seconds() < 3600
        return f"{self.when(start, seconds=short)} – {self.when(end, seconds=short)}"

    def day(self, moment: datetime | int | str) -> str:
        """A local day, ``06/03`` (vi) or ``Mar 6`` (en, never the ambiguous ``03-06``); a bare ``2025-03-06`` is
        already a local day."""
        shown = (
            date.fromisoformat(moment)
            if isinstance(moment, str) and len(moment) == 10
            else _to_datetime(moment).astimezone(self.zone)
        )
        return shown.strftime("%d/%m") if self.code == "vi" else f"{_MONTHS[shown.month - 1][:3]} {shown.day}"

    def month(self, text: str) -> str:
        """A month ``2025-03`` as people write it: ``03/2025`` (vi, as the dossier's cover), ``March 2025``."""
        year, number = text.split("-")
        return f"{number}/{year}" if self.code == "vi" else f"{_MONTHS[int(number) - 1]} {year}"

    def duration(self, seconds: float | None) -> str:
        """``2 giờ 30 phút`` / ``2 h 30 min``: the two largest units that are not zero; ``0 giây`` / ``0 s``."""
        if seconds is None:
            return "–"
        left = int(round(seconds))
        parts: list[str] = []
        for unit, size in (("day_unit", 86400), ("hour_unit", 3600), ("minute_unit", 60), ("second_unit", 1)):
            amount, left = divmod(left, size)
            if amount or (unit == "second_unit" and not parts):
                parts.append(f"{amount} {self.t(unit)}")
        return " ".join(parts[:2])

    def zone_note(self) -> str:
        offset = datetime.now(self.zone).strftime("%z")
        return self.t("times_in", zone=self.zone.key, offset=f"{offset[:3]}:{offset[3:]}")


_SIGNS = {">=": "≥", "<=": "≤", "==": "=", ">": ">", "<": "<"}


#: English month names, not the C library's locale
_MONTHS = "January February March April May June July August September October November December".split()


def _to_datetime(moment: datetime | int | str) -> datetime:
    if isinstance(moment, datetime):
        return moment
    if isinstance(moment, int):
        return datetime.fromtimestamp(moment / 1000, UTC)
    return datetime.fromisoformat(moment.replace("Z", "+00:00"))
