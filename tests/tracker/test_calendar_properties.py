"""Property tests for the working calendar and computed due dates (RULES.md §3, §4).

Default calendar (sessions 07:00–11:30 and 13:30–17:00, half-open), moments in 2024–2028.
Work is drawn in whole minutes so float hours never need rounding by the test.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import examples
from tracker.calendar import WorkCalendar
from tracker.rules import TimeLimit, compute_due

CAL = WorkCalendar()
SESSIONS = ((time(7, 0), time(11, 30)), (time(13, 30), time(17, 0)))

SETTINGS = settings(
    deadline=None,
    max_examples=examples(300),
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)

moments = st.datetimes(
    min_value=datetime(2024, 1, 1), max_value=datetime(2028, 12, 31, 23, 59, 59)
).map(lambda d: d.replace(microsecond=0))
minute_moments = moments.map(lambda d: d.replace(second=0))
days = st.dates(min_value=date(2024, 1, 1), max_value=date(2028, 12, 31))
work_minutes = st.integers(min_value=0, max_value=60 * 8 * 25)  # up to 25 working days

working_day_limits = st.sampled_from([0, 0.5, 1, 1.5, 2, 3, 5, 7, 10, 15, 20]).map(
    lambda n: TimeLimit(n, "working_days")
)
working_hour_limits = st.integers(min_value=1, max_value=80).map(
    lambda h: TimeLimit(h, "working_hours")
)
calendar_day_limits = st.integers(min_value=1, max_value=45).map(
    lambda n: TimeLimit(n, "calendar_days")
)


def in_session(t: datetime) -> bool:
    """A working moment: working day and start <= clock < end of some session."""
    return CAL.is_working_day(t.date()) and any(s <= t.time() < e for s, e in SESSIONS)


def in_session_or_on_end(t: datetime) -> bool:
    return CAL.is_working_day(t.date()) and any(s <= t.time() <= e for s, e in SESSIONS)


# --- effective_start ----------------------------------------------------------


@SETTINGS
@given(moments)
def test_effective_start_not_before_and_is_working_moment(t):
    s = CAL.effective_start(t)
    assert s >= t
    assert in_session(s)
    # Nothing of working time is skipped between t and S.
    assert CAL.working_seconds_between(t, s) == 0


@SETTINGS
@given(moments)
def test_effective_start_is_identity_on_working_moments_and_idempotent(t):
    s = CAL.effective_start(t)
    assert CAL.effective_start(s) == s
    if in_session(t):
        assert s == t


# --- add_working_hours / working time -------------------------------------------


@SETTINGS
@given(minute_moments, work_minutes)
def test_add_working_hours_round_trip(t, minutes):
    hours = minutes / 60
    result = CAL.add_working_hours(t, hours)
    start = CAL.effective_start(t)
    assert result >= start
    assert CAL.working_seconds_between(start, result) == minutes * 60
    assert CAL.working_hours_between(start, result) == abs(CAL.working_hours_between(result, start))
    assert abs(CAL.working_hours_between(start, result) - hours) < 1e-6


@SETTINGS
@given(minute_moments, work_minutes)
def test_add_working_hours_lands_inside_or_on_session_end(t, minutes):
    result = CAL.add_working_hours(t, minutes / 60)
    assert in_session_or_on_end(result)
    if minutes > 0:
        # Walking forward never stops on a session start (13:30 after 11:30, next-day 07:00).
        assert not any(result.time() == s for s, _ in SESSIONS)


@SETTINGS
@given(minute_moments, work_minutes, st.integers(min_value=1, max_value=60 * 8 * 10))
def test_add_working_hours_is_additive(t, a, b):
    once = CAL.add_working_hours(t, (a + b) / 60)
    twice = CAL.add_working_hours(CAL.add_working_hours(t, a / 60), b / 60)
    assert once == twice


@SETTINGS
@given(moments, moments, moments)
def test_working_seconds_between_additive_and_antisymmetric(a, b, c):
    ab = CAL.working_seconds_between(a, b)
    assert ab == -CAL.working_seconds_between(b, a)
    assert ab + CAL.working_seconds_between(b, c) == CAL.working_seconds_between(a, c)


@SETTINGS
@given(days)
def test_working_day_holds_eight_hours(d):
    a = datetime.combine(d, time(0, 0))
    got = CAL.working_seconds_between(a, a + timedelta(days=1))
    assert got == (8 * 3600 if CAL.is_working_day(d) else 0)


@SETTINGS
@given(days)
def test_next_working_day(d):
    n = CAL.next_working_day(d)
    assert n > d
    assert CAL.is_working_day(n)
    x = d + timedelta(days=1)
    while x < n:
        assert not CAL.is_working_day(x)
        x += timedelta(days=1)


@SETTINGS
@given(days)
def test_year_days_agrees_with_is_working_day(d):
    entries = {e.date: e for e in CAL.year_days(d.year)}
    weekday = d.weekday() < 5
    if d in entries:
        e = entries[d]
        assert e.reason
        if e.kind == "off":
            assert weekday and not CAL.is_working_day(d)
        else:
            assert e.kind == "work"
            assert not weekday and CAL.is_working_day(d)
    else:
        assert CAL.is_working_day(d) is weekday


# --- compute_due -------------------------------------------------------------------

non_calendar_limits = st.one_of(working_day_limits, working_hour_limits)


@SETTINGS
@given(moments, non_calendar_limits)
def test_computed_due_inside_or_on_session_end(t, limit):
    due = compute_due(CAL, t, limit)
    assert due >= t
    assert in_session_or_on_end(due)


@SETTINGS
@given(moments)
def test_same_day_due_is_end_of_working_day(t):
    due = compute_due(CAL, t, TimeLimit(0, "working_days"))
    assert CAL.is_working_day(due.date())
    assert due.time() == time(17, 0)
    assert due.date() >= t.date()
    # Receipt's own day when it is a working day and not after the 15:00 cut-off,
    # else the next working day.
    if CAL.is_working_day(t.date()) and t.time().replace(microsecond=0) <= time(15, 0):
        assert due.date() == t.date()
    else:
        assert due.date() == CAL.next_working_day(t.date())


@SETTINGS
@given(moments, calendar_day_limits)
def test_calendar_days_due_inside_working_session(t, limit):
    due = compute_due(CAL, t, limit)
    s = CAL.effective_start(t)
    assert in_session(due)
    assert due.time() == s.time()
    assert due.date() >= s.date() + timedelta(days=int(limit.value))


@SETTINGS
@given(moments, st.integers(min_value=0, max_value=60 * 24 * 10), non_calendar_limits)
def test_later_receipt_never_earlier_due(t, delta_minutes, limit):
    t2 = t + timedelta(minutes=delta_minutes)
    assert compute_due(CAL, t, limit) <= compute_due(CAL, t2, limit)


@SETTINGS
@given(moments, st.integers(min_value=0, max_value=60 * 24 * 10), calendar_day_limits)
def test_later_receipt_never_earlier_due_date_calendar_days(t, delta_minutes, limit):
    # For calendar days the due *date* is monotonic; the instant is not (RULES §4.4 keeps S's clock
    # time when moving off a holiday; see the golden counter-example in test_rules_golden.py).
    t2 = t + timedelta(minutes=delta_minutes)
    assert compute_due(CAL, t, limit).date() <= compute_due(CAL, t2, limit).date()
