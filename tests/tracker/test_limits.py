"""A procedure's time limits over time (tracker.limits): a dossier is held to the version in force
on its receipt date, a cut limit leaves the past alone, catalogues re-imported add nothing."""

from __future__ import annotations

from datetime import date, datetime

import pytest
from alembic import command
from sqlalchemy import func, select, text

from tests.conftest import write_export
from tracker.db import alembic_config, make_engine, upgrade
from tracker.derive import refresh_derived, stale_count
from tracker.ingest import import_file, import_procedures
from tracker.limits import LimitVersion, ProcedureLimits
from tracker.models import Dossier, ProcedureLimit
from tracker.reports import period_report
from tracker.rules import TimeLimit

UNIT = "Sở Tư pháp"
PROC = "1.000001"
PROC_HEADER = ["Mã TTHC", "Tên thủ tục hành chính", "Lĩnh vực", "Thời hạn giải quyết"]
DATED_HEADER = [*PROC_HEADER, "Ngày áp dụng"]
D15, D10 = TimeLimit(15, "working_days"), TimeLimit(10, "working_days")


def _row(code: str, received: str, status: str = "Đang xử lý", finished: str = "", limit: str = "") -> list[str]:
    return ["1", code, PROC, "Cấp phiếu lý lịch tư pháp", "Lý lịch tư pháp", UNIT, "", "", "Trực tiếp",
            received, "", finished, "", status, limit]


# received, and the computed due under 15 and under 10 working days (no recorded appointment:
# the computed due decides every class below)
DOSSIERS = {
    # finished on 22 Oct: early against 15 days (due 26 Oct), late against 10 (due 19 Oct)
    "OCT-DONE": (_row("OCT-DONE", "05/10/2026 09:00:00", "Đã trả kết quả", "22/10/2026 10:00:00"),
                 datetime(2026, 10, 26, 9), datetime(2026, 10, 19, 9)),
    # open at the end of October: within against 15 days (due 2 Nov), overdue against 10 (26 Oct)
    "OCT-OPEN": (_row("OCT-OPEN", "12/10/2026 09:00:00"), datetime(2026, 11, 2, 9), datetime(2026, 10, 26, 9)),
    "OCT-LAST": (_row("OCT-LAST", "30/10/2026 16:00:00"), datetime(2026, 11, 20, 16), datetime(2026, 11, 13, 16)),
    # received on the first day of the new limit (a Sunday, online): held to it (counted from Monday)
    "NOV-SUN": (_row("NOV-SUN", "01/11/2026 10:00:00"), datetime(2026, 11, 20, 17), datetime(2026, 11, 13, 17)),
    "NOV-OPEN": (_row("NOV-OPEN", "02/11/2026 09:00:00"), datetime(2026, 11, 23, 9), datetime(2026, 11, 16, 9)),
}
# its own limit (the export's 'Thời hạn giải quyết') wins over the procedure's, before and after
OWN = _row("NOV-OWN", "02/11/2026 09:00:00", limit="20 ngày làm việc")
OWN_DUE = datetime(2026, 12, 1, 9)  # 24 Nov is a day off


def _catalogue(tmp_path, name: str, rows: list[list[str]], header: list[str] = PROC_HEADER):  # noqa: ANN202
    return write_export(tmp_path / name, rows, header=header)


def _dues(engine) -> dict[str, datetime]:  # noqa: ANN001
    with engine.connect() as conn:
        return dict(conn.execute(select(Dossier.code, Dossier.due_used_at)).all())


def _october(engine, settings) -> list[dict]:  # noqa: ANN001
    return period_report(engine, settings, date(2026, 10, 1), date(2026, 10, 31)).as_dicts()


