"""Whatever bytes a desk hands over, open_export returns rows or raises FileRejected: nothing else.

Random bytes (behind the magic numbers the format detection looks at) and structured-but-broken
CSV, JSON and HTML go through open_export, every row is iterated and parsed. Any other exception
is a reader bug: fix the reader, do not widen an except.
"""

from __future__ import annotations

import json
import os
import struct

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from tests import fixtures_gen as fx
from tests.conftest import examples
from tracker.calendar import WorkCalendar
from tracker.ingest.readers import FORMATS, FileRejected, open_export
from tracker.ingest.rows import parse_row

CAL = WorkCalendar()
# TTHC_FUZZ_EXAMPLES=5000 for a longer hunt
FUZZ = settings(max_examples=int(os.environ.get("TTHC_FUZZ_EXAMPLES", examples(200))), deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

MAGIC = [b"", b"PK\x03\x04", b"PK\x05\x06", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", b"\xef\xbb\xbf", b"\xff\xfe",
         b"\xfe\xff", b"<", b"\xef\xbb\xbf<table>", b"{", b"[", b" \r\n[{", b"<?xml version='1.0'?>"]
formats = st.sampled_from([None] * 8 + list(FORMATS))  # mostly detected, sometimes told wrong

VIET = "Đđăâêôơưàáảãạằắẳẵặầấẩẫậèéẻẽẹềếểễệìíỉĩịòóỏõọồốổỗộờớởỡợùúủũụừứửữựỳýỷỹỵ"
cell_text = st.text(alphabet=st.sampled_from(list(VIET + "aAbc019 /:-.,;\t\"'\r\n\\<>&#x{}[]\x00\u00a0µ¸ø")),
                    max_size=30)


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return tmp_path_factory.mktemp("fuzz")


def consume(path, fmt) -> None:
    try:
        src, cmap, rows = open_export(path, fmt)
        n = 0
        for n, (line, cells) in enumerate(rows, 1):  # noqa: B007
            assert isinstance(line, int) and isinstance(cells, list)
            assert all(isinstance(c, str) and c == c.strip() for c in cells)
            parse_row(line, cells, cmap, CAL)
    except FileRejected as exc:
        # what and where: the file first (then the part, sheet, row or cell where known), one line
        assert str(exc).startswith(path.name) or str(exc).startswith("unknown format"), str(exc)
        assert "\n" not in str(exc), str(exc)
        event(f"rejected: {str(exc).split(':')[1].strip()[:24]}")
        return
    assert len(src.sha256) == 64 and src.format in FORMATS
    event(f"read {src.format}, {'some' if n else 'no'} rows")


@FUZZ
@given(magic=st.sampled_from(MAGIC), body=st.binary(max_size=3000), fmt=formats)
def test_random_bytes(folder, magic, body, fmt):
    path = folder / "random.xls"
    path.write_bytes(magic + body)
    consume(path, fmt)


plausible = st.one_of(cell_text, st.sampled_from([
    "HS-1", "HS-1", "", "02/03/2026 08:00:00", "31/02/2026", "2026-03-02T01:00:00.000+0000", "45678.5", "99999",
    "20260302080000", "Đang xử lý", "Đã trả kết quả", "4", "11", "Trực tuyến", "3 ngày làm việc", "0,5 ngày",
    "Sở Tư pháp", "Tổng cộng", "=HYPERLINK(\"x\")", "x" * 300]))


@st.composite
def broken_csv(draw) -> bytes:
    header = list(draw(st.sampled_from([fx.VI_HEADER, fx.TTHC_HEADER])))
    header = draw(st.permutations(header)) if draw(st.booleans()) else header
    header = header[: draw(st.integers(len(header) - 3, len(header)))]
    rows = draw(st.lists(st.lists(plausible, min_size=len(header) - 2, max_size=len(header) + 2), max_size=8))
    delimiter = draw(st.sampled_from([";", ",", "\t"]))
    title = draw(st.lists(cell_text, max_size=3))
    text = "\r\n".join([*title, delimiter.join(header), *(delimiter.join(r) for r in rows)])
    encoding = draw(st.sampled_from(list(fx.ENCODERS)))
    try:
        data = fx.ENCODERS[encoding](text)
    except (UnicodeError, ValueError):  # a character the legacy encoding cannot write
        data = text.encode("utf-8")
    if draw(st.integers(0, 3)) == 0:
        data = data[: draw(st.integers(0, len(data)))]
    if draw(st.integers(0, 3)) == 0:
        at = draw(st.integers(0, len(data)))
        data = data[:at] + draw(st.binary(min_size=1, max_size=4)) + data[at:]
    return data


@FUZZ
@given(data=broken_csv(), fmt=formats)
def test_broken_csv(folder, data, fmt):
    path = folder / "broken.csv"
    path.write_bytes(data)
    consume(path, fmt)


json_scalar = st.one_of(st.none(), st.booleans(), st.integers(-10**20, 10**20),
                        st.floats(allow_nan=True, allow_infinity=True), plausible)
json_keys = st.sampled_from(["MaHoSo", "NgayTiepNhan", "TrangThaiHoSo", "DonViXuLy", "NgayHenTra", "KenhThucHien",
                             "DanhSachHoSoBoSung", "NgayBoSung", "code", "acceptedDate", "appointmentDate",
                             "dossierStatus", "applyMethod", "agency", "procedure", "sector", "name", "id",
                             "processingTime", "processingTimeUnit", "dueDate", "data", "content", "items", "x"])
json_values = st.recursive(json_scalar, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(json_keys, inner, max_size=6)), max_leaves=20)


