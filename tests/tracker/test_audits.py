"""Audits: appointments beyond the legal limit, late or overdue without apology, no appointment."""

from __future__ import annotations

import json
from datetime import date, datetime

import pytest

from tests.cli.test_main import run_cli
from tests.tracker.test_reports import add_dossiers, at, seed_catalogues
from tracker.audits import beyond_limit, export_csv, no_apology, no_due

# Procedure 1.000001: 3 working days; 1.000002: same day; 1.000003: no time limit.
AUDIT = [
    # Mon 02/03 08:00 + 3 working days = Thu 05/03 08:00; recorded Tue 10/03 17:00: 7 + 8 + 8 + 8 = 31 h
    # beyond; unfinished, no apology: overdue without apology at the end of March
    dict(code="B1", received_at=at("03-02 08:00"), due_at=at("03-10 17:00")),
    # legal Thu 05/03 09:00, recorded Fri 06/03 09:00: 8 h beyond; finished early
    dict(code="B2", received_at=at("03-02 09:00"), due_at=at("03-06 09:00"), status=10,
         finished_at=at("03-05 10:00")),
    # recorded later on the legal due date itself: not beyond in date mode
    dict(code="B3", received_at=at("03-02 08:00"), due_at=at("03-05 16:00"), status=10,
         finished_at=at("03-04 10:00")),
    # same-day procedure: legal Tue 03/03 17:00, recorded Wed 04/03 17:00 (8 h beyond); late, but an
    # apology was issued before the due moment
    dict(code="B4", unit="T.XA", procedure="1.000002", received_at=at("03-03 08:00"), due_at=at("03-04 17:00"),
         status=10, finished_at=at("03-05 08:00"), apology_at=at("03-04 09:00")),
    # no appointment and no time limit (a code a spreadsheet would take for a formula)
    dict(code="=D1", unit="T.XA", procedure="1.000003", received_at=at("03-09 08:00")),
    # no appointment: computed Thu 05/03 08:00 used instead; finished late, no apology
    dict(code="D2", received_at=at("03-02 08:00"), status=10, finished_at=at("03-09 10:00")),
    # not received: never audited
    dict(code="N1", status=1, received_at=at("03-02 08:00")),
    # February: legal Thu 05/02 08:00, recorded Tue 10/02 17:00 (31 h); still open: overdue in March
    dict(code="E1", received_at=at("02-02 08:00"), due_at=at("02-10 17:00")),
]
MARCH_1, MARCH_31 = date(2026, 3, 1), date(2026, 3, 31)


@pytest.fixture
def audit_data(engine, settings):
    add_dossiers(engine, settings, seed_catalogues(engine), AUDIT)


def test_beyond_limit_per_unit_and_procedure_and_per_dossier(engine, audit_data):
    assert beyond_limit(engine) == [
        {"unit_code": "T.STP", "unit_name": "Sở Tư pháp", "procedure_code": "1.000001",
         "procedure_name": "Cấp phiếu lý lịch tư pháp", "received": 5, "beyond_limit": 3, "share_percent": 60.0,
         "max_excess_hours": 31.0, "mean_excess_hours": 23.33},
        {"unit_code": "T.XA", "unit_name": "UBND xã An Bình", "procedure_code": "1.000002",
         "procedure_name": "Đăng ký khai sinh", "received": 1, "beyond_limit": 1, "share_percent": 100.0,
         "max_excess_hours": 8.0, "mean_excess_hours": 8.0},
    ]
    march = beyond_limit(engine, MARCH_1, MARCH_31)  # received in March only: E1 leaves
    assert [(r["received"], r["beyond_limit"], r["mean_excess_hours"]) for r in march] == [(4, 2, 19.5), (1, 1, 8.0)]
    detail = beyond_limit(engine, detail=True)
    assert [(r["code"], r["excess_hours"]) for r in detail] == [("B1", 31.0), ("E1", 31.0), ("B2", 8.0),
                                                               ("B4", 8.0)]
    assert detail[0]["legal_due_at"] == at("03-05 08:00") and detail[0]["due_at"] == at("03-10 17:00")


def test_late_or_overdue_without_apology(engine, settings, audit_data):
    rows = no_apology(engine, settings, datetime(2026, 4, 15), MARCH_1, MARCH_31)
    assert [(r["code"], r["class"], r["due_at"]) for r in rows] == [
        ("E1", "overdue", at("02-10 17:00")), ("D2", "late", at("03-05 08:00")), ("B1", "overdue", at("03-10 17:00"))]
    assert rows[1]["finish_at"] == at("03-09 10:00") and rows[0]["finish_at"] is None
    # no period: what is late or overdue at the moment given
    assert [r["code"] for r in no_apology(engine, settings, at("03-04 12:00"))] == ["E1"]
    with pytest.raises(ValueError, match="both ends"):
        no_apology(engine, settings, datetime(2026, 4, 1), MARCH_1)


