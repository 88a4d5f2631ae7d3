"""The run ledger: what one import did (ImportResult) and its row in import_run.

A run is started `running` when the file is open and its source locked, its counters move with
each batch (tracker.ingest.writer), and it ends `done`, `partial` or `failed` with a one-line
message; a file rejected before any row is read gets a failed run of its own. A run still
`running` when the next import of its source starts was killed: it is marked `interrupted`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, update

from tracker import data_version
from tracker.clock import now_local
from tracker.display import safe_text, shown
from tracker.ingest.rows import Rejection
from tracker.models import ImportRun, RejectedRow


@dataclass
class ImportResult:
    """What one import did: its counts (rows read = inserted + updated + unchanged + rejected),
    status and message, as its import_run row records them, and the first rejections."""

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


def start_run(engine: Engine, source: str, path: Path, result: ImportResult) -> int:
    with engine.begin() as conn:
        # we hold the source's lock: a run still marked running was killed
        conn.execute(update(ImportRun).where(ImportRun.source == source, ImportRun.status == "running")
                     .values(status="interrupted", finished_at=now_local(),
                             message="the import process stopped before the end of the file"))
        return conn.execute(ImportRun.__table__.insert().values(
            source=source, file_name=shown(str(path))[:1000], sha256=result.sha256, format=result.format,
            started_at=now_local(), status="running", message="")).inserted_primary_key[0]


def finish_run(engine: Engine, run_id: int, result: ImportResult, *, keep_message: bool = False) -> None:
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


def record_failed_run(engine: Engine, source: str, path: Path, result: ImportResult) -> int:
    with engine.begin() as conn:
        run_id = conn.execute(ImportRun.__table__.insert().values(
            source=source, file_name=shown(str(path))[:1000], sha256=result.sha256, format=result.format,
            started_at=now_local(), finished_at=now_local(), status="failed",
            message=shown(result.message)[:5000])).inserted_primary_key[0]
        if result.rejections:
            conn.execute(RejectedRow.__table__.insert(), rejected_rows(run_id, result.rejections))
    return run_id


def rejected_rows(run_id: int | None, rejections: list[Rejection]) -> list[dict[str, Any]]:
    """Rejected rows to store, what they quote shown with escapes for control characters: the
    desk sees what was there, and no database refuses it (PostgreSQL and NUL)."""
    return [{"run_id": run_id, "line": r.line, "column": shown(r.column)[:200], "value": shown(r.value),
             "reason": shown(r.reason), "raw": json.dumps({shown(k): shown(v) for k, v in r.raw.items()},
                                                          ensure_ascii=False)}
            for r in rejections]
