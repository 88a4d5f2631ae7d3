"""The SQL path of the portal's method (stored columns, tracker.portal766.portal_scores) equals
its definition, portal_verdict, dossier by dossier: random dossiers with random supplement pairs
crowded on the period's edges, in both comparison modes."""

from __future__ import annotations

import random
from datetime import date, datetime, time, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import delete

from tests.tracker.test_reports import (
    HSETTINGS,
    PERIOD_START,
    PROCEDURES,
    generate,
    seed_catalogues,
    with_comparison,
)
from tracker.derive import derive, facts_of
from tracker.models import Dossier, Supplement
from tracker.portal766 import (
    SupplementPair,
    counted_pairs,
    facts_from,
    portal_disagreements,
    portal_scores,
    portal_verdict,
    sql_verdicts,
    supplement_summary,
)
from tracker.reports import evaluation_moment
from tracker.rules import NOT_RECEIVED_STATUSES, classify


@pytest.fixture
def ids(engine):
    return seed_catalogues(engine)


def _pairs(pick, integer, received: datetime) -> tuple[SupplementPair, ...]:
    out, t = [], received
    for _ in range(pick([0, 0, 0, 1, 1, 2, 3])):
        req = t + timedelta(days=integer(0, 12), hours=integer(0, 9))
        res = req + timedelta(days=integer(0, 15), hours=integer(0, 9)) if pick([True, True, False]) else None
        out.append(SupplementPair(req, res, None, None))
        if res is None:
            break
        t = res
    return tuple(out)


def _store(engine, settings, ids, pick, integer, specs):  # noqa: ANN001
    units, procs = ids
    cal, rules, fp = settings.work_calendar(), settings.rule_settings(), settings.fingerprint()
    with engine.begin() as conn:
        conn.execute(delete(Supplement))
        conn.execute(delete(Dossier))
    stored = []
    for n, spec in enumerate(specs):
        received = spec["received_at"]
        pairs = _pairs(pick, integer, received) if received is not None else ()
        counted = counted_pairs(pairs)
        row = {"code": f"P-{n:05d}", "unit_id": units[spec["unit"]], "procedure_id": procs.get(spec["procedure"]),
               "channel": spec["channel"], "status": spec["status"], "received_at": received,
               "due_at": spec.get("due_at"), "finished_at": spec.get("finished_at"),
               "returned_at": spec.get("returned_at"), "first_seen_finished_at": spec.get("first_seen_finished_at"),
               "apology_at": spec.get("apology_at"), "rescheduled_due_at": None,
               "supplement_requested_at": counted[-1].requested_at if counted else None,
               "resubmitted_at": counted[-1].resubmitted_at if counted else None,
               "limit_value": None, "limit_unit": None, **supplement_summary(pairs)}
        limit = PROCEDURES[spec["procedure"]][3] if spec["procedure"] else None
        row.update(derive(row, limit, cal, rules, fp))
        stored.append((row, pairs, limit))
    with engine.begin() as conn:
        if not stored:
            return stored
        conn.execute(Dossier.__table__.insert(), [r for r, _, _ in stored])
        codes = dict(conn.execute(Dossier.__table__.select().with_only_columns(Dossier.code, Dossier.id)).all())
        values = [{"dossier_id": codes[r["code"]], "seq": k, "requested_at": p.requested_at,
                   "resubmitted_at": p.resubmitted_at} for r, pairs, _ in stored for k, p in enumerate(pairs, 1)]
        if values:
            conn.execute(Supplement.__table__.insert(), values)
    return stored


def _in_scope(row, limit, t, start, cal, rules) -> bool:  # noqa: ANN001
    """The Biểu 06 population (RULES §6), from classify one dossier at a time."""
    c = classify(facts_of(row, limit), t, cal, rules)
    if c.cls == "not_received" or row["status"] in NOT_RECEIVED_STATUSES:
        return False
    return not (c.finish_moment is not None and c.finish_moment < datetime.combine(start, time(0)))


def check(engine, settings, ids, comparison, start, end, as_of, specs, pick, integer):  # noqa: ANN001
    s = with_comparison(settings, comparison)
    stored = _store(engine, s, ids, pick, integer, specs)
    cal, rules = s.work_calendar(), s.rule_settings()
    t = evaluation_moment(start, end, as_of)
    truth = {}
    for row, pairs, limit in stored:
        if not _in_scope(row, limit, t, start, cal, rules):
            continue
        truth[row["code"]] = portal_verdict(facts_from(row, pairs, limit), t, cal, rules).verdict == "late"
    assert sql_verdicts(engine, s, start, end, as_of=as_of) == truth, (comparison, start, end, as_of)
    units, total = portal_scores(engine, s, start, end, as_of=as_of)
    assert (total.received, total.late) == (len(truth), sum(truth.values()))
    assert sum(u.received for u in units) == total.received


