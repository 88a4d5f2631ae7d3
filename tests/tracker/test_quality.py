"""The data-quality panel's counts and lists (tracker.quality) against planted dossiers, one of each
kind, on SQLite and PostgreSQL: counted over the period's dossiers only, kept to a user's units."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime

import pytest
from sqlalchemy import select, update

from tests.conftest import write_export
from tests.tracker.test_reports import add_dossiers, at, seed_catalogues
from tracker.audits import write_csv
from tracker.ingest import import_file
from tracker.models import Dossier, ImportRun, Unit
from tracker.portal766 import portal_disagreements
from tracker.quality import COLUMNS, KINDS, counts, rows

OCT = (date(2026, 10, 1), date(2026, 10, 31))
CLEAN = dict(unit="T.STP", received_at=at("10-05 08:00"), due_at=at("10-08 17:00"))  # Mon, 3 working days
PLANTED = [
    dict(CLEAN, code="CLEAN"),
    dict(CLEAN, code="NO-FINISH", status=10),  # ended, no finish date: flagged no_finished_at
    dict(CLEAN, code="OPEN-BUT-FINISHED", status=4, finished_at=at("10-07 10:00")),
    dict(CLEAN, code="DONE-BEFORE-RECEIVED", status=10, finished_at=at("10-04 10:00")),
    dict(CLEAN, code="NO-DUE", due_at=None),
    dict(CLEAN, code="BEYOND", due_at=at("10-20 17:00")),  # legal due 08/10: 8 working days beyond
    dict(CLEAN, code="NO-LIMIT", procedure="1.000003"),
    # another unit: seen by the province, not by the Sở Tư pháp's head
    dict(CLEAN, code="NO-DUE-SXD", unit="T.SXD", due_at=None),
    # finished in August: the October figures do not hold it
    dict(CLEAN, code="NO-DUE-AUGUST", due_at=None, received_at=at("08-03 08:00"), status=10,
         finished_at=at("08-05 10:00")),
]
IMPORTED_UNIT = "UBND xã Mới Lập"


@pytest.fixture
def planted(engine, settings, tmp_path):
    ids = seed_catalogues(engine)
    add_dossiers(engine, settings, ids, PLANTED)
    # a unit no catalogue has, made by an import of a clean dossier
    path = write_export(tmp_path / "new-unit.csv", [[
        "1", "IMP-1", "1.000001", "Cấp phiếu lý lịch tư pháp", "Lý lịch tư pháp", IMPORTED_UNIT, "", "",
        "Trực tiếp", "05/10/2026 08:00:00", "08/10/2026 17:00:00", "", "", "Đang xử lý", "3 ngày làm việc"]])
    res = import_file(engine, settings, path, source="test")
    assert res.status == "done" and len(res.new_units) == 1
    return ids, res.run_id


def test_an_import_records_the_units_it_creates(engine, planted):
    ids, run_id = planted
    with engine.connect() as conn:
        made = dict(conn.execute(select(Unit.name, Unit.created_by_run_id)).all())
    assert made[IMPORTED_UNIT] == run_id
    assert made["Sở Tư pháp"] is None  # from the catalogue


def test_each_kind_counts_its_planted_dossiers(engine, settings, planted):
    got = counts(engine, settings, *OCT)
    disagree = len(list(portal_disagreements(engine, settings, *OCT, limit=100_000)))
    assert got == {"no_finished_at": 1, "contradictions": 2, "no_due": 2, "beyond_limit": 1, "no_limit": 1,
                   "import_units": 1, "disagreements": disagree}
    assert list(got) == list(KINDS)


def test_the_lists_hold_what_the_counts_count(engine, settings, planted):
    codes = {k: sorted(r["code"] for r in rows(engine, settings, k, *OCT))
             for k in ("no_finished_at", "contradictions", "no_due", "beyond_limit")}
    assert codes == {"no_finished_at": ["NO-FINISH"], "contradictions": ["DONE-BEFORE-RECEIVED", "OPEN-BUT-FINISHED"],
                     "no_due": ["NO-DUE", "NO-DUE-SXD"], "beyond_limit": ["BEYOND"]}
    beyond = rows(engine, settings, "beyond_limit", *OCT)[0]
    assert beyond["due_excess_hours"] > 0
    assert [(r["procedure_code"], r["dossiers"]) for r in rows(engine, settings, "no_limit", *OCT)] == [("1.000003", 1)]
    made = rows(engine, settings, "import_units", *OCT)
    assert [(r["unit_name"], r["run_id"], r["file_name"], r["dossiers"]) for r in made] == [
        (IMPORTED_UNIT, planted[1], "new-unit.csv", 1)]
    for kind in KINDS:
        for r in rows(engine, settings, kind, *OCT):
            assert set(COLUMNS[kind]) <= set(r), kind


def test_a_unit_heads_units_only(engine, settings, planted):
    ids, _ = planted
    mine = counts(engine, settings, *OCT, unit_ids={ids[0]["T.STP"]})
    assert (mine["no_due"], mine["import_units"], mine["contradictions"]) == (1, 0, 2)
    assert [r["code"] for r in rows(engine, settings, "no_due", *OCT, unit_ids={ids[0]["T.STP"]})] == ["NO-DUE"]
    assert counts(engine, settings, *OCT, unit_ids=set()) == dict.fromkeys(KINDS, 0)


def test_a_period_the_cases_do_not_touch_counts_nothing(engine, settings, planted):
    assert counts(engine, settings, date(2026, 9, 1), date(2026, 9, 30)) == dict.fromkeys(KINDS, 0)
    august = counts(engine, settings, date(2026, 8, 1), date(2026, 8, 31))
    assert august["no_due"] == 1 and sum(august.values()) == 1 + august["disagreements"]


def test_an_open_month_is_counted_at_its_moment(engine, settings, planted):
    """Evaluated on 6 October: the dossiers received later are not in that month's figures yet."""
    ids, _ = planted
    with engine.begin() as conn:
        conn.execute(update(Dossier).where(Dossier.code == "NO-DUE").values(received_at=datetime(2026, 10, 9, 8)))
    got = counts(engine, settings, *OCT, as_of=datetime(2026, 10, 6, 12, 0))
    assert got["no_due"] == 1  # NO-DUE-SXD (05/10); NO-DUE is received on the 9th


def test_a_list_exports_with_formula_text_neutralised(engine, settings, planted):
    with engine.begin() as conn:
        conn.execute(update(Unit).where(Unit.name == IMPORTED_UNIT).values(name="=HYPERLINK(\"x\")"))
        run = conn.execute(select(ImportRun.id)).scalar_one()
    buf = io.StringIO()
    write_csv(rows(engine, settings, "import_units", *OCT), buf, COLUMNS["import_units"])
    out = list(csv.reader(io.StringIO(buf.getvalue())))
    assert out[0] == list(COLUMNS["import_units"])
    assert out[1][1] == "'=HYPERLINK(\"x\")" and out[1][2] == str(run)
