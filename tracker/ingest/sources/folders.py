"""Drop-folder sources: each new file dropped into a directory is imported exactly once, oldest
first, then moved to `archive/` (done, partial) or `failed/` beside it with a `<file>.report.txt`
saying what became of it. Reports name lines, columns and reasons, never applicant data.

A file still being written (modified within the last seconds, or whose size or mtime changes
across a pause) is left for the next run. With `archive = false` files stay where they are and a
ledger in <paths.var_dir>/sources remembers what was imported.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tracker.ingest.sources.base import free_name, import_source_file, record_source_failure
from tracker.ingest.sources.specs import SourceError, SourceSpec

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from tracker.config import Settings
    from tracker.ingest.runs import ImportResult

log = logging.getLogger("tracker.sources")

QUIET_SECONDS = 2.0  # a file modified more recently than this may still be being written
SETTLE_SECONDS = 1.0  # pause between the two looks at a file's size
REPORT_REJECTIONS = 50
LOCK_NAME = ".tthc-import.lock"
TEMP_SUFFIXES = (".tmp", ".part", ".partial", ".crdownload", ".download", ".filepart", ".swp")
APPLICANT_FIELDS = ("applicant_name", "applicant_phone")
MASK = "***"


@dataclass
class FolderOutcome:
    """One file a drop folder imported: the result, where the file went and its report."""

    path: Path  # where the file was found
    result: ImportResult
    moved_to: Path | None = None  # None: left in place (archive = false, or it vanished or changed)
    report: Path | None = None
    note: str = ""

    @property
    def status(self) -> str:
        return self.result.status


@contextmanager
def _locked(path: Path) -> Iterator[bool]:
    """An exclusive, non-blocking lock on `path` (created as needed): False if another process
    holds it. The lock goes with the process, so a crash never leaves the folder locked."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as fh:
        try:
            import fcntl
        except ImportError:  # pragma: no cover - Windows: no lock, imports stay idempotent
            yield True
            return
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def _candidates(folder: Path, now: float, quiet: float) -> list[tuple[Path, os.stat_result]]:
    """Regular, visible, finished-looking files, oldest first."""
    found = []
    with os.scandir(folder) as it:
        for entry in it:
            name = entry.name
            if name.startswith((".", "~$")) or name.lower().endswith(TEMP_SUFFIXES):
                continue
            try:
                if not entry.is_file(follow_symlinks=False):
                    continue
                st = entry.stat(follow_symlinks=False)
            except FileNotFoundError:
                continue
            age = now - st.st_mtime
            if -300 < age < quiet:  # still being written (mtimes far in the future: a skewed share clock)
                continue
            found.append((Path(entry.path), st))
    found.sort(key=lambda f: (f[1].st_mtime_ns, f[0].name))
    return found


def _same(a: os.stat_result, b: os.stat_result) -> bool:
    return (a.st_size, a.st_mtime_ns) == (b.st_size, b.st_mtime_ns)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def run_folder_source(engine: Engine, settings: Settings, spec: SourceSpec, *, now: float | None = None,
                      quiet: float = QUIET_SECONDS, settle: float = SETTLE_SECONDS) -> list[FolderOutcome]:
    """Import each new file in the drop folder once, oldest first.

    `now` (seconds since the epoch, default the clock) decides which files are old enough: a file
    modified within `quiet` seconds, or whose size or mtime changes across a `settle`-second pause,
    is left for the next run. With `archive` (the default) each imported file moves to archive/ or
    failed/ with its report; without, files stay and a ledger in <paths.var_dir>/sources remembers
    what was imported (reports go there too).
    """
    folder = spec.path
    if folder is None or spec.kind != "folder":
        raise SourceError(f"import source '{spec.name}' is not a folder source")
    if not folder.is_dir():
        raise SourceError(f"import source '{spec.name}': folder {folder} does not exist")
    state_dir = settings.var_dir / "sources"
    lock = folder / LOCK_NAME if spec.archive else state_dir / f"{spec.name}.lock"
    with _locked(lock) as mine:
        if not mine:
            log.info("import source %s: another import of %s is running; skipped", spec.name, folder)
            return []
        return _run_folder(engine, settings, spec, folder, state_dir,
                           time.time() if now is None else now, quiet, settle)