@st.composite
def broken_json(draw) -> str:
    """Real portal / iGate records with values swapped for junk, keys dropped, the text damaged."""
    records = [fx.portal_record(d) for d in fx.DOSSIERS] if draw(st.booleans()) else \
        [fx.igate_record(d, n) for n, d in enumerate(fx.DOSSIERS, 1)]
    for rec in records:
        for key in draw(st.lists(st.sampled_from(sorted(rec)), max_size=4)):
            if draw(st.booleans()):
                rec[key] = draw(json_values)
            else:
                rec.pop(key, None)
    doc = draw(st.sampled_from(["list", "data", "content", "DanhSachHoSo", "junk"]))
    body = records if doc == "list" else {doc: records, "totalPages": 1} if doc != "junk" else draw(json_values)
    text = json.dumps(body, ensure_ascii=draw(st.booleans()))
    damage = draw(st.integers(0, 5))
    at = draw(st.integers(0, len(text)))
    return [text, text, text, text[:at], text[:at] + "}" + text[at:], text[:at] + "\x00" + text[at + 1:]][damage]


@FUZZ
@given(text=broken_json(), fmt=formats)
def test_broken_json(folder, text, fmt):
    path = folder / "broken.json"
    path.write_text(text, encoding="utf-8")
    consume(path, fmt)


html_parts = st.sampled_from(["<table>", "</table>", "<tr>", "</tr>", "<td>", "</td>", "<th>", "<td colspan=3>",
                              "<td colspan='999999999'>", "<br>", "<br/>", "&amp;", "&nbsp;", "&#x110000;", "&bogus;",
                              "<!--", "-->", "<![CDATA[", "]]>", "<![if !x]>", "<![endif]>", "<![foo]>", "<![ ",
                              "<!DOCTYPE html>", "<?xml ?>", "<script>", "</script>", "<style>", "<title>",
                              '<meta charset="windows-1258">', '<meta charset="utf-16">', "<Row ss:Index='70000'>",
                              "<Cell ss:Index='5000'>", "<Cell ss:MergeAcross='7'>", "<p>", "</div>", "<", ">",
                              "Mã hồ sơ", "Ngày tiếp nhận", "Trạng thái", "Đơn vị", "Tổng cộng", "HS-1",
                              "02/03/2026", "Đang xử lý"])


