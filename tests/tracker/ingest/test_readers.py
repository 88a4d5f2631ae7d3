"""Readers: every export format yields the same dossiers; detection by content; clear rejections.

The files come from tests/fixtures_gen.py, written from one list of dossiers (DOSSIERS), so the
same values must come out of every format once parse_row has read them.
"""

from __future__ import annotations

import json
import tracemalloc
from datetime import date, datetime, time, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from tests import fixtures_gen as fx
from tests.conftest import examples
from tracker.calendar import WorkCalendar
from tracker.ingest import import_file, legacy
from tracker.ingest.columns import ALIASES, REQUIRED, match_header
from tracker.ingest.readers import FORMATS, FileRejected, detect_format, open_export
from tracker.ingest.rows import parse_row
from tracker.ingest.text import fold
from tracker.ingest.workbook import cell_text
from tracker.models import Dossier, ImportRun, Unit

CAL = WorkCalendar()


def read(path, fmt=None, overrides=None):
    """(source, [(line, record)]) with every row parsed; a rejected row fails the test."""
    src, cmap, rows = open_export(path, fmt, overrides)
    out = []
    for line, cells in rows:
        rec, rej = parse_row(line, cells, cmap, CAL)
        assert rej is None, f"{path.name}: {rej}"
        out.append((line, rec))
    return src, out


def assert_same_dossiers(records, *, supplements=True, applicant=True):
    assert [r["code"] for _, r in records] == [d.code for d in fx.DOSSIERS]
    for (_, r), d in zip(records, fx.DOSSIERS, strict=True):
        assert (r["status"], r["channel"]) == (d.status, d.channel), d.code
        assert (r["received_at"], r["due_at"]) == (d.received_at, d.due_at), d.code
        assert (r["finished_at"], r["returned_at"]) == (d.finished_at, d.returned_at), d.code
        assert (r["unit_name"], r["procedure_code"]) == (d.unit_name, d.procedure_code), d.code
        if supplements:
            assert (r["supplement_requested_at"], r["resubmitted_at"]) == (
                d.supplement_requested_at, d.resubmitted_at), d.code
        if applicant:
            assert r["applicant_name"] == d.applicant_name, d.code


