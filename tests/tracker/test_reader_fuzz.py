"""Whatever bytes a desk hands over, open_export returns rows or raises FileRejected: nothing else.

Random bytes (behind the magic numbers the format detection looks at) and structured-but-broken
CSV, JSON and HTML go through open_export, every row is iterated and parsed. Any other exception
is a reader bug: fix the reader, do not widen an except.
"""

from __future__ import annotations

import json
import os

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from tests import fixtures_gen as fx
from tracker.calendar import WorkCalendar
from tracker.ingest.loader import parse_row
from tracker.ingest.readers import FORMATS, FileRejected, open_export

CAL = WorkCalendar()
# TTHC_FUZZ_EXAMPLES=5000 for a longer hunt
FUZZ = settings(max_examples=int(os.environ.get("TTHC_FUZZ_EXAMPLES", "200")), deadline=None, database=None,
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
        assert path.name in str(exc) or str(exc).startswith("unknown format")
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


@pytest.fixture(scope="module")
def workbooks(folder):
    return {"xls": fx.write_xls(folder / "base.xls", title=fx.TITLE, totals=True).read_bytes(),
            "xlsx": fx.write_xlsx(folder / "base.xlsx", title=fx.TITLE, totals=True).read_bytes()}


@FUZZ
@given(kind=st.sampled_from(["xls", "xlsx"]), flips=st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 255)),
                                                             max_size=6),
       cut=st.one_of(st.none(), st.integers(0, 10**6)), fmt=formats)
def test_damaged_workbooks(folder, workbooks, kind, flips, cut, fmt):
    data = bytearray(workbooks[kind])
    for at, value in flips:
        data[at % len(data)] = value
    path = folder / f"damaged.{kind}"
    path.write_bytes(bytes(data if cut is None else data[: cut % (len(data) + 1)]))
    consume(path, fmt)