def test_a_limit_cut_from_november_leaves_october_alone(engine, settings, tmp_path):
    import_procedures(engine, _catalogue(tmp_path, "p1.csv", [[PROC, "Cấp phiếu lý lịch tư pháp", "Lý lịch tư pháp",
                                                                 "15 ngày làm việc"]]))
    res = import_file(engine, settings, write_export(tmp_path / "d.csv", [r for r, _, _ in DOSSIERS.values()]
                                                     + [OWN]))
    assert res.inserted == 6
    assert _dues(engine) == {**{c: d15 for c, (_, d15, _) in DOSSIERS.items()}, "NOV-OWN": OWN_DUE}
    october = _october(engine, settings)
    total = october[-1]
    assert (total["early"], total["late"], total["within"], total["overdue"]) == (1, 0, 2, 0)

    cut = import_procedures(engine, _catalogue(tmp_path, "p2.csv", [
        [PROC, "Cấp phiếu lý lịch tư pháp", "Lý lịch tư pháp", "10 ngày làm việc", "01/11/2026"]],
        header=DATED_HEADER))
    assert (cut.rejected, cut.versions, cut.updated, cut.marked) == ([], 1, 1, 6)
    # the procedure's dossiers are marked for re-derivation in the same transaction, then recomputed
    assert stale_count(engine, settings.fingerprint()) == 6
    refresh_derived(engine, settings.work_calendar(), settings.rule_settings(), settings.fingerprint())
    want = {c: (d10 if c.startswith("NOV") else d15) for c, (_, d15, d10) in DOSSIERS.items()}
    assert _dues(engine) == {**want, "NOV-OWN": OWN_DUE}
    assert _october(engine, settings) == october

    with engine.connect() as conn:
        versions = conn.execute(select(ProcedureLimit.effective_from, ProcedureLimit.limit_value)
                                .order_by(ProcedureLimit.id)).all()
    assert versions == [(None, 15), (date(2026, 11, 1), 10)]

    # dossiers imported after the cut are held to the version of their receipt date at once
    later = import_file(engine, settings, write_export(tmp_path / "e.csv", [
        _row("OCT-LATE", "05/10/2026 09:00:00"), _row("NOV-LATE", "02/11/2026 09:00:00")]))
    assert later.inserted == 2 and stale_count(engine, settings.fingerprint()) == 0
    dues = _dues(engine)
    assert (dues["OCT-LATE"], dues["NOV-LATE"]) == (datetime(2026, 10, 26, 9), datetime(2026, 11, 16, 9))


def test_the_same_catalogue_again_adds_no_version(engine, tmp_path):
    history = [[PROC, "Cấp phiếu lý lịch tư pháp", "Lý lịch tư pháp", "10 ngày làm việc", "01/11/2026"],
               [PROC, "Cấp phiếu lý lịch tư pháp", "Lý lịch tư pháp", "15 ngày làm việc", ""],
               ["1.000002", "Đăng ký khai sinh", "Hộ tịch", "Trong ngày", ""]]
    first = import_procedures(engine, _catalogue(tmp_path, "h.csv", history, DATED_HEADER))
    assert (first.rejected, first.inserted, first.versions) == ([], 2, 3)
    again = import_procedures(engine, _catalogue(tmp_path, "h.csv", history, DATED_HEADER))
    assert (again.rejected, again.inserted, again.updated, again.unchanged, again.versions, again.marked) == \
        ([], 0, 0, 3, 0, 0)
    # the current catalogue without dates: the same limits, nothing new
    current = [[PROC, "Cấp phiếu lý lịch tư pháp", "Lý lịch tư pháp", "10 ngày làm việc"],
               ["1.000002", "Đăng ký khai sinh", "Hộ tịch", "Trong ngày"]]
    plain = import_procedures(engine, _catalogue(tmp_path, "c.csv", current))
    assert (plain.rejected, plain.unchanged, plain.versions) == ([], 2, 0)
    # a later date with the limit already in force adds nothing either
    same = import_procedures(engine, _catalogue(tmp_path, "s.csv", [
        [PROC, "Cấp phiếu lý lịch tư pháp", "Lý lịch tư pháp", "10 ngày làm việc", "01/01/2027"]], DATED_HEADER))
    assert (same.unchanged, same.versions) == (1, 0)
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(ProcedureLimit)).scalar_one() == 3


def test_an_undated_change_after_dated_versions_is_refused_with_where_and_why(engine, tmp_path):
    import_procedures(engine, _catalogue(tmp_path, "h.csv", [
        [PROC, "Cấp phiếu lý lịch tư pháp", "Lý lịch tư pháp", "15 ngày làm việc", ""],
        [PROC, "Cấp phiếu lý lịch tư pháp", "Lý lịch tư pháp", "10 ngày làm việc", "01/11/2026"]], DATED_HEADER))
    res = import_procedures(engine, _catalogue(tmp_path, "old.csv", [
        [PROC, "Cấp phiếu lý lịch tư pháp", "Lý lịch tư pháp", "12 ngày làm việc"]]))
    assert res.exit_code == 3 and res.rejected == [
        "line 2, column 'Thời hạn giải quyết': '12 ngày làm việc' has no effective_from, and the procedure's "
        "limit is 10 ngày làm việc, áp dụng từ 01/11/2026: add an effective_from column to change it from a "
        "date on"]
    bad = import_procedures(engine, _catalogue(tmp_path, "bad.csv", [
        [PROC, "Cấp phiếu lý lịch tư pháp", "Lý lịch tư pháp", "12 ngày làm việc", "31/11/2026"]], DATED_HEADER))
    assert len(bad.rejected) == 1 and bad.rejected[0].startswith("line 2, column 'effective_from': '31/11/2026'")
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(ProcedureLimit)).scalar_one() == 2


