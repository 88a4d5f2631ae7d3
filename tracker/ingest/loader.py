"""Importing dossier exports: validate every row, upsert in batches, account for every row.

For each run: rows read = inserted + updated + unchanged + rejected. Each batch is one
transaction that also moves the run's counters, so a process killed mid-file leaves a consistent
database, and running the same file again completes the job (rows already stored are unchanged).

Speed (bench/import_csv.py; where the time goes is written down there): a row's hash is taken
over its raw cells first, so a row that is already stored unchanged costs one hash and a batched
look-up, never a parse; a big file is read, split and hashed by a second process meanwhile
(tracker.ingest.batches). New and changed rows are parsed by RowParser (parse_row's answers,
quicker for the common shapes), derived and written with one driver-level statement per batch;
on SQLite the import's connection keeps a bigger page cache and checkpoints less often, and
Python's cycle collector rests while rows stream through. A big file's import into an empty
table builds the secondary indexes at its end (_indexes_deferred).
"""

from __future__ import annotations

import contextlib
import gc
import hashlib
import json
import logging
import re
import time as clock
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from operator import itemgetter
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import SQLAlchemyError

from tracker import data_version
from tracker.calendar import FIRST_YEAR, LAST_YEAR, WorkCalendar
from tracker.config import Settings
from tracker.db import drop_indexes, restore_indexes
from tracker.derive import DERIVED_COLUMNS, derive, now_local, procedure_limits, refresh_derived
from tracker.display import UNSAFE, safe_text, shown
from tracker.ingest import readers
from tracker.ingest.batches import Batch, Keyer, batches, file_size
from tracker.ingest.columns import DATE_FIELDS, ColumnMap
from tracker.ingest.readers import FileRejected, ReadLimits, Source
from tracker.ingest.supplements import parse_supplements
from tracker.ingest.text import name_key
from tracker.ingest.values import ValueProblem, parse_channel, parse_datetime, parse_status
from tracker.limits import LimitVersion
from tracker.locks import LockBusy, source_lock
from tracker.models import (
    CODE_MAX,
    NAME_MAX,
    PHONE_MAX,
    Dossier,
    ImportRun,
    Procedure,
    ProcedureLimit,
    RejectedRow,
    Supplement,
    Unit,
)
from tracker.portal766 import SUMMARY_COLUMNS, SupplementPair, counted_pairs, pairs_json, supplement_summary
from tracker.rules import ENDED_STATUSES, NOT_RECEIVED_STATUSES, LimitError, TimeLimit, parse_limit

log = logging.getLogger("tracker.import")
_DATE_ONLY = re.compile(r"^\s*(\d{1,2}[/.-]\d{1,2}[/.-]\d{4}|\d{4}-\d{2}-\d{2}|\d{8})\s*$")
# fields whose value is a promised day: a date with no time means the end of that day's office hours
_DAY_FIELDS = ("due_at", "rescheduled_due_at")
_CAPS = {"code": CODE_MAX, "procedure_code": CODE_MAX, "unit_code": CODE_MAX, "field_code": CODE_MAX,
         "procedure_name": NAME_MAX, "unit_name": NAME_MAX, "field_name": NAME_MAX,
         "applicant_name": NAME_MAX, "applicant_phone": PHONE_MAX, "limit_text": 200}
_TEXT_FIELDS = ("applicant_name", "applicant_phone", "unit_name", "procedure_name", "field_name")
_ESCAPED_FORMULA = re.compile(r"^'+[=+\-@\t\r]")  # tracker.export.safe_cell's escape, one quote of it
ROW_DATE_FIELDS = (*DATE_FIELDS, "first_seen_finished_at")
# columns of the dossier table written by an import, in order
WRITE_COLUMNS = ("code", "unit_id", "procedure_id", "channel", "status", *DATE_FIELDS, "first_seen_finished_at",
                 "limit_value", "limit_unit", *SUMMARY_COLUMNS, "applicant_name", "applicant_phone", *DERIVED_COLUMNS,
                 "import_run_id", "row_hash", "data_hash", "created_at", "updated_at")
# what the data hash covers: the stored source values, after parsing and resolving
_DATA_HEAD = ("code", "unit_id", "procedure_id", "channel", "status")
_DATA_TAIL = ("limit_value", "limit_unit", "applicant_name", "applicant_phone")
_DATA_FIELDS = (*_DATA_HEAD, *DATE_FIELDS, *_DATA_TAIL)
_KEEP_ON_UPDATE = {"code", "created_at"}
# the parsed source values a row stores as they are
_SOURCE_FIELDS = ("code", "channel", "status", *DATE_FIELDS, "applicant_name", "applicant_phone")


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
    cleaned: int = 0  # rows stored after control characters were removed from them
    warnings: list[str] = field(default_factory=list)  # the first of those, by line and column
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

    def __init__(self, engine: Engine, dry_run: bool, run_id: int | None = None) -> None:
        self.dry_run = dry_run
        self.run_id = run_id  # stamped on the units this run invents (the data-quality panel lists them)
        with engine.connect() as conn:
            units = conn.execute(select(Unit.id, Unit.code, Unit.name_key)).all()
            procs = conn.execute(select(Procedure.id, Procedure.code, Procedure.name_key)).all()
            self.proc_limit = procedure_limits(conn)  # .at(procedure, received_at): the version in force
        self.unit_by_code = {c: i for i, c, _ in units}
        self.unit_by_name = {k: i for i, _, k in units}
        self.proc_by_code = {c: i for i, c, *_ in procs}
        self.proc_by_name = {k: i for i, _, k, *_ in procs}
        self.new_units: list[str] = []
        self.new_procedures: list[str] = []
        self.filled: set[int] = set()  # procedures a row's limit gave their first version, this batch
        self.any_filled = False
        self._fake = 0
        self._unit_memo: dict[tuple[str, str], int] = {}

    def _insert(self, conn, model, values: dict) -> int:  # noqa: ANN001
        """A new unit or procedure; the one with its code if another import made it meanwhile (two
        sources at once: the unique code would otherwise fail the batch)."""
        if self.dry_run:
            self._fake -= 1
            return self._fake
        table = model.__table__
        insert = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
        key = conn.execute(insert(table).values(**values).on_conflict_do_nothing(index_elements=["code"])
                           ).inserted_primary_key
        if key and key[0] is not None:
            return key[0]
        return conn.execute(select(table.c.id).where(table.c.code == values["code"])).scalar_one()

    def unit(self, conn, rec: dict) -> int:  # noqa: ANN001
        memo_key = (rec.get("unit_code", ""), rec.get("unit_name", ""))
        uid = self._unit_memo.get(memo_key)
        if uid is None:
            uid = self._unit_memo[memo_key] = self._resolve_unit(conn, *memo_key)
        return uid

    def _resolve_unit(self, conn, code: str, name: str) -> int:  # noqa: ANN001
        """A unit by code first, then by name; a new unit only when neither matches (reported as
        new_units). A "name" that is a known unit code is that unit: the national portal's
        DonViXuLy carries the unit's code (e.g. 000.00.53.H48), not its name."""
        if code and code in self.unit_by_code:
            return self.unit_by_code[code]
        if name and name.strip() in self.unit_by_code:
            return self.unit_by_code[name.strip()]
        key = name_key(name)
        if key and key in self.unit_by_name:
            return self.unit_by_name[key]
        code = code or "AUTO." + hashlib.sha1(key.encode()).hexdigest()[:10].upper()
        uid = self._insert(conn, Unit, {"code": code, "name": name or code, "name_key": key or code.lower(),
                                        "level": "", "digest_recipients": "", "created_at": now_local(),
                                        "created_by_run_id": self.run_id})
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
                "field_code": rec.get("field_code", ""), "field_name": rec.get("field_name", "")})
            self.proc_by_code[code] = pid
            self.proc_by_name.setdefault(key, pid)
            self.new_procedures.append(f"{code} {name}".strip())
        if limit is not None and pid not in self.proc_limit:
            # the export's per-row limit fills a catalogue entry that has none: a version in force
            # since forever; the procedure's dossiers derived without it are derived again (_Writer)
            if not self.dry_run:
                conn.execute(ProcedureLimit.__table__.insert().values(
                    procedure_id=pid, effective_from=None, limit_value=limit.value, limit_unit=limit.unit,
                    limit_text=rec.get("limit_text", "")))
                self.filled.add(pid)
            self.proc_limit.add(pid, LimitVersion(limit, None, rec.get("limit_text", "")))
        return pid


