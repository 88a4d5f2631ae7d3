"""The Biểu 06 / II.06a sheet: written, opened again with openpyxl, checked cell by cell."""

from __future__ import annotations

from datetime import date, datetime

import pytest
from openpyxl import load_workbook

from tracker.report_xlsx import REPORT_NAME, write_report_xlsx
from tracker.reports import Report, ReportRow

STP = ReportRow(key="T.STP", name="Sở Tư pháp", carried_over=4, received_online=3, received_offline=7, early=2,
                on_time=5, late=2, within=4, overdue=1, level="tinh", depth=1)
XA = ReportRow(key="T.XA", name="=UBND xã An Bình", received_online=1, received_offline=1, on_time=1, within=1,
               level="xa", depth=1)
EMPTY = ReportRow(key="T.XB", name="UBND phường Bình Minh", received_offline=1, within=1, level="xa", depth=1)


def _report(rows: list[ReportRow], as_of: datetime = datetime(2026, 3, 31, 23, 59, 59)) -> Report:
    total = ReportRow(key="total", name="Tổng cộng")
    for r in rows:
        total.add(r)
    return Report(date(2026, 3, 1), date(2026, 3, 31), as_of, "unit", "date", rows, total)


@pytest.fixture
def sheet(tmp_path):
    path = write_report_xlsx(_report([STP, XA, EMPTY]), tmp_path / "b06.xlsx", province="Tỉnh Sơn Hà",
                             reporting_unit="Văn phòng UBND tỉnh")
    wb = load_workbook(path)
    yield wb.active
    wb.close()


def test_title_block(sheet):
    assert sheet.title == "Biểu 06"
    assert sheet["A1"].value == "TỈNH SƠN HÀ" and sheet["A1"].font.b
    assert sheet["J1"].value == "Biểu số 06/VPCP/KSTT"
    assert sheet["A2"].value == "Đơn vị báo cáo: Văn phòng UBND tỉnh"
    assert sheet["A3"].value == REPORT_NAME == "TÌNH HÌNH, KẾT QUẢ GIẢI QUYẾT THỦ TỤC HÀNH CHÍNH"
    assert sheet["A3"].font.b and sheet["A3"].alignment.horizontal == "center"
    assert sheet["A4"].value == "Kỳ báo cáo: từ 01/03/2026 đến 31/03/2026"
    assert sheet["A5"].value.startswith("(Số liệu tính đến 23:59:59 ngày 31/03/2026")


def test_merged_two_level_headers_and_column_numbers(sheet):
    merged = {str(r) for r in sheet.merged_cells.ranges}
    assert {"A1:F1", "J1:N1", "A3:N3", "A4:N4", "A5:N5",
            "A7:A9", "B7:B9", "C7:F7", "C8:C9", "D8:F8", "G7:J7", "G8:G9", "H8:J8", "K7:M7", "K8:K9", "L8:M8",
            "N7:N9"} <= merged
    expect = {
        "A7": "STT", "B7": "Đơn vị", "C7": "Số hồ sơ nhận giải quyết", "G7": "Số hồ sơ đã giải quyết",
        "K7": "Số hồ sơ đang giải quyết", "N7": "Tỷ lệ đúng hạn (%)",
        "C8": "Tổng số", "D8": "Trong đó", "G8": "Tổng số", "H8": "Trong đó", "K8": "Tổng số", "L8": "Trong đó",
        "D9": "Kỳ trước chuyển qua", "E9": "Mới tiếp nhận trực tuyến",
        "F9": "Mới tiếp nhận trực tiếp và dịch vụ bưu chính", "H9": "Trước hạn", "I9": "Đúng hạn",
        "J9": "Quá hạn", "L9": "Trong hạn", "M9": "Quá hạn",
    }
    assert {k: sheet[k].value for k in expect} == expect
    assert [c.value for c in sheet[10]][:14] == [f"({i})" for i in range(1, 15)]


def test_one_row_per_group_numbers_and_a_bold_total(sheet):
    values = [[c.value for c in row] for row in sheet.iter_rows(min_row=11, max_row=14, max_col=14)]
    assert values == [
        [1, "Sở Tư pháp", 14, 4, 3, 7, 9, 2, 5, 2, 5, 4, 1, 77.8],
        [2, "'=UBND xã An Bình", 2, 0, 1, 1, 1, 0, 1, 0, 1, 1, 0, 100.0],  # text that looks like a formula
        [3, "UBND phường Bình Minh", 1, 0, 0, 1, 0, 0, 0, 0, 1, 1, 0, None],  # nothing finished: no rate
        [None, "Tổng cộng", 17, 4, 4, 9, 10, 2, 6, 2, 7, 6, 1, 80.0],
    ]
    assert sheet["C11"].number_format == "#,##0" and sheet["N11"].number_format == "0.0"
    assert sheet["B11"].alignment.indent == 1
    assert all(sheet.cell(14, col).font.b for col in range(1, 15))
    assert not sheet["C11"].font.b
    assert sheet["C11"].border.left.style == "thin" and sheet["N14"].border.bottom.style == "thin"
    # invariant on every row of the sheet: (1) = (5) + (9), (1) = (2) + (3) + (4)
    for row in values:
        assert row[2] == row[6] + row[10] == row[3] + row[4] + row[5]


def test_print_setup_a4_landscape_fixed_scale_repeat_headers(sheet):
    ps = sheet.page_setup
    assert ps.orientation == "landscape" and str(ps.paperSize) == str(sheet.PAPERSIZE_A4)
    assert not sheet.sheet_properties.pageSetUpPr.fitToPage and int(ps.scale) == 75  # breaks placed here
    assert sheet.print_title_rows == "$7:$10"
    assert sheet.freeze_panes == "C11"


def test_a_period_not_ended_says_when_the_figures_were_taken(tmp_path):
    path = write_report_xlsx(_report([], datetime(2026, 3, 18, 9, 30)), tmp_path / "x.xlsx", province="Sơn Hà")
    wb = load_workbook(path)
    ws = wb.active
    assert ws["A5"].value.startswith("(Số liệu tính đến 09:30:00 ngày 18/03/2026")
    assert [c.value for c in ws[11]][:3] == [None, "Tổng cộng", 0] and ws["N11"].value is None
    wb.close()


def test_agency_place_date_and_titles_come_from_the_settings(tmp_path):
    from pathlib import Path

    from tracker.config import load_settings
    from tracker.report_xlsx import FormText

    example = load_settings(Path(__file__).resolve().parents[2] / "config.example.toml", env={})
    form = FormText.from_settings(example, signed_on=date(2026, 4, 2))
    ws = load_workbook(write_report_xlsx(_report([STP, XA]), tmp_path / "f.xlsx", form=form,
                                         reporting_unit="Sở Tư pháp")).active
    assert ws["A1"].value == "UBND TỈNH SƠN HÀ" and ws["A2"].value == "VĂN PHÒNG UBND TỈNH" and ws["A2"].font.b
    assert ws["A6"].value == "Đơn vị: Sở Tư pháp"
    total = next(r for r in range(11, 20) if ws.cell(r, 2).value == "Tổng cộng")
    assert ws.cell(total + 2, 9).value == "Sơn Hà, ngày 02 tháng 04 năm 2026"
    assert ws.cell(total + 3, 1).value == "NGƯỜI LẬP BIỂU" and ws.cell(total + 3, 9).value == "CHÁNH VĂN PHÒNG"
    assert ws.print_area == f"'Biểu 06'!$A$1:$N${total + 8}"
