"""Vietnamese by default, English by a switch.

The strings live here, in one dict, rather than in a gettext catalogue: a .mo file compiled at build
time is one more step a fresh clone can miss, and the dashboard has a few hundred words. `t(key)`
picks the language of the request (the session's choice, else Vietnamese); a missing English
string falls back to the Vietnamese one, and tests/web checks that every key has both.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from flask import session

LANGS = ("vi", "en")

MESSAGES: dict[str, tuple[str, str]] = {
    "app_title": ("Theo dõi tiến độ giải quyết hồ sơ TTHC", "Administrative procedure dossier tracker"),
    "overview": ("Tổng quan", "Overview"),
    "overdue_list": ("Quá hạn và sắp đến hạn", "Overdue and at risk"),
    "units": ("Đơn vị", "Units"),
    "unit": ("Đơn vị", "Unit"),
    "imports": ("Nhập dữ liệu", "Imports"),
    "calendar": ("Lịch làm việc", "Calendar"),
    "admin": ("Quản trị", "Admin"),
    "login": ("Đăng nhập", "Log in"),
    "logout": ("Đăng xuất", "Log out"),
    "username": ("Tên đăng nhập", "Username"),
    "password": ("Mật khẩu", "Password"),
    "bad_login": ("Sai tên đăng nhập hoặc mật khẩu.", "Wrong username or password."),
    "locked": ("Đăng nhập sai quá nhiều lần. Thử lại sau ít phút.",
               "Too many failed logins. Try again in a few minutes."),
    "please_login": ("Vui lòng đăng nhập.", "Please log in."),
    "language": ("Ngôn ngữ", "Language"),
    "in_progress": ("Đang giải quyết", "In progress"),
    "overdue": ("Quá hạn", "Overdue"),
    "at_risk": ("Sắp đến hạn", "At risk"),
    "paused": ("Tạm dừng", "Paused"),
    "within": ("Trong hạn", "Within time"),
    "early": ("Trước hạn", "Early"),
    "on_time": ("Đúng hạn", "On time"),
    "late": ("Quá hạn", "Late"),
    "not_received": ("Chưa tiếp nhận", "Not received"),
    "on_time_rate": ("Tỷ lệ đúng hạn", "On-time rate"),
    "month_to_date": ("Tháng này", "Month to date"),
    "quarter_to_date": ("Quý này", "Quarter to date"),
    "year_to_date": ("Từ đầu năm", "Year to date"),
    "score_766": ("Điểm tiến độ (766)", "766 progress score"),
    "score_766_help": ("Chỉ số 766, nhóm Tiến độ giải quyết, tối đa 20 điểm, từ đầu năm.",
                       "QĐ 766 index, group 'progress', out of 20 points, year to date."),
    "per_unit": ("Theo đơn vị (từ đầu năm)", "By unit (year to date)"),
    "chart_12": ("Tỷ lệ đúng hạn 12 tháng", "On-time rate, last 12 months"),
    "total": ("Tổng", "Total"),
    "received": ("Tiếp nhận", "Received"),
    "finished": ("Đã giải quyết", "Finished"),
    "carried_over": ("Kỳ trước chuyển qua", "Carried over"),
    "code": ("Mã hồ sơ", "Dossier code"),
    "procedure": ("Thủ tục", "Procedure"),
    "field": ("Lĩnh vực", "Field"),
    "channel": ("Kênh", "Channel"),
    "channel_1": ("Trực tiếp", "In person"),
    "channel_2": ("Trực tuyến", "Online"),
    "channel_3": ("Bưu chính", "By post"),
    "all": ("Tất cả", "All"),
    "status": ("Trạng thái", "Status"),
    "class": ("Phân loại", "Class"),
    "due_recorded": ("Hẹn trả (ghi nhận)", "Due (recorded)"),
    "due_computed": ("Hạn theo quy định", "Due (computed)"),
    "due_rescheduled": ("Hẹn trả mới", "New appointment"),
    "time_late_left": ("Giờ làm việc trễ / còn lại", "Working hours late / left"),
    "hours_late": ("trễ {h} giờ", "{h} h late"),
    "hours_left": ("còn {h} giờ", "{h} h left"),
    "applicant": ("Chủ hồ sơ", "Applicant"),
    "phone": ("Điện thoại", "Phone"),
    "filter": ("Lọc", "Filter"),
    "search_code": ("Tìm mã hồ sơ", "Search dossier code"),
    "how_late": ("Mức trễ", "How late"),
    "late_any": ("Quá hạn và sắp đến hạn", "Overdue and at risk"),
    "late_overdue": ("Chỉ quá hạn", "Overdue only"),
    "late_at_risk": ("Chỉ sắp đến hạn", "At risk only"),
    "late_past_new": ("Quá cả hẹn trả mới", "Past the new appointment"),
    "late_gt3": ("Quá hạn trên 3 ngày", "Overdue more than 3 days"),
    "late_gt7": ("Quá hạn trên 7 ngày", "Overdue more than 7 days"),
    "late_gt30": ("Quá hạn trên 30 ngày", "Overdue more than 30 days"),
    "export_csv": ("Xuất CSV", "Export CSV"),
    "export_xlsx": ("Xuất XLSX", "Export XLSX"),
    "page": ("Trang", "Page"),
    "prev": ("Trước", "Previous"),
    "next": ("Sau", "Next"),
    "results": ("{n} hồ sơ", "{n} dossiers"),
    "nothing": ("Không có hồ sơ nào.", "No dossiers."),
    "as_of": ("Tính đến", "As of"),
    "timeline": ("Diễn biến", "Timeline"),
    "ev_submitted": ("Nộp hồ sơ", "Submitted"),
    "ev_received": ("Tiếp nhận", "Received"),
    "ev_supplement_requested": ("Yêu cầu bổ sung", "Supplement requested"),
    "ev_resubmitted": ("Nhận hồ sơ bổ sung", "Supplement received"),
    "ev_apology": ("Phiếu xin lỗi, hẹn lại", "Apology and new appointment"),
    "ev_due": ("Hẹn trả", "Due"),
    "ev_finished": ("Kết thúc xử lý", "Finished"),
    "ev_returned": ("Trả kết quả", "Result returned"),
    "ev_status": ("Trạng thái {a} → {b}", "Status {a} → {b}"),
    "due_explained": ("Hạn xử lý được tính thế nào", "How the due date is computed"),
    "no_limit": ("Không có thời hạn giải quyết để tính.", "No time limit to compute from."),
    "class_explained": ("Vì sao hồ sơ được phân loại như vậy", "Why this class"),
    "flags": ("Cảnh báo kiểm tra", "Audit flags"),
    "no_flags": ("Không có cảnh báo.", "No flags."),
    "flag_no_due": ("Thiếu ngày hẹn trả", "No due date"),
    "flag_no_finished_at": ("Thiếu ngày kết thúc: lấy lúc hệ thống thấy trạng thái kết thúc",
                            "No finish date: taken from when the status was first seen"),
    "flag_due_exceeds_limit": ("Hẹn trả vượt thời hạn quy định ({h} giờ làm việc)",
                               "Appointment beyond the legal limit ({h} working hours)"),
    "flag_late_without_apology": ("Quá hạn không xin lỗi", "Late without an apology"),
    "flag_past_rescheduled_due": ("Quá cả ngày hẹn trả mới", "Past even the new appointment"),
    "why_not_received": ("Hồ sơ chưa được tiếp nhận tại thời điểm này.", "Not received at this moment."),
    "why_finished": ("Kết thúc lúc {f}, so với hạn {d} ({mode}).", "Finished at {f}, against due {d} ({mode})."),
    "why_paused": ("Đang chờ bổ sung hoặc nghĩa vụ tài chính: thời hạn tạm dừng, tính là trong hạn.",
                   "Waiting for a supplement or a payment: the clock is stopped, counted within time."),
    "why_overdue": ("Đã qua hạn {d} ({mode}). Hẹn trả mới không làm thay đổi phân loại.",
                    "Past the due {d} ({mode}). A new appointment does not change the class."),
    "why_at_risk": ("Còn {h} giờ làm việc đến hạn {d}, không quá {r} giờ.",
                    "{h} working hours left to {d}, at most {r}."),
    "why_within": ("Còn {h} giờ làm việc đến hạn {d}.", "{h} working hours left to {d}."),
    "why_no_due": ("Không có ngày hẹn trả: tính là trong hạn / đúng hạn.", "No due date: counted within time."),
    "mode_date": ("so sánh theo ngày", "comparing dates"),
    "mode_datetime": ("so sánh theo thời điểm", "comparing instants"),
    "limit": ("Thời hạn giải quyết", "Time limit"),
    "sub_units": ("Đơn vị trực thuộc", "Units below"),
    "procedures_by_lateness": ("Thủ tục theo mức trễ", "Procedures by lateness"),
    "dossiers_of_unit": ("Hồ sơ quá hạn và sắp đến hạn của đơn vị", "Overdue and at-risk dossiers of the unit"),
    "runs": ("Các lần nhập", "Import runs"),
    "run": ("Lần nhập", "Run"),
    "source": ("Nguồn", "Source"),
    "file": ("Tệp", "File"),
    "started": ("Bắt đầu", "Started"),
    "rows_read": ("Số dòng", "Rows"),
    "inserted": ("Thêm mới", "Inserted"),
    "updated": ("Cập nhật", "Updated"),
    "unchanged": ("Không đổi", "Unchanged"),
    "rejected": ("Bị loại", "Rejected"),
    "download": ("Tải về", "Download"),
    "upload": ("Tải tệp lên để nhập", "Upload a file to import"),
    "upload_button": ("Nhập", "Import"),
    "freshness": ("Độ mới dữ liệu", "Data freshness"),
    "last_import": ("Lần nhập gần nhất", "Last import"),
    "stale": ("Dữ liệu cũ: quá {h} giờ chưa nhập mới", "Stale: nothing new for more than {h} hours"),
    "fresh": ("Mới", "Fresh"),
    "import_done": ("Đã nhập {name}: {n} dòng, {r} dòng bị loại.", "Imported {name}: {n} rows, {r} rejected."),
    "no_file": ("Chưa chọn tệp.", "No file chosen."),
    "year": ("Năm", "Year"),
    "days_off": ("Ngày nghỉ và ngày làm bù", "Days off and make-up days"),
    "date": ("Ngày", "Date"),
    "weekday": ("Thứ", "Weekday"),
    "kind": ("Loại", "Kind"),
    "kind_off": ("Nghỉ", "Day off"),
    "kind_work": ("Làm bù", "Make-up working day"),
    "reason": ("Lý do", "Reason"),
    "users": ("Người dùng", "Users"),
    "role": ("Vai trò", "Role"),
    "role_admin": ("Quản trị", "Admin"),
    "role_cchc": ("Cán bộ CCHC", "CCHC officer"),
    "role_unit_head": ("Lãnh đạo đơn vị", "Unit head"),
    "role_reception": ("Cán bộ Một cửa", "Reception officer"),
    "active": ("Hoạt động", "Active"),
    "yes": ("Có", "Yes"),
    "no": ("Không", "No"),
    "digest_recipients": ("Người nhận bản tin", "Digest recipients"),
    "settings": ("Cấu hình (chỉ xem)", "Settings (read-only)"),
    "setting": ("Khóa", "Key"),
    "value": ("Giá trị", "Value"),
    "level": ("Cấp", "Level"),
    "parent": ("Đơn vị cấp trên", "Parent unit"),
    "not_found": ("Không tìm thấy.", "Not found."),
    "forbidden": ("Bạn không có quyền xem trang này.", "You may not see this page."),
    "print": ("In", "Print"),
    "name": ("Tên", "Name"),
    "no_data": ("Chưa có dữ liệu.", "No data yet."),
    "no_rate": ("—", "—"),
    "finished_late": ("Giải quyết quá hạn", "Finished late"),
    "open_dossiers": ("Đang xử lý", "Open"),
    "sort_by": ("Sắp xếp", "Sort"),
    "too_large": ("Tệp quá lớn.", "File too large."),
    "status_1": ("Mới đăng ký", "Submitted online"),
    "status_2": ("Được tiếp nhận", "Accepted"),
    "status_3": ("Không được tiếp nhận", "Refused at reception"),
    "status_4": ("Đang xử lý", "In progress"),
    "status_5": ("Yêu cầu bổ sung giấy tờ", "Waiting for a supplement"),
    "status_6": ("Yêu cầu thực hiện nghĩa vụ tài chính", "Waiting for fees or taxes"),
    "status_7": ("Rút hồ sơ", "Withdrawn"),
    "status_8": ("Dừng xử lý", "Stopped"),
    "status_9": ("Đã xử lý xong", "Finished"),
    "status_10": ("Đã trả kết quả", "Result returned"),
    "reports_pending": ("Đang tính các tỷ lệ đúng hạn; tải lại trang sau ít phút.",
                        "The on-time rates are being computed; reload the page in a minute."),
    "signed_in_as": ("Đăng nhập: {u}", "Signed in: {u}"),
    # --- reports, scores, audits pages (issue 6) ---
    # --- end reports ---
    # --- admin forms, throttle (issue 4) ---
    # --- end admin ---
}


def lang() -> str:
    try:
        value = session.get("lang")
    except RuntimeError:  # outside a request
        value = None
    return value if value in LANGS else "vi"


def t(key: str, **kw: object) -> str:
    pair = MESSAGES.get(key)
    if pair is None:
        return key
    text = pair[1] if lang() == "en" and pair[1] else pair[0]
    return text.format(**kw) if kw else text


def fmt_date(value: date | datetime | None) -> str:
    return value.strftime("%d/%m/%Y") if value else ""


def fmt_dt(value: datetime | None) -> str:
    return value.strftime("%d/%m/%Y %H:%M") if value else ""


def fmt_num(value: float | int | Decimal | None, places: int = 1) -> str:
    """1234.5 -> '1.234,5' in Vietnamese, '1,234.5' in English."""
    if value is None:
        return "—"
    text = f"{value:,.{places}f}" if not isinstance(value, int) else f"{value:,}"
    if lang() == "vi":
        text = text.replace(",", "\0").replace(".", ",").replace("\0", ".")
    return text


def fmt_rate(value: Decimal | float | None) -> str:
    return "—" if value is None else fmt_num(value, 1) + "%"
