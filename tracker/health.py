"""Health checks: what `tthc check` prints, one line each, and what /healthz says ok or failing.

Each check is a function returning a Check; none raises. `status` is "ok", "warn" (looks at it soon:
the calendar of next year from 1 October) or "fail" (exit 1). Details never carry applicants' data,
passwords, tokens or URL query strings.
"""

from __future__ import annotations

import contextlib
import functools
import os
import shutil
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from importlib import metadata
from pathlib import Path

from sqlalchemy import Engine, func, inspect, select, text
from sqlalchemy.engine import make_url

from tracker.config import Settings
from tracker.ingest.sources import source_specs

PACKAGE = "tthc-monitor"


@functools.cache
def version() -> str:
    """The installed package's version (pyproject.toml), as `tthc version`, the footer and /healthz say.
    Read once per process: reading the package's metadata parses a file, and every page's footer shows it."""
    try:
        return metadata.version(PACKAGE)
    except metadata.PackageNotFoundError:  # pragma: no cover  (running from a tree never installed)
        return "0+unknown"


@dataclass(frozen=True)
class Check:
    name: str
    status: str  # ok | warn | fail
    detail: str

    @property
    def ok(self) -> bool:
        return self.status != "fail"

    def line(self) -> str:
        return f"{self.status.upper():<4}  {self.name:<18} {self.detail}"

    def as_dict(self) -> dict:
        return asdict(self)


def _error(exc: BaseException) -> str:
    first = (str(exc).strip().splitlines() or [""])[0]
    return f"{type(exc).__name__}: {first}"[:300]


def _guard(name: str, fn: Callable[[], Check | list[Check]]) -> list[Check]:
    try:
        out = fn()
    except Exception as exc:  # noqa: BLE001  (a check that breaks is a failed check, not a crash)
        return [Check(name, "fail", _error(exc))]
    return out if isinstance(out, list) else [out]


# ----- the checks --------------------------------------------------------------------------------


def check_database(engine: Engine) -> Check:
    with engine.connect() as conn:
        conn.execute(text("SELECT 1"))
    return Check("database", "ok", f"{engine.dialect.name} reachable")


def check_migrations(engine: Engine) -> Check:
    from tracker.db import current_revision, head_revision

    current, head = current_revision(engine), head_revision()
    if current == head:
        return Check("migrations", "ok", f"at revision {head}")
    return Check("migrations", "fail", f"at revision {current or 'none'}, the code needs {head}: run 'tthc db upgrade'")


def expected_indexes() -> dict[str, set[str]]:
    """Every named index the models declare, by table (the schema the migrations build)."""
    import tracker.users  # noqa: F401
    from tracker.models import SQLModel

    out: dict[str, set[str]] = {}
    for table in SQLModel.metadata.sorted_tables:
        names = {ix.name for ix in table.indexes if ix.name}
        if names:
            out[table.name] = names
    return out


def check_indexes(engine: Engine) -> Check:
    with engine.connect() as conn:
        insp = inspect(conn)
        tables = set(insp.get_table_names())
        missing = []
        for table, names in sorted(expected_indexes().items()):
            present = {ix["name"] for ix in insp.get_indexes(table)} if table in tables else set()
            missing += [f"{table}.{n}" for n in sorted(names - present)]
    if missing:
        return Check("indexes", "fail", f"missing {', '.join(missing)}: run 'tthc db upgrade' (it rebuilds them)")
    return Check("indexes", "ok", f"{sum(len(v) for v in expected_indexes().values())} present")


def check_smtp(settings: Settings, connect: Callable[[], object] | None) -> Check:
    """`connect` opens a connection the way deliveries do (EHLO, STARTTLS, login) and returns it."""
    host = settings.get("smtp.host")
    if not host:
        return Check("smtp", "ok", f"not configured: digests are written to {settings.var_dir / 'outbox'}")
    where = f"{host}:{settings.get('smtp.port')} ({settings.get('smtp.security')})"
    conn = connect()  # raises on refusal, timeout, TLS or login failure: _guard makes it a failed check
    with contextlib.suppress(Exception):
        conn.quit()
    auth = ", logged in" if settings.get("smtp.username") else ""
    return Check("smtp", "ok", f"{where} answered EHLO{auth}")


