"""Issue 11's import defects, end to end through `import_file` on both databases:

- a finish moment decides "finished", whatever the status column says (RULES §5);
- a first import of history invents no lateness: a dossier first seen already ended with no
  finish date is on time, finished at its receipt, flagged no_finished_at; only a dossier seen
  open by an earlier import takes the moment the product first saw it ended;
- a unit column is resolved by code first, then by name: the national portal's DonViXuLy is a
  unit code, and a portal file whose units are in units.csv invents none.
"""

from __future__ import annotations

import json
from datetime import date, datetime

from sqlalchemy import func, select

from tests.conftest import write_export
from tracker.ingest import import_file
from tracker.ingest.catalogue import import_units
from tracker.models import Dossier, Unit
from tracker.reports import period_report

HEADER = ["Mã hồ sơ", "Đơn vị tiếp nhận", "Ngày tiếp nhận", "Ngày hẹn trả", "Ngày kết thúc xử lý",
          "Ngày trả kết quả", "Trạng thái"]


def _dossier(engine, code: str) -> dict:
    with engine.connect() as conn:
        return dict(conn.execute(select(Dossier).where(Dossier.code == code)).mappings().one())


def test_a_finish_date_with_an_open_status_is_finished(engine, settings, tmp_path):
    # the example: status 4, received Mon 5 Oct 09:00, due Thu 8 Oct 17:00, finished Wed 7 Oct
    path = write_export(tmp_path / "a.csv", [
        ["HS-1", "Sở Tư pháp", "05/10/2026 09:00:00", "08/10/2026 17:00:00", "07/10/2026 10:00:00", "",
         "Đang xử lý"],
        ["HS-2", "Sở Tư pháp", "05/10/2026 09:00:00", "08/10/2026 17:00:00", "", "09/10/2026 10:00:00",
         "Chờ bổ sung"],
    ], header=HEADER)
    assert import_file(engine, settings, path).rejected == 0
    one, two = _dossier(engine, "HS-1"), _dossier(engine, "HS-2")
    assert (one["finish_at"], one["result_class"]) == (datetime(2026, 10, 7, 10), "early")
    assert (two["finish_at"], two["result_class"]) == (datetime(2026, 10, 9, 10), "late")
    report = period_report(engine, settings, date(2026, 10, 1), date(2026, 10, 31),
                          as_of=datetime(2026, 10, 15, 9))
    assert (report.total.early, report.total.late, report.total.overdue, report.total.within) == (1, 1, 0, 0)


def test_a_first_import_of_history_invents_no_lateness(engine, settings, tmp_path):
    ended = ["HS-OLD", "Sở Tư pháp", "05/10/2026 09:00:00", "08/10/2026 17:00:00", "", "", "Đã trả kết quả"]
    opened = ["HS-OPEN", "Sở Tư pháp", "05/10/2026 09:00:00", "08/10/2026 17:00:00", "", "", "Đang xử lý"]
    before = datetime.now().replace(microsecond=0)
    import_file(engine, settings, write_export(tmp_path / "1.csv", [ended, opened], header=HEADER))
    old = _dossier(engine, "HS-OLD")
    assert old["first_seen_finished_at"] is None  # not stamped with the import's clock
    assert old["finish_at"] == datetime(2026, 10, 5, 9)  # counted as finished at its receipt
    assert (old["result_class"], old["no_finished_at"]) == ("on_time", True)

    # the next import sees HS-OPEN ended, still without a date: the moment it first saw that
    import_file(engine, settings, write_export(tmp_path / "2.csv", [ended, [*opened[:6], "Đã trả kết quả"]],
                                               header=HEADER))
    seen = _dossier(engine, "HS-OPEN")
    assert seen["first_seen_finished_at"] is not None and seen["first_seen_finished_at"] >= before
    assert seen["finish_at"] == seen["first_seen_finished_at"] and seen["no_finished_at"] is True
    assert seen["result_class"] == "late"  # seen ended after its due (the import runs in 2026-12 or later)
    assert _dossier(engine, "HS-OLD")["first_seen_finished_at"] is None  # unchanged row, untouched

    report = period_report(engine, settings, date(2026, 10, 1), date(2026, 10, 31))
    assert (report.total.on_time, report.total.late, report.total.overdue) == (1, 0, 1)


def _units_csv(tmp_path):
    path = tmp_path / "units.csv"
    path.write_text("code;name;parent;level\n000.00.53.H48;Sở Tư pháp;;tinh\n000.00.60.H48;UBND xã An Phú;;xa\n",
                    encoding="utf-8")
    return path


