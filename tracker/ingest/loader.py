"""Importing dossier exports: validate every row, upsert in batches, account for every row.

For each run: rows read = inserted + updated + unchanged + rejected. Each batch is one
transaction that also moves the run's counters, so a process killed mid-file leaves a consistent
database, and running the same file again completes the job (rows already stored are unchanged).
"""

from __future__ import annotations

import hashlib
import json
import re
import time as clock
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from tracker.calendar import WorkCalendar
from tracker.config import Settings
from tracker.derive import derive, now_local
from tracker.ingest.columns import DATE_FIELDS, ColumnMap
from tracker.ingest.readers import FileRejected, read_csv
from tracker.ingest.text import name_key
from tracker.ingest.values import ValueProblem, parse_channel, parse_datetime, parse_status
from tracker.models import (
    CODE_MAX,
    NAME_MAX,
    PHONE_MAX,
    Dossier,
    ImportRun,
    Procedure,
    RejectedRow,
    StatusChange,
    Unit,
)
from tracker.rules import (
    ENDED_STATUSES,
    NOT_RECEIVED_STATUSES,
    LimitError,
    RuleSettings,
    TimeLimit,
    parse_limit,
)

BATCH_SIZE = 2000
_DATE_ONLY = re.compile(r"^\s*(\d{1,2}[/.-]\d{1,2}[/.-]\d{4}|\d{4}-\d{2}-\d{2}|\d{8})\s*$")
# fields whose value is a promised day: a date with no time means the end of that day's office hours
_DAY_FIELDS = ("due_at", "rescheduled_due_at")
_CAPS = {"code": CODE_MAX, "procedure_code": CODE_MAX, "unit_code": CODE_MAX, "field_code": CODE_MAX,
         "procedure_name": NAME_MAX, "unit_name": NAME_MAX, "field_name": NAME_MAX,
         "applicant_name": NAME_MAX, "applicant_phone": PHONE_MAX, "limit_text": 200}
_SOURCE_FIELDS = ("code", "unit_id", "procedure_id", "channel", "status", *DATE_FIELDS,
                  "limit_value", "limit_unit", "applicant_name", "applicant_phone")


@dataclass
class Rejection:
    line: int
    column: str
    value: str
    reason: str
    raw: dict[str, str] = field(default_factory=dict)

    def __str__(self) -> str:
        col = f", column '{self.column}'" if self.column else ""
        return f"line {self.line}{col}: {self.reason}"


@dataclass
class ImportResult:
    file: str
    sha256: str = ""
    run_id: int | None = None
    status: str = "done"  # done | partial | failed | dry-run
    rows_read: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    message: str = ""
    new_units: list[str] = field(default_factory=list)
    new_procedures: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    rejections: list[Rejection] = field(default_factory=list)  # the first ones, for the summary
    seconds: float = 0.0

    @property
    def exit_code(self) -> int:
        """0 every row in; 3 some rows rejected; 1 the file was rejected."""
        if self.status == "failed":
            return 1
        return 3 if self.rejected else 0

    @property
    def balanced(self) -> bool:
        return self.rows_read == self.inserted + self.updated + self.unchanged + self.rejected