@st.composite
def scenarios(draw):
    start = PERIOD_START
    end = start + timedelta(days=draw(st.integers(0, 35)))
    pick = lambda seq: draw(st.sampled_from(seq))  # noqa: E731
    integer = lambda lo, hi: draw(st.integers(lo, hi))  # noqa: E731
    as_of, specs = generate(pick, integer, start, end, draw(st.integers(0, 30)))
    return start, end, as_of, specs, pick, integer


@HSETTINGS
@given(scenario=scenarios(), datetime_mode=st.booleans())
def test_sql_path_equals_portal_verdict_dossier_by_dossier(engine, settings, ids, scenario, datetime_mode):
    start, end, as_of, specs, pick, integer = scenario
    check(engine, settings, ids, "datetime" if datetime_mode else "date", start, end, as_of, specs, pick, integer)


@pytest.mark.parametrize("comparison", ["date", "datetime"])
def test_sql_path_equals_portal_verdict_on_a_dense_seeded_dataset(engine, settings, ids, comparison):
    rng = random.Random(2100)
    for _ in range(3):
        start = PERIOD_START + timedelta(days=rng.randint(0, 60))
        end = start + timedelta(days=rng.choice([0, 6, 30, 91]))
        as_of, specs = generate(rng.choice, rng.randint, start, end, 400)
        check(engine, settings, ids, comparison, start, end, as_of, specs, rng.choice, rng.randint)


def _october(engine, settings, ids):  # noqa: ANN001
    """October 2026 at T.STP: one finished late that the supplement makes on time, one stopped
    late, one waiting on its second request, one on time by both methods."""
    units, procs = ids
    s = with_comparison(settings, "date")
    cal, rules, fp = s.work_calendar(), s.rule_settings(), s.fingerprint()

    def at(d, h):
        return datetime(2026, 10, d, h)

    specs = [
        ("HS-SUPP", 10, at(14, 10), (SupplementPair(at(6, 9), at(13, 9)),)),
        ("HS-STOP", 8, at(12, 10), ()),
        ("HS-TWICE", 5, None, (SupplementPair(at(6, 9), at(7, 9)), SupplementPair(at(7, 14), None))),
        ("HS-OK", 10, at(7, 10), ()),
    ]
    rows = []
    for code, status, finished, pairs in specs:
        counted = counted_pairs(pairs)
        row = {"code": code, "unit_id": units["T.STP"], "procedure_id": procs["1.000001"], "channel": 2,
               "status": status, "received_at": at(5, 9), "due_at": at(8, 17), "finished_at": finished,
               "supplement_requested_at": counted[-1].requested_at if counted else None,
               "resubmitted_at": counted[-1].resubmitted_at if counted else None, **supplement_summary(pairs)}
        row.update(derive(row, PROCEDURES["1.000001"][3], cal, rules, fp))
        rows.append((row, pairs))
    with engine.begin() as conn:
        conn.execute(Dossier.__table__.insert(), [r for r, _ in rows])
        got = dict(conn.execute(Dossier.__table__.select().with_only_columns(Dossier.code, Dossier.id)).all())
        conn.execute(Supplement.__table__.insert(), [
            {"dossier_id": got[r["code"]], "seq": k, "requested_at": p.requested_at, "resubmitted_at": p.resubmitted_at}
            for r, pairs in rows for k, p in enumerate(pairs, 1)])
    return s


