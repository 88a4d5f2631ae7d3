"""Export files in every format the importer reads, written from ONE list of dossiers.

Tests write them into tmp_path (nothing binary is committed) and check that each format yields
the same canonical values. Run as a script to look at them: `python -m tests.fixtures_gen DIR`.
"""

from __future__ import annotations

import csv
import html
import io
import json
import struct
import sys
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from tests.conftest import to_cp1258
from tracker.ingest.legacy import unicode_to_tcvn3, unicode_to_vni


@dataclass(frozen=True)
class Dossier:
    code: str
    unit_code: str
    unit_name: str
    procedure_code: str
    procedure_name: str
    field_code: str
    field_name: str
    channel: int  # 1 in person, 2 online, 3 public post
    status: int  # TrangThaiHoSo
    received_at: datetime
    due_at: datetime
    limit_days: int
    submitted_at: datetime | None = None
    supplement_requested_at: datetime | None = None
    resubmitted_at: datetime | None = None
    finished_at: datetime | None = None
    returned_at: datetime | None = None
    applicant_name: str = ""
    applicant_phone: str = ""

    @property
    def limit_text(self) -> str:
        return f"{self.limit_days} ngày làm việc"


DOSSIERS = (
    Dossier("HS-2026-0001", "STP", "Sở Tư pháp", "1.000001", "Cấp phiếu lý lịch tư pháp cho công dân",
            "LLTP", "Lý lịch tư pháp", 2, 4, datetime(2026, 3, 2, 8, 0), datetime(2026, 3, 5, 8, 0), 3,
            submitted_at=datetime(2026, 3, 1, 21, 15), applicant_name="Nguyễn Văn An",
            applicant_phone="0912345678"),
    Dossier("HS-2026-0002", "UBX.HB", "Ủy ban nhân dân xã Hòa Bình", "1.001193", "Đăng ký khai sinh",
            "HT", "Hộ tịch", 1, 10, datetime(2026, 3, 2, 9, 30), datetime(2026, 3, 3, 9, 30), 1,
            finished_at=datetime(2026, 3, 3, 8, 0), returned_at=datetime(2026, 3, 3, 10, 0),
            applicant_name="Trần Thị Bình", applicant_phone="0987654321"),
    Dossier("HS-2026-0003", "STNMT", "Sở Tài nguyên và Môi trường", "1.004227",
            "Chứng thực hợp đồng chuyển nhượng quyền sử dụng đất", "DD", "Đất đai", 3, 5,
            datetime(2026, 3, 3, 14, 0), datetime(2026, 3, 10, 14, 0), 5,
            supplement_requested_at=datetime(2026, 3, 4, 10, 0), resubmitted_at=datetime(2026, 3, 6, 9, 0),
            applicant_name="Lê Văn Cường", applicant_phone="0909000111"),
)

STATUS_WORDS = {4: "Đang xử lý", 5: "Yêu cầu bổ sung giấy tờ", 10: "Đã trả kết quả"}
CHANNEL_WORDS = {1: "Trực tiếp", 2: "Trực tuyến", 3: "Bưu chính công ích"}
TITLE = ("ỦY BAN NHÂN DÂN TỈNH SƠN HÀ", "DANH SÁCH HỒ SƠ TIẾP NHẬN THÁNG 3/2026")

# a desk's list export: Vietnamese labels, in this order
VI_HEADER = ("STT", "Mã hồ sơ", "Mã TTHC", "Tên thủ tục hành chính", "Lĩnh vực", "Đơn vị tiếp nhận",
             "Chủ hồ sơ", "Số điện thoại", "Kênh nộp", "Ngày nộp hồ sơ", "Ngày tiếp nhận", "Ngày hẹn trả",
             "Ngày yêu cầu bổ sung", "Ngày tiếp nhận bổ sung", "Ngày kết thúc xử lý", "Ngày trả kết quả",
             "Trạng thái", "Thời hạn giải quyết")
# the product's own export
TTHC_HEADER = ("code", "unit_code", "unit_name", "procedure_code", "procedure_name", "field_code", "field_name",
               "channel", "status", "submitted_at", "received_at", "due_at", "supplement_requested_at",
               "resubmitted_at", "apology_at", "rescheduled_due_at", "finished_at", "returned_at", "limit_text",
               "applicant_name", "applicant_phone")


