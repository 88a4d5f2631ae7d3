"""A synthetic "demo province" (Tỉnh Sơn Hà): catalogue files and a one-stop export.

`build_demo_files` writes three CSV files the way a provincial one-stop system exports them
(UTF-8 with BOM, `;` separated, dates `dd/MM/yyyy HH:mm:ss`, Vietnamese column labels, status and
channel as Vietnamese words). It writes files only; the importer loads them.

Everything is invented: place names, people, phone numbers, e-mail addresses (on the domain
`sonha.gov.vn`). The output is a pure function of (seed, today, months, per_month, now): the
same arguments give byte-identical files. Each dossier is drawn from a stream seeded by (seed, the
day it was received), so a build on a later day shows the same dossiers moved forward in time.

What the dossier export contains, on purpose:
- arrivals on working days of the product's calendar only, mostly 07:15–16:45, a few before
  07:00 or after 17:00, and a few online dossiers on Saturday mornings; a dip around Tết and a
  bump in the weeks after it; dossiers received on `today` up to `now` (default 10:00);
- ~40 % online, a few by public post, the rest in person;
- appointments (ngày hẹn trả) equal to `compute_due` of the procedure's time limit, recomputed
  from the resubmission after a supplement;
- lateness that differs by unit (a few chronically late units, several almost never late) and
  by procedure within a unit (a few chronic backlogs, `_BACKLOGS`),
  apologies with a new appointment for about half of the late dossiers;
- recent dossiers still in progress relative to `today`, some overdue, some at risk, a few
  received but never passed on (status 2: stuck);
- data-quality problems an importer must survive: a missing appointment, an appointment beyond
  the legal limit, a finished status without finish date, an unparsable received date (rows to
  reject), applicant names that look like spreadsheet formulas.
"""

from __future__ import annotations

import csv
import math
import random
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path

from tracker.calendar import WorkCalendar
from tracker.rules import TimeLimit, compute_due, parse_limit
from tracker.text import strip_accents

PROVINCE_NAME = "Tỉnh Sơn Hà"
EMAIL_DOMAIN = "sonha.gov.vn"

UNITS_HEADER = ("Mã đơn vị", "Tên đơn vị", "Mã đơn vị cha", "Cấp", "Email nhận báo cáo")
PROCEDURES_HEADER = ("Mã TTHC", "Tên thủ tục hành chính", "Mã lĩnh vực", "Lĩnh vực",
                     "Thời hạn giải quyết")
DOSSIERS_HEADER = (
    "STT", "Mã hồ sơ", "Mã TTHC", "Tên thủ tục hành chính", "Lĩnh vực", "Đơn vị tiếp nhận",
    "Chủ hồ sơ", "Số điện thoại", "Kênh nộp", "Ngày tiếp nhận", "Ngày hẹn trả",
    "Ngày yêu cầu bổ sung", "Ngày bổ sung", "Ngày xin lỗi", "Ngày hẹn trả mới",
    "Ngày kết thúc xử lý", "Ngày trả kết quả", "Trạng thái",
)

# The words written in the "Trạng thái" and "Kênh nộp" columns, by national code (FORMATS.md §2).
STATUS_WORDS: dict[int, str] = {
    2: "Đã tiếp nhận",
    4: "Đang xử lý",
    5: "Yêu cầu bổ sung",
    6: "Chờ thực hiện nghĩa vụ tài chính",
    7: "Công dân rút hồ sơ",
    8: "Dừng xử lý",
    9: "Đã xử lý xong",
    10: "Đã trả kết quả",
}
CHANNEL_WORDS: dict[int, str] = {1: "Trực tiếp", 2: "Trực tuyến", 3: "Bưu chính công ích"}

DATE_FORMAT = "%d/%m/%Y %H:%M:%S"
# The moment of `today` the simulation stops at: nothing is received, finished or returned later.
DEMO_NOW_TIME = time(10, 0)
# Received-date cells that no parser should accept: their rows must be rejected by the importer.
BAD_DATES = ("31/02/{y} {hms}", "không rõ", "30/02/{y}", "29/02/2025 {hms}", "32/{m}/{y} {hms}",
             "{d}/13/{y} {hms}", "00/00/0000 00:00:00", "??/??/????", "ngày {d} tháng {m}", "N/A")
FORMULA_NAMES = ('=HYPERLINK("https://example.invalid/ho-so";"Bấm vào đây")', "=1+2",
                 "@SUM(1;2)")


def _nfc(s: str) -> str:
    return unicodedata.normalize("NFC", s)


@dataclass(frozen=True)
class DemoFiles:
    units: Path  # units catalogue CSV
    procedures: Path  # procedure catalogue CSV
    dossiers: Path  # the one-stop export CSV
    dossier_count: int  # data rows in `dossiers`, the rows to reject included


# ----- catalogue ---------------------------------------------------------------------------------

ROOT_CODE = "000.00.00.H48"


@dataclass(frozen=True)
class _Unit:
    key: str  # short ASCII slug, also the e-mail local part
    code: str
    name: str
    level: str  # "tinh" | "xa"
    late_rate: float  # share of dossiers finished after the appointment
    size: float = 1.0  # relative volume (communes)
    cchc_mail: bool = False  # a second digest recipient

    @property
    def emails(self) -> tuple[str, ...]:
        mails = [f"vanthu.{self.key}@{EMAIL_DOMAIN}"]
        if self.cchc_mail:
            mails.append(f"cchc.{self.key}@{EMAIL_DOMAIN}")
        return tuple(mails)


