"""Stuck dossiers (hồ sơ đứng yên): no status change for too long, on the working calendar.

Each status an office should move on has its own limit (settings `stuck.*`):
- 1 mới đăng ký (online registration) not accepted within `registered_hours` working hours;
- 2 được tiếp nhận not moved on within `received_hours`;
- 4 đang xử lý with no status change within `processing_hours`;
- 5 chờ bổ sung with no resubmission within `supplement_days` working days.
A dossier is stuck at T when the working time from the moment it entered its status to T is at
least the limit. That moment ("since") is computed by each refresh (tracker.outlook) from the
dossier's own dates and the status history the imports keep, and stored with the status it is
about: a dossier whose status changed since is not stuck until the next refresh looks again.

"No change" means something only while the dossier's source is still imported: a source whose
last import is older than its freshness limit (`check.import_max_age_hours`, or the source's own
`max_age_hours`) is named as stale, and its dossiers are left out of the stuck list.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, and_, func, or_, select

from tracker.calendar import WorkCalendar
from tracker.ingest.sources import source_specs
from tracker.models import ImportRun

STUCK_STATUSES = (1, 2, 4, 5)
OPEN_STATUSES = (1, 2, 4, 5, 6)  # statuses a stored "since" is kept for


def limits_seconds(settings: Any, cal: WorkCalendar) -> dict[int, int]:
    """Working seconds after which a dossier in each status is stuck."""
    return {1: round(settings.get("stuck.registered_hours") * 3600),
            2: round(settings.get("stuck.received_hours") * 3600),
            4: round(settings.get("stuck.processing_hours") * 3600),
            5: settings.get("stuck.supplement_days") * cal.day_seconds}


def stuck_cut(cal: WorkCalendar, t: datetime, seconds: int) -> datetime:
    """The latest moment m with working_seconds_between(m, t) >= seconds: entered a status at or
    before m, a dossier has been in it for at least `seconds` of working time at t (to the second)."""
    cal.is_working_day(t.date() - timedelta(days=2 * seconds // cal.day_seconds + 30))  # its years in one build
    return cal.latest_within(t, -seconds)


def is_stuck(cal: WorkCalendar, status: int, since: datetime | None, t: datetime, limits: Mapping[int, int]) -> bool:
    """The rule itself, for one dossier (the lists use the equivalent stuck_cut in SQL)."""
    if status not in limits or since is None:
        return False
    return cal.working_seconds_between(since, t) >= limits[status]


def status_since(status: int, row: Mapping[str, Any], entered: datetime | None,
                 first_seen: datetime | None) -> datetime | None:
    """Since when a dossier has stood in `status`.

    `entered`: when an import saw it change into this status (None if never seen changing);
    `first_seen`: when an import first saw the dossier. The dossier's own dates win where they say
    it exactly (submitted, received, supplement requested); an import's moment is only as precise
    as the import schedule, and later than the truth."""
    received = row.get("received_at")
    if status == 1:
        return row.get("submitted_at") or entered or first_seen or received
    if status == 2:
        return received or entered or first_seen
    if status == 5:
        return row.get("supplement_requested_at") or entered or first_seen or received
    if entered is not None or first_seen is not None:
        # seen changing into it, or else first seen in it: a first import of history cannot know
        # when a dossier in progress last moved, and invents no stuck dossier
        return entered or first_seen
    starts = [m for m in (received, row.get("resubmitted_at")) if m is not None]
    return max(starts) if starts else None


# ----- sources and their freshness ---------------------------------------------------------------


@dataclass(frozen=True)
class StaleSource:
    source: str
    last: datetime | None  # last finished import (None: never)
    max_age_hours: float


def _max_age(settings: Any, name: str) -> float:
    for spec in source_specs(settings):
        if spec.name == name:
            own = getattr(spec, "max_age_hours", None)  # a source's own freshness limit, where declared
            if own:
                return float(own)
    return float(settings.get("check.import_max_age_hours"))


def stale_sources(engine: Engine, settings: Any, t: datetime) -> list[StaleSource]:
    """Sources whose last good import is older than their freshness limit at t."""
    with engine.connect() as conn:
        latest = dict(conn.execute(select(ImportRun.source, func.max(ImportRun.finished_at))
                                   .where(ImportRun.status.in_(["done", "partial"]))
                                   .group_by(ImportRun.source)).all())
    names = set(latest) | {spec.name for spec in source_specs(settings)}
    out = []
    for name in sorted(names):
        limit = _max_age(settings, name)
        last = latest.get(name)
        if last is None or t - last > timedelta(hours=limit):
            out.append(StaleSource(name, last, limit))
    return out


def stuck_condition(settings: Any, cal: WorkCalendar, t: datetime, stale: list[StaleSource]):  # noqa: ANN201
    """SQL: the dossier (joined with its dossier_outlook row as table `dossier_outlook`) is stuck at t,
    and its source is fresh."""
    from tracker.models import Dossier, DossierOutlook

    d = Dossier.__table__.c
    o = DossierOutlook.__table__.c
    per_status = [and_(d.status == s, o.status_since <= stuck_cut(cal, t, secs))
                  for s, secs in limits_seconds(settings, cal).items()]
    cond = [o.status == d.status, d.finish_at.is_(None), or_(*per_status)]
    if stale:
        runs = select(ImportRun.id).where(ImportRun.source.in_([s.source for s in stale]))
        cond.append(or_(d.import_run_id.is_(None), d.import_run_id.not_in(runs)))
    return and_(*cond)


def since_text(status: int, since: datetime, t: datetime, cal: WorkCalendar) -> str:
    """'từ 01/12/2026 08:00, 18 giờ làm việc' (Vietnamese, for the digest)."""
    hours = cal.working_hours_between(since, t)
    if hours >= cal.day_hours:
        span = f"{hours / cal.day_hours:.1f}".replace(".", ",") + " ngày làm việc"
    else:
        span = f"{hours:.1f}".replace(".", ",") + " giờ làm việc"
    return f"từ {since:%d/%m/%Y %H:%M}, {span}"


@dataclass
class StuckList:
    rows: list[dict]  # code, unit_id, status, since, procedure_name
    stale: list[StaleSource]


def stuck_dossiers(engine: Engine, settings: Any, t: datetime, unit_ids: list[int] | None = None) -> StuckList:
    """The dossiers stuck at t (of `unit_ids`, or all), longest first, and the stale sources left out."""
    from tracker.models import Dossier, DossierOutlook, Procedure

    cal = settings.work_calendar()
    stale = stale_sources(engine, settings, t)
    d = Dossier.__table__.c
    o = DossierOutlook.__table__.c
    p = Procedure.__table__.c
    q = (select(d.id, d.code, d.unit_id, d.status, d.due_used_at, o.status_since.label("since"),
                p.name.label("procedure_name"))
         .select_from(Dossier.__table__.join(DossierOutlook.__table__, o.dossier_id == d.id)
                      .outerjoin(Procedure.__table__, p.id == d.procedure_id))
         .where(stuck_condition(settings, cal, t, stale)).order_by(o.status_since, d.code))
    if unit_ids is not None:
        q = q.where(d.unit_id.in_(unit_ids or [-1]))
    with engine.connect() as conn:
        rows = [dict(r) for r in conn.execute(q).mappings()]
    return StuckList(rows, stale)
