"""Files built to hurt (issue 12): a sheet that claims or holds a cell at XFD1048576, a zip that
expands to two million rows, tables whose few bytes of tags make millions of cells, absurd time
limits and dates, control characters. Each is rejected whole with one line, or row by row, and a
run is recorded; the reader runs in a child process with a memory limit, so that a regression
aborts the child, not the test session."""

from __future__ import annotations

import json
import re
import time

import pytest
from sqlalchemy import select

from cli.main import main
from tests import fixtures_gen as fx
from tests import hostile as hx
from tests.conftest import write_export
from tracker.config import load_settings
from tracker.ingest import import_file
from tracker.ingest.base import ReadLimits
from tracker.ingest.readers import FileRejected, open_export
from tracker.models import Dossier, ImportRun, RejectedRow, Unit


def _read_all(path, limits=ReadLimits()):  # noqa: ANN001, B008
    def call() -> str:
        try:
            _, _, rows = open_export(path, None, None, limits)
            return f"{sum(1 for _ in rows)} rows"
        except FileRejected as exc:
            return f"rejected: {exc}"
    return hx.in_child(call, memory_mb=1500, seconds=60)


# ----- workbooks ----------------------------------------------------------------------------------

def test_a_cell_at_xfd1048576_is_rejected_before_the_reader_allocates(tmp_path):
    path = hx.xlsx(tmp_path / "far.xlsx", hx.sheet_xml(hx.good_rows(), extra='<row r="1048576"><c r="XFD1048576">'
                                                                              "<v>1</v></c></row>"))
    assert path.stat().st_size < 2048
    kind, outcome = _read_all(path)
    assert kind == "ok", outcome  # not "died: signal SIGABRT"
    assert outcome.startswith("rejected: far.xlsx (xl/worksheets/sheet1.xml): 1048576 rows x 16384 columns")
    assert "setting import.max_" in outcome


def test_a_declared_dimension_is_checked_as_if_true(tmp_path):
    path = hx.xlsx(tmp_path / "dim.xlsx", hx.sheet_xml(hx.good_rows(), dimension="A1:XFD1048576"))
    kind, outcome = _read_all(path)
    assert kind == "ok" and "(its declared dimension)" in outcome and "rejected" in outcome


def test_cells_without_references_count_along_their_row(tmp_path):
    wide = '<row r="5">' + "<c><v>1</v></c>" * 2000 + "</row>"  # no r="…": columns 1 to 2000
    path = hx.xlsx(tmp_path / "wide.xlsx", hx.sheet_xml(hx.good_rows(), extra=wide))
    kind, outcome = _read_all(path)
    assert kind == "ok" and "x 2000 columns, more than the 1024 columns" in outcome


def test_a_zip_of_two_million_rows_is_rejected_quickly(tmp_path):
    path = hx.xlsx(tmp_path / "rows.xlsx", hx.many_rows_sheet(2_000_000))
    assert path.stat().st_size < 1 << 20
    started = time.monotonic()
    kind, outcome = _read_all(path)
    assert kind == "ok" and re.search(r"rows.xlsx \(xl/worksheets/sheet1.xml\): \d+ rows x 4 columns, more than "
                                      r"the 1048576 rows an import reads \(setting import.max_rows\)", outcome)
    assert time.monotonic() - started < 30  # was 146 s and 1.9 GB


def test_uncompressed_bytes_are_capped(tmp_path):
    path = hx.xlsx(tmp_path / "big.xlsx", hx.sheet_xml(hx.good_rows(), extra="<!--" + "x" * (3 << 20) + "-->"))
    kind, outcome = _read_all(path, ReadLimits(megabytes=2))
    assert kind == "ok" and "uncompressed, more than the 2 MB an import reads" in outcome


def test_a_style_only_cell_far_away_is_no_reason_to_reject(tmp_path):
    path = hx.xlsx(tmp_path / "styled.xlsx", hx.sheet_xml(hx.good_rows(), extra='<row r="9"><c r="XFD9" s="1"/></row>'))
    assert _read_all(path) == ("ok", "3 rows")


