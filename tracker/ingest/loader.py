"""Importing dossier exports: validate every row, upsert in batches, account for every row.

For each run: rows read = inserted + updated + unchanged + rejected. Each batch is one
transaction that also moves the run's counters, so a process killed mid-file leaves a consistent
database, and running the same file again completes the job (rows already stored are unchanged).

`import_file` is the one entry point; here it opens the file under its source's lock and runs an
ImportJob. The work is done by the modules named for each part:

    tracker.ingest.readers   the file to (line, cells) rows
    tracker.ingest.batches   rows to batches, each row's hash over its raw cells
    tracker.ingest.rows      a row to a record, or its rejection (parse_row, RowParser)
    tracker.ingest.writer    a batch to the database: look up, parse, resolve, derive, write
    tracker.ingest.stores    the database side: SQLite and PostgreSQL stores, the connection
    tracker.ingest.runs      the run ledger: ImportResult and the import_run row

Speed (bench/import_csv.py; where the time goes is written down there): a row's hash is taken
over its raw cells first, so a row that is already stored unchanged costs one hash and a batched
look-up, never a parse; a big file is read, split and hashed by a second process meanwhile
(tracker.ingest.batches). New and changed rows are parsed by RowParser (parse_row's answers,
quicker for the common shapes), derived and written with one driver-level statement per batch;
on SQLite the import's connection keeps a bigger page cache and checkpoints less often, and
Python's cycle collector rests while rows stream through. A big file's import into an empty
table builds the secondary indexes at its end (tracker.ingest.stores.indexes_deferred).
"""

from __future__ import annotations

import contextlib
import gc
import logging
import time as clock
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from tracker.calendar import WorkCalendar
from tracker.config import Settings
from tracker.derive import refresh_derived
from tracker.ingest import readers
from tracker.ingest.base import Rows
from tracker.ingest.batches import Keyer, batches, file_size
from tracker.ingest.columns import ColumnMap
from tracker.ingest.readers import FileRejected, ReadLimits, Source
from tracker.ingest.rows import Rejection, RowParser, parse_row, raw_of
from tracker.ingest.runs import ImportResult, finish_run, one_line, record_failed_run, start_run, stopped_reason
from tracker.ingest.stores import import_connection, indexes_deferred
from tracker.ingest.writer import BatchWriter
from tracker.locks import LockBusy, source_lock

# import_file's result types, and what was imported from here before the split (row parsing:
# tracker.ingest.rows; the run ledger: tracker.ingest.runs)
__all__ = ["BULK_BYTES", "ImportJob", "ImportResult", "Rejection", "RowParser", "import_file", "one_line",
           "parse_row", "raw_of", "read_limits", "stopped_reason"]

log = logging.getLogger("tracker.import")
BULK_BYTES = 8 << 20  # a first import of a file this big (or bigger) builds the indexes at its end


def import_file(engine: Engine, settings: Settings, path: str | Path, *, source: str = "file",
                fmt: str | None = None, mapping: dict[str, str] | None = None, dry_run: bool = False,
                strict: bool = False, batch_size: int | None = None,
                progress: Callable[[int], None] | None = None) -> ImportResult:
    """Import one export file. Never raises for bad data, a full disk or a database that stops
    answering: the result says what happened, and a run it started is never left `running`."""
    job = ImportJob(engine, settings, Path(path), source=source, dry_run=dry_run,
                    batch_size=batch_size or settings.get("import.batch_size"), progress=progress)
    path, result = job.path, job.result
    mapping = {**settings.get("import.mapping"), **(mapping or {})}
    limits = read_limits(settings)
    try:
        if strict:
            try:
                bad = _strict_check(path, fmt, mapping, settings.work_calendar(), limits)
            except FileRejected as exc:
                return job.fail(str(exc))
            if bad:
                result.rejections = bad[:50]
                return job.fail(f"{path.name}: --strict and {len(bad)} row(s) rejected, first: {bad[0]}")
        with source_lock(engine, source):
            try:
                src, cmap, rows = _open(path, fmt, mapping, limits)
            except FileRejected as exc:
                return job.fail(str(exc))
            result.sha256, result.skipped = src.sha256, src.skipped
            result.format = src.format
            return job.run(src, cmap, rows)
    except LockBusy as exc:  # nothing was read or written: no run is recorded
        result.status, result.message = "busy", str(exc)
        result.seconds = clock.perf_counter() - job.started
        return result
    except (OSError, SQLAlchemyError) as exc:  # before a run was started, or while recording its end
        log.error("import of %s failed: %s", path.name, stopped_reason(exc))
        if result.run_id is not None and not dry_run:  # started, then its end could not be written
            return job.stopped(f"{path.name}: {stopped_reason(exc)}")
        result.status, result.message = "failed", f"{path.name}: {stopped_reason(exc)}"
        result.seconds = clock.perf_counter() - job.started
        return result


