"""Predicted lateness: the Kaplan–Meier estimate against hand-computed histories, its edge cases,
the stored outlook, and a backtest that never looks past its day."""

from __future__ import annotations

import random
from datetime import date, datetime, time, timedelta
from types import SimpleNamespace

import numpy as np
import pytest
from sqlalchemy import select, update
from sqlmodel import Session

from tracker.calendar import WorkCalendar
from tracker.config import load_settings
from tracker.db import make_engine
from tracker.models import Dossier, DossierOutlook, Procedure, Unit
from tracker.outlook import refresh_outlook
from tracker.predict import (
    GroupedKM,
    basis_text,
    build_records,
    kaplan_meier,
    load_records,
    predict,
    score_backtest,
    survival_at,
)

CAL = WorkCalendar()
NOW = datetime(2026, 3, 11, 9, 0)  # a Wednesday


# ----- the estimator, by hand ---------------------------------------------------------------------


def test_kaplan_meier_by_hand_with_censoring():
    # events at -10, -6, -6, -2, +4; censored at -6 and -3 (hours relative to the due)
    x = [-10, -6, -6, -6, -3, -2, 4]
    e = [1, 1, 1, 0, 0, 1, 1]
    times, s = kaplan_meier(x, e)
    assert times.tolist() == [-10, -6, -2, 4]
    # 6/7; ×(1 − 2/6) = 4/7 (the censored −6 is still at risk at −6); ×(1 − 1/2) = 2/7; ×(1 − 1/1) = 0
    assert s == pytest.approx([6 / 7, 4 / 7, 2 / 7, 0.0])
    assert survival_at(times, s, -11) == 1.0
    assert survival_at(times, s, -6) == pytest.approx(4 / 7)
    assert survival_at(times, s, -5) == pytest.approx(4 / 7)
    assert survival_at(times, s, 0) == pytest.approx(2 / 7)


def test_grouped_estimate_equals_one_group_at_a_time():
    rng = random.Random(7)
    keys, xs, es = [], [], []
    for g in range(6):
        for _ in range(rng.randint(1, 40)):
            keys.append(g * 3)
            xs.append(float(rng.randint(-30, 10)))  # many ties
            es.append(rng.random() < 0.7)
    keys, xs, es = np.array(keys), np.array(xs), np.array(es)
    km = GroupedKM(keys, xs, es)
    assert km.keys.tolist() == [0, 3, 6, 9, 12, 15]
    for gi, k in enumerate(km.keys):
        mask = keys == k
        times, s = kaplan_meier(xs[mask], es[mask])
        assert km.count[gi] == mask.sum()
        assert km.last[gi] == xs[mask].max()
        for t in range(-32, 12):
            got = km.survival(np.array([gi]), np.array([t + 0.5]))[0]
            assert got == pytest.approx(survival_at(times, s, t + 0.5)), (k, t)
    assert km.group_of(np.array([3, 4, 15, 99])).tolist() == [1, -1, 5, -1]


# ----- predict() on records built in memory ---------------------------------------------------------


def _row(i, *, unit=1, proc=1, field="Hộ tịch", received, due, finish=None, status=None, **kw):
    base = dict(id=i, unit_id=unit, procedure_id=proc, field_name=field, channel=1, received_at=received,
                resubmitted_at=None, supplement_requested_at=None, due_used_at=due, due_at=due, finish_at=finish,
                no_finished_at=False, limit_value=None, limit_unit=None, p_value=None, p_unit=None,
                status=status or (10 if finish else 4))
    base.update(kw)
    return SimpleNamespace(**base)


def _history(now: datetime, shifts: list[tuple[float, bool]], start_id: int = 1, **kw) -> list:
    """Dossiers whose relative time X (working hours after the due) is each shift: finished there
    (True) or open with now − due = shift (False)."""
    rows = []
    for n, (x, finished) in enumerate(shifts):
        if finished:
            due = CAL.add_working_hours(now, -200 - 10 * n)
            rows.append(_row(start_id + n, received=due - timedelta(days=20), due=due,
                             finish=CAL.add_working_hours(due, x) if x else due, **kw))
        else:
            due = CAL.add_working_hours(now, -x)
            rows.append(_row(start_id + n, received=now - timedelta(days=3), due=due, **kw))
    return rows


HAND = [(-10, True), (-6, True), (-6, True), (-6, False), (-3, False), (-2, True), (4, True)]


def test_the_probability_is_conditional_survival_from_the_hand_computed_history():
    rows = _history(NOW, HAND + [(-5, False)])  # the target itself is open, censored at −5, in its history
    rec = build_records(rows, CAL, "datetime")
    pr = predict(rec, rec.at(NOW, live=True), min_history=8, months=12)
    got = {int(rec.ids[i]): p for i, p in zip(pr.targets, pr.probability, strict=True)}
    # with the −5 censoring: S(−6) = 7/8 · 5/7 = 5/8, S(0) = 5/8 · 1/2 = 5/16: P = S(0)/S(c) = 1/2
    assert got == pytest.approx({4: 0.5, 5: 0.5, 8: 0.5})
    assert set(pr.level.tolist()) == {0} and set(pr.count.tolist()) == {8}


