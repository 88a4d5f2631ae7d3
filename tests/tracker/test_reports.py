"""Period reports (RULES.md §6): hand-counted small datasets, one per column and edge, and a
property test against the per-dossier truth of tracker.rules.classify.

The helpers at the top (a unit tree, three procedures, `add_dossiers`) are shared by the tests of
scoring, audits and the XLSX layout.
"""

from __future__ import annotations

import itertools
import json
import random
from datetime import date, datetime, time, timedelta
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from sqlalchemy import delete

from tests.cli.test_main import run_cli
from tests.conftest import examples
from tracker.config import load_settings
from tracker.derive import derive, facts_of
from tracker.models import Dossier, Procedure, ProcedureLimit, Unit
from tracker.reports import (
    ReportRow,
    on_time_rate,
    period_report,
    rate_text,
    ratio_half_up,
    score_766,
    vi_number,
)
from tracker.rules import ENDED_STATUSES, FINISHED_CLASSES, TimeLimit, classify

# ----- shared data helpers -----------------------------------------------------------------------

# code: (name, parent code, level)
UNITS = {
    "T": ("UBND tỉnh Sơn Hà", None, "tinh"),
    "T.STP": ("Sở Tư pháp", "T", "tinh"),
    "T.SXD": ("Sở Xây dựng", "T", "tinh"),
    "T.XA": ("UBND xã An Bình", "T", "xa"),
    "T.XB": ("UBND phường Bình Minh", "T", "xa"),
}
# code: (name, field code, field name, limit)
PROCEDURES = {
    "1.000001": ("Cấp phiếu lý lịch tư pháp", "LLTP", "Lý lịch tư pháp", TimeLimit(3, "working_days")),
    "1.000002": ("Đăng ký khai sinh", "HT", "Hộ tịch", TimeLimit(0, "working_days")),
    "1.000003": ("Cấp giấy phép xây dựng", "", "Xây dựng", None),
}
_codes = itertools.count(1)


def seed_catalogues(engine) -> tuple[dict[str, int], dict[str, int]]:
    """The unit tree and the procedures above; ({unit code: id}, {procedure code: id})."""
    units: dict[str, int] = {}
    procs: dict[str, int] = {}
    with engine.begin() as conn:
        for code, (name, parent, level) in UNITS.items():
            units[code] = conn.execute(Unit.__table__.insert().values(
                code=code, name=name, name_key=name.lower(), parent_id=units.get(parent), level=level)
            ).inserted_primary_key[0]
        for code, (name, fcode, fname, limit) in PROCEDURES.items():
            procs[code] = conn.execute(Procedure.__table__.insert().values(
                code=code, name=name, name_key=name.lower(), field_code=fcode, field_name=fname)
            ).inserted_primary_key[0]
            if limit:
                conn.execute(ProcedureLimit.__table__.insert().values(
                    procedure_id=procs[code], limit_value=limit.value, limit_unit=limit.unit))
    return units, procs


DOSSIER_DEFAULTS = {
    "unit": "T.STP", "procedure": "1.000001", "channel": 1, "status": 4, "received_at": None, "due_at": None,
    "finished_at": None, "returned_at": None, "first_seen_finished_at": None, "apology_at": None,
    "rescheduled_due_at": None, "resubmitted_at": None,
}


def dossier_rows(settings, ids: tuple[dict[str, int], dict[str, int]], specs: list[dict]) -> list[dict]:
    """Rows for the dossier table, derived columns computed by tracker.derive.derive as an import
    does. An ended status with no finish moment is given one the day after receipt."""
    units, procs = ids
    cal, rules, fp = settings.work_calendar(), settings.rule_settings(), settings.fingerprint()
    rows = []
    for spec in specs:
        s = {**DOSSIER_DEFAULTS, **spec}
        s.setdefault("code", f"HS-{next(_codes):06d}")
        if (s["status"] in ENDED_STATUSES and not (s["finished_at"] or s["returned_at"])
                and s["first_seen_finished_at"] is None and s["received_at"] is not None):
            s["first_seen_finished_at"] = s["received_at"] + timedelta(days=1)
        limit = PROCEDURES[s["procedure"]][3] if s["procedure"] else None
        row = {k: s[k] for k in DOSSIER_DEFAULTS if k not in ("unit", "procedure")}
        row.update(code=s["code"], unit_id=units[s["unit"]], procedure_id=procs.get(s["procedure"]),
                   limit_value=None, limit_unit=None)
        row.update(derive(row, limit, cal, rules, fp))
        rows.append(row)
    return rows