# (slug, name, late rate, second mail)
_DEPARTMENTS = (
    ("sotuphap", "Sở Tư pháp", 0.004, True),
    ("soxaydung", "Sở Xây dựng", 0.17, True),
    ("sotaichinh", "Sở Tài chính", 0.01, False),
    ("sonnmt", "Sở Nông nghiệp và Môi trường", 0.22, True),
    ("soyte", "Sở Y tế", 0.03, False),
    ("sogddt", "Sở Giáo dục và Đào tạo", 0.002, False),
    ("socongthuong", "Sở Công Thương", 0.015, False),
    ("sonoivu", "Sở Nội vụ", 0.04, True),
    ("sokhcn", "Sở Khoa học và Công nghệ", 0.0, False),
    ("sovhttdl", "Sở Văn hóa, Thể thao và Du lịch", 0.01, False),
    ("sodttg", "Sở Dân tộc và Tôn giáo", 0.0, False),
    ("thanhtra", "Thanh tra tỉnh", 0.05, False),
    ("vpubnd", "Văn phòng Ủy ban nhân dân tỉnh", 0.0, True),
    ("bqlkcn", "Ban Quản lý các khu công nghiệp", 0.005, False),
    ("congantinh", "Công an tỉnh", 0.001, True),
    ("thuetinh", "Thuế tỉnh Sơn Hà", 0.008, False),
    ("bhxhtinh", "Bảo hiểm xã hội tỉnh Sơn Hà", 0.02, False),
)

# (kind, place name, size, late rate)
_COMMUNES = (
    ("phường", "Sơn Hà", 2.6, 0.02),
    ("phường", "Hà Thanh", 2.2, 0.012),
    ("phường", "Đông Sơn Hà", 1.9, 0.0),
    ("phường", "Bình Minh", 1.7, 0.03),
    ("phường", "Nam Thành", 1.6, 0.015),
    ("phường", "Vạn Xuân", 1.5, 0.19),
    ("phường", "Thanh Tuyền", 1.3, 0.01),
    ("phường", "Phú Lâm", 1.2, 0.02),
    ("xã", "Tam Hưng", 1.0, 0.025),
    ("xã", "Đại Đồng", 0.9, 0.01),
    ("xã", "Yên Lạc Sơn", 0.8, 0.04),
    ("xã", "Hòa Bình Thượng", 0.6, 0.0),
    ("xã", "Tân Phong", 0.9, 0.02),
    ("xã", "Kim Sơn Hạ", 0.7, 0.03),
    ("xã", "Lương Điền", 0.6, 0.015),
    ("xã", "Phù Vân", 0.7, 0.16),
    ("xã", "Thượng Lâm", 0.5, 0.01),
    ("xã", "Ngọc Khê", 0.6, 0.005),
    ("xã", "Hưng Đạo Sơn", 0.8, 0.02),
    ("xã", "An Thịnh", 0.7, 0.03),
    ("xã", "Cẩm Hà", 0.5, 0.0),
    ("xã", "Mỹ Hòa", 0.6, 0.015),
)


def _ascii_slug(text: str) -> str:
    return "".join(c for c in strip_accents(text.lower()) if c.isascii() and c.isalnum())


def _units() -> tuple[_Unit, ...]:
    units = [_Unit("ubndtinh", ROOT_CODE, _nfc("Ủy ban nhân dân tỉnh Sơn Hà"), "tinh", 0.0,
                   cchc_mail=True)]
    for i, (key, name, late, second) in enumerate(_DEPARTMENTS, start=1):
        units.append(_Unit(key, f"000.00.{i:02d}.H48", _nfc(name), "tinh", late, cchc_mail=second))
    for i, (kind, place, size, late) in enumerate(_COMMUNES, start=11):
        key = _ascii_slug(("phuong" if kind == "phường" else "xa") + place)
        units.append(_Unit(key, f"000.{i:02d}.40.H48", _nfc(f"UBND {kind} {place}"), "xa", late,
                           size=size, cchc_mail=i % 3 == 0))
    return tuple(units)


# Fields (lĩnh vực): name -> code. Fees or taxes make "Chờ thực hiện nghĩa vụ tài chính" likely.
_FIELDS = {
    "Hộ tịch": "G09-TP01",
    "Chứng thực": "G09-TP02",
    "Lý lịch tư pháp": "G09-TP03",
    "Công chứng": "G09-TP04",
    "Xây dựng": "G12-XD01",
    "Đường bộ": "G12-XD02",
    "Đăng ký kinh doanh": "G07-TC02",
    "Thành lập và hoạt động doanh nghiệp": "G07-TC01",
    "Đầu tư tại Việt Nam": "G07-TC03",
    "Quản lý công sản": "G07-TC05",
    "Thuế": "G07-TC04",
    "Đất đai": "G14-NM01",
    "Môi trường": "G14-NM02",
    "Quản lý chất lượng nông lâm sản và thủy sản": "G14-NM03",
    "Tài nguyên nước": "G14-NM04",
    "Khám bệnh, chữa bệnh": "G17-YT01",
    "Dược phẩm": "G17-YT02",
    "Bảo trợ xã hội": "G17-YT03",
    "An toàn thực phẩm": "G17-YT04",
    "Văn bằng, chứng chỉ": "G05-GD01",
    "Lưu thông hàng hóa trong nước": "G03-CT01",
    "Kinh doanh xăng dầu": "G03-CT02",
    "Việc làm": "G11-NV01",
    "Người có công": "G11-NV02",
    "Bưu chính": "G10-KH01",
    "Xuất bản, in và phát hành": "G10-KH02",
    "Văn hóa": "G18-VH01",
    "Du lịch": "G18-VH02",
    "Tôn giáo": "G04-DT01",
    "Giải quyết khiếu nại": "G15-TT01",
    "Ngoại vụ": "G13-NG01",
    "Xuất nhập cảnh": "G02-CA01",
    "Quản lý ngành, nghề kinh doanh có điều kiện về an ninh, trật tự": "G02-CA02",
    "Thu bảo hiểm xã hội, bảo hiểm y tế": "G20-BH01",
    "Thực hiện chính sách bảo hiểm xã hội": "G20-BH02",
}
_FEE_FIELDS = frozenset({"Đất đai", "Xây dựng", "Đầu tư tại Việt Nam", "Môi trường"})
_LATE_FIELDS = {"Đất đai": 1.5, "Xây dựng": 1.2}  # multiplies the unit's late rate
# Chronic backlogs: one procedure at one unit that is nearly always late, whatever the unit's rate
# elsewhere (a vacant post, a land register being rebuilt). The history a prediction learns from
# (tracker.predict) thus differs by unit and procedure, as real histories do.
_BACKLOGS = {("phuongvanxuan", "1.004513"): 0.95, ("phuongvanxuan", "1.004510"): 0.95,
             ("xaphuvan", "1.004513"): 0.95, ("sonnmt", "1.000402"): 0.95, ("soxaydung", "1.000302"): 0.95}