def test_an_ordinary_workbook_streams_its_rows_in_place(tmp_path):
    path = fx.write_xlsx(tmp_path / "hoso.xlsx", title=fx.TITLE, totals=True)
    _, cmap, rows = open_export(path)
    rows = list(rows)
    assert [line for line, _ in rows] == list(range(4, 4 + len(fx.DOSSIERS)))
    assert rows[0][1][cmap.fields["code"]] == fx.DOSSIERS[0].code


def test_an_old_xls_is_held_to_the_same_limits(tmp_path):
    path = fx.write_xls(tmp_path / "old.xls")
    rows = len(fx.DOSSIERS) + 1
    with pytest.raises(FileRejected, match=rf"old.xls: {rows} rows x 18 columns \(its declared dimension\), more "
                                           "than the 2 rows"):
        open_export(path, None, None, ReadLimits(rows=2))
    with pytest.raises(FileRejected, match=rf"{rows} rows x 18 columns \(its declared dimension\), more than the 20 "
                                           "cells"):
        open_export(path, None, None, ReadLimits(cells=20))
    padded = tmp_path / "padded.xls"
    padded.write_bytes(path.read_bytes() + b"\0" * (2 << 20))
    with pytest.raises(FileRejected, match="padded.xls: 2 MB, more than the 1 MB an import reads"):
        open_export(padded, None, None, ReadLimits(megabytes=1))


def test_an_xls_that_forges_its_dimensions_or_hides_a_far_cell_is_rejected_unread(tmp_path):
    header = [(0, i, h) for i, h in enumerate(hx.HEADER)]
    forged = tmp_path / "forged.xls"
    forged.write_bytes(hx.biff8(header, dimensions=(0, 8_815_137, 62_975, 62_972)))  # made calamine abort
    kind, outcome = _read_all(forged)
    assert kind == "ok" and "a damaged or forged file" in outcome
    upside_down = tmp_path / "upside.xls"
    upside_down.write_bytes(hx.biff8(header, dimensions=(2, 1, 0, 4)))  # first row after the last: 29 TB
    assert "a damaged or forged file" in _read_all(upside_down)[1]
    far = tmp_path / "far.xls"  # declares 1 x 4, holds a cell at row 65,536 column 256: a 537 MB grid
    far.write_bytes(hx.biff8([*header, (65535, 255, 1.0)], dimensions=(0, 1, 0, 4)))
    kind, outcome = _read_all(far, ReadLimits(cells=4_000_000))
    assert kind == "ok" and "far.xls: 65536 rows x 256 columns, more than the 4000000 cells" in outcome


# The checks above read a sheet's XML with patterns, for speed; calamine reads it as XML. Each of
# these sheets puts a cell at XFD1048576 (or a grid as large) in a way the patterns did not see,
# and aborted the process that read it: the CLI, the scheduler. calamine now reads in a child with
# a memory cap (tracker.ingest.forked), which these run into.
FAR = {
    "single quotes": "<row r='1048576'><c r='XFD1048576'><v>1</v></c></row>",
    "blanks around =": '<row r = "1048576"><c r = "XFD1048576"><v>1</v></c></row>',
    "lower-case letters": '<row r="1048576"><c r="xfd1048576"><v>1</v></c></row>',
    "a column that wraps round": '<row r="5"><c r="AAAAAAAXFD5"><v>1</v></c></row>',
    "'>' inside an attribute": '<row r="1048576"><c x=">" r="XFD1048576"><v>1</v></c></row>',
    "a row far down, its cell unnumbered": '<row r="5"><c r="AMJ5"><v>1</v></c></row>'
                                           '<row r="1048576"><c><v>1</v></c></row>',
}


