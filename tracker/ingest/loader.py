"""Importing dossier exports: validate every row, upsert in batches, account for every row.

For each run: rows read = inserted + updated + unchanged + rejected. Each batch is one
transaction that also moves the run's counters, so a process killed mid-file leaves a consistent
database, and running the same file again completes the job (rows already stored are unchanged).

Speed (bench/import_csv.py): a row's hash is taken over its raw cells first, so a row that is
already stored unchanged costs one hash and a batched look-up, never a parse. New and changed
rows are parsed, derived and written with one driver-level executemany per batch.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import operator
import re
import time as clock
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, select, update

from tracker.calendar import WorkCalendar
from tracker.config import Settings
from tracker.derive import DERIVED_COLUMNS, derive, now_local
from tracker.ingest import readers
from tracker.ingest.columns import DATE_FIELDS, ColumnMap
from tracker.ingest.readers import FileRejected
from tracker.ingest.text import name_key
from tracker.ingest.values import ValueProblem, parse_channel, parse_datetime, parse_status
from tracker.locks import LockBusy, source_lock
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
from tracker.rules import ENDED_STATUSES, NOT_RECEIVED_STATUSES, LimitError, TimeLimit, parse_limit

_DATE_ONLY = re.compile(r"^\s*(\d{1,2}[/.-]\d{1,2}[/.-]\d{4}|\d{4}-\d{2}-\d{2}|\d{8})\s*$")
# fields whose value is a promised day: a date with no time means the end of that day's office hours
_DAY_FIELDS = ("due_at", "rescheduled_due_at")
_CAPS = {"code": CODE_MAX, "procedure_code": CODE_MAX, "unit_code": CODE_MAX, "field_code": CODE_MAX,
         "procedure_name": NAME_MAX, "unit_name": NAME_MAX, "field_name": NAME_MAX,
         "applicant_name": NAME_MAX, "applicant_phone": PHONE_MAX, "limit_text": 200}
_TEXT_FIELDS = ("applicant_name", "applicant_phone", "unit_name", "procedure_name", "field_name")
_ESCAPED_FORMULA = re.compile(r"^'[=+\-@]")
ROW_DATE_FIELDS = (*DATE_FIELDS, "first_seen_finished_at")
# columns of the dossier table written by an import, in order
WRITE_COLUMNS = ("code", "unit_id", "procedure_id", "channel", "status", *DATE_FIELDS, "first_seen_finished_at",
                 "limit_value", "limit_unit", "applicant_name", "applicant_phone", *DERIVED_COLUMNS,
                 "import_run_id", "row_hash", "data_hash", "created_at", "updated_at")
# what the data hash covers: the stored source values, after parsing and resolving
_DATA_FIELDS = ("code", "unit_id", "procedure_id", "channel", "status", *DATE_FIELDS, "limit_value", "limit_unit",
                "applicant_name", "applicant_phone")
_KEEP_ON_UPDATE = {"code", "created_at"}


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
    format: str = ""
    run_id: int | None = None
    status: str = "done"  # done | partial | failed | busy (another import of the source) | dry-run
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
        """0 every row in; 3 some rows rejected; 1 the file was rejected or the source busy."""
        if self.status in ("failed", "busy"):
            return 1
        return 3 if self.rejected else 0

    @property
    def balanced(self) -> bool:
        return self.rows_read == self.inserted + self.updated + self.unchanged + self.rejected


class _Catalogue:
    """Units and procedures by code and by name, creating the ones seen for the first time."""

    def __init__(self, engine: Engine, dry_run: bool) -> None:
        self.dry_run = dry_run
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
        self._unit_memo: dict[tuple[str, str], int] = {}

    def _insert(self, conn, model, values: dict) -> int:  # noqa: ANN001
        if self.dry_run:
            self._fake -= 1
            return self._fake
        return conn.execute(model.__table__.insert().values(**values)).inserted_primary_key[0]

    def unit(self, conn, rec: dict) -> int:  # noqa: ANN001
        memo_key = (rec.get("unit_code", ""), rec.get("unit_name", ""))
        uid = self._unit_memo.get(memo_key)
        if uid is None:
            uid = self._unit_memo[memo_key] = self._resolve_unit(conn, *memo_key)
        return uid

    def _resolve_unit(self, conn, code: str, name: str) -> int:  # noqa: ANN001
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
        pid = self.proc_by_code.get(code) if code else self.proc_by_name.get(name_key(name))
        if pid is None:
            key = name_key(name)
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
    n = len(cells)
    text = {f: (cells[i] if i < n else "") for f, i in cmap.fields.items()}

    def reject(f: str, reason: str) -> tuple[None, Rejection]:
        label = cmap.label(f) if f in cmap.fields else f
        return None, Rejection(line, label, text.get(f, ""), reason, raw_of(cells, cmap))

    if not text.get("code"):
        return reject("code", "missing dossier code (mã hồ sơ)")
    for f, cap in _CAPS.items():
        if len(text.get(f, "")) > cap:
            return reject(f, f"longer than {cap} characters")
    rec: dict[str, Any] = {f: text.get(f, "") for f in _CAPS}
    for f in _TEXT_FIELDS:  # the product's own export escapes formula-looking text with a quote
        if rec[f][:1] == "'" and _ESCAPED_FORMULA.match(rec[f]):
            rec[f] = rec[f][1:]
    try:
        rec["status"] = parse_status(text["status"])
    except ValueProblem as exc:
        return reject("status", str(exc))
    try:
        rec["channel"] = parse_channel(text.get("channel", ""))
    except ValueProblem as exc:
        return reject("channel", str(exc))
    for f in ROW_DATE_FIELDS:
        value = text.get(f, "")
        try:
            moment = parse_datetime(value) if value else None
        except ValueProblem as exc:
            return reject(f, str(exc))
        if moment is not None and f in _DAY_FIELDS and len(value) <= 10 and _DATE_ONLY.match(value):
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
    if text.get("limit_text"):
        try:
            rec["limit"] = parse_limit(text["limit_text"])
        except LimitError as exc:
            return reject("limit_text", str(exc))
    return rec, None


def raw_of(cells: list[str], cmap: ColumnMap) -> dict[str, str]:
    """The row as the file had it, by header label: what `tthc import --errors` writes back."""
    n = len(cells)
    return {label: (cells[i] if i < n else "") for i, label in enumerate(cmap.labels) if label}


def _data_hash(row: dict[str, Any]) -> str:
    parts = []
    for f in _DATA_FIELDS:
        v = row[f]
        parts.append(v.isoformat() if isinstance(v, datetime) else "" if v is None else str(v))
    return hashlib.blake2b("\x1f".join(parts).encode(), digest_size=16).hexdigest()


def _code_digest(code: str) -> int:
    return int.from_bytes(hashlib.blake2b(code.encode(), digest_size=8).digest(), "little")


class _Writer:
    """Takes raw rows; every batch: look up, parse what changed, derive, upsert, record."""

    def __init__(self, engine: Engine, settings: Settings, run_id: int | None, result: ImportResult,
                 cmap: ColumnMap, dry_run: bool) -> None:
        self.engine, self.run_id, self.result, self.cmap, self.dry_run = engine, run_id, result, cmap, dry_run
        self.cal: WorkCalendar = settings.work_calendar()
        self.rules = settings.rule_settings()
        self.fp = settings.fingerprint()
        self.catalogue = _Catalogue(engine, dry_run)
        self.code_i = cmap.fields["code"]
        self.hash_idx = tuple(sorted(i for f, i in cmap.fields.items()))
        # codes seen in this file -> first line, keyed by a 64-bit digest: small entries for big files
        self.seen: dict[int, int] = {}
        self.now = now_local()
        self.dialect = engine.dialect.name
        self._sql = _upsert_sql(engine)
        self._params = _params_maker(engine)

    def row_hash(self, cells: list[str]) -> str:
        n = len(cells)
        joined = "\x1f".join(cells[i] if i < n else "" for i in self.hash_idx)
        return hashlib.blake2b(joined.encode(), digest_size=16).hexdigest()

    def flush(self, batch: list[tuple[int, list[str]]]) -> None:
        if not batch:
            return
        res = self.result
        with _import_transaction(self.engine) as conn:
            keyed = []
            for line, cells in batch:
                code = cells[self.code_i].strip() if self.code_i < len(cells) else ""
                keyed.append((line, cells, code, self.row_hash(cells)))
            codes = list({c for _, _, c, _ in keyed if c})
            existing = {}
            if codes:
                existing = {c: (h, st, fs, dh) for c, h, st, fs, dh in conn.execute(
                    select(Dossier.code, Dossier.row_hash, Dossier.status, Dossier.first_seen_finished_at,
                           Dossier.data_hash).where(Dossier.code.in_(codes)))}
            rows: list[dict[str, Any]] = []
            history: list[tuple[str, int | None, int]] = []
            rejections: list[Rejection] = []
            pending: dict[str, str] = {}  # code -> hash, rows of this batch
            for line, cells, code, h in keyed:
                res.rows_read += 1
                digest = _code_digest(code) if code else 0
                if code and digest in self.seen:
                    first_hash = pending.get(code) or (existing.get(code) or (None,))[0]
                    if first_hash == h:
                        res.unchanged += 1
                        continue
                    if first_hash is not None:
                        rejections.append(Rejection(
                            line, self.cmap.label("code"), code, "the same dossier code appears earlier in "
                            f"this file (line {self.seen[digest]}) with different data", raw_of(cells, self.cmap)))
                        res.rejected += 1
                        continue
                old = existing.get(code)
                if old is not None and old[0] == h:
                    self.seen[digest] = line
                    res.unchanged += 1
                    continue
                rec, rej = parse_row(line, cells, self.cmap, self.cal)
                if rej is not None:
                    rejections.append(rej)
                    res.rejected += 1
                    continue
                self.seen[digest] = line
                pending[code] = h
                row = self._row(conn, rec)
                if old is not None and old[3] == row["data_hash"]:
                    res.unchanged += 1  # the same data in another shape (e.g. our own export of it)
                    continue
                self._complete(row, rec, h, old)
                rows.append(row)
                if old is None:
                    res.inserted += 1
                    history.append((code, None, row["status"]))
                else:
                    res.updated += 1
                    if old[1] != row["status"]:
                        history.append((code, old[1], row["status"]))
            if not self.dry_run:
                self._write(conn, rows, history, rejections)
        res.rejections.extend(rejections[: max(0, 50 - len(res.rejections))])

    def _row(self, conn, rec: dict[str, Any]) -> dict[str, Any]:  # noqa: ANN001
        """The stored source values of a parsed record, with their data hash."""
        limit = rec["limit"]
        row = {f: rec[f] for f in ("code", "channel", "status", *DATE_FIELDS, "applicant_name", "applicant_phone")}
        row["unit_id"] = self.catalogue.unit(conn, rec)
        row["procedure_id"] = self.catalogue.procedure(conn, rec, limit)
        row["limit_value"] = limit.value if limit else None
        row["limit_unit"] = limit.unit if limit else None
        row["data_hash"] = _data_hash(row)
        return row

    def _complete(self, row: dict[str, Any], rec: dict[str, Any], h: str, old) -> None:  # noqa: ANN001
        """Add what the product keeps beside the source values: first seen, derived columns."""
        first_seen = rec["first_seen_finished_at"] or (old[2] if old else None)
        if row["status"] in ENDED_STATUSES and first_seen is None:
            first_seen = self.now
        row["first_seen_finished_at"] = first_seen
        row.update(derive(row, rec["limit"] or self.catalogue.proc_limit.get(row["procedure_id"]),
                          self.cal, self.rules, self.fp))
        row.update(row_hash=h, import_run_id=self.run_id, updated_at=self.now, created_at=self.now)

    def _write(self, conn, rows, history, rejections) -> None:  # noqa: ANN001
        res = self.result
        if rows:
            cursor = conn.connection.driver_connection.cursor()
            try:
                if self.dialect == "postgresql":
                    _pg_copy_upsert(cursor, [self._params(r) for r in rows])
                else:
                    cursor.executemany(self._sql, [self._params(r) for r in rows])
            finally:
                cursor.close()
        if history:
            ids = dict(conn.execute(select(Dossier.code, Dossier.id).where(
                Dossier.code.in_([c for c, _, _ in history]))).all())
            conn.execute(StatusChange.__table__.insert(), [
                {"dossier_id": ids[c], "previous_status": prev, "status": st,
                 "seen_at": self.now, "import_run_id": self.run_id} for c, prev, st in history])
        if rejections:
            conn.execute(RejectedRow.__table__.insert(), [
                {"run_id": self.run_id, "line": r.line, "column": r.column, "value": r.value,
                 "reason": r.reason, "raw": json.dumps(r.raw, ensure_ascii=False)} for r in rejections])
        conn.execute(update(ImportRun).where(ImportRun.id == self.run_id).values(
            rows_read=res.rows_read, inserted=res.inserted, updated=res.updated,
            unchanged=res.unchanged, rejected=res.rejected))


@contextlib.contextmanager
def _import_transaction(engine: Engine) -> Iterator[Any]:
    """A transaction for one batch. On SQLite, foreign-key enforcement is off inside it: checked
    upserts cost four times as much there, and the batch only references rows it just resolved
    in the same transaction (tests run PRAGMA foreign_key_check after imports)."""
    with engine.connect() as conn:
        sqlite = engine.dialect.name == "sqlite"
        if sqlite:
            conn.exec_driver_sql("PRAGMA foreign_keys=OFF")  # only takes effect outside a transaction
            conn.commit()
        try:
            with conn.begin():
                yield conn
        finally:
            if sqlite:
                conn.exec_driver_sql("PRAGMA foreign_keys=ON")
                conn.commit()


def _pg_copy_upsert(cursor, params: list[tuple]) -> None:  # noqa: ANN001
    """PostgreSQL: COPY the batch into a transaction-scoped staging table, then one
    INSERT … SELECT … ON CONFLICT: a round trip per batch instead of one per row."""
    cols = ", ".join(WRITE_COLUMNS)
    cursor.execute("CREATE TEMP TABLE IF NOT EXISTS dossier_stage (LIKE dossier INCLUDING DEFAULTS) "
                   "ON COMMIT DELETE ROWS")
    with cursor.copy(f"COPY dossier_stage ({cols}) FROM STDIN") as copy:
        for p in params:
            copy.write_row(p)
    sets = ", ".join(f"{c} = excluded.{c}" for c in WRITE_COLUMNS if c not in _KEEP_ON_UPDATE)
    cursor.execute(f"INSERT INTO dossier ({cols}) SELECT {cols} FROM dossier_stage ON CONFLICT (code) "
                   f"DO UPDATE SET {sets} WHERE dossier.row_hash <> excluded.row_hash")


def _upsert_sql(engine: Engine) -> str:
    """INSERT … ON CONFLICT (code) DO UPDATE … WHERE the row changed: one statement, both dialects."""
    mark = "?" if engine.dialect.name == "sqlite" else "%s"
    cols = ", ".join(WRITE_COLUMNS)
    values = ", ".join(mark for _ in WRITE_COLUMNS)
    sets = [f"{c} = excluded.{c}" for c in WRITE_COLUMNS if c not in _KEEP_ON_UPDATE]
    return (f"INSERT INTO dossier ({cols}) VALUES ({values}) ON CONFLICT (code) DO UPDATE SET "
            f"{', '.join(sets)} WHERE dossier.row_hash <> excluded.row_hash")


def _params_maker(engine: Engine) -> Callable[[dict[str, Any]], tuple]:
    """A row dict to the statement's parameters, as SQLAlchemy would bind them. On SQLite a
    datetime is its text 'YYYY-MM-DD HH:MM:SS.ffffff' (what isoformat(' ', 'microseconds') writes)."""
    pick = operator.itemgetter(*WRITE_COLUMNS)
    if engine.dialect.name != "sqlite":
        return pick
    table = Dossier.__table__
    positions = [i for i, c in enumerate(WRITE_COLUMNS) if table.c[c].type.python_type is datetime]

    def params(row: dict[str, Any]) -> tuple:
        values = list(pick(row))
        for i in positions:
            v = values[i]
            if v is not None:
                values[i] = v.isoformat(" ", "microseconds")
        return tuple(values)

    return params


def _open(path: Path, fmt: str | None, mapping: dict[str, str] | None):  # noqa: ANN202
    return readers.open_export(path, fmt, mapping)


def import_file(engine: Engine, settings: Settings, path: str | Path, *, source: str = "file",
                fmt: str | None = None, mapping: dict[str, str] | None = None, dry_run: bool = False,
                strict: bool = False, batch_size: int | None = None,
                progress: Callable[[int], None] | None = None) -> ImportResult:
    """Import one export file. Never raises for bad data: the result says what happened."""
    path = Path(path)
    started = clock.perf_counter()
    result = ImportResult(file=path.name)
    batch_size = batch_size or settings.get("import.batch_size")
    mapping = {**settings.get("import.mapping"), **(mapping or {})}

    def fail(message: str) -> ImportResult:
        result.status, result.message = "failed", message
        result.seconds = clock.perf_counter() - started
        if not dry_run:
            result.run_id = _record_failed_run(engine, source, path, result)
        return result

    if strict:
        try:
            bad = _strict_check(path, fmt, mapping, settings.work_calendar())
        except FileRejected as exc:
            return fail(str(exc))
        if bad:
            result.rejections = bad[:50]
            return fail(f"{path.name}: --strict and {len(bad)} row(s) rejected, first: {bad[0]}")
    try:
        with source_lock(engine, source):
            try:
                src, cmap, rows = _open(path, fmt, mapping)
            except FileRejected as exc:
                return fail(str(exc))
            result.sha256, result.skipped = src.sha256, src.skipped
            result.format = src.format
            return _run(engine, settings, path, source, result, cmap, rows, dry_run, batch_size, progress,
                        started)
    except LockBusy as exc:  # nothing was read or written: no run is recorded
        result.status, result.message = "busy", str(exc)
        result.seconds = clock.perf_counter() - started
        return result


def _strict_check(path: Path, fmt: str | None, mapping: dict[str, str] | None, cal: WorkCalendar) -> list[Rejection]:
    """A first pass that writes nothing: every row that would be rejected."""
    _, cmap, rows = _open(path, fmt, mapping)
    bad: list[Rejection] = []
    seen: dict[str, tuple[int, tuple]] = {}
    for line, cells in rows:
        rec, rej = parse_row(line, cells, cmap, cal)
        if rej is not None:
            bad.append(rej)
            continue
        key = tuple(cells)
        first = seen.setdefault(rec["code"], (line, key))
        if first[1] != key:
            bad.append(Rejection(line, cmap.label("code"), rec["code"], "the same dossier code appears "
                                 f"earlier in this file (line {first[0]}) with different data"))
    return bad


def _run(engine: Engine, settings: Settings, path: Path, source: str, result: ImportResult, cmap: ColumnMap,
         rows: Iterator[tuple[int, list[str]]], dry_run: bool, batch_size: int,
         progress: Callable[[int], None] | None, started: float) -> ImportResult:
    run_id = None if dry_run else _start_run(engine, source, path, result)
    result.run_id = run_id
    writer = _Writer(engine, settings, run_id, result, cmap, dry_run)
    batch: list[tuple[int, list[str]]] = []
    for item in rows:
        batch.append(item)
        if len(batch) >= batch_size:
            writer.flush(batch)
            batch = []
            if progress:
                progress(result.rows_read)
    writer.flush(batch)
    if progress:
        progress(result.rows_read)
    result.new_units = writer.catalogue.new_units
    result.new_procedures = writer.catalogue.new_procedures
    result.status = "dry-run" if dry_run else ("partial" if result.rejected else "done")
    result.seconds = clock.perf_counter() - started
    if not dry_run:
        _finish_run(engine, run_id, result)
    return result


def _start_run(engine: Engine, source: str, path: Path, result: ImportResult) -> int:
    with engine.begin() as conn:
        # we hold the source's lock: a run still marked running was killed
        conn.execute(update(ImportRun).where(ImportRun.source == source, ImportRun.status == "running")
                     .values(status="interrupted", finished_at=now_local(),
                             message="the import process stopped before the end of the file"))
        return conn.execute(ImportRun.__table__.insert().values(
            source=source, file_name=str(path), sha256=result.sha256, format=result.format,
            started_at=now_local(), status="running", message="")).inserted_primary_key[0]


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
        run_id = conn.execute(ImportRun.__table__.insert().values(
            source=source, file_name=str(path), sha256=result.sha256, format=result.format,
            started_at=now_local(), finished_at=now_local(), status="failed",
            message=result.message[:5000])).inserted_primary_key[0]
        if result.rejections:
            conn.execute(RejectedRow.__table__.insert(), [
                {"run_id": run_id, "line": r.line, "column": r.column, "value": r.value, "reason": r.reason,
                 "raw": json.dumps(r.raw, ensure_ascii=False)} for r in result.rejections])
    return run_id
