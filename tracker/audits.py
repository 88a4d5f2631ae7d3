"""Audits: the lists a CCHC officer works through, each one query returning rows (dicts).

- `beyond_limit`: appointments recorded beyond the legal time limit (RULES §4.7, "hẹn trả vượt thời
  hạn quy định"), per unit and procedure with the excess in working hours, or dossier by dossier;
- `no_apology`: late or overdue dossiers with no apology issued before their due moment (RULES §5,
  "quá hạn không xin lỗi"), counted exactly as the period report counts late and overdue;
- `no_due`: dossiers without a recorded appointment (due_at NULL, "thiếu ngày hẹn trả"), with the
  computed due the product uses instead, when there is one.

A period [start, end] filters on reception for beyond_limit and no_due; no_apology takes the
period report's scope at its moment T. Rows keep typed values (datetimes, floats); `write_csv`
writes them for a spreadsheet, text made safe by tracker.export.safe_cell.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from datetime import date, datetime, time
from pathlib import Path
from typing import IO, Any

from sqlalchemy import Engine, case, func, select

from tracker.config import Settings
from tracker.export import safe_cell
from tracker.files import open_private
from tracker.models import Dossier, Procedure, Unit
from tracker.reports import END_OF_DAY, Unindexed, conditions, evaluation_moment
from tracker.rules import NOT_RECEIVED_STATUSES

AUDITS = ("beyond-limit", "no-apology", "no-due")


def _received_between(start: date | None, end: date | None) -> list:
    d = Dossier.__table__.c
    received = Unindexed(d.received_at)  # a scan of the table: see _joined
    out = [d.status.not_in(sorted(NOT_RECEIVED_STATUSES)), received.is_not(None)]
    if start is not None:
        out.append(received >= datetime.combine(start, time(0)))
    if end is not None:
        out.append(received <= datetime.combine(end, END_OF_DAY))
    return out


def _names():  # noqa: ANN202
    return (Unit.code.label("unit_code"), Unit.name.label("unit_name"),
            func.coalesce(Procedure.code, "").label("procedure_code"),
            func.coalesce(Procedure.name, "").label("procedure_name"))


def _joined(q, rows=None):  # noqa: ANN001, ANN202
    """`q` from the dossiers (or `rows`, a subquery of them) with their unit's and procedure's names.

    On SQLite the dossiers are scanned, each joined to its unit by the unit's key: left to
    itself the planner walks the units in code order (the audits' order) and, through the
    (unit, received) index, looks every dossier of the period up one by one: five times slower
    for a year of 1,000,000 dossiers than a scan (2.5 s against 0.5 s for no_due in
    bench/report.py; a month can be 0.1 s slower). PostgreSQL plans from its statistics and is
    left alone."""
    d = Dossier.__table__ if rows is None else rows
    return q.select_from(d).join(Unit, Unit.id == Unindexed(d.c.unit_id)).outerjoin(
        Procedure, Procedure.id == d.c.procedure_id)


def beyond_limit(engine: Engine, start: date | None = None, end: date | None = None, *,
                 detail: bool = False) -> list[dict[str, Any]]:
    """Recorded appointments later than the legal due (due_excess_hours set by tracker.derive).

    Summary (default): one row per unit and procedure with dossiers received, how many were beyond
    the limit, and the largest and mean excess in working hours. `detail`: one row per dossier."""
    d = Dossier.__table__.c
    where = _received_between(start, end)
    if detail:
        q = _joined(select(d.code, *_names(), d.received_at, d.computed_due_at.label("legal_due_at"), d.due_at,
                           d.due_excess_hours.label("excess_hours"))
                    ).where(*where, d.due_excess_hours.is_not(None)).order_by(
            Unit.code, Procedure.code, d.due_excess_hours.desc(), d.code)
        with engine.connect() as conn:
            rows = [dict(r) for r in conn.execute(q).mappings()]
        for r in rows:
            r["excess_hours"] = round(r["excess_hours"], 2)
        return rows
    beyond = d.due_excess_hours.is_not(None)
    # counted by the dossiers' own keys first, named after: grouping a million rows by the names
    # of joined tables costs three times as much
    unit = Unindexed(d.unit_id)  # grouped by sorting, not by walking the (unit, received) index
    groups = select(
        unit.label("unit_id"), d.procedure_id, func.count().label("received"),
        func.sum(case((beyond, 1), else_=0)).label("beyond_limit"),
        func.max(d.due_excess_hours).label("max_excess_hours"),
        func.sum(d.due_excess_hours).label("sum_excess"),
    ).where(*where).group_by(unit, d.procedure_id).having(func.sum(case((beyond, 1), else_=0)) > 0).subquery()
    g = groups.c
    q = _joined(select(*_names(), g.received, g.beyond_limit, g.max_excess_hours, g.sum_excess), groups
                ).order_by(Unit.code, Procedure.code)
    out = []
    with engine.connect() as conn:
        for r in conn.execute(q).mappings():
            n = int(r["beyond_limit"])
            out.append({
                "unit_code": r["unit_code"], "unit_name": r["unit_name"], "procedure_code": r["procedure_code"],
                "procedure_name": r["procedure_name"], "received": int(r["received"]), "beyond_limit": n,
                "share_percent": round(100 * n / int(r["received"]), 1),
                "max_excess_hours": round(float(r["max_excess_hours"]), 2),
                "mean_excess_hours": round(float(r["sum_excess"]) / n, 2),
            })
    return out


def no_apology(engine: Engine, settings: Settings, as_of: datetime, start: date | None = None,
               end: date | None = None) -> list[dict[str, Any]]:
    """Late (finished) or overdue (unfinished) dossiers without an apology before their due moment.

    With a period: the late and overdue of its report, at its moment T. Without: every dossier
    received by `as_of` that finished late by then or is overdue then."""
    if (start is None) != (end is None):
        raise ValueError("give both ends of the period, or neither")
    t = evaluation_moment(start, end, as_of) if start is not None and end is not None else as_of
    cond = conditions(datetime.combine(start, time(0)) if start else None, t,
                      settings.rule_settings().comparison)
    d = Dossier.__table__.c
    cls = case((cond["late"], "late"), else_="overdue").label("class")
    q = _joined(select(d.code, *_names(), cls, d.received_at, d.due_used_at.label("due_at"), d.finish_at,
                       d.apology_at, d.rescheduled_due_at)
                ).where(cond["scope"], cond["late"] | cond["overdue"], d.apology_before_due.is_not(True)
                        ).order_by(Unit.code, d.due_used_at, d.code)
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(q).mappings()]


def no_due(engine: Engine, start: date | None = None, end: date | None = None) -> list[dict[str, Any]]:
    """Dossiers with no recorded appointment; `computed_due_at` is what classification uses in its
    place (empty: no time limit known either, the dossier is flagged no_due)."""
    d = Dossier.__table__.c
    q = _joined(select(d.code, *_names(), d.status, d.channel, d.received_at, d.computed_due_at, d.finish_at)
                ).where(*_received_between(start, end), d.due_at.is_(None)).order_by(Unit.code, d.received_at, d.code)
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(q).mappings()]


def run_audit(name: str, engine: Engine, settings: Settings, *, as_of: datetime, start: date | None = None,
              end: date | None = None, detail: bool = False) -> list[dict[str, Any]]:
    if name == "beyond-limit":
        return beyond_limit(engine, start, end, detail=detail)
    if name == "no-apology":
        return no_apology(engine, settings, as_of, start, end)
    if name == "no-due":
        return no_due(engine, start, end)
    raise ValueError(f"audit: '{name}' is not one of {', '.join(AUDITS)}")


# ----- output --------------------------------------------------------------------------------------


def cell(value: Any) -> Any:
    """A value as a spreadsheet cell: moments to the minute, text safe from formula injection."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, bool):
        return int(value)
    return safe_cell(value)


def write_csv(rows: Iterable[dict[str, Any]], out: IO[str], columns: Iterable[str] | None = None) -> int:
    """Rows as CSV; returns rows written. The header is `columns`, else the first row's keys."""
    rows = list(rows)
    cols = list(columns) if columns is not None else list(rows[0]) if rows else []
    w = csv.writer(out)
    if cols:
        w.writerow(cols)
    for r in rows:
        w.writerow([cell(r.get(c)) for c in cols])
    return len(rows)


def export_csv(rows: Iterable[dict[str, Any]], path: str | Path, columns: Iterable[str] | None = None) -> int:
    """write_csv to a file in UTF-8 with a BOM, as Excel opens Vietnamese text correctly."""
    with open_private(path, "w", encoding="utf-8-sig", newline="") as fh:
        return write_csv(rows, fh, columns)