_BUSINESS_FIELDS = frozenset({
    "Thành lập và hoạt động doanh nghiệp", "Đầu tư tại Việt Nam", "Lưu thông hàng hóa trong nước",
    "Kinh doanh xăng dầu", "An toàn thực phẩm", "Quản lý chất lượng nông lâm sản và thủy sản",
    "Thuế", "Môi trường", "Tài nguyên nước", "Bưu chính",
    "Quản lý ngành, nghề kinh doanh có điều kiện về an ninh, trật tự",
})


@dataclass(frozen=True)
class _Procedure:
    code: str
    name: str
    field: str
    limit_text: str
    owner: str | None  # department slug; None: every commune
    weight: float  # relative volume at one hosting unit
    online: float  # propensity to be submitted online, before calibration
    limit: TimeLimit

    @property
    def field_code(self) -> str:
        return _FIELDS[self.field]


_C = None  # owner of commune-level procedures: every commune
# (code, name, field, time limit as written, owner, weight, online propensity)
_PROCEDURES = (
    # ---- communes and wards (cấp xã) ----
    ("1.004501", "Đăng ký khai sinh", "Hộ tịch", "Trong ngày", _C, 9, 0.55),
    ("1.004502", "Đăng ký khai tử", "Hộ tịch", "Trong ngày", _C, 2.5, 0.45),
    ("1.004503", "Đăng ký kết hôn", "Hộ tịch", "Trong ngày", _C, 2.5, 0.35),
    ("1.004504", "Cấp bản sao trích lục hộ tịch", "Hộ tịch", "Trong ngày", _C, 4, 0.6),
    ("1.004505", "Cấp Giấy xác nhận tình trạng hôn nhân", "Hộ tịch", "3 ngày làm việc", _C, 6, 0.6),
    ("1.004506", "Đăng ký lại khai sinh", "Hộ tịch", "5 ngày làm việc", _C, 1, 0.3),
    ("1.004507", "Đăng ký thay đổi, cải chính, bổ sung thông tin hộ tịch", "Hộ tịch",
     "3 ngày làm việc", _C, 1.5, 0.35),
    ("1.004508", "Đăng ký giám hộ", "Hộ tịch", "3 ngày làm việc", _C, 0.3, 0.2),
    ("2.000815", "Chứng thực bản sao từ bản chính giấy tờ, văn bản do cơ quan có thẩm quyền của "
     "Việt Nam cấp", "Chứng thực", "Trong ngày", _C, 14, 0.08),
    ("2.000816", "Chứng thực chữ ký trong các giấy tờ, văn bản", "Chứng thực", "Trong ngày", _C, 4,
     0.05),
    ("2.000817", "Chứng thực hợp đồng, giao dịch liên quan đến tài sản là động sản, quyền sử dụng "
     "đất và nhà ở", "Chứng thực", "2 ngày làm việc", _C, 3, 0.03),
    ("2.000818", "Chứng thực di chúc", "Chứng thực", "2 ngày làm việc", _C, 0.3, 0.0),
    ("2.000819", "Chứng thực việc sửa đổi, bổ sung, hủy bỏ hợp đồng, giao dịch", "Chứng thực",
     "8 giờ làm việc", _C, 0.5, 0.02),
    ("2.000820", "Cấp bản sao có chứng thực từ bản chính hợp đồng, giao dịch đã được chứng thực",
     "Chứng thực", "0,5 ngày làm việc", _C, 1, 0.1),
    ("1.004510", "Cấp giấy phép xây dựng đối với nhà ở riêng lẻ", "Xây dựng", "15 ngày", _C, 2.5,
     0.45),
    ("1.004511", "Đăng ký thành lập hộ kinh doanh", "Đăng ký kinh doanh", "3 ngày làm việc", _C, 3,
     0.65),
    ("1.004512", "Đăng ký thay đổi nội dung đăng ký hộ kinh doanh", "Đăng ký kinh doanh",
     "3 ngày làm việc", _C, 1.5, 0.65),
    ("1.004513", "Đăng ký biến động quyền sử dụng đất, quyền sở hữu tài sản gắn liền với đất",
     "Đất đai", "10 ngày làm việc", _C, 5, 0.3),
    ("1.004514", "Cấp Giấy chứng nhận quyền sử dụng đất, quyền sở hữu tài sản gắn liền với đất lần "
     "đầu cho hộ gia đình, cá nhân", "Đất đai", "20 ngày làm việc", _C, 2, 0.2),
    ("1.004515", "Hòa giải tranh chấp đất đai", "Đất đai", "30 ngày làm việc", _C, 0.4, 0.05),
    ("2.000821", "Trợ cấp xã hội hằng tháng đối với đối tượng bảo trợ xã hội", "Bảo trợ xã hội",
     "15 ngày làm việc", _C, 1, 0.2),
    ("2.000822", "Hỗ trợ chi phí mai táng cho đối tượng bảo trợ xã hội", "Bảo trợ xã hội",
     "3 ngày làm việc", _C, 0.5, 0.1),
    # ---- provincial departments and agencies (cấp tỉnh) ----
    ("1.000201", "Cấp Phiếu lý lịch tư pháp cho công dân Việt Nam, người nước ngoài đang cư trú "
     "tại Việt Nam", "Lý lịch tư pháp", "10 ngày", "sotuphap", 9, 0.8),
    ("1.000202", "Cấp Phiếu lý lịch tư pháp cho cơ quan nhà nước, cơ quan tiến hành tố tụng",
     "Lý lịch tư pháp", "5 ngày làm việc", "sotuphap", 0.6, 0.2),
    ("1.000203", "Đăng ký hoạt động Văn phòng công chứng", "Công chứng", "10 ngày làm việc",
     "sotuphap", 0.1, 0.3),
    ("1.000301", "Cấp giấy phép xây dựng mới đối với công trình cấp đặc biệt, cấp I, cấp II",
     "Xây dựng", "20 ngày", "soxaydung", 0.6, 0.4),
    ("1.000302", "Cấp chứng chỉ hành nghề hoạt động xây dựng hạng II, hạng III", "Xây dựng",
     "20 ngày làm việc", "soxaydung", 0.8, 0.6),
    ("1.000303", "Cấp Giấy phép kinh doanh vận tải bằng xe ô tô", "Đường bộ", "5 ngày làm việc",
     "soxaydung", 1.5, 0.8),
    ("1.000304", "Cấp phù hiệu xe ô tô kinh doanh vận tải", "Đường bộ", "2 ngày làm việc",
     "soxaydung", 3, 0.8),
    ("2.000101", "Đăng ký thành lập công ty trách nhiệm hữu hạn một thành viên",
     "Thành lập và hoạt động doanh nghiệp", "3 ngày làm việc", "sotaichinh", 2.5, 0.9),
    ("2.000102", "Đăng ký thay đổi nội dung đăng ký doanh nghiệp",
     "Thành lập và hoạt động doanh nghiệp", "3 ngày làm việc", "sotaichinh", 4, 0.9),
    ("2.000103", "Thông báo tạm ngừng kinh doanh, tiếp tục kinh doanh trước thời hạn đã thông báo",
     "Thành lập và hoạt động doanh nghiệp", "3 ngày làm việc", "sotaichinh", 1, 0.9),
    ("2.000104", "Chấp thuận chủ trương đầu tư của Ủy ban nhân dân cấp tỉnh", "Đầu tư tại Việt Nam",
     "30 ngày làm việc", "sotaichinh", 0.1, 0.3),
    ("2.000105", "Cấp mã số đơn vị có quan hệ với ngân sách", "Quản lý công sản",
     "2 ngày làm việc", "sotaichinh", 0.5, 0.8),
    ("1.000401", "Đăng ký biến động đất đai đối với tổ chức", "Đất đai", "10 ngày làm việc",
     "sonnmt", 1, 0.3),
    ("1.000402", "Cấp Giấy chứng nhận quyền sử dụng đất lần đầu cho tổ chức", "Đất đai",
     "20 ngày làm việc", "sonnmt", 0.4, 0.2),
    ("1.000403", "Cấp giấy phép môi trường", "Môi trường", "30 ngày", "sonnmt", 0.2, 0.4),
    ("1.000404", "Cấp Giấy chứng nhận cơ sở đủ điều kiện an toàn thực phẩm nông lâm thủy sản",
     "Quản lý chất lượng nông lâm sản và thủy sản", "15 ngày làm việc", "sonnmt", 0.4, 0.4),
    ("1.000405", "Cấp giấy phép khai thác, sử dụng nước mặt", "Tài nguyên nước",
     "30 ngày làm việc", "sonnmt", 0.1, 0.3),
    ("1.000501", "Cấp mới giấy phép hành nghề khám bệnh, chữa bệnh", "Khám bệnh, chữa bệnh",
     "20 ngày làm việc", "soyte", 0.8, 0.6),
    ("1.000502", "Cấp Giấy chứng nhận đủ điều kiện kinh doanh dược", "Dược phẩm", "20 ngày",
     "soyte", 0.4, 0.6),
    ("1.000503", "Cấp Giấy chứng nhận cơ sở đủ điều kiện an toàn thực phẩm", "An toàn thực phẩm",
     "20 ngày làm việc", "soyte", 0.3, 0.5),
    ("1.000601", "Cấp bản sao văn bằng, chứng chỉ từ sổ gốc", "Văn bằng, chứng chỉ", "Trong ngày",
     "sogddt", 1.5, 0.5),
    ("1.000602", "Chỉnh sửa nội dung văn bằng, chứng chỉ", "Văn bằng, chứng chỉ",
     "5 ngày làm việc", "sogddt", 0.3, 0.3),
    ("2.000201", "Cấp Giấy phép bán lẻ sản phẩm rượu", "Lưu thông hàng hóa trong nước",
     "10 ngày làm việc", "socongthuong", 0.5, 0.7),
    ("2.000202", "Cấp Giấy chứng nhận cửa hàng đủ điều kiện bán lẻ xăng dầu", "Kinh doanh xăng dầu",
     "15 ngày", "socongthuong", 0.2, 0.6),
    ("1.000701", "Cấp giấy phép lao động cho người lao động nước ngoài làm việc tại Việt Nam",
     "Việc làm", "5 ngày làm việc", "sonoivu", 0.5, 0.8),
    ("1.000702", "Giải quyết hưởng trợ cấp thất nghiệp", "Việc làm", "20 ngày làm việc", "sonoivu",
     4, 0.5),
    ("1.000703", "Giải quyết chế độ trợ cấp một lần đối với thân nhân người có công với cách mạng",
     "Người có công", "12 ngày làm việc", "sonoivu", 0.3, 0.2),
    ("2.000301", "Cấp giấy phép bưu chính", "Bưu chính", "10 ngày làm việc", "sokhcn", 0.05, 0.8),
    ("2.000302", "Xác nhận đăng ký hoạt động phát hành xuất bản phẩm", "Xuất bản, in và phát hành",
     "8 giờ làm việc", "sokhcn", 0.2, 0.7),
    ("1.000801", "Cấp Giấy phép đủ điều kiện kinh doanh dịch vụ karaoke", "Văn hóa",
     "5 ngày làm việc", "sovhttdl", 0.2, 0.6),
    ("1.000802", "Cấp thẻ hướng dẫn viên du lịch nội địa", "Du lịch", "10 ngày", "sovhttdl", 0.2,
     0.7),
    ("1.000901", "Đề nghị tổ chức cuộc lễ ngoài cơ sở tôn giáo, địa điểm hợp pháp đã đăng ký",
     "Tôn giáo", "20 ngày", "sodttg", 0.05, 0.2),
    ("2.000401", "Giải quyết khiếu nại lần đầu tại cấp tỉnh", "Giải quyết khiếu nại",
     "30 ngày làm việc", "thanhtra", 0.05, 0.0),
    ("2.000501", "Cho phép sử dụng thẻ đi lại của doanh nhân APEC", "Ngoại vụ", "10 ngày làm việc",
     "vpubnd", 0.3, 0.6),
    ("2.000601", "Cấp Giấy chứng nhận đăng ký đầu tư đối với dự án không thuộc diện chấp thuận chủ "
     "trương đầu tư", "Đầu tư tại Việt Nam", "15 ngày", "bqlkcn", 0.1, 0.5),
    ("2.000602", "Điều chỉnh Giấy chứng nhận đăng ký đầu tư", "Đầu tư tại Việt Nam",
     "10 ngày làm việc", "bqlkcn", 0.2, 0.5),
    ("3.000101", "Cấp hộ chiếu phổ thông ở trong nước", "Xuất nhập cảnh", "8 ngày làm việc",
     "congantinh", 4, 0.7),
    ("3.000102", "Đổi giấy phép lái xe", "Đường bộ", "5 ngày làm việc", "congantinh", 6, 0.7),
    ("3.000103", "Cấp Giấy chứng nhận đủ điều kiện về an ninh, trật tự",
     "Quản lý ngành, nghề kinh doanh có điều kiện về an ninh, trật tự", "5 ngày làm việc",
     "congantinh", 0.5, 0.5),
    ("3.000201", "Đăng ký thuế lần đầu đối với người nộp thuế là tổ chức", "Thuế",
     "3 ngày làm việc", "thuetinh", 1, 0.9),
    ("3.000202", "Hoàn thuế giá trị gia tăng", "Thuế", "6 ngày làm việc", "thuetinh", 0.3, 0.9),
    ("3.000301", "Cấp lại, đổi, điều chỉnh thông tin trên sổ bảo hiểm xã hội",
     "Thu bảo hiểm xã hội, bảo hiểm y tế", "10 ngày làm việc", "bhxhtinh", 1.5, 0.6),
    ("3.000302", "Giải quyết hưởng chế độ thai sản", "Thực hiện chính sách bảo hiểm xã hội",
     "6 ngày làm việc", "bhxhtinh", 1, 0.5),
)