def test_too_few_falls_back_to_the_procedure_then_the_field_then_the_unit():
    rows = _history(NOW, HAND + [(-5, False)], unit=1, proc=1)
    rows += _history(NOW, [(-1, True)] * 3, start_id=100, unit=2, proc=1)  # same procedure, another unit
    rows += [_row(200, unit=2, proc=1, received=NOW - timedelta(days=1), due=CAL.add_working_hours(NOW, 5))]
    rec = build_records(rows, CAL, "datetime")
    pr = predict(rec, rec.at(NOW), min_history=8, months=12)
    target = int(np.flatnonzero(rec.ids[pr.targets] == 200)[0])
    assert pr.level[target] == 1  # procedure: unit 2 has only 4 of it
    assert pr.count[target] == 12
    pr = predict(rec, rec.at(NOW), min_history=13, months=12)
    target = int(np.flatnonzero(rec.ids[pr.targets] == 200)[0])
    assert pr.level[target] == -1 and np.isnan(pr.probability[target])  # field and unit are as small
    assert basis_text("unit_procedure", 61, 12) == "61 hồ sơ cùng thủ tục tại đơn vị, 12 tháng"


def test_beyond_the_last_observation_says_nothing():
    # every finished one ended by −8 h; the target has been open until −1 h: S(−1) = 0 in its group
    rows = _history(NOW, [(-20, True), (-12, True), (-8, True)], unit=1, proc=1)
    rows.append(_row(50, unit=1, proc=1, received=NOW - timedelta(days=2), due=CAL.add_working_hours(NOW, 1)))
    rec = build_records(rows, CAL, "datetime")
    pr = predict(rec, rec.at(NOW), min_history=3, months=12)
    i = int(np.flatnonzero(rec.ids[pr.targets] == 50)[0])
    assert np.isnan(pr.probability[i]) and pr.level[i] == -1
    # one finished 3 h late reaches past the due: sorted −30c −20 −12 −8 −1c +3, so
    # S(−20) = 4/5, S(−12) = 3/5, S(−8) = 2/5 = S(0) = S(−1); S(−30) = 1
    rows = _history(NOW, [(-20, True), (-12, True), (-8, True), (3, True)], unit=1, proc=1)
    rows.append(_row(50, unit=1, proc=1, received=NOW - timedelta(days=2), due=CAL.add_working_hours(NOW, 1)))
    rows.append(_row(51, unit=1, proc=1, received=NOW, due=CAL.add_working_hours(NOW, 30)))
    rec = build_records(rows, CAL, "datetime")
    pr = predict(rec, rec.at(NOW), min_history=3, months=12)
    got = {int(rec.ids[t]): p for t, p in zip(pr.targets, pr.probability, strict=True)}
    assert got == pytest.approx({50: 1.0, 51: 0.4})


def test_a_history_that_never_reaches_the_due_says_nothing():
    # all still open, none of them yet at its due: S is 1 up to −2 h and unknown at 0
    rows = _history(NOW, [(-2, False), (-3, False), (-9, False)])
    rec = build_records(rows, CAL, "datetime")
    pr = predict(rec, rec.at(NOW), min_history=3, months=12)
    assert len(pr.targets) == 3 and np.isnan(pr.probability).all()
    # one of them past its due and still open: now S(0) = 1 is an estimate, P = 1
    rows = _history(NOW, [(2, False), (-3, False), (-9, False)])
    rec = build_records(rows, CAL, "datetime")
    pr = predict(rec, rec.at(NOW), min_history=3, months=12)
    assert pr.probability.tolist() == [1.0, 1.0]  # the overdue one is not predicted


def test_paused_and_overdue_dossiers_are_not_predicted():
    rows = _history(NOW, HAND)
    rows.append(_row(60, received=NOW - timedelta(days=5), due=CAL.add_working_hours(NOW, 3),
                     supplement_requested_at=NOW - timedelta(days=1), status=5))
    rows.append(_row(61, received=NOW - timedelta(days=9), due=CAL.add_working_hours(NOW, -3)))
    rec = build_records(rows, CAL, "datetime")
    pr = predict(rec, rec.at(NOW, live=True), min_history=3, months=12)
    assert not {60, 61} & set(rec.ids[pr.targets].tolist())


def test_date_mode_counts_a_finish_the_same_day_after_the_due_moment_on_time():
    due = datetime(2026, 3, 2, 10, 0)
    rows = [_row(1, received=datetime(2026, 2, 25, 9), due=due, finish=datetime(2026, 3, 2, 16, 0)),
            _row(2, received=datetime(2026, 2, 25, 9), due=due, finish=datetime(2026, 3, 3, 8, 0))]
    rec = build_records(rows, CAL, "date")
    x = rec.pos_fin - rec.thr_final
    assert x[0] <= 0 < x[1]


