"""What folder and URL sources share: a file imported as its source, a failed run recorded for a
failure before any import, and a free file name in a folder."""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tracker.ingest.sources.specs import SourceError, SourceSpec

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from tracker.config import Settings
    from tracker.ingest.runs import ImportResult


def _import_kwargs(settings: Settings, spec: SourceSpec) -> dict[str, Any]:
    from tracker.ingest.loader import import_file

    kwargs: dict[str, Any] = {"source": spec.name, "mapping": settings.get("import.mapping") or None,
                              "batch_size": settings.get("import.batch_size")}
    if spec.format:  # the loader's keyword is `fmt` (older drafts: `format`)
        params = inspect.signature(import_file).parameters
        for key in ("fmt", "format"):
            if key in params:
                kwargs[key] = spec.format
                break
    return kwargs


def import_source_file(engine: Engine, settings: Settings, path: Path, spec: SourceSpec) -> ImportResult:
    """Import one file the source dropped or fetched, as the source: its runs and lock carry the
    source's name, and its format (when declared), the settings' mapping and batch size apply."""
    from tracker.ingest import loader

    return loader.import_file(engine, settings, path, **_import_kwargs(settings, spec))


def record_source_failure(engine: Engine, spec: SourceSpec, file_name: str, message: str) -> int:
    """A failed import_run for a failure that happened before import_file could record one."""
    from tracker.clock import now_local
    from tracker.models import ImportRun

    with engine.begin() as conn:
        return conn.execute(ImportRun.__table__.insert().values(
            source=spec.name, file_name=file_name[:1000], sha256="", format=spec.format or "",
            started_at=now_local(), finished_at=now_local(), status="failed",
            message=message)).inserted_primary_key[0]


def free_name(directory: Path, name: str) -> Path:
    """directory/name, or name with a timestamp (and a counter) when that is taken."""
    from tracker.clock import now_local

    target = directory / name
    if not target.exists() and not target.is_symlink():
        return target
    p = Path(name)
    stamp = now_local().strftime("%Y%m%d-%H%M%S")
    for n in range(1, 10_000):
        cand = directory / f"{p.stem}.{stamp}{'' if n == 1 else f'-{n}'}{p.suffix}"
        if not cand.exists() and not cand.is_symlink():
            return cand
    raise SourceError(f"{directory}: no free name for {name}")  # pragma: no cover
