"""The import's fast paths give exactly what the general paths give.

- readers.split_lines (str.split for a line without quotes) against csv.reader;
- rows.RowParser (per-file column positions, date shapes learned from the first values,
  caches) against parse_row, row after row, rejections included;
- the SQLite writer (sqlite3 driver, NULLs bound as NULLIF sentinels, booleans as 0/1) against
  what SQLAlchemy itself stores for the same values;
- a file that mixes the shapes, imported into SQLite and PostgreSQL.
"""

from __future__ import annotations

import csv
import io
import sqlite3
from datetime import datetime, timedelta
from unicodedata import normalize

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from sqlalchemy import insert, select

from tests.conftest import examples, write_export
from tracker.calendar import WorkCalendar
from tracker.config import load_settings
from tracker.db import make_engine, upgrade
from tracker.ingest import import_file
from tracker.ingest.columns import ColumnMap, match_header
from tracker.ingest.readers import split_lines
from tracker.ingest.rows import RowParser, parse_row
from tracker.models import Dossier, StatusChange

CAL = WorkCalendar()
FAST = settings(max_examples=examples(300), deadline=None, suppress_health_check=[HealthCheck.too_slow])


# ----- split_lines against csv.reader --------------------------------------------------------------


def _csv_reader_rows(text: str, delimiter: str) -> list[tuple[int, list[str]]]:
    """What the reader did before the fast path: csv.reader over NFC lines, cells stripped."""
    reader = csv.reader((normalize("NFC", ln) for ln in io.StringIO(text, newline="")), delimiter=delimiter)
    return [(reader.line_num, [c.strip() for c in row]) for row in reader]


csv_text = st.text(alphabet=st.sampled_from(list(';,\t"\r\n \x00aBz09/:.-\'ởơđ\u0301\u00a0')), max_size=200)


@FAST
@given(text=csv_text, delimiter=st.sampled_from([";", ",", "\t"]))
def test_split_lines_reads_what_csv_reader_reads(text, delimiter):
    expected = _csv_reader_rows(text, delimiter)
    assert list(split_lines(io.StringIO(text, newline=""), delimiter)) == expected


def test_split_lines_quoted_fields_span_lines_and_keep_delimiters():
    text = 'a;b;c\r\n1;"x;\r\ny";3\r\n"q""q";;\r\n\r\n4;5;6'
    rows = list(split_lines(io.StringIO(text, newline=""), ";"))
    assert rows == [(1, ["a", "b", "c"]), (3, ["1", "x;\r\ny", "3"]), (4, ['q"q', "", ""]), (5, []),
                    (6, ["4", "5", "6"])]
    assert rows == _csv_reader_rows(text, ";")


# ----- RowParser against parse_row -----------------------------------------------------------------

LABELS = {"code": "Mã hồ sơ", "procedure_code": "Mã TTHC", "procedure_name": "Tên thủ tục",
          "unit_name": "Đơn vị tiếp nhận", "applicant_name": "Chủ hồ sơ", "applicant_phone": "Số điện thoại",
          "channel": "Kênh nộp", "received_at": "Ngày tiếp nhận", "due_at": "Ngày hẹn trả",
          "resubmitted_at": "Ngày bổ sung", "rescheduled_due_at": "Ngày hẹn trả mới",
          "finished_at": "Ngày kết thúc xử lý", "returned_at": "Ngày trả kết quả", "status": "Trạng thái",
          "limit_text": "Thời hạn giải quyết"}
OPTIONAL = [f for f in LABELS if f not in ("code", "received_at", "status", "unit_name")]


def _moment_texts(d: datetime) -> list[str]:
    return [d.strftime("%d/%m/%Y %H:%M:%S"), d.strftime("%d/%m/%Y %H:%M"), d.strftime("%d/%m/%Y"),
            d.strftime("%Y%m%d%H%M%S"), d.strftime("%Y-%m-%d %H:%M:%S"), d.strftime("%Y-%m-%dT%H:%M:%S"),
            d.strftime("%Y-%m-%dT%H:%M:%S.000+0000"), d.strftime("%d-%m-%Y %H:%M")]