@st.composite
def broken_html(draw) -> bytes:
    """A real HTML export with tags, entities and text thrown in at random places."""
    text = fx.html_text(title=fx.TITLE, totals=draw(st.booleans()), layout_table=draw(st.booleans()))
    for _ in range(draw(st.integers(0, 8))):
        at = draw(st.integers(0, len(text)))
        cut = draw(st.integers(0, 3)) == 0
        insert = draw(st.one_of(html_parts, plausible))
        text = text[:at] + insert + text[at + (draw(st.integers(1, 40)) if cut else 0):]
    return (b"\xef\xbb\xbf" if draw(st.booleans()) else b"") + text.encode("utf-8")


@FUZZ
@given(data=broken_html(), fmt=formats)
def test_broken_html(folder, data, fmt):
    path = folder / "broken.xls"
    path.write_bytes(data)
    consume(path, fmt)


@FUZZ
@given(parts=st.lists(st.one_of(html_parts, cell_text), max_size=60), fmt=formats)
def test_html_tag_soup(folder, parts, fmt):
    path = folder / "soup.xls"
    path.write_bytes(("<html>" + "".join(parts)).encode("utf-8"))
    consume(path, fmt)


class Workbooks:
    """The real workbooks the damage is done to. Short in a repr: hypothesis prints a failing
    example's fixtures with it, and the bytes themselves made a 52 kB line."""

    def __init__(self, folder) -> None:  # noqa: ANN001
        self.data = {"xls": fx.write_xls(folder / "base.xls", title=fx.TITLE, totals=True).read_bytes(),
                     "xlsx": fx.write_xlsx(folder / "base.xlsx", title=fx.TITLE, totals=True).read_bytes()}

    def __getitem__(self, kind: str) -> bytes:
        return self.data[kind]

    def __repr__(self) -> str:
        return "Workbooks(" + ", ".join(f"{k}=<{len(v)} bytes>" for k, v in self.data.items()) + ")"


@pytest.fixture(scope="module")
def workbooks(folder):
    return Workbooks(folder)


def damage(data: bytes, flips: list[tuple[int, int]], cut: int | None) -> bytes:
    """`data` with bytes set (offset, value; offsets wrap) and cut after `cut` bytes: an example
    is these few numbers, not a copy of the file."""
    out = bytearray(data)
    for at, value in flips:
        out[at % len(out)] = value
    return bytes(out if cut is None else out[: cut % (len(out) + 1)])


damage_args = dict(kind=st.sampled_from(["xls", "xlsx"]),
                   flips=st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 255)), max_size=6),
                   cut=st.one_of(st.none(), st.integers(0, 10**6)))


@FUZZ
@given(**damage_args, fmt=formats)
def test_damaged_workbooks(folder, workbooks, kind, flips, cut, fmt):
    path = folder / f"damaged.{kind}"
    path.write_bytes(damage(workbooks[kind], flips, cut))
    consume(path, fmt)


# ----- what this fuzz found (it was marked xfail, as an intermittent defect) -------------------------

def test_an_xls_cut_short_inside_its_sectors_is_rejected(folder, workbooks):
    """The 512-byte header alone (the smallest example hypothesis found: no flips, cut=512), or
    the file cut inside a sector: the compound file walk read a short sector and struct.unpack
    raised struct.error; cut elsewhere, calamine panicked on a short directory sector."""
    cases = {512: "its header lists 1 FAT sectors, the file holds 0 sectors",
             542: "its header lists 1 FAT sectors, the file holds 0 sectors",
             1500: "sector 1 (bytes 1024–1536) is beyond the end of the file (1500 bytes)",
             3000: "its Workbook stream declares 7203 bytes, the file holds 3000",
             9000: "sector 16 (bytes 8704–9216) is beyond the end of the file (9000 bytes)"}
    assert len(workbooks["xls"]) == 9216
    for cut, reason in cases.items():
        path = folder / "cut.xls"
        path.write_bytes(workbooks["xls"][:cut])
        with pytest.raises(FileRejected) as info:
            open_export(path)
        assert str(info.value) == f"cut.xls: not a readable Excel workbook ({reason}: the file is cut short or damaged)"