def add_dossiers(engine, settings, ids, specs: list[dict]) -> list[dict]:
    rows = dossier_rows(settings, ids, specs)
    if rows:
        with engine.begin() as conn:
            conn.execute(Dossier.__table__.insert(), rows)
    return rows


def at(text: str) -> datetime:
    """'03-31 16:59' -> 2026-03-31 16:59: the dataset's year."""
    return datetime.fromisoformat(f"2026-{text}")


def with_comparison(settings, comparison: str):
    return load_settings(env={}, overrides={"database.url": settings.get("database.url"),
                                            "rules.comparison": comparison})


def counts(row: ReportRow) -> dict[str, int]:
    return {k: getattr(row, k) for k in ("carried_over", "received_online", "received_offline", "total",
                                         "finished", "early", "on_time", "late", "unfinished", "within",
                                         "overdue")}


def assert_invariant(report) -> None:
    for row in report.all_rows():
        assert row.total == row.finished + row.unfinished, row
        assert row.total == row.carried_over + row.received_online + row.received_offline, row


# ----- the March 2026 dataset: every column and edge, counted by hand ------------------------------
# Period 01/03/2026 – 31/03/2026, evaluated at 31/03/2026 23:59:59. Each line: what it tests,
# then its class in date mode | datetime mode.

