"""Stuck dossiers: each status's limit at its boundary on the working calendar, in Python and in SQL,
and a stale source that makes "no change" mean nothing."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlmodel import Session

from tracker.calendar import WorkCalendar
from tracker.config import load_settings
from tracker.db import make_engine
from tracker.models import Dossier, ImportRun, StatusChange, Unit
from tracker.outlook import refresh_outlook
from tracker.stuck import is_stuck, limits_seconds, status_since, stuck_cut, stuck_dossiers

CAL = WorkCalendar()
SECOND = timedelta(seconds=1)
SETTINGS = load_settings(env={})
LIMITS = limits_seconds(SETTINGS, CAL)

# (status, entered the status at, first moment it is stuck) — by hand, office hours 07:00–11:30, 13:30–17:00
CASES = [
    # received Friday 15:00: 2 h on Friday, 8 h on Monday, 6 h on Tuesday: 16 working hours at Tue 15:00
    (2, datetime(2026, 3, 6, 15, 0), datetime(2026, 3, 10, 15, 0)),
    # across 30/4 and 1/5 (Thursday, Friday off) and the weekend: Wed 15:00 + 2 h + Mon 8 h + Tue 6 h
    (2, datetime(2026, 4, 29, 15, 0), datetime(2026, 5, 5, 15, 0)),
    # online registration Friday 16:00, not accepted: 1 h Friday, 7 h Monday (to 16:00)
    (1, datetime(2026, 3, 6, 16, 0), datetime(2026, 3, 9, 16, 0)),
    # registered in the evening: the clock starts at the next opening, 8 h later is the end of that day
    (1, datetime(2026, 3, 9, 19, 0), datetime(2026, 3, 10, 17, 0)),
    # in progress, 40 working hours: Monday 10:00 to the next Monday 10:00
    (4, datetime(2026, 3, 2, 10, 0), datetime(2026, 3, 9, 10, 0)),
    # supplement asked Monday 10:00, 10 working days: two weeks later, Monday 10:00
    (5, datetime(2026, 3, 2, 10, 0), datetime(2026, 3, 16, 10, 0)),
]


@pytest.mark.parametrize(("status", "since", "stuck_at"), CASES)
def test_the_rule_at_its_boundary(status, since, stuck_at):
    assert CAL.is_working_day(stuck_at.date())
    assert not is_stuck(CAL, status, since, stuck_at - SECOND, LIMITS)
    assert is_stuck(CAL, status, since, stuck_at, LIMITS)
    # the SQL form: stuck at T exactly when entered at or before stuck_cut(T)
    assert since <= stuck_cut(CAL, stuck_at, LIMITS[status])
    assert not since <= stuck_cut(CAL, stuck_at - SECOND, LIMITS[status])


def test_paused_for_fees_and_finished_statuses_are_never_stuck():
    assert not is_stuck(CAL, 6, datetime(2025, 1, 1), datetime(2026, 1, 1), LIMITS)
    assert not is_stuck(CAL, 9, datetime(2025, 1, 1), datetime(2026, 1, 1), LIMITS)


def test_since_comes_from_the_dossier_dates_then_the_history():
    row = {"submitted_at": datetime(2026, 3, 2, 8), "received_at": datetime(2026, 3, 2, 9),
           "supplement_requested_at": datetime(2026, 3, 3, 9), "resubmitted_at": None}
    seen = datetime(2026, 3, 4, 7)
    assert status_since(1, row, None, seen) == datetime(2026, 3, 2, 8)
    assert status_since(2, row, seen, seen) == datetime(2026, 3, 2, 9)
    assert status_since(5, row, seen, seen) == datetime(2026, 3, 3, 9)
    assert status_since(4, row, seen, datetime(2026, 3, 1)) == seen
    assert status_since(4, row, None, datetime(2026, 3, 1)) == datetime(2026, 3, 1)  # first seen in it


def _settings(db_url, **kw):
    return load_settings(env={}, overrides={"database.url": db_url, **kw})


def _seed(engine, imported_at: datetime):
    with Session(engine) as s:
        s.add(Unit(id=1, code="U1", name="UBND xã Một", name_key="ubnd xa mot"))
        s.add(ImportRun(id=1, source="desk", status="done", started_at=imported_at, finished_at=imported_at))
        s.commit()
        for i, (status, since, _stuck_at) in enumerate(CASES, start=1):
            kw = {"received_at": since} if status in (2, 4) else {}
            if status == 1:
                kw = {"submitted_at": since, "channel": 2}
            if status == 5:
                kw = {"received_at": since - timedelta(days=3), "supplement_requested_at": since}
            s.add(Dossier(id=i, code=f"HS-{i}", unit_id=1, status=status, import_run_id=1, **kw))
            if status == 4:
                s.add(StatusChange(dossier_id=i, previous_status=2, status=4, seen_at=since, import_run_id=1))
        s.commit()


def test_the_stuck_list_in_sql_at_each_boundary(db_url):
    engine = make_engine(db_url)
    _seed(engine, datetime(2026, 3, 1))
    # the source was last imported 1/3: old by May, so its limit is widened for the boundary check
    late_enough = _settings(db_url, **{"check.import_max_age_hours": 24 * 70})
    for i, (_status, _since, stuck_at) in enumerate(CASES, start=1):
        refresh_outlook(engine, late_enough, stuck_at - SECOND)
        before = {r["code"] for r in stuck_dossiers(engine, late_enough, stuck_at - SECOND).rows}
        after = {r["code"] for r in stuck_dossiers(engine, late_enough, stuck_at).rows}
        assert f"HS-{i}" not in before and f"HS-{i}" in after, (i, stuck_at)
    row = next(r for r in stuck_dossiers(engine, late_enough, datetime(2026, 5, 6)).rows if r["code"] == "HS-2")
    assert row["since"] == datetime(2026, 4, 29, 15, 0) and row["status"] == 2
    engine.dispose()


def test_a_status_changed_since_the_refresh_is_not_stuck(db_url):
    engine = make_engine(db_url)
    _seed(engine, datetime(2026, 3, 10))
    settings = _settings(db_url)
    refresh_outlook(engine, settings, datetime(2026, 3, 10, 15))
    assert "HS-1" in {r["code"] for r in stuck_dossiers(engine, settings, datetime(2026, 3, 10, 15)).rows}
    with Session(engine) as s:
        s.get(Dossier, 1).status = 4
        s.commit()
    assert "HS-1" not in {r["code"] for r in stuck_dossiers(engine, settings, datetime(2026, 3, 10, 15)).rows}
    engine.dispose()


def test_a_stale_source_is_named_instead_of_its_dossiers_listed(db_url):
    engine = make_engine(db_url)
    _seed(engine, datetime(2026, 3, 10, 7))
    settings = _settings(db_url)
    t = datetime(2026, 3, 10, 15)
    refresh_outlook(engine, settings, t)
    fresh = stuck_dossiers(engine, settings, t)
    assert fresh.stale == [] and fresh.rows
    assert stuck_dossiers(engine, settings, datetime(2026, 3, 11, 9, 0)).stale == []  # 26 h: still fresh
    stale = stuck_dossiers(engine, settings, datetime(2026, 3, 11, 9, 0, 1))
    assert [s.source for s in stale.stale] == ["desk"] and stale.stale[0].last == datetime(2026, 3, 10, 7)
    assert stale.rows == []
    engine.dispose()