def _central_entry(data: bytes, name: bytes) -> int:
    """Where the zip's central directory entry of `name` starts."""
    at = data.find(b"PK\x01\x02")
    while data[at:at + 4] == b"PK\x01\x02":
        name_len, extra_len, comment_len = struct.unpack_from("<HHH", data, at + 28)
        if data[at + 46:at + 46 + name_len] == name:
            return at
        at += 46 + name_len + extra_len + comment_len
    raise AssertionError(name)


def test_a_zip_part_flagged_encrypted_is_rejected_not_raised(folder, workbooks):
    """One bit (the central directory's 'encrypted' flag) made zipfile raise RuntimeError, which
    escaped the reader."""
    for part in (b"xl/worksheets/sheet1.xml", b"docProps/app.xml"):
        data = bytearray(workbooks["xlsx"])
        data[_central_entry(data, part) + 8] |= 0x01
        path = folder / "locked.xlsx"
        path.write_bytes(bytes(data))
        with pytest.raises(FileRejected, match=rf"^locked.xlsx \({part.decode()}\): not a readable Excel workbook "
                                               r"\(this part is encrypted; a workbook with a password must be saved "
                                               r"again without it\)$"):
            open_export(path)


def test_a_damaged_zip_says_which_part_and_is_not_called_unreadable(folder, workbooks):
    """A central directory pointing before the start of the file came out as 'cannot be read
    (Invalid argument)', as if the disk had failed."""
    data = bytearray(workbooks["xlsx"])
    end = data.rfind(b"PK\x05\x06")
    offset, = struct.unpack_from("<I", data, end + 16)
    struct.pack_into("<I", data, end + 16, offset + (14 << 16))  # one byte, as the fuzz had it
    path = folder / "offset.xlsx"
    path.write_bytes(bytes(data))
    with pytest.raises(FileRejected) as info:
        open_export(path)
    assert str(info.value) == ("offset.xlsx (xl/worksheets/sheet1.xml): not a readable Excel workbook (this part is "
                               "damaged: an offset before the start of the file)")
    deflated = bytearray(workbooks["xlsx"])
    at = _central_entry(deflated, b"xl/worksheets/sheet1.xml")
    start, = struct.unpack_from("<I", deflated, at + 42)
    name_len, extra_len = struct.unpack_from("<HH", deflated, start + 26)
    deflated[start + 30 + name_len + extra_len + 5] ^= 0xFF  # inside the sheet's deflate stream
    path.write_bytes(bytes(deflated))
    with pytest.raises(FileRejected, match=r"^offset.xlsx \(xl/worksheets/sheet1.xml\): not a readable Excel "
                                           r"workbook \(this part is damaged: "):
        open_export(path)


# ----- hostile structure, through the whole import, in a child process with a memory limit ----------
#
# Issue 12: every reader driven with what an attacker would hand over — huge declared and real
# extents, deep nesting, control characters, absurd numbers and dates — through import_file into a
# real database, in a forked child whose address space may grow by HOSTILE_MB and which is stopped
# after HOSTILE_SECONDS. A clean outcome: every row stored or rejected (the run balances), or the
# file rejected with a one-line reason; never an abort (the child would die), a hang, a traceback
# (an exception out of import_file) or an internal error turned into a failed run.

HOSTILE = settings(max_examples=int(os.environ.get("TTHC_FUZZ_HOSTILE_EXAMPLES", examples(25))), deadline=None,
                   database=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                                         HealthCheck.function_scoped_fixture])