MARCH = [
    # carried over, unfinished, due after the period: within | within
    dict(code="C1", received_at=at("02-20 08:00"), due_at=at("04-03 17:00")),
    # carried over, finished early in the period: early | early
    dict(code="C2", channel=2, received_at=at("02-25 08:00"), due_at=at("03-05 17:00"), status=10,
         finished_at=at("03-03 10:00")),
    # received and finished before the period (last second of February): not in the report
    dict(code="C3", received_at=at("02-20 08:00"), due_at=at("02-25 17:00"), status=10,
         finished_at=at("02-28 23:59:59")),
    # carried over, finished at the very first moment of the period, past due, apologised only
    # after due: late | late
    dict(code="C4", received_at=at("02-24 08:00"), due_at=at("02-27 17:00"), status=9,
         finished_at=at("03-01 00:00"), apology_at=at("02-28 08:00")),
    # carried over, finished on its due date an hour after the due time: on_time | late
    dict(code="C5", channel=2, received_at=at("02-10 08:00"), due_at=at("03-05 09:00"), status=10,
         finished_at=at("03-05 10:00")),
    # online, finished on the last day at 16:59, long past due, apologised before due: late | late
    dict(code="N1", channel=2, received_at=at("03-02 08:00"), due_at=at("03-05 17:00"), status=10,
         finished_at=at("03-31 16:59"), apology_at=at("03-04 10:00")),
    # in person, finished on the last day at 17:01, due 17:00 that day: on_time | late
    dict(code="N2", received_at=at("03-30 08:00"), due_at=at("03-31 17:00"), status=10,
         finished_at=at("03-31 17:01")),
    # by post, finished the day after the period, past due: unfinished at T, overdue | overdue
    dict(code="N3", channel=3, received_at=at("03-20 08:00"), due_at=at("03-25 17:00"), status=10,
         finished_at=at("04-01 08:00")),
    # channel unknown, withdrawn (7) after its due: on_time | on_time
    dict(code="N4", channel=None, received_at=at("03-10 08:00"), due_at=at("03-12 17:00"), status=7,
         finished_at=at("03-20 08:00")),
    # waiting for a supplement (5) at the end of the period, past due: within | within
    dict(code="N5", received_at=at("03-02 08:00"), due_at=at("03-10 17:00"), status=5),
    # online, no appointment and no time limit, unfinished: within | within
    dict(code="N6", channel=2, procedure="1.000003", received_at=at("03-02 08:00")),
    # no appointment and no time limit, finished: on_time | on_time
    dict(code="N7", procedure="1.000003", received_at=at("03-02 08:00"), status=10,
         finished_at=at("03-15 08:00")),
    # not received (1) and not accepted (3): not in the report
    dict(code="N8", status=1, received_at=at("03-02 08:00"), due_at=at("03-05 17:00")),
    dict(code="N9", status=3, received_at=at("03-02 08:00"), due_at=at("03-05 17:00")),
    # received the day after the period: not in the report
    dict(code="N10", received_at=at("04-01 08:00"), due_at=at("04-03 17:00")),
    # online, unfinished, due on the last day at 10:00: within (at risk) | overdue
    dict(code="N11", channel=2, received_at=at("03-26 08:00"), due_at=at("03-31 10:00")),
    # stopped (8) after its due: on_time | on_time
    dict(code="N12", received_at=at("03-16 08:00"), due_at=at("03-20 17:00"), status=8,
         returned_at=at("03-25 08:00")),
    # finished two days early, known only from the return date: early | early
    dict(code="N13", received_at=at("03-16 08:00"), due_at=at("03-20 17:00"), status=10,
         returned_at=at("03-18 09:00")),
    # a commune: online, same-day procedure with no appointment (computed 10/03 17:00), on time
    dict(code="X1", unit="T.XA", channel=2, procedure="1.000002", received_at=at("03-10 08:00"), status=10,
         finished_at=at("03-10 15:00")),
    # same-day received after the 15:00 cut-off on the last day: due 01/04 17:00, within at T
    dict(code="X2", unit="T.XA", procedure="1.000002", received_at=at("03-31 16:00")),
]

MARCH_STP = {
    "date": dict(carried_over=4, received_online=3, received_offline=7, total=14, finished=9, early=2,
                 on_time=5, late=2, unfinished=5, within=4, overdue=1),
    "datetime": dict(carried_over=4, received_online=3, received_offline=7, total=14, finished=9, early=2,
                     on_time=3, late=4, unfinished=5, within=3, overdue=2),
}
MARCH_XA = dict(carried_over=0, received_online=1, received_offline=1, total=2, finished=1, early=0, on_time=1,
                late=0, unfinished=1, within=1, overdue=0)


@pytest.fixture
def ids(engine):
    return seed_catalogues(engine)


def _march(engine, settings, ids, comparison="date"):
    s = with_comparison(settings, comparison)
    add_dossiers(engine, s, ids, MARCH)
    return s


def test_march_by_unit_every_column_by_hand_in_date_mode(engine, settings, ids):
    s = _march(engine, settings, ids)
    report = period_report(engine, s, date(2026, 3, 1), date(2026, 3, 31))
    assert report.as_of == datetime(2026, 3, 31, 23, 59, 59) and report.ended
    assert [r.key for r in report.rows] == ["T.STP", "T.XA"]
    stp, xa = report.rows
    assert (stp.name, stp.level, xa.level) == ("Sở Tư pháp", "tinh", "xa")
    assert counts(stp) == MARCH_STP["date"]
    assert counts(xa) == MARCH_XA
    assert stp.on_time_rate == Decimal("77.8")  # 7 / 9
    assert stp.score_766 == Decimal("15.71")  # 20 × 11 / 14 = 15.714…
    assert (xa.on_time_rate, xa.score_766) == (Decimal("100.0"), Decimal("20.00"))
    total = report.total
    assert total.key == "total" and counts(total) == {k: v + MARCH_XA[k] for k, v in MARCH_STP["date"].items()}
    assert total.on_time_rate == Decimal("80.0")  # 8 / 10
    assert total.score_766 == Decimal("16.25")  # 20 × 13 / 16
    assert_invariant(report)