def _run_folder(engine: Engine, settings: Settings, spec: SourceSpec, folder: Path, state_dir: Path,
                now: float, quiet: float, settle: float) -> list[FolderOutcome]:
    ledger_path = state_dir / f"{spec.name}.seen.json"
    ledger: dict[str, dict[str, Any]] = {}
    if not spec.archive and ledger_path.exists():
        try:
            ledger = json.loads(ledger_path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError):  # imports are idempotent: start afresh
            log.warning("import source %s: %s is damaged; every file will be imported again",
                        spec.name, ledger_path)

    candidates = _candidates(folder, now, quiet)
    if not spec.archive:
        present = {p.name for p in folder.iterdir()}
        ledger = {k: v for k, v in ledger.items() if k in present}
        candidates = [(p, st) for p, st in candidates
                      if (ledger.get(p.name, {}).get("size"), ledger.get(p.name, {}).get("mtime_ns"))
                      != (st.st_size, st.st_mtime_ns)]
    if candidates and settle > 0:
        time.sleep(settle)

    outcomes = []
    for path, first in candidates:
        try:
            st = path.stat()
        except FileNotFoundError:
            log.info("import source %s: %s disappeared before it was imported; skipped", spec.name, path.name)
            continue
        if not _same(first, st):
            log.info("import source %s: %s is still being written; left for the next run", spec.name, path.name)
            continue
        if not spec.archive:
            try:
                sha = _sha256(path)
            except FileNotFoundError:
                continue
            if ledger.get(path.name, {}).get("sha256") == sha:  # touched, same content
                ledger[path.name].update(size=st.st_size, mtime_ns=st.st_mtime_ns)
                _save_ledger(ledger_path, ledger)
                continue
        try:
            outcome = _import_one(engine, settings, spec, path, st, state_dir)
        except _Busy as exc:
            log.info("import source %s: %s; %s and later files are left for the next run", spec.name, exc,
                     path.name)
            break
        if outcome is None:
            continue
        outcomes.append(outcome)
        if not spec.archive:
            ledger[path.name] = {"size": st.st_size, "mtime_ns": st.st_mtime_ns,
                                 "sha256": outcome.result.sha256 or _sha256_or_empty(path),
                                 "status": outcome.status}
            _save_ledger(ledger_path, ledger)
    return outcomes


def _sha256_or_empty(path: Path) -> str:
    try:
        return _sha256(path)
    except OSError:
        return ""