# ----- the stored outlook, on both databases -------------------------------------------------------


def _store(engine, rows, *, procedure_limit=(5, "working_days")) -> None:
    with Session(engine) as s:
        s.add(Unit(id=1, code="U1", name="UBND xã Một", name_key="ubnd xa mot"))
        s.add(Unit(id=2, code="U2", name="UBND xã Hai", name_key="ubnd xa hai"))
        s.add(Procedure(id=1, code="1.000001", name="Đăng ký khai sinh", name_key="dang ky khai sinh",
                        field_name="Hộ tịch", limit_value=procedure_limit[0], limit_unit=procedure_limit[1]))
        s.commit()
        for r in rows:
            s.add(Dossier(id=r.id, code=f"HS-{r.id}", unit_id=r.unit_id, procedure_id=r.procedure_id, status=r.status,
                          received_at=r.received_at, due_at=r.due_at, due_used_at=r.due_used_at,
                          finished_at=r.finish_at, finish_at=r.finish_at,
                          supplement_requested_at=r.supplement_requested_at, resubmitted_at=r.resubmitted_at))
        s.commit()


def test_refresh_stores_the_hand_computed_probability_and_its_basis(db_url):
    engine = make_engine(db_url)
    _store(engine, _history(NOW, HAND + [(-5, False)]))
    settings = load_settings(env={}, overrides={"database.url": db_url, "rules.comparison": "datetime",
                                                "predict.min_history": 8, "predict.threshold": 0.5})
    assert refresh_outlook(engine, settings, NOW) == 3
    with engine.connect() as conn:
        rows = conn.execute(select(DossierOutlook).order_by(DossierOutlook.dossier_id)).all()
    assert [(r.dossier_id, r.probability, r.basis_kind, r.basis_count, r.likely_late) for r in rows] == [
        (4, pytest.approx(0.5), "unit_procedure", 8, True), (5, pytest.approx(0.5), "unit_procedure", 8, True),
        (8, pytest.approx(0.5), "unit_procedure", 8, True)]
    assert all(r.computed_at == NOW for r in rows)
    # a second refresh replaces, never adds
    assert refresh_outlook(engine, settings, NOW) == 3
    engine.dispose()


# ----- no peeking ----------------------------------------------------------------------------------


def test_the_backtest_day_uses_nothing_from_after_it(db_url):
    engine = make_engine(db_url)
    day = NOW
    rows = _history(day, HAND + [(-5, False)])
    _store(engine, rows)

    def day_view():
        rec = load_records(engine, CAL, "datetime", finished_since=None)
        pr = predict(rec, rec.at(day), min_history=5, months=12)
        return {int(rec.ids[i]): (p, lv, n) for i, p, lv, n in
                zip(pr.targets, pr.probability, pr.level, pr.count, strict=True)}

    before = day_view()
    assert before
    with Session(engine) as s:  # a future: a dossier received tomorrow, finished very late
        later = day + timedelta(days=1)
        s.add(Dossier(id=90, code="HS-90", unit_id=1, procedure_id=1, status=10, received_at=later,
                      due_at=later + timedelta(days=2), due_used_at=later + timedelta(days=2),
                      finished_at=later + timedelta(days=30), finish_at=later + timedelta(days=30)))
        s.commit()
    with engine.begin() as conn:  # and an open one of that day finishes, much later
        fin = day + timedelta(days=40)
        conn.execute(update(Dossier).where(Dossier.id == 4).values(status=10, finished_at=fin, finish_at=fin))
        # a supplement asked after the day: on the day it was not paused
        conn.execute(update(Dossier).where(Dossier.id == 5).values(
            status=5, supplement_requested_at=day + timedelta(hours=30)))
    assert day_view() == before
    engine.dispose()


def test_the_backtest_scores_warnings_against_what_happened():
    # a group late four times in five: the predictor warns at receipt, the 8-hour rule on the due day
    rows = []
    start = datetime(2025, 6, 2, 8)
    for n in range(60):
        received = CAL.add_working_hours(start, 8 * n)
        due = CAL.add_working_hours(received, 40)
        late = n % 5 != 0
        finish = CAL.add_working_hours(due, 16 if late else -4)
        rows.append(_row(n + 1, received=received, due=due, finish=finish))
    rec = build_records(rows, CAL, "date")
    first = (start + timedelta(days=40)).date()
    bt = score_backtest(rec, first, first + timedelta(days=20), at=time(7, 30), at_risk_hours=8, min_history=10,
                        months=12, threshold=0.7, now=datetime(2025, 12, 31))
    p, r = bt.scores["predict"], bt.scores["rule8h"]
    assert p.precision == pytest.approx(0.8, abs=0.1) and p.median_lead_days > 3
    assert r.median_lead_days <= 1
    assert bt.scores["rule8h@3d"].warned == 0 and bt.scores["predict@3d"].warned > 0
    assert p.brier < r.brier
    assert "8-hour rule" in "\n".join(bt.lines())
    assert isinstance(date.today(), date)
