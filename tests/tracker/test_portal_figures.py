"""The portal's published 766 figures (tracker.portal_figures): importing them all or nothing, with
every bad row named by file, line, column and value, replacing a unit's period on re-import, and
setting them beside ours by both methods (`tthc portal-figures compare`), on SQLite and PostgreSQL.

The October data below is one on which Biểu 06 and the portal's method agree (no supplements, every
dossier with an appointment, finishes on other days than their appointment, nothing carried over):
the tests hold whichever tracker.portal766 is merged.
"""

from __future__ import annotations

import json
import re
from datetime import date, datetime
from decimal import Decimal

import pytest
from openpyxl import Workbook
from sqlalchemy import select

from tests.cli.test_main import run
from tests.tracker.test_reports import add_dossiers, at, seed_catalogues
from tracker.ingest.base import FileRejected
from tracker.models import PortalFigure
from tracker.portal_figures import FiguresRejected, import_figures, parse_period, reconcile

OCTOBER = [
    # T.STP: total 4; early, late, within, overdue -> on time (early + on time + within) 2, score 10,00
    dict(code="S1", unit="T.STP", received_at=at("10-05 08:00"), due_at=at("10-08 17:00"), status=10,
         finished_at=at("10-07 10:00")),
    dict(code="S2", unit="T.STP", received_at=at("10-12 08:00"), due_at=at("10-15 17:00"), status=10,
         finished_at=at("10-20 10:00")),
    dict(code="S3", unit="T.STP", received_at=at("10-27 08:00"), due_at=at("11-03 17:00")),
    dict(code="S4", unit="T.STP", received_at=at("10-06 08:00"), due_at=at("10-09 17:00")),
    # T.SXD: two early -> 2 / 2, score 20,00
    dict(code="X1", unit="T.SXD", received_at=at("10-05 08:00"), due_at=at("10-08 17:00"), status=10,
         finished_at=at("10-06 10:00")),
    dict(code="X2", unit="T.SXD", received_at=at("10-13 08:00"), due_at=at("10-16 17:00"), status=9,
         finished_at=at("10-14 10:00")),
    # T.XA: one within, and no published figure
    dict(code="A1", unit="T.XA", received_at=at("10-26 08:00"), due_at=at("11-02 17:00")),
]


def write_csv(path, lines: list[str], encoding: str = "utf-8-sig"):
    path.write_bytes("\r\n".join(lines).encode(encoding) + b"\r\n")
    return path


def stored(engine) -> dict[tuple[str, date, date], tuple]:
    with engine.connect() as conn:
        return {(r.unit_code, r.period_start, r.period_end): (r.received, r.on_time, r.score, r.file_name)
                for r in conn.execute(select(PortalFigure.__table__))}


@pytest.fixture
def units(engine):
    return seed_catalogues(engine)


GOOD = ["Cổng Dịch vụ công quốc gia — Kết quả đánh giá Bộ chỉ số 766", "",
        "Mã đơn vị;Tên đơn vị;Kỳ;Tiếp nhận;Trước hạn, đúng hạn;Điểm",
        "T.STP;Sở Tư pháp;2026-10;1.204;1.180;19,60",
        "T.SXD;Sở Xây dựng;Tháng 10/2026;3;2;13,33",
        "T.XA;UBND xã An Bình;Quý IV/2026;0;0;",
        ";Tổng cộng;;1.207;1.182;"]


def test_a_good_csv_is_stored_whole(engine, units, tmp_path):
    res = import_figures(engine, write_csv(tmp_path / "cong-10-2026.csv", GOOD))
    assert (res.rows, res.inserted, res.replaced) == (3, 3, 0)
    assert any("totals row" in s for s in res.skipped)
    assert stored(engine) == {
        ("T.STP", date(2026, 10, 1), date(2026, 10, 31)): (1204, 1180, 19.6, "cong-10-2026.csv"),
        ("T.SXD", date(2026, 10, 1), date(2026, 10, 31)): (3, 2, 13.33, "cong-10-2026.csv"),
        ("T.XA", date(2026, 10, 1), date(2026, 12, 31)): (0, 0, None, "cong-10-2026.csv"),
    }