def _procedures() -> tuple[_Procedure, ...]:
    return tuple(
        _Procedure(code, _nfc(name), _nfc(field), _nfc(limit), owner, weight, online,
                   parse_limit(limit))
        for code, name, field, limit, owner, weight, online in _PROCEDURES
    )


# ----- people ------------------------------------------------------------------------------------

_FAMILY = (("Nguyễn", 38), ("Trần", 11), ("Lê", 9), ("Phạm", 7), ("Hoàng", 4), ("Huỳnh", 3),
           ("Phan", 4), ("Vũ", 4), ("Võ", 3), ("Đặng", 2), ("Bùi", 2), ("Đỗ", 2), ("Hồ", 1.5),
           ("Ngô", 1.5), ("Dương", 1), ("Lý", 0.5), ("Đinh", 1), ("Trịnh", 1), ("Lương", 0.5))
_MIDDLE_M = ("Văn", "Văn", "Văn", "Hữu", "Đức", "Minh", "Quang", "Công", "Xuân", "Thanh", "Quốc",
             "Trọng", "Đình", "Ngọc", "Tiến")
_MIDDLE_F = ("Thị", "Thị", "Thị", "Thu", "Ngọc", "Thanh", "Hồng", "Minh", "Phương", "Kim", "Mai",
             "Thùy", "Bích")