def test_a_portal_file_whose_units_are_known_invents_none(engine, tmp_path, settings):
    import_units(engine, _units_csv(tmp_path))
    records = [{"MaHoSo": f"P-{i}", "MaTTHC": "1.000001", "TenTTHC": "Cấp bản sao", "KenhThucHien": 1,
                "NgayTiepNhan": "20261005090000", "NgayHenTra": "20261008170000", "TrangThaiHoSo": 4,
                "DonViXuLy": "000.00.53.H48" if i % 2 else "000.00.60.H48", "DanhSachHoSoBoSung": []}
               for i in range(10)]
    path = tmp_path / "portal.json"
    path.write_text(json.dumps(records), encoding="utf-8")
    res = import_file(engine, settings, path)
    assert (res.inserted, res.rejected, res.new_units) == (10, 0, [])
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(Unit)).scalar_one() == 2
        by_unit = dict(conn.execute(select(Unit.code, func.count()).join(Dossier, Dossier.unit_id == Unit.id)
                                    .group_by(Unit.code)).all())
    assert by_unit == {"000.00.53.H48": 5, "000.00.60.H48": 5}


def test_a_unit_column_by_code_then_by_name_and_a_new_unit_is_reported(engine, tmp_path, settings):
    import_units(engine, _units_csv(tmp_path))
    header = ["Mã hồ sơ", "Mã đơn vị", "Đơn vị tiếp nhận", "Ngày tiếp nhận", "Trạng thái"]
    path = write_export(tmp_path / "a.csv", [
        ["A-1", "000.00.53.H48", "Tên khác hẳn", "05/10/2026 09:00:00", "Đang xử lý"],  # by code
        ["A-2", "", "UBND XÃ AN PHÚ", "05/10/2026 09:00:00", "Đang xử lý"],  # by name, any case
        ["A-3", "999.NEW", "Sở Tư pháp", "05/10/2026 09:00:00", "Đang xử lý"],  # unknown code, known name
        ["A-4", "", "Sở Mới", "05/10/2026 09:00:00", "Đang xử lý"],  # neither: a new unit, reported
    ], header=header)
    res = import_file(engine, settings, path)
    assert res.rejected == 0 and len(res.new_units) == 1 and res.new_units[0].endswith("Sở Mới")
    with engine.connect() as conn:
        got = dict(conn.execute(select(Dossier.code, Unit.code).join(Unit, Unit.id == Dossier.unit_id)).all())
    assert got["A-1"] == "000.00.53.H48" and got["A-2"] == "000.00.60.H48" and got["A-3"] == "000.00.53.H48"
    assert got["A-4"].startswith("AUTO.")


def test_the_upgrade_forgets_the_import_clock_of_dossiers_never_seen_open(tmp_path):
    # a database as the previous release left it: both dossiers stamped at the first import
    from sqlalchemy import text

    from tracker.db import make_engine, upgrade

    engine = make_engine(f"sqlite:///{tmp_path / 'old.db'}")
    upgrade(engine, "0005")
    stamp = "2026-11-20 08:00:00.000000"
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO unit (id, code, name, name_key, level, digest_recipients, created_at) "
                          "VALUES (1, 'U', 'U', 'u', '', '', :t)"), {"t": stamp})
        for i, code, statuses in ((1, "NEVER-OPEN", (10,)), (2, "SEEN-OPEN", (4, 10))):
            conn.execute(text(
                "INSERT INTO dossier (id, code, unit_id, status, received_at, first_seen_finished_at, "
                "apology_before_due, no_finished_at, derived_fp, row_hash, data_hash, applicant_name, "
                "applicant_phone, created_at, updated_at) VALUES (:i, :c, 1, 10, '2026-10-05 09:00:00.000000', "
                ":t, 0, 1, 'old', '', '', '', '', :t, :t)"), {"i": i, "c": code, "t": stamp})
            prev = None
            for s in statuses:
                conn.execute(text("INSERT INTO status_change (dossier_id, previous_status, status, seen_at) "
                                  "VALUES (:i, :p, :s, :t)"), {"i": i, "p": prev, "s": s, "t": stamp})
                prev = s
    upgrade(engine)
    with engine.connect() as conn:
        got = dict(conn.execute(text("SELECT code, first_seen_finished_at FROM dossier")).all())
    engine.dispose()
    assert got["NEVER-OPEN"] is None and got["SEEN-OPEN"] is not None