moments = st.datetimes(min_value=datetime(2024, 1, 1), max_value=datetime(2027, 12, 31)).map(
    lambda d: d.replace(microsecond=0))
ODD_DATES = ["31/02/2026 08:00:00", "29/02/2025", "24/01/2026 25:00:00", "2026-13-01 08:00:00", "45000.5", "hôm qua",
             " 02/03/2026 08:00:00", "2/3/2026 8:00", "0/01/2026 08:00:00", "02/03/2026 08:00:0٣", "20260230080000",
             "2026-03-02T08:00:00+0700", "02/03/2026 08h00"]
# per field: the values real exports are made of, and odd ones
USUAL = {
    "status": st.sampled_from(["Đang xử lý", "Đã trả kết quả", "Đã xử lý xong", "4", "10", "Yêu cầu bổ sung"]),
    "channel": st.sampled_from(["Trực tiếp", "Trực tuyến", "Bưu chính công ích", "2", ""]),
    "limit_text": st.sampled_from(["3 ngày làm việc", "0,5 ngày", "Trong ngày", "8 giờ làm việc", "15 ngày", ""]),
    "code": st.from_regex(r"H48\.[0-9]{4}", fullmatch=True),
}
ODD = {
    "status": st.sampled_from(["1", "Mới đăng ký", "Không được tiếp nhận", "Đang phân vân", ""]),
    "channel": st.sampled_from(["Fax", "0"]),
    "limit_text": st.sampled_from(["ba ngày", "-1 ngày"]),
    "code": st.sampled_from(["", "H48." + "9" * 70, "Tổng cộng", "HS-1"]),
}
plain_text = st.one_of(st.sampled_from(["Sở Tư pháp", "Nguyễn Văn An", "0912345678", "", "1.000123"]),
                       st.text(alphabet="aăâbđ xyz019", max_size=8))
odd_text = st.sampled_from(["'=SUM(1;2)", "'x", "=1+1", "x" * 600, "'@A"])


def _cell(field: str, shape: int, odd: bool, received: datetime):
    """A cell of `field`; date columns keep one shape (the file's) unless the cell is odd, and
    are mostly after the reception."""
    if field.endswith("_at"):
        if odd:
            return st.one_of(st.sampled_from(ODD_DATES), moments.map(lambda d: _moment_texts(d)[(shape + 1) % 8]))
        if field == "received_at":
            return st.just(_moment_texts(received)[shape])
        later = st.integers(0, 2000).map(lambda h: _moment_texts(received + timedelta(hours=h))[shape])
        return st.one_of(st.just(""), later)
    if field in USUAL:
        return ODD[field] if odd else USUAL[field]
    return odd_text if odd else plain_text


@st.composite
def files(draw):
    """A header (the required columns and some others, in some order) and rows for it: mostly
    the usual values in one date shape per file, now and then an odd cell or a short row."""
    fields = ["code", "received_at", "status", "unit_name"] + draw(st.lists(st.sampled_from(OPTIONAL), unique=True))
    fields = draw(st.permutations(fields))
    header = [LABELS[f] for f in fields] + draw(st.sampled_from([[], ["STT"], ["Ghi chú", "STT"]]))
    shape = draw(st.integers(0, 7))
    rows = []
    for _ in range(draw(st.integers(1, 12))):
        received = draw(moments)
        cells = [draw(_cell(f, shape, draw(st.integers(0, 14)) == 0, received)) for f in fields]
        cells += ["x"] * (len(header) - len(fields))
        cut = draw(st.sampled_from([None] * 12 + [len(cells) - 1, 2]))
        rows.append(cells[:cut] if cut is not None else cells)
    return header, rows