def test_dossiers_without_an_appointment(engine, audit_data, tmp_path):
    rows = no_due(engine)
    assert [(r["code"], r["unit_code"], r["computed_due_at"]) for r in rows] == [
        ("D2", "T.STP", at("03-05 08:00")), ("=D1", "T.XA", None)]
    assert no_due(engine, date(2026, 3, 5), MARCH_31)[0]["code"] == "=D1"
    path = tmp_path / "no-due.csv"
    assert export_csv(rows, path) == 2
    data = path.read_bytes()
    assert data.startswith(b"\xef\xbb\xbf")  # a BOM: Excel reads the Vietnamese right
    lines = data.decode("utf-8-sig").splitlines()
    assert lines[0] == "code,unit_code,unit_name,procedure_code,procedure_name,status,channel,received_at," \
                       "computed_due_at,finish_at"
    assert lines[1] == "D2,T.STP,Sở Tư pháp,1.000001,Cấp phiếu lý lịch tư pháp,10,1,2026-03-02 08:00," \
                       "2026-03-05 08:00,2026-03-09 10:00"
    assert lines[2].startswith("'=D1,T.XA,")  # neutralised: not a formula


def test_audit_command(engine, settings, audit_data, capsys, tmp_path):
    path = tmp_path / "beyond.csv"
    code, out, _ = run_cli(capsys, settings, "audit", "beyond-limit", "--detail", "--format", "csv", "-o", str(path))
    assert code == 0 and out == "4 row(s) written to " + str(path) + "\n"
    lines = path.read_text(encoding="utf-8-sig").splitlines()
    assert lines[0].startswith("code,unit_code") and lines[1].startswith("B1,T.STP,")
    code, out, _ = run_cli(capsys, settings, "audit", "no-apology", "--from", "01/03/2026", "--to", "31/03/2026")
    lines = out.splitlines()
    assert code == 0 and lines[0] == "no-apology 01/03/2026 – 31/03/2026: 3 row(s)"
    assert lines[2].startswith("E1 ") and "overdue" in lines[2] and "2026-02-10 17:00" in lines[2]
    code, out, _ = run_cli(capsys, settings, "audit", "no-due", "--format", "json")
    assert code == 0 and [r["code"] for r in json.loads(out)] == ["D2", "=D1"]
    assert json.loads(out)[0]["computed_due_at"] == "2026-03-05 08:00"
    for argv, message in [(("no-due", "--detail"), "--detail applies to beyond-limit"),
                          (("no-due", "--from", "2026-03-01"), "both --from and --to")]:
        code, out, err = run_cli(capsys, settings, "audit", *argv)
        assert (code, out) == (2, "") and message in err and len(err.splitlines()) == 1


def test_on_sqlite_the_audits_scan_the_dossiers_instead_of_walking_an_index(tmp_path):
    """Walking (unit, received) or (finish, due) and looking each dossier up made a year's three
    audits of 1,000,000 dossiers take 15.8 s; scans take 2.1 s (bench/report.py). Without
    statistics SQLite's plans do not depend on the data: an empty table shows them."""
    from sqlalchemy import event

    from tracker.audits import AUDITS, run_audit
    from tracker.config import load_settings
    from tracker.db import make_engine, upgrade

    url = f"sqlite:///{tmp_path / 'plans.db'}"
    engine = make_engine(url)
    upgrade(engine)
    settings = load_settings(env={}, overrides={"database.url": url})
    statements: list[tuple[str, tuple]] = []

    def record(conn, cursor, statement, params, *args) -> None:  # noqa: ANN001
        statements.append((statement, params))

    event.listen(engine, "before_cursor_execute", record)
    for name in AUDITS:
        for start, end in ((MARCH_1, MARCH_31), (date(2026, 1, 1), date(2026, 12, 31))):
            run_audit(name, engine, settings, as_of=datetime(2026, 11, 20, 10), start=start, end=end)
    event.remove(engine, "before_cursor_execute", record)
    assert len(statements) == 6
    with engine.connect() as conn:
        for stmt, params in statements:
            plan = " / ".join(row[3] for row in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + stmt, params))
            assert "SCAN dossier" in plan and "ix_dossier" not in plan, plan
    engine.dispose()