def slashed(d: datetime | None) -> str:
    return "" if d is None else d.strftime("%d/%m/%Y %H:%M:%S")


def vi_row(n: int, d: Dossier) -> list[str]:
    return [str(n), d.code, d.procedure_code, d.procedure_name, d.field_name, d.unit_name, d.applicant_name,
            d.applicant_phone, CHANNEL_WORDS[d.channel], slashed(d.submitted_at), slashed(d.received_at),
            slashed(d.due_at), slashed(d.supplement_requested_at), slashed(d.resubmitted_at),
            slashed(d.finished_at), slashed(d.returned_at), STATUS_WORDS[d.status], d.limit_text]


def tthc_row(d: Dossier) -> list[str]:
    values = {"channel": str(d.channel), "status": str(d.status), "limit_text": d.limit_text,
              "apology_at": "", "rescheduled_due_at": ""}
    out = []
    for name in TTHC_HEADER:
        if name in values:
            out.append(values[name])
        else:
            v = getattr(d, name)
            out.append(v.strftime("%Y-%m-%d %H:%M:%S") if isinstance(v, datetime) else (v or ""))
    return out


def totals_row(width: int) -> list[str]:
    return ["", f"Tổng cộng: {len(DOSSIERS)} hồ sơ"] + [""] * (width - 2)


# ----- CSV ---------------------------------------------------------------------------------------

def csv_text(dossiers=DOSSIERS, *, delimiter: str = ";", title=(), totals: bool = False,
             own: bool = False) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, delimiter=delimiter, lineterminator="\r\n")
    for t in title:
        w.writerow([t])
    header = TTHC_HEADER if own else VI_HEADER
    w.writerow(header)
    for n, d in enumerate(dossiers, 1):
        w.writerow(tthc_row(d) if own else vi_row(n, d))
    if totals:
        w.writerow(totals_row(len(header)))
    return buf.getvalue()


ENCODERS = {
    "utf-8": lambda s: s.encode("utf-8"),
    "utf-8-sig": lambda s: s.encode("utf-8-sig"),
    "utf-16": lambda s: s.encode("utf-16"),  # Excel "Unicode text": a BOM, little-endian
    "cp1258": to_cp1258,
    "tcvn3": unicode_to_tcvn3,
    "vni": unicode_to_vni,
    # legacy font text that a later Excel saved as UTF-8: the Windows-1252 characters of the bytes
    "utf-8+tcvn3": lambda s: unicode_to_tcvn3(s).decode("cp1252", errors="replace").encode("utf-8"),
    "utf-8+vni": lambda s: unicode_to_vni(s).decode("cp1252").encode("utf-8"),
}


def write_csv(path: Path, dossiers=DOSSIERS, *, encoding: str = "utf-8-sig", delimiter: str = ";",
              title=(), totals: bool = False, own: bool = False) -> Path:
    text = csv_text(dossiers, delimiter=delimiter, title=title, totals=totals, own=own)
    path.write_bytes(ENCODERS[encoding](text))
    return path


# ----- xlsx (openpyxl, tests only) ---------------------------------------------------------------

EXCEL_EPOCH = datetime(1899, 12, 30)


def excel_serial(d: datetime) -> float:
    return (d - EXCEL_EPOCH) / timedelta(days=1)


def write_xlsx(path: Path, dossiers=DOSSIERS, *, title=(), totals: bool = False, empty_first_sheet=True) -> Path:
    """Real date cells, the status as a number cell, the return date as a bare serial number,
    a title block and a totals row; a first sheet with notes only, which must be passed over."""
    from openpyxl import Workbook

    wb = Workbook()
    notes = wb.active
    notes.title = "Ghi chú"
    notes["A1"] = "Sheet này không có dữ liệu"
    ws = wb.create_sheet("Danh sách") if empty_first_sheet else notes
    for t in title:
        ws.append([t])
    ws.append(list(VI_HEADER))
    for n, d in enumerate(dossiers, 1):
        row: list = vi_row(n, d)
        row[0] = n
        for i, name in ((9, "submitted_at"), (10, "received_at"), (11, "due_at"),
                        (12, "supplement_requested_at"), (13, "resubmitted_at"), (14, "finished_at")):
            row[i] = getattr(d, name)
        row[15] = excel_serial(d.returned_at) if d.returned_at else None
        row[16] = d.status
        ws.append(row)
        for col in range(10, 16):
            ws.cell(ws.max_row, col).number_format = "dd/mm/yyyy hh:mm:ss"
    if totals:
        ws.append(totals_row(len(VI_HEADER)))
    wb.save(path)
    return path


