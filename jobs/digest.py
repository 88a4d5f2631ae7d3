"""The morning digests (báo cáo sáng): each unit's late and coming work, and a summary for CCHC.

A digest is about one moment T, the digest time (`digest.time`, 07:30) of the digest date, and
only working days have one. Its content depends on T and the data, never on when it is sent, so a
re-run after a crash renders the same emails and sends only the missing ones (see jobs.delivery).

To each unit's recipients (`unit.digest_recipients`):
- overdue dossiers at T (tracker.rules semantics), most working hours late first;
- dossiers due on the digest date, and due by the next working day;
- paused dossiers (supplement requested, financial obligation): their clock is stopped;
- dossiers that finished late since the previous working day began ("hôm qua", or since Friday on
  a Monday, so a weekend or a holiday loses nothing);
- the month-to-date on-time rate (tracker.reports), its change from last month's rate, and the
  unit's rank among the units of its level.
Dossier codes and procedure names only: the applicant's name only with digest.include_applicant.
A unit with nothing in those lists gets no email unless digest.all_clear.

To `digest.cchc_recipients`: every unit ranked within its level, and the biggest movers since what
the summary showed a week before.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import quote

from sqlalchemy import Engine, or_, select
from sqlalchemy.dialects import postgresql, sqlite

from jobs.delivery import DeliveryReport, Outgoing, Rendered, deliver, render_email
from tracker.calendar import WorkCalendar
from tracker.calendar_days import warning_text as calendar_warning_text
from tracker.config import Settings
from tracker.derive import facts_of, refresh_if_stale
from tracker.models import Dossier, Meta, Procedure, Unit
from tracker.reports import LEVEL_NAMES, LEVEL_ORDER, Report, period_report, rate_text, vi_number
from tracker.rules import NOT_RECEIVED_STATUSES, PAUSED_STATUSES, classify

log = logging.getLogger("jobs.digest")

# The dashboard's pages (web/views.py) that digests link to.
DOSSIER_PAGE = "/dossier/{code}"
UNIT_PAGE = "/unit/{code}"
LIST_LIMIT = 10  # dossiers shown per list (a phone screen or two); the rest are counted and linked
LIST_PAGE = "/overdue?unit={code}&how_late={how}"  # "… và 12 hồ sơ khác": the dashboard's filtered list
MOVERS = 5  # risers and fallers shown in the CCHC summary
META_DONE = "digest_done"  # the last digest date fully delivered (the scheduler's catch-up reads it)
WEEKDAYS = ("Thứ Hai", "Thứ Ba", "Thứ Tư", "Thứ Năm", "Thứ Sáu", "Thứ Bảy", "Chủ Nhật")
PAUSED_NAMES = {5: "Chờ bổ sung hồ sơ", 6: "Chờ thực hiện nghĩa vụ tài chính"}
STUCK_NAMES = {1: "Mới đăng ký, chưa tiếp nhận", 2: "Đã tiếp nhận, chưa chuyển xử lý",
               4: "Đang xử lý, không đổi trạng thái", 5: "Chờ bổ sung, chưa nộp lại"}
_EMAIL = re.compile(r"[^@\s<>,;]+@[^@\s<>,;]+\.[^@\s<>,;]+")


class DigestError(ValueError):
    """A digest that cannot be made as asked (an unknown unit code)."""


# ----- small formatting helpers ----------------------------------------------------------------------


def _dt(t: datetime | None) -> str:
    return t.strftime("%d/%m/%Y %H:%M") if t else "-"


def _d(d: date) -> str:
    return d.strftime("%d/%m/%Y")


def level_label(level: str) -> str:
    """'tinh' -> 'Cấp tỉnh'; a level the reports do not know is shown as written."""
    return LEVEL_NAMES.get(level) or (f"Cấp {level}" if level else LEVEL_NAMES[""])


def _lower_first(s: str) -> str:
    return s[:1].lower() + s[1:]


def _change(now: Decimal | None, before: Decimal | None) -> tuple[Decimal | None, str, str]:
    """(points, 'tăng 2,4 điểm %', 'up'): a rate's change, for people."""
    if now is None or before is None:
        return None, "", "none"
    points = now - before
    if points > 0:
        return points, f"tăng {vi_number(points, 1)} điểm %", "up"
    if points < 0:
        return points, f"giảm {vi_number(-points, 1)} điểm %", "down"
    return points, "không đổi", "same"


def digest_moment(settings: Settings, digest_date: date) -> datetime:
    """T: the moment a day's digest is about."""
    return datetime.combine(digest_date, settings.get("digest.time"))