_GIVEN_M = ("An", "Bình", "Cường", "Dũng", "Hải", "Hùng", "Hưng", "Khánh", "Long", "Minh", "Nam",
            "Phong", "Quân", "Sơn", "Tâm", "Thắng", "Tuấn", "Việt", "Vinh", "Đạt", "Hiếu", "Trung",
            "Kiên", "Lâm", "Toàn", "Huy", "Phúc", "Thành", "Đông", "Khoa")
_GIVEN_F = ("Anh", "Chi", "Dung", "Giang", "Hà", "Hạnh", "Hằng", "Hoa", "Hương", "Lan", "Linh",
            "Loan", "Mai", "Ngân", "Nhung", "Oanh", "Phương", "Quỳnh", "Thảo", "Trang", "Tuyết",
            "Vân", "Yến", "Huyền", "Thủy", "Nga", "Hiền", "Ly", "Ngọc", "Diệp")
_COMPANY_FORMS = ("Công ty TNHH", "Công ty TNHH", "Công ty cổ phần", "Công ty TNHH MTV")
_COMPANY_TRADES = ("Thương mại", "Xây dựng", "Dịch vụ", "Đầu tư", "Sản xuất",
                   "Thương mại và Dịch vụ", "Vận tải", "Nông sản", "Công nghệ")
_COMPANY_MARKS = ("Sơn Hà", "Hưng Thịnh", "Phát Đạt", "An Khang", "Minh Long", "Thành Công",
                  "Hoàng Gia", "Việt Tiến", "Đại Phát", "Trường Sơn", "Hà Thanh", "Tân Phú",
                  "Bảo Ngọc", "Kim Cương", "Thái Bình Dương", "Nam Việt", "Đông Á", "Phú Quý")


class _Names:
    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.family = tuple(_nfc(f) for f, _ in _FAMILY)
        acc, cum = 0.0, []
        for _, w in _FAMILY:
            acc += w
            cum.append(acc)
        self.family_cum = cum
        self.mid_m, self.mid_f = tuple(map(_nfc, _MIDDLE_M)), tuple(map(_nfc, _MIDDLE_F))
        self.giv_m, self.giv_f = tuple(map(_nfc, _GIVEN_M)), tuple(map(_nfc, _GIVEN_F))
        self.forms = tuple(map(_nfc, _COMPANY_FORMS))
        self.trades = tuple(map(_nfc, _COMPANY_TRADES))
        self.marks = tuple(map(_nfc, _COMPANY_MARKS))

    def person(self) -> str:
        rng = self.rng
        family = rng.choices(self.family, cum_weights=self.family_cum)[0]
        if rng.random() < 0.5:
            parts = [family, rng.choice(self.mid_m), rng.choice(self.giv_m)]
        else:
            parts = [family, rng.choice(self.mid_f), rng.choice(self.giv_f)]
        if rng.random() < 0.12:  # four-part names: "Nguyễn Thị Thu Hà"
            parts.insert(2, rng.choice(self.mid_f if parts[1] in self.mid_f else self.mid_m))
            if parts[1] == parts[2]:
                del parts[2]
        return " ".join(parts)

    def company(self) -> str:
        rng = self.rng
        return f"{rng.choice(self.forms)} {rng.choice(self.trades)} {rng.choice(self.marks)}"