@pytest.mark.parametrize("how", FAR)
def test_a_far_cell_the_checks_miss_is_refused_by_the_readers_memory_cap(tmp_path, how):
    path = hx.xlsx(tmp_path / "far.xlsx", hx.sheet_xml(hx.good_rows(), extra=FAR[how]))
    started = time.monotonic()
    kind, outcome = _read_all(path)
    assert kind == "ok", outcome  # was "died: signal SIGABRT"
    # (_read_all's own child has 1500 MB: what is left of it is the tighter cap)
    assert re.fullmatch(r"rejected: far.xlsx: not a readable Excel workbook \(reading it needed more than the \d+ MB "
                        r"of memory left to this import; for an upload, setting import.upload_memory_mb\)",
                        outcome), outcome
    assert time.monotonic() - started < 30


def test_a_sheet_kept_outside_the_worksheets_folder_is_still_held_to_the_limits(tmp_path):
    """The checks look at xl/worksheets/*.xml; the workbook may point its sheet anywhere."""
    far = hx.sheet_xml(hx.good_rows(), extra='<row r="1048576"><c r="XFD1048576"><v>1</v></c></row>')
    path = hx.xlsx(tmp_path / "moved.xlsx", far, part="xl/data.xml")
    kind, outcome = _read_all(path)
    assert kind == "ok" and "moved.xlsx: not a readable Excel workbook (reading it needed more than" in outcome, outcome
    with pytest.raises(FileRejected, match=r"^moved.xlsx: not a readable Excel workbook \(reading it needed more "
                                           r"than the 878 MB a workbook may use: a damaged or forged file, or a sheet "
                                           r"beyond setting import.max_cells\)$"):
        open_export(path, None, None, ReadLimits(cells=4_000_000))  # here, not in a child: this process lives on
    assert _read_all(hx.xlsx(tmp_path / "fine.xlsx", hx.sheet_xml(hx.good_rows()), part="xl/data.xml")) == \
        ("ok", "3 rows")


def test_a_shared_string_table_that_declares_billions_is_rejected_unread(tmp_path):
    """calamine reserves uniqueCount strings before it reads one: a 1 KB file, a 48 GB allocation."""
    sst = ('<?xml version="1.0"?><sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
           'count="1" uniqueCount="2000000000"><si><t>x</t></si></sst>')
    path = hx.xlsx(tmp_path / "sst.xlsx", hx.sheet_xml(hx.good_rows()), shared_strings=sst)
    assert path.stat().st_size < 2048
    kind, outcome = _read_all(path)
    assert kind == "ok", outcome
    assert outcome == ("rejected: sst.xlsx (xl/sharedStrings.xml): declares 2000000000 shared strings, more than the "
                       "30000000 cells an import reads (setting import.max_cells): a damaged or forged file")
    honest = hx.xlsx(tmp_path / "honest.xlsx", hx.sheet_xml(hx.good_rows()), shared_strings=sst.replace(
        "2000000000", "1"))
    assert _read_all(honest) == ("ok", "3 rows")


def test_a_workbook_told_to_be_another_format_is_checked_as_what_it_is(tmp_path):
    """--format xls on an .xlsx skipped the zip's checks, and calamine, which goes by content, read it."""
    path = hx.xlsx(tmp_path / "far.xlsx", hx.sheet_xml(hx.good_rows(), extra='<row r="1048576"><c r="XFD1048576">'
                                                                              "<v>1</v></c></row>"))

    def call() -> str:
        try:
            open_export(path, "xls")
        except FileRejected as exc:
            return str(exc)
        return "read"

    kind, outcome = hx.in_child(call, memory_mb=1500, seconds=60)
    assert kind == "ok" and outcome.startswith("far.xlsx (xl/worksheets/sheet1.xml): 1048576 rows x 16384 columns")


