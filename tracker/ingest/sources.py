"""Import sources declared in settings (`[[import.sources]]`): drop folders and URLs.

A *folder* source imports each new file dropped into a directory exactly once, oldest first, then
moves it to `archive/` (done, partial) or `failed/` beside it with a `<file>.report.txt` saying what
became of it. Reports name lines, columns and reasons, never applicant data.

A *url* source downloads an export (one GET) or follows a paged JSON API page by page, then imports
what it fetched. Requests time out (`import.url_timeout`) and are retried (`import.url_retries`)
with exponential backoff on connection errors, timeouts, 5xx and 429. The token comes from the
environment variable named by `token_env`; it is never in settings, messages or logs.

`run_source(engine, settings, name)` runs one declared source; the scheduler and
`tthc import --source NAME` call it.
"""

from __future__ import annotations

import difflib
import hashlib
import inspect
import json
import logging
import os
import re
import shutil
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from tracker.config import Settings, table_list
from tracker.ingest.readers import FORMATS

if TYPE_CHECKING:  # types only
    import requests
    from sqlalchemy import Engine

    from tracker.ingest.loader import ImportResult

log = logging.getLogger("tracker.sources")

KINDS = ("folder", "url")
ITEMS_KEYS = ("content", "data", "items", "records")
COMMON_KEYS = ("name", "kind", "format", "every_minutes")
FOLDER_KEYS = ("path", "archive")
URL_KEYS = ("url", "auth_header", "auth_scheme", "token_env", "headers", "page_param", "page_size_param",
            "page_size", "first_page", "max_pages", "items_key")
ALL_KEYS = COMMON_KEYS + FOLDER_KEYS + URL_KEYS
PAGING_KEYS = ("page_size_param", "page_size", "first_page", "max_pages")
SECRET_KEYS = ("token", "password", "api_key", "apikey", "secret", "bearer")

QUIET_SECONDS = 2.0  # a file modified more recently than this may still be being written
SETTLE_SECONDS = 1.0  # pause between the two looks at a file's size
MAX_RETRY_AFTER = 60.0  # a longer Retry-After is not waited for: the next scheduled run retries
REPORT_REJECTIONS = 50
LOCK_NAME = ".tthc-import.lock"
TEMP_SUFFIXES = (".tmp", ".part", ".partial", ".crdownload", ".download", ".filepart", ".swp")
APPLICANT_FIELDS = ("applicant_name", "applicant_phone")
MASK = "***"

_NAME = re.compile(r"^[a-z0-9_-]+$")
_HEADER = re.compile(r"^[A-Za-z0-9!#$%&'*+.^_`|~-]+$")
_ENV = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_FORMAT_EXT = {"csv": ".csv", "tthc-csv": ".csv", "xlsx": ".xlsx", "xls": ".xls", "html": ".html",
               "portal-json": ".json", "igate-json": ".json", "json": ".json"}
_TYPE_EXT = {"text/csv": ".csv", "application/csv": ".csv", "text/comma-separated-values": ".csv",
             "text/plain": ".csv", "application/json": ".json", "text/json": ".json",
             "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": ".xlsx",
             "application/vnd.ms-excel": ".xls", "text/html": ".html", "application/xhtml+xml": ".html"}
_KNOWN_EXT = (".csv", ".json", ".xlsx", ".xls", ".html", ".htm", ".txt")


class SourceError(RuntimeError):
    """A source cannot be run or fetched. The message names the source and, for URLs, the URL
    without its query string (where secrets may live) and never the token."""


# ----- declarations -------------------------------------------------------------------------------


@dataclass(frozen=True)
class SourceSpec:
    """One `[[import.sources]]` table, validated."""

    name: str
    kind: str  # folder | url
    path: Path | None = None  # folder
    url: str | None = field(default=None, repr=False)  # url; its query string may hold a secret
    format: str | None = None
    every_minutes: int = 15
    archive: bool = True  # folder: move imported files to archive/ and failed/ (false: leave them)
    auth_header: str = "Authorization"
    auth_scheme: str = "Bearer"  # "" sends the bare token
    token_env: str | None = None
    headers: tuple[tuple[str, str], ...] = field(default=(), repr=False)
    page_param: str | None = None
    page_size_param: str | None = None
    page_size: int | None = None
    first_page: int = 0
    max_pages: int = 10_000
    items_key: str | None = None

    @property
    def where(self) -> str:
        """How messages name the source: folder path, or URL without its query string."""
        return str(self.path) if self.kind == "folder" else display_url(self.url or "")


