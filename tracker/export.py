"""Exports that leave the product: the product's own dossier CSV and rejected rows to fix.

Both are CSV in UTF-8 with a BOM (Excel opens them with the right letters). Text a spreadsheet
would run as a formula (first character = + - @, tab or carriage return) is written with a
leading apostrophe; `tthc import` removes that apostrophe again from text fields, so a dossier
export reads back unchanged.

The dossier export ("tthc-csv") carries every stored source field; its columns are documented in
README.md ("The product's own CSV format"). The derived columns after `limit_text`
(computed due, due used, result class) are for reading; imports ignore them and recompute.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import IO, Any

from sqlalchemy import Engine, select

from tracker.models import Dossier, ImportRun, Procedure, RejectedRow, Supplement, Unit
from tracker.portal766 import SupplementPair, pairs_json
from tracker.rules import TimeLimit

DOSSIER_COLUMNS = (
    "code", "unit_code", "unit_name", "procedure_code", "procedure_name", "field_code", "field_name",
    "channel", "status", "submitted_at", "received_at", "due_at", "supplement_requested_at",
    "resubmitted_at", "apology_at", "rescheduled_due_at", "finished_at", "returned_at",
    "first_seen_finished_at", "limit_text", "applicant_name", "applicant_phone",
    "supplements",  # every supplement pair, a JSON list (tracker.ingest.supplements)
    # derived, for reading only
    "computed_due_at", "due_used_at", "result_class",
)
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: Any) -> Any:
    """Neutralise text a spreadsheet would run as a formula."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return safe_cell(value)


def write_dossiers(engine: Engine, out: IO[str], *, unit_code: str | None = None) -> int:
    """Stream every dossier (or one unit's) as the product's own CSV. Returns rows written."""
    q = (select(Dossier, Unit.code.label("unit_code"), Unit.name.label("unit_name"),
                Procedure.code.label("procedure_code"), Procedure.name.label("procedure_name"),
                Procedure.field_code, Procedure.field_name)
         .join(Unit, Unit.id == Dossier.unit_id)
         .outerjoin(Procedure, Procedure.id == Dossier.procedure_id)
         .order_by(Dossier.id))
    if unit_code:
        q = q.where(Unit.code == unit_code)
    w = csv.writer(out)
    w.writerow(DOSSIER_COLUMNS)
    n = 0
    with engine.connect() as conn, engine.connect() as side:
        pairs = _pairs_by_dossier(side, unit_code)
        pending = next(pairs, None)
        for r in conn.execute(q.execution_options(yield_per=5000)).mappings():
            row = dict(r)
            if r["limit_value"] is not None and r["limit_unit"]:
                row["limit_text"] = TimeLimit(r["limit_value"], r["limit_unit"]).describe("vi")
            while pending is not None and pending[0] < r["id"]:
                pending = next(pairs, None)
            if pending is not None and pending[0] == r["id"]:
                row["supplements"] = pairs_json(pending[1])
            w.writerow([_cell(row.get(c)) for c in DOSSIER_COLUMNS])
            n += 1
    return n


def _pairs_by_dossier(conn, unit_code: str | None):  # noqa: ANN001, ANN202
    """(dossier id, its pairs) in dossier id order: walked beside the dossiers, one query for all."""
    s = Supplement.__table__.c
    q = select(s.dossier_id, s.requested_at, s.resubmitted_at, s.previous_due_at, s.new_due_at)
    if unit_code:
        q = q.join(Dossier, Dossier.id == s.dossier_id).join(Unit, Unit.id == Dossier.unit_id).where(
            Unit.code == unit_code)
    q = q.order_by(s.dossier_id, s.seq).execution_options(yield_per=5000)
    current, found = None, []
    for r in conn.execute(q):
        if r.dossier_id != current:
            if found:
                yield current, tuple(found)
            current, found = r.dossier_id, []
        found.append(SupplementPair(r.requested_at, r.resubmitted_at, r.previous_due_at, r.new_due_at))
    if found:
        yield current, tuple(found)


def export_dossiers(engine: Engine, path: str | Path, *, unit_code: str | None = None) -> int:
    with Path(path).open("w", encoding="utf-8-sig", newline="") as fh:
        return write_dossiers(engine, fh, unit_code=unit_code)


class UnknownRun(LookupError):
    pass


def rejected_rows(engine: Engine, run_id: int) -> tuple[list[str], list[list[Any]]]:
    """(header, rows) of a run's rejected rows as the file had them, with line and reason first."""
    with engine.connect() as conn:
        if conn.execute(select(ImportRun.id).where(ImportRun.id == run_id)).scalar_one_or_none() is None:
            raise UnknownRun(f"import run {run_id}: not found")
        rejected = conn.execute(select(RejectedRow.line, RejectedRow.column, RejectedRow.reason, RejectedRow.raw)
                                .where(RejectedRow.run_id == run_id).order_by(RejectedRow.line)).all()
    raws = [json.loads(r.raw) if r.raw else {} for r in rejected]
    labels: list[str] = []
    for raw in raws:
        labels += [k for k in raw if k not in labels]
    header = ["Dòng (line)", "Cột lỗi (column)", "Lý do (reason)", *labels]
    rows = [[r.line, r.column, r.reason, *(raw.get(k, "") for k in labels)] for r, raw in zip(rejected, raws,
                                                                                              strict=True)]
    return header, rows


def export_rejected(engine: Engine, run_id: int, path: str | Path) -> int:
    """The rejected rows of a run, for an officer to fix and import again. Returns rows written.

    The first three columns (line, column, reason) are not dossier fields: imports ignore them."""
    header, rows = rejected_rows(engine, run_id)
    with Path(path).open("w", encoding="utf-8-sig", newline="") as fh:
        _write(fh, header, rows)
    return len(rows)


def _write(fh: IO[str], header: list[str], rows: Iterable[list[Any]]) -> None:
    w = csv.writer(fh)
    w.writerow(header)
    for row in rows:
        w.writerow([_cell(v) for v in row])