@FAST
@given(file=files())
def test_row_parser_gives_what_parse_row_gives(file):
    header, rows = file
    cmap = match_header(header)
    parser = RowParser(cmap, CAL)  # one per file: shapes and caches carry from row to row
    for line, cells in enumerate(rows, 2):
        expected = parse_row(line, cells, cmap, CAL)
        event("fast path" if len(cells) >= parser.width and parser.fast(cells) is not None else "parse_row")
        assert parser.parse(line, cells) == expected, (line, cells)


def test_a_column_that_changes_date_format_half_way():
    cmap = match_header(["Mã hồ sơ", "Ngày tiếp nhận", "Trạng thái", "Đơn vị", "Ngày hẹn trả"])
    parser = RowParser(cmap, CAL)
    rows = [["A", "02/03/2026 08:00:00", "4", "U", "05/03/2026"],  # shapes learned here
            ["B", "2026-03-02 08:00:00", "4", "U", "2026-03-05 17:00:00"],  # another shape: parse_row reads it
            ["C", "20260302080000", "4", "U", "05/03/2026 10:00"],
            ["D", "31/02/2026 08:00:00", "4", "U", ""]]  # impossible: parse_row's rejection
    assert parser.fast(rows[0]) is not None  # the common shape: read by slicing, not by parse_row
    results = [parser.parse(i, r) for i, r in enumerate(rows, 2)]
    assert [parser.fast(r) is not None for r in rows] == [True, False, False, False]
    assert results == [parse_row(i, r, cmap, CAL) for i, r in enumerate(rows, 2)]
    assert [r["received_at"] for r, _ in results[:3]] == [datetime(2026, 3, 2, 8, 0)] * 3
    assert results[0][0]["due_at"] == CAL.day_end(datetime(2026, 3, 5).date())  # a promised day: its end
    assert results[3][0] is None and "day is out of range" in results[3][1].reason


def test_row_parser_reads_a_file_without_optional_columns():
    cmap = ColumnMap({"code": 0, "received_at": 1, "status": 2, "unit_name": 3}, ["a", "b", "c", "d"])
    rec, rej = RowParser(cmap, CAL).parse(2, ["HS-1", "02/03/2026 08:00:00", "Đang xử lý", "Sở"])
    assert rej is None and rec == parse_row(2, ["HS-1", "02/03/2026 08:00:00", "Đang xử lý", "Sở"], cmap, CAL)[0]
    assert rec["channel"] is None and rec["limit"] is None and rec["due_at"] is None


def test_a_mapping_to_a_field_parse_row_does_not_read_is_ignored_alike():
    cmap = ColumnMap({"code": 0, "received_at": 1, "status": 2, "unit_name": 3, "remarks": 4}, list("abcde"))
    cells = ["HS-1", "02/03/2026 08:00:00", "4", "Sở", "ghi chú"]
    assert RowParser(cmap, CAL).parse(2, cells) == parse_row(2, cells, cmap, CAL)
    assert RowParser(cmap, CAL).fast(cells) is not None


# ----- what the SQLite writer stores -----------------------------------------------------------------


ROWS = [
    ["HS-1", "1.000001", "Cấp phép", "Sở Xây dựng", "Nguyễn Văn A", "0912345678", "Trực tuyến",
     "02/03/2026 08:00:00", "20/03/2026 08:00:00", "", "", "19/03/2026 15:00:00", "19/03/2026 16:00:00",
     "Đã trả kết quả", "10 ngày làm việc"],
    ["HS-2", "1.000001", "Cấp phép", "Sở Xây dựng", "", "", "", "02/03/2026 09:00:00", "", "", "", "", "",
     "Đang xử lý", ""],
    ["HS-3", "1.000002", "Đăng ký", "Sở Xây dựng", "'=1+1", "", "2", "2026-03-03 16:30:00", "04/03/2026",
     "05/03/2026 08:00", "", "", "", "Đã xử lý xong", "Trong ngày"],
    ["HS-4", "", "Thủ tục lạ", "UBND xã A", "Trần B", "", "Bưu chính công ích", "03/03/2026 07:00:00",
     "01/03/2026 07:00:00", "", "", "", "", "Đang xử lý", ""],  # due before receipt: rejected
]
HEADER = ["Mã hồ sơ", "Mã TTHC", "Tên thủ tục", "Đơn vị tiếp nhận", "Chủ hồ sơ", "Số điện thoại", "Kênh nộp",
          "Ngày tiếp nhận", "Ngày hẹn trả", "Ngày bổ sung", "Ngày hẹn trả mới", "Ngày kết thúc xử lý",
          "Ngày trả kết quả", "Trạng thái", "Thời hạn giải quyết"]