def test_march_by_unit_in_datetime_mode(engine, settings, ids):
    s = _march(engine, settings, ids, "datetime")
    report = period_report(engine, s, date(2026, 3, 1), date(2026, 3, 31))
    assert report.comparison == "datetime"
    stp, xa = report.rows
    assert counts(stp) == MARCH_STP["datetime"]
    assert counts(xa) == MARCH_XA
    assert (stp.on_time_rate, stp.score_766) == (Decimal("55.6"), Decimal("11.43"))  # 5/9; 20 × 8/14
    assert_invariant(report)


def test_march_by_channel_level_field_procedure_and_rolled_up(engine, settings, ids):
    s = _march(engine, settings, ids)
    start, end = date(2026, 3, 1), date(2026, 3, 31)
    by_channel = period_report(engine, s, start, end, by="channel")
    assert [(r.key, r.name, r.total) for r in by_channel.rows] == [
        ("1", "Trực tiếp", 8), ("2", "Trực tuyến", 6), ("3", "Bưu chính công ích", 1), ("unknown", "Không rõ kênh", 1)]
    online = by_channel.rows[1]
    assert (online.carried_over, online.received_online, online.received_offline) == (2, 4, 0)
    by_level = period_report(engine, s, start, end, by="level")
    assert [(r.key, r.name) for r in by_level.rows] == [("tinh", "Cấp tỉnh"), ("xa", "Cấp xã")]
    assert counts(by_level.rows[0]) == MARCH_STP["date"] and counts(by_level.rows[1]) == MARCH_XA
    by_field = period_report(engine, s, start, end, by="field")
    assert [(r.key, r.name, r.total) for r in by_field.rows] == [
        ("HT", "Hộ tịch", 2), ("LLTP", "Lý lịch tư pháp", 12), ("Xây dựng", "Xây dựng", 2)]
    by_procedure = period_report(engine, s, start, end, by="procedure")
    assert [(r.key, r.total, r.finished) for r in by_procedure.rows] == [
        ("1.000001", 12, 8), ("1.000002", 2, 1), ("1.000003", 2, 1)]
    for report in (by_channel, by_level, by_field, by_procedure):
        assert counts(report.total) == counts(period_report(engine, s, start, end).total)
        assert_invariant(report)
    # roll-up: each unit's row counts its subtree; the root has no dossiers of its own
    report = period_report(engine, s, start, end, rollup=True)
    assert [(r.key, r.depth) for r in report.rows] == [("T", 0), ("T.STP", 1), ("T.XA", 1)]
    root, stp, xa = report.rows
    assert counts(root) == {k: v + MARCH_XA[k] for k, v in MARCH_STP["date"].items()}
    assert counts(root) == counts(report.total)  # the total counts each dossier once, not the roll-ups
    assert counts(stp) == MARCH_STP["date"]
    assert_invariant(report)