# name -> (write the file, the format and encoding the reader must report)
CASES = {
    "csv": (lambda p: fx.write_csv(p / "hoso.csv", title=fx.TITLE, totals=True), "csv", "utf-8-sig"),
    "csv-comma-utf8": (lambda p: fx.write_csv(p / "hoso.csv", delimiter=",", encoding="utf-8"), "csv", "utf-8"),
    "tthc-csv": (lambda p: fx.write_csv(p / "tthc.csv", own=True, delimiter=",", encoding="utf-8"),
                 "tthc-csv", "utf-8"),
    "utf-16-tab": (lambda p: fx.write_csv(p / "unicode.txt", encoding="utf-16", delimiter="\t"), "csv", "utf-16"),
    "cp1258": (lambda p: fx.write_csv(p / "cp1258.csv", encoding="cp1258"), "csv", "cp1258"),
    "tcvn3": (lambda p: fx.write_csv(p / "tcvn3.csv", encoding="tcvn3"), "csv", "tcvn3"),
    "vni": (lambda p: fx.write_csv(p / "vni.csv", encoding="vni", delimiter="\t"), "csv", "vni"),
    "utf-8+tcvn3": (lambda p: fx.write_csv(p / "t.csv", encoding="utf-8+tcvn3"), "csv", "utf-8+tcvn3"),
    "utf-8+vni": (lambda p: fx.write_csv(p / "v.csv", encoding="utf-8+vni"), "csv", "utf-8+vni"),
    "xlsx": (lambda p: fx.write_xlsx(p / "hoso.xlsx", title=fx.TITLE, totals=True), "xlsx", "binary"),
    "xls": (lambda p: fx.write_xls(p / "hoso.xls", title=fx.TITLE, totals=True), "xls", "binary"),
    "html": (lambda p: fx.write_html(p / "hoso.xls", title=fx.TITLE, totals=True), "html", "utf-8-sig"),
    "html-cp1258": (lambda p: fx.write_html(p / "hoso.xls", encoding="cp1258"), "html", "cp1258"),
    "portal-json": (lambda p: fx.write_portal_json(p / "portal.json"), "portal-json", "utf-8"),
    "portal-json-list": (lambda p: fx.write_portal_json(p / "portal.json", wrapper=None), "portal-json", "utf-8"),
    "portal-json-DanhSachHoSo": (lambda p: fx.write_portal_json(p / "p.json", wrapper="DanhSachHoSo"),
                                 "portal-json", "utf-8"),
    "igate-json": (lambda p: fx.write_igate_json(p / "igate.json"), "igate-json", "utf-8"),
    "igate-json-list": (lambda p: fx.write_igate_json(p / "igate.json", page=False), "igate-json", "utf-8"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_every_format_yields_the_same_dossiers(tmp_path, case):
    write, fmt, encoding = CASES[case]
    path = write(tmp_path)
    src, records = read(path)
    assert (src.format, src.encoding) == (fmt, encoding)
    assert len(src.sha256) == 64
    # iGate has no supplement fields
    assert_same_dossiers(records, supplements=fmt != "igate-json")
    # told the format instead of guessing it: the same rows
    told = "csv" if fmt == "tthc-csv" else fmt
    assert [r["code"] for _, r in read(path, told)[1]] == [d.code for d in fx.DOSSIERS]


def test_title_block_and_totals_row_are_skipped_and_lines_are_the_files_own(tmp_path):
    for path, unit in ((fx.write_csv(tmp_path / "a.csv", title=fx.TITLE, totals=True), "line"),
                       (fx.write_xlsx(tmp_path / "a.xlsx", title=fx.TITLE, totals=True), "row"),
                       (fx.write_xls(tmp_path / "b.xls", title=fx.TITLE, totals=True), "row"),
                       (fx.write_html(tmp_path / "a.xls", title=fx.TITLE, totals=True), "row")):
        src, records = read(path)
        # two title rows, the header on row 3: data rows 4-6 (a spreadsheet row, a <tr> of the table)
        assert [line for line, _ in records] == [4, 5, 6], path.name
        titles = [s for s in src.skipped if "title" in s]
        assert len(titles) == 2 and "ỦY BAN NHÂN DÂN TỈNH SƠN HÀ" in titles[0], src.skipped
        assert src.skipped[-1] == f"{unit} 7: totals row", src.skipped


def test_xlsx_cells_dates_numbers_and_serials(tmp_path):
    src, records = read(fx.write_xlsx(tmp_path / "a.xlsx"))
    _, cmap, rows = open_export(tmp_path / "a.xlsx")
    first = next(rows)[1]
    assert first[cmap.fields["received_at"]] == "02/03/2026 08:00:00"  # a real date cell
    assert first[cmap.fields["status"]] == "4"  # a number cell, not "4.0"
    second = next(rows)[1]
    serial = second[cmap.fields["returned_at"]]  # a bare serial number in a date column
    assert serial.startswith("46084.") and records[1][1]["returned_at"] == datetime(2026, 3, 3, 10, 0)
    assert src.skipped == []  # the notes sheet without a header was passed over, no title here


@pytest.mark.parametrize(("value", "text"), [
    (12.0, "12"), (45678.5, "45678.5"), (1.000001, "1.000001"), (7, "7"), (True, "TRUE"),
    (float("nan"), ""), (" Sở  ", "Sở"), (datetime(2026, 3, 2, 8, 5, 9), "02/03/2026 08:05:09"),
    (date(2026, 3, 5), "05/03/2026"), (time(8, 30), "08:30:00"), (timedelta(hours=26, minutes=5), "26:05:00"),
])
def test_workbook_cell_text(value, text):
    assert cell_text(value) == text


def test_detection_is_by_content_not_by_name(tmp_path):
    html_as_xls = fx.write_html(tmp_path / "danhsach.xls")
    json_as_csv = fx.write_portal_json(tmp_path / "hoso.csv")
    igate_as_txt = fx.write_igate_json(tmp_path / "hoso.txt")
    xlsx_as_xls = fx.write_xlsx(tmp_path / "hoso.xls")
    xls_as_xlsx = fx.write_xls(tmp_path / "cu.xlsx")
    csv_as_xlsx = fx.write_csv(tmp_path / "hoso.xlsx")
    csv_as_json = fx.write_csv(tmp_path / "hoso.json", encoding="utf-16", delimiter="\t")
    expected = {html_as_xls: ("html", "html"), json_as_csv: ("json", "portal-json"),
                igate_as_txt: ("json", "igate-json"), xlsx_as_xls: ("xlsx", "xlsx"), xls_as_xlsx: ("xls", "xls"),
                csv_as_xlsx: ("csv", "csv"), csv_as_json: ("csv", "csv")}
    for path, (detected, fmt) in expected.items():
        assert detect_format(path) == detected, path.name
        src, records = read(path)
        assert src.format == fmt and len(records) == 3, path.name


def test_html_without_bom_with_leading_blanks_and_an_upper_case_doctype(tmp_path):
    path = tmp_path / "x.xls"
    path.write_bytes(b"\r\n  \t" + fx.html_text(layout_table=False).replace("<!DOCTYPE html>", "<!DOCTYPE HTML>")
                     .encode())
    assert detect_format(path) == "html"
    src, records = read(path)
    assert_same_dossiers(records)
    # entities, <b> and <br> inside cells
    assert records[0][1]["applicant_name"] == "Nguyễn Văn An"


def test_excel_2003_xml_spreadsheet_reads_like_a_table(tmp_path):
    cells = lambda values: "".join(f'<Cell><Data ss:Type="String">{v}</Data></Cell>' for v in values)  # noqa: E731
    rows = [cells(fx.VI_HEADER)] + [cells(fx.vi_row(n, d)) for n, d in enumerate(fx.DOSSIERS, 1)]
    path = tmp_path / "x.xls"
    path.write_text('<?xml version="1.0"?>\n<Workbook xmlns="urn:schemas-microsoft-com:office:spreadsheet" '
                    'xmlns:ss="urn:schemas-microsoft-com:office:spreadsheet"><Worksheet ss:Name="DS"><Table>'
                    '<Row><Cell ss:MergeAcross="3"><Data ss:Type="String">DANH SÁCH</Data></Cell></Row>'
                    + "".join(f"<Row>{r}</Row>" for r in rows) + "</Table></Worksheet></Workbook>",
                    encoding="utf-8")
    src, records = read(path)
    assert src.format == "html" and [line for line, _ in records] == [3, 4, 5]
    assert_same_dossiers(records)


# ----- JSON --------------------------------------------------------------------------------------

def test_igate_utc_dates_become_local_time(tmp_path):
    path = tmp_path / "igate.json"
    path.write_text(json.dumps([{
        "code": "G-1", "agency": {"code": "STP", "name": "Sở Tư pháp"},
        "procedure": {"code": "1.000001", "name": "Cấp phiếu", "sector": "Lý lịch tư pháp"},
        "acceptedDate": "2026-03-02T01:00:00.000+0000",  # 08:00 in Hà Nội
        "appointmentDate": "2026-03-04T17:00:00.000+0000",  # local midnight starting 5 March
        "completedDate": 1772586000000,  # epoch milliseconds: 2026-03-04 08:00 local
        "dossierStatus": 4, "applyMethod": "Trực tuyến", "processingTime": 8, "processingTimeUnit": "h"}]))
    src, [(line, rec)] = read(path)
    assert (src.format, line) == ("igate-json", 1)
    assert rec["received_at"] == datetime(2026, 3, 2, 8, 0)
    assert rec["due_at"] == datetime(2026, 3, 5, 0, 0)
    assert rec["finished_at"] == datetime(2026, 3, 4, 8, 0)
    assert (rec["status"], rec["channel"], rec["field_name"]) == (4, 2, "Lý lịch tư pháp")
    assert rec["limit_text"] == "8 giờ làm việc" and rec["limit"].unit == "working_hours"


@pytest.mark.parametrize(("status", "expected"), [
    (10, 10), ("Đã trả kết quả", 10), ({"id": 5, "name": "Yêu cầu bổ sung"}, 5),
    ({"code": "9", "name": "Tên trạng thái lạ"}, 9),  # an unknown name: the code is used
    ({"id": 99, "name": "Đang xử lý"}, 4),  # an internal id: the name is used
])
def test_igate_status_as_number_word_or_object(tmp_path, status, expected):
    path = tmp_path / "i.json"
    path.write_text(json.dumps({"content": [{"code": "G-1", "agency": {"name": "Sở A"}, "dossierStatus": status,
                                             "acceptedDate": "2026-03-02T01:00:00Z",
                                             "applyMethod": {"id": 3, "name": "Bưu chính"}}],
                                "totalPages": 1}))
    _, [(_, rec)] = read(path)
    assert (rec["status"], rec["channel"]) == (expected, 3)


def test_igate_due_date_stands_in_for_a_missing_appointment(tmp_path):
    path = tmp_path / "i.json"
    path.write_text(json.dumps([{"code": "G-1", "agency": {"name": "Sở A"}, "dossierStatus": 4,
                                 "acceptedDate": "2026-03-02T01:00:00Z", "dueDate": "2026-03-05T01:00:00Z",
                                 "processingTime": 3, "processingTimeUnit": {"code": "d", "name": "ngày"}}]))
    _, [(_, rec)] = read(path)
    assert rec["due_at"] == datetime(2026, 3, 5, 8, 0) and rec["limit_text"] == "3 ngày làm việc"


def test_portal_takes_the_last_supplement(tmp_path):
    src, records = read(fx.write_portal_json(tmp_path / "p.json"))
    d = fx.DOSSIERS[2]
    rec = records[2][1]
    assert rec["supplement_requested_at"] == d.supplement_requested_at == datetime(2026, 3, 4, 10, 0)
    assert rec["resubmitted_at"] == d.resubmitted_at
    assert records[0][1]["supplement_requested_at"] is None  # no supplement list at all


def test_portal_single_record_object_and_numbers_for_dates(tmp_path):
    path = tmp_path / "one.json"
    path.write_text(json.dumps({"MaHoSo": "P-1", "NgayTiepNhan": 20260302080000, "TrangThaiHoSo": "2",
                                "DonViXuLy": "Sở Y tế", "KenhThucHien": 1, "DanhSachHoSoBoSung": []}))
    _, [(line, rec)] = read(path)
    assert (line, rec["code"], rec["received_at"], rec["status"]) == (1, "P-1", datetime(2026, 3, 2, 8), 2)


def test_a_record_that_is_not_an_object_is_a_row_the_loader_rejects(tmp_path):
    path = tmp_path / "p.json"
    path.write_text(json.dumps([fx.portal_record(fx.DOSSIERS[0]), "rác", None]))
    _, cmap, rows = open_export(path)
    results = [parse_row(line, cells, cmap, CAL) for line, cells in rows]
    assert [rej.line for _, rej in results if rej] == [2, 3]
    assert "missing dossier code" in results[1][1].reason


def test_an_empty_portal_list_reads_no_rows(tmp_path):
    path = tmp_path / "p.json"
    path.write_text('{"data": [], "total": 0}')
    src, records = read(path)
    assert records == [] and src.format == "portal-json"


# ----- legacy font encodings ---------------------------------------------------------------------

WORDS = ("Sở Tài nguyên và Môi trường", "Ủy ban nhân dân", "Đăng ký khai sinh", "Chứng thực", "Trạng thái",
         "Ngày hẹn trả", "Đã trả kết quả", "ỦY BAN NHÂN DÂN TỈNH", "Mã hồ sơ", "Bưu chính công ích",
         "Nguyễn Thị Hồng Nhung", "Quyết định số 15/QĐ-UBND")


@pytest.mark.parametrize("word", WORDS)
def test_tcvn3_and_vni_round_trip(word):
    for encode, decode in ((legacy.unicode_to_tcvn3, legacy.tcvn3_to_unicode),
                           (legacy.unicode_to_vni, legacy.vni_to_unicode)):
        raw = encode(word)
        assert decode(raw.decode("latin-1")) == word  # the font bytes in a file
        assert decode(raw.decode("cp1252", errors="ignore")) == word  # shown by Windows, saved as UTF-8


def test_known_legacy_spellings():
    assert legacy.vni_to_unicode("Sôû Taøi nguyeân") == "Sở Tài nguyên"
    assert legacy.tcvn3_to_unicode("Së Tµi nguyªn") == "Sở Tài nguyên"
    assert legacy.tcvn3_to_unicode("Tr¹ng th¸i") == "Trạng thái"
    assert legacy.vni_to_unicode("Chöùng thöïc") == "Chứng thực"


LOWER = "aáàảãạăắằẳẵặâấầẩẫậeéèẻẽẹêếềểễệiíìỉĩịoóòỏõọôốồổỗộơớờởỡợuúùủũụưứừửữựyýỳỷỹỵđ"


def test_every_vietnamese_letter_round_trips_in_vni_and_tcvn3():
    letters = LOWER + LOWER.upper()
    assert legacy.vni_to_unicode(legacy.unicode_to_vni(letters).decode("latin-1")) == letters
    tcvn3 = "".join(c for c in letters if c not in "ÚỤỪỬỮỨỰỲỶỸÝỴ")  # VN1 keeps those in control codes
    assert legacy.tcvn3_to_unicode(legacy.unicode_to_tcvn3(tcvn3).decode("latin-1")) == tcvn3


@settings(max_examples=examples(60), deadline=None, database=None)
@given(st.lists(st.text(alphabet=LOWER + LOWER.upper() + "bcdghklmnpqrstvx ", min_size=1, max_size=12),
                min_size=1, max_size=6))
def test_vni_round_trips_any_vietnamese_text(parts):
    text = " ".join(parts)
    assert legacy.vni_to_unicode(legacy.unicode_to_vni(text).decode("latin-1")) == text


def test_detection_leaves_unicode_cp1258_and_ascii_alone():
    text = fx.csv_text()
    assert legacy.detect(text) is None
    raw = fx.ENCODERS["cp1258"](text)
    assert legacy.detect(raw.decode("latin-1"), baseline=raw.decode("cp1258")) is None
    assert legacy.detect("Ma ho so;Trang thai;Ngay tiep nhan\nHS-1;Da tra ket qua;02/03/2026\n") is None
    assert legacy.detect("Café crème, Zürich, São Paulo, Ærøskøbing, naïve façade") is None
    for name in ("tcvn3", "vni"):
        raw = fx.ENCODERS[name](text)
        assert legacy.detect(raw.decode("latin-1"), baseline=raw.decode("cp1258", errors="replace")) == name


# ----- rejections --------------------------------------------------------------------------------

def rejected(path, fmt=None) -> str:
    with pytest.raises(FileRejected) as err:
        _, _, rows = open_export(path, fmt)
        list(rows)
    return str(err.value)


def test_no_header_says_what_was_found(tmp_path):
    path = tmp_path / "x.csv"
    path.write_text("Báo cáo tháng 3\na;b;c\n1;2;3\n", encoding="utf-8")
    msg = rejected(path)
    assert msg.startswith("x.csv: no recognisable header") and "'a', 'b', 'c'" in msg and "Báo cáo" in msg
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    assert "found nothing" in rejected(empty)


def test_a_workbook_without_a_header_names_its_sheets(tmp_path):
    from openpyxl import Workbook

    wb = Workbook()
    wb.active.title = "Tổng hợp"
    wb.active.append(["Đơn vị", "Số hồ sơ đúng hạn"])
    wb.save(tmp_path / "x.xlsx")
    msg = rejected(tmp_path / "x.xlsx")
    assert "no sheet has a recognisable header" in msg and "sheet 'Tổng hợp'" in msg and "'Đơn vị'" in msg


def test_missing_required_columns_lists_found_and_missing(tmp_path):
    path = tmp_path / "p.json"
    path.write_text(json.dumps([{"MaHoSo": "P-1", "NgayHenTra": "20260302080000", "DonViXuLy": "Sở A"}]))
    msg = rejected(path)
    assert "missing required columns received_at, status" in msg and "'MaHoSo'" in msg


def test_broken_json_gives_line_and_column(tmp_path):
    path = tmp_path / "p.json"
    path.write_text('[\n  {"MaHoSo": "P-1",\n   "NgayTiepNhan": }\n]')
    assert rejected(path) == "p.json: not valid JSON: Expecting value at line 3, column 20"


def test_json_of_an_unknown_shape(tmp_path):
    path = tmp_path / "x.json"
    path.write_text('{"status": "ok", "message": "không có dữ liệu"}')
    assert "no list of dossiers" in rejected(path) and "'message'" in rejected(path)
    path.write_text('[{"id": 1, "ten": "a"}]')
    assert "neither national-portal keys" in rejected(path) and "'ten'" in rejected(path)
    path.write_text("[" * 100_000)
    assert "nested too deeply" in rejected(path)


def test_unknown_format_lists_the_known_ones(tmp_path):
    path = fx.write_csv(tmp_path / "a.csv")
    msg = rejected(path, "pdf")
    assert msg.startswith("unknown format 'pdf'") and all(f in msg for f in FORMATS)
    assert read(path, "TTHC_CSV")[0].format == "csv"  # case and '_' do not matter


def test_broken_workbooks_and_unreadable_files(tmp_path):
    (tmp_path / "a.xlsx").write_bytes(b"PK\x03\x04" + b"\x00" * 100)
    assert "a.xlsx: not a readable Excel workbook" in rejected(tmp_path / "a.xlsx")
    (tmp_path / "b.xls").write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 600)
    assert "b.xls: not a readable Excel workbook" in rejected(tmp_path / "b.xls")
    assert "not a readable Excel workbook" in rejected(fx.write_csv(tmp_path / "c.csv"), "xlsx")
    assert "missing.csv: cannot be read" in rejected(tmp_path / "missing.csv")
    bad = tmp_path / "bad.csv"
    bad.write_bytes(b"\xef\xbb\xbfM\xc3\xa3 h\xe1\xbb\x93 s\xc6\xa1\n\xff\xfe\n")
    assert "bad.csv: cannot be decoded (byte 16" in rejected(bad)


def test_html_without_a_table(tmp_path):
    path = tmp_path / "x.xls"
    path.write_text("<html><body><h1>Phiên làm việc đã hết hạn</h1></body></html>", encoding="utf-8")
    assert rejected(path) == "x.xls: no <table> in this HTML file; found 'Phiên làm việc đã hết hạn'"


# ----- header aliases ----------------------------------------------------------------------------

def test_the_products_own_field_names_are_aliases_of_themselves():
    for field in ALIASES:
        if not field.startswith("_"):
            assert match_header([field]).fields == {field: 0}
    own = match_header(list(fx.TTHC_HEADER))
    assert set(REQUIRED) <= set(own.fields) and len(own.fields) == len(fx.TTHC_HEADER)


@pytest.mark.parametrize(("label", "field"), [
    ("Ngày nhận", "received_at"), ("NGAY_HEN_TRA", "due_at"), ("Tình trạng", "status"),
    ("Cơ quan tiếp nhận", "unit_name"), ("procedure.sector.name", "field_name"), ("agency.name", "unit_name"),
    ("DanhSachHoSoBoSung.NgayBoSung", "supplement_requested_at"), ("Kênh tiếp nhận", "channel"),
])
def test_common_aliases(label, field):
    assert match_header([label]).fields == {field: 0}


@pytest.mark.parametrize("label", ["Người tiếp nhận", "Địa chỉ", "Email", "TrichYeuHoSo", "LoaiDoiTuong", "STT"])
def test_ignored_labels_count_as_header_words_but_map_nothing(label):
    assert match_header([label]).fields == {} and fold(label) in {fold(a) for a in ALIASES["_ignored"]}


# ----- streaming ---------------------------------------------------------------------------------

def _peak_reading(path) -> int:
    tracemalloc.start()
    try:
        _, _, rows = open_export(path)
        assert sum(1 for _ in rows) > 0
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_csv_streams_in_constant_memory(tmp_path):
    row = ";".join(fx.vi_row(1, fx.DOSSIERS[0])).replace("HS-2026-0001", "HS-{}")
    peaks, sizes = [], []
    for rows in (10_000, 60_000):
        path = tmp_path / f"{rows}.csv"
        with path.open("w", encoding="utf-8") as fh:
            fh.write(";".join(fx.VI_HEADER) + "\n")
            for n in range(rows):
                fh.write(row.format(n) + "\n")
        sizes.append(path.stat().st_size)
        peaks.append(_peak_reading(path))
    assert sizes[1] > 14_000_000
    # six times the rows, the same memory: what is held is the encoding sample and one row
    assert peaks[1] < peaks[0] * 1.2 + 100_000 and peaks[1] < 4_000_000, (peaks, sizes)


# ----- end to end --------------------------------------------------------------------------------

@pytest.mark.parametrize("kind", ["portal-json", "xlsx"])
def test_import_file_reads_json_and_xlsx(engine, settings, tmp_path, kind):
    path = (fx.write_portal_json(tmp_path / "hoso.json") if kind == "portal-json"
            else fx.write_xlsx(tmp_path / "hoso.xlsx", title=fx.TITLE, totals=True))
    res = import_file(engine, settings, path)
    assert (res.status, res.rows_read, res.inserted, res.rejected) == ("done", 3, 3, 0), res.message
    with engine.connect() as conn:
        rows = conn.execute(select(Dossier.code, Dossier.status, Dossier.received_at, Dossier.due_at,
                                   Dossier.resubmitted_at, Unit.name).join(Unit, Unit.id == Dossier.unit_id)
                            .order_by(Dossier.code)).all()
        assert rows == [(d.code, d.status, d.received_at, d.due_at, d.resubmitted_at, d.unit_name)
                        for d in fx.DOSSIERS]
        assert conn.execute(select(ImportRun.format)).scalar_one() == kind


def test_a_compact_date_given_as_a_number_is_not_taken_for_epoch_milliseconds(tmp_path):
    path = tmp_path / "i.json"
    path.write_text(json.dumps([{"code": "G-1", "agency": {"name": "Sở A"}, "dossierStatus": 2,
                                 "acceptedDate": 20260302080000}]))
    _, [(_, rec)] = read(path)
    assert rec["received_at"] == datetime(2026, 3, 2, 8, 0)


def test_a_header_repeated_on_each_printed_page_is_skipped(tmp_path):
    lines = fx.csv_text().splitlines()
    path = tmp_path / "pages.csv"
    path.write_text("\n".join([*lines[:3], lines[0], *lines[3:]]), encoding="utf-8")  # page 2 starts at line 4
    src, records = read(path)
    assert_same_dossiers(records)
    assert src.skipped == ["line 4: header repeated"]