def _raw_rows(path) -> list[tuple]:
    """Every dossier column as SQLite holds it: storage class and value."""
    with sqlite3.connect(path) as conn:
        cols = [r[1] for r in conn.execute("PRAGMA table_info(dossier)")]
        select_list = ", ".join(f"typeof({c}), {c}" for c in cols if c != "id")
        rows = conn.execute(f"SELECT {select_list} FROM dossier ORDER BY code").fetchall()
    conn.close()
    return rows


def test_the_sqlite_writer_stores_what_sqlalchemy_stores(tmp_path):
    """The driver-level upsert binds NULL as a sentinel and booleans as integers for speed: the
    stored rows must be the ones SQLAlchemy writes from the same values."""
    path = write_export(tmp_path / "a.csv", ROWS, header=HEADER)
    urls = {name: f"sqlite:///{tmp_path / name}.db" for name in ("fast", "orm")}
    engines = {name: make_engine(url) for name, url in urls.items()}
    for e in engines.values():
        upgrade(e)
    res = import_file(engines["fast"], load_settings(env={}, overrides={"database.url": urls["fast"]}), path)
    assert (res.inserted, res.rejected) == (3, 1)
    with engines["fast"].connect() as conn:
        values = [dict(r) for r in conn.execute(select(Dossier.__table__)).mappings()]
        catalogue = {t: conn.execute(select(Dossier.metadata.tables[t])).mappings().all()
                     for t in ("import_run", "unit", "procedure")}  # parents first: unit.created_by_run_id
    assert any(v["limit_unit"] is None for v in values) and any(v["result_class"] is None for v in values)
    with engines["orm"].begin() as conn:
        for table, rows in catalogue.items():
            conn.execute(insert(Dossier.metadata.tables[table]), [dict(r) for r in rows])
        conn.execute(insert(Dossier.__table__), values)
    for e in engines.values():
        e.dispose()
    assert _raw_rows(tmp_path / "fast.db") == _raw_rows(tmp_path / "orm.db")


def test_a_file_of_mixed_shapes_imports_alike_on_both_backends(db_url, tmp_path):
    """Quoted fields with a line break and a delimiter inside, dates in several shapes in one
    column, a row the fast path hands back to parse_row: the same stored values on SQLite and
    PostgreSQL, and every row accounted for."""
    rows = [list(r) for r in ROWS]
    rows[1][2] = "Cấp phép;\nxây dựng"  # quoted by the writer: read through csv.reader
    rows += [["HS-5", "1.000001", "Cấp phép", "Sở Xây dựng", "", "", "1", "20260304080000", "2026-03-06T17:00:00",
              "", "", "", "", "4", ""]]
    path = write_export(tmp_path / "a.csv", rows, header=HEADER)
    engine = make_engine(db_url)
    res = import_file(engine, load_settings(env={}, overrides={"database.url": db_url}), path)
    assert (res.rows_read, res.inserted, res.rejected) == (5, 4, 1) and res.balanced
    assert res.rejections[0].line == 6 and "before the reception" in res.rejections[0].reason
    with engine.connect() as conn:
        got = {r.code: r for r in conn.execute(select(Dossier.code, Dossier.received_at, Dossier.due_at,
                                                      Dossier.resubmitted_at, Dossier.applicant_name))}
    assert got["HS-5"].received_at == datetime(2026, 3, 4, 8, 0)
    assert got["HS-5"].due_at == datetime(2026, 3, 6, 17, 0)
    assert got["HS-3"].due_at == CAL.day_end(datetime(2026, 3, 4).date())
    assert got["HS-3"].resubmitted_at == datetime(2026, 3, 5, 8, 0)
    assert got["HS-3"].applicant_name == "=1+1"  # our own export's escape removed, as parse_row does
    again = import_file(engine, load_settings(env={}, overrides={"database.url": db_url}), path)
    assert (again.unchanged, again.inserted, again.updated, again.rejected) == (4, 0, 0, 1)
    engine.dispose()