def test_an_xlsx_with_english_labels_and_from_to_dates(engine, units, tmp_path):
    wb = Workbook()
    ws = wb.active
    ws.append(["unit_code", "From", "To", "Received", "On time", "Score"])
    ws.append(["T.STP", datetime(2026, 9, 1), datetime(2026, 9, 30), 12, 11, 18.33])
    ws.append(["T.SXD", "01/09/2026", "30/09/2026", 5, 5, 20])
    wb.save(tmp_path / "portal.xlsx")
    assert import_figures(engine, tmp_path / "portal.xlsx").rows == 2
    got = stored(engine)
    assert got[("T.STP", date(2026, 9, 1), date(2026, 9, 30))][:3] == (12, 11, 18.33)
    assert got[("T.SXD", date(2026, 9, 1), date(2026, 9, 30))][:3] == (5, 5, 20.0)


def test_bad_rows_are_each_named_and_nothing_is_stored(engine, units, tmp_path):
    write_csv(tmp_path / "first.csv", ["ma_don_vi,ky,tiep_nhan,dung_han,diem", "T.STP,2026-09,10,9,18"])
    import_figures(engine, tmp_path / "first.csv")
    before = stored(engine)
    path = write_csv(tmp_path / "bad.csv", [
        "MA DON VI,KY BAO CAO,TIEP NHAN,DUNG HAN,DIEM",  # unaccented capitals
        "T.STP,2026-10,10,9,18",  # good, and still not stored
        "T.NOPE,2026-10,10,9,18",
        "T.SXD,13/2026,10,9,18",
        "T.XA,2026-10,mười,9,18",
        "T.XB,2026-10,10,11,18",
        "T.STP,2026-11,10,9,20.5",
        ",2026-10,1,1,20",
        "T.SXD,2026-12,4,4,",
        "T.STP,10/2026,10,9,18",  # the same unit and period as line 2
    ])
    with pytest.raises(FiguresRejected) as exc:
        import_figures(engine, path)
    assert exc.value.problems == [
        "bad.csv line 3, column 'MA DON VI': 'T.NOPE' is not a known unit code (tthc units import adds units)",
        "bad.csv line 4, column 'KY BAO CAO': '13/2026' has no month 13",
        "bad.csv line 5, column 'TIEP NHAN': 'mười' is not a count of dossiers (a whole number, 0 or more)",
        "bad.csv line 6, column 'DUNG HAN': '11' is more than the 10 received",
        "bad.csv line 7, column 'DIEM': '20.5' is more than the 20 points of the 766 progress score",
        "bad.csv line 8, column 'MA DON VI': '' — the unit code is missing",
        "bad.csv line 9, column 'DIEM': '' is not a score (a number from 0 to 20, e.g. 19,85)",
        "bad.csv line 10, column 'MA DON VI': 'T.STP' — the same unit and period as line 2",
    ]
    assert stored(engine) == before


@pytest.mark.parametrize("lines, message", [
    (["Mã đơn vị;Tiếp nhận;Đúng hạn;Điểm", "T.STP;1;1;20"], "missing columns period (or from and to dates)"),
    (["Mã đơn vị;Kỳ;Tiếp nhận;Đúng hạn", "T.STP;2026-10;1;1"], "missing columns score"),
    (["STT;Mã hồ sơ;Ngày tiếp nhận", "1;HS-1;01/10/2026"], "found no header row"),
])
def test_a_file_without_the_columns_is_rejected_whole(engine, units, tmp_path, lines, message):
    with pytest.raises(FileRejected, match=re.escape(message)):
        import_figures(engine, write_csv(tmp_path / "x.csv", lines))
    assert stored(engine) == {}


def test_a_reimport_replaces_the_same_unit_and_period(engine, units, tmp_path):
    import_figures(engine, write_csv(tmp_path / "a.csv", GOOD))
    res = import_figures(engine, write_csv(tmp_path / "b.csv", [
        "Mã đơn vị;Kỳ;Tiếp nhận;Đúng hạn;Điểm", "T.STP;10/2026;1.210;1.190;19,67", "T.STP;11/2026;5;5;20"]))
    assert (res.rows, res.inserted, res.replaced) == (2, 1, 1)
    got = stored(engine)
    assert len(got) == 4
    assert got[("T.STP", date(2026, 10, 1), date(2026, 10, 31))] == (1210, 1190, 19.67, "b.csv")
    assert got[("T.SXD", date(2026, 10, 1), date(2026, 10, 31))] == (3, 2, 13.33, "a.csv")