def previous_working_day(cal: WorkCalendar, d: date) -> date:
    p = d - timedelta(days=1)
    while not cal.is_working_day(p):
        p -= timedelta(days=1)
    return p


def parse_recipients(text: str) -> tuple[list[str], list[str]]:
    """'a@x.vn, b@x.vn; bad' -> (['a@x.vn', 'b@x.vn'], ['bad']): good addresses once each, and the rest."""
    good: list[str] = []
    bad: list[str] = []
    seen: set[str] = set()
    for part in re.split(r"[,;\s]+", text or ""):
        if not part:
            continue
        if not _EMAIL.fullmatch(part):
            bad.append(part)
        elif part.lower() not in seen:
            seen.add(part.lower())
            good.append(part)
    return good, bad


def _working_days_after(cal: WorkCalendar, a: date, b: date) -> int:
    """Working days in (a, b]: how many working days late something due on `a` is on `b`."""
    start = datetime.combine(a + timedelta(days=1), time(0))
    end = datetime.combine(b + timedelta(days=1), time(0))
    return max(0, cal.working_seconds_between(start, end) // cal.day_seconds)


def _late_text(cal: WorkCalendar, due: datetime, t: datetime) -> str:
    days = _working_days_after(cal, due.date(), t.date())
    if days >= 1:
        return f"{days} ngày làm việc"
    return f"{vi_number(max(cal.working_hours_between(due, t), 0), 1)} giờ làm việc"


# ----- what a digest says ----------------------------------------------------------------------------


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
class Section:
    key: str  # overdue | due_today | due_next | paused | finished_late
    title: str
    lines: list[Line]
    total: int
    more_url: str = ""  # where the ones not shown are listed

    @property
    def more(self) -> int:
        return self.total - len(self.lines)


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


@dataclass
class Digest:
    """One rendered email (a unit's digest, or the CCHC summary) and who receives it."""

    kind: str  # "unit" | "cchc"
    scope: str  # unit code | "all"
    unit_id: int | None
    name: str
    recipients: list[str]
    rendered: Rendered
    all_clear: bool = False

    def outgoing(self) -> list[Outgoing]:
        return [Outgoing(self.kind, self.scope, self.unit_id, r, self.rendered) for r in self.recipients]


@dataclass
class DigestRun:
    """What one run did: the digests it rendered and, when sending, the delivery's outcome."""

    digest_date: date
    as_of: datetime
    skipped: str = ""  # why there is no digest at all (not a working day)
    digests: list[Digest] = field(default_factory=list)
    quiet: list[str] = field(default_factory=list)  # units with nothing to report: no email
    no_recipients: list[str] = field(default_factory=list)  # units with news but nobody to tell
    problems: list[str] = field(default_factory=list)
    delivery: DeliveryReport | None = None

    @property
    def more_waiting(self) -> bool:
        """Transient failures remain: a later run (the scheduler's catch-up) may still deliver them."""
        return bool(self.delivery and self.delivery.failed)

    @property
    def exit_code(self) -> int:
        return 0 if self.delivery is None or self.delivery.ok else 1


# ----- the lists, from the database --------------------------------------------------------------


def _open_rows(engine: Engine, t: datetime, horizon: datetime, unit_ids: Iterable[int], applicant: bool):
    """Dossiers unfinished at T that could be overdue, due by `horizon`, or paused."""
    d = Dossier.__table__.c
    p = Procedure.__table__.c
    cols = [d.code, d.unit_id, d.status, d.received_at, d.due_at, d.computed_due_at, d.resubmitted_at,
            d.rescheduled_due_at, d.apology_at, d.finished_at, d.returned_at, d.first_seen_finished_at,
            d.channel, d.supplement_requested_at, p.name.label("procedure_name")]
    if applicant:  # personal data: read only when the digest may show it
        cols.append(d.applicant_name)
    q = (select(*cols).select_from(Dossier.__table__.outerjoin(Procedure.__table__, p.id == d.procedure_id))
         .where(d.unit_id.in_(list(unit_ids)), d.status.not_in(sorted(NOT_RECEIVED_STATUSES)),
                d.received_at <= t, or_(d.finish_at.is_(None), d.finish_at > t),
                or_(d.status.in_(sorted(PAUSED_STATUSES)), d.due_used_at < horizon)))
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


def unit_lists(engine: Engine, settings: Settings, digest_date: date,
               unit_ids: Iterable[int]) -> dict[int, UnitLists]:
    """Each unit's five lists at the digest moment, sorted, not yet cut to LIST_LIMIT."""
    cal, rules = settings.work_calendar(), settings.rule_settings()
    t = digest_moment(settings, digest_date)
    next_day = cal.next_working_day(digest_date)
    horizon = datetime.combine(next_day + timedelta(days=1), time(0))
    base = settings.dashboard_url()
    applicant = settings.get("digest.include_applicant")
    unit_ids = list(unit_ids)
    out = {uid: UnitLists() for uid in unit_ids}

    def line(r: Mapping[str, Any], due: datetime | None, **kw: Any) -> Line:
        return Line(code=r["code"], procedure=r["procedure_name"] or "(không rõ thủ tục)",
                    url=base + DOSSIER_PAGE.format(code=quote(r["code"], safe="")), due=_dt(due),
                    applicant=(r.get("applicant_name") or "") if applicant else "", **kw)

    for r in _open_rows(engine, t, horizon, unit_ids, applicant):
        c = classify(facts_of(r), t, cal, rules)
        lists, due = out[r["unit_id"]], c.due_used
        if c.cls == "overdue":
            urgent = "past_rescheduled_due" in c.flags  # past its new appointment (Mẫu 04) too
            note = ""
            if c.rescheduled_due:
                note = f"hẹn lại {_dt(c.rescheduled_due)}" + (", cũng đã quá hạn" if urgent else "")
            lists.overdue.append(line(r, due, late=_late_text(cal, due, t), note=note, urgent=urgent,
                                      sort_key=(-cal.working_seconds_between(due, t), r["code"])))
        elif c.cls == "paused":
            since = r["supplement_requested_at"]
            note = PAUSED_NAMES.get(r["status"], "Tạm dừng") + (f" từ {_d(since.date())}" if since else "")
            lists.paused.append(line(r, due, note=note, sort_key=(due or datetime.max, r["code"])))
        elif c.cls in ("within", "at_risk") and due is not None and digest_date <= due.date() <= next_day:
            target = lists.due_today if due.date() == digest_date else lists.due_next
            target.append(line(r, due, sort_key=(due, r["code"])))

    start = datetime.combine(previous_working_day(cal, digest_date), time(0))
    for r in _finished_late_rows(engine, start, datetime.combine(digest_date, time(0)), unit_ids, applicant):
        due = r["due_used_at"]
        late = _late_text(cal, due, r["finish_at"]) if due else ""
        out[r["unit_id"]].finished_late.append(
            line(r, due, late=late, note=f"hoàn thành {_dt(r['finish_at'])}", sort_key=(r["finish_at"], r["code"])))

    _outlook_lists(engine, settings, t, unit_ids, out, line)
    for lists in out.values():
        for name in ("overdue", "due_today", "due_next", "paused", "finished_late", "likely_late", "stuck"):
            getattr(lists, name).sort(key=lambda x: x.sort_key)
    return out


def _outlook_lists(engine: Engine, settings: Settings, t: datetime, unit_ids: list[int],
                   out: dict[int, UnitLists], line) -> None:  # noqa: ANN001
    """The likely-late and stuck dossiers of each unit at T, from the outlook the refresh stored."""
    from tracker.models import DossierOutlook
    from tracker.predict import basis_text
    from tracker.stuck import since_text, stuck_dossiers

    d = Dossier.__table__.c
    o = DossierOutlook.__table__.c
    p = Procedure.__table__.c
    cut = datetime.combine(t.date(), time(0)) if settings.rule_settings().comparison == "date" else t
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


def _rate_context(code: str, level: str, r: Rates) -> dict[str, Any]:
    now = r.month.get(code)
    before = r.last_month.get(code)
    rate = now.rate if now else None
    last = before.rate if before else None
    _, change, direction = _change(rate, last)
    return {"text": rate_text(rate), "has_rate": rate is not None, "finished": now.finished if now else 0,
            "last_month": rate_text(last), "last_month_label": r.last_label, "change": change,
            "direction": direction, "rank": now.rank if now else None, "ranked": now.ranked if now else 0,
            "level": _lower_first(level_label(level))}


# ----- contexts and rendering --------------------------------------------------------------------


def _sections(lists: UnitLists, digest_date: date, next_day: date, prev_day: date) -> list[Section]:
    late_title = ("Hoàn thành trễ hạn hôm qua" if prev_day == digest_date - timedelta(days=1)
                  else f"Hoàn thành trễ hạn từ {_d(prev_day)}")
    spec = (("overdue", "Quá hạn", lists.overdue),
            ("likely_late", "Có nguy cơ trễ (dự báo từ lịch sử hồ sơ)", lists.likely_late),
            ("due_today", f"Đến hạn hôm nay, {_d(digest_date)}", lists.due_today),
            ("due_next", f"Đến hạn ngày làm việc tiếp theo, {WEEKDAYS[next_day.weekday()]} {_d(next_day)}",
             lists.due_next),
            ("paused", "Đang tạm dừng", lists.paused),
            ("stuck", "Đứng yên", lists.stuck),
            ("finished_late", late_title, lists.finished_late))
    return [Section(key, title, items[:LIST_LIMIT], len(items)) for key, title, items in spec]


def unit_context(settings: Settings, digest_date: date, unit: Mapping[str, Any], lists: UnitLists,
                 r: Rates) -> dict[str, Any]:
    cal = settings.work_calendar()
    next_day = cal.next_working_day(digest_date)
    sections = _sections(lists, digest_date, next_day, previous_working_day(cal, digest_date))
    base, code = settings.dashboard_url(), quote(unit["code"], safe="")
    for s in sections:  # overdue ones: the list filtered to them; due soon: overdue and at risk; else the unit
        how = {"overdue": "overdue", "due_today": "any", "due_next": "any"}.get(s.key)
        s.more_url = base + (LIST_PAGE.format(code=code, how=how) if how else UNIT_PAGE.format(code=code))
    return {
        "unit": {"code": unit["code"], "name": unit["name"], "level": level_label(unit["level"] or "")},
        "date": _d(digest_date), "weekday": WEEKDAYS[digest_date.weekday()],
        "as_of": digest_moment(settings, digest_date).strftime("%H:%M %d/%m/%Y"),
        "counts": {"overdue": len(lists.overdue), "due_soon": len(lists.due_today) + len(lists.due_next),
                   "due_today": len(lists.due_today), "due_next": len(lists.due_next),
                   "paused": len(lists.paused), "finished_late": len(lists.finished_late),
                   "likely_late": len(lists.likely_late), "stuck": len(lists.stuck)},
        "stale_sources": lists.stale_sources,
        "sections": [s for s in sections if s.total],
        "all_clear": lists.quiet,
        "rate": _rate_context(unit["code"], unit["level"] or "", r),
        "show_applicant": settings.get("digest.include_applicant"),
        "dashboard": settings.dashboard_url(),
        "unit_url": settings.dashboard_url() + UNIT_PAGE.format(code=quote(unit["code"], safe="")),
    }


def summary_context(settings: Settings, digest_date: date, r: Rates) -> dict[str, Any]:
    """Every unit ranked within its level, and the biggest movers since a week ago."""
    levels: dict[str, list[dict[str, Any]]] = {}
    for code, s in r.month.items():
        _, change, direction = _change(s.rate, r.last_month[code].rate if code in r.last_month else None)
        levels.setdefault(s.level, []).append({
            "rank": s.rank, "code": code, "name": s.name, "finished": s.finished, "late": s.late,
            "overdue": s.overdue, "rate": rate_text(s.rate), "change": change, "direction": direction,
            "sort": (s.rank is None, s.rank or 0, code)})
    order = sorted(levels, key=lambda lv: (LEVEL_ORDER.index(lv) if lv in LEVEL_ORDER else len(LEVEL_ORDER),
                                           lv == "", lv))
    movers = []
    for code, s in r.month.items():
        before = r.week_ago.get(code)
        points, change, direction = _change(s.rate, before.rate if before else None)
        if points:
            movers.append({"code": code, "name": s.name, "level": level_label(s.level),
                           "before": rate_text(before.rate), "after": rate_text(s.rate), "change": change,
                           "direction": direction,
                           "rank_before": before.rank, "rank_after": s.rank, "points": points})
    up = sorted((m for m in movers if m["points"] > 0), key=lambda m: (-m["points"], m["code"]))[:MOVERS]
    down = sorted((m for m in movers if m["points"] < 0), key=lambda m: (m["points"], m["code"]))[:MOVERS]
    total = r.month_report.total
    overdue_units = sum(1 for s in r.month.values() if s.overdue)
    return {
        "date": _d(digest_date), "weekday": WEEKDAYS[digest_date.weekday()],
        "as_of": digest_moment(settings, digest_date).strftime("%H:%M %d/%m/%Y"),
        "month": f"{digest_date:%m/%Y}", "last_month_label": r.last_label, "week_date": _d(r.week_date),
        "levels": [{"name": level_label(lv), "rows": sorted(levels[lv], key=lambda x: x["sort"])} for lv in order],
        "up": up, "down": down,
        "total": {"finished": total.finished, "late": total.late, "overdue": total.overdue,
                  "rate": rate_text(total.on_time_rate)},
        "overdue_units": overdue_units, "units": len(r.month),
        "dashboard": settings.dashboard_url(),
    }


# ----- the job ---------------------------------------------------------------------------------


def _units(engine: Engine, unit: str | None) -> list[Mapping[str, Any]]:
    q = select(Unit.id, Unit.code, Unit.name, Unit.level, Unit.digest_recipients).order_by(Unit.code)
    if unit:
        q = q.where(Unit.code == unit)
    with engine.connect() as conn:
        rows = conn.execute(q).mappings().all()
    if unit and not rows:
        raise DigestError(f"unit '{unit}': not found")
    return rows


def _mark_done(engine: Engine, digest_date: date) -> None:
    """Record the day as fully delivered. An upsert: two processes may finish at the same moment."""
    table = Meta.__table__
    dialect = postgresql if engine.dialect.name == "postgresql" else sqlite
    stmt = dialect.insert(table).values(key=META_DONE, value=digest_date.isoformat())
    with engine.begin() as conn:
        conn.execute(stmt.on_conflict_do_update(index_elements=["key"], set_={"value": stmt.excluded.value}))


def build_digests(engine: Engine, settings: Settings, digest_date: date, *, unit: str | None = None) -> DigestRun:
    """Render the day's digests (and the summary unless `unit`), without sending anything."""
    cal = settings.work_calendar()
    run = DigestRun(digest_date, digest_moment(settings, digest_date))
    units = _units(engine, unit)
    if not cal.is_working_day(digest_date):
        why = cal.day_reason(digest_date) or ("cuối tuần" if digest_date.weekday() >= 5 else "ngày nghỉ")
        run.skipped = f"{digest_date.isoformat()} is not a working day ({why}): no digest"
        return run
    refresh_if_stale(engine, settings)
    lists = unit_lists(engine, settings, digest_date, [u["id"] for u in units])
    summary_to = [] if unit else settings.get("digest.cchc_recipients")
    r = rates(engine, settings, digest_date, week=bool(summary_to))
    for u in units:
        recipients, bad = parse_recipients(u["digest_recipients"])
        run.problems += [f"unit {u['code']}: '{b}' is not a mail address (skipped)" for b in bad]
        ul = lists[u["id"]]
        if ul.quiet and not settings.get("digest.all_clear"):
            run.quiet.append(u["code"])
            continue
        if not recipients and not ul.quiet:
            run.no_recipients.append(u["code"])
        rendered = render_email("digest", unit_context(settings, digest_date, u, ul, r))
        run.digests.append(Digest("unit", u["code"], u["id"], u["name"], recipients, rendered, ul.quiet))
    if summary_to:
        ctx = summary_context(settings, digest_date, r)
        ctx["calendar_warning"] = calendar_warning_text(engine, settings, digest_date)  # from 1 October
        run.digests.append(Digest("cchc", "all", None, "Tổng hợp cho Phòng Kiểm soát TTHC / CCHC", summary_to,
                                  render_email("summary", ctx)))
    return run


def run_digests(engine: Engine, settings: Settings, digest_date: date, *, send: bool = True,
                unit: str | None = None, now: datetime | None = None, explicit: bool = False,
                retry_unknown: bool = False, backoff: float = 2.0) -> DigestRun:
    """The day's digests: rendered, and with `send` delivered (each message at most once).

    `explicit` (an operator's `tthc digest --send`) also retries messages a server refused;
    `now` stamps the delivery records (default: the clock)."""
    run = build_digests(engine, settings, digest_date, unit=unit)
    if not send or run.skipped:
        return run
    outgoing = [o for dg in run.digests for o in dg.outgoing()]
    run.delivery = deliver(engine, settings, digest_date, outgoing, explicit=explicit, retry_unknown=retry_unknown,
                           backoff=backoff, now=(lambda: now) if now else None)
    if unit is None and not run.delivery.failed:
        _mark_done(engine, digest_date)
    d = run.delivery
    log.info("digest %s: %d sent, %d failed, %d refused, %d already done, %d unit(s) with nothing to report",
             digest_date, len(d.sent), len(d.failed), len(d.refused), len(d.skipped), len(run.quiet))
    return run