HOSTILE_MB, HOSTILE_SECONDS = 1024, 60
HOSTILE_DAMAGE = settings(HOSTILE, max_examples=int(os.environ.get("TTHC_FUZZ_HOSTILE_EXAMPLES", "25")) * 2)

absurd = st.sampled_from([
    "31/12/9999 23:59:59", "01/01/0001 00:00:00", "00/00/0000", "29/02/2100 08:00:00", "99999999999999", "2958465.99",
    "0.0000001", "-45678", "1e308", "-1e308", "NaN", "inf", "9" * 400, "9999999 ngày làm việc",
    "99999999999 giờ làm việc", "1827 ngày", "366 ngày làm việc", "0,0000001 ngày", "-3 ngày",
    "HS\x00-1", "Sở\x1b[31m Tư pháp\u202e", "\x85\x9b\x7f", "\ud800", "\ufeff\ufffe", "\t\r\n", "'=1+1",
    "Đang xử lý\x00", "11", "0", "4" * 30])
hostile_text = st.one_of(plausible, absurd, st.text(max_size=20))
hostile_number = st.one_of(st.integers(-(10 ** 20), 10 ** 20), st.floats(allow_nan=True, allow_infinity=True))


@pytest.fixture(scope="module")
def fuzz_settings(tmp_path_factory):
    from tracker.config import load_settings
    from tracker.db import make_engine, upgrade

    where = tmp_path_factory.mktemp("fuzzdb")
    url = f"sqlite:///{where / 'fuzz.db'}"
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    # limits that agree with the child's memory: the reader's grid (~32 bytes a cell, twice while it
    # grows) fits in HOSTILE_MB; the defaults assume import.upload_memory_mb's 4 GB
    return load_settings(env={}, overrides={"database.url": url, "paths.var_dir": str(where / "var"),
                                            "import.max_cells": 4_000_000, "import.max_rows": 200_000})


def import_cleanly(fuzz_settings, path, fmt=None) -> None:  # noqa: ANN001
    from tests import hostile as hx
    from tracker.db import make_engine
    from tracker.ingest import import_file

    def call() -> tuple:
        engine = make_engine(fuzz_settings.get("database.url"))
        try:
            res = import_file(engine, fuzz_settings, path, fmt=fmt)
        finally:
            engine.dispose()
        if res.status == "failed":
            assert res.message and "\n" not in res.message, res.message
            assert "internal error" not in res.message, res.message
        else:
            assert res.balanced and res.status in ("done", "partial"), res
        return res.status, res.rows_read, res.message[:120]

    kind, outcome = hx.in_child(call, memory_mb=HOSTILE_MB, seconds=HOSTILE_SECONDS)
    assert kind == "ok", f"{kind}: {outcome}"
    event(f"{outcome[0]}: {outcome[2].split(': ', 1)[-1][:30]}" if outcome[0] == "failed" else outcome[0])