def test_scores_and_disagreements_of_a_small_month(engine, settings, ids):
    units, _ = ids
    s = _october(engine, settings, ids)

    def at(d, h):
        return datetime(2026, 10, d, h)

    start, end = date(2026, 10, 1), date(2026, 10, 31)
    unit_rows, total = portal_scores(engine, s, start, end)
    assert [(u.key, u.received, u.on_time, u.late, u.score) for u in unit_rows] == [
        ("T.STP", 4, 2, 2, Decimal("10.00"))]
    # Biểu 06: HS-SUPP late (the appointment stands), HS-STOP on time (status 8), HS-TWICE within (paused)
    assert (total.biểu06_on_time, total.biểu06_score, total.disagree) == (3, Decimal("15.00"), 3)
    found = {d.code: d for d in portal_disagreements(engine, s, start, end)}
    assert set(found) == {"HS-SUPP", "HS-STOP", "HS-TWICE"}
    assert (found["HS-SUPP"].portal, found["HS-SUPP"].biểu06, found["HS-SUPP"].end_at) == (
        "on_time", "late", at(7, 10))
    assert found["HS-TWICE"].explain("vi").startswith("2 lần yêu cầu bổ sung")
    assert (found["HS-STOP"].portal, found["HS-STOP"].biểu06_verdict, found["HS-STOP"].reason) == (
        "late", "on_time", "stopped")
    assert [d.code for d in portal_disagreements(engine, s, start, end, limit=1, offset=1)] == ["HS-SUPP"]
    assert portal_scores(engine, s, start, end, unit_ids=[units["T.XA"]])[1].received == 0
    assert portal_scores(engine, s, start, end, unit_ids=[units["T.XA"]])[1].score is None


def test_score_command_portal_json_exactly(engine, settings, ids, capsys):
    from tests.cli.test_main import run_cli

    s = _october(engine, settings, ids)
    code, out, err = run_cli(capsys, s, "score", "--method", "portal", "--from", "2026-10-01", "--to", "2026-10-31",
                             "--dossiers", "--format", "json")
    assert code == 0, err
    assert out == (
        '{"method":"portal","units":[{"key":"T.STP","received":4,"on_time":2,"late":2,"score":10.00}],'
        '"total":{"key":"total","received":4,"on_time":2,"late":2,"score":10.00},"dossiers":['
        '{"code":"HS-OK","verdict":"on_time","end_at":"2026-10-07 10:00:00"},'
        '{"code":"HS-STOP","verdict":"late","end_at":"2026-10-12 10:00:00"},'
        '{"code":"HS-SUPP","verdict":"on_time","end_at":"2026-10-07 10:00:00"},'
        '{"code":"HS-TWICE","verdict":"late","end_at":"2026-10-07 14:00:00"}]}\n')
    code, out, _ = run_cli(capsys, s, "score", "--method", "portal", "--from", "2026-11-01", "--to", "2026-11-30",
                           "--format", "json")
    # November: only the dossier still waiting is carried over
    assert out.startswith('{"method":"portal","units":[{"key":"T.STP","received":1,"on_time":0,"late":1,')
    # biểu06, also spelt bieu06, is today's score
    _, b1, _ = run_cli(capsys, s, "score", "--from", "2026-10-01", "--to", "2026-10-31", "--format", "json")
    _, b2, _ = run_cli(capsys, s, "score", "--method", "bieu06", "--from", "2026-10-01", "--to", "2026-10-31",
                       "--format", "json")
    _, b3, _ = run_cli(capsys, s, "score", "--method", "biểu06", "--from", "2026-10-01", "--to", "2026-10-31",
                       "--format", "json")
    assert b1 == b2 == b3 and b1.lstrip().startswith("[")
    code, _, err = run_cli(capsys, s, "score", "--from", "2026-10-01", "--to", "2026-10-31", "--dossiers")
    assert code == 2 and "--dossiers applies to --method portal" in err
    code, out, _ = run_cli(capsys, s, "score", "--method", "portal", "--from", "2026-10-01", "--to", "2026-10-31",
                           "--dossiers")
    assert code == 0 and "10,00" in out and "2 lần yêu cầu bổ sung" in out
    with pytest.raises(SystemExit):
        run_cli(capsys, s, "score", "--method", "cong", "--from", "2026-10-01", "--to", "2026-10-31")
    assert "'cong' is not a method" in capsys.readouterr().err


def test_average_time_per_procedure(engine, settings, ids):
    """2.2 over October: HS-SUPP and HS-OK finished, 17 working hours each once the supplement is
    subtracted (2,125 working days, shown 2,13); stopped and waiting dossiers are not counted."""
    from tracker.portal766 import average_times

    units, _ = ids
    s = _october(engine, settings, ids)
    times = average_times(engine, s, date(2026, 10, 1), date(2026, 10, 31))
    assert [(a.key, a.finished, a.working_days) for a in times] == [("1.000001", 2, Decimal("2.13"))]
    assert average_times(engine, s, date(2026, 10, 1), date(2026, 10, 31), unit_ids=[units["T.XA"]]) == []
    assert average_times(engine, s, date(2026, 11, 1), date(2026, 11, 30)) == []  # received in October
