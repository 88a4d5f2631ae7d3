"""The period report as an XLSX sheet in the layout of Biểu 06 / II.06a (Thông tư 01/2020/TT-VPCP).

A title block (province, form code, report name, period, the moment the figures are taken at),
three merged header rows (group, "Tổng số" / "Trong đó", detail), a row of column numbers
(1) … (14), one row per unit, field, procedure, channel or level, a bold total row, then place and
date and the two signatures. Printed on A4 landscape at a fixed scale with the header rows repeated
on every page; page breaks are placed here so the total row never starts a page alone and the
signature block stays with it (tests/tracker/test_report_print.py prints it with LibreOffice).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

from openpyxl import Workbook
from openpyxl.styles import Alignment, Border, Font, Side
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.pagebreak import Break
from openpyxl.worksheet.worksheet import Worksheet

from tracker.config import Settings
from tracker.export import safe_cell
from tracker.files import open_private
from tracker.reports import Report, ReportRow

REPORT_NAME = "TÌNH HÌNH, KẾT QUẢ GIẢI QUYẾT THỦ TỤC HÀNH CHÍNH"
FORM_CODE = "Biểu số 06/VPCP/KSTT"
NAME_HEADERS = {"unit": "Đơn vị", "field": "Lĩnh vực", "procedure": "Thủ tục hành chính",
                "channel": "Kênh tiếp nhận", "level": "Cấp"}
# Columns C.. : (ReportRow attribute, header rows 2-3 label). The groups are merged above them.
VALUE_COLUMNS = ("total", "carried_over", "received_online", "received_offline", "finished", "early", "on_time",
                 "late", "unfinished", "within", "overdue", "on_time_rate")
GROUPS = (  # (first column, last column, group label, detail labels after "Tổng số")
    (3, 6, "Số hồ sơ nhận giải quyết",
     ("Kỳ trước chuyển qua", "Mới tiếp nhận trực tuyến", "Mới tiếp nhận trực tiếp và dịch vụ bưu chính")),
    (7, 10, "Số hồ sơ đã giải quyết", ("Trước hạn", "Đúng hạn", "Quá hạn")),
    (11, 13, "Số hồ sơ đang giải quyết", ("Trong hạn", "Quá hạn")),
)
LAST_COL = 14  # N: Tỷ lệ đúng hạn
HEADER_TOP = 7  # rows 7-9: headers; 10: column numbers; 11…: data
FIRST_DATA = HEADER_TOP + 4

_THIN = Side(style="thin")
_BOX = Border(left=_THIN, right=_THIN, top=_THIN, bottom=_THIN)
_CENTER = Alignment(horizontal="center", vertical="center", wrap_text=True)


def _merge(ws: Worksheet, r1: int, c1: int, r2: int, c2: int, value: str, *, bold: bool = False,
           size: int = 11, italic: bool = False, align: Alignment = _CENTER) -> None:
    if (r1, c1) != (r2, c2):
        ws.merge_cells(start_row=r1, start_column=c1, end_row=r2, end_column=c2)
    cell = ws.cell(r1, c1, safe_cell(value))  # the province, the reporting unit: names from settings and data
    cell.font = Font(bold=bold, size=size, italic=italic)
    cell.alignment = align


def _headers(ws: Worksheet, name_header: str) -> None:
    top = HEADER_TOP
    _merge(ws, top, 1, top + 2, 1, "STT", bold=True)
    _merge(ws, top, 2, top + 2, 2, name_header, bold=True)
    for first, last, label, details in GROUPS:
        _merge(ws, top, first, top, last, label, bold=True)
        _merge(ws, top + 1, first, top + 2, first, "Tổng số", bold=True)
        _merge(ws, top + 1, first + 1, top + 1, last, "Trong đó", bold=True)
        for i, text in enumerate(details, start=first + 1):
            _merge(ws, top + 2, i, top + 2, i, text, bold=True)
    _merge(ws, top, LAST_COL, top + 2, LAST_COL, "Tỷ lệ đúng hạn (%)", bold=True)
    for col in range(1, LAST_COL + 1):
        _merge(ws, top + 3, col, top + 3, col, f"({col})", italic=True)
        for row in range(top, top + 4):
            ws.cell(row, col).border = _BOX


def _data_row(ws: Worksheet, r: int, number: int | str, row: ReportRow, *, bold: bool = False) -> None:
    ws.cell(r, 1, number).alignment = Alignment(horizontal="center")
    name = ws.cell(r, 2, safe_cell(row.name))
    name.alignment = Alignment(indent=row.depth, wrap_text=True, vertical="center")
    for col, attr in enumerate(VALUE_COLUMNS, start=3):
        value = getattr(row, attr)
        cell = ws.cell(r, col, None if value is None else float(value) if attr == "on_time_rate" else value)
        cell.number_format = "0.0" if attr == "on_time_rate" else "#,##0"
    for col in range(1, LAST_COL + 1):
        ws.cell(r, col).border = _BOX
        if bold:
            ws.cell(r, col).font = Font(bold=True)


@dataclass(frozen=True)
class FormText:
    """What the official form says around the table, from the settings (report.*)."""

    province: str = ""
    agency: str = ""
    place: str = ""
    signer_title: str = "THỦ TRƯỞNG ĐƠN VỊ"
    preparer_title: str = "NGƯỜI LẬP BIỂU"
    signed_on: date | None = None  # the date above the signatures; None: dots to fill in

    @classmethod
    def from_settings(cls, settings: Settings, signed_on: date | None = None) -> FormText:
        return cls(province=settings.get("report.province"), agency=settings.get("report.agency"),
                   place=settings.get("report.place"), signer_title=settings.get("report.signer_title"),
                   preparer_title=settings.get("report.preparer_title"), signed_on=signed_on)


# Printing: A4 landscape at a fixed scale, fixed row heights, and page breaks placed here, so the
# total row never starts a page alone and the signature block stays on one page with it.
SCALE = 75  # percent; the 14 columns take about 720 of the 784 points of an A4 landscape line
PAGE_HEIGHT = 595.0  # points, A4 landscape
MARGIN_TOP, MARGIN_BOTTOM = 0.5, 0.6  # inches
ROW_H = 15.0  # points, one line of data
NAME_CHARS = 34  # column B's width in characters; a longer name wraps
VALUE_CHARS = 9  # columns C-N
TITLE_HEIGHTS = (18.0, 18.0, 24.0, 18.0, 16.0, 16.0)  # rows 1-6
HEADER_HEIGHTS = (30.0, 30.0, 78.0, 15.0)  # rows 7-10, repeated on every page
SIGN_ROWS = 8  # after the total row: a gap, place and date, the titles, "(ký …)", room to sign
KEEP_WITH_TOTAL = 2  # data rows that go with the total row to a new page


def page_capacity() -> float:
    """Sheet points one printed page holds (5% kept back for the spreadsheet's own rounding)."""
    usable = PAGE_HEIGHT - 72 * (MARGIN_TOP + MARGIN_BOTTOM)
    return usable / (SCALE / 100) * 0.95


def _row_height(row: ReportRow) -> float:
    chars = len(row.name) + 2 * row.depth
    return ROW_H * max(1, -(-chars // NAME_CHARS))


def page_breaks(heights: list[float]) -> list[int]:
    """Indexes of the data rows that start a new page, given each data row's height: as many rows a
    page as fit under the repeated headers; the last page holds at least KEEP_WITH_TOTAL rows before
    the total row, and they move to a new page with it when the total row and the signature block
    would not fit after them."""
    cap, header = page_capacity(), sum(HEADER_HEIGHTS)
    used, breaks, first_on_page = sum(TITLE_HEIGHTS) + header, [], 0
    for i, h in enumerate(heights):
        if used + h > cap and i > first_on_page:
            breaks.append(i)
            used, first_on_page = header, i
        used += h
    tail = ROW_H * (1 + SIGN_ROWS)
    start = len(heights) - KEEP_WITH_TOTAL
    if breaks and breaks[-1] > start:  # the last page would hold fewer rows than go with the total
        breaks[-1] = max(start, (breaks[-2] if len(breaks) > 1 else 0) + 1)
    elif used + tail > cap and start > first_on_page:  # the total and signatures do not fit after the rows
        breaks.append(start)
    return breaks


def build_sheet(ws: Worksheet, report: Report, *, province: str = "", reporting_unit: str = "",
                form_code: str = FORM_CODE, form: FormText | None = None) -> None:
    """Lay the report out on a worksheet, as the official form prints on A4."""
    form = form or FormText(province=province)
    ws.title = "Biểu 06"
    left = Alignment(horizontal="left", vertical="center")
    _merge(ws, 1, 1, 1, 6, (form.province or province).upper(), bold=True, align=left)
    _merge(ws, 1, 10, 1, LAST_COL, form_code, italic=True, align=Alignment(horizontal="right"))
    if form.agency:
        _merge(ws, 2, 1, 2, 6, form.agency.upper(), bold=True, align=left)
        ws.cell(2, 1).font = Font(bold=True, underline="single")
    elif reporting_unit:
        _merge(ws, 2, 1, 2, 6, f"Đơn vị báo cáo: {reporting_unit}", align=left)
    _merge(ws, 3, 1, 3, LAST_COL, REPORT_NAME, bold=True, size=14)
    _merge(ws, 4, 1, 4, LAST_COL, f"Kỳ báo cáo: từ {report.start:%d/%m/%Y} đến {report.end:%d/%m/%Y}", bold=True)
    _merge(ws, 5, 1, 5, LAST_COL, f"(Số liệu tính đến {report.as_of:%H:%M:%S} ngày {report.as_of:%d/%m/%Y}; "
                                  f"so sánh hạn theo {'ngày' if report.comparison == 'date' else 'thời điểm'})",
           italic=True)
    if form.agency and reporting_unit:
        _merge(ws, 6, 1, 6, LAST_COL, f"Đơn vị: {reporting_unit}", italic=True)
    _headers(ws, NAME_HEADERS.get(report.by, "Nhóm"))
    r = FIRST_DATA
    heights = []
    for i, row in enumerate(report.rows, start=1):
        _data_row(ws, r, i, row)
        heights.append(_row_height(row))
        ws.row_dimensions[r].height = heights[-1]
        r += 1
    total = r
    _data_row(ws, total, "", report.total, bold=True)
    ws.cell(total, 2).value = "Tổng cộng"
    ws.row_dimensions[total].height = ROW_H
    for b in page_breaks(heights):
        ws.row_breaks.append(Break(id=FIRST_DATA + b - 1))  # a break after that row

    sign = total + 2
    d = form.signed_on
    when = (f"ngày {d.day:02d} tháng {d.month:02d} năm {d.year}" if d else "ngày ..... tháng ..... năm .......")
    _merge(ws, sign, 9, sign, LAST_COL, f"{form.place or '.......'}, {when}", italic=True)
    _merge(ws, sign + 1, 1, sign + 1, 6, form.preparer_title.upper(), bold=True)
    _merge(ws, sign + 1, 9, sign + 1, LAST_COL, form.signer_title.upper(), bold=True)
    _merge(ws, sign + 2, 1, sign + 2, 6, "(Ký, ghi rõ họ tên)", italic=True)
    _merge(ws, sign + 2, 9, sign + 2, LAST_COL, "(Ký tên, đóng dấu)", italic=True)
    last = total + SIGN_ROWS
    for row in range(total + 1, last + 1):
        ws.row_dimensions[row].height = ROW_H
    for row, h in enumerate((*TITLE_HEIGHTS, *HEADER_HEIGHTS), start=1):
        ws.row_dimensions[row].height = h

    ws.column_dimensions["A"].width = 6
    ws.column_dimensions["B"].width = NAME_CHARS
    for col in range(3, LAST_COL + 1):
        ws.column_dimensions[get_column_letter(col)].width = VALUE_CHARS
    ws.freeze_panes = ws.cell(FIRST_DATA, 3)
    ps = ws.page_setup
    ps.orientation = "landscape"
    ps.paperSize = ws.PAPERSIZE_A4
    ps.scale = SCALE
    ws.sheet_properties.pageSetUpPr.fitToPage = False
    ws.print_title_rows = f"{HEADER_TOP}:{HEADER_TOP + 3}"
    ws.print_area = f"A1:{get_column_letter(LAST_COL)}{last}"
    ws.print_options.horizontalCentered = True
    ws.page_margins.left = ws.page_margins.right = 0.4
    ws.page_margins.top, ws.page_margins.bottom = MARGIN_TOP, MARGIN_BOTTOM
    ws.page_margins.header, ws.page_margins.footer = 0.2, 0.25
    ws.oddFooter.center.text = "Trang &P/&N"


def write_report_xlsx(report: Report, path: str | Path, *, province: str = "", reporting_unit: str = "",
                      form_code: str = FORM_CODE, form: FormText | None = None) -> Path:
    """Write the report as an .xlsx file; returns its path."""
    wb = Workbook()
    build_sheet(wb.active, report, province=province, reporting_unit=reporting_unit, form_code=form_code, form=form)
    wb.properties.title = f"{REPORT_NAME} {report.start:%d/%m/%Y}-{report.end:%d/%m/%Y}"
    wb.properties.creator = "tthc"
    path = Path(path)
    with open_private(path, "wb") as fh:
        wb.save(fh)
    return path
