"""The product's own CSV reads back unchanged (issue 11, defect 4): a database with every stored
field set is exported, the export imported into the emptied database (with the catalogue it was
built from: the procedures' limit versions are catalogue data, not dossier data), exported again,
and the two exports compared byte for byte.

Built around the export's own column list (tracker.export.DOSSIER_COLUMNS): every column must be
named in FILLED (how the test fills it) or DERIVED (recomputed by the import), so a new export
column fails `test_every_export_column_is_filled` until this test fills it. To add one: give its
stored values a strategy (in `_dossier` for a dossier column; a new part of `_world` and its rows
in `_store` for a child table, as supplement pairs would be), and name it in FILLED.
"""

from __future__ import annotations

import csv
import io
from datetime import date, datetime, timedelta
from unicodedata import normalize

import pytest
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from sqlalchemy import select, text

from tests.conftest import TABLES, empty_pg_tables, examples
from tracker.derive import refresh_derived
from tracker.export import DOSSIER_COLUMNS, write_dossiers
from tracker.ingest import import_file, import_procedures
from tracker.ingest.text import name_key
from tracker.models import PHONE_MAX, Dossier, Procedure, Supplement, Unit
from tracker.portal766 import SupplementPair, supplement_summary
from tracker.rules import TimeLimit

DATE_COLUMNS = ("submitted_at", "received_at", "due_at", "supplement_requested_at", "resubmitted_at", "apology_at",
                "rescheduled_due_at", "finished_at", "returned_at", "first_seen_finished_at")
# export column -> what fills it in the source database
FILLED = {
    "code": "dossier.code", "channel": "dossier.channel", "status": "dossier.status",
    **{c: f"dossier.{c}" for c in DATE_COLUMNS},
    "limit_text": "dossier.limit_value/limit_unit (its own limit, or none)",
    "applicant_name": "dossier.applicant_name", "applicant_phone": "dossier.applicant_phone",
    "unit_code": "unit.code", "unit_name": "unit.name",
    "procedure_code": "procedure.code", "procedure_name": "procedure.name",
    "field_code": "procedure.field_code", "field_name": "procedure.field_name",
    "supplements": "supplement rows (every pair of the dossier) and the dossier's summary of them",
}
DERIVED = ("computed_due_at", "due_used_at", "result_class")

VIETNAMESE = "aăâbcdđeêghiklmnoôơpqrstuưvxyáàảãạắằẳẵặấầẩẫậéèẻẽẹếềểễệíìỉĩịóòỏõọốồổỗộớờởỡợúùủũụứừửữựýỳỷỹỵĐƯƠĂÂÊÔ"
# what a spreadsheet runs as a formula, quotes, every separator a CSV reader sniffs, line breaks
SPECIAL = "=+-@'\",;\t\n\r |"


def texts(max_size: int) -> st.SearchStrategy[str]:
    """Text as an import stores it (NFC, no surrounding blanks), often opening with = + - @ or a quote."""
    body = st.text(alphabet=VIETNAMESE + SPECIAL + "AZaz09", min_size=1, max_size=max_size)
    lead = st.sampled_from(["", "", "=", "+", "-", "@", "'", "'=", "''-", "\"", "=HYPERLINK(\""])
    return (st.tuples(lead, body).map(lambda p: normalize("NFC", "".join(p))[:max_size].strip())
            .filter(bool))


# codes: the same letters, but not opening with a formula character or a quote (see the report)
codes = st.text(alphabet=VIETNAMESE + "ABCXYZ0123456789.-_/ ", min_size=1, max_size=24).map(str.strip).filter(
    lambda s: s and s[0] not in "=+-@'")
moments = st.datetimes(min_value=datetime(2025, 1, 1), max_value=datetime(2027, 12, 31)).map(
    lambda d: d.replace(microsecond=0))
spans = st.integers(min_value=0, max_value=90 * 24 * 3600).map(lambda s: timedelta(seconds=s))
# limits as parse_limit can make them (a fraction of a calendar day is read as working time: never stored)
limits = st.sampled_from([TimeLimit(0, "working_days"), TimeLimit(0.5, "working_days"),
                          TimeLimit(3, "working_days"), TimeLimit(15, "working_days"),
                          TimeLimit(2, "calendar_days"), TimeLimit(30, "calendar_days"),
                          TimeLimit(8, "working_hours"), TimeLimit(1, "working_hours")])


@st.composite
def _pair(draw) -> SupplementPair:  # noqa: ANN001
    requested = draw(moments)
    return SupplementPair(requested, draw(st.none() | spans.map(lambda s: requested + s)),
                          draw(st.none() | moments), draw(st.none() | moments))