def test_march_evaluated_before_its_end_and_the_periods_around_it(engine, settings, ids):
    s = _march(engine, settings, ids)
    as_of = datetime(2026, 3, 18, 9, 0)
    report = period_report(engine, s, date(2026, 3, 1), date(2026, 3, 31), as_of=as_of)
    assert report.as_of == as_of and not report.ended
    stp = report.rows[0]
    # received by 18/03 09:00: C1 C2 C4 C5 carried; N1 N4 N5 N6 N7 N12 N13 new. Finished by then:
    # C2 and N13 (returned at 09:00 exactly) early, C5 and N7 on time, C4 late.
    assert (stp.carried_over, stp.received, stp.total) == (4, 7, 11)
    assert (stp.early, stp.on_time, stp.late) == (2, 2, 1)
    # unfinished: C1 within, N1 overdue (due 05/03), N4 overdue (withdrawn only on 20/03, due 12/03),
    # N5 paused, N6 no due, N12 within (stopped only on 25/03, due 20/03)
    assert (stp.within, stp.overdue) == (4, 2)
    # as_of after the period: the end of the last day; before it: an error
    later = period_report(engine, s, date(2026, 3, 1), date(2026, 3, 31), as_of=datetime(2026, 5, 1))
    assert later.as_of == datetime(2026, 3, 31, 23, 59, 59)
    with pytest.raises(ValueError, match="has not begun"):
        period_report(engine, s, date(2026, 3, 1), date(2026, 3, 31), as_of=datetime(2026, 2, 1))
    with pytest.raises(ValueError, match="before it starts"):
        period_report(engine, s, date(2026, 3, 31), date(2026, 3, 1))
    with pytest.raises(ValueError, match="not one of"):
        period_report(engine, s, date(2026, 3, 1), date(2026, 3, 31), by="district")
    with pytest.raises(ValueError, match="rollup"):
        period_report(engine, s, date(2026, 3, 1), date(2026, 3, 31), by="field", rollup=True)

    # the next period carries over what this one left unfinished
    march = period_report(engine, s, date(2026, 3, 1), date(2026, 3, 31))
    april = period_report(engine, s, date(2026, 4, 1), date(2026, 4, 30))
    assert april.total.carried_over == march.total.unfinished
    # received in April: N10 only
    assert april.total.received == 1
    # a period with no dossiers: no rows, a total row of zeros, no rate and no score
    report = period_report(engine, s, date(2025, 3, 1), date(2025, 3, 31))
    assert report.rows == []
    assert report.total.total == 0 and report.total.on_time_rate is None and report.total.score_766 is None
    assert report.total.as_dict()["on_time_rate"] is None


def test_rates_round_half_up_and_read_in_vietnamese():
    assert on_time_rate(1, 0, 16) == Decimal("6.3")  # 6.25: half up, not to even
    assert on_time_rate(2, 0, 3) == Decimal("66.7")
    assert on_time_rate(0, 0, 0) is None
    assert on_time_rate(5, 5, 10) == Decimal("100.0")
    assert score_766(1, 0, 0, 32) == Decimal("0.63")  # 0.625
    assert score_766(0, 0, 0, 0) is None
    assert ratio_half_up(1, 3, 100, 1) == Decimal("33.3")
    assert rate_text(Decimal("97.3")) == "97,3%" and rate_text(Decimal("100.0")) == "100,0%"
    assert rate_text(None) == "-"
    assert vi_number(1234567) == "1.234.567" and vi_number(Decimal("19.85"), 2) == "19,85"
    row = ReportRow(key="u", name="U", received_online=1234, early=1000, on_time=234)
    assert row.display()["received_online"] == "1.234" and row.display()["on_time_rate"] == "100,0%"


# ----- property: the SQL report equals the per-dossier truth of classify ------------------------------

PERIOD_START = date(2026, 3, 2)
CLOCKS = [time(0, 0), time(7, 0), time(11, 30), time(16, 59), time(17, 0), time(17, 1), time(23, 59, 59)]