def test_history_of_new_and_changed_dossiers_in_one_batch(db_url, tmp_path):
    """New dossiers' history is written for the rows the upsert inserted, status changes of
    stored ones by code: each entry on its own dossier, none for a row that did not change."""
    engine = make_engine(db_url)
    settings = load_settings(env={}, overrides={"database.url": db_url})
    first = [list(ROWS[0]), list(ROWS[1])]
    import_file(engine, settings, write_export(tmp_path / "a.csv", first, header=HEADER))
    second = [list(ROWS[1]), list(ROWS[0]), list(ROWS[2])]
    second[0][13] = "Đã xử lý xong"  # HS-2 finished: a status change
    second[0][11] = "05/03/2026 10:00:00"
    res = import_file(engine, settings, write_export(tmp_path / "b.csv", second, header=HEADER))
    assert (res.updated, res.unchanged, res.inserted) == (1, 1, 1)
    d, h = Dossier.__table__.c, StatusChange.__table__.c
    with engine.connect() as conn:
        got = conn.execute(select(d.code, h.previous_status, h.status, h.import_run_id)
                           .join_from(StatusChange.__table__, Dossier.__table__, h.dossier_id == d.id)
                           .order_by(d.code, h.import_run_id)).all()
    assert [tuple(r) for r in got] == [("HS-1", None, 10, 1), ("HS-2", None, 4, 1), ("HS-2", 4, 9, 2),
                                       ("HS-3", None, 9, 2)]
    engine.dispose()


def _data_hash_as_stored(row) -> str:
    """The data hash as the first release computed it (stored in every dossier: it must not change)."""
    import hashlib
    from datetime import datetime

    from tracker.ingest.writer import DATA_FIELDS

    parts = []
    for f in DATA_FIELDS:
        v = row[f]
        parts.append(v.isoformat() if isinstance(v, datetime) else "" if v is None else str(v))
    return hashlib.blake2b("\x1f".join(parts).encode(), digest_size=16).hexdigest()


def test_the_data_hash_stays_what_is_stored():
    """Over the parsed rows of generated files. A file whose every row is rejected compares
    nothing (a sixth of them, as `files` makes them), so the examples count the rows they
    compared, and most must have compared some: were parse_row to reject every row, or `files`
    to make only rows it rejects, this fails instead of passing having checked nothing."""
    from tracker.ingest.writer import SOURCE_FIELDS, data_hash

    compared: list[int] = []  # per example, the rows whose hashes were compared

    @FAST
    @given(file=files(), ids=st.tuples(st.integers(1, 10**6), st.none() | st.integers(1, 10**6)),
           limit=st.none() | st.tuples(st.floats(0.5, 60, allow_nan=False), st.sampled_from(["wd", "d", "h"])))
    def check(file, ids, limit):
        header, rows = file
        cmap = match_header(header)
        n = 0
        for line, cells in enumerate(rows, 2):
            rec, _ = parse_row(line, cells, cmap, CAL)
            if rec is None:
                continue
            row = {f: rec[f] for f in SOURCE_FIELDS}
            row["unit_id"], row["procedure_id"] = ids
            row["limit_value"], row["limit_unit"] = limit or (None, None)
            assert data_hash(row) == _data_hash_as_stored(row)
            n += 1
        compared.append(n)

    check()
    some = sum(1 for n in compared if n)
    assert compared and some * 2 >= len(compared), \
        f"only {some} of {len(compared)} generated files had a row that parse_row accepts: nothing to compare"
