"""Open dossiers at a moment T (RULES §5): unfinished, paused, overdue, at risk, and how late.

The one definition the overdue list, the counts on the dashboard, the period reports
(tracker.reports) and the morning digests (tracker.digest_sections) share. Conditions filter on
stored, indexed columns (`finish_at`, `due_used_at`: ix_dossier_open_due):
- unfinished at T: status not 1/3, received by T, finish_at NULL or after T;
- paused: status 5 or 6 (the clock is stopped);
- overdue: not paused, due_used_at before the cut (`overdue_cut`: T's midnight in date mode, T in
  datetime mode);
- at risk: not paused, not overdue, due_used_at <= tracker.rules.at_risk_boundary(T);
- overdue by more than N working days: due_used_at before `late_cut(T, N)`.
"""

from __future__ import annotations

import math
from collections.abc import Collection
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Engine, and_, case, func, not_, null, or_, select
from sqlalchemy.sql.expression import ColumnElement

from tracker.calendar import WorkCalendar
from tracker.config import Settings
from tracker.models import Dossier
from tracker.rules import NOT_RECEIVED_STATUSES, PAUSED_STATUSES, RuleSettings, at_risk_boundary

d = Dossier.__table__.c


def overdue_cut(t: datetime, comparison: str) -> datetime:
    """An unfinished dossier is overdue at T when its due is before this moment: T's midnight in
    date mode (T's date after the due date), T itself in datetime mode (RULES §5)."""
    return datetime.combine(t.date(), time(0)) if comparison == "date" else t


def paused() -> ColumnElement:
    """The dossier's clock is stopped: waiting for a supplement or a financial obligation."""
    return d.status.in_(sorted(PAUSED_STATUSES))


def open_conditions(t: datetime, cal: WorkCalendar, rules: RuleSettings) -> dict[str, Any]:
    """The SQL conditions at T: unfinished, paused, overdue, at_risk, past_new (overdue and past its
    new appointment too); with the moments they cut at (cut, boundary)."""
    cut = overdue_cut(t, rules.comparison)
    boundary = at_risk_boundary(cal, t, rules)
    # coalesce(received_at, NULL) is received_at, written so that SQLite does not pick the
    # received_at index (every dossier ever received) over ix_dossier_open_due (the open ones)
    unfinished = and_(d.status.not_in(sorted(NOT_RECEIVED_STATUSES)), func.coalesce(d.received_at, null()) <= t,
                      or_(d.finish_at.is_(None), d.finish_at > t))
    stopped = paused()
    overdue = and_(not_(stopped), d.due_used_at < cut)
    at_risk = and_(not_(stopped), d.due_used_at >= cut, d.due_used_at <= boundary)
    past_new = and_(overdue, d.rescheduled_due_at < cut)
    return {"unfinished": unfinished, "paused": stopped, "overdue": overdue, "at_risk": at_risk,
            "past_new": past_new, "cut": cut, "boundary": boundary}


def in_units(q, units: Collection[int] | None):  # noqa: ANN001, ANN201
    """`q` limited to the dossiers of `units` (None: every unit; empty: none)."""
    return q if units is None else q.where(d.unit_id.in_(sorted(units) or [-1]))


def open_counts(engine: Engine, settings: Settings, t: datetime,
                units: Collection[int] | None = None) -> dict[str, int]:
    """In progress, overdue, at risk and paused at T, in `units` (None: every unit)."""
    c = open_conditions(t, settings.work_calendar(), settings.rule_settings())

    def n(cond):  # noqa: ANN001, ANN202
        return func.coalesce(func.sum(case((cond, 1), else_=0)), 0)

    q = in_units(select(func.count(), n(c["overdue"]), n(c["at_risk"]), n(c["paused"])).where(c["unfinished"]), units)
    with engine.connect() as conn:
        total, overdue, at_risk, stopped = conn.execute(q).one()
    return {"in_progress": total, "overdue": overdue, "at_risk": at_risk, "paused": stopped}


def open_counts_by_unit(engine: Engine, settings: Settings, t: datetime,
                        units: Collection[int] | None = None) -> dict[int, dict[str, int]]:
    """Open and overdue dossiers at T per unit (its own, not its subtree's), in `units`."""
    c = open_conditions(t, settings.work_calendar(), settings.rule_settings())
    q = (select(d.unit_id, func.count(), func.coalesce(func.sum(case((c["overdue"], 1), else_=0)), 0))
         .where(c["unfinished"]).group_by(d.unit_id))
    with engine.connect() as conn:
        rows = conn.execute(in_units(q, units)).all()
    return {uid: {"open": n, "overdue": late} for uid, n, late in rows}


# ----- how late --------------------------------------------------------------------------------------


def working_days_after(cal: WorkCalendar, a: date, b: date) -> int:
    """Working days in (a, b]: how many working days late something due on `a` is on `b`, counted by
    date (due on Monday, on Friday: 4)."""
    start = datetime.combine(a + timedelta(days=1), time(0))
    end = datetime.combine(b + timedelta(days=1), time(0))
    return max(0, cal.working_seconds_between(start, end)) // cal.day_seconds


def late_cut(cal: WorkCalendar, t: datetime, comparison: str, days: int) -> datetime:
    """A dossier is overdue by more than `days` working days at T exactly when its due is before this.

    Datetime mode: the moment `days` working days of office time before T (the earliest such moment,
    so a due at 11:30 or 17:00 counts as the end of its session). Date mode ignores the time of day
    like overdue_cut: T stands for the end of its date, and the cut is the midnight starting the
    date `days` working days earlier; so on Friday a dossier due on Monday is 4 working days late
    (Tue, Wed, Thu, Fri), one due on Tuesday 3 — as `working_days_after` counts them."""
    ref = t if comparison == "datetime" else datetime.combine(t.date() + timedelta(days=1), time(0))
    moment = cal.moment(cal.position(ref) - days * cal.day_seconds, prefer_end=True)
    return overdue_cut(moment, comparison)


@dataclass(frozen=True)
class Lateness:
    """How late an open dossier is at T (late=True), or how long it has left: in working days from
    one working day on, else in working hours.

    Late, date mode: whole working days, counted by date as the comparison, the "how late" filters
    and the digests count (due on Monday, on Friday: 4). Late, datetime mode: office time, in days
    rounded up to one decimal, so "3,1 days" is always in "more than 3 days" and "3,0" never is.
    Time left: office time, rounded down (never more time than there is)."""

    late: bool
    days: float | None  # None: under one working day, see hours
    hours: float
    due_today: bool = False  # date mode: the due moment passed today, not yet overdue


def lateness(cal: WorkCalendar, due: datetime, t: datetime, comparison: str) -> Lateness:
    day = cal.day_seconds
    if due < overdue_cut(t, comparison):
        if comparison == "date":
            days = working_days_after(cal, due.date(), t.date())
            if days >= 1:
                return Lateness(True, days, days * day / 3600)
        secs = max(0, cal.working_seconds_between(due, t))
        if secs >= day:
            return Lateness(True, math.ceil(secs * 10 / day) / 10, secs / 3600)
        return Lateness(True, None, math.ceil(secs / 360) / 10)
    if due <= t:
        return Lateness(False, None, 0.0, due_today=True)
    secs = max(0, cal.working_seconds_between(t, due))
    if secs >= day:
        return Lateness(False, math.floor(secs * 10 / day) / 10, secs / 3600)
    return Lateness(False, None, math.floor(secs / 360) / 10)