def generate(pick, integer, start: date, end: date, n: int) -> tuple[datetime | None, list[dict]]:
    """An as_of (or None) and n dossier specs whose moments cluster on the edges of [start, end]: the
    first and last day and the days around them, at boundary clocks. `pick(seq)` and
    `integer(lo, hi)` are the randomness: hypothesis's draws, or a seeded random.Random's."""
    edges = [start, end, end + timedelta(days=1)]

    def moment(not_before: datetime | None = None) -> datetime:
        if pick([True, False]):
            day = pick(edges) + timedelta(days=pick([-1, 0, 0, 1]))
        else:
            day = start + timedelta(days=integer(-45, 40))
        clock = pick(CLOCKS) if pick([True, False]) else time(integer(0, 23), integer(0, 59), integer(0, 59))
        m = datetime.combine(day, clock)
        if not_before is not None and m < not_before:  # exports never end or fall due before receipt
            m = not_before + timedelta(days=integer(0, 30), minutes=integer(0, 900))
        return m

    specs = []
    for _ in range(n):
        status = integer(1, 10)
        received = moment()
        spec = {"unit": pick(list(UNITS)), "procedure": pick([*PROCEDURES, None]), "channel": pick([1, 2, 3, None]),
                "status": status, "received_at": received}
        if pick([True, False]):
            spec["due_at"] = moment(received)
        if status in ENDED_STATUSES:
            spec[pick(["finished_at", "returned_at", "first_seen_finished_at"])] = moment(received)
        if integer(0, 4) == 0:
            spec["apology_at"] = moment(received)
        specs.append(spec)
    as_of = moment() if pick([True, False]) else None
    if as_of is not None and as_of < datetime.combine(start, time(0)):
        as_of = None
    return as_of, specs


@st.composite
def scenarios(draw) -> tuple[date, date, datetime | None, list[dict]]:
    start = PERIOD_START
    end = start + timedelta(days=draw(st.integers(0, 35)))
    as_of, specs = generate(lambda seq: draw(st.sampled_from(seq)), lambda lo, hi: draw(st.integers(lo, hi)),
                            start, end, draw(st.integers(0, 40)))
    return start, end, as_of, specs


def truth(rows: list[dict], settings, start: date, t: datetime, key) -> dict:  # noqa: ANN001
    """Counts per group from classify(facts_of(row), T) one dossier at a time."""
    cal, rules = settings.work_calendar(), settings.rule_settings()
    limits = {None: None} | {code: p[3] for code, p in PROCEDURES.items()}
    start_at = datetime.combine(start, time(0))
    out: dict = {}
    for row, spec in rows:
        c = classify(facts_of(row, limits[spec["procedure"]]), t, cal, rules)
        if c.cls == "not_received":
            continue
        if c.cls in FINISHED_CLASSES and c.finish_moment < start_at:
            continue  # finished before the period began
        g = out.setdefault(key(spec), dict.fromkeys(("carried_over", "received_online", "received_offline",
                                                     "early", "on_time", "late", "within", "overdue"), 0))
        if row["received_at"] < start_at:
            g["carried_over"] += 1
        else:
            g["received_online" if row["channel"] == 2 else "received_offline"] += 1
        g[{"at_risk": "within", "paused": "within"}.get(c.cls, c.cls)] += 1
    return out


def _sql(report) -> dict:
    fields = ("carried_over", "received_online", "received_offline", "early", "on_time", "late", "within",
              "overdue")
    return {r.key: {f: getattr(r, f) for f in fields} for r in report.rows}


