"""A batch of an export's rows to the database: look up what is stored, parse what changed, resolve
units and procedures, derive, upsert, and account for every row in the run's counters.

Each batch is one transaction that also moves the run's counters (tracker.ingest.runs), so a
process killed mid-file leaves a consistent database. A row whose raw cells hash to what is
stored is unchanged without being parsed; a parsed row whose stored values (the data hash) are
the same is unchanged too.
"""

from __future__ import annotations

import hashlib
from operator import itemgetter
from typing import Any

from sqlalchemy import Engine, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from tracker.calendar import WorkCalendar
from tracker.clock import now_local
from tracker.config import Settings
from tracker.derive import derive, procedure_limits
from tracker.display import UNSAFE
from tracker.ingest.batches import Batch
from tracker.ingest.columns import DATE_FIELDS, ColumnMap
from tracker.ingest.rows import Rejection, RowParser, raw_of
from tracker.ingest.runs import ImportResult, rejected_rows
from tracker.ingest.stores import WRITE_LOCK_KEY, PgStore, SqliteStore, absent_columns
from tracker.ingest.text import name_key
from tracker.limits import LimitVersion
from tracker.models import Dossier, ImportRun, Procedure, ProcedureLimit, RejectedRow, Supplement, Unit
from tracker.portal766 import SupplementPair, counted_pairs, pairs_json, supplement_summary
from tracker.rules import ENDED_STATUSES, TimeLimit

# what the data hash covers: the stored source values, after parsing and resolving
_DATA_HEAD = ("code", "unit_id", "procedure_id", "channel", "status")
_DATA_TAIL = ("limit_value", "limit_unit", "applicant_name", "applicant_phone")
DATA_FIELDS = (*_DATA_HEAD, *DATE_FIELDS, *_DATA_TAIL)
# the parsed source values a row stores as they are
SOURCE_FIELDS = ("code", "channel", "status", *DATE_FIELDS, "applicant_name", "applicant_phone")


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
        postgres = conn.dialect.name == "postgresql"
        if postgres:  # the batch's writer lock first (PgStore.write): catalogue rows are then never
            # taken in opposite orders by two imports either
            conn.exec_driver_sql("SELECT pg_advisory_xact_lock(%s)", (WRITE_LOCK_KEY,))
        insert = pg_insert if postgres else sqlite_insert
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
            # since forever; the procedure's dossiers derived without it are derived again (BatchWriter)
            if not self.dry_run:
                conn.execute(ProcedureLimit.__table__.insert().values(
                    procedure_id=pid, effective_from=None, limit_value=limit.value, limit_unit=limit.unit,
                    limit_text=rec.get("limit_text", "")))
                self.filled.add(pid)
            self.proc_limit.add(pid, LimitVersion(limit, None, rec.get("limit_text", "")))
        return pid

_HASHED_HEAD, _HASHED_DATES, _HASHED_TAIL = itemgetter(*_DATA_HEAD), itemgetter(*DATE_FIELDS), itemgetter(*_DATA_TAIL)


def data_hash(row: dict[str, Any]) -> str:
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


class BatchWriter:
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
            self.store: SqliteStore | PgStore = PgStore(run_id, self.now, self.fp)
        else:
            self.store = SqliteStore(run_id, self.now, self.fp, absent_columns(cmap))

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
        row = {f: rec[f] for f in SOURCE_FIELDS}
        row["unit_id"] = self.catalogue.unit(conn, rec)
        row["procedure_id"] = pid = self.catalogue.procedure(conn, rec, limit)
        row["limit_value"] = limit.value if limit else None
        row["limit_unit"] = limit.unit if limit else None
        _supplements(row, rec.get("supplements") or (), old)
        row["data_hash"] = data_hash(row)
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
            conn.execute(RejectedRow.__table__.insert(), rejected_rows(self.run_id, rejections))
        conn.execute(update(ImportRun).where(ImportRun.id == self.run_id).values(
            rows_read=res.rows_read, inserted=res.inserted, updated=res.updated,
            unchanged=res.unchanged, rejected=res.rejected))

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