def parse_row(line: int, cells: list[str], cmap: ColumnMap, cal: WorkCalendar
              ) -> tuple[dict[str, Any] | None, Rejection | None]:
    """One data row to a record of canonical fields, or the reason it is rejected.

    Control characters and bidi overrides (tracker.display) are removed from every cell, and the
    record names the columns they were removed from ("cleaned"): they mean nothing in a name or a
    date, and a dossier is not lost over an invisible character. Except in the dossier code, the
    dossier's identity ('HS\x001' and 'HS1' would become one): that row is rejected."""
    cleaned: list[str] = []
    if UNSAFE.search("".join(cells)):
        cells, cleaned, bad_code = _cleaned(cells, cmap)
        if bad_code is not None:
            return None, Rejection(line, cmap.label("code"), bad_code, "control or bidirectional-override "
                                   "characters in the dossier code", raw_of(cells, cmap))
    n = len(cells)
    text = {f: (cells[i] if i < n else "") for f, i in cmap.fields.items()}

    def reject(f: str, reason: str) -> tuple[None, Rejection]:
        label = cmap.label(f) if f in cmap.fields else f
        return None, Rejection(line, label, text.get(f, ""), reason, raw_of(cells, cmap))

    if not text.get("code"):
        return reject("code", "missing dossier code (mã hồ sơ)")
    rec: dict[str, Any] = {f: text.get(f, "") for f in _CAPS}
    for f in _TEXT_FIELDS:  # the product's own export escapes formula-looking text with a quote
        if rec[f][:1] == "'" and _ESCAPED_FORMULA.match(rec[f]):
            rec[f] = rec[f][1:]
    for f, cap in _CAPS.items():  # the value, not its escape: a 20-character phone may be written with 21
        if len(rec[f]) > cap:
            return reject(f, f"longer than {cap} characters")
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
        if moment is not None and not FIRST_YEAR <= moment.year <= LAST_YEAR:
            return reject(f, f"'{value}': year {moment.year} is outside the years the working calendar covers "
                             f"({FIRST_YEAR}–{LAST_YEAR})")
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
    try:
        rec["supplements"] = parse_supplements(text.get("supplements", ""), cal)
    except ValueProblem as exc:
        return reject("supplements", str(exc))
    if cleaned:
        rec["cleaned"] = cleaned
    return rec, None


def _cleaned(cells: list[str], cmap: ColumnMap) -> tuple[list[str], list[str], str | None]:
    """(the cells made safe, the labels of the columns changed, the code as it was if it changed)."""
    safe = [safe_text(c) for c in cells]
    labels = cmap.labels
    changed = [labels[i] if i < len(labels) and labels[i] else f"column {i + 1}"
               for i, (a, b) in enumerate(zip(cells, safe, strict=True)) if a != b]
    code_i = cmap.fields.get("code", -1)
    bad_code = shown(cells[code_i]) if 0 <= code_i < len(cells) and safe[code_i] != cells[code_i] else None
    return safe, changed, bad_code


_FALLBACK = object()  # a cache miss that parse_row must decide
_RECORD_FIELDS = frozenset((*_CAPS, "status", "channel", *ROW_DATE_FIELDS, "supplements"))


def _dmy_hms(value: str) -> datetime | None:
    """'dd/mm/yyyy HH:MM:SS' by slicing. fromisoformat only accepts ASCII digits in every slot, so
    what it returns is what parse_datetime returns; anything else is left to parse_datetime."""
    if len(value) == 19 and value[2] == "/" and value[5] == "/" and value[10] == " " and value[13] == ":" \
            and value[16] == ":":
        try:
            return datetime.fromisoformat(f"{value[6:10]}-{value[3:5]}-{value[:2]}T{value[11:]}")
        except ValueError:
            return None
    return None


def _dmy_hm(value: str) -> datetime | None:
    """'dd/mm/yyyy HH:MM'."""
    if len(value) == 16 and value[2] == "/" and value[5] == "/" and value[10] == " " and value[13] == ":":
        try:
            return datetime.fromisoformat(f"{value[6:10]}-{value[3:5]}-{value[:2]}T{value[11:]}")
        except ValueError:
            return None
    return None


def _dmy(value: str) -> datetime | None:
    """'dd/mm/yyyy' (midnight: a promised day's end is applied by the caller)."""
    if len(value) == 10 and value[2] == "/" and value[5] == "/":
        try:
            return datetime.fromisoformat(f"{value[6:10]}-{value[3:5]}-{value[:2]}")
        except ValueError:
            return None
    return None


def _compact(value: str) -> datetime | None:
    """'yyyyMMddHHmmss' (the national portal's dates)."""
    if len(value) == 14 and value.isascii() and value.isdigit():
        try:
            return datetime(int(value[:4]), int(value[4:6]), int(value[6:8]), int(value[8:10]), int(value[10:12]),
                             int(value[12:]))
        except ValueError:
            return None
    return None


def _iso(value: str) -> datetime | None:
    """'yyyy-mm-dd HH:MM:SS' or with a T, no offset."""
    if len(value) == 19 and value[4] == "-" and value[7] == "-" and value[10] in " T" and value[13] == ":" \
            and value[16] == ":":
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            return None
        return moment if moment.tzinfo is None else None
    return None


