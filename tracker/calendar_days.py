"""The calendar's yearly upkeep: decreed days admins enter, and the warning when nobody has.

The Government decrees next year's day swaps each autumn. Admins enter them on the dashboard
(date, kind, the decree's reference): stored in `calendar_day`, logged in `admin_event`, applied
over the shipped table (tracker/data/decreed_days.toml) and the calendar settings. The calendar's
fingerprint includes them, so the dossiers they touch are recomputed (tracker.derive).

From 1 October, while next year has no decreed day (neither in the shipped table nor entered),
the overview (admin, CCHC), the CCHC digest and `tthc check` warn.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from sqlalchemy import Engine, delete, func, select
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from tracker.calendar import DECREED_TABLE, load_decreed_table
from tracker.config import Settings
from tracker.models import CalendarDay, Dossier
from tracker.users import record_event

KINDS = ("off", "work")
WARN_FROM = (10, 1)  # month, day: when next year's decisions are due
REFERENCE_MAX = 200
NOTE_MAX = 500


class CalendarDayError(ValueError):
    """A refused entry; `reason` names the rule (the web translates it), `value` the culprit."""

    def __init__(self, message: str, reason: str, value: str = "") -> None:
        super().__init__(message)
        self.reason, self.value = reason, value


def reason_of(kind: str, reference: str, note: str) -> str:
    """What the calendar page and due-date explanations say about an entered day."""
    what = note or ("Nghỉ theo quyết định" if kind == "off" else "Làm bù theo quyết định")
    return f"{what} ({reference})" if reference else what


def entered_days(engine: Engine) -> list[dict]:
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(select(CalendarDay).order_by(CalendarDay.day)).mappings()]


def load(engine: Engine) -> dict[date, tuple[str, str]]:
    """{date: (kind, reason)}: what WorkCalendar(db_days=…) takes."""
    return {r["day"]: (r["kind"], reason_of(r["kind"], r["reference"], r["note"])) for r in entered_days(engine)}


def attach(settings: Settings, engine: Engine) -> None:
    """Put the database's days into `settings` (its work_calendar() and fingerprint then include them).
    A database that cannot say (down, not migrated) leaves what was attached before."""
    with contextlib.suppress(SQLAlchemyError):
        settings.set_calendar_days(load(engine))


def add_day(engine: Engine, day: date, kind: str, reference: str, *, note: str = "", actor: str) -> None:
    reference, note = reference.strip(), note.strip()
    if kind not in KINDS:
        raise CalendarDayError(f"kind '{kind}': expected one of {', '.join(KINDS)}", "bad_kind", kind)
    if not reference:
        raise CalendarDayError("reference: the decree or notice is needed (e.g. 'Thông báo 123/TB-VPCP')",
                               "no_reference")
    if len(reference) > REFERENCE_MAX or len(note) > NOTE_MAX:
        raise CalendarDayError(f"reference at most {REFERENCE_MAX} characters, note at most {NOTE_MAX}", "too_long")
    if kind == "off" and day.weekday() >= 5:
        raise CalendarDayError(f"{day.isoformat()} is a {day:%A}: a day off is a weekday", "off_weekend",
                               day.isoformat())
    if kind == "work" and day.weekday() < 5:
        raise CalendarDayError(f"{day.isoformat()} is a {day:%A}: a make-up working day is a Saturday or Sunday",
                               "work_weekday", day.isoformat())
    try:
        with engine.begin() as conn:
            conn.execute(CalendarDay.__table__.insert().values(day=day, kind=kind, reference=reference, note=note,
                                                                created_by=actor))
            record_event(conn, actor, "calendar_day_added", day.isoformat(), {"kind": kind, "reference": reference})
    except IntegrityError:
        raise CalendarDayError(f"{day.isoformat()}: already entered; remove it first", "duplicate",
                               day.isoformat()) from None


def remove_day(engine: Engine, day: date, *, actor: str) -> bool:
    with engine.begin() as conn:
        row = conn.execute(select(CalendarDay.kind, CalendarDay.reference).where(CalendarDay.day == day)).first()
        if row is None:
            return False
        conn.execute(delete(CalendarDay).where(CalendarDay.day == day))
        record_event(conn, actor, "calendar_day_removed", day.isoformat(), {"kind": row.kind,
                                                                            "reference": row.reference})
    return True


def touched(day: date):  # noqa: ANN201
    """Dossiers whose derived values can depend on whether `day` is worked: received on or before it,
    due (computed or recorded) on or after it. The due date and the audit's excess are counted between
    reception and due; nothing else stored depends on the calendar."""
    from sqlalchemy import and_, func, or_

    d = Dossier.__table__.c
    start, end = datetime.combine(day, time.min), datetime.combine(day + timedelta(days=1), time.min)
    # never NULL (NOT NULL would match nothing in the caller): a missing due falls back on the reception
    return and_(d.received_at.is_not(None), d.received_at < end,
                or_(func.coalesce(d.computed_due_at, d.received_at) >= start,
                    func.coalesce(d.due_at, d.received_at) >= start))


def recompute(engine: Engine, settings: Settings, changed: Iterable[date] = ()) -> tuple[int, int]:
    """After days changed: attach them, then recompute the dossiers they touch; the others derived
    with the previous calendar only get the new fingerprint. (rows recomputed, rows whose due or result
    class moved). Without `changed`, every row derived with other settings is recomputed.

    `settings` must still hold the calendar from before the change (its fingerprint is the old one)."""
    from sqlalchemy import not_, or_, update

    from tracker.derive import refresh_derived

    old = settings.fingerprint()
    attach(settings, engine)
    new = settings.fingerprint()
    changed = list(changed)
    if changed and new != old:
        d = Dossier.__table__.c
        with engine.begin() as conn:  # one statement: the untouched rows are as they would be recomputed
            conn.execute(update(Dossier.__table__).where(d.derived_fp == old, not_(or_(*map(touched, changed))))
                         .values(derived_fp=new))
    stats: dict[str, int] = {}
    n = refresh_derived(engine, settings.work_calendar(), settings.rule_settings(), new, stats=stats)
    return n, stats.get("moved", 0)


# ----- is next year's calendar there? ------------------------------------------------------------


_TABLE_CACHE: dict[float, dict[int, int]] = {}


def _table_years() -> dict[int, int]:
    """Entries per year in the shipped table (read once per version of the file)."""
    stamp = DECREED_TABLE.stat().st_mtime
    if stamp not in _TABLE_CACHE:
        off, work = load_decreed_table()
        years: dict[int, int] = {}
        for d in [*off, *work]:
            years[d.year] = years.get(d.year, 0) + 1
        _TABLE_CACHE.clear()
        _TABLE_CACHE[stamp] = years
    return _TABLE_CACHE[stamp]


@dataclass(frozen=True)
class Coverage:
    year: int  # the year looked at: next year
    shipped: int  # its days in the shipped table (0 when the table is turned off)
    entered: int  # its days entered in the database
    warn: bool  # from 1 October with nothing confirmed

    @property
    def confirmed(self) -> int:
        return self.shipped + self.entered

    def describe(self) -> str:
        if self.confirmed:
            return (f"{self.year}: {self.confirmed} decreed day(s) confirmed ({self.shipped} shipped, "
                    f"{self.entered} entered)")
        if self.warn:
            return (f"{self.year}: no decreed days confirmed yet: enter the decreed days off and make-up working "
                    f"days (admin → calendar) when they are announced")
        return f"{self.year}: no decreed days yet (expected from {WARN_FROM[1]}/{WARN_FROM[0]})"


def coverage(engine: Engine, settings: Settings, today: date, days: Mapping[date, object] | None = None) -> Coverage:
    year = today.year + 1
    shipped = _table_years().get(year, 0) if settings.get("calendar.decreed_table") else 0
    if days is None:
        with engine.connect() as conn:
            entered = conn.execute(select(func.count()).select_from(CalendarDay).where(
                CalendarDay.day >= date(year, 1, 1), CalendarDay.day <= date(year, 12, 31))).scalar_one()
    else:
        entered = sum(1 for d in days if d.year == year)
    warn = today >= date(today.year, *WARN_FROM) and shipped + entered == 0
    return Coverage(year, shipped, entered, warn)


def warning_text(engine: Engine, settings: Settings, today: date) -> str | None:
    """The CCHC digest's line (Vietnamese, as the e-mails are), or None when nothing to say."""
    c = coverage(engine, settings, today)
    if not c.warn:
        return None
    return (f"Lịch làm việc năm {c.year} chưa có ngày nghỉ, ngày làm bù theo quyết định: hạn xử lý hồ sơ năm "
            f"{c.year} có thể sai. Quản trị viên cần nhập các ngày này (Quản trị → Lịch) khi có thông báo.")