def display_url(url: str) -> str:
    """The URL without user info, query string or fragment: safe to show and log."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    try:
        port = parts.port
    except ValueError:
        port = None
    netloc = f"{host}:{port}" if port else host
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def _suggest(key: str) -> str:
    if key.lower() in SECRET_KEYS:
        return (" (secrets do not belong in settings: put the token in an environment variable and "
                "name that variable with token_env)")
    close = difflib.get_close_matches(key, ALL_KEYS, n=1)
    return f" (did you mean {close[0]}?)" if close else ""


def _int_in(where: str, key: str, v: Any, lo: int, hi: int) -> int:
    if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
        raise ValueError(f"{where}: {key} '{v}' is not a whole number from {lo} to {hi}")
    return v


def _text(where: str, key: str, v: Any) -> str:
    if not isinstance(v, str) or not v.strip():
        raise ValueError(f"{where}: {key} '{v}' is not a non-empty text")
    return v.strip()


def _parse_one(i: int, entry: Any, used: dict[str, int]) -> SourceSpec:
    where = f"import.sources[{i}]"
    if not isinstance(entry, Mapping):
        raise ValueError(f"{where}: '{entry}' is not a table (write it as [[import.sources]])")
    name = entry.get("name")
    if isinstance(name, str):
        where += f" ('{name}')"
    for key in entry:
        if key not in ALL_KEYS:
            raise ValueError(f"{where}: unknown key '{key}'{_suggest(str(key))}")
    if name is None:
        raise ValueError(f"{where}: missing key 'name'")
    if not isinstance(name, str) or not _NAME.match(name) or len(name) > 100:
        raise ValueError(f"{where}: name '{name}' is not made of a-z, 0-9, '_' and '-'")
    if name in used:
        raise ValueError(f"{where}: name '{name}' is already used by import.sources[{used[name]}]")
    kind = entry.get("kind")
    if kind is None:
        raise ValueError(f"{where}: missing key 'kind' ('folder' or 'url')")
    if kind not in KINDS:
        raise ValueError(f"{where}: kind '{kind}' is not 'folder' or 'url'")
    own, other = (FOLDER_KEYS, URL_KEYS) if kind == "folder" else (URL_KEYS, FOLDER_KEYS)
    for key in entry:
        if key in other:
            raise ValueError(f"{where}: key '{key}' applies to {'url' if kind == 'folder' else 'folder'} "
                             f"sources, not to a {kind} source")
    values: dict[str, Any] = {"name": name, "kind": kind}

    fmt = entry.get("format")
    if fmt is not None:
        if fmt not in FORMATS:
            close = difflib.get_close_matches(str(fmt), FORMATS, n=1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            raise ValueError(f"{where}: format '{fmt}' is not one of {', '.join(FORMATS)}{hint}")
        values["format"] = fmt
    if "every_minutes" in entry:
        values["every_minutes"] = _int_in(where, "every_minutes", entry["every_minutes"], 1, 1440)

    if kind == "folder":
        if "path" not in entry:
            raise ValueError(f"{where}: missing key 'path' (the drop folder)")
        values["path"] = Path(_text(where, "path", entry["path"])).expanduser()
        if "archive" in entry:
            if not isinstance(entry["archive"], bool):
                raise ValueError(f"{where}: archive '{entry['archive']}' is not true or false")
            values["archive"] = entry["archive"]
        return SourceSpec(**values)

    if "url" not in entry:
        raise ValueError(f"{where}: missing key 'url'")
    url = _text(where, "url", entry["url"])
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https"):
        raise ValueError(f"{where}: url '{display_url(url)}' is not http(s)")
    if not parts.hostname:
        raise ValueError(f"{where}: url '{display_url(url)}' has no host")
    values["url"] = url
    if "auth_header" in entry:
        header = _text(where, "auth_header", entry["auth_header"])
        if not _HEADER.match(header):
            raise ValueError(f"{where}: auth_header '{header}' is not a header name")
        values["auth_header"] = header
    if "auth_scheme" in entry:
        scheme = entry["auth_scheme"]
        if not isinstance(scheme, str) or not re.match(r"^[A-Za-z0-9_-]*$", scheme):
            raise ValueError(f"{where}: auth_scheme '{scheme}' is not a word such as Bearer (or empty)")
        values["auth_scheme"] = scheme
    if "token_env" in entry:
        env = entry["token_env"]
        if not isinstance(env, str) or not _ENV.match(env):
            # the value is not shown: someone may have pasted the token itself here
            raise ValueError(f"{where}: token_env must be the name of an environment variable "
                             "(e.g. IGATE_TOKEN) that holds the token, not the token itself")
        values["token_env"] = env
    if "headers" in entry:
        headers = entry["headers"]
        if not isinstance(headers, Mapping):
            raise ValueError(f"{where}: headers must be a table of 'Header-Name' = 'value'")
        pairs = []
        for h, v in headers.items():
            if not isinstance(h, str) or not _HEADER.match(h):
                raise ValueError(f"{where}: headers: '{h}' is not a header name")
            if not isinstance(v, str) or "\n" in v or "\r" in v:
                raise ValueError(f"{where}: headers: the value of '{h}' is not one line of text")
            if h.lower() in ("authorization", values.get("auth_header", "Authorization").lower()):
                raise ValueError(f"{where}: headers: '{h}' carries the token: use token_env "
                                 "(and auth_header) instead, so the token stays out of settings")
            pairs.append((h, v))
        values["headers"] = tuple(pairs)
    for key in ("page_param", "page_size_param", "items_key"):
        if key in entry:
            values[key] = _text(where, key, entry[key])
    if "page_size" in entry:
        values["page_size"] = _int_in(where, "page_size", entry["page_size"], 1, 100_000)
    if "first_page" in entry:
        values["first_page"] = _int_in(where, "first_page", entry["first_page"], 0, 1_000_000)
    if "max_pages" in entry:
        values["max_pages"] = _int_in(where, "max_pages", entry["max_pages"], 1, 1_000_000)
    if "page_param" not in values:
        for key in PAGING_KEYS:
            if key in entry:
                raise ValueError(f"{where}: {key} needs page_param (the name of the page number parameter)")
    if ("page_size" in values) != ("page_size_param" in values):
        raise ValueError(f"{where}: page_size and page_size_param go together")
    return SourceSpec(**values)


def parse_sources(value: Any) -> list[SourceSpec]:
    """Validate the `import.sources` array of tables (or a JSON array, from the environment)."""
    value = table_list(value, "import.sources")
    if not value:
        return []
    if not isinstance(value, list):
        raise ValueError(f"'{value}' is not a list of [[import.sources]] tables")
    used: dict[str, int] = {}
    specs = []
    for i, entry in enumerate(value):
        spec = _parse_one(i, entry, used)
        used[spec.name] = i
        specs.append(spec)
    return specs


def source_specs(settings: Settings) -> list[SourceSpec]:
    """The declared sources, built once per value of the settings (checked at start-up by
    tracker.settings_check). Shared: not to be changed."""
    return settings.derived(parse_sources, "import.sources")


# ----- running a source ---------------------------------------------------------------------------


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


def find_source(settings: Settings, name: str) -> SourceSpec:
    specs = source_specs(settings)
    for spec in specs:
        if spec.name == name:
            return spec
    if not specs:
        raise SourceError(f"no import source named '{name}': no sources are declared "
                          "([[import.sources]] in the settings file)")
    close = difflib.get_close_matches(name, [s.name for s in specs], n=1)
    hint = f" (did you mean {close[0]}?)" if close else ""
    raise SourceError(f"no import source named '{name}'{hint}; declared: "
                      f"{', '.join(s.name for s in specs)}")


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


def _import(engine: Engine, settings: Settings, path: Path, spec: SourceSpec) -> ImportResult:
    from tracker.ingest import loader

    return loader.import_file(engine, settings, path, **_import_kwargs(settings, spec))


def _record_failed_run(engine: Engine, spec: SourceSpec, file_name: str, message: str) -> int:
    """A failed import_run for a failure that happened before import_file could record one."""
    from tracker.derive import now_local
    from tracker.models import ImportRun

    with engine.begin() as conn:
        return conn.execute(ImportRun.__table__.insert().values(
            source=spec.name, file_name=file_name[:1000], sha256="", format=spec.format or "",
            started_at=now_local(), finished_at=now_local(), status="failed",
            message=message)).inserted_primary_key[0]


# ----- drop folders -------------------------------------------------------------------------------


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


def _free_name(directory: Path, name: str) -> Path:
    """directory/name, or name with a timestamp (and a counter) when that is taken."""
    from tracker.derive import now_local

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

    from tracker.ingest.loader import ImportResult

    try:
        result = _import(engine, settings, path, spec)
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
        result.run_id = _record_failed_run(engine, spec, str(path), result.message)

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
        target = _free_name(target_dir, path.name)
        try:
            os.rename(path, target)
        except FileNotFoundError:
            return FolderOutcome(path, result, note="the file disappeared after it was imported")
        report = target.with_name(target.name + ".report.txt")
        moved: Path | None = target
    else:
        from tracker.derive import now_local

        reports = state_dir / spec.name / "reports"
        reports.mkdir(parents=True, exist_ok=True)
        stamp = now_local().strftime("%Y%m%d-%H%M%S")
        report = _free_name(reports, f"{path.stem}.{stamp}{path.suffix}.report.txt")
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
    from tracker.derive import now_local

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


# ----- URLs ---------------------------------------------------------------------------------------


def _session_class() -> type[requests.Session]:
    import requests

    class _Session(requests.Session):
        """Drops the custom auth header too when a redirect leaves the host (requests only drops
        `Authorization`), so a token never follows a redirect elsewhere."""

        secret_header: str = "Authorization"

        def rebuild_auth(self, prepared_request, response):  # noqa: ANN001, ANN201
            super().rebuild_auth(prepared_request, response)
            if self.should_strip_auth(response.request.url, prepared_request.url):
                prepared_request.headers.pop(self.secret_header, None)

    return _Session


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, moment.timestamp() - time.time())


def _clean(message: str) -> str:
    """A requests/urllib3 error message without query strings (which may carry secrets)."""
    return re.sub(r"\?[^\s'\")]*", "", message)


class _Fetcher:
    def __init__(self, spec: SourceSpec, settings: Settings, backoff: float) -> None:
        self.spec = spec
        self.timeout = settings.get("import.url_timeout")
        self.retries = settings.get("import.url_retries")
        self.backoff = backoff
        self.max_bytes = settings.get("import.max_megabytes") << 20  # a response is a file: the same cap
        self.url = display_url(spec.url or "")
        self.headers = {"User-Agent": "tthc-monitor", **dict(spec.headers)}
        if spec.token_env:
            token = os.environ.get(spec.token_env, "").strip()
            if not token:
                raise SourceError(f"import source '{spec.name}': environment variable {spec.token_env} "
                                  f"is not set (it should hold the token sent in {spec.auth_header})")
            self.headers[spec.auth_header] = f"{spec.auth_scheme} {token}" if spec.auth_scheme else token

    def body(self, r: requests.Response, params: Mapping[str, Any] | None) -> Iterator[bytes]:
        """The response's bytes, chunk by chunk, up to import.max_megabytes: a server that sends
        without end fills neither the disk nor the memory."""
        size = 0
        for chunk in r.iter_content(1 << 16):
            size += len(chunk)
            if size > self.max_bytes:
                raise SourceError(f"{self.where(params)}: the response is more than the "
                                  f"{self.max_bytes >> 20} MB an import reads (setting import.max_megabytes)")
            yield chunk

    def where(self, params: Mapping[str, Any] | None) -> str:
        page = f" (page {params[self.spec.page_param]})" if params and self.spec.page_param in params else ""
        return f"import source '{self.spec.name}': GET {self.url}{page}"

    def get(self, session: requests.Session, params: Mapping[str, Any] | None, consume):  # noqa: ANN001, ANN201
        """GET and consume(response) with retries; consume reads the body (inside the retry, so a
        connection lost mid-body is retried too)."""
        import requests

        attempts = self.retries + 1
        for attempt in range(attempts):
            delay = self.backoff * (2 ** attempt)
            try:
                with session.get(self.spec.url, params=params, timeout=self.timeout, stream=True) as r:
                    if r.status_code == 429 or r.status_code >= 500:
                        problem = f"HTTP {r.status_code} {r.reason or ''}".strip()
                        wait = _retry_after(r.headers.get("Retry-After"))
                        if wait is not None:
                            if wait > MAX_RETRY_AFTER:
                                raise SourceError(f"{self.where(params)}: {problem}, and the server asks to "
                                                  f"retry after {wait:.0f} s; left for the next run")
                            delay = max(delay, wait)
                    elif r.status_code >= 400:
                        hint = ""
                        if r.status_code in (401, 403):
                            hint = (f"; check the token in {self.spec.token_env}" if self.spec.token_env
                                    else "; the server wants a token: set token_env")
                        raise SourceError(f"{self.where(params)}: HTTP {r.status_code} "
                                          f"{r.reason or ''}".rstrip() + f" (not retried){hint}")
                    else:
                        return consume(r)
            except requests.Timeout:
                problem = f"timed out after {self.timeout} s"
            except (requests.ConnectionError, requests.exceptions.ChunkedEncodingError) as exc:
                problem = f"connection failed: {_clean(str(exc))[:300]}"
            except requests.RequestException as exc:
                raise SourceError(f"{self.where(params)}: {_clean(str(exc))[:300]}") from None
            if attempt + 1 < attempts:
                log.warning("%s: %s; retrying in %.2f s (%d of %d)", self.where(params), problem, delay,
                            attempt + 1, self.retries)
                time.sleep(delay)
        tries = f" (after {attempts} attempts)" if attempts > 1 else ""
        raise SourceError(f"{self.where(params)}: {problem}{tries}")


def _extension(spec: SourceSpec, r: requests.Response) -> str:
    if spec.format:
        return _FORMAT_EXT[spec.format]
    disposition = r.headers.get("Content-Disposition", "")
    m = re.search(r"filename\*?=(?:UTF-8'')?\"?([^\";]+)", disposition, re.I)
    if m and Path(m.group(1)).suffix.lower() in _KNOWN_EXT:
        return Path(m.group(1)).suffix.lower()
    ctype = r.headers.get("Content-Type", "").split(";")[0].strip().lower()
    if ctype in _TYPE_EXT:
        return _TYPE_EXT[ctype]
    if ctype.endswith("+json"):
        return ".json"
    suffix = Path(urlsplit(spec.url or "").path).suffix.lower()
    return suffix if suffix in _KNOWN_EXT else ".dat"


def _items(body: Any, key: str | None) -> tuple[list | None, list[Mapping]]:
    """The records of a page and the objects that may say whether it is the last."""
    if isinstance(body, list):
        return body, []
    if not isinstance(body, Mapping):
        return None, []
    holders = [body]
    if key:
        node: Any = body
        for part in key.split("."):
            if not isinstance(node, Mapping) or part not in node:
                return None, holders
            holders.append(node)
            node = node[part]
        return (node if isinstance(node, list) else None), holders
    for k in ITEMS_KEYS:
        v = body.get(k)
        if isinstance(v, list):
            return v, holders
    for k in ITEMS_KEYS:  # {"data": {"content": [...], "totalPages": 3}}
        v = body.get(k)
        if isinstance(v, Mapping):
            for k2 in ITEMS_KEYS:
                if isinstance(v.get(k2), list):
                    return v[k2], [body, v]
    return None, holders


def _is_last(holders: list[Mapping], pages_done: int) -> bool:
    for h in holders:
        if h.get("last") is True:
            return True
        for k in ("totalPages", "total_pages", "pageCount", "page_count"):
            total = h.get(k)
            if isinstance(total, int) and not isinstance(total, bool) and pages_done >= total:
                return True
    return False


def fetch_url_source(spec: SourceSpec, settings: Settings, dest_dir: str | Path, *,
                     backoff: float = 1.0) -> list[Path]:
    """Download what the source serves into dest_dir; the files written, in order.

    Without page_param (and items_key): one GET streamed to one file whose extension comes from
    `format`, else the response's file name or Content-Type. With page_param: pages
    first_page, first_page+1 … until a page has no records, says `last: true`, or reaches
    totalPages; each page's records are written as a JSON array to page-0001.json, page-0002.json …
    (one page in memory at a time). Retries with backoff * 1, 2, 4 … seconds between attempts.
    """
    if spec.kind != "url" or not spec.url:
        raise SourceError(f"import source '{spec.name}' is not a url source")
    dest = Path(dest_dir)
    dest.mkdir(parents=True, exist_ok=True)
    fetcher = _Fetcher(spec, settings, backoff)
    with _session_class()() as session:
        session.secret_header = spec.auth_header
        session.headers.update(fetcher.headers)
        if spec.page_param or spec.items_key:
            return _fetch_pages(spec, fetcher, session, dest)
        target: list[Path] = []

        def save(r: requests.Response) -> Path:
            path = dest / f"{spec.name}{_extension(spec, r)}"
            with path.open("wb") as fh:
                for chunk in fetcher.body(r, None):
                    fh.write(chunk)
            return path

        target.append(fetcher.get(session, None, save))
        return target


def _fetch_pages(spec: SourceSpec, fetcher: _Fetcher, session: requests.Session, dest: Path) -> list[Path]:
    def load(r: requests.Response) -> Any:
        data = b"".join(fetcher.body(r, params))
        try:
            return json.loads(data)
        except (json.JSONDecodeError, UnicodeDecodeError):
            ctype = r.headers.get("Content-Type", "?")
            raise SourceError(f"{fetcher.where(params)}: the response is not JSON ({ctype})") from None
        except (RecursionError, ValueError) as exc:  # nested too deeply; an integer of 5,000 digits
            raise SourceError(f"{fetcher.where(params)}: the response is not readable JSON "
                              f"({'nested too deeply' if isinstance(exc, RecursionError) else exc})") from None

    files: list[Path] = []
    previous = ""
    page = spec.first_page
    while True:
        params: dict[str, Any] | None = None
        if spec.page_param:
            params = {spec.page_param: page}
            if spec.page_size_param and spec.page_size:
                params[spec.page_size_param] = spec.page_size
        body = fetcher.get(session, params, load)
        items, holders = _items(body, spec.items_key)
        if items is None:
            looked = spec.items_key or ", ".join(ITEMS_KEYS)
            raise SourceError(f"{fetcher.where(params)}: no list of records under {looked} "
                              "(set items_key to the key that holds them)")
        if not items:
            break
        data = json.dumps(items, ensure_ascii=False).encode("utf-8")
        digest = hashlib.sha256(data).hexdigest()
        if digest == previous:
            raise SourceError(f"{fetcher.where(params)}: the same records as the previous page; does the "
                              f"API take '{spec.page_param}' as its page parameter?")
        previous = digest
        path = dest / f"page-{len(files) + 1:04d}.json"
        path.write_bytes(data)
        files.append(path)
        del body, items, data
        if not spec.page_param or _is_last(holders, len(files)):
            break
        if len(files) >= spec.max_pages:
            raise SourceError(f"{fetcher.where(params)}: more than max_pages = {spec.max_pages} pages; "
                              "raise max_pages if the API really has that many")
        page += 1
    return files


def run_url_source(engine: Engine, settings: Settings, spec: SourceSpec, *, workdir: str | Path,
                   backoff: float = 1.0, keep_files: bool = False) -> list[ImportResult]:
    """Fetch the source into a fresh folder under workdir, import each file with
    source=spec.name, then remove the folder (unless keep_files). A fetch that fails records a
    failed import run and raises SourceError; nothing fetched by it is imported."""
    from tracker.derive import now_local

    dest = _free_name(Path(workdir), f"{spec.name}-{now_local():%Y%m%d-%H%M%S}")
    try:
        try:
            files = fetch_url_source(spec, settings, dest, backoff=backoff)
        except SourceError as exc:
            _record_failed_run(engine, spec, spec.where, str(exc))
            raise
        results = []
        for path in files:
            result = _import(engine, settings, path, spec)
            log.info("import source %s: %s %s (%d read, %d rejected)", spec.name, path.name, result.status,
                     result.rows_read, result.rejected)
            results.append(result)
        return results
    finally:
        if not keep_files:
            shutil.rmtree(dest, ignore_errors=True)
