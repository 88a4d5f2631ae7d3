"""The period report as an XLSX sheet in the layout of Biểu 06 / II.06a (Thông tư 01/2020/TT-VPCP).

A title block (province, form code, report name, period, the moment the figures are taken at),
three merged header rows (group, "Tổng số" / "Trong đó", detail), a row of column numbers
(1) … (14), one row per unit, field, procedure, channel or level, and a bold total row. Printed on
A4 landscape, fitted to the page width, header rows repeated on every page.
"""

from __future__ import annotations

from pathlib import Path

from openpyxl import Workbook
from openpyxl.styles import Alignment, Border, Font, Side
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

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


def build_sheet(ws: Worksheet, report: Report, *, province: str, reporting_unit: str = "",
                form_code: str = FORM_CODE) -> None:
    """Lay the report out on a worksheet."""
    ws.title = "Biểu 06"
    left = Alignment(horizontal="left", vertical="center")
    _merge(ws, 1, 1, 1, 6, province.upper(), bold=True, align=left)
    _merge(ws, 1, 10, 1, LAST_COL, form_code, italic=True, align=Alignment(horizontal="right"))
    if reporting_unit:
        _merge(ws, 2, 1, 2, 6, f"Đơn vị báo cáo: {reporting_unit}", align=left)
    _merge(ws, 3, 1, 3, LAST_COL, REPORT_NAME, bold=True, size=14)
    _merge(ws, 4, 1, 4, LAST_COL, f"Kỳ báo cáo: từ {report.start:%d/%m/%Y} đến {report.end:%d/%m/%Y}", bold=True)
    _merge(ws, 5, 1, 5, LAST_COL, f"(Số liệu tính đến {report.as_of:%H:%M:%S} ngày {report.as_of:%d/%m/%Y}; "
                                  f"so sánh hạn theo {'ngày' if report.comparison == 'date' else 'thời điểm'})",
           italic=True)
    _headers(ws, NAME_HEADERS.get(report.by, "Nhóm"))
    r = FIRST_DATA
    for i, row in enumerate(report.rows, start=1):
        _data_row(ws, r, i, row)
        r += 1
    _data_row(ws, r, "", report.total, bold=True)
    ws.cell(r, 2).value = "Tổng cộng"

    r += 2
    _merge(ws, r, 10, r, LAST_COL, "......., ngày ..... tháng ..... năm .......", italic=True)
    _merge(ws, r + 1, 1, r + 1, 6, "NGƯỜI LẬP BIỂU", bold=True)
    _merge(ws, r + 1, 10, r + 1, LAST_COL, "THỦ TRƯỞNG ĐƠN VỊ", bold=True)

    ws.column_dimensions["A"].width = 6
    ws.column_dimensions["B"].width = 38
    for col in range(3, LAST_COL + 1):
        ws.column_dimensions[get_column_letter(col)].width = 12
    ws.row_dimensions[HEADER_TOP + 2].height = 60
    ws.freeze_panes = ws.cell(FIRST_DATA, 3)
    ps = ws.page_setup
    ps.orientation = "landscape"
    ps.paperSize = ws.PAPERSIZE_A4
    ps.fitToWidth = 1
    ps.fitToHeight = 0  # as many pages tall as needed
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.print_title_rows = f"{HEADER_TOP}:{HEADER_TOP + 3}"
    ws.print_area = f"A1:{get_column_letter(LAST_COL)}{r + 1}"
    ws.print_options.horizontalCentered = True
    ws.page_margins.left = ws.page_margins.right = 0.4
    ws.oddFooter.center.text = "Trang &P/&N"


def write_report_xlsx(report: Report, path: str | Path, *, province: str, reporting_unit: str = "",
                      form_code: str = FORM_CODE) -> Path:
    """Write the report as an .xlsx file; returns its path."""
    wb = Workbook()
    build_sheet(wb.active, report, province=province, reporting_unit=reporting_unit, form_code=form_code)
    wb.properties.title = f"{REPORT_NAME} {report.start:%d/%m/%Y}-{report.end:%d/%m/%Y}"
    wb.properties.creator = "tthc"
    path = Path(path)
    with open_private(path, "wb") as fh:
        wb.save(fh)
    return path