_DATE_SHAPES = (_dmy_hms, _dmy_hm, _dmy, _compact, _iso)


class RowParser:
    """parse_row for one file, fast for the rows real exports are made of.

    What a file's header fixes is looked up once (which cells hold which fields); each date
    column keeps the shape of its first value (dd/mm/yyyy HH:MM:SS, …) and reads later ones by
    slicing; status, channel and time-limit words go through per-file caches (a handful of
    distinct values in a million rows). A row this cannot read with certainty — a value of
    another shape, anything to reject, a quote-escaped formula — goes to parse_row itself, so
    every result, rejections included, is parse_row's (tests/tracker/test_import_fast_path.py)."""

    def __init__(self, cmap: ColumnMap, cal: WorkCalendar) -> None:
        self.cmap, self.cal = cmap, cal
        # the fields parse_row reads (a mapping may name others: parse_row ignores them)
        fields = {f: i for f, i in cmap.fields.items() if f in _RECORD_FIELDS}
        self.names = tuple(fields)
        positions = tuple(fields.values())
        self.width = max(positions) + 1
        self.pick = itemgetter(*positions)  # code, received_at and status at least
        self.caps = tuple((f, cap) for f, cap in _CAPS.items() if f in fields)
        self.texts = tuple(f for f in _TEXT_FIELDS if f in fields)
        # what an absent column contributes to the record
        self.absent: dict[str, Any] = {f: "" for f in _CAPS if f not in fields}
        self.absent.update({f: None for f in ROW_DATE_FIELDS if f not in fields})
        self.dates = [[f, f in _DAY_FIELDS, None] for f in ROW_DATE_FIELDS if f in fields]  # [field, day, shape]
        self.has_channel = "channel" in fields
        self.statuses: dict[str, int] = {}
        self.channels: dict[str, int | None] = {"": None}
        self.limits: dict[str, TimeLimit] = {}

    def parse(self, line: int, cells: list[str]) -> tuple[dict[str, Any] | None, Rejection | None]:
        if UNSAFE.search("".join(cells)):
            return parse_row(line, cells, self.cmap, self.cal)  # control characters: removed there
        rec = self.fast(cells) if len(cells) >= self.width else None
        if rec is None:
            return parse_row(line, cells, self.cmap, self.cal)
        return rec, None

    def fast(self, cells: list[str]) -> dict[str, Any] | None:
        """The record parse_row would make of `cells`, or None: ask parse_row."""
        # the cells by field; parsed values then replace the texts, as parse_row's record has them
        rec: dict[str, Any] = dict(zip(self.names, self.pick(cells), strict=True))
        if not rec["code"]:
            return None
        for f, cap in self.caps:
            if len(rec[f]) > cap:
                return None
        for f in self.texts:
            if rec[f][:1] == "'":
                return None
        limit_text = rec.get("limit_text")
        rec.update(self.absent)
        status = self.statuses.get(rec["status"])
        if status is None:
            status = self._learn(self.statuses, parse_status, rec["status"])
            if status is _FALLBACK:
                return None
        rec["status"] = status
        if self.has_channel:
            channel = self.channels.get(rec["channel"], _FALLBACK)
            if channel is _FALLBACK:
                channel = self._learn(self.channels, parse_channel, rec["channel"])
                if channel is _FALLBACK:
                    return None
            rec["channel"] = channel
        else:
            rec["channel"] = None
        for slot in self.dates:
            f, day, shape = slot
            value = rec[f]
            if not value:
                rec[f] = None
                continue
            if shape is None:
                shape = slot[2] = next((s for s in _DATE_SHAPES if s(value) is not None), None)
                if shape is None:
                    return None
            moment = shape(value)
            if moment is None or not FIRST_YEAR <= moment.year <= LAST_YEAR:
                return None
            if day and shape is _dmy:
                moment = self.cal.day_end(moment.date())
            rec[f] = moment
        received = rec["received_at"]
        if received is None:
            return None
        for f in ("due_at", "finished_at", "returned_at"):
            v = rec[f]
            if v is not None and v < received and not (f == "due_at" and v.date() == received.date()):
                return None
        rec["limit"] = None
        if limit_text:
            limit = self.limits.get(limit_text)
            if limit is None:
                limit = self._learn(self.limits, parse_limit, limit_text)
                if limit is _FALLBACK:
                    return None
            rec["limit"] = limit
        supplements = rec.get("supplements")
        if supplements:
            try:
                rec["supplements"] = parse_supplements(supplements, self.cal)
            except ValueProblem:
                return None
        else:
            rec["supplements"] = ()
        return rec

    @staticmethod
    def _learn(cache: dict, parse: Callable[[str], Any], value: str) -> Any:  # noqa: ANN401
        try:
            result = parse(value)
        except (ValueProblem, LimitError):
            return _FALLBACK
        if len(cache) < 10_000:
            cache[value] = result
        return result


def raw_of(cells: list[str], cmap: ColumnMap) -> dict[str, str]:
    """The row as the file had it, by header label: what `tthc import --errors` writes back."""
    n = len(cells)
    return {label: (cells[i] if i < n else "") for i, label in enumerate(cmap.labels) if label}


_HASHED_HEAD, _HASHED_DATES, _HASHED_TAIL = itemgetter(*_DATA_HEAD), itemgetter(*DATE_FIELDS), itemgetter(*_DATA_TAIL)


def _data_hash(row: dict[str, Any]) -> str:
    """Of the stored source values: a text, number or datetime each (ISO), "" for none. Stored,
    so it must not change; by field kind rather than by value's type, as it runs for every row.
    The supplement pairs count when there are some (a row without keeps the hash it had)."""
    parts = ["" if v is None else str(v) for v in _HASHED_HEAD(row)]
    parts += ["" if v is None else v.isoformat() for v in _HASHED_DATES(row)]
    parts += ["" if v is None else str(v) for v in _HASHED_TAIL(row)]
    if row.get("supplements"):
        parts.append(pairs_json(row["supplements"]))
    return hashlib.blake2b("\x1f".join(parts).encode(), digest_size=16).hexdigest()


_COUNTERS = ("rows_read", "inserted", "updated", "unchanged", "rejected", "cleaned")