class _Catalogue:
    """Units and procedures by code and by name, creating the ones seen for the first time."""

    def __init__(self, engine: Engine, dry_run: bool) -> None:
        self.engine, self.dry_run = engine, dry_run
        with engine.connect() as conn:
            units = conn.execute(select(Unit.id, Unit.code, Unit.name_key)).all()
            procs = conn.execute(select(Procedure.id, Procedure.code, Procedure.name_key,
                                        Procedure.limit_value, Procedure.limit_unit)).all()
        self.unit_by_code = {c: i for i, c, _ in units}
        self.unit_by_name = {k: i for i, _, k in units}
        self.proc_by_code = {c: i for i, c, *_ in procs}
        self.proc_by_name = {k: i for i, _, k, *_ in procs}
        self.proc_limit = {i: TimeLimit(v, u) if v is not None and u else None for i, _, _, v, u in procs}
        self.new_units: list[str] = []
        self.new_procedures: list[str] = []
        self._fake = 0

    def _insert(self, conn, model, values: dict) -> int:  # noqa: ANN001
        if self.dry_run:
            self._fake -= 1
            return self._fake
        return conn.execute(model.__table__.insert().values(**values)).inserted_primary_key[0]

    def unit(self, conn, rec: dict) -> int:  # noqa: ANN001
        code, name = rec.get("unit_code", ""), rec.get("unit_name", "")
        if code and code in self.unit_by_code:
            return self.unit_by_code[code]
        key = name_key(name)
        if not code and key in self.unit_by_name:
            return self.unit_by_name[key]
        code = code or "AUTO." + hashlib.sha1(key.encode()).hexdigest()[:10].upper()
        uid = self._insert(conn, Unit, {"code": code, "name": name or code, "name_key": key or code.lower(),
                                        "level": "", "digest_recipients": "", "created_at": now_local()})
        self.unit_by_code[code] = uid
        self.unit_by_name.setdefault(key, uid)
        self.new_units.append(f"{code} {name}".strip())
        return uid

    def procedure(self, conn, rec: dict, limit: TimeLimit | None) -> int | None:  # noqa: ANN001
        code, name = rec.get("procedure_code", ""), rec.get("procedure_name", "")
        if not code and not name:
            return None
        key = name_key(name)
        pid = self.proc_by_code.get(code) if code else self.proc_by_name.get(key)
        if pid is None:
            code = code or "AUTO." + hashlib.sha1(key.encode()).hexdigest()[:10].upper()
            pid = self._insert(conn, Procedure, {
                "code": code, "name": name or code, "name_key": key or code.lower(),
                "field_code": rec.get("field_code", ""), "field_name": rec.get("field_name", ""),
                "limit_value": limit.value if limit else None, "limit_unit": limit.unit if limit else None,
                "limit_text": rec.get("limit_text", "")})
            self.proc_by_code[code] = pid
            self.proc_by_name.setdefault(key, pid)
            self.proc_limit[pid] = limit
            self.new_procedures.append(f"{code} {name}".strip())
        elif limit is not None and self.proc_limit.get(pid) is None:
            # the export's per-row limit fills a catalogue entry that has none
            if not self.dry_run:
                conn.execute(update(Procedure).where(Procedure.id == pid).values(
                    limit_value=limit.value, limit_unit=limit.unit, limit_text=rec.get("limit_text", "")))
            self.proc_limit[pid] = limit
        return pid


def parse_row(line: int, cells: list[str], cmap: ColumnMap, cal: WorkCalendar
              ) -> tuple[dict[str, Any] | None, Rejection | None]:
    """One data row to a record of canonical fields, or the reason it is rejected."""
    raw = {cmap.labels[i]: (cells[i] if i < len(cells) else "") for i in range(len(cmap.labels))
           if cmap.labels[i]}
    text = {f: (cells[i] if i < len(cells) else "") for f, i in cmap.fields.items()}

    def reject(f: str, reason: str) -> tuple[None, Rejection]:
        label = cmap.label(f) if f in cmap.fields else f
        return None, Rejection(line, label, text.get(f, ""), reason, raw)

    if not text.get("code"):
        return reject("code", "missing dossier code (mã hồ sơ)")
    for f, cap in _CAPS.items():
        if len(text.get(f, "")) > cap:
            return reject(f, f"longer than {cap} characters")
    rec: dict[str, Any] = {f: text.get(f, "") for f in _CAPS}
    try:
        rec["status"] = parse_status(text["status"])
    except ValueProblem as exc:
        return reject("status", str(exc))
    try:
        rec["channel"] = parse_channel(text.get("channel", ""))
    except ValueProblem as exc:
        return reject("channel", str(exc))
    for f in DATE_FIELDS:
        value = text.get(f, "")
        try:
            moment = parse_datetime(value)
        except ValueProblem as exc:
            return reject(f, str(exc))
        if moment is not None and f in _DAY_FIELDS and _DATE_ONLY.match(value):
            moment = cal.day_end(moment.date())
        rec[f] = moment
    received = rec["received_at"]
    if received is None and rec["status"] not in NOT_RECEIVED_STATUSES:
        return reject("received_at", "missing reception date (ngày tiếp nhận)")
    if received is not None:
        for f, what in (("due_at", "appointment"), ("finished_at", "finish"), ("returned_at", "return")):
            if rec[f] is not None and rec[f] < received:
                if f == "due_at" and rec[f].date() == received.date():
                    continue  # a same-day appointment written as a bare date
                return reject(f, f"{what} {rec[f]:%d/%m/%Y %H:%M} is before the reception "
                                 f"{received:%d/%m/%Y %H:%M}")
    rec["limit"] = None
    rec["_line"], rec["_raw"] = line, raw
    if text.get("limit_text"):
        try:
            rec["limit"] = parse_limit(text["limit_text"])
        except LimitError as exc:
            return reject("limit_text", str(exc))
    return rec, None