@st.composite
def hostile_xlsx(draw) -> bytes:
    from tests import hostile as hx

    rows = [list(hx.HEADER)] + draw(st.lists(st.lists(st.one_of(hostile_text, st.integers(0, 10 ** 12)),
                                                      max_size=6), max_size=6))
    rows = [[v.replace("\x00", "") if isinstance(v, str) else v for v in r] for r in rows]  # XML 1.0 has no NUL
    rows = [[v.encode("utf-8", "replace").decode() if isinstance(v, str) else v for v in r] for r in rows]
    extra = ""
    for kind in draw(st.lists(st.sampled_from(["far", "wide", "unnumbered", "badref", "types", "rows"]), max_size=3)):
        if kind == "far":
            row, col = draw(st.integers(1, 3_000_000)), draw(st.integers(1, 20_000))
            extra += f'<row r="{row}"><c r="{hx.column_letters(col)}{row}"><v>1</v></c></row>'
        elif kind == "wide":
            extra += "<row>" + "<c><v>7</v></c>" * draw(st.integers(1, 5000)) + "</row>"
        elif kind == "unnumbered":
            extra += "<row><c><v>1</v></c></row>" * draw(st.integers(1, 20_000))
        elif kind == "badref":
            extra += draw(st.sampled_from(['<row r="0"><c r="A0"><v>1</v></c></row>', '<row r="-5"/>',
                                           '<row r="99999999999999"><c r="ZZZZ1"><v>1</v></c></row>',
                                           '<row r="7"><c r="7A"><v>1</v></c></row>']))
        elif kind == "types":
            extra += "<row>" + draw(st.sampled_from([
                '<c t="s"><v>99999</v></c>', '<c t="e"><v>#REF!</v></c>', '<c t="d"><v>9999-12-31T00:00:00</v></c>',
                '<c t="n"><v>1e999</v></c>', '<c t="b"><v>7</v></c>', "<c><v>abc</v></c>",
                '<c s="999999"><v>45678</v></c>'])) + "</row>"
        else:
            extra += "".join(f"<row><c t=\"inlineStr\"><is><t>HS-{i}</t></is></c></row>" for i in range(3000))
    dimension = draw(st.one_of(st.none(), st.sampled_from(["A1:XFD1048576", "A1:D7", "A1", "A1:ZZZZ99999999", ":",
                                                           "B2:A1", "A1:XFD1"])))
    return hx.sheet_xml(rows, dimension=dimension, extra=extra).encode("utf-8")


@HOSTILE
@given(sheet=hostile_xlsx(), fmt=st.sampled_from([None, None, None, "xlsx", "csv"]))
def test_hostile_xlsx(folder, fuzz_settings, sheet, fmt):
    from tests import hostile as hx

    path = hx.xlsx(folder / "hostile.xlsx", sheet)
    import_cleanly(fuzz_settings, path, fmt)


@HOSTILE
@given(cells=st.lists(st.tuples(st.integers(1, 65535), st.integers(0, 255), st.one_of(hostile_text, hostile_number)),
                      max_size=12),
       dimensions=st.one_of(st.none(), st.tuples(st.integers(0, 2 ** 32 - 1), st.integers(0, 2 ** 32 - 1),
                                                 st.integers(0, 65535), st.integers(0, 65535))),
       fmt=st.sampled_from([None, None, "xls", "xlsx"]))
def test_hostile_xls(folder, fuzz_settings, cells, dimensions, fmt):
    from tests import hostile as hx

    header = [(0, i, h) for i, h in enumerate(hx.HEADER)]
    body = [(r, c, float(v) if isinstance(v, int) else v.encode("utf-16-le", "replace").decode("utf-16-le")
             if isinstance(v, str) else v) for r, c, v in cells]
    body = [(r, c, v[:200] if isinstance(v, str) else v) for r, c, v in body]
    try:
        data = hx.biff8(header + body, dimensions=dimensions)
    except ValueError:  # more than the small compound file writer holds
        return
    path = folder / "hostile97.xls"
    path.write_bytes(data)
    import_cleanly(fuzz_settings, path, fmt)


hostile_html_parts = st.one_of(html_parts, st.sampled_from([
    "<table>" * 300, "</table>" * 50, "<td colspan=999999>", "<td colspan=256>" * 200, "<Row ss:Index='2000000'>",
    "<Row ss:Index='1000'>" * 300, "<Cell ss:Index='99999'>", "&#0;", "&#x1b;[2J", "&#x202e;", "&#x85;", "&#xd800;",
    "&#99999999999;", "<tr>" * 2000, "<td>x</td>" * 3000]), absurd)


@HOSTILE
@given(parts=st.lists(hostile_html_parts, max_size=40), fmt=st.sampled_from([None, None, "html", "xls"]))
def test_hostile_html(folder, fuzz_settings, parts, fmt):
    head = "<table><tr><td>Mã hồ sơ</td><td>Đơn vị tiếp nhận</td><td>Ngày tiếp nhận</td><td>Trạng thái</td></tr>"
    path = folder / "hostile.xls"
    path.write_bytes(("<html>" + head + "".join(parts)).encode("utf-8", "surrogatepass"))
    import_cleanly(fuzz_settings, path, fmt)