class _Writer:
    """Takes raw rows; every batch: look up, parse what changed, derive, upsert, record."""

    def __init__(self, engine: Engine, conn, settings: Settings, run_id: int | None, result: ImportResult,  # noqa: ANN001
                 cmap: ColumnMap, dry_run: bool) -> None:
        self.conn, self.run_id, self.result, self.cmap, self.dry_run = conn, run_id, result, cmap, dry_run
        self.cal: WorkCalendar = settings.work_calendar()
        self.rules = settings.rule_settings()
        self.fp = settings.fingerprint()
        self.catalogue = _Catalogue(engine, dry_run, run_id)
        self.parser = RowParser(cmap, self.cal)
        # codes seen in this file -> first line, keyed by the code's hash: small entries for big files
        self.seen: dict[int, int] = {}
        self.now = now_local()
        if engine.dialect.name == "postgresql":
            self.store: _SqliteStore | _PgStore = _PgStore(run_id, self.now, self.fp)
        else:
            self.store = _SqliteStore(run_id, self.now, self.fp, _absent_columns(cmap))

    def flush(self, batch: Batch) -> None:
        if not len(batch):
            return
        res, conn = self.result, self.conn
        counted, warned = [getattr(res, k) for k in _COUNTERS], len(res.warnings)
        try:
            rejections = self._flush(conn, batch)
        except BaseException:  # the batch's transaction was rolled back: so are its counts
            for k, v in zip(_COUNTERS, counted, strict=True):
                setattr(res, k, v)
            del res.warnings[warned:]
            raise
        res.rejections.extend(rejections[: max(0, 50 - len(res.rejections))])

    def _flush(self, conn, batch: Batch) -> list[Rejection]:  # noqa: ANN001
        """One batch in one transaction; the rejections."""
        with conn.begin():
            cursor = conn.connection.driver_connection.cursor()
            try:
                # a code with a control character is never stored (parse_row rejects it): not looked up
                # either (PostgreSQL refuses NUL in a text parameter)
                codes = batch.codes
                if UNSAFE.search("".join(codes)):
                    codes = ["" if UNSAFE.search(c) else c for c in codes]
                # the rows stored as they are (the whole batch, in a re-import), then the others
                stored = self.store.unchanged(cursor, codes, batch.hashes)
                rest = list({c for c, h in zip(codes, batch.hashes, strict=True) if c and stored.get(c) != h})
                details = self.store.details(cursor, rest) if rest else {}
                stored.update((c, d[0]) for c, d in details.items())
                rows, history, rejections = self._sort(conn, batch, stored, details)
                if not self.dry_run:
                    self._write(conn, cursor, rows, history, rejections)
            finally:
                cursor.close()
        return rejections

    def _sort(self, conn, batch: Batch, stored: dict[str, str], details: dict[str, tuple]  # noqa: ANN001
              ) -> tuple[list[dict[str, Any]], list[tuple[str, int | None, int]], list[Rejection]]:
        """Each row of a batch to its fate: unchanged, rejected, or a row to write (and history).
        `stored`: code -> row hash of the dossiers already stored; `details`: code -> (row hash,
        status, first seen finished, data hash) of those a row of the batch differs from."""
        seen, parse, build = self.seen, self.parser.parse, self._build
        rows: list[dict[str, Any]] = []
        history: list[tuple[str, int | None, int, int]] = []  # code, previous status, status, seq
        rejections: list[Rejection] = []
        pending: dict[str, str] = {}  # code -> hash, rows of this batch
        inserted = updated = unchanged = 0
        for i, (line, code, h) in enumerate(zip(batch.lines, batch.codes, batch.hashes, strict=True)):
            digest = hash(code)
            if code and digest in seen:
                first_hash = pending.get(code) or stored.get(code)
                if first_hash == h:
                    unchanged += 1
                    continue
                if first_hash is not None:
                    rejections.append(Rejection(
                        line, self.cmap.label("code"), code, "the same dossier code appears earlier in "
                        f"this file (line {seen[digest]}) with different data", raw_of(batch.cells(i), self.cmap)))
                    continue
            stored_hash = stored.get(code)
            if stored_hash == h:
                seen[digest] = line
                unchanged += 1
                continue
            rec, rej = parse(line, batch.cells(i))
            if rej is not None:
                rejections.append(rej)
                continue
            if "cleaned" in rec:
                self._cleaned(line, rec["cleaned"])
            seen[digest] = line
            pending[code] = h
            old = details.get(code) if stored_hash is not None else None
            row = build(conn, rec, h, old)
            if row is None:
                unchanged += 1  # the same data in another shape (e.g. our own export of it)
                continue
            rows.append(row)
            if old is None:
                inserted += 1
                history.append((code, None, row["status"], 0))
            else:
                updated += 1
                if old[1] != row["status"]:
                    # the next entry after the last one this batch saw: if another import wrote it
                    # meanwhile (from the same stale view), the unique (dossier, seq) drops this one
                    history.append((code, old[1], row["status"], 0 if old[5] is None else old[5] + 1))
        res = self.result
        res.rows_read += len(batch)
        res.inserted += inserted
        res.updated += updated
        res.unchanged += unchanged
        res.rejected += len(rejections)
        return rows, history, rejections

    def _cleaned(self, line: int, labels: list[str]) -> None:
        res = self.result
        res.cleaned += 1
        if len(res.warnings) < 20:
            res.warnings.append(f"line {line}: control characters removed from {', '.join(labels)}")

    def _build(self, conn, rec: dict[str, Any], h: str, old: tuple | None) -> dict[str, Any] | None:  # noqa: ANN001
        """The row to store for a parsed record: its source values, what the product keeps beside
        them (first seen finished, derived columns); None when a stored dossier has the same data."""
        limit = rec["limit"]
        row = {f: rec[f] for f in _SOURCE_FIELDS}
        row["unit_id"] = self.catalogue.unit(conn, rec)
        row["procedure_id"] = pid = self.catalogue.procedure(conn, rec, limit)
        row["limit_value"] = limit.value if limit else None
        row["limit_unit"] = limit.unit if limit else None
        _supplements(row, rec.get("supplements") or (), old)
        row["data_hash"] = _data_hash(row)
        if old is not None and old[3] == row["data_hash"]:
            return None
        first_seen = rec["first_seen_finished_at"] or (self.store.moment(old[2]) if old else None)
        if (first_seen is None and row["status"] in ENDED_STATUSES and old is not None
                and old[1] not in ENDED_STATUSES):
            # seen open by an earlier import, ended now: the best finish moment we will have (RULES §5).
            # A dossier first seen already ended keeps none: it is not stamped with the import's clock.
            first_seen = self.now
        row["first_seen_finished_at"] = first_seen
        row.update(derive(row, limit or self.catalogue.proc_limit.at(pid, row["received_at"]), self.cal, self.rules,
                          self.fp))
        row["row_hash"] = h
        return row

    def _write(self, conn, cursor, rows, history, rejections) -> None:  # noqa: ANN001
        res = self.result
        if rows:
            self.store.write(cursor, rows, history)
            _replace_supplements(conn, [r for r in rows if r["_replace_pairs"]])
        filled = self.catalogue.filled
        if filled:  # rows derived before their procedure had a limit, this batch's included
            conn.execute(update(Dossier).where(Dossier.procedure_id.in_(sorted(filled))).values(derived_fp=""))
            self.catalogue.any_filled = True
            filled.clear()
        if rejections:
            conn.execute(RejectedRow.__table__.insert(), _rejected_rows(self.run_id, rejections))
        conn.execute(update(ImportRun).where(ImportRun.id == self.run_id).values(
            rows_read=res.rows_read, inserted=res.inserted, updated=res.updated,
            unchanged=res.unchanged, rejected=res.rejected))