@st.composite
def _dossier(draw, code: str, units: int, procedures: int, catalogued: int) -> dict:  # noqa: ANN001
    received = draw(moments)
    after = {c: received + draw(spans) for c in ("due_at", "finished_at", "returned_at")}  # import rejects earlier
    proc = draw(st.integers(0, procedures - 1))
    # a procedure the catalogue does not list gets its first limit from a row's own (tracker.ingest.writer):
    # its dossiers carry none, so the emptied database's catalogue is the source's
    own = draw(st.none() | limits) if proc < catalogued else None
    return {"code": code, "unit": draw(st.integers(0, units - 1)), "procedure": proc,
            "channel": draw(st.sampled_from([1, 2, 3])), "status": draw(st.integers(1, 10)),
            "submitted_at": draw(moments), "received_at": received, **after,
            **{c: draw(moments) for c in ("supplement_requested_at", "resubmitted_at", "apology_at",
                                          "rescheduled_due_at", "first_seen_finished_at")},
            "limit_value": own.value if own else None, "limit_unit": own.unit if own else None,
            "applicant_name": draw(texts(40)), "applicant_phone": draw(texts(PHONE_MAX)),
            "pairs": draw(st.lists(_pair(), max_size=3))}


@st.composite
def _world(draw) -> dict:  # noqa: ANN001
    units = draw(st.lists(st.tuples(codes, texts(60)), min_size=1, max_size=3,
                          unique_by=(lambda u: u[0], lambda u: name_key(u[1]))))
    procedures = draw(st.lists(st.tuples(codes, texts(80), codes, texts(40)), min_size=1, max_size=3,
                               unique_by=lambda p: p[0]))
    catalogued = draw(st.integers(1, len(procedures)))
    versions = {i: draw(st.lists(st.tuples(st.none() | st.dates(date(2025, 1, 1), date(2027, 12, 31)), limits),
                                 min_size=1, max_size=3, unique_by=lambda v: v[0]))
                for i in range(catalogued)}
    dossier_codes = draw(st.lists(codes, min_size=1, max_size=6, unique=True))
    dossiers = [draw(_dossier(c, len(units), len(procedures), catalogued)) for c in dossier_codes]
    return {"units": units, "procedures": procedures, "versions": versions, "dossiers": dossiers}


def _catalogue(world: dict, path) -> None:  # noqa: ANN001
    """The procedures catalogue the database is built from: a row per limit version."""
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["Mã TTHC", "Tên thủ tục hành chính", "Mã lĩnh vực", "Lĩnh vực", "Thời hạn giải quyết",
                "effective_from"])
    for i, versions in world["versions"].items():
        code, name, field_code, field_name = world["procedures"][i]
        for effective_from, limit in versions:
            w.writerow([code, name, field_code, field_name, limit.describe("vi"),
                        effective_from.isoformat() if effective_from else ""])
    path.write_text(buf.getvalue(), encoding="utf-8-sig")


def _empty(engine) -> None:  # noqa: ANN001
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            empty_pg_tables(conn)
        else:
            for table in TABLES:
                conn.execute(text(f"DELETE FROM {table}"))


def _store(engine, settings, world: dict, catalogue) -> None:  # noqa: ANN001
    """The source database: the catalogue imported, the rest of every stored field written as it is."""
    res = import_procedures(engine, catalogue)
    assert res.rejected == [], res.rejected
    with engine.begin() as conn:
        unit_ids = [conn.execute(Unit.__table__.insert().values(code=c, name=n, name_key=name_key(n), level="",
                                                                 digest_recipients="")).inserted_primary_key[0]
                    for c, n in world["units"]]
        proc_ids = dict(conn.execute(text("SELECT code, id FROM procedure")).all())
        for code, name, field_code, field_name in world["procedures"][len(world["versions"]):]:
            proc_ids[code] = conn.execute(Procedure.__table__.insert().values(
                code=code, name=name, name_key=name_key(name), field_code=field_code, field_name=field_name)
            ).inserted_primary_key[0]
        for d in world["dossiers"]:
            row = {k: v for k, v in d.items() if k not in ("unit", "procedure", "pairs")}
            pairs = d.get("pairs", [])
            dossier_id = conn.execute(Dossier.__table__.insert().values(
                **row, **supplement_summary(pairs), unit_id=unit_ids[d["unit"]],
                procedure_id=proc_ids[world["procedures"][d["procedure"]][0]])).inserted_primary_key[0]
            for seq, pair in enumerate(pairs, 1):
                conn.execute(Supplement.__table__.insert().values(dossier_id=dossier_id, seq=seq, **vars(pair)))
    refresh_derived(engine, settings.work_calendar(), settings.rule_settings(), settings.fingerprint(),
                    all_rows=True)