# ----- helpers -----------------------------------------------------------------------------------


def _fmt(t: datetime | None) -> str:
    if t is None:
        return ""
    return f"{t.day:02d}/{t.month:02d}/{t.year:04d} {t.hour:02d}:{t.minute:02d}:{t.second:02d}"


def _months_back(d: date, months: int) -> date:
    y, m = divmod(d.year * 12 + d.month - 1 - months, 12)
    m += 1
    for day in (d.day, 30, 29, 28):
        try:
            return date(y, m, day)
        except ValueError:
            continue
    raise AssertionError("unreachable")  # pragma: no cover


def tet_breaks(cal: WorkCalendar, first: date, last: date) -> list[tuple[date, date]]:
    """Runs of at least six consecutive days off in January–March (the Tết break), first..last."""
    runs: list[tuple[date, date]] = []
    d = first - timedelta(days=20)
    stop = last + timedelta(days=20)
    run_start: date | None = None
    while d <= stop:
        if cal.is_working_day(d):
            if run_start is not None and (d - run_start).days >= 6 and run_start.month in (1, 2, 3):
                runs.append((run_start, d - timedelta(days=1)))
            run_start = None
        elif run_start is None:
            run_start = d
        d += timedelta(days=1)
    return runs


# Arrival volume by week relative to the Tết week (0 = the week holding the middle of the break).
_TET_WEEKS = {-3: 0.95, -2: 0.85, -1: 0.5, 0: 0.3, 1: 0.55, 2: 1.35, 3: 1.2, 4: 1.08}
_SEASON = {1: 1.04, 2: 1.0, 3: 1.02, 4: 0.98, 5: 1.0, 6: 1.04, 7: 1.06, 8: 1.03, 9: 0.98, 10: 0.98,
           11: 0.97, 12: 0.94}  # month -> volume
_WEEKDAY = (1.12, 1.04, 1.0, 0.97, 0.87, 0.6, 0.6)  # Mon..Sun (weekend: make-up days only)


def _cumulative(weights: Iterable[float]) -> list[float]:
    acc, cum = 0.0, []
    for wg in weights:
        acc += wg
        cum.append(acc)
    return cum


def _monday(d: date) -> date:
    return d - timedelta(days=d.weekday())


def _arrival_secs(rng: random.Random, online: bool) -> int:
    """Seconds after midnight of a reception on a working day."""
    r = rng.random()
    after, before = (0.035, 0.012) if online else (0.012, 0.006)
    if r < after:
        return 17 * 3600 + rng.randrange(95 * 60)  # 17:00–18:35
    if r < after + before:
        return 6 * 3600 + 15 * 60 + rng.randrange(45 * 60)  # 06:15–06:59
    r = rng.random()
    if r < 0.60:
        return 7 * 3600 + 15 * 60 + rng.randrange(255 * 60)  # 07:15–11:30
    if r < 0.63:
        return 11 * 3600 + 30 * 60 + rng.randrange(120 * 60)  # lunch desk 11:30–13:30
    return 13 * 3600 + 30 * 60 + rng.randrange(195 * 60)  # 13:30–16:45


# ----- the builder -------------------------------------------------------------------------------