def _save_ledger(path: Path, ledger: dict[str, dict[str, Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(ledger, ensure_ascii=False, indent=1, sort_keys=True), encoding="utf-8")
    os.replace(tmp, path)


class _Busy(Exception):
    """Another process is importing this source: stop, leave the files for the next run."""


def _busy(result: ImportResult) -> bool:
    """import_file reports a held source lock (tracker.locks.LockBusy) as status "busy"; such a
    file is not bad and must not go to failed/."""
    return result.status == "busy"


def _import_one(engine: Engine, settings: Settings, spec: SourceSpec, path: Path, st: os.stat_result,
                state_dir: Path) -> FolderOutcome | None:
    from sqlalchemy.exc import SQLAlchemyError

    from tracker.ingest.runs import ImportResult

    try:
        result = import_source_file(engine, settings, path, spec)
    except FileNotFoundError:
        log.info("import source %s: %s disappeared while it was imported; skipped", spec.name, path.name)
        return None
    except SQLAlchemyError:
        raise  # the database is down: the file stays for the next run
    except OSError as exc:  # e.g. locked by whoever writes it: try again next run
        log.warning("import source %s: %s cannot be read yet (%s); left for the next run", spec.name,
                    path.name, type(exc).__name__)
        return None
    except Exception as exc:  # noqa: BLE001 - a reader bug must not block the folder forever
        log.exception("import source %s: unexpected error importing %s", spec.name, path.name)
        result = ImportResult(file=path.name, status="failed",
                              message=f"unexpected error ({type(exc).__name__}) while reading the file; "
                                      "see the program log")
        result.run_id = record_source_failure(engine, spec, str(path), result.message)

    if _busy(result):
        raise _Busy(result.message)
    try:
        after = path.stat()
    except FileNotFoundError:
        if result.status == "failed":  # it vanished before it could be read: nothing to report
            log.info("import source %s: %s disappeared while it was imported; skipped", spec.name, path.name)
            return None
        return FolderOutcome(path, result, note="the file disappeared after it was imported")
    if not _same(st, after):
        log.info("import source %s: %s changed while it was imported; it will be imported again",
                 spec.name, path.name)
        return FolderOutcome(path, result, note="changed while it was imported; left for the next run")

    if spec.archive:
        target_dir = path.parent / ("failed" if result.status == "failed" else "archive")
        target_dir.mkdir(exist_ok=True)
        target = free_name(target_dir, path.name)
        try:
            os.rename(path, target)
        except FileNotFoundError:
            return FolderOutcome(path, result, note="the file disappeared after it was imported")
        report = target.with_name(target.name + ".report.txt")
        moved: Path | None = target
    else:
        from tracker.clock import now_local

        reports = state_dir / spec.name / "reports"
        reports.mkdir(parents=True, exist_ok=True)
        stamp = now_local().strftime("%Y%m%d-%H%M%S")
        report = free_name(reports, f"{path.stem}.{stamp}{path.suffix}.report.txt")
        moved = None
    report.write_text(format_report(spec, path.name, result, moved, settings.get("import.mapping")),
                      encoding="utf-8")
    log.info("import source %s: %s %s (%d read, %d rejected)", spec.name, path.name, result.status,
             result.rows_read, result.rejected)
    return FolderOutcome(path, result, moved, report)


def _is_applicant_column(column: str, mapping: Mapping[str, str] | None) -> bool:
    from tracker.ingest.columns import field_for

    return column in APPLICANT_FIELDS or field_for(column, mapping) in APPLICANT_FIELDS


def _one_line(text: str, limit: int = 200) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def format_report(spec: SourceSpec, file_name: str, result: ImportResult, moved_to: Path | None,
                  mapping: Mapping[str, str] | None = None) -> str:
    """The text of a `<file>.report.txt`: counts, status and the first rejected rows by line,
    column and reason. Rejected rows' other cells are never written, and the value of an applicant
    name or phone cell is masked."""
    from tracker.clock import now_local

    status = {
        "done": "done: every row is stored",
        "partial": f"partial: {result.rejected} row(s) rejected, the other rows are stored",
        "failed": "failed: the file was rejected, nothing from it is stored",
        "dry-run": "dry run: nothing was written",
    }.get(result.status, result.status)
    lines = [
        f"Import report: source '{spec.name}' ({spec.kind} {spec.where})",
        f"File: {file_name}",
        f"Moved to: {moved_to.parent.name}/{moved_to.name}" if moved_to else "Left in place",
        f"Imported at: {now_local():%Y-%m-%d %H:%M:%S}",
        f"SHA-256: {result.sha256 or '-'}",
        f"Import run: {result.run_id if result.run_id is not None else '-'}",
        f"Status: {status}",
        f"Rows read: {result.rows_read}",
        f"Inserted: {result.inserted}",
        f"Updated: {result.updated}",
        f"Unchanged: {result.unchanged}",
        f"Rejected: {result.rejected}",
    ]
    if result.status == "failed":
        lines.append(f"Why: {_one_line(result.message, 2000)}")
    elif result.message:
        lines.append(f"Notes: {_one_line(result.message, 2000)}")
    shown = result.rejections[:REPORT_REJECTIONS]
    if shown:
        more = f" (the first {len(shown)} of {result.rejected})" if result.rejected > len(shown) else ""
        lines += ["", f"Rejected rows{more}:"]
        for rej in shown:
            value, reason = rej.value, rej.reason
            if rej.column and _is_applicant_column(rej.column, mapping):
                if value:
                    reason = reason.replace(value, MASK)
                value = MASK if value else ""
            col = f", column '{rej.column}'" if rej.column else ""
            val = f", value '{_one_line(value, 80)}'" if value else ""
            lines.append(f"  line {rej.line}{col}{val}: {_one_line(reason)}")
    return "\n".join(lines) + "\n"