def _row_hash(row: dict[str, Any]) -> str:
    parts = []
    for f in _SOURCE_FIELDS:
        v = row.get(f)
        parts.append(v.isoformat() if isinstance(v, datetime) else "" if v is None else str(v))
    return hashlib.blake2b("\x1f".join(parts).encode(), digest_size=16).hexdigest()


def _upsert(conn, rows: list[dict[str, Any]]) -> None:  # noqa: ANN001
    table = Dossier.__table__
    insert = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
    stmt = insert(table)
    keep = {"id", "code", "created_at", "first_seen_finished_at"}
    set_ = {c.name: stmt.excluded[c.name] for c in table.c if c.name not in keep}
    set_["first_seen_finished_at"] = func.coalesce(table.c.first_seen_finished_at,
                                                   stmt.excluded.first_seen_finished_at)
    stmt = stmt.on_conflict_do_update(index_elements=[table.c.code], set_=set_,
                                      where=table.c.row_hash != stmt.excluded.row_hash)
    conn.execute(stmt, rows)


class _Writer:
    """Accumulates parsed records and writes them batch by batch."""

    def __init__(self, engine: Engine, settings: Settings, run_id: int | None, result: ImportResult,
                 dry_run: bool) -> None:
        self.engine, self.run_id, self.result, self.dry_run = engine, run_id, result, dry_run
        self.cal: WorkCalendar = settings.work_calendar()
        self.rules: RuleSettings = settings.rule_settings()
        self.fp = settings.fingerprint()
        self.catalogue = _Catalogue(engine, dry_run)
        self.seen: dict[str, tuple[str, int]] = {}  # code -> (row hash, line) in this file
        self.now = now_local()

    def flush(self, records: list[dict[str, Any]], rejections: list[Rejection]) -> None:
        with self.engine.begin() as conn:
            rows, history = self._prepare(conn, records, rejections)
            if not self.dry_run:
                if rows:
                    _upsert(conn, rows)
                if history:
                    ids = dict(conn.execute(select(Dossier.code, Dossier.id).where(
                        Dossier.code.in_([c for c, _, _ in history]))).all())
                    conn.execute(StatusChange.__table__.insert(), [
                        {"dossier_id": ids[c], "previous_status": prev, "status": st,
                         "seen_at": self.now, "import_run_id": self.run_id} for c, prev, st in history])
                if rejections:
                    conn.execute(RejectedRow.__table__.insert(), [
                        {"run_id": self.run_id, "line": r.line, "column": r.column, "value": r.value,
                         "reason": r.reason, "raw": json.dumps(r.raw, ensure_ascii=False)}
                        for r in rejections])
                res = self.result
                conn.execute(update(ImportRun).where(ImportRun.id == self.run_id).values(
                    rows_read=res.rows_read, inserted=res.inserted, updated=res.updated,
                    unchanged=res.unchanged, rejected=res.rejected))
        self.result.rejections.extend(rejections[: max(0, 50 - len(self.result.rejections))])
        records.clear()
        rejections.clear()

    def _prepare(self, conn, records: list[dict[str, Any]], rejections: list[Rejection]):  # noqa: ANN001
        codes = [r["code"] for r in records]
        existing = {c: (h, st, fs) for c, h, st, fs in conn.execute(
            select(Dossier.code, Dossier.row_hash, Dossier.status, Dossier.first_seen_finished_at)
            .where(Dossier.code.in_(codes)))} if codes else {}
        rows, history = [], []
        res = self.result
        for rec in records:
            limit = rec.pop("limit")
            row = {f: rec.get(f) for f in ("code", "channel", "status", *DATE_FIELDS,
                                            "applicant_name", "applicant_phone")}
            row["unit_id"] = self.catalogue.unit(conn, rec)
            row["procedure_id"] = self.catalogue.procedure(conn, rec, limit)
            row["limit_value"] = limit.value if limit else None
            row["limit_unit"] = limit.unit if limit else None
            h = _row_hash(row)
            code = row["code"]
            if code in self.seen:
                first_hash, first_line = self.seen[code]
                if first_hash == h:
                    res.unchanged += 1
                else:
                    rejections.append(Rejection(
                        rec["_line"], "code", code, "the same dossier code appears earlier in this "
                        f"file (line {first_line}) with different data", rec["_raw"]))
                    res.rejected += 1
                continue
            self.seen[code] = (h, rec["_line"])
            old = existing.get(code)
            if old is not None and old[0] == h:
                res.unchanged += 1
                continue
            first_seen = old[2] if old else None
            if row["status"] in ENDED_STATUSES and first_seen is None:
                first_seen = self.now
            row["first_seen_finished_at"] = first_seen
            row.update(derive(row, limit or self.catalogue.proc_limit.get(row["procedure_id"]),
                              self.cal, self.rules, self.fp))
            row.update(row_hash=h, import_run_id=self.run_id, updated_at=self.now, created_at=self.now)
            rows.append(row)
            if old is None:
                res.inserted += 1
                history.append((code, None, row["status"]))
            else:
                res.updated += 1
                if old[1] != row["status"]:
                    history.append((code, old[1], row["status"]))
        return rows, history