def _export(engine) -> str:  # noqa: ANN001
    out = io.StringIO()
    write_dossiers(engine, out)
    return out.getvalue()


def test_every_export_column_is_filled():
    """A column added to the export is a stored field this test must fill (or one the import derives)."""
    assert sorted(DOSSIER_COLUMNS) == sorted([*FILLED, *DERIVED]), \
        "say in FILLED how the round-trip test fills the new export column"


# no shrinking: each example builds and empties a database twice, and shrinking one took minutes;
# the failing example is printed as found, and replayed first next time
@hsettings(max_examples=examples(40), deadline=None, phases=[Phase.explicit, Phase.reuse, Phase.generate],
           suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(world=_world())
def test_an_export_imported_into_an_empty_database_exports_the_same_bytes(engine, settings, tmp_path, world):
    _empty(engine)
    catalogue = tmp_path / "procedures.csv"
    _catalogue(world, catalogue)
    _store(engine, settings, world, catalogue)
    first = _export(engine)
    assert first.count("\n") >= len(world["dossiers"])

    _empty(engine)
    import_procedures(engine, catalogue)
    backup = tmp_path / "backup.csv"
    backup.write_text(first, encoding="utf-8-sig", newline="")
    res = import_file(engine, settings, backup)
    assert (res.status, res.rejections, res.inserted) == ("done", [], len(world["dossiers"])), res.message
    again = _export(engine)
    assert again == first


def _fixed_world(**dossier) -> dict:
    moment = datetime(2026, 3, 2, 8, 0)
    d = {"code": "HS-1", "unit": 0, "procedure": 0, "channel": 2, "status": 10,
         **{c: moment for c in DATE_COLUMNS}, "limit_value": None, "limit_unit": None,
         "applicant_name": "Nguyễn Văn An", "applicant_phone": "0912345678", **dossier}
    return {"units": [("T.STP", "Sở Tư pháp")], "procedures": [("1.1", "Đăng ký khai sinh", "HT", "Hộ tịch")],
            "versions": {0: [(None, TimeLimit(3, "working_days"))]}, "dossiers": [d]}


def _round_trip(engine, settings, tmp_path, world: dict) -> tuple[str, str]:  # noqa: ANN001
    _empty(engine)
    catalogue = tmp_path / "procedures.csv"
    _catalogue(world, catalogue)
    _store(engine, settings, world, catalogue)
    first = _export(engine)
    _empty(engine)
    import_procedures(engine, catalogue)
    (tmp_path / "backup.csv").write_text(first, encoding="utf-8-sig", newline="")
    res = import_file(engine, settings, tmp_path / "backup.csv")
    assert (res.format, res.rejections, res.skipped) == ("tthc-csv", [], [])
    return first, _export(engine)


@pytest.mark.parametrize("field, value", [
    # a restored backup kept "now" as the moment the product first saw every ended dossier
    ("first_seen_finished_at", datetime(2026, 3, 5, 14, 30, 15)),
    # a 20-character phone opening with '+' is exported with its escape (21): rejected as too long
    ("applicant_phone", "+84 912 345 678 9012"),
    # text opening with a quote before a formula character lost that quote
    ("applicant_name", "'=Nguyễn"), ("applicant_name", "''-An"), ("applicant_name", "'\t+ạ"),
    # a dossier coded like a totals label was skipped as the file's totals row
    ("code", "Cộng 01"), ("code", "tong"),
    # more semicolons in a value than commas in the header: the file was read as ;-separated
    ("applicant_name", "Nguyễn;" * 40),
])
def test_what_the_round_trip_found(engine, settings, tmp_path, field, value):
    first, again = _round_trip(engine, settings, tmp_path, _fixed_world(**{field: value}))
    assert again == first
    with engine.connect() as conn:
        assert conn.execute(select(getattr(Dossier, field))).scalar_one() == value


def test_every_supplement_pair_survives_the_round_trip(engine, settings, tmp_path):
    pairs = [SupplementPair(datetime(2026, 3, 3, 9), datetime(2026, 3, 5, 10), datetime(2026, 3, 6, 17), None),
             SupplementPair(datetime(2026, 3, 9, 8, 30), None, None, datetime(2026, 3, 20, 17))]
    first, again = _round_trip(engine, settings, tmp_path, _fixed_world(pairs=pairs))
    assert again == first and "2026-03-09 08:30:00" in first
    with engine.connect() as conn:
        stored = conn.execute(select(Supplement).order_by(Supplement.seq)).mappings().all()
    assert [SupplementPair(r["requested_at"], r["resubmitted_at"], r["previous_due_at"], r["new_due_at"])
            for r in stored] == pairs