def check_sources(settings: Settings) -> list[Check]:
    import requests

    out = []
    for spec in source_specs(settings):
        name = f"source {spec.name}"
        if spec.kind == "folder":
            p = Path(spec.path)
            if not p.is_dir():
                out.append(Check(name, "fail", f"{p}: no such folder"))
            elif not os.access(p, os.R_OK | os.W_OK | os.X_OK):
                out.append(Check(name, "fail", f"{p}: not readable and writable by this user"))
            else:
                out.append(Check(name, "ok", f"folder {p}"))
            continue
        headers = dict(spec.headers)
        if spec.token_env and os.environ.get(spec.token_env):
            token = os.environ[spec.token_env]
            headers[spec.auth_header] = f"{spec.auth_scheme} {token}".strip()
        try:
            resp = requests.get(spec.url, headers=headers, timeout=settings.get("import.url_timeout"), stream=True)
            resp.close()
        except requests.RequestException as exc:
            out.append(Check(name, "fail", f"{spec.where}: {type(exc).__name__}"))
            continue
        status = "ok" if resp.status_code < 400 else "fail"
        out.append(Check(name, status, f"{spec.where}: HTTP {resp.status_code}"))
    return out


def check_freshness(engine: Engine, settings: Settings, now: datetime) -> list[Check]:
    from tracker.models import ImportRun

    limit = timedelta(hours=settings.get("check.import_max_age_hours"))
    names = [spec.name for spec in source_specs(settings)]
    if not names:
        return [Check("imports", "ok", "no sources declared")]
    with engine.connect() as conn:
        last = dict(conn.execute(select(ImportRun.source, func.max(ImportRun.finished_at))
                                 .where(ImportRun.status.in_(["done", "partial"]), ImportRun.source.in_(names))
                                 .group_by(ImportRun.source)).all())
    out = []
    for name in names:
        when = last.get(name)
        if when is None:
            out.append(Check(f"import {name}", "fail", "never imported"))
            continue
        age = now - when
        hours = age.total_seconds() / 3600
        status = "ok" if age <= limit else "fail"
        out.append(Check(f"import {name}", status, f"last import {when:%Y-%m-%d %H:%M}, {hours:.1f} h ago "
                                                   f"(limit {limit.total_seconds() / 3600:.0f} h)"))
    return out


def data_dirs(settings: Settings) -> list[Path]:
    """The data directory, and the SQLite database's folder when it lives elsewhere."""
    dirs = [settings.var_dir]
    url = make_url(settings.get("database.url"))
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        dirs.append(Path(url.database).parent)
    out: list[Path] = []
    for d in dirs:
        d = d.resolve()
        if d not in out:
            out.append(d)
    return out


def check_disk(settings: Settings) -> list[Check]:
    floor = settings.get("check.min_free_mb")
    out = []
    for d in data_dirs(settings):
        existing = d
        while not existing.exists() and existing != existing.parent:
            existing = existing.parent
        usage = shutil.disk_usage(existing)
        free_mb = usage.free // (1024 * 1024)
        status = "ok" if free_mb >= floor else "fail"
        out.append(Check("disk", status, f"{d}: {free_mb:,} MB free of {usage.total // (1024 * 1024):,} MB "
                                         f"(minimum {floor:,} MB)"))
    return out


def check_calendar(engine: Engine, settings: Settings, now: datetime) -> Check:
    from tracker.calendar_days import coverage

    c = coverage(engine, settings, now.date())
    return Check("calendar", "warn" if c.warn else "ok", c.describe())


# ----- running them ------------------------------------------------------------------------------


def run_checks(engine: Engine, settings: Settings, now: datetime, *, smtp_connect: Callable[[], object] | None = None,
               network: bool = True) -> list[Check]:
    """Every check, in order. Without a reachable, migrated database the ones needing it are skipped
    (failed, saying why). `network=False` leaves out SMTP and URL sources (what /healthz does)."""
    checks = _guard("database", lambda: check_database(engine))
    db_ok = checks[-1].ok
    if db_ok:
        checks += _guard("migrations", lambda: check_migrations(engine))
    migrated = db_ok and checks[-1].ok
    if db_ok:
        checks += _guard("indexes", lambda: check_indexes(engine))
    if network:
        checks += _guard("smtp", lambda: check_smtp(settings, smtp_connect))
        checks += _guard("sources", lambda: check_sources(settings))
    if migrated:
        checks += _guard("imports", lambda: check_freshness(engine, settings, now))
    checks += _guard("disk", lambda: check_disk(settings))
    if migrated:
        checks += _guard("calendar", lambda: check_calendar(engine, settings, now))
    return checks


def failed(checks: Iterable[Check]) -> bool:
    return any(not c.ok for c in checks)