def test_a_corrected_version_is_updated_in_place_and_moves_its_dossiers(engine, settings, tmp_path):
    dated = [[PROC, "Cấp phiếu lý lịch tư pháp", "Lý lịch tư pháp", "10 ngày làm việc", "01/11/2026"]]
    import_procedures(engine, _catalogue(tmp_path, "a.csv", dated, DATED_HEADER))
    import_file(engine, settings, write_export(tmp_path / "d.csv", [_row("NOV-OPEN", "02/11/2026 09:00:00")]))
    dated[0][3] = "9 ngày làm việc"  # a typo corrected: the same date, another limit
    res = import_procedures(engine, _catalogue(tmp_path, "b.csv", dated, DATED_HEADER))
    assert (res.versions, res.marked) == (1, 1)
    refresh_derived(engine, settings.work_calendar(), settings.rule_settings(), settings.fingerprint())
    assert _dues(engine) == {"NOV-OPEN": datetime(2026, 11, 13, 9)}
    with engine.connect() as conn:
        assert conn.execute(select(ProcedureLimit.limit_value)).scalars().all() == [9]


def test_the_version_in_force_on_the_receipt_date():
    limits = ProcedureLimits([(1, date(2026, 11, 1), 10, "working_days", ""), (1, None, 15, "working_days", ""),
                              (2, date(2026, 6, 1), 5, "working_days", "5 ngày")])
    assert limits.at(1, datetime(2026, 10, 31, 23, 59)) == D15
    assert limits.at(1, datetime(2026, 11, 1, 0, 0)) == D10
    assert limits.at(1, None) == D15  # never received: the earliest version
    # received before the earliest dated version: the earliest known one
    assert limits.at(2, datetime(2026, 1, 5, 9)) == TimeLimit(5, "working_days")
    assert limits.at(3, datetime(2026, 1, 5, 9)) is None and limits.at(None, None) is None
    assert LimitVersion(D10, date(2026, 11, 1)).describe() == "10 ngày làm việc, áp dụng từ 01/11/2026"
    assert LimitVersion(D10, date(2026, 11, 1)).describe("en") == "10 working days, in force from 01/11/2026"


def test_the_migration_makes_each_limit_a_version_in_force_since_forever(db_url):
    engine = make_engine(db_url)
    try:
        command.downgrade(alembic_config(engine), "0005")
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO procedure (code, name, name_key, field_code, field_name, limit_value, "
                              "limit_unit, limit_text) VALUES ('1.1', 'A', 'a', '', '', 3, 'working_days', "
                              "'3 ngày làm việc'), ('1.2', 'B', 'b', '', '', NULL, NULL, '')"))
        upgrade(engine)
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT p.code, v.effective_from, v.limit_value, v.limit_unit, v.limit_text "
                                     "FROM procedure_limit v JOIN procedure p ON p.id = v.procedure_id")).all()
            assert [tuple(r) for r in rows] == [("1.1", None, 3, "working_days", "3 ngày làm việc")]
            columns = {c["name"] for c in _columns(conn, "procedure")}
            assert not columns & {"limit_value", "limit_unit", "limit_text"}
            pid = conn.execute(text("SELECT id FROM procedure WHERE code = '1.1'")).scalar_one()
        with engine.begin() as conn:  # one procedure, at most one undated version
            with pytest.raises(Exception, match="(?i)unique"), conn.begin_nested():
                conn.execute(text(f"INSERT INTO procedure_limit (procedure_id, effective_from, limit_value, "
                                  f"limit_unit, limit_text) VALUES ({pid}, NULL, 5, 'working_days', '')"))
            conn.execute(text(f"INSERT INTO procedure_limit (procedure_id, effective_from, limit_value, limit_unit, "
                              f"limit_text) VALUES ({pid}, '2026-11-01', 2, 'working_days', '2 ngày làm việc')"))
        # back: the latest version is the one limit a procedure can keep
        command.downgrade(alembic_config(engine), "0005")
        with engine.connect() as conn:
            back = conn.execute(text("SELECT code, limit_value, limit_text FROM procedure ORDER BY code")).all()
            assert [tuple(r) for r in back] == [("1.1", 2, "2 ngày làm việc"), ("1.2", None, "")]
    finally:
        with engine.begin() as conn:
            conn.execute(text("DELETE FROM procedure"))
        upgrade(engine)
        engine.dispose()


def _columns(conn, table: str) -> list[dict]:  # noqa: ANN001
    from sqlalchemy import inspect

    return inspect(conn).get_columns(table)