@st.composite
def hostile_csv(draw) -> bytes:
    header = ["STT", "Mã hồ sơ", "Đơn vị tiếp nhận", "Ngày tiếp nhận", "Ngày hẹn trả", "Trạng thái",
              "Thời hạn giải quyết", "Kênh nộp"]
    delimiter = draw(st.sampled_from([";", ",", "\t"]))
    rows = draw(st.lists(st.lists(st.one_of(hostile_text, hostile_number.map(str)), min_size=len(header),
                                  max_size=len(header) + 3), max_size=8))
    lines = [delimiter.join(header)]
    for row in rows:
        lines.append(delimiter.join('"' + c.replace('"', '""') + '"' if draw(st.booleans()) else c for c in row))
    if draw(st.integers(0, 4)) == 0:
        lines.append('"' + "x" * draw(st.integers(1, 200_000)))  # a quote left open to the end of the file
    text = "\r\n".join(lines)
    encoding = draw(st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "cp1258"]))
    return text.encode(encoding, "surrogatepass" if encoding.startswith("utf-8") else "replace")


@HOSTILE
@given(data=hostile_csv(), fmt=st.sampled_from([None, None, "csv", "tthc-csv", "json"]))
def test_hostile_csv(folder, fuzz_settings, data, fmt):
    path = folder / "hostile.csv"
    path.write_bytes(data)
    import_cleanly(fuzz_settings, path, fmt)


@st.composite
def hostile_json(draw) -> str:
    """Portal or iGate records with hostile values, raw number tokens JSON allows but Python balks
    at, lone surrogates, and nesting hundreds of thousands deep."""
    portal = draw(st.booleans())
    records = [fx.portal_record(d) for d in fx.DOSSIERS] if portal else \
        [fx.igate_record(d, n) for n, d in enumerate(fx.DOSSIERS, 1)]
    for rec in records:
        for key in draw(st.lists(st.sampled_from(sorted(rec)), max_size=4)):
            rec[key] = draw(st.one_of(hostile_text, hostile_number, st.just("@RAW@"),
                                      st.dictionaries(json_keys, hostile_text, max_size=3)))
    text = json.dumps({"data": records}, ensure_ascii=draw(st.booleans()), allow_nan=True)
    raw = draw(st.sampled_from(["1e400", "-1e400", "9" * 5000, "1" + "0" * 400, '"\\ud800"', '"\\u0000"',
                                "[" * 200_000 + "]" * 200_000, '{"a":' * 50_000 + "1" + "}" * 50_000]))
    text = text.replace('"@RAW@"', raw)
    if draw(st.integers(0, 5)) == 0:
        depth = draw(st.integers(1, 300_000))
        text = "[" * depth + text + "]" * depth
    return text


@HOSTILE
@given(text=hostile_json(), fmt=st.sampled_from([None, None, "portal-json", "igate-json", "json"]))
def test_hostile_json(folder, fuzz_settings, text, fmt):
    path = folder / "hostile.json"
    path.write_bytes(text.encode("utf-8", "surrogatepass"))
    import_cleanly(fuzz_settings, path, fmt)


@HOSTILE_DAMAGE
@given(**damage_args, fmt=st.sampled_from([None, None, None, "xls", "xlsx"]))
def test_damaged_workbooks_through_the_import(folder, workbooks, fuzz_settings, kind, flips, cut, fmt):
    """The same damage through import_file into a real database, in a child with a memory limit:
    a failed run with a one-line reason, or rows stored and rejected that balance."""
    path = folder / f"damaged-import.{kind}"
    path.write_bytes(damage(workbooks[kind], flips, cut))
    import_cleanly(fuzz_settings, path, fmt)
