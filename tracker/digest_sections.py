"""What a morning digest lists for each unit, and the rates and ranks it shows (jobs.digest renders
and sends them).

A digest is about one moment T, the digest time (`digest.time`, 07:30) of the digest date. For
each unit, at T:
- overdue dossiers (tracker.open_dossiers semantics), most working hours late first;
- dossiers due on the digest date, and due by the next working day;
- paused dossiers (supplement requested, financial obligation): their clock is stopped;
- dossiers that finished late since the previous working day began ("hôm qua", or since Friday on
  a Monday, so a weekend or a holiday loses nothing);
- likely late (tracker.predict) and stuck (tracker.stuck), as the last refresh stored them;
- the month-to-date on-time rate (tracker.reports), last month's, and the unit's rank among the
  units of its level.
Dossier codes and procedure names only: the applicant's name only with digest.include_applicant.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Engine, or_, select

from tracker.calendar import WorkCalendar
from tracker.config import Settings
from tracker.derive import facts_of
from tracker.models import Dossier, DossierOutlook, Procedure
from tracker.open_dossiers import open_conditions, overdue_cut, working_days_after
from tracker.predict import basis_text
from tracker.reports import Report, period_report, vi_number
from tracker.rules import NOT_RECEIVED_STATUSES, classify
from tracker.stuck import since_text, stuck_dossiers

PAUSED_NAMES = {5: "Chờ bổ sung hồ sơ", 6: "Chờ thực hiện nghĩa vụ tài chính"}
STUCK_NAMES = {1: "Mới đăng ký, chưa tiếp nhận", 2: "Đã tiếp nhận, chưa chuyển xử lý",
               4: "Đang xử lý, không đổi trạng thái", 5: "Chờ bổ sung, chưa nộp lại"}
LIST_NAMES = ("overdue", "due_today", "due_next", "paused", "finished_late", "likely_late", "stuck")


def moment_text(t: datetime | None) -> str:
    return t.strftime("%d/%m/%Y %H:%M") if t else "-"


def day_text(d: date) -> str:
    return d.strftime("%d/%m/%Y")


def digest_moment(settings: Settings, digest_date: date) -> datetime:
    """T: the moment a day's digest is about."""
    return datetime.combine(digest_date, settings.get("digest.time"))


def previous_working_day(cal: WorkCalendar, d: date) -> date:
    p = d - timedelta(days=1)
    while not cal.is_working_day(p):
        p -= timedelta(days=1)
    return p


def _late_text(cal: WorkCalendar, due: datetime, t: datetime) -> str:
    days = working_days_after(cal, due.date(), t.date())
    if days >= 1:
        return f"{days} ngày làm việc"
    return f"{vi_number(max(cal.working_hours_between(due, t), 0), 1)} giờ làm việc"


# ----- each unit's lists -------------------------------------------------------------------------


@dataclass
class Line:
    """One dossier in a list: code, procedure, link, due, and what is notable about it."""

    code: str
    procedure: str
    url: str
    due: str
    late: str = ""  # overdue and finished late: by how much
    note: str = ""
    applicant: str = ""  # only with digest.include_applicant
    urgent: bool = False  # overdue and past its new appointment too (past_rescheduled_due)
    sort_key: Any = field(default=None, repr=False, compare=False)


@dataclass
class UnitLists:
    overdue: list[Line] = field(default_factory=list)
    due_today: list[Line] = field(default_factory=list)
    due_next: list[Line] = field(default_factory=list)
    paused: list[Line] = field(default_factory=list)
    finished_late: list[Line] = field(default_factory=list)
    likely_late: list[Line] = field(default_factory=list)  # tracker.predict, stored by the refresh
    stuck: list[Line] = field(default_factory=list)  # tracker.stuck
    stale_sources: list[str] = field(default_factory=list)  # sources too old for "stuck" to mean anything

    @property
    def quiet(self) -> bool:
        return not (self.overdue or self.due_today or self.due_next or self.paused or self.finished_late
                    or self.likely_late or self.stuck)


