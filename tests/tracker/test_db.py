"""Database behaviour on SQLite and PostgreSQL: migrations, import writes, derived refresh."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, inspect, select

from tests.conftest import write_export
from tracker.config import load_settings
from tracker.db import current_revision, head_revision, make_engine
from tracker.derive import refresh_derived, stale_count
from tracker.ingest import import_file
from tracker.models import Dossier, ImportRun, Procedure, RejectedRow, StatusChange, Unit

UNIT = "Sở Tư pháp"


def _row(code, received, due, status="Đang xử lý", finished="", limit="3 ngày làm việc", applicant="Nguyễn Văn An"):
    return ["1", code, "1.000001", "Cấp phiếu lý lịch tư pháp", "Lý lịch tư pháp", UNIT, applicant,
            "0912345678", "Trực tuyến", received, due, finished, "", status, limit]


def test_migrations_reach_head_and_create_the_tables(engine):
    assert current_revision(engine) == head_revision()
    tables = set(inspect(engine).get_table_names())
    assert {"unit", "procedure", "dossier", "import_run", "rejected_row", "status_change", "meta"} <= tables
    indexes = {ix["name"] for ix in inspect(engine).get_indexes("dossier")}
    assert "ix_dossier_open_due" in indexes and "ix_dossier_unit_finish" in indexes


def test_sqlite_runs_in_wal_mode(tmp_path):
    e = make_engine(f"sqlite:///{tmp_path / 'x.db'}")
    with e.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"


def test_import_stores_every_row_and_accounts_for_it(engine, settings, tmp_path):
    path = write_export(tmp_path / "a.csv", [
        _row("HS-1", "02/03/2026 08:00:00", "05/03/2026 08:00:00"),
        _row("HS-2", "02/03/2026 09:00:00", "05/03/2026 09:00:00", "Đã trả kết quả", "04/03/2026 10:00:00"),
        _row("HS-3", "31/02/2026 09:00:00", ""),                           # impossible date
        _row("", "02/03/2026 09:00:00", ""),                               # no code
        _row("HS-5", "02/03/2026 09:00:00", "01/03/2026 09:00:00"),        # due before receipt
        _row("HS-6", "02/03/2026 09:00:00", "", "Đang phân vân"),          # unknown status
        _row("HS-1", "02/03/2026 08:00:00", "06/03/2026 08:00:00"),        # same code, other data
        _row("HS-7", "02/03/2026 09:00:00", "", applicant="=HYPERLINK(\"http://x\")"),
    ])
    res = import_file(engine, settings, path)
    assert (res.rows_read, res.inserted, res.updated, res.unchanged, res.rejected) == (8, 3, 0, 0, 5)
    assert res.balanced and res.exit_code == 3
    reasons = {r.line: (r.column, r.value, r.reason) for r in res.rejections}
    assert reasons[4][0] == "Ngày tiếp nhận" and reasons[4][1] == "31/02/2026 09:00:00"
    assert "day is out of range" in reasons[4][2]
    assert "missing dossier code" in reasons[5][2]
    assert reasons[6][0] == "Ngày hẹn trả" and "before the reception" in reasons[6][2]
    assert reasons[7][0] == "Trạng thái" and "'Đang phân vân'" in reasons[7][2]
    assert "line 2" in reasons[8][2]
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(RejectedRow)).scalar_one() == 5
        run = conn.execute(select(ImportRun)).mappings().one()
        assert (run["status"], run["rows_read"], run["inserted"], run["rejected"]) == ("partial", 8, 3, 5)
        hs7 = conn.execute(select(Dossier.applicant_name).where(Dossier.code == "HS-7")).scalar_one()
        assert hs7 == '=HYPERLINK("http://x")'  # stored as plain text, neutralised when exported
        hs2 = conn.execute(select(Dossier).where(Dossier.code == "HS-2")).mappings().one()
        assert hs2["result_class"] == "early" and hs2["finish_at"] == datetime(2026, 3, 4, 10, 0)
        # first seen already ended: not stamped with the import's clock (RULES §5)
        assert hs2["first_seen_finished_at"] is None
        hs7row = conn.execute(select(Dossier).where(Dossier.code == "HS-7")).mappings().one()
        # no recorded appointment: the computed one is used (3 working days from Mon 09:00)
        assert hs7row["due_at"] is None and hs7row["due_used_at"] == datetime(2026, 3, 5, 9, 0)
        unit = conn.execute(select(Unit)).mappings().one()
        assert unit["name"] == UNIT and unit["code"].startswith("AUTO.")
        proc = conn.execute(select(Procedure)).mappings().one()
        assert (proc["limit_value"], proc["limit_unit"]) == (3, "working_days")


def test_a_messy_file_one_defect_per_row_each_rows_fate(engine, settings, tmp_path):
    ok = _row("OK-1", "02/03/2026 08:00:00", "05/03/2026 08:00:00")
    rows = {
        "OK-1": (ok, None),
        "BIG": (_row("BIG", "02/03/2026 08:00:00", "", applicant="x" * 501), ("Chủ hồ sơ", "longer than 500")),
        "FIN": (_row("FIN", "02/03/2026 08:00:00", "", "Đã xử lý xong", "01/03/2026 10:00:00"),
                ("Ngày kết thúc xử lý", "finish 01/03/2026 10:00 is before the reception")),
        "CH": (["1", "CH", "1.000001", "Thủ tục", "Lĩnh vực", UNIT, "", "", "Fax", "02/03/2026 08:00:00", "", "",
                "", "Đang xử lý", ""], ("Kênh nộp", "'Fax' is not a known channel")),
        "NOREC": (_row("NOREC", "", ""), ("Ngày tiếp nhận", "missing reception date")),
        "LIM": (_row("LIM", "02/03/2026 08:00:00", "", limit="mười ngày"), ("Thời hạn giải quyết", "'mười ngày'")),
        "HTML": (_row("HTML", "02/03/2026 08:00:00", "", applicant="<script>alert(1)</script>"), None),
        "NEW1": (_row("NEW1", "1/3/2026", "", status="Mới đăng ký"), None),  # status 1: no receipt needed
    }
    res = import_file(engine, settings, write_export(tmp_path / "m.csv", [r for r, _ in rows.values()]))
    assert res.balanced and (res.rows_read, res.inserted, res.rejected) == (8, 3, 5)
    by_code = {r.raw.get("Mã hồ sơ"): r for r in res.rejections}
    for code, (_, fate) in rows.items():
        if fate is None:
            assert code not in by_code
        else:
            column, reason = fate
            assert by_code[code].column == column and reason in by_code[code].reason, (code, by_code[code])
    with engine.connect() as conn:
        stored = dict(conn.execute(select(Dossier.code, Dossier.applicant_name)).all())
    assert stored["HTML"] == "<script>alert(1)</script>"  # plain text; escaped wherever it is shown
    assert set(stored) == {"OK-1", "HTML", "NEW1"}


def test_reimport_is_idempotent_and_changes_are_updates_with_history(engine, settings, tmp_path):
    rows = [_row("HS-1", "02/03/2026 08:00:00", "05/03/2026 08:00:00"),
            _row("HS-2", "02/03/2026 09:00:00", "05/03/2026 09:00:00")]
    first = import_file(engine, settings, write_export(tmp_path / "a.csv", rows))
    again = import_file(engine, settings, write_export(tmp_path / "a.csv", rows))
    assert (first.inserted, again.inserted, again.updated, again.unchanged) == (2, 0, 0, 2)
    rows[1] = _row("HS-2", "02/03/2026 09:00:00", "05/03/2026 09:00:00", "Đã trả kết quả",
                   "06/03/2026 09:00:00")
    third = import_file(engine, settings, write_export(tmp_path / "b.csv", rows))
    assert (third.updated, third.unchanged) == (1, 1)
    with engine.connect() as conn:
        hs2 = conn.execute(select(Dossier).where(Dossier.code == "HS-2")).mappings().one()
        assert hs2["status"] == 10 and hs2["result_class"] == "late"
        history = conn.execute(select(StatusChange.previous_status, StatusChange.status)
                               .where(StatusChange.dossier_id == hs2["id"])
                               .order_by(StatusChange.id)).all()
        assert history == [(None, 4), (4, 10)]
        assert conn.execute(select(func.count()).select_from(Dossier)).scalar_one() == 2


def test_a_per_row_time_limit_fills_a_procedure_without_one(engine, settings, tmp_path):
    rows = [_row("HS-1", "02/03/2026 08:00:00", "", limit="")]
    import_file(engine, settings, write_export(tmp_path / "a.csv", rows))
    with engine.connect() as conn:
        assert conn.execute(select(Procedure.limit_value)).scalar_one() is None
        assert conn.execute(select(Dossier.due_used_at)).scalar_one() is None
    rows = [_row("HS-2", "02/03/2026 08:00:00", "", limit="5 ngày làm việc")]
    import_file(engine, settings, write_export(tmp_path / "b.csv", rows))
    with engine.connect() as conn:
        assert conn.execute(select(Procedure.limit_value, Procedure.limit_unit)).one() == (5, "working_days")


def test_a_corrected_holiday_table_corrects_history(engine, settings, tmp_path, db_url):
    # received Thu 12 Mar 2026 08:00, 1 working day: due Fri 13 Mar 08:00 ...
    import_file(engine, settings, write_export(tmp_path / "a.csv", [
        _row("HS-1", "12/03/2026 08:00:00", "", limit="1 ngày làm việc")]))
    with engine.connect() as conn:
        assert conn.execute(select(Dossier.due_used_at)).scalar_one() == datetime(2026, 3, 13, 8, 0)
    # ... until the province declares Fri 13 Mar a day off: then Mon 16 Mar 08:00.
    corrected = load_settings(env={}, overrides={"database.url": db_url,
                                                 "calendar.extra_holidays": ["2026-03-13: Nghỉ theo QĐ tỉnh"]})
    assert stale_count(engine, corrected.fingerprint()) == 1
    refresh_derived(engine, corrected.work_calendar(), corrected.rule_settings(), corrected.fingerprint())
    assert stale_count(engine, corrected.fingerprint()) == 0
    with engine.connect() as conn:
        assert conn.execute(select(Dossier.due_used_at)).scalar_one() == datetime(2026, 3, 16, 8, 0)


def test_a_file_without_a_header_or_required_columns_writes_nothing(engine, settings, tmp_path):
    no_header = tmp_path / "x.csv"
    no_header.write_text("a;b;c\n1;2;3\n", encoding="utf-8")
    res = import_file(engine, settings, no_header)
    assert res.status == "failed" and res.exit_code == 1 and "no recognisable header" in res.message
    missing = write_export(tmp_path / "y.csv", [["HS-1", "02/03/2026", "Sở A"]],
                           header=["Mã hồ sơ", "Ngày hẹn trả", "Đơn vị tiếp nhận"])
    res = import_file(engine, settings, missing)
    assert res.status == "failed"
    assert "missing required columns received_at, status" in res.message
    assert "'Mã hồ sơ'" in res.message  # what was found
    bad_bytes = tmp_path / "z.csv"
    bad_bytes.write_bytes(b"\xff\xfe\x00" + b"\x00\xd8" * 3)  # UTF-16 BOM then a lone surrogate
    res = import_file(engine, settings, bad_bytes)
    assert res.status == "failed" and "cannot be decoded" in res.message
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(Dossier)).scalar_one() == 0
        assert conn.execute(select(func.count()).select_from(Unit)).scalar_one() == 0


def test_strict_rejects_the_whole_file_on_one_bad_row(engine, settings, tmp_path):
    path = write_export(tmp_path / "a.csv", [_row("HS-1", "02/03/2026 08:00:00", ""),
                                             _row("HS-2", "không rõ", "")])
    res = import_file(engine, settings, path, strict=True)
    assert res.status == "failed" and "line 3" in res.message
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(Dossier)).scalar_one() == 0


def test_dry_run_counts_without_writing(engine, settings, tmp_path):
    path = write_export(tmp_path / "a.csv", [_row("HS-1", "02/03/2026 08:00:00", "")])
    res = import_file(engine, settings, path, dry_run=True)
    assert (res.status, res.inserted, res.run_id) == ("dry-run", 1, None)
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(Dossier)).scalar_one() == 0
        assert conn.execute(select(func.count()).select_from(ImportRun)).scalar_one() == 0


def test_title_block_totals_row_and_cp1258_tab_file(engine, settings, tmp_path):
    path = write_export(tmp_path / "a.csv", [
        _row("HS-1", "02/03/2026 08:00:00", ""),
        ["", "Tổng cộng: 1 hồ sơ", "", "", "", "", "", "", "", "", "", "", "", "", ""]],
        delimiter="\t", encoding="cp1258", title=["UBND TỈNH SƠN HÀ", "DANH SÁCH HỒ SƠ THÁNG 3/2026"])
    res = import_file(engine, settings, path)
    assert (res.rows_read, res.inserted, res.rejected) == (1, 1, 0)
    assert any("totals row" in s for s in res.skipped) and any("title" in s for s in res.skipped)
    with engine.connect() as conn:
        assert conn.execute(select(Unit.name)).scalar_one() == UNIT  # NFC after cp1258
