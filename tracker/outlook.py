"""The stored outlook of each open dossier (table dossier_outlook): predicted lateness
(tracker.predict) and since when it has stood in its status (tracker.stuck).

Recomputed whole by `tthc refresh` and the scheduler's refresh job, in one transaction, so
pages and digests read a consistent table and never compute it per request.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Engine, delete, func, insert, select

from tracker import data_version
from tracker.clock import now_local
from tracker.models import Dossier, DossierOutlook, StatusChange
from tracker.predict import LEVELS, load_records, months_back, predict
from tracker.stuck import OPEN_STATUSES, status_since

BATCH = 5000


def compute_outlook(engine: Engine, settings, now: datetime) -> list[dict]:  # noqa: ANN001
    """The outlook rows at `now`, one per open dossier (not stored)."""
    cal = settings.work_calendar()
    months = settings.get("predict.history_months")
    threshold = settings.get("predict.threshold")
    rec = load_records(engine, cal, settings.rule_settings().comparison,
                       finished_since=months_back(now, months))
    view = rec.at(now, live=True)
    pr = predict(rec, view, min_history=settings.get("predict.min_history"), months=months)
    by_id = {}
    for i, p, lv, n in zip(pr.targets, pr.probability, pr.level, pr.count, strict=True):
        if lv >= 0:
            by_id[int(rec.ids[i])] = (float(p), LEVELS[lv], int(n))

    d = Dossier.__table__.c
    sc = StatusChange.__table__.c
    with engine.connect() as conn:
        open_rows = conn.execute(
            select(d.id, d.status, d.submitted_at, d.received_at, d.resubmitted_at, d.supplement_requested_at)
            .where(d.finish_at.is_(None), d.status.in_(OPEN_STATUSES))).mappings().all()
        entered = {(i, s): m for i, s, m in conn.execute(
            select(sc.dossier_id, sc.status, func.max(sc.seen_at)).where(sc.previous_status.is_not(None))
            .group_by(sc.dossier_id, sc.status))}
        first = dict(conn.execute(select(sc.dossier_id, func.min(sc.seen_at)).group_by(sc.dossier_id)).all())
    out = []
    for r in open_rows:
        p, kind, n = by_id.get(r["id"], (None, "", 0))
        out.append({"dossier_id": r["id"], "probability": p, "likely_late": p is not None and p >= threshold,
                    "basis_kind": kind, "basis_count": n, "basis_months": months, "status": r["status"],
                    "status_since": status_since(r["status"], r, entered.get((r["id"], r["status"])),
                                                 first.get(r["id"])),
                    "computed_at": now})
    return out


def refresh_outlook(engine: Engine, settings, now: datetime | None = None) -> int:  # noqa: ANN001
    """Replace the stored outlook with the one at `now` (default: the clock). Returns rows stored."""
    now = now or now_local()
    rows = compute_outlook(engine, settings, now)
    table = DossierOutlook.__table__
    with engine.begin() as conn:
        conn.execute(delete(table))
        for i in range(0, len(rows), BATCH):
            conn.execute(insert(table), rows[i:i + BATCH])
        data_version.bump(conn)
    return len(rows)