HSETTINGS = hsettings(max_examples=examples(40), deadline=None, database=None,
                      suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
CHANNEL_KEY = {1: "1", 2: "2", 3: "3", None: "unknown"}
GROUPINGS = (("unit", lambda sp: sp["unit"]), ("channel", lambda sp: CHANNEL_KEY[sp["channel"]]),
             ("procedure", lambda sp: sp["procedure"] or ""))


def check_against_truth(engine, settings, ids, comparison, start, end, as_of, specs) -> None:  # noqa: ANN001
    s = with_comparison(settings, comparison)
    with engine.begin() as conn:
        conn.execute(delete(Dossier))
    rows = list(zip(add_dossiers(engine, s, ids, specs), specs, strict=True))
    for by, key in GROUPINGS:
        report = period_report(engine, s, start, end, as_of=as_of, by=by)
        assert _sql(report) == truth(rows, s, start, report.as_of, key), (by, comparison, start, end, as_of)
        assert_invariant(report)


@HSETTINGS
@given(scenario=scenarios(), datetime_mode=st.booleans())
def test_the_sql_report_equals_classify_dossier_by_dossier(engine, settings, ids, scenario, datetime_mode):
    start, end, as_of, specs = scenario
    check_against_truth(engine, settings, ids, "datetime" if datetime_mode else "date", start, end, as_of, specs)


@pytest.mark.parametrize("comparison", ["date", "datetime"])
def test_the_sql_report_equals_classify_on_a_dense_seeded_dataset(engine, settings, ids, comparison):
    """Thousands of dossiers crowded on the period's edges: every boundary is hit many times."""
    rng = random.Random(766)
    for _ in range(4):
        start = PERIOD_START + timedelta(days=rng.randint(0, 60))
        end = start + timedelta(days=rng.choice([0, 6, 30, 91]))
        as_of, specs = generate(rng.choice, rng.randint, start, end, 600)
        check_against_truth(engine, settings, ids, comparison, start, end, as_of, specs)


# ----- the command line ------------------------------------------------------------------------------


def test_report_command_json_csv_table_xlsx_and_one_line_errors(engine, settings, ids, capsys, tmp_path):
    s = _march(engine, settings, ids)
    code, out, _ = run_cli(capsys, s, "report", "--from", "2026-03-01", "--to", "31/03/2026", "--format", "json")
    rows = json.loads(out)
    assert code == 0 and [r["key"] for r in rows] == ["T.STP", "T.XA", "total"]
    assert list(rows[0]) == ["key", "name", "carried_over", "received_online", "received_offline", "total",
                             "finished", "early", "on_time", "late", "unfinished", "within", "overdue",
                             "on_time_rate", "score_766"]
    assert rows[0]["on_time_rate"] == 77.8 and rows[0]["score_766"] == 15.71
    assert {k: rows[0][k] for k in MARCH_STP["date"]} == MARCH_STP["date"]
    assert rows[2]["total"] == 16 and rows[2]["name"] == "Tổng cộng"

    code, out, _ = run_cli(capsys, s, "report", "--from", "2026-03-01", "--to", "2026-03-31", "--as-of",
                           "2026-03-18 09:00", "--by", "channel", "--format", "csv")
    lines = out.splitlines()
    assert code == 0 and lines[0].startswith("key,name,carried_over") and lines[-1].startswith("total,")
    code, out, _ = run_cli(capsys, s, "report", "--from", "2026-03-01", "--to", "2026-03-31", "--rollup")
    lines = out.splitlines()
    assert code == 0 and "tính đến 31/03/2026 23:59:59" in lines[0]
    assert lines[2].startswith("T ") and "  Sở Tư pháp" in lines[3] and "77,8%" in lines[3]
    assert lines[-1].startswith("total") and "80,0%" in lines[-1] and "16,25" in lines[-1]

    path = tmp_path / "bieu06.xlsx"
    code, out, _ = run_cli(capsys, s, "report", "--from", "2026-03-01", "--to", "2026-03-31", "--format", "xlsx",
                           "-o", str(path), "--province", "Tỉnh Sơn Hà")
    assert code == 0 and path.exists() and "written to" in out

    for argv, message in [
        (("--from", "2026-02-30", "--to", "2026-03-31"), "--from: '2026-02-30' is not a date"),
        (("--from", "2026-03-31", "--to", "2026-03-01"), "--to 01/03/2026 is before --from 31/03/2026"),
        (("--from", "2026-03-01", "--to", "2026-03-31", "--as-of", "hôm qua"), "--as-of:"),
        (("--from", "2026-03-01", "--to", "2026-03-31", "--as-of", "2026-02-01 08:00"), "has not begun"),
        (("--from", "2026-03-01", "--to", "2026-03-31", "--by", "field", "--rollup"), "--rollup applies"),
        (("--from", "2026-03-01", "--to", "2026-03-31", "--format", "xlsx"), "needs -o"),
    ]:
        code, out, err = run_cli(capsys, s, "report", *argv)
        assert (code, out) == (2, "") and err.startswith("tthc: ") and message in err, err
        assert len(err.strip().splitlines()) == 1