def test_a_zip_bomb_that_lies_about_its_size_is_rejected_in_bounded_memory(tmp_path):
    """A sheet whose headers declare 4 KB (and, forged, that prefix's CRC) while its deflate stream
    holds 52 MB of rows: the checks read what is declared; the reader stops where it ends."""
    rows = hx.many_rows_sheet(2_000_000)
    plain = hx.declared_as(hx.xlsx(tmp_path / "bomb.xlsx", rows), "xl/worksheets/sheet1.xml", b"x" * 4096)
    assert plain.stat().st_size < 200_000
    kind, outcome = _read_all(plain)
    assert kind == "ok" and outcome == ("rejected: bomb.xlsx (xl/worksheets/sheet1.xml): not a readable Excel "
                                        "workbook (this part is damaged: Bad CRC-32 for file "
                                        "'xl/worksheets/sheet1.xml')"), outcome
    forged = hx.declared_as(hx.xlsx(tmp_path / "forged.xlsx", rows), "xl/worksheets/sheet1.xml", rows[:4096])
    kind, outcome = _read_all(forged)
    assert kind == "ok" and outcome.startswith("rejected: forged.xlsx: sheet 'Danh sách': not a readable Excel "
                                               "workbook (") and "declared" in outcome, outcome


def test_deep_nesting_in_a_sheet_is_read_in_bounded_time(tmp_path):
    """Two million elements nested inside one cell, and around the rows: no recursion to exhaust."""
    nested = ('<row r="5"><c r="A5" t="inlineStr"><is>' + "<r>" * 2_000_000 + "<t>HS-9</t>" + "</r>" * 2_000_000
              + "</is></c></row>")
    started = time.monotonic()
    kind, outcome = _read_all(hx.xlsx(tmp_path / "deep.xlsx", hx.sheet_xml(hx.good_rows(), extra=nested)))
    assert (kind, outcome) == ("ok", "4 rows")
    assert time.monotonic() - started < 30


# ----- HTML, JSON, CSV ----------------------------------------------------------------------------

def test_html_rows_made_by_ss_index_are_capped(tmp_path):
    rows = "".join(f"<Row ss:Index='{i * 1000}'><Cell><Data>x</Data></Cell></Row>" for i in range(1, 1200))
    path = tmp_path / "rows.xls"
    path.write_text("<html><table><tr><td>Mã hồ sơ</td><td>Ngày tiếp nhận</td><td>Trạng thái</td></tr>"
                    + rows + "</table></html>", encoding="utf-8")
    kind, outcome = _read_all(path, ReadLimits(rows=100_000))
    assert kind == "ok" and "table rows, more than the 100000" in outcome


def test_html_cells_made_by_colspan_are_capped(tmp_path):
    path = tmp_path / "span.xls"
    path.write_text("<table>" + "<tr><td colspan=256>x</td></tr>" * 50_000 + "</table>", encoding="utf-8")
    kind, outcome = _read_all(path, ReadLimits(cells=1_000_000))
    assert kind == "ok" and "more than 1000000 table cells" in outcome


def test_json_records_and_csv_lines_are_capped(tmp_path):
    records = [fx.portal_record(fx.DOSSIERS[0]) for _ in range(1500)]
    path = tmp_path / "many.json"
    path.write_text(json.dumps(records), encoding="utf-8")
    with pytest.raises(FileRejected, match="1500 records, more than the 1000"):
        open_export(path, None, None, ReadLimits(rows=1000))
    csv_path = write_export(tmp_path / "many.csv", [["1", f"HS-{i}"] for i in range(1100)])
    with pytest.raises(FileRejected, match="1101 lines, more than the 1000"):
        open_export(csv_path, None, None, ReadLimits(rows=1000))


# ----- the import: a rejected file is a failed run with one line ------------------------------------

def test_an_import_of_a_hostile_workbook_records_a_failed_run(engine, settings, tmp_path):
    path = hx.xlsx(tmp_path / "far.xlsx", hx.sheet_xml(hx.good_rows(), extra='<row r="1048576"><c r="XFD1048576">'
                                                                              "<v>1</v></c></row>"))
    res = import_file(engine, settings, path)
    assert res.status == "failed" and "\n" not in res.message and "import.max_columns" in res.message
    with engine.connect() as conn:
        assert conn.execute(select(ImportRun.status, ImportRun.message)).one() == ("failed", res.message)


