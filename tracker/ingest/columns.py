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
    "field_code": ("Mã lĩnh vực", "MaLinhVuc", "sectorCode"),
    "field_name": ("Lĩnh vực", "Tên lĩnh vực", "TenLinhVuc", "sector", "sectorName"),
    "unit_code": ("Mã đơn vị", "MaDonVi", "agencyCode"),
    "unit_name": ("Đơn vị tiếp nhận", "Đơn vị", "Cơ quan chủ trì giải quyết", "Đơn vị xử lý",
                  "DonViXuLy", "Cơ quan giải quyết", "Tên đơn vị", "agency", "agencyName"),
    "applicant_name": ("Chủ hồ sơ", "Tên chủ hồ sơ", "Người nộp", "ChuHoSo", "applicant",
                       "applicantName"),
    "applicant_phone": ("Số điện thoại", "Điện thoại", "SĐT", "SoDienThoai", "phone", "phoneNumber"),
    "channel": ("Kênh nộp", "Kênh", "Kênh thực hiện", "KenhThucHien", "Hình thức nộp", "Hình thức",
                "HinhThuc", "applyMethod", "channel"),
    "submitted_at": ("Ngày nộp hồ sơ", "Ngày nộp", "NgayNopHoSo", "appliedDate"),
    "received_at": ("Ngày tiếp nhận", "Ngày nhận", "NgayTiepNhan", "acceptedDate", "receivedAt"),
    "due_at": ("Ngày hẹn trả", "Ngày hẹn trả kết quả", "NgayHenTra", "appointmentDate"),
    "supplement_requested_at": ("Ngày yêu cầu bổ sung", "NgayYeuCauBoSung"),
    "resubmitted_at": ("Ngày bổ sung", "Ngày tiếp nhận bổ sung", "NgayTiepNhanBoSung"),
    "apology_at": ("Ngày xin lỗi", "Ngày phiếu xin lỗi", "NgayXinLoi"),
    "rescheduled_due_at": ("Ngày hẹn trả mới", "Ngày hẹn lại", "NgayHenTraMoi"),
    "finished_at": ("Ngày kết thúc xử lý", "Ngày có kết quả", "Ngày kết thúc", "NgayKetThucXuLy",
                    "completedDate"),
    "returned_at": ("Ngày trả kết quả", "Ngày trả", "NgayTra", "returnedDate"),
    "status": ("Trạng thái", "Trạng thái hồ sơ", "TrangThaiHoSo", "dossierStatus", "status"),
    "limit_text": ("Thời hạn giải quyết", "Thời hạn", "ThoiHanGiaiQuyet"),
    "_ignored": ("STT", "Số thứ tự"),
}
REQUIRED = ("code", "received_at", "status")
REQUIRED_ONE_OF = (("unit_name", "unit_code"),)

_BY_KEY = {fold(label): field for field, labels in ALIASES.items() for label in labels}


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