@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    """Python's cycle collector off while rows stream through. A million-row import allocates
    tens of millions of short-lived lists, tuples and dicts (no cycles among them), and every
    collection they trigger walks the whole process's objects: a fifth of a re-import's time.
    Turned back on afterwards (when it was on): what the import left behind is collected then."""
    was_on = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_on:
            gc.enable()


# SQLite settings of the import's connection, for the length of an import (restored after)
_SQLITE_IMPORT_PRAGMAS = {
    # checked upserts cost four times as much, and a batch only references rows it just resolved
    # in the same transaction (tests run PRAGMA foreign_key_check after imports)
    "foreign_keys": 0,
    # the pages a batch touches stay cached for the next one instead of being read back
    "cache_size": -16 * 1024,
    # a checkpoint every ~100 MB of WAL, not every 4 MB: each one syncs the WAL and the database
    # file to disk, and a page rewritten by several batches is copied back once (a tenth less
    # written in all for a million rows). The WAL keeps every commit consistent whatever the
    # interval; synchronous=NORMAL is unchanged. The WAL is truncated again at the end.
    "wal_autocheckpoint": 25_000,
    "busy_timeout": 30_000,  # as tracker.db sets it; shortened for that truncation only
}


@contextlib.contextmanager
def _import_connection(engine: Engine) -> Iterator[Any]:
    """The connection an import writes through, a transaction per batch."""
    with engine.connect() as conn:
        saved = {}
        if engine.dialect.name == "sqlite":
            for name, value in _SQLITE_IMPORT_PRAGMAS.items():
                saved[name] = conn.exec_driver_sql(f"PRAGMA {name}").scalar()
                conn.exec_driver_sql(f"PRAGMA {name}={int(value)}")  # foreign_keys: outside a transaction
            conn.commit()
        try:
            yield conn
        finally:
            conn.rollback()
            if saved:
                # give back the WAL file the import grew, unless readers hold it (then it stays,
                # and is reused: nothing is lost either way)
                conn.exec_driver_sql("PRAGMA busy_timeout=100")
                conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)").close()
            for name, value in saved.items():
                conn.exec_driver_sql(f"PRAGMA {name}={int(value)}")
            conn.commit()


BULK_BYTES = 8 << 20  # a first import of a file this big (or bigger) builds the indexes at its end


@contextlib.contextmanager
def _indexes_deferred(conn, big: bool) -> Iterator[None]:  # noqa: ANN001
    """A big file's import into an empty dossier table writes the rows first and builds the
    secondary indexes once, at the end: sorted, in one pass, instead of an entry at a time at
    random places (a third of a 1,000,000-row first import; bench/import_csv.py). The unique
    code index stays, for the upserts. Only into an empty table: a table with dossiers serves
    lists and reports from these indexes meanwhile. The indexes are built again however the
    import ends; if the process is killed, the next import (or `tthc db upgrade`) builds them
    (tracker.db.restore_indexes), and until then queries are slower, never wrong."""
    with conn.begin():
        rebuilt = restore_indexes(conn)  # what an earlier import, killed, left missing
        empty = conn.execute(select(Dossier.id).limit(1)).first() is None
    if rebuilt:
        log.warning("dossier indexes built again (an import wrote without them and stopped, or is writing "
                    "now): %s", ", ".join(rebuilt))
    if not (big and empty):
        yield
        return
    with conn.begin():
        drop_indexes(conn)
    try:
        yield
    finally:
        conn.rollback()  # whatever an exception left open
        with conn.begin():
            restore_indexes(conn)


def _absent_columns(cmap: ColumnMap) -> frozenset[str]:
    """Dossier columns NULL in every row of a file, as it has no column for them (parse_row)."""
    absent = {f for f in DATE_FIELDS if f not in cmap.fields}
    if "channel" not in cmap.fields:
        absent.add("channel")
    if "limit_text" not in cmap.fields:
        absent.update(("limit_value", "limit_unit"))
    return frozenset(absent)


# what the import keeps the same for every row of a run: written as SQL literals, not bound per row
_RUN_CONSTANTS = ("import_run_id", "created_at", "updated_at", "derived_fp")
# of a stored dossier whose row changed; the last seq of its status history
_DETAILS = ("d.code, d.row_hash, d.status, d.first_seen_finished_at, d.data_hash, d.supplement_count, "
            "(SELECT max(s.seq) FROM status_change s WHERE s.dossier_id = d.id)")