# ----- HTML saved as .xls ------------------------------------------------------------------------

def html_text(dossiers=DOSSIERS, *, title=(), totals: bool = False, charset: str = "utf-8",
              layout_table: bool = True) -> str:
    """An HTML list as one-stop systems save it: meta charset, a layout table before the data
    table, title rows inside the data table (colspan), entities, <br> inside a cell."""
    width = len(VI_HEADER)
    out = [f'<!DOCTYPE html>\n<html><head><meta http-equiv="Content-Type" content="text/html; '
           f'charset={charset}"><title>Báo cáo</title><style>td {{ mso-number-format: "\\@"; }}</style>'
           "</head><body>\n<p>Xuất từ Hệ thống một cửa điện tử</p>\n"]
    if layout_table:
        out.append("<table><tr><td>Mẫu số 06</td><td>Kỳ báo cáo: tháng 3/2026</td></tr></table>\n")
    out.append('<table border="1">\n')
    for t in title:
        out.append(f'<tr><td colspan="{width}"><b>{html.escape(t)}</b></td></tr>\n')
    out.append("<tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in VI_HEADER) + "</tr>\n")
    for n, d in enumerate(dossiers, 1):
        cells = [html.escape(c) for c in vi_row(n, d)]
        first, _, rest = d.applicant_name.partition(" ")
        cells[6] = f"<b>{html.escape(first)}</b><br>{html.escape(rest)}"  # <br> reads as a space
        cells[3] = cells[3].replace(" ", "&nbsp;", 1)
        out.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>\n")
    if totals:
        out.append("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in totals_row(width)) + "</tr>\n")
    out.append("</table>\n</body></html>\n")
    return "".join(out)


def write_html(path: Path, dossiers=DOSSIERS, *, bom: bool = True, encoding: str = "utf-8", **kw) -> Path:
    charset = "windows-1258" if encoding == "cp1258" else encoding
    text = html_text(dossiers, charset=charset, **kw)
    data = to_cp1258(text) if encoding == "cp1258" else text.encode(encoding)
    path.write_bytes((b"\xef\xbb\xbf" if bom and encoding == "utf-8" else b"") + data)
    return path


# ----- national portal JSON (DongBoHoSoMC) -------------------------------------------------------

def compact(d: datetime | None) -> str:
    return "" if d is None else d.strftime("%Y%m%d%H%M%S")


def portal_record(d: Dossier) -> dict:
    rec = {"MaHoSo": d.code, "MaTTHC": d.procedure_code, "TenTTHC": d.procedure_name, "MaLinhVuc": d.field_code,
           "TenLinhVuc": d.field_name, "KenhThucHien": d.channel, "ChuHoSo": d.applicant_name,
           "LoaiDoiTuong": 1, "SoDienThoai": d.applicant_phone, "Email": "", "TrichYeuHoSo": d.procedure_name,
           "NgayNopHoSo": compact(d.submitted_at), "NgayTiepNhan": compact(d.received_at),
           "NgayHenTra": compact(d.due_at), "TrangThaiHoSo": d.status, "NgayKetThucXuLy": compact(d.finished_at),
           "NgayTra": compact(d.returned_at), "DonViXuLy": d.unit_name, "GhiChu": ""}
    if d.supplement_requested_at:
        earlier = d.supplement_requested_at - timedelta(hours=20)
        rec["DanhSachHoSoBoSung"] = [
            {"NgayBoSung": compact(earlier), "NgayTiepNhanBoSung": compact(earlier + timedelta(hours=2)),
             "NgayHenTraTruoc": compact(d.due_at), "NgayHenTraMoi": compact(d.due_at)},
            {"NgayBoSung": compact(d.supplement_requested_at), "NgayTiepNhanBoSung": compact(d.resubmitted_at),
             "NgayHenTraTruoc": compact(d.due_at), "NgayHenTraMoi": compact(d.due_at + timedelta(days=2))},
        ]
    return rec


def write_portal_json(path: Path, dossiers=DOSSIERS, *, wrapper: str | None = "data") -> Path:
    records = [portal_record(d) for d in dossiers]
    doc = {wrapper: records, "total": len(records)} if wrapper else records
    path.write_text(json.dumps(doc, ensure_ascii=False, indent=2), encoding="utf-8")
    return path


# ----- iGate JSON (REST) -------------------------------------------------------------------------

LOCAL_OFFSET = timedelta(hours=7)


def iso_utc(d: datetime | None) -> str | None:
    return None if d is None else (d - LOCAL_OFFSET).strftime("%Y-%m-%dT%H:%M:%S.000+0000")


def igate_record(d: Dossier, n: int) -> dict:
    sector: dict | str = {"code": d.field_code, "name": d.field_name} if n % 2 else d.field_name
    return {
        "id": f"65f0c0ffee{n:04d}", "code": d.code,
        "procedure": {"id": f"p{n}", "code": d.procedure_code, "name": d.procedure_name, "sector": sector},
        "agency": {"id": f"a{n}", "code": d.unit_code, "name": d.unit_name},
        "applicant": {"data": {"fullname": d.applicant_name, "phoneNumber": d.applicant_phone}},
        "applyMethod": {"id": d.channel, "name": CHANNEL_WORDS[d.channel]} if n % 2 else d.channel,
        "appliedDate": iso_utc(d.submitted_at), "acceptedDate": iso_utc(d.received_at),
        "appointmentDate": iso_utc(d.due_at), "dueDate": iso_utc(d.due_at),
        "completedDate": iso_utc(d.finished_at), "returnedDate": iso_utc(d.returned_at),
        "processingTime": d.limit_days, "processingTimeUnit": "d",
        "dossierStatus": {"id": 99, "code": str(d.status), "name": STATUS_WORDS[d.status]},
    }


def write_igate_json(path: Path, dossiers=DOSSIERS, *, page: bool = True) -> Path:
    records = [igate_record(d, n) for n, d in enumerate(dossiers, 1)]
    doc = {"content": records, "totalPages": 1, "totalElements": len(records), "number": 0} if page else records
    path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    return path


# ----- old binary .xls (BIFF8 in an OLE compound file), written by hand -------------------------

def _record(kind: int, data: bytes = b"") -> bytes:
    return struct.pack("<HH", kind, len(data)) + data


def _biff8(rows: list[list[str | float]], sheet: str) -> bytes:
    """A one-sheet BIFF8 workbook stream: strings in the shared string table, numbers as NUMBER."""
    strings: dict[str, int] = {}
    cells = []
    for r, row in enumerate(rows):
        for c, value in enumerate(row):
            if isinstance(value, str):
                if value:
                    index = strings.setdefault(value, len(strings))
                    cells.append(_record(0x00FD, struct.pack("<HHHI", r, c, 0, index)))  # LABELSST
            else:
                cells.append(_record(0x0203, struct.pack("<HHHd", r, c, 0, value)))  # NUMBER
    sst = struct.pack("<II", sum(1 for row in rows for v in row if isinstance(v, str) and v), len(strings))
    sst += b"".join(struct.pack("<HB", len(s), 1) + s.encode("utf-16-le") for s in strings)
    bof = struct.pack("<HHHHII", 0x0600, 0x0005, 0x0DBB, 0x07CC, 0, 6)
    name = struct.pack("<BB", len(sheet), 1) + sheet.encode("utf-16-le")
    padding = _record(0x00E2) * 1024  # INTERFACEEND, ignored: keeps the stream past 4096 bytes
    globals_ = [_record(0x0809, bof), _record(0x0042, struct.pack("<H", 1200)), padding, None,
                _record(0x00FC, sst), _record(0x000A)]
    boundsheet_len = len(_record(0x0085, struct.pack("<IBB", 0, 0, 0) + name))
    sheet_offset = sum(len(g) for g in globals_ if g is not None) + boundsheet_len
    globals_[3] = _record(0x0085, struct.pack("<IBB", sheet_offset, 0, 0) + name)
    width = max(len(row) for row in rows)
    dims = struct.pack("<IIHHH", 0, len(rows), 0, width, 0)
    sheet_stream = [_record(0x0809, struct.pack("<HHHHII", 0x0600, 0x0010, 0x0DBB, 0x07CC, 0, 6)),
                    _record(0x0200, dims), *cells, _record(0x000A)]
    return b"".join(globals_) + b"".join(sheet_stream)


def _compound_file(stream: bytes, name: str = "Workbook") -> bytes:
    """An OLE2 compound file (version 3, 512-byte sectors) holding one stream of >= 4096 bytes."""
    end, free, fat_sector, nostream = 0xFFFFFFFE, 0xFFFFFFFF, 0xFFFFFFFD, 0xFFFFFFFF
    data = stream + b"\x00" * (-len(stream) % 512)
    n = len(data) // 512
    if len(stream) < 4096 or n > 126:
        raise ValueError("stream must be 4096 bytes to 63 KiB")
    fat = [fat_sector, end] + [3 + i for i in range(n - 1)] + [end]
    fat += [free] * (128 - len(fat))
    header = (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 16
              + struct.pack("<HHHHH6xIIIIIIIII", 0x3E, 3, 0xFFFE, 9, 6, 0, 1, 1, 0, 4096, end, 0, end, 0)
              + struct.pack("<109I", 0, *([free] * 108)))

    def entry(label: str, kind: int, child: int, start: int, size: int) -> bytes:
        encoded = (label + "\x00").encode("utf-16-le") if label else b""
        return (encoded.ljust(64, b"\x00") + struct.pack("<HBB", len(encoded), kind, 1 if label else 0)
                + struct.pack("<III", nostream, nostream, child) + b"\x00" * 36
                + struct.pack("<IQ", start, size))

    directory = (entry("Root Entry", 5, 1, end, 0) + entry(name, 2, nostream, 2, len(stream))
                 + entry("", 0, nostream, 0, 0) * 2)
    return header + struct.pack("<128I", *fat) + directory + data


def write_xls(path: Path, dossiers=DOSSIERS, *, title=(), totals: bool = False) -> Path:
    """An Excel 97-2003 workbook: text cells (dates as text, as old exports have them), the row
    number and the status as number cells."""
    rows: list[list[str | float]] = [[t] for t in title] + [list(VI_HEADER)]
    for n, d in enumerate(dossiers, 1):
        row: list[str | float] = list(vi_row(n, d))
        row[0], row[16] = float(n), float(d.status)
        rows.append(row)
    if totals:
        rows.append(list(totals_row(len(VI_HEADER))))
    path.write_bytes(_compound_file(_biff8(rows, "Danh sách")))
    return path


# ----- all of them -------------------------------------------------------------------------------

def write_all(folder: Path) -> dict[str, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    return {
        "csv": write_csv(folder / "hoso.csv", title=TITLE, totals=True),
        "tthc-csv": write_csv(folder / "tthc.csv", own=True, delimiter=",", encoding="utf-8"),
        "utf-16": write_csv(folder / "unicode.txt", encoding="utf-16", delimiter="\t"),
        "cp1258": write_csv(folder / "cp1258.csv", encoding="cp1258"),
        "tcvn3": write_csv(folder / "tcvn3.csv", encoding="tcvn3"),
        "vni": write_csv(folder / "vni.csv", encoding="vni"),
        "xlsx": write_xlsx(folder / "hoso.xlsx", title=TITLE, totals=True),
        "xls": write_xls(folder / "hoso97.xls", title=TITLE, totals=True),
        "html": write_html(folder / "hoso.xls", title=TITLE, totals=True),
        "portal-json": write_portal_json(folder / "portal.json"),
        "igate-json": write_igate_json(folder / "igate.json"),
    }


if __name__ == "__main__":
    for name, p in write_all(Path(sys.argv[1] if len(sys.argv) > 1 else "fixtures")).items():
        print(f"{name:12} {p}")