def build_demo_files(out_dir: Path, *, today: date, seed: int = 2026, months: int = 13,
                     per_month: int = 4000, now: datetime | None = None) -> DemoFiles:
    """Write units.csv, procedures.csv and dossiers.csv of the demo province into `out_dir`.

    The export shows the province as it stands at `now` (default: `today` at `DEMO_NOW_TIME`):
    nothing received, finished or returned later is in it. Each dossier's whole life is drawn
    from a random stream seeded by (seed, the day it was received) and then cut at `now`, so a
    build on a later day shows the same dossiers (same code, procedure, applicant, dates) moved
    forward, plus the new days' arrivals: re-importing it updates what changed.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    if now is None:
        now = datetime.combine(today, DEMO_NOW_TIME)
    units = _units()
    procedures = _procedures()
    cal = WorkCalendar()

    units_path = out_dir / "units.csv"
    with units_path.open("w", encoding="utf-8-sig", newline="") as fh:
        w = csv.writer(fh, delimiter=";")
        w.writerow(UNITS_HEADER)
        for u in units:
            w.writerow((u.code, u.name, "" if u.code == ROOT_CODE else ROOT_CODE, u.level,
                        ",".join(u.emails)))

    procedures_path = out_dir / "procedures.csv"
    with procedures_path.open("w", encoding="utf-8-sig", newline="") as fh:
        w = csv.writer(fh, delimiter=";")
        w.writerow(PROCEDURES_HEADER)
        for p in procedures:
            w.writerow((p.code, p.name, p.field_code, p.field, p.limit_text))

    dossiers_path = out_dir / "dossiers.csv"
    sim = _Simulation(cal, units, procedures, seed=seed, per_month=per_month, now=now)
    start = _months_back(today, months)
    with dossiers_path.open("w", encoding="utf-8-sig", newline="") as fh:
        count = sim.write(csv.writer(fh, delimiter=";"), start, today)
    return DemoFiles(units_path, procedures_path, dossiers_path, count)


@dataclass
class _Pair:
    unit: _Unit
    proc: _Procedure
    p_online: float
    p_post: float
    p_late: float
    fee: bool
    business: bool


class _Draws:
    """A fixed block of uniforms for one dossier, consumed in order.

    Every dossier takes the same number of draws from its day's stream whatever happens to it,
    so what one dossier does never shifts the random numbers of the next."""

    SIZE = 24
    __slots__ = ("v", "i")

    def __init__(self, rng: random.Random) -> None:
        r = rng.random
        self.v = [r() for _ in range(self.SIZE)]
        self.i = 0

    def random(self) -> float:
        x = self.v[self.i]
        self.i += 1
        return x

    def uniform(self, a: float, b: float) -> float:
        return a + (b - a) * self.random()

    def randint(self, a: int, b: int) -> int:
        return a + min(int(self.random() * (b - a + 1)), b - a)


class _Simulation:
    COMMUNE_SHARE = 0.58  # share of dossiers received by communes and wards
    ONLINE_SHARE = 0.40
    WORKING_DAYS_PER_YEAR = 248
    SUPPLEMENT = 0.08
    WITHDRAWN, STOPPED = 0.01, 0.005
    APOLOGY = 0.5
    NOT_MOVED = 0.05  # open dossiers still "Đã tiếp nhận": never passed on to be processed
    NO_DUE, BEYOND, NO_FINISH = 0.003, 0.005, 0.002
    BAD_DATE_EVERY, FORMULA_EVERY = 40, 150  # days between rows with these problems

    def __init__(self, cal: WorkCalendar, units: Iterable[_Unit], procedures: Iterable[_Procedure],
                 *, seed: int, per_month: int, now: datetime) -> None:
        self.cal, self.seed, self.now = cal, seed, now
        self.base = per_month * 12 / self.WORKING_DAYS_PER_YEAR  # dossiers on an ordinary day
        units = tuple(units)
        by_key = {u.key: u for u in units}
        communes = [u for u in units if u.level == "xa"]
        pairs: list[_Pair] = []
        weights: list[float] = []
        commune_mass = dept_mass = 0.0
        for p in procedures:
            hosts = communes if p.owner is None else [by_key[p.owner]]
            for u in hosts:
                wgt = p.weight * u.size
                if p.owner is None:
                    commune_mass += wgt
                else:
                    dept_mass += wgt
                late = _BACKLOGS.get((u.key, p.code)) or min(0.35, u.late_rate * _LATE_FIELDS.get(p.field, 1.0))
                post = 0.01 if u.level == "xa" else 0.035
                pairs.append(_Pair(u, p, p.online, post, late, p.field in _FEE_FIELDS,
                                   p.field in _BUSINESS_FIELDS))
                weights.append(wgt)
        # scale department pairs so that communes get COMMUNE_SHARE of the volume
        k = commune_mass * (1 - self.COMMUNE_SHARE) / self.COMMUNE_SHARE / dept_mass
        weighted = [(pr, wg if pr.proc.owner is None else wg * k)
                    for pr, wg in zip(pairs, weights, strict=True)]
        total = sum(wg for _, wg in weighted)
        # calibrate online propensities to ONLINE_SHARE overall (capped at 95 %)
        scale = 1.0
        for _ in range(8):
            share = sum(wg * min(0.95, pr.proc.online * scale) for pr, wg in weighted)
            scale *= self.ONLINE_SHARE * total / share
        for pr in pairs:
            pr.p_online = min(0.95, pr.proc.online * scale)
        self.pairs = pairs
        self.cum = _cumulative(wg for _, wg in weighted)
        self.online_cum = _cumulative(wg * pr.p_online for pr, wg in weighted)

    # -- one day of arrivals, independent of the window and of `now` --

    def _anchor(self, d: date, every: int, offset: int) -> bool:
        """Is `d` the first working day on or after a multiple of `every` (shifted by offset)?"""
        o = d.toordinal() + offset
        a = date.fromordinal(o - o % every - offset)
        while not self.cal.is_working_day(a):
            a += timedelta(days=1)
        return a == d

    def _day(self, d: date, tet_factor: float) -> list[tuple[int, _Pair, int, str, str, _Draws]]:
        """(seconds after midnight, pair, channel, applicant, phone, draws), by reception time."""
        cal = self.cal
        rng = random.Random(f"tthc-demo:{self.seed}:{d.isoformat()}")
        names = _Names(rng)
        if cal.is_working_day(d):
            n = self.base * tet_factor * _WEEKDAY[d.weekday()] * _SEASON[d.month]
            n = max(0, round(n * rng.gauss(1.0, 0.07)))
            chosen = rng.choices(self.pairs, cum_weights=self.cum, k=n)
            saturday = False
        elif (d.weekday() == 5 and cal.is_working_day(d - timedelta(days=1))
              and cal.is_working_day(d + timedelta(days=2))):
            # a few online dossiers accepted on an ordinary Saturday morning
            n = rng.randrange(0, 3 + round(self.base * 0.02 * tet_factor))
            chosen = rng.choices(self.pairs, cum_weights=self.online_cum, k=n)
            saturday = True
        else:
            return []
        out = []
        for pair in chosen:
            if saturday:
                channel, secs = 2, 8 * 3600 + rng.randrange(210 * 60)
            else:
                r = rng.random()
                channel = 2 if r < pair.p_online else 3 if r < pair.p_online + pair.p_post else 1
                secs = _arrival_secs(rng, channel == 2)
            applicant = (names.company() if pair.business and rng.random() < 0.7
                         else names.person())
            phone = f"09{rng.randrange(10**8):08d}"
            out.append((secs, pair, channel, applicant, phone, _Draws(rng)))
        out.sort(key=lambda a: a[0])
        return out

    # -- the export --

    def write(self, w, start: date, today: date) -> int:
        cal, now = self.cal, self.now
        scan_from, scan_to = start - timedelta(days=60), today + timedelta(days=60)
        tet_week0 = [_monday(a + (b - a) / 2) for a, b in tet_breaks(cal, scan_from, scan_to)]
        w.writerow(DOSSIERS_HEADER)
        idx = 0
        d = start
        while d <= today:
            factor = 1.0
            for w0 in tet_week0:
                factor *= _TET_WEEKS.get((_monday(d) - w0).days // 7, 1.0)
            arrivals = self._day(d, factor)
            d_ord = d.toordinal()
            bad_first = arrivals and self._anchor(d, self.BAD_DATE_EVERY, 0)
            formula_last = arrivals and self._anchor(d, self.FORMULA_EVERY, 17)
            midnight = datetime(d.year, d.month, d.day)
            ymd = f"{d:%y%m%d}"
            seq: dict[str, int] = {}
            for i, (secs, pair, channel, applicant, phone, draws) in enumerate(arrivals):
                received = midnight + timedelta(seconds=secs)
                code = pair.unit.code
                seq[code] = seq.get(code, 0) + 1
                if received > now:
                    continue  # not received yet (today, after `now`)
                r = draws.random()
                problem = ("no_due" if r < self.NO_DUE else "beyond" if r < self.NO_DUE + self.BEYOND
                           else "no_finish" if r < self.NO_DUE + self.BEYOND + self.NO_FINISH
                           else None)
                row = self._row(pair, received, problem, draws)
                if bad_first and i == 0:
                    row[0] = BAD_DATES[(d_ord // self.BAD_DATE_EVERY) % len(BAD_DATES)].format(
                        y=d.year, m=f"{d.month:02d}", d=f"{d.day:02d}", hms=f"{received:%H:%M:%S}")
                if formula_last and i == len(arrivals) - 1:
                    applicant = FORMULA_NAMES[(d_ord // self.FORMULA_EVERY) % len(FORMULA_NAMES)]
                idx += 1
                p = pair.proc
                w.writerow((idx, f"{code}-{ymd}-{seq[code]:04d}", p.code, p.name, p.field,
                            pair.unit.name, applicant, phone, CHANNEL_WORDS[channel], *row))
            d += timedelta(days=1)
        return idx

    def _row(self, pair: _Pair, received: datetime, problem: str | None,
             v: _Draws) -> list[str]:
        """The cells from "Ngày tiếp nhận" to "Trạng thái": the dossier's life, cut at `now`."""
        cal, now = self.cal, self.now
        limit = pair.proc.limit
        legal_due = compute_due(cal, received, limit)
        start = cal.effective_start(received)
        span = cal.working_hours_between(start, legal_due)
        # every draw is taken up front, in a fixed order
        r_end, end_hours = v.random(), v.uniform(0.5, 40.0)
        r_supplement, ask_frac, back_hours = v.random(), v.uniform(0.1, 0.7), v.uniform(2.0, 80.0)
        beyond_days = v.randint(2, 5)
        r_late, r_kind, few_days = v.random(), v.random(), v.random()
        late_hours, stuck_days, clock_hours = v.uniform(0, 8), v.uniform(15, 120), v.uniform(0.2, 7.5)
        r_apology, before_frac, r_cover, cover_days, short_frac = (
            v.random(), v.random(), v.random(), v.randint(2, 5), v.random())
        u = v.random()
        r_pause, r_return, return_hours = v.random(), v.random(), v.uniform(0.05, 16.0)
        r_moved = v.random()  # the 23rd of the block's 24 draws

        due = legal_due
        requested = resubmitted = apology = new_due = finished = returned = None

        def cells(status: int) -> list[str]:
            hide = problem == "no_finish" and status in (9, 10)
            return [_fmt(received), "" if problem == "no_due" else _fmt(due), _fmt(requested),
                    _fmt(resubmitted), _fmt(apology), _fmt(new_due),
                    "" if hide else _fmt(finished), "" if hide else _fmt(returned),
                    STATUS_WORDS[status]]

        def in_progress() -> list[str]:
            if r_pause < (0.18 if pair.fee else 0.015):
                return cells(6)
            return cells(2 if r_moved < self.NOT_MOVED else 4)  # 2: received, not yet passed on (stuck)

        plain = problem not in ("beyond", "no_finish")
        # withdrawn by the applicant (7) or stopped (8)
        if plain and r_end < self.WITHDRAWN + self.STOPPED:
            ended = cal.add_working_hours(start, min(end_hours, max(1.0, span)))
            if ended > now:
                return in_progress()
            finished = ended
            return cells(7 if r_end < self.WITHDRAWN else 8)

        # supplement requested (Mẫu 02): the clock restarts from the resubmission
        if plain and r_supplement < self.SUPPLEMENT:
            asked = cal.add_working_hours(start, ask_frac * max(span, 1.0))
            if asked > now:
                return in_progress()
            requested = asked
            back = cal.add_working_hours(asked, back_hours)
            if back > now:
                return cells(5)
            resubmitted = back
            due = compute_due(cal, received, limit, resubmitted_at=back)
            start = cal.effective_start(back)
            span = cal.working_hours_between(start, due)

        if problem == "beyond":  # the desk promised more than the law allows
            due = cal.add_working_hours(legal_due, 8 * beyond_days)
            span = cal.working_hours_between(start, due)

        if problem != "no_finish" and r_late < pair.p_late:
            if r_kind < 0.15:  # late by the clock only, same date
                excess = clock_hours
            elif r_kind < 0.7:  # a few working days
                days = 1 + min(int(-3 * math.log(1.0 - few_days)), 14)
                excess = 8 * days + late_hours
            else:  # stuck for weeks or months
                excess = 8 * stuck_days
            finished = cal.add_working_hours(due, excess)
            if r_apology < self.APOLOGY and span > 1.0:  # Mẫu 04, before the due moment
                before = 0.5 + before_frac * (min(16.0, span * 0.8) - 0.5)
                said = cal.add_working_hours(due, -before)
                if start < said <= now:
                    apology = said
                    days_late = int(excess // 8) + 1
                    if r_cover < 0.7 and days_late <= 15:
                        days = max(days_late, cover_days)
                    else:
                        days = 1 + int(short_frac * min(5, max(1, days_late - 1)))
                    new_due = cal.add_working_hours(due, 8 * days)
        else:  # on time; most offices finish in the second half of the time allowed
            u = u ** (0.8 if limit.same_day else 0.45)
            finished = cal.add_working_hours(start, max(u * span, 0.05)) if span > 0 else due
            if finished > due:
                finished = due

        if finished > now:
            finished = None
            return in_progress()
        if r_return < 0.88:
            handed = cal.add_working_hours(finished, return_hours)
            if handed <= now:
                returned = handed
                return cells(10)
        return cells(9)