class _SqliteStore:
    """Batched look-ups and writes through the sqlite3 driver itself.

    Binding costs dominate there: sqlite3 binds an int or a str directly, but looks for an
    adapter for None and for bool (several times the cost). So a NULL is bound as a value of
    another storage class than the column ever holds (0 for text, '' for numbers) and turned
    back by NULLIF in the statement; booleans are bound as 0/1, which is how SQLAlchemy stores
    them. Datetimes are bound as the text SQLAlchemy writes ('YYYY-MM-DD HH:MM:SS.ffffff')."""

    CHUNK = 500  # codes per look-up: well below any SQLite's limit on bound parameters

    def __init__(self, run_id: int | None, now: datetime, fp: str, nulls: frozenset[str] = frozenset()) -> None:
        """`nulls`: columns NULL in every row of this import (the file has no column for them)."""
        table = Dossier.__table__
        constant = {*_RUN_CONSTANTS, *nulls}
        self.columns = tuple(c for c in WRITE_COLUMNS if c not in constant)
        marks, self.datetimes, self.numbers, self.texts, self.booleans = [], [], [], [], []
        for i, name in enumerate(self.columns):
            col = table.c[name]
            kind = col.type.python_type
            mark = "?"
            if kind is datetime:
                self.datetimes.append(i)
                mark = "NULLIF(?, 0)"
            elif kind is bool:
                self.booleans.append(i)
            elif col.nullable and kind in (int, float):
                self.numbers.append(i)
                mark = "NULLIF(?, '')"
            elif col.nullable:
                self.texts.append(i)
                mark = "NULLIF(?, 0)"
            marks.append(mark)
        stamp = _sql_text(now.isoformat(" ", "microseconds"))
        self.moments = {now: now.isoformat(" ", "microseconds")}  # first seen finished: now, mostly
        constants = {"import_run_id": "NULL" if run_id is None else str(int(run_id)), "created_at": stamp,
                     "updated_at": stamp, "derived_fp": _sql_text(fp), **dict.fromkeys(nulls, "NULL")}
        names = [*self.columns, *constants]
        values = [*marks, *constants.values()]
        sets = ", ".join(f"{c} = excluded.{c}" for c in names if c not in _KEEP_ON_UPDATE)
        self.upsert_sql = (f"INSERT INTO dossier ({', '.join(names)}) VALUES ({', '.join(values)}) "
                           f"ON CONFLICT (code) DO UPDATE SET {sets} WHERE dossier.row_hash <> excluded.row_hash")
        history = ("INSERT INTO status_change (dossier_id, previous_status, status, seq, seen_at, import_run_id) "
                   f"SELECT id, {{}}, {stamp}, {constants['import_run_id']} FROM dossier")
        skip = " ON CONFLICT (dossier_id, seq) DO NOTHING"  # already recorded (tracker.models.StatusChange)
        self.history_sql = history.format("?, ?, ?") + " WHERE code = ?" + skip
        self.new_history_sql = history.format("NULL, status, 0") + " WHERE id > ? ORDER BY id" + skip
        self.pick = itemgetter(*self.columns)

    def unchanged(self, cursor, codes: list[str], hashes: list[str]) -> dict[str, str]:  # noqa: ANN001
        """code -> row hash of the rows stored with the same row hash: SQLite compares, so only
        codes come back."""
        found: dict[str, str] = {}
        pairs = self.CHUNK * 4 // 5  # two parameters each
        for i in range(0, len(codes), pairs):
            params = [x for pair in zip(codes[i:i + pairs], hashes[i:i + pairs], strict=True) for x in pair]
            cursor.execute(f"WITH v(code, h) AS (VALUES {', '.join(['(?, ?)'] * (len(params) // 2))}) "
                           "SELECT v.code, v.h FROM v JOIN dossier d ON d.code = v.code AND d.row_hash = v.h",
                           params)
            found.update(cursor.fetchall())
        return found

    def details(self, cursor, codes: list[str]) -> dict[str, tuple]:  # noqa: ANN001
        """code -> (row hash, status, first seen finished, data hash) of the stored ones."""
        return {c: rest for c, *rest in self._select(cursor, _DETAILS, codes)}

    def _select(self, cursor, columns: str, codes: list[str]) -> list[tuple]:  # noqa: ANN001
        found: list[tuple] = []
        for i in range(0, len(codes), self.CHUNK):
            chunk = codes[i:i + self.CHUNK]
            cursor.execute(f"SELECT {columns} FROM dossier d WHERE d.code IN ({', '.join('?' * len(chunk))})", chunk)
            found += cursor.fetchall()
        return found

    @staticmethod
    def moment(value: str | None) -> datetime | None:
        return None if value is None else datetime.fromisoformat(value)

    def params(self, row: dict[str, Any]) -> list:
        values = list(self.pick(row))
        texts = self.moments.copy()  # a row repeats its moments: the due used is the due, and so on
        for i in self.datetimes:
            v = values[i]
            if v is None:
                values[i] = 0
            else:
                text = texts.get(v)
                if text is None:
                    text = texts[v] = v.isoformat(" ", "microseconds")
                values[i] = text
        for i in self.numbers:
            if values[i] is None:
                values[i] = ""
        for i in self.texts:
            if values[i] is None:
                values[i] = 0
        for i in self.booleans:
            values[i] = 1 if values[i] else 0
        return values

    def write(self, cursor, rows: list[dict[str, Any]], history: list[tuple[str, int | None, int, int]]) -> None:  # noqa: ANN001
        """Upsert the rows; then the history: of the new dossiers (every one the upsert inserted:
        they have the ids after the largest, SQLite's rowid rule, as nothing else writes to the
        table inside the batch's transaction) in one statement, status changes by code."""
        last_id = cursor.execute("SELECT max(id) FROM dossier").fetchone()[0] or 0
        cursor.executemany(self.upsert_sql, [self.params(r) for r in rows])
        cursor.execute(self.new_history_sql, (last_id,))
        cursor.executemany(self.history_sql, [(prev, status, seq, code) for code, prev, status, seq in history
                                              if prev is not None])