def read_limits(settings: Settings) -> ReadLimits:
    """The import.max_* settings, for the readers."""
    return ReadLimits(rows=settings.get("import.max_rows"), columns=settings.get("import.max_columns"),
                      cells=settings.get("import.max_cells"), megabytes=settings.get("import.max_megabytes"))


def _open(path: Path, fmt: str | None, mapping: dict[str, str] | None, limits: ReadLimits):  # noqa: ANN202
    return readers.open_export(path, fmt, mapping, limits)


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


@dataclass
class ImportJob:
    """One file's import, as import_file was asked for it; `result` is its account, kept as it goes.

    `run` writes the rows of the opened file and ends the run; `fail` ends it before any row was
    read (the file rejected), `stopped` after some were (what the batches committed stays)."""

    engine: Engine
    settings: Settings
    path: Path
    source: str  # the import_run's source, and the lock two imports of it share (tracker.locks)
    dry_run: bool
    batch_size: int
    progress: Callable[[int], None] | None = None  # called with the rows read so far, after each full batch
    started: float = field(default_factory=clock.perf_counter)  # for result.seconds
    result: ImportResult = field(init=False)

    def __post_init__(self) -> None:
        self.result = ImportResult(file=self.path.name)

    def run(self, src: Source, cmap: ColumnMap, rows: Rows) -> ImportResult:
        """Start a run, write the rows batch by batch, finish the run; a run that stops is marked failed."""
        engine, path, result, dry_run, progress = self.engine, self.path, self.result, self.dry_run, self.progress
        run_id = None if dry_run else start_run(engine, self.source, path, result)
        result.run_id = run_id
        try:
            with import_connection(engine) as conn, _collector_paused():
                writer = BatchWriter(engine, conn, self.settings, run_id, result, cmap, dry_run)
                with indexes_deferred(conn, not dry_run and file_size(path) >= BULK_BYTES):
                    for batch in batches(path, src, rows, keyer=Keyer(cmap), size=self.batch_size):
                        writer.flush(batch)
                        if progress and len(batch) == self.batch_size:
                            progress(result.rows_read)
        except FileRejected as exc:  # found while reading on (a reader that could not check everything first)
            return self.stopped(str(exc))
        except (OSError, SQLAlchemyError) as exc:  # a full disk, a read-only file system, the database gone
            return self.stopped(f"{path.name}: the import stopped after {result.rows_read} row(s): "
                                f"{stopped_reason(exc)}")
        except Exception as exc:  # a defect of ours: the run says so, the log has the traceback
            log.exception("import of %s failed", path.name)
            return self.stopped(f"{path.name}: the import stopped after {result.rows_read} row(s) on an "
                                f"internal error ({stopped_reason(exc)})")
        except BaseException as exc:  # interrupted (Ctrl-C, SystemExit): recorded, then on its way
            self.stopped(f"{path.name}: the import was interrupted after {result.rows_read} row(s) "
                         f"({type(exc).__name__})")
            raise
        if progress:
            progress(result.rows_read)
        if writer.catalogue.any_filled:
            refresh_derived(engine, writer.cal, writer.rules, writer.fp)
        result.new_units = writer.catalogue.new_units
        result.new_procedures = writer.catalogue.new_procedures
        result.status = "dry-run" if dry_run else ("partial" if result.rejected else "done")
        result.seconds = clock.perf_counter() - self.started
        if not dry_run:
            finish_run(engine, run_id, result)
        return result

    def fail(self, message: str) -> ImportResult:
        """The file rejected before any row was read: a failed run of its own (none in a dry run)."""
        result = self.result
        result.status, result.message = "failed", one_line(message)
        result.seconds = clock.perf_counter() - self.started
        if not self.dry_run:
            result.run_id = record_failed_run(self.engine, self.source, self.path, result)
        return result

    def stopped(self, message: str) -> ImportResult:
        """The run marked failed with `message`: what the batches committed before stays (each is whole)."""
        result = self.result
        result.status = "failed"
        if result.inserted or result.updated:
            message += f"; the {result.inserted + result.updated} row(s) stored before that are kept"
        result.message = one_line(message)
        result.seconds = clock.perf_counter() - self.started
        if result.run_id is None:
            return result
        try:
            finish_run(self.engine, result.run_id, result, keep_message=True)
        except SQLAlchemyError as exc:  # the disk is still full: the next import of the source marks it
            log.error("import run %s could not be marked failed (%s); the next import of its source marks it "
                      "interrupted", result.run_id, stopped_reason(exc))
        return result


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
