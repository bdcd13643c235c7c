"""The pages' words, each as (Vietnamese, English): ``server.pages.i18n.text`` picks one and fills it in.

A key the table lacks shows as itself on the page, so a missing word is visible, not a crash.
"""

from __future__ import annotations

from thonminh.display import VERDICT_WORDS

__all__ = ["TEXT"]

TEXT: dict[str, tuple[str, str]] = {
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
    **{verdict: (words.vi, words.en) for verdict, words in VERDICT_WORDS.items()},
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
    # no light reported in the window is no sign that all are well: said apart from "none needs repair"
    "no_lights": (
        "Không có đèn nào báo số liệu trong khoảng thời gian này, nên chưa biết đèn nào cần sửa.",
        "No light reported in this window, so which need repair is not known.",
    ),
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
        "không có chữ ký hợp lệ của dịch vụ: nhập trước khi dịch vụ ký, không nhập qua dịch vụ, hoặc đã bị sửa",
        "no valid signature of the service: entered before it signed entries, not through it, or changed since",
    ),
    "no_indicator": ("Chưa có giá trị nào được nhập.", "No value entered."),
    # the village page's form for a manual indicator (an admin key signed in)
    "entry_form": ("Nhập số liệu", "Enter a value"),
    "entry_value": ("Giá trị", "Value"),
    "entry_date": ("Số liệu tính đến ngày", "As of the day"),
    "entry_date_hint": ("để trống: lúc nhập", "empty: the time of entry"),
    "entry_note": ("Ghi chú: căn cứ, người nhập", "Note: the basis, who enters it"),
    "entry_submit": ("Ghi số liệu", "Enter"),
    "entry_signs": (
        "Dịch vụ ký số mỗi lần nhập bằng khóa của mình và ghi tên khóa quản trị của bạn. Không lần nhập nào bị "
        "xóa: một lần nhập sau sửa lần trước, và cả hai được giữ trong sổ ghi.",
        "The service signs each entry with its own key and records your admin key's name. No entry is ever "
        "deleted: a later one corrects it, and both stay in the record.",
    ),
    "entry_needs_admin": (
        "Muốn nhập số liệu, hãy đăng nhập bằng khóa quản trị.",
        "To enter a value, sign in with an admin key.",
    ),
    "entry_admin_only": (
        "Chỉ khóa quản trị mới được nhập số liệu; bạn đang đăng nhập bằng khóa đọc.",
        "Only an admin key can enter a value; you are signed in with a read key.",
    ),
    "entry_read_only": (
        "Dịch vụ đang chạy ở chế độ chỉ đọc: không nhập được số liệu.",
        "The service runs in open read-only mode: no value can be entered.",
    ),
    "entry_cross_site": (
        "Biểu mẫu nhập số liệu này được gửi từ một trang khác nên không được ghi: hãy nhập ngay trên trang của "
        "thôn.",
        "This entry was sent from another site and is not recorded: enter it on the village's page itself.",
    ),
    "entry_done": (
        "Đã ghi {title}: {value}, tính đến {as_of}, nhập lúc {entered}.",
        "Entered {title}: {value}, as of {as_of}, at {entered}.",
    ),
    "entry_refused": ("Số liệu chưa được ghi.", "The value is not recorded."),
    "entry_bad_indicator": ("Không có chỉ số này.", "There is no such indicator."),
    "entry_bad_value": (
        "Giá trị phải là một số từ {minimum} đến {maximum} {unit}, ví dụ 27,5.",
        "The value must be a number from {minimum} to {maximum} {unit}, e.g. 27.5.",
    ),
    "entry_bad_date": (
        "Ngày phải là một ngày có thật, từ năm 2000 đến hôm nay.",
        "The day must be a real day, from 2000 to today.",
    ),
    "entry_bad_note": (
        "Ghi chú dài tối đa 200 ký tự, trên một dòng, không có dấu \\.",
        "The note takes at most 200 characters, on one line, without a \\.",
    ),
    "entry_bad_corrects": (
        "Không tìm thấy lần nhập cần xác nhận; hãy tải lại trang.",
        "The entry to confirm is not found; reload the page.",
    ),
    "commune_entry": ("Nhập chỉ số cho các thôn", "Enter a value for each village"),
    "commune_entry_link": ("Nhập chỉ số cho các thôn của xã", "Enter values for the commune's villages"),
    "commune_entry_intro": (
        "Nhập giá trị cho những thôn bạn có số liệu mới, để trống các thôn khác. Mọi giá trị được kiểm tra trước khi "
        "ghi: nếu có giá trị sai, chưa thôn nào được ghi. Mỗi giá trị được ghi và ký cho thôn của nó, như khi "
        "nhập trên trang của thôn.",
        "Type a value for the villages you have a figure for and leave the others empty. Every value is checked "
        "before any is entered: if one is wrong, no village is entered. Each is entered and signed for its own "
        "village, as on the village's page.",
    ),
    "counting_value": ("Giá trị đang tính", "Value counting now"),
    "new_value": ("Giá trị mới", "New value"),
    "commune_entered": ("Đã ghi {title} cho {n} thôn:", "Entered {title} for these villages ({n}):"),
    "just_entered": ("vừa ghi", "just entered"),
    "overview_next_hour": (
        "Trang tổng hợp tính lại kết quả của các thôn lúc {when}.",
        "The overview evaluates the villages again at {when}.",
    ),
    "entered_not_counting": (
        "không phải giá trị đang tính: một giá trị khác tính đến thời điểm muộn hơn",
        "not the value that counts: another stands at a later time",
    ),
    "counting_now": ("đang tính", "counts now"),
    # a value for the hour still running: the verdicts' windows end at the last whole hour, so it is not read yet
    "counts_from": ("kết quả đánh giá tính từ {when}", "the verdicts count it from {when}"),
    "read_forged": (
        "tiêu chí không đọc giá trị này: giá trị tại thời điểm này đã bị ghi hoặc sửa không qua dịch vụ",
        "not what the criterion reads: the value at this time was written or changed outside the service",
    ),
    "read_missing": (
        "tiêu chí không đọc giá trị này: giá trị tại thời điểm này đã bị xoá",
        "not what the criterion reads: the value at this time was deleted",
    ),
    "day_values": ("Giá trị từng ngày", "Value per day"),
    "counted_from": ("Kết quả đánh giá tính giá trị này từ {when}.", "The verdicts count it from {when}."),
    "as_of_lower": ("tính đến", "as of"),
    "commune_nothing": (
        "Chưa có giá trị nào: hãy nhập giá trị cho ít nhất một thôn.",
        "No value typed: type one for at least one village.",
    ),
    "commune_refused": (
        "Chưa ghi thôn nào: giá trị của {left} chưa hợp lệ.",
        "No village is entered: the value for {left} is not valid.",
    ),
    "commune_partly": (
        "Đã ghi cho {done}. Chưa ghi cho {left}: các giá trị này vẫn còn trong bảng, hãy gửi lại sau.",
        "Entered for {done}. Not entered for {left}: their values are still in the table; send them again "
        "later.",
    ),
    "entry_confirm": ("Xác nhận và ký", "Confirm and sign"),
    "entry_confirm_title": (
        "Nhập lại đúng giá trị này dưới tên khóa của bạn để dịch vụ ký; lần nhập cũ được giữ, ghi là đã sửa.",
        "Enter this very value again under your key, for the service to sign; the old entry is kept, marked "
        "corrected.",
    ),
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
    "back": ("Về trang tổng hợp", "Back to the overview"),
    "gateway": ("Thiết bị gateway", "Gateway"),
    "back_public": ("Về danh sách trang trạng thái công khai", "Back to the public status pages"),
    "no_public_page": (
        "Không có trang trạng thái công khai của thôn {village}.",
        "There is no public status page for village {village}.",
    ),
    "no_such_page": ("Không có trang nào ở địa chỉ này.", "There is no page at this address."),
    "api": ("API", "API"),
    "documents": ("Tài liệu API", "API docs"),
    "unknown_village": ("Thôn {village} không có trong dữ liệu.", "Village {village} is not in the data."),
    "unknown_commune": ("Xã {commune} không có trong dữ liệu.", "Commune {commune} is not in the data."),
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
    "bad_form_twice": (
        "Biểu mẫu không hợp lệ: trường «{field}» được gửi hai lần.",
        "The form is not valid: its field '{field}' was posted twice.",
    ),
    "bad_form_unknown": (
        "Biểu mẫu không hợp lệ: «{field}» không phải một trường của biểu mẫu này.",
        "The form is not valid: '{field}' is not one of its fields.",
    ),
    "bad_form_too_many": (
        "Biểu mẫu không hợp lệ: có nhiều trường hơn biểu mẫu này có.",
        "The form is not valid: it has more fields than this form has.",
    ),
    "bad_form_villages": (
        "Biểu mẫu không hợp lệ: có giá trị cho một thôn không thuộc xã này.",
        "The form is not valid: it has a value for a village that is not of this commune.",
    ),
    "too_large": (
        "Biểu mẫu gửi lên quá lớn nên dịch vụ không nhận.",
        "The form sent is too large: the service does not take it.",
    ),
    "service_key_unusable": (
        "Không dùng được khóa ký của dịch vụ nên số liệu chưa được ghi: người quản trị cần xem nhật ký của "
        "dịch vụ. Trang sẽ tự tải lại.",
        "The service's signing key cannot be used, so nothing is entered: the administrator must read the "
        "service's log. The page reloads by itself.",
    ),
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
        "Chưa xác minh dù tỷ lệ đạt mức tối thiểu: có số liệu đã ký bị sửa hoặc bị xóa, có số liệu được ghi thêm "
        "không qua chữ ký của gateway, hoặc số liệu tổng hợp bị sửa vẫn còn trong cơ sở dữ liệu (xem các sai lệch "
        "bên dưới).",
        "Unverified although the share reaches the minimum: signed data was changed or deleted, data was written "
        "around the gateway's signatures, or forged rollup rows are still in the database (see the faults below).",
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
    "evidence_faults": ("Sai lệch được phát hiện", "Faults found"),
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