def _sql_text(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


class _PgStore:
    """PostgreSQL: one round trip per batch for each of look-up, upsert and history.

    The codes of a batch go as an array; each is looked up through a LATERAL … LIMIT 1
    subquery, which the planner cannot turn into a join: with the statistics of a table that
    grew by a million rows since it was last analysed, it hashes the whole table for every
    batch instead of probing the code index 5,000 times (15 times slower at 200,000 rows)."""

    def __init__(self, run_id: int | None, now: datetime, fp: str) -> None:
        self.run_id, self.now, self.fp = run_id, now, fp
        self.columns = (*(c for c in WRITE_COLUMNS if c not in _RUN_CONSTANTS), *_RUN_CONSTANTS)
        self.pick = itemgetter(*self.columns[:-len(_RUN_CONSTANTS)])
        self.constants = tuple({"import_run_id": run_id, "created_at": now, "updated_at": now,
                                "derived_fp": fp}[c] for c in _RUN_CONSTANTS)
        self.types: list[int] | None = None

    def unchanged(self, cursor, codes: list[str], hashes: list[str]) -> dict[str, str]:  # noqa: ANN001
        cursor.execute("SELECT v.code, v.h FROM unnest(%s::text[], %s::text[]) AS v(code, h) CROSS JOIN LATERAL "
                       "(SELECT 1 FROM dossier d WHERE d.code = v.code AND d.row_hash = v.h LIMIT 1) AS d",
                       (codes, hashes), binary=True)
        return dict(cursor.fetchall())

    def details(self, cursor, codes: list[str]) -> dict[str, tuple]:  # noqa: ANN001
        cursor.execute(f"SELECT {_DETAILS} FROM unnest(%s::text[]) AS v(c) CROSS JOIN LATERAL "
                       "(SELECT * FROM dossier d WHERE d.code = v.c LIMIT 1) AS d", (codes,), binary=True)
        return {c: tuple(rest) for c, *rest in cursor.fetchall()}

    @staticmethod
    def moment(value: datetime | None) -> datetime | None:
        return value

    def write(self, cursor, rows: list[dict[str, Any]], history: list[tuple[str, int | None, int, int]]) -> None:  # noqa: ANN001
        """COPY the batch into a transaction-scoped staging table, then one INSERT … SELECT …
        ON CONFLICT whose RETURNING feeds the history: a round trip per batch, not one per row."""
        cols = ", ".join(self.columns)
        cursor.execute("CREATE TEMP TABLE IF NOT EXISTS dossier_stage (LIKE dossier INCLUDING DEFAULTS) "
                       "ON COMMIT DELETE ROWS")
        if self.types is None:  # binary COPY: five times as fast as text for psycopg to write
            cursor.execute(f"SELECT {cols} FROM dossier_stage LIMIT 0")
            self.types = [d.type_code for d in cursor.description]
        pick, constants = self.pick, self.constants
        with cursor.copy(f"COPY dossier_stage ({cols}) FROM STDIN (FORMAT BINARY)") as copy:
            copy.set_types(self.types)
            for r in rows:
                copy.write_row((*pick(r), *constants))
        sets = ", ".join(f"{c} = excluded.{c}" for c in self.columns if c not in _KEEP_ON_UPDATE)
        # rows in code order: two imports writing the same dossiers then take their row locks in
        # the same order and one waits for the other, where files in opposite orders deadlocked
        upsert = (f"INSERT INTO dossier ({cols}) SELECT {cols} FROM dossier_stage ORDER BY code "
                  f"ON CONFLICT (code) DO UPDATE SET {sets} WHERE dossier.row_hash <> excluded.row_hash")
        if not history:
            cursor.execute(upsert)
            return
        codes, prevs, statuses, seqs = (list(x) for x in zip(*history, strict=True))
        cursor.execute(
            f"WITH written AS ({upsert} RETURNING id, code) "
            "INSERT INTO status_change (dossier_id, previous_status, status, seq, seen_at, import_run_id) "
            "SELECT w.id, v.prev, v.st, v.seq, %s, %s FROM unnest(%s::text[], %s::int[], %s::int[], %s::int[]) "
            "WITH ORDINALITY AS v(code, prev, st, seq, n) JOIN written AS w ON w.code = v.code ORDER BY w.id, v.n "
            "ON CONFLICT (dossier_id, seq) DO NOTHING",  # already recorded (tracker.models.StatusChange)
            (self.now, self.run_id, codes, prevs, statuses, seqs), binary=True)


def _open(path: Path, fmt: str | None, mapping: dict[str, str] | None, limits: ReadLimits):  # noqa: ANN202
    return readers.open_export(path, fmt, mapping, limits)


def import_file(engine: Engine, settings: Settings, path: str | Path, *, source: str = "file",
                fmt: str | None = None, mapping: dict[str, str] | None = None, dry_run: bool = False,
                strict: bool = False, batch_size: int | None = None,
                progress: Callable[[int], None] | None = None) -> ImportResult:
    """Import one export file. Never raises for bad data, a full disk or a database that stops
    answering: the result says what happened, and a run it started is never left `running`."""
    path = Path(path)
    started = clock.perf_counter()
    result = ImportResult(file=path.name)
    batch_size = batch_size or settings.get("import.batch_size")
    mapping = {**settings.get("import.mapping"), **(mapping or {})}
    limits = read_limits(settings)

    def fail(message: str) -> ImportResult:
        result.status, result.message = "failed", one_line(message)
        result.seconds = clock.perf_counter() - started
        if not dry_run:
            result.run_id = _record_failed_run(engine, source, path, result)
        return result

    try:
        if strict:
            try:
                bad = _strict_check(path, fmt, mapping, settings.work_calendar(), limits)
            except FileRejected as exc:
                return fail(str(exc))
            if bad:
                result.rejections = bad[:50]
                return fail(f"{path.name}: --strict and {len(bad)} row(s) rejected, first: {bad[0]}")
        with source_lock(engine, source):
            try:
                src, cmap, rows = _open(path, fmt, mapping, limits)
            except FileRejected as exc:
                return fail(str(exc))
            result.sha256, result.skipped = src.sha256, src.skipped
            result.format = src.format
            return _run(engine, settings, path, source, result, src, cmap, rows, dry_run, batch_size, progress,
                        started)
    except LockBusy as exc:  # nothing was read or written: no run is recorded
        result.status, result.message = "busy", str(exc)
        result.seconds = clock.perf_counter() - started
        return result
    except (OSError, SQLAlchemyError) as exc:  # before a run was started, or while recording its end
        log.error("import of %s failed: %s", path.name, stopped_reason(exc))
        if result.run_id is not None and not dry_run:  # started, then its end could not be written
            return _stopped(engine, result, f"{path.name}: {stopped_reason(exc)}", started)
        result.status, result.message = "failed", f"{path.name}: {stopped_reason(exc)}"
        result.seconds = clock.perf_counter() - started
        return result


def read_limits(settings: Settings) -> ReadLimits:
    """The import.max_* settings, for the readers."""
    return ReadLimits(rows=settings.get("import.max_rows"), columns=settings.get("import.max_columns"),
                      cells=settings.get("import.max_cells"), megabytes=settings.get("import.max_megabytes"))


def one_line(message: str) -> str:
    """A reason as one line: what it quotes from the file (a cell with a line break, a control
    character) shown escaped or as a space."""
    return safe_text(shown(message), one_line=True)


def stopped_reason(exc: BaseException) -> str:
    """One line saying why an import stopped, for a disk that is full, a file system that is read
    only, a database that went away: the driver's own first line, not a traceback."""
    orig = getattr(exc, "orig", None) or exc
    if isinstance(orig, OSError) and orig.strerror:
        where = f" ({orig.filename})" if orig.filename else ""
        return f"{orig.strerror}{where}"
    text = str(orig).strip()
    first = text.splitlines()[0] if text else ""
    return f"{type(orig).__name__}: {first}" if first else type(orig).__name__


def _strict_check(path: Path, fmt: str | None, mapping: dict[str, str] | None, cal: WorkCalendar,
                  limits: ReadLimits) -> list[Rejection]:
    """A first pass that writes nothing: every row that would be rejected."""
    _, cmap, rows = _open(path, fmt, mapping, limits)
    bad: list[Rejection] = []
    seen: dict[str, tuple[int, tuple]] = {}
    parse = RowParser(cmap, cal).parse
    for line, cells in rows:
        rec, rej = parse(line, cells)
        if rej is not None:
            bad.append(rej)
            continue
        key = tuple(cells)
        first = seen.setdefault(rec["code"], (line, key))
        if first[1] != key:
            bad.append(Rejection(line, cmap.label("code"), rec["code"], "the same dossier code appears "
                                 f"earlier in this file (line {first[0]}) with different data"))
    return bad


def _run(engine: Engine, settings: Settings, path: Path, source: str, result: ImportResult, src: Source,
         cmap: ColumnMap, rows: Iterator[tuple[int, list[str]]], dry_run: bool, batch_size: int,
         progress: Callable[[int], None] | None, started: float) -> ImportResult:
    run_id = None if dry_run else _start_run(engine, source, path, result)
    result.run_id = run_id
    try:
        with _import_connection(engine) as conn, _collector_paused():
            writer = _Writer(engine, conn, settings, run_id, result, cmap, dry_run)
            with _indexes_deferred(conn, not dry_run and file_size(path) >= BULK_BYTES):
                for batch in batches(path, src, rows, keyer=Keyer(cmap), size=batch_size):
                    writer.flush(batch)
                    if progress and len(batch) == batch_size:
                        progress(result.rows_read)
    except FileRejected as exc:  # found while reading on (a reader that could not check everything first)
        return _stopped(engine, result, str(exc), started)
    except (OSError, SQLAlchemyError) as exc:  # a full disk, a read-only file system, the database gone
        return _stopped(engine, result, f"{path.name}: the import stopped after {result.rows_read} row(s): "
                                        f"{stopped_reason(exc)}", started)
    except Exception as exc:  # a defect of ours: the run says so, the log has the traceback
        log.exception("import of %s failed", path.name)
        return _stopped(engine, result, f"{path.name}: the import stopped after {result.rows_read} row(s) on an "
                                        f"internal error ({stopped_reason(exc)})", started)
    except BaseException as exc:  # interrupted (Ctrl-C, SystemExit): recorded, then on its way
        _stopped(engine, result, f"{path.name}: the import was interrupted after {result.rows_read} row(s) "
                                 f"({type(exc).__name__})", started)
        raise
    if progress:
        progress(result.rows_read)
    if writer.catalogue.any_filled:
        refresh_derived(engine, writer.cal, writer.rules, writer.fp)
    result.new_units = writer.catalogue.new_units
    result.new_procedures = writer.catalogue.new_procedures
    result.status = "dry-run" if dry_run else ("partial" if result.rejected else "done")
    result.seconds = clock.perf_counter() - started
    if not dry_run:
        _finish_run(engine, run_id, result)
    return result


def _stopped(engine: Engine, result: ImportResult, message: str, started: float) -> ImportResult:
    """The run marked failed with `message`: what the batches committed before stays (each is whole)."""
    result.status = "failed"
    if result.inserted or result.updated:
        message += f"; the {result.inserted + result.updated} row(s) stored before that are kept"
    result.message = one_line(message)
    result.seconds = clock.perf_counter() - started
    if result.run_id is None:
        return result
    try:
        _finish_run(engine, result.run_id, result, keep_message=True)
    except SQLAlchemyError as exc:  # the disk is still full: the next import of the source marks it
        log.error("import run %s could not be marked failed (%s); the next import of its source marks it "
                  "interrupted", result.run_id, stopped_reason(exc))
    return result


def _start_run(engine: Engine, source: str, path: Path, result: ImportResult) -> int:
    with engine.begin() as conn:
        # we hold the source's lock: a run still marked running was killed
        conn.execute(update(ImportRun).where(ImportRun.source == source, ImportRun.status == "running")
                     .values(status="interrupted", finished_at=now_local(),
                             message="the import process stopped before the end of the file"))
        return conn.execute(ImportRun.__table__.insert().values(
            source=source, file_name=shown(str(path))[:1000], sha256=result.sha256, format=result.format,
            started_at=now_local(), status="running", message="")).inserted_primary_key[0]


def _finish_run(engine: Engine, run_id: int, result: ImportResult, *, keep_message: bool = False) -> None:
    if not keep_message:
        notes = []
        if result.new_units:
            notes.append(f"new units: {', '.join(result.new_units[:20])}")
        if result.new_procedures:
            notes.append(f"new procedures: {len(result.new_procedures)}")
        if result.cleaned:
            notes.append(f"control characters removed from {result.cleaned} row(s), first: "
                         + ", ".join(result.warnings[:3]))
        notes += result.skipped[:10]
        result.message = "; ".join(notes)
    with engine.begin() as conn:
        conn.execute(update(ImportRun).where(ImportRun.id == run_id).values(
            finished_at=now_local(), status=result.status, rows_read=result.rows_read,
            inserted=result.inserted, updated=result.updated, unchanged=result.unchanged,
            rejected=result.rejected, message=shown(result.message)[:5000]))
        data_version.bump(conn)  # what the run stored is now what pages may show


def _record_failed_run(engine: Engine, source: str, path: Path, result: ImportResult) -> int:
    with engine.begin() as conn:
        run_id = conn.execute(ImportRun.__table__.insert().values(
            source=source, file_name=shown(str(path))[:1000], sha256=result.sha256, format=result.format,
            started_at=now_local(), finished_at=now_local(), status="failed",
            message=shown(result.message)[:5000])).inserted_primary_key[0]
        if result.rejections:
            conn.execute(RejectedRow.__table__.insert(), _rejected_rows(run_id, result.rejections))
    return run_id


def _rejected_rows(run_id: int | None, rejections: list[Rejection]) -> list[dict[str, Any]]:
    """Rejected rows to store, what they quote shown with escapes for control characters: the
    desk sees what was there, and no database refuses it (PostgreSQL and NUL)."""
    return [{"run_id": run_id, "line": r.line, "column": shown(r.column)[:200], "value": shown(r.value),
             "reason": shown(r.reason), "raw": json.dumps({shown(k): shown(v) for k, v in r.raw.items()},
                                                          ensure_ascii=False)}
            for r in rejections]


def _supplements(row: dict[str, Any], pairs: tuple[SupplementPair, ...], old: tuple | None) -> None:
    """The row's pairs and their summary. A source with only the last pair's columns (no list)
    has that one pair; a list fills the last pair's columns when the source left them empty."""
    row["supplements"] = pairs
    counted = counted_pairs(pairs)
    if counted and row["supplement_requested_at"] is None and row["resubmitted_at"] is None:
        row["supplement_requested_at"], row["resubmitted_at"] = counted[-1].requested_at, counted[-1].resubmitted_at
    if not pairs and row["supplement_requested_at"] is not None:
        counted = [SupplementPair(row["supplement_requested_at"], row["resubmitted_at"])]
    row.update(supplement_summary(counted))
    # its stored pairs are replaced when it has some now, or had some
    row["_replace_pairs"] = bool(pairs) or bool(old is not None and len(old) > 4 and old[4])


def _replace_supplements(conn, rows: list[dict[str, Any]]) -> None:  # noqa: ANN001
    """Each row's pairs replace the stored ones (the rows were just written: their ids exist)."""
    if not rows:
        return
    table = Supplement.__table__
    ids: dict[str, int] = {}
    for i in range(0, len(rows), 500):
        codes = [r["code"] for r in rows[i:i + 500]]
        ids.update((code, did) for code, did in conn.execute(select(Dossier.code, Dossier.id).where(
            Dossier.code.in_(codes))))
    conn.execute(table.delete().where(table.c.dossier_id.in_(sorted(ids.values()))))
    values = [{"dossier_id": ids[r["code"]], "seq": n, "requested_at": p.requested_at,
               "resubmitted_at": p.resubmitted_at, "previous_due_at": p.previous_due_at, "new_due_at": p.new_due_at}
              for r in rows for n, p in enumerate(r["supplements"], 1)]
    if values:
        conn.execute(table.insert(), values)
