"""The overdue and at-risk list (the reception desk's page) and the open-dossier counts.

Both filter on stored, indexed columns (`finish_at`, `due_used_at`: ix_dossier_open_due) with
the semantics of RULES §5, evaluated at one moment T:
- unfinished at T: status not 1/3, received by T, finish_at NULL or after T;
- paused: status 5 or 6 (the clock is stopped);
- overdue: not paused, due_used_at before the cut (T's midnight in date mode, T in datetime mode);
- at risk: not paused, not overdue, due_used_at <= tracker.rules.at_risk_boundary(T);
- overdue by more than N working days (gt3, gt7, gt30): due_used_at before `late_cut(T, N)`.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Engine, and_, case, func, not_, null, or_, select

from tracker.calendar import FIRST_YEAR, LAST_YEAR, WorkCalendar
from tracker.collation import name_key
from tracker.config import Settings
from tracker.models import Dossier, Procedure, Unit
from tracker.rules import NOT_RECEIVED_STATUSES, PAUSED_STATUSES, at_risk_boundary
from web.scope import Scope

d = Dossier.__table__.c
PAGE_SIZE = 50
HOW_LATE = ("any", "overdue", "at_risk", "past_new", "gt3", "gt7", "gt30", "likely_late", "stuck")
LATE_DAYS = {"gt3": 3, "gt7": 7, "gt30": 30}  # overdue by more than this many working days


def overdue_cut(t: datetime, comparison: str) -> datetime:
    return datetime.combine(t.date(), time(0)) if comparison == "date" else t


def late_cut(cal: WorkCalendar, t: datetime, comparison: str, days: int) -> datetime:
    """A dossier is overdue by more than `days` working days at T exactly when its due is before this.

    Datetime mode: the moment `days` working days of office time before T (the earliest such moment,
    so a due at 11:30 or 17:00 counts as the end of its session). Date mode ignores the time of day
    like overdue_cut: T stands for the end of its date, and the cut is the midnight starting the
    date `days` working days earlier; so on Friday a dossier due on Monday is 4 working days late
    (Tue, Wed, Thu, Fri), one due on Tuesday 3 — as jobs.digest counts them."""
    ref = t if comparison == "datetime" else datetime.combine(t.date() + timedelta(days=1), time(0))
    cal.is_working_day(ref.date() - timedelta(days=2 * days + 30))  # load the years first: positions shift
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
    import math

    day = cal.day_seconds
    if due < overdue_cut(t, comparison):
        if comparison == "date":
            start = datetime.combine(due.date() + timedelta(days=1), time(0))
            end = datetime.combine(t.date() + timedelta(days=1), time(0))
            days = max(0, cal.working_seconds_between(start, end)) // day
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


def lateness_words(value: Lateness | None) -> str:
    """The same words on the list, the unit page and the dossier page."""
    from flask_babel import gettext as _

    from web.i18n import fmt_num

    if value is None:
        return ""
    if value.due_today:
        return _("đến hạn trong hôm nay")
    if value.days == 1 and isinstance(value.days, int):  # date mode's whole days: English says "1 day"
        return _("trễ 1 ngày làm việc") if value.late else _("còn 1 ngày làm việc")
    if value.days is not None:
        n = fmt_num(value.days if isinstance(value.days, int) else float(value.days), 1)
        return _("trễ %(n)s ngày làm việc", n=n) if value.late else _("còn %(n)s ngày làm việc", n=n)
    n = fmt_num(float(value.hours), 1)
    return _("trễ %(n)s giờ làm việc", n=n) if value.late else _("còn %(n)s giờ làm việc", n=n)


_CALENDARS: dict[str, WorkCalendar] = {}
_CAL_LOCK = threading.Lock()


def work_calendar(settings: Settings, t: datetime) -> WorkCalendar:
    """The settings' calendar, built once per process (its holiday tables are not free) and
    warmed for the years around `t` under a lock, so concurrent requests only read it."""
    fp = settings.fingerprint()
    with _CAL_LOCK:
        cal = _CALENDARS.get(fp)
        if cal is None:
            cal = _CALENDARS[fp] = settings.work_calendar()
        for year in (t.year - 1, t.year, t.year + 1):
            if FIRST_YEAR <= year <= LAST_YEAR:  # the calendar's years (tracker.calendar); a moment
                cal.is_working_day(date(year, 6, 1))  # outside them is refused where it is used
    return cal


def open_conditions(t: datetime, settings: Settings) -> dict[str, Any]:
    comparison = settings.rule_settings().comparison
    cut = overdue_cut(t, comparison)
    boundary = at_risk_boundary(work_calendar(settings, t), t, settings.rule_settings())
    # coalesce(received_at, NULL) is received_at, written so that SQLite does not pick the
    # received_at index (every dossier ever received) over ix_dossier_open_due (the open ones)
    unfinished = and_(d.status.not_in(sorted(NOT_RECEIVED_STATUSES)), func.coalesce(d.received_at, null()) <= t,
                      or_(d.finish_at.is_(None), d.finish_at > t))
    paused = d.status.in_(sorted(PAUSED_STATUSES))
    overdue = and_(not_(paused), d.due_used_at < cut)
    at_risk = and_(not_(paused), d.due_used_at >= cut, d.due_used_at <= boundary)
    past_new = and_(overdue, d.rescheduled_due_at < cut)
    return {"unfinished": unfinished, "paused": paused, "overdue": overdue, "at_risk": at_risk,
            "past_new": past_new, "cut": cut, "boundary": boundary}


def open_counts(engine: Engine, settings: Settings, t: datetime, scope: Scope,
                unit_ids: set[int] | None = None) -> dict[str, int]:
    """In progress, overdue, at risk and paused at T, within the scope (and `unit_ids`)."""
    c = open_conditions(t, settings)

    def n(cond):  # noqa: ANN001, ANN202
        return func.coalesce(func.sum(case((cond, 1), else_=0)), 0)

    q = select(func.count(), n(c["overdue"]), n(c["at_risk"]), n(c["paused"])).where(c["unfinished"])
    q = _scoped(q, scope, unit_ids)
    with engine.connect() as conn:
        total, overdue, at_risk, paused = conn.execute(q).one()
    return {"in_progress": total, "overdue": overdue, "at_risk": at_risk, "paused": paused}


def open_counts_by_unit(engine: Engine, settings: Settings, t: datetime, scope: Scope) -> dict[int, dict[str, int]]:
    """Open and overdue dossiers at T per unit (its own, not its subtree's), within the scope."""
    c = open_conditions(t, settings)
    q = (select(d.unit_id, func.count(), func.coalesce(func.sum(case((c["overdue"], 1), else_=0)), 0))
         .where(c["unfinished"]).group_by(d.unit_id))
    with engine.connect() as conn:
        rows = conn.execute(_scoped(q, scope, None)).all()
    return {uid: {"open": n, "overdue": late} for uid, n, late in rows}


def _scoped(q, scope: Scope, unit_ids: set[int] | None):  # noqa: ANN001, ANN202
    where = scope.restrict(d.unit_id)
    if where is not None:
        q = q.where(where)
    if unit_ids is not None:
        q = q.where(d.unit_id.in_(sorted(unit_ids) or [-1]))
    return q


class TTLCache:
    """A small per-process cache of list pages and counts: under load, many desks ask for the same
    page within seconds. Keys carry the database, the scope, the filters and the data version (an
    import invalidates at once); `ttl` bounds how old the moment shown as 'as of' can be."""

    def __init__(self, max_items: int = 2000) -> None:
        self._items: dict[tuple, tuple[float, Any]] = {}
        self._lock = threading.Lock()
        self.max_items = max_items

    def get_or_compute(self, key: tuple, ttl: float, compute):  # noqa: ANN001, ANN201
        import time as clock

        if ttl <= 0:
            return compute()
        now = clock.monotonic()
        with self._lock:
            hit = self._items.get(key)
            if hit and now - hit[0] < ttl:
                return hit[1]
        value = compute()
        with self._lock:
            if len(self._items) >= self.max_items:
                self._items.clear()
            self._items[key] = (now, value)
        return value


CACHE = TTLCache()


def scope_key(scope: Scope) -> tuple:
    return (scope.role, None if scope.unit_ids is None else tuple(sorted(scope.unit_ids)))


@dataclass
class ListFilters:
    unit: str = ""  # a unit code: that unit and its subtree
    procedure: str = ""  # a procedure code
    field: str = ""  # a field name (lĩnh vực)
    channel: str = ""  # "1" | "2" | "3"
    how_late: str = "any"
    q: str = ""  # dossier code, or its start
    page: int = 1

    @classmethod
    def from_args(cls, args) -> ListFilters:  # noqa: ANN001
        try:
            page = max(1, min(int(args.get("page", 1)), 100_000))
        except ValueError:
            page = 1
        how = args.get("how_late", "any")
        ch = args.get("channel", "")
        return cls(unit=args.get("unit", "").strip(), procedure=args.get("procedure", "").strip(),
                   field=args.get("field", "").strip(), channel=ch if ch in ("1", "2", "3") else "",
                   how_late=how if how in HOW_LATE else "any", q=args.get("q", "").strip()[:64], page=page)

    def query_args(self, **change: Any) -> dict[str, Any]:
        out = {"unit": self.unit, "procedure": self.procedure, "field": self.field, "channel": self.channel,
               "how_late": self.how_late, "q": self.q, "page": self.page}
        out.update(change)
        return {k: v for k, v in out.items() if v not in ("", None, "any") and not (k == "page" and v == 1)}


@dataclass
class ListPage:
    rows: list[dict[str, Any]]
    total: int
    page: int
    pages: int
    as_of: datetime
    filters: ListFilters
    extra: dict[str, Any] = field(default_factory=dict)


def overdue_list(engine: Engine, settings: Settings, t: datetime, scope: Scope, f: ListFilters,
                 unit_ids: set[int] | None = None, *, page_size: int = PAGE_SIZE) -> ListPage:
    """One page of the list, most urgent first: the most working time late (the earliest due) first;
    dossiers past even their new appointment are marked (`past_new`), not put in a block above."""
    from web.scope import unit_tree

    c = open_conditions(t, settings)
    kind = {"overdue": c["overdue"], "at_risk": c["at_risk"], "past_new": c["past_new"]}.get(
        f.how_late, or_(c["overdue"], c["at_risk"]))
    cond = [c["unfinished"], kind]
    extra: dict[str, Any] = {}
    if f.how_late in ("likely_late", "stuck"):  # tracker.outlook's stored rows (web/outlook.py)
        from web.outlook import outlook_filter

        cond = outlook_filter(engine, settings, t, f.how_late, c, extra)
    days = LATE_DAYS.get(f.how_late)
    if days:
        comparison = settings.rule_settings().comparison
        cond.append(d.due_used_at < late_cut(work_calendar(settings, t), t, comparison, days))
    if f.unit:
        node = unit_tree(engine).by_code.get(f.unit)
        cond.append(d.unit_id.in_(sorted(unit_tree(engine).subtree(node.id)) if node else [-1]))
    if f.procedure:
        cond.append(d.procedure_id.in_(select(Procedure.id).where(Procedure.code == f.procedure)))
    if f.field:
        cond.append(d.procedure_id.in_(select(Procedure.id).where(Procedure.field_name == f.field)))
    if f.channel:
        cond.append(d.channel == int(f.channel))
    if f.q:
        cond.append(d.code.like(f.q.replace("%", "").replace("_", "\\_") + "%", escape="\\"))
    base = _scoped(select(func.count()).select_from(Dossier.__table__).where(*cond), scope, unit_ids)
    with engine.connect() as conn:
        total = conn.execute(base).scalar_one()
        pages = max(1, -(-total // page_size))
        page = min(f.page, pages)
        urgency = case((c["past_new"], 0), else_=1)
        q = (select(d.id, d.code, d.status, d.channel, d.received_at, d.due_at, d.computed_due_at, d.due_used_at,
                    d.rescheduled_due_at, d.applicant_name, d.applicant_phone,
                    urgency.label("urgency"), Unit.code.label("unit_code"), Unit.name.label("unit_name"),
                    Procedure.code.label("procedure_code"), Procedure.name.label("procedure_name"),
                    Procedure.field_name)
             .select_from(Dossier.__table__.join(Unit, Unit.id == d.unit_id)
                          .outerjoin(Procedure, Procedure.id == d.procedure_id))
             .where(*cond).order_by(d.due_used_at, d.id)
             .limit(page_size).offset((page - 1) * page_size))
        rows = [dict(r) for r in conn.execute(_scoped(q, scope, unit_ids)).mappings()]
    cal = work_calendar(settings, t)
    comparison = settings.rule_settings().comparison
    cut = c["cut"]
    from web.outlook import add_outlook

    add_outlook(engine, settings, t, rows)
    for r in rows:
        due = r["due_used_at"]
        r["overdue"] = due is not None and due < cut
        r["at_risk"] = not r["overdue"] and due is not None and due <= c["boundary"] and r["status"] not in (5, 6)
        r["past_new"] = r["urgency"] == 0
        r["hours"] = round(cal.working_hours_between(t, due), 1) if due else None
        r["lateness"] = lateness(cal, due, t, comparison) if due else None
        r["comparison"] = comparison
        if not scope.sees_personal_data:
            from web.scope import mask_name, mask_phone

            r["applicant_name"] = mask_name(r["applicant_name"] or "")
            r["applicant_phone"] = mask_phone(r["applicant_phone"] or "")
    return ListPage(rows, total, page, pages, t, f, extra)


def filter_choices(engine: Engine, scope: Scope) -> dict[str, list]:
    """Procedures and fields for the filter boxes."""
    with engine.connect() as conn:
        procs = conn.execute(select(Procedure.code, Procedure.name, Procedure.field_name)).all()
    procs = sorted(procs, key=lambda p: (name_key(p.name or ""), p.code))
    fields = sorted({p.field_name for p in procs if p.field_name}, key=name_key)
    return {"procedures": procs, "fields": fields}
