"""Canonical dossier fields and the header labels that name them in real exports.

Labels are compared folded (tracker.ingest.text.fold), so one alias covers its accented,
upper-case, snake_case and camelCase spellings.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from tracker.ingest.text import fold

DATE_FIELDS = ("submitted_at", "received_at", "due_at", "supplement_requested_at", "resubmitted_at",
               "apology_at", "rescheduled_due_at", "finished_at", "returned_at")

ALIASES: dict[str, tuple[str, ...]] = {
    "code": ("Mã hồ sơ", "Số hồ sơ", "Mã HS", "MaHoSo", "code", "dossierCode"),
    "procedure_code": ("Mã TTHC", "Mã thủ tục", "MaTTHC", "Mã thủ tục hành chính", "procedureCode"),
    "procedure_name": ("Tên thủ tục hành chính", "Tên thủ tục", "Tên TTHC", "TenTTHC", "Thủ tục",
                       "Thủ tục hành chính", "procedureName"),
    "field_code": ("Mã lĩnh vực", "MaLinhVuc", "sectorCode", "procedure.sector.code"),
    "field_name": ("Lĩnh vực", "Tên lĩnh vực", "TenLinhVuc", "sector", "sectorName", "procedure.sector",
                   "procedure.sector.name"),
    "unit_code": ("Mã đơn vị", "MaDonVi", "agencyCode", "Mã cơ quan", "MaCoQuan"),
    "unit_name": ("Đơn vị tiếp nhận", "Đơn vị", "Cơ quan chủ trì giải quyết", "Đơn vị xử lý",
                  "DonViXuLy", "Cơ quan giải quyết", "Tên đơn vị", "agency", "agencyName",
                  "Cơ quan tiếp nhận", "Cơ quan thực hiện", "Đơn vị thực hiện", "Cơ quan chủ trì"),
    "applicant_name": ("Chủ hồ sơ", "Tên chủ hồ sơ", "Người nộp", "ChuHoSo", "applicant",
                       "applicantName", "Người nộp hồ sơ", "Tên người nộp", "Người đứng tên",
                       "applicant.data.fullname", "applicantFullname"),
    "applicant_phone": ("Số điện thoại", "Điện thoại", "SĐT", "SoDienThoai", "phone", "phoneNumber",
                        "Điện thoại liên hệ", "Số ĐT", "applicant.data.phoneNumber", "applicantPhoneNumber"),
    "channel": ("Kênh nộp", "Kênh", "Kênh thực hiện", "KenhThucHien", "Hình thức nộp", "Hình thức",
                "HinhThuc", "applyMethod", "channel", "Kênh tiếp nhận", "Hình thức tiếp nhận",
                "Hình thức nộp hồ sơ"),
    "submitted_at": ("Ngày nộp hồ sơ", "Ngày nộp", "NgayNopHoSo", "appliedDate"),
    "received_at": ("Ngày tiếp nhận", "Ngày nhận", "NgayTiepNhan", "acceptedDate", "receivedAt",
                    "Ngày nhận hồ sơ", "Ngày giờ tiếp nhận", "Thời gian tiếp nhận"),
    "due_at": ("Ngày hẹn trả", "Ngày hẹn trả kết quả", "NgayHenTra", "appointmentDate", "Ngày hẹn",
               "Hẹn trả", "Ngày hẹn trả KQ"),
    "supplement_requested_at": ("Ngày yêu cầu bổ sung", "NgayYeuCauBoSung",
                                "DanhSachHoSoBoSung.NgayBoSung"),  # portal: the last supplement's request
    "resubmitted_at": ("Ngày bổ sung", "Ngày tiếp nhận bổ sung", "NgayTiepNhanBoSung",
                       "DanhSachHoSoBoSung.NgayTiepNhanBoSung"),
    "apology_at": ("Ngày xin lỗi", "Ngày phiếu xin lỗi", "NgayXinLoi"),
    "rescheduled_due_at": ("Ngày hẹn trả mới", "Ngày hẹn lại", "NgayHenTraMoi"),
    "finished_at": ("Ngày kết thúc xử lý", "Ngày có kết quả", "Ngày kết thúc", "NgayKetThucXuLy",
                    "completedDate", "Ngày hoàn thành", "Ngày xử lý xong"),
    "returned_at": ("Ngày trả kết quả", "Ngày trả", "NgayTra", "returnedDate", "Ngày trả KQ"),
    "status": ("Trạng thái", "Trạng thái hồ sơ", "TrangThaiHoSo", "dossierStatus", "status",
               "Tình trạng", "Tình trạng hồ sơ", "Trạng thái xử lý"),
    # every supplement pair, as one JSON cell (tracker.ingest.supplements)
    "supplements": ("DanhSachHoSoBoSung", "Danh sách bổ sung"),
    # the product's own export: when the product first saw the dossier ended (a backup restores it)
    "first_seen_finished_at": (),
    "limit_text": ("Thời hạn giải quyết", "Thời hạn", "ThoiHanGiaiQuyet", "Thời hạn xử lý",
                   "Thời gian giải quyết", "processingTime"),
    "_ignored": ("STT", "Số thứ tự", "Người tiếp nhận", "Cán bộ tiếp nhận", "Người xử lý", "Địa chỉ",
                 "Email", "Ghi chú", "GhiChu", "Trích yếu", "TrichYeuHoSo", "LoaiDoiTuong", "MaDoiTuong",
                 "NgayTuChoi", "PhongBanXuLy", "NguoiXuLy", "ThoiDiemXuLy", "processingTimeUnit", "dueDate"),
}
# the product's own export ("tthc-csv") labels its columns with the canonical names themselves
for _field in list(ALIASES):
    if not _field.startswith("_"):
        ALIASES[_field] = (_field, *ALIASES[_field])
REQUIRED = ("code", "received_at", "status")
REQUIRED_ONE_OF = (("unit_name", "unit_code"),)


def parse_mapping(value: object) -> dict[str, str]:
    """{'Source label': 'field'} (the `import.mapping` setting, a --mapping file), each field checked to
    be a dossier field; a ValueError names the label and the field."""
    if not isinstance(value, dict):
        raise ValueError(f"'{value}' is not a table of 'Source label' = 'field'")
    for label, field in value.items():
        if field not in ALIASES or field == "_ignored":
            raise ValueError(f"'{label}' = '{field}': '{field}' is not a dossier field "
                             f"(one of {', '.join(f for f in ALIASES if f != '_ignored')})")
    return dict(value)


def _by_key() -> dict[str, str]:
    by_key: dict[str, str] = {}
    for field, labels in ALIASES.items():
        for label in labels:
            key = fold(label)
            if by_key.setdefault(key, field) != field:  # one spelling, two meanings: a table bug
                raise RuntimeError(f"header alias '{label}' names both {by_key[key]} and {field}")
    return by_key


_BY_KEY = _by_key()


class HeaderError(ValueError):
    """No recognisable header, or required columns missing: the whole file is rejected."""


@dataclass(frozen=True)
class ColumnMap:
    """Which column index holds which canonical field."""

    fields: dict[str, int]
    labels: list[str]

    def label(self, field: str) -> str:
        return self.labels[self.fields[field]]


def field_for(label: str, overrides: Mapping[str, str] | None = None) -> str | None:
    key = fold(label)
    if overrides:
        for source_label, field in overrides.items():
            if fold(source_label) == key:
                return field
    return _BY_KEY.get(key)


def match_header(cells: Sequence[str], overrides: Mapping[str, str] | None = None) -> ColumnMap:
    fields: dict[str, int] = {}
    for i, cell in enumerate(cells):
        field = field_for(cell, overrides)
        if field and field != "_ignored" and field not in fields:
            fields[field] = i
    return ColumnMap(fields, list(cells))


def score(cells: Sequence[str]) -> int:
    return sum(1 for c in cells if c and fold(c) in _BY_KEY)


def check_required(cmap: ColumnMap, where: str) -> None:
    missing = [f for f in REQUIRED if f not in cmap.fields]
    missing += ["/".join(group) for group in REQUIRED_ONE_OF if not any(f in cmap.fields for f in group)]
    if missing:
        found = ", ".join(f"'{c}'" for c in cmap.labels if c) or "nothing"
        raise HeaderError(f"{where}: missing required columns {', '.join(missing)}; found {found}")