@pytest.mark.parametrize("text, start, end", [
    ("2026-10", date(2026, 10, 1), date(2026, 10, 31)),
    ("2/2026", date(2026, 2, 1), date(2026, 2, 28)),
    ("T10/2026", date(2026, 10, 1), date(2026, 10, 31)),
    ("thang 10/2026", date(2026, 10, 1), date(2026, 10, 31)),
    ("Quý III/2026", date(2026, 7, 1), date(2026, 9, 30)),
    ("2026-Q1", date(2026, 1, 1), date(2026, 3, 31)),
    ("Năm 2026", date(2026, 1, 1), date(2026, 12, 31)),
    ("01/10/2026 - 15/10/2026", date(2026, 10, 1), date(2026, 10, 15)),
])
def test_periods_as_the_portal_and_officers_write_them(text, start, end):
    assert parse_period(text) == (start, end)


# ----- compare -----------------------------------------------------------------------------------


@pytest.fixture
def october(engine, settings, units):
    add_dossiers(engine, settings, units, OCTOBER)
    return units


def test_compare_sets_ours_by_both_methods_beside_the_published(engine, settings, october, tmp_path):
    import_figures(engine, write_csv(tmp_path / "p.csv", [
        "Mã đơn vị;Kỳ;Tiếp nhận;Đúng hạn;Điểm", "T.STP;2026-10;4;2;10,00", "T.SXD;2026-10;2;2;20"]))
    rec = reconcile(engine, settings, date(2026, 10, 1), date(2026, 12, 31))
    rows = {r.unit: r for r in rec.rows}
    assert rec.periods == [(date(2026, 10, 1), date(2026, 10, 31))]
    assert set(rows) == {"T.STP", "T.SXD", "T.XA"}
    stp = rows["T.STP"]
    assert (stp.bieu06.received, stp.bieu06.on_time, stp.bieu06.score) == (4, 2, Decimal("10.00"))
    assert (stp.portal_method.received, stp.portal_method.on_time) == (4, 2)
    assert stp.status == "match" and stp.unexplained == (0, 0) and stp.explained_by == []
    assert rows["T.SXD"].status == "match"
    assert rows["T.XA"].status == "not_published" and rows["T.XA"].published is None
    assert rows["T.XA"].bieu06.received == 1


def test_a_published_figure_that_differs_is_an_unexplained_gap(engine, settings, october, tmp_path):
    """Our data and both methods agree; the portal published one dossier more for T.SXD and one
    fewer on time for T.STP: nothing we hold explains it, and the page and the command say so."""
    import_figures(engine, write_csv(tmp_path / "p.csv", [
        "Mã đơn vị;Kỳ;Tiếp nhận;Đúng hạn;Điểm", "T.STP;2026-10;4;1;5,00", "T.SXD;2026-10;3;2;13,33"]))
    rec = reconcile(engine, settings, date(2026, 10, 1), date(2026, 10, 31))
    rows = {r.unit: r for r in rec.rows}
    sxd, stp = rows["T.SXD"], rows["T.STP"]
    assert sxd.status == "unexplained" and sxd.unexplained == (1, 0)
    assert (sxd.gap.received, sxd.gap.on_time, sxd.gap.score) == (1, 0, Decimal("-6.67"))
    assert stp.status == "unexplained" and stp.unexplained == (0, -1)
    assert stp.gap.score == Decimal("-5.00")