def test_the_limits_are_settings(db_url, tmp_path):
    settings = load_settings(env={"TTHC_IMPORT_MAX_ROWS": "1000"}, overrides={"database.url": db_url})
    from tracker.db import make_engine

    engine = make_engine(db_url)
    path = write_export(tmp_path / "many.csv", [["1", f"HS-{i}"] for i in range(1100)])
    res = import_file(engine, settings, path)
    engine.dispose()
    assert res.status == "failed" and "import.max_rows" in res.message


# ----- absurd values: rows rejected, the import finishes ---------------------------------------------

ROW = ["1", "HS-1", "1.001", "Cấp giấy phép", "Tư pháp", "Sở Tư pháp", "Nguyễn Văn A", "0912345678", "Trực tiếp",
       "02/03/2026 08:00:00", "", "", "", "Đang xử lý", "3 ngày làm việc"]


def _row(code: str, **changes: str) -> list[str]:
    row = list(ROW)
    row[1] = code
    for i, value in changes.items():
        row[int(i[1:])] = value
    return row


def test_absurd_limits_and_dates_are_rejected_rows_and_the_import_finishes(engine, settings, tmp_path):
    path = write_export(tmp_path / "absurd.csv", [
        _row("HS-OK"),
        _row("HS-LIMIT", c14="9999999 ngày làm việc"),
        _row("HS-HOURS", c14="99999999999 giờ"),
        _row("HS-9999", c9="31/12/9999 08:00:00"),
        _row("HS-0001", c9="01/01/0001 08:00:00"),
        _row("HS-SERIAL", c9="2958465.5"),
        _row("HS-FAR", c11="01/01/2999"),
    ])
    started = time.monotonic()

    def child():  # noqa: ANN202
        engine.dispose(close=False)  # the parent's connections stay the parent's
        return import_file(engine, settings, path)

    kind, res = hx.in_child(child, seconds=60)
    assert kind == "ok", res
    assert time.monotonic() - started < 30
    assert (res.status, res.inserted, res.rejected) == ("partial", 1, 6)
    rejected = {r.value: (r.line, r.column, r.reason) for r in res.rejections}
    assert rejected["9999999 ngày làm việc"][:2] == (3, "Thời hạn giải quyết")
    assert "longer than the law allows" in rejected["9999999 ngày làm việc"][2]
    assert "year 9999 is outside the years the working calendar covers (1901–2100)" in \
        rejected["31/12/9999 08:00:00"][2]
    assert rejected["01/01/0001 08:00:00"][1] == "Ngày tiếp nhận"
    assert rejected["01/01/2999"][1] == "Ngày kết thúc xử lý"


def test_tthc_due_with_an_absurd_limit_answers_at_once(capsys, monkeypatch):
    monkeypatch.delenv("TTHC_CONFIG", raising=False)
    started = time.monotonic()
    with pytest.raises(SystemExit) as exc:
        main(["due", "--received", "2026-03-02 08:00", "--limit", "99999999999 ngày làm việc"])
    assert exc.value.code == 2 and time.monotonic() - started < 5
    assert "longer than the law allows" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["due", "--received", "9999-03-02 08:00", "--limit", "3 ngày làm việc"])
    assert "outside the years the working calendar covers" in capsys.readouterr().err
    assert main(["due", "--received", "2100-12-01 08:00", "--limit", "365 ngày làm việc"]) == 2
    assert "beyond 2100" in capsys.readouterr().err


# ----- control characters: PostgreSQL and SQLite alike -------------------------------------------------