def _open_rows(engine: Engine, settings: Settings, t: datetime, horizon: datetime, unit_ids: Iterable[int],
               applicant: bool):
    """Dossiers unfinished at T that could be overdue, due by `horizon`, or paused."""
    d = Dossier.__table__.c
    p = Procedure.__table__.c
    c = open_conditions(t, settings.work_calendar(), settings.rule_settings())
    cols = [d.code, d.unit_id, d.status, d.received_at, d.due_at, d.computed_due_at, d.resubmitted_at,
            d.rescheduled_due_at, d.apology_at, d.finished_at, d.returned_at, d.first_seen_finished_at,
            d.channel, d.supplement_requested_at, p.name.label("procedure_name")]
    if applicant:  # personal data: read only when the digest may show it
        cols.append(d.applicant_name)
    q = (select(*cols).select_from(Dossier.__table__.outerjoin(Procedure.__table__, p.id == d.procedure_id))
         .where(d.unit_id.in_(list(unit_ids)), c["unfinished"], or_(c["paused"], d.due_used_at < horizon)))
    with engine.connect() as conn:
        return conn.execute(q).mappings().all()


def _finished_late_rows(engine: Engine, start: datetime, end: datetime, unit_ids: Iterable[int], applicant: bool):
    d = Dossier.__table__.c
    p = Procedure.__table__.c
    cols = [d.code, d.unit_id, d.finish_at, d.due_used_at, p.name.label("procedure_name")]
    if applicant:
        cols.append(d.applicant_name)
    q = (select(*cols).select_from(Dossier.__table__.outerjoin(Procedure.__table__, p.id == d.procedure_id))
         .where(d.unit_id.in_(list(unit_ids)), d.status.not_in(sorted(NOT_RECEIVED_STATUSES)),
                d.result_class == "late", d.finish_at >= start, d.finish_at < end))
    with engine.connect() as conn:
        return conn.execute(q).mappings().all()


def unit_lists(engine: Engine, settings: Settings, digest_date: date, unit_ids: Iterable[int],
               link: Callable[[str], str]) -> dict[int, UnitLists]:
    """Each unit's lists at the digest moment, sorted, whole (jobs.digest shows the first few).
    `link(code)`: where a line links to (the dashboard's page of the dossier)."""
    cal, rules = settings.work_calendar(), settings.rule_settings()
    t = digest_moment(settings, digest_date)
    next_day = cal.next_working_day(digest_date)
    horizon = datetime.combine(next_day + timedelta(days=1), time(0))
    applicant = settings.get("digest.include_applicant")
    unit_ids = list(unit_ids)
    out = {uid: UnitLists() for uid in unit_ids}

    def line(r: Mapping[str, Any], due: datetime | None, **kw: Any) -> Line:
        return Line(code=r["code"], procedure=r["procedure_name"] or "(không rõ thủ tục)",
                    url=link(r["code"]), due=moment_text(due),
                    applicant=(r.get("applicant_name") or "") if applicant else "", **kw)

    for r in _open_rows(engine, settings, t, horizon, unit_ids, applicant):
        c = classify(facts_of(r), t, cal, rules)
        lists, due = out[r["unit_id"]], c.due_used
        if c.cls == "overdue":
            urgent = "past_rescheduled_due" in c.flags  # past its new appointment (Mẫu 04) too
            note = ""
            if c.rescheduled_due:
                note = f"hẹn lại {moment_text(c.rescheduled_due)}" + (", cũng đã quá hạn" if urgent else "")
            lists.overdue.append(line(r, due, late=_late_text(cal, due, t), note=note, urgent=urgent,
                                      sort_key=(-cal.working_seconds_between(due, t), r["code"])))
        elif c.cls == "paused":
            since = r["supplement_requested_at"]
            note = PAUSED_NAMES.get(r["status"], "Tạm dừng") + (f" từ {day_text(since.date())}" if since else "")
            lists.paused.append(line(r, due, note=note, sort_key=(due or datetime.max, r["code"])))
        elif c.cls in ("within", "at_risk") and due is not None and digest_date <= due.date() <= next_day:
            target = lists.due_today if due.date() == digest_date else lists.due_next
            target.append(line(r, due, sort_key=(due, r["code"])))

    start = datetime.combine(previous_working_day(cal, digest_date), time(0))
    for r in _finished_late_rows(engine, start, datetime.combine(digest_date, time(0)), unit_ids, applicant):
        due = r["due_used_at"]
        late = _late_text(cal, due, r["finish_at"]) if due else ""
        out[r["unit_id"]].finished_late.append(line(r, due, late=late, note=f"hoàn thành {moment_text(r['finish_at'])}",
                                                    sort_key=(r["finish_at"], r["code"])))

    _outlook_lists(engine, settings, t, unit_ids, out, line)
    for lists in out.values():
        for name in LIST_NAMES:
            getattr(lists, name).sort(key=lambda x: x.sort_key)
    return out