def test_the_compare_command_prints_json_and_a_table(engine, settings, october, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("TTHC_DATABASE_URL", settings.get("database.url"))
    monkeypatch.setenv("TTHC_PATHS_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.chdir(tmp_path)
    bad = write_csv(tmp_path / "bad.csv", ["Mã đơn vị;Kỳ;Tiếp nhận;Đúng hạn;Điểm", "T.STP;2026-10;4;5;10"])
    code, _, err = run(capsys, "portal-figures", "import", str(bad))
    assert code == 1
    assert "bad.csv line 2, column 'Đúng hạn': '5' is more than the 4 received" in err and "nothing stored" in err
    good = write_csv(tmp_path / "p.csv", ["Mã đơn vị;Kỳ;Tiếp nhận;Đúng hạn;Điểm", "T.STP;2026-10;4;2;10",
                                          "T.SXD;2026-10;3;2;13,33"])
    code, out, _ = run(capsys, "portal-figures", "import", str(good))
    assert code == 0 and "2 figure(s) stored, 2 new, 0 replaced" in out
    code, out, _ = run(capsys, "portal-figures", "compare", "--from", "2026-10-01", "--to", "2026-10-31",
                       "--format", "json")
    assert code == 0
    data = json.loads(out)
    by_unit = {r["unit"]: r for r in data["rows"]}
    assert data["periods"] == [{"start": "2026-10-01", "end": "2026-10-31"}]
    assert by_unit["T.STP"] == {
        "unit": "T.STP", "name": "Sở Tư pháp", "period_start": "2026-10-01", "period_end": "2026-10-31",
        "status": "match", "bieu06": {"received": 4, "on_time": 2, "score": 10.0},
        "portal_method": {"received": 4, "on_time": 2, "score": 10.0},
        "published": {"received": 4, "on_time": 2, "score": 10.0},
        "gap": {"received": 0, "on_time": 0, "score": 0.0}, "unexplained": {"received": 0, "on_time": 0},
        "explained_by": []}
    assert by_unit["T.SXD"]["status"] == "unexplained" and by_unit["T.SXD"]["unexplained"] == {
        "received": 1, "on_time": 0}
    assert by_unit["T.XA"]["published"] is None and by_unit["T.XA"]["status"] == "not_published"
    code, out, _ = run(capsys, "portal-figures", "compare", "--from", "2026-10-01", "--to", "2026-10-31")
    assert code == 0
    line = next(ln for ln in out.splitlines() if ln.startswith("T.SXD"))
    assert "3/2/13,33" in line and "+1/+0/-6,67" in line and "chưa giải thích được" in line


def test_explanations_account_for_the_dossiers_the_methods_count_differently():
    """How a disagreement moves the counts (the reconciliation's arithmetic, whatever module lists them)."""
    from types import SimpleNamespace

    from tracker.portal_figures import Figures, ReconRow, explanation

    up = explanation(SimpleNamespace(code="A", unit="U", portal="on_time", bieu06="late", end_at=None, reason="r"))
    down = explanation({"code": "B", "unit": "U", "portal_verdict": "late", "bieu06_verdict": "on_time",
                        "end_at": None, "reason": "2 lần yêu cầu bổ sung"})
    out = explanation(SimpleNamespace(code="C", unit="U", portal=None, bieu06="on_time", end_at=None, reason=""))
    assert (up.kind, up.received, up.on_time) == ("counted_differently", 0, 1)
    assert (down.kind, down.received, down.on_time) == ("counted_differently", 0, -1)
    assert (out.kind, out.received, out.on_time) == ("not_counted_by_portal", -1, -1)
    # as tracker.portal766 writes them: the unit's code, the verdicts, and our class beside them
    theirs = explanation(SimpleNamespace(code="D", unit_code="U", portal="late", biểu06="within",
                                         biểu06_verdict="on_time", end_at=None, reason="supplements_2",
                                         explanation_vi="2 lần yêu cầu bổ sung"))
    assert (theirs.unit, theirs.bieu06, theirs.on_time, theirs.reason) == ("U", "on_time", -1, "2 lần yêu cầu bổ sung")
    by_class = explanation(SimpleNamespace(code="E", unit_code="U", portal="on_time", biểu06="overdue", end_at=None,
                                           reason=""))
    assert (by_class.bieu06, by_class.on_time) == ("late", 1)
    row = ReconRow("U", "U", date(2026, 10, 1), date(2026, 10, 31), Figures(10, 8, None), Figures(9, 7, None),
                   Figures(9, 7, None), [up, down, out])
    assert row.unexplained == (0, 0) and row.status == "explained"
    row.explained_by = [up, down]
    assert row.unexplained == (-1, -1) and row.status == "unexplained"


def test_a_workbook_that_would_abort_the_reader_is_rejected(engine, units, tmp_path):
    from tests import hostile as hx
    from tracker.ingest.base import FileRejected

    path = hx.xlsx(tmp_path / "far.xlsx", hx.sheet_xml([["Mã đơn vị", "Kỳ", "Tiếp nhận", "Đúng hạn"]],
                                                       extra='<row r="1048576"><c r="XFD1048576"><v>1</v></c></row>'))

    def call() -> str:
        try:
            import_figures(engine, path)
        except FileRejected as exc:
            return str(exc)
        return "read"

    engine.dispose()  # the child makes its own connections
    kind, outcome = hx.in_child(call, memory_mb=1024, seconds=60)
    assert kind == "ok" and "1048576 rows x 16384 columns" in outcome, outcome
    # written so that the checks do not see it: calamine meets it in its own child, with a cap
    hx.xlsx(path, hx.sheet_xml([["Mã đơn vị", "Kỳ", "Tiếp nhận", "Đúng hạn"]],
                               extra="<row r='1048576'><c r='XFD1048576'><v>1</v></c></row>"))
    kind, outcome = hx.in_child(call, memory_mb=1024, seconds=60)
    assert kind == "ok" and "far.xlsx: not a readable Excel workbook (reading it needed more than" in outcome, outcome