def import_file(engine: Engine, settings: Settings, path: str | Path, *, source: str = "file",
                mapping: dict[str, str] | None = None, dry_run: bool = False, strict: bool = False,
                batch_size: int = BATCH_SIZE, progress: Callable[[int], None] | None = None
                ) -> ImportResult:
    """Import one export file. Never raises for bad data: the result says what happened."""
    path = Path(path)
    started = clock.perf_counter()
    result = ImportResult(file=path.name)
    cal = settings.work_calendar()

    def records() -> Iterator[tuple[dict[str, Any] | None, Rejection | None]]:
        src, cmap, rows = read_csv(path, mapping)
        result.sha256 = src.sha256
        result.skipped = src.skipped
        for line, cells in rows:
            yield parse_row(line, cells, cmap, cal)

    try:
        if strict:  # a first pass that writes nothing: any bad row rejects the file
            bad = [rej for _, rej in records() if rej is not None]
            if bad:
                result.rejections = bad[:50]
                raise FileRejected(f"{path.name}: --strict and {len(bad)} row(s) rejected, "
                                   f"first: {bad[0]}")
        it = records()
        first = next(it, None)  # opens the file: header problems surface before a run is recorded
    except FileRejected as exc:
        result.status, result.message = "failed", str(exc)
        result.seconds = clock.perf_counter() - started
        if not dry_run:
            result.run_id = _record_failed_run(engine, source, path, result)
        return result

    run_id = None if dry_run else _start_run(engine, source, path, result.sha256)
    result.run_id = run_id
    writer = _Writer(engine, settings, run_id, result, dry_run)
    batch: list[dict[str, Any]] = []
    rejections: list[Rejection] = []

    def take(item: tuple[dict[str, Any] | None, Rejection | None]) -> None:
        rec, rej = item
        result.rows_read += 1
        if rej is not None:
            result.rejected += 1
            rejections.append(rej)
            return
        batch.append(rec)

    if first is not None:
        take(first)
    for item in it:
        take(item)
        if len(batch) + len(rejections) >= batch_size:
            writer.flush(batch, rejections)
            if progress:
                progress(result.rows_read)
    writer.flush(batch, rejections)
    if progress:
        progress(result.rows_read)

    result.new_units = writer.catalogue.new_units
    result.new_procedures = writer.catalogue.new_procedures
    result.status = "dry-run" if dry_run else ("partial" if result.rejected else "done")
    result.seconds = clock.perf_counter() - started
    if not dry_run:
        _finish_run(engine, run_id, result)
    return result


def _start_run(engine: Engine, source: str, path: Path, sha: str) -> int:
    with engine.begin() as conn:
        return conn.execute(ImportRun.__table__.insert().values(
            source=source, file_name=str(path), sha256=sha, format="csv", started_at=now_local(),
            status="running", message="")).inserted_primary_key[0]


def _finish_run(engine: Engine, run_id: int, result: ImportResult) -> None:
    notes = []
    if result.new_units:
        notes.append(f"new units: {', '.join(result.new_units[:20])}")
    if result.new_procedures:
        notes.append(f"new procedures: {len(result.new_procedures)}")
    notes += result.skipped[:10]
    result.message = "; ".join(notes)
    with engine.begin() as conn:
        conn.execute(update(ImportRun).where(ImportRun.id == run_id).values(
            finished_at=now_local(), status=result.status, rows_read=result.rows_read,
            inserted=result.inserted, updated=result.updated, unchanged=result.unchanged,
            rejected=result.rejected, message=result.message))


def _record_failed_run(engine: Engine, source: str, path: Path, result: ImportResult) -> int:
    with engine.begin() as conn:
        return conn.execute(ImportRun.__table__.insert().values(
            source=source, file_name=str(path), sha256=result.sha256, format="csv",
            started_at=now_local(), finished_at=now_local(), status="failed",
            message=result.message)).inserted_primary_key[0]