def _outlook_lists(engine: Engine, settings: Settings, t: datetime, unit_ids: list[int],
                   out: dict[int, UnitLists], line) -> None:  # noqa: ANN001
    """The likely-late and stuck dossiers of each unit at T, from the outlook the refresh stored."""
    d = Dossier.__table__.c
    o = DossierOutlook.__table__.c
    p = Procedure.__table__.c
    cut = overdue_cut(t, settings.rule_settings().comparison)
    q = (select(d.code, d.unit_id, d.due_used_at, o.probability, o.basis_kind, o.basis_count, o.basis_months,
                p.name.label("procedure_name"))
         .select_from(Dossier.__table__.join(DossierOutlook.__table__, o.dossier_id == d.id)
                      .outerjoin(Procedure.__table__, p.id == d.procedure_id))
         .where(d.unit_id.in_(unit_ids), o.likely_late, o.status == d.status, d.finish_at.is_(None),
                d.received_at <= t, d.due_used_at >= cut))
    with engine.connect() as conn:
        for r in conn.execute(q).mappings():
            note = (f"xác suất trễ {round(r['probability'] * 100)}% · "
                    f"{basis_text(r['basis_kind'], r['basis_count'], r['basis_months'])}")
            out[r["unit_id"]].likely_late.append(line(r, r["due_used_at"], note=note,
                                                      sort_key=(-r["probability"], r["due_used_at"], r["code"])))
    cal = settings.work_calendar()
    stuck = stuck_dossiers(engine, settings, t, unit_ids)
    for r in stuck.rows:
        note = f"{STUCK_NAMES.get(r['status'], r['status'])} {since_text(r['status'], r['since'], t, cal)}"
        out[r["unit_id"]].stuck.append(line(r, r["due_used_at"], note=note, sort_key=(r["since"], r["code"])))
    for lists in out.values():
        lists.stale_sources = [s.source for s in stuck.stale]


# ----- rates and ranks, from tracker.reports -----------------------------------------------------


@dataclass
class Standing:
    """A unit's month-to-date on-time rate and its rank among the units of its level."""

    code: str
    name: str
    level: str
    finished: int = 0
    late: int = 0
    overdue: int = 0
    rate: Decimal | None = None
    rank: int | None = None
    ranked: int = 0  # units of the level that have a rate


def _month_start(d: date) -> date:
    return d.replace(day=1)


def _previous_month(d: date) -> tuple[date, date]:
    end = _month_start(d) - timedelta(days=1)
    return end.replace(day=1), end


def standings(report: Report) -> dict[str, Standing]:
    """Each unit's rate and rank among the units of its level (1 = best; equal rates share a rank)."""
    out = {r.key: Standing(r.key, r.name, r.level, r.finished, r.late, r.overdue, r.on_time_rate)
           for r in report.rows}
    by_level: dict[str, list[Standing]] = {}
    for s in out.values():
        if s.rate is not None:
            by_level.setdefault(s.level, []).append(s)
    for group in by_level.values():
        group.sort(key=lambda s: (-s.rate, s.code))
        for i, s in enumerate(group):
            s.rank = group[i - 1].rank if i and group[i - 1].rate == s.rate else i + 1
            s.ranked = len(group)
    return out


@dataclass
class Rates:
    """Month to date (at T), last month, and (for the summary) what the summary showed a week ago."""

    month: dict[str, Standing]
    last_month: dict[str, Standing]
    week_ago: dict[str, Standing]
    month_report: Report
    last_label: str
    week_date: date


def rates(engine: Engine, settings: Settings, digest_date: date, *, week: bool) -> Rates:
    t = digest_moment(settings, digest_date)
    month = period_report(engine, settings, _month_start(digest_date), digest_date, as_of=t)
    last_start, last_end = _previous_month(digest_date)
    last = period_report(engine, settings, last_start, last_end, as_of=t)
    week_date = digest_date - timedelta(days=7)
    week_ago = {}
    if week:
        week_ago = standings(period_report(engine, settings, _month_start(week_date), week_date,
                                           as_of=digest_moment(settings, week_date)))
    return Rates(standings(month), standings(last), week_ago, month, f"tháng {last_start:%m/%Y}", week_date)