def test_control_characters_are_removed_per_cell_and_reported(engine, settings, tmp_path):
    path = write_export(tmp_path / "ctl.csv", [
        _row("HS-1", c5="Sở\x00 Tư pháp\x1b[31m", c6="Nguyễn\u202e Văn A"),
        _row("HS\x002"),
        _row("HS-3", c13="Đang xử lý\x07"),
        _row("HS-4"),
    ])
    res = import_file(engine, settings, path)
    assert (res.status, res.inserted, res.rejected, res.cleaned) == ("partial", 3, 1, 2)
    assert res.warnings[0] == "line 2: control characters removed from Đơn vị tiếp nhận, Chủ hồ sơ"
    with engine.connect() as conn:
        names = conn.execute(select(Unit.name)).scalars().all()
        applicants = set(conn.execute(select(Dossier.applicant_name)).scalars())
        rejected = conn.execute(select(RejectedRow.line, RejectedRow.column, RejectedRow.value)).one()
        run = conn.execute(select(ImportRun.status, ImportRun.message)).one()
    assert set(names) == {"Sở Tư pháp[31m", "Sở Tư pháp"} and applicants == {"Nguyễn Văn A"}
    assert tuple(rejected) == (3, "Mã hồ sơ", "HS\\x002")  # shown escaped: the desk sees what was there
    assert run.status == "partial" and "control characters removed from 2 row(s)" in run.message


def test_lone_surrogates_from_json_are_cleaned_or_rejected(engine, settings, tmp_path):
    records = [fx.portal_record(d) for d in fx.DOSSIERS]
    records[0]["DonViXuLy"], records[1]["MaHoSo"] = "@S@", "@S@"
    path = tmp_path / "s.json"
    path.write_text(json.dumps({"data": records}).replace('"@S@"', '"S\\ud800x"'), encoding="utf-8")
    res = import_file(engine, settings, path)
    assert (res.status, res.cleaned, res.rejected) == ("partial", 1, 1), res.message
    assert res.rejections[0].value == "S\\ud800x"  # the code, shown escaped
    with engine.connect() as conn:
        assert "Sx" in conn.execute(select(Unit.name)).scalars().all()


def test_a_nul_in_a_rejected_row_is_stored_escaped(engine, settings, tmp_path):
    path = write_export(tmp_path / "nul.csv", [_row("HS-1", c13="Đang\x00 phân vân")])
    res = import_file(engine, settings, path)
    assert res.rejected == 1
    with engine.connect() as conn:
        value, raw = conn.execute(select(RejectedRow.value, RejectedRow.raw)).one()
    assert value == "Đang phân vân"  # removed before parsing; the status is then unknown
    assert "\x00" not in raw


def test_a_run_whose_end_cannot_be_written_at_first_is_not_left_running(engine, settings, tmp_path, monkeypatch):
    from sqlalchemy.exc import OperationalError

    from tracker.ingest import loader

    finish = loader.finish_run
    calls = []

    def flaky(engine, run_id, result, *, keep_message=False):  # noqa: ANN001, ANN202
        calls.append(keep_message)
        if len(calls) == 1:
            raise OperationalError("UPDATE import_run", {}, Exception("database or disk is full"))
        return finish(engine, run_id, result, keep_message=keep_message)

    monkeypatch.setattr(loader, "finish_run", flaky)
    res = import_file(engine, settings, write_export(tmp_path / "ok.csv", [_row("HS-1")]))
    assert res.status == "failed" and res.message == "ok.csv: Exception: database or disk is full; the 1 row(s) " \
                                                      "stored before that are kept"
    with engine.connect() as conn:
        assert conn.execute(select(ImportRun.status)).scalar_one() == "failed"


def test_a_rejected_file_is_one_line_even_when_it_quotes_a_cell_with_a_line_break(engine, settings, tmp_path):
    path = tmp_path / "noheader.csv"  # found by the fuzz: the reason quoted '0\n0' from the file
    path.write_bytes(b'a;b;c\r\n;;"0\n0\x1b[2J"\r\n')
    res = import_file(engine, settings, path)
    assert res.status == "failed" and "\n" not in res.message and "'0 0\\x1b[2J'" in res.message


def test_digest_dates_outside_the_calendar_are_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["digest", "--preview", "--date", "9999-12-31"])
    assert exc.value.code == 2 and "outside the years the working calendar covers" in capsys.readouterr().err
