"""Derived columns of a dossier, and their refresh when calendar or rule settings change.

Stored so that lists and reports filter in SQL; computed here with the same functions that
`tracker.rules.classify` uses, so the stored values and a live classification never disagree.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, bindparam, func, select, update

from tracker import data_version
from tracker.calendar import WorkCalendar
from tracker.config import Settings
from tracker.limits import ProcedureLimits
from tracker.models import Dossier, Meta
from tracker.portal766 import DERIVED_COLUMNS as PORTAL_COLUMNS
from tracker.portal766 import derived_columns as portal_derived
from tracker.rules import (
    GUESSED_FINISH,
    DossierFacts,
    RuleSettings,
    TimeLimit,
    audit_excess,
    computed_due_of,
    finish_moment,
    finished_class,
)

DERIVED_COLUMNS = ("computed_due_at", "due_used_at", "finish_at", "result_class", "due_excess_hours",
                   "apology_before_due", "no_finished_at", "derived_fp")
DERIVED_COLUMNS += PORTAL_COLUMNS  # the portal's 766 method (tracker.portal766)
META_FP = "derived_fp"
_MOVES = ("computed_due_at", "due_used_at", "result_class")  # what "moved" means to refresh_derived's stats


def limit_of(row: Mapping[str, Any], procedure_limit: TimeLimit | None) -> TimeLimit | None:
    """The row's own time limit when the export carried one, else its procedure's."""
    if row.get("limit_value") is not None and row.get("limit_unit"):
        return TimeLimit(float(row["limit_value"]), row["limit_unit"])
    return procedure_limit


def facts_of(row: Mapping[str, Any], limit: TimeLimit | None = None) -> DossierFacts:
    """DossierFacts from a dossier row (a mapping of column -> value)."""
    return DossierFacts(
        code=row["code"], status=row["status"], received_at=row.get("received_at"),
        due_at=row.get("due_at"), limit=limit, computed_due_at=row.get("computed_due_at"),
        resubmitted_at=row.get("resubmitted_at"), rescheduled_due_at=row.get("rescheduled_due_at"),
        apology_at=row.get("apology_at"), finished_at=row.get("finished_at"),
        returned_at=row.get("returned_at"), first_seen_finished_at=row.get("first_seen_finished_at"),
        channel=row.get("channel"),
    )


def derive(row: Mapping[str, Any], limit: TimeLimit | None, cal: WorkCalendar, rules: RuleSettings,
           fp: str) -> dict[str, Any]:
    """The derived columns of one dossier row (what a stored computed due says is ignored)."""
    get = row.get  # facts_of(row without computed_due_at): spelled out, this runs for every imported row
    f = DossierFacts(
        code=row["code"], status=row["status"], received_at=get("received_at"), due_at=get("due_at"), limit=limit,
        computed_due_at=None, resubmitted_at=get("resubmitted_at"), rescheduled_due_at=get("rescheduled_due_at"),
        apology_at=get("apology_at"), finished_at=get("finished_at"), returned_at=get("returned_at"),
        first_seen_finished_at=get("first_seen_finished_at"), channel=get("channel"))
    computed = computed_due_of(f, cal, rules) if f.received_at is not None else None
    due = f.due_at or computed
    moment, source = finish_moment(f)
    return {
        "computed_due_at": computed,
        "due_used_at": due,
        "finish_at": moment,
        "result_class": finished_class(f.status, moment, due, rules, source) if moment else None,
        "due_excess_hours": audit_excess(f, computed, cal, rules),
        "apology_before_due": bool(f.apology_at and due and f.apology_at < due),
        "no_finished_at": source in GUESSED_FINISH,
        "derived_fp": fp,
        **portal_derived(row, limit, cal, rules),
    }


def procedure_limits(conn) -> ProcedureLimits:  # noqa: ANN001
    """Every procedure's limit versions: `.at(procedure_id, received_at)` is a dossier's."""
    return ProcedureLimits.load(conn)


def refresh_derived(engine: Engine, cal: WorkCalendar, rules: RuleSettings, fp: str, *,
                    batch: int = 5000, all_rows: bool = False, stats: dict[str, int] | None = None) -> int:
    """Recompute derived columns of the rows derived with other settings. Returns rows changed.

    `stats`, when given, gets "moved": the rows whose due or result class changed (what the admin
    calendar page reports). Each batch commits on its own: a refresh killed half-way resumes where it stopped."""
    table = Dossier.__table__
    source_cols = [c for c in table.c if c.name not in DERIVED_COLUMNS]
    if stats is not None:
        stats.setdefault("moved", 0)
        source_cols += [table.c[c].label(f"_old_{c}") for c in _MOVES]
    stmt = (update(table).where(table.c.id == bindparam("_id"))
            .values({c: bindparam(c) for c in DERIVED_COLUMNS}))
    done = 0
    last_id = 0
    with engine.connect() as conn:
        limits = procedure_limits(conn)
    while True:
        with engine.begin() as conn:
            q = select(*source_cols).where(table.c.id > last_id).order_by(table.c.id).limit(batch)
            if not all_rows:
                q = q.where(table.c.derived_fp != fp)
            rows = conn.execute(q).mappings().all()
            if not rows:
                break
            params = []
            for r in rows:
                d = derive(r, limit_of(r, limits.at(r["procedure_id"], r["received_at"])), cal, rules, fp)
                params.append({"_id": r["id"], **d})
                if stats is not None and any(r[f"_old_{c}"] != d[c] for c in _MOVES):
                    stats["moved"] += 1
            conn.execute(stmt, params)
            data_version.bump(conn)
            done += len(rows)
            last_id = rows[-1]["id"]
    set_meta(engine, META_FP, fp)
    return done


def refresh_if_stale(engine: Engine, settings: Settings, *, announce: Callable[[int], None] | None = None) -> int:
    """Recompute the stored derived values that the calendar or rule settings, or a time-limit version,
    made stale: what reports, lists and digests read must match the settings first. `announce(n)` is
    told how many rows are stale before they are recomputed. Returns rows recomputed (0: none stale)."""
    fp = settings.fingerprint()
    stale = stale_count(engine, fp)
    if not stale:
        return 0
    if announce is not None:
        announce(stale)
    return refresh_derived(engine, settings.work_calendar(), settings.rule_settings(), fp)


def stale_count(engine: Engine, fp: str) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(Dossier).where(Dossier.derived_fp != fp)
                            ).scalar_one()


def get_meta(engine: Engine, key: str) -> str | None:
    with engine.connect() as conn:
        return conn.execute(select(Meta.value).where(Meta.key == key)).scalar_one_or_none()


def set_meta(engine: Engine, key: str, value: str) -> None:
    """Upsert one fact. An INSERT … ON CONFLICT, so two processes writing the same key at once
    cannot collide (an update-then-insert could: found by the concurrent digest test)."""
    from sqlalchemy.dialects.postgresql import insert as pg_insert
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    insert = pg_insert if engine.dialect.name == "postgresql" else sqlite_insert
    stmt = insert(Meta.__table__).values(key=key, value=value)
    stmt = stmt.on_conflict_do_update(index_elements=["key"], set_={"value": stmt.excluded.value})
    with engine.begin() as conn:
        conn.execute(stmt)


def classify_row(row: Mapping[str, Any], as_of: datetime, cal: WorkCalendar, rules: RuleSettings,  # noqa: ANN201
                 limits: ProcedureLimits):
    """(Classification, limit) of a dossier row, held to its own limit or to its procedure's
    version in force on its receipt date (`limits`: procedure_limits, loaded once per listing)."""
    from tracker.rules import classify

    limit = limit_of(row, limits.at(row["procedure_id"], row["received_at"]))
    return classify(facts_of(row, limit), as_of, cal, rules), limit


def limit_used(row: Mapping[str, Any], limits: ProcedureLimits, lang: str = "vi") -> str | None:
    """Which limit a dossier is held to, said for a person: "10 ngày làm việc, áp dụng từ
    01/11/2026" (its procedure's version), or the dossier's own, or None when it has none."""
    own = limit_of(row, None)
    if own is not None:
        return own.describe(lang) + (" (ghi trên hồ sơ)" if lang == "vi" else " (recorded on the dossier)")
    version = limits.version_at(row["procedure_id"], row["received_at"])
    return version.describe(lang) if version else None
