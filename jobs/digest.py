"""The morning digests (báo cáo sáng): each unit's late and coming work, and a summary for CCHC.

A digest is about one moment T, the digest time (`digest.time`, 07:30) of the digest date, and
only working days have one. Its content depends on T and the data, never on when it is sent, so a
re-run after a crash renders the same emails and sends only the missing ones (see jobs.delivery).

To each unit's recipients (`unit.digest_recipients`): the sections tracker.digest_sections lists
(overdue, due today and next, paused, finished late, likely late, stuck), the first LIST_LIMIT of
each with a link to the rest, and the month-to-date on-time rate, its change from last month's
and the unit's rank among the units of its level. A unit with nothing in those lists gets no
email unless digest.all_clear.

To `digest.cchc_recipients`: every unit ranked within its level, and the biggest movers since what
the summary showed a week before.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import quote

from sqlalchemy import Engine, select
from sqlalchemy.dialects import postgresql, sqlite

from jobs.delivery import DeliveryReport, Outgoing, Rendered, deliver, render_email
from tracker.calendar_days import warning_text as calendar_warning_text
from tracker.config import Settings
from tracker.derive import refresh_if_stale
from tracker.digest_sections import (
    Line,
    Rates,
    UnitLists,
    day_text,
    digest_moment,
    previous_working_day,
    rates,
    unit_lists,
)
from tracker.models import Meta, Unit
from tracker.reports import LEVEL_NAMES, LEVEL_ORDER, rate_text, vi_number

log = logging.getLogger("jobs.digest")

# The dashboard's pages (web/views.py) that digests link to.
DOSSIER_PAGE = "/dossier/{code}"
UNIT_PAGE = "/unit/{code}"
LIST_LIMIT = 10  # dossiers shown per list (a phone screen or two); the rest are counted and linked
LIST_PAGE = "/overdue?unit={code}&how_late={how}"  # "… và 12 hồ sơ khác": the dashboard's filtered list
MOVERS = 5  # risers and fallers shown in the CCHC summary
META_DONE = "digest_done"  # the last digest date fully delivered (the scheduler's catch-up reads it)
WEEKDAYS = ("Thứ Hai", "Thứ Ba", "Thứ Tư", "Thứ Năm", "Thứ Sáu", "Thứ Bảy", "Chủ Nhật")
_EMAIL = re.compile(r"[^@\s<>,;]+@[^@\s<>,;]+\.[^@\s<>,;]+")


class DigestError(ValueError):
    """A digest that cannot be made as asked (an unknown unit code)."""


# ----- small formatting helpers ----------------------------------------------------------------------


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


# ----- what a digest says ----------------------------------------------------------------------------


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
                  else f"Hoàn thành trễ hạn từ {day_text(prev_day)}")
    spec = (("overdue", "Quá hạn", lists.overdue),
            ("likely_late", "Có nguy cơ trễ (dự báo từ lịch sử hồ sơ)", lists.likely_late),
            ("due_today", f"Đến hạn hôm nay, {day_text(digest_date)}", lists.due_today),
            ("due_next", f"Đến hạn ngày làm việc tiếp theo, {WEEKDAYS[next_day.weekday()]} {day_text(next_day)}",
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
        "date": day_text(digest_date), "weekday": WEEKDAYS[digest_date.weekday()],
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
        "date": day_text(digest_date), "weekday": WEEKDAYS[digest_date.weekday()],
        "as_of": digest_moment(settings, digest_date).strftime("%H:%M %d/%m/%Y"),
        "month": f"{digest_date:%m/%Y}", "last_month_label": r.last_label, "week_date": day_text(r.week_date),
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
    base = settings.dashboard_url()
    lists = unit_lists(engine, settings, digest_date, [u["id"] for u in units],
                       link=lambda code: base + DOSSIER_PAGE.format(code=quote(code, safe="")))
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
