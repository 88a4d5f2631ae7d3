"""Import sources declared in settings (`[[import.sources]]`): drop folders and URLs.

A *folder* source imports each new file dropped into a directory exactly once, oldest first, then
moves it to `archive/` (done, partial) or `failed/` beside it with a `<file>.report.txt` saying what
became of it. Reports name lines, columns and reasons, never applicant data.

A *url* source downloads an export (one GET) or follows a paged JSON API page by page, then imports
what it fetched. Requests time out (`import.url_timeout`) and are retried (`import.url_retries`)
with exponential backoff on connection errors, timeouts, 5xx and 429. The token comes from the
environment variable named by `token_env`; it is never in settings, messages or logs.

`run_source(engine, settings, name)` runs one declared source; the scheduler and
`tthc import --source NAME` call it. The parts:

    tracker.ingest.sources.specs     the declarations: SourceSpec, parse_sources, source_specs, find_source
    tracker.ingest.sources.folders   drop folders: run_folder_source, the report of each file
    tracker.ingest.sources.urls      URLs: fetch_url_source, run_url_source
    tracker.ingest.sources.base      what both share: a file imported as its source
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from tracker.ingest.sources.folders import SETTLE_SECONDS, FolderOutcome, format_report, run_folder_source
from tracker.ingest.sources.specs import SourceError, SourceSpec, display_url, find_source, parse_sources, source_specs
from tracker.ingest.sources.urls import fetch_url_source, run_url_source

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from tracker.config import Settings
    from tracker.ingest.runs import ImportResult

__all__ = ["FolderOutcome", "SourceError", "SourceRun", "SourceSpec", "display_url", "fetch_url_source",
           "find_source", "format_report", "parse_sources", "run_folder_source", "run_source", "run_url_source",
           "source_specs"]


@dataclass
class SourceRun:
    """What one run of a source did."""

    spec: SourceSpec
    results: list[ImportResult] = field(default_factory=list)
    outcomes: list[FolderOutcome] = field(default_factory=list)  # folder sources

    @property
    def exit_code(self) -> int:
        """1 some file was rejected; 3 some rows were rejected; 0 otherwise (nothing new included)."""
        codes = [r.exit_code for r in self.results]
        return 1 if 1 in codes else 3 if 3 in codes else 0


def run_source(engine: Engine, settings: Settings, name: str, *, workdir: str | Path | None = None,
               now: float | None = None, backoff: float = 1.0, settle: float = SETTLE_SECONDS) -> SourceRun:
    """Run the declared source `name` once. URL downloads go under `workdir` (default
    <paths.var_dir>/sources) and are removed once imported; `now` and `settle` are for folders
    (see run_folder_source), `backoff` for URLs (see fetch_url_source)."""
    spec = find_source(settings, name)
    run = SourceRun(spec)
    if spec.kind == "folder":
        run.outcomes = run_folder_source(engine, settings, spec, now=now, settle=settle)
        run.results = [o.result for o in run.outcomes]
    else:
        workdir = Path(workdir) if workdir is not None else settings.var_dir / "sources"
        run.results = run_url_source(engine, settings, spec, workdir=workdir, backoff=backoff)
    return run
