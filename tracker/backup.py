"""Backups that restore: `tthc backup` and `tthc restore`, and the daily backups' retention.

SQLite: SQLite's online backup API (sqlite3.Connection.backup), never a file copy: the copy is
one read transaction, so it is consistent while the dashboard reads and an import writes (WAL
lets the writer go on meanwhile). PostgreSQL: `pg_dump --format=custom`, restored with
`pg_restore`. Either way the rows of every table are counted in the very snapshot that is copied
(on PostgreSQL an exported snapshot shared with pg_dump), so the report says what the file holds.

Backup files are written with mode 0600 (they hold applicants' names and phones).
"""

from __future__ import annotations

import os
import re
import shutil
import sqlite3
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

from sqlalchemy import Engine, create_engine, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

SQLITE_MAGIC = b"SQLite format 3\x00"
PGDUMP_MAGIC = b"PGDMP"
NOT_DATA = {"alembic_version"}  # a migrated, empty database still has its revision
# tthc-2026-12-02T020000.sqlite3: what `tthc backup` names a file in the backup folder (and retention prunes)
NAME_RE = re.compile(r"^tthc-(\d{4}-\d{2}-\d{2})T(\d{6})\.(sqlite3|pgdump)$")


class BackupError(RuntimeError):
    """A backup or restore that cannot be done; the message says why and what to do."""


@dataclass
class BackupResult:
    path: Path
    method: str  # "sqlite-backup-api" | "pg_dump-custom"
    tables: dict[str, int] = field(default_factory=dict)  # rows per table, in the copied snapshot
    seconds: float = 0.0

    def describe(self) -> str:
        how = ("SQLite online backup API" if self.method == "sqlite-backup-api"
               else "pg_dump, custom format (restore with 'tthc restore', which runs pg_restore)")
        rows = ", ".join(f"{t} {n}" for t, n in sorted(self.tables.items()) if n)
        return f"{self.path} ({how}): {self.path.stat().st_size:,} bytes; rows: {rows or 'none'}"


def backend_of(url: str) -> str:
    return make_url(url).get_backend_name()


def default_name(url: str, now: datetime) -> str:
    ext = "sqlite3" if backend_of(url) == "sqlite" else "pgdump"
    return f"tthc-{now:%Y-%m-%dT%H%M%S}.{ext}"


def _sqlite_path(url: str) -> Path:
    db = make_url(url).database
    if not db or db == ":memory:":
        raise BackupError(f"database.url {url}: an in-memory database cannot be backed up")
    return Path(db)


def _private_file(path: Path) -> None:
    """Create `path` empty with mode 0600 (whatever the umask), replacing what was there."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists():
        path.unlink()
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))


def _user_tables(names: Iterable[str]) -> list[str]:
    return sorted(n for n in names if n not in NOT_DATA and not n.startswith("sqlite_"))


def _pg_libpq(url: str) -> tuple[str, dict[str, str]]:
    """A libpq connection string for pg_dump/pg_restore, and the environment carrying the password
    (never on the command line, where `ps` shows it)."""
    u = make_url(url)
    env = dict(os.environ)
    if u.password:
        env["PGPASSWORD"] = u.password
    parts = {"host": u.host, "port": u.port, "user": u.username, "dbname": u.database}
    parts.update({k: v for k, v in u.query.items() if isinstance(v, str)})  # sslmode=require, host=/run/…
    dsn = " ".join(f"{k}='{str(v)}'" for k, v in parts.items() if v)
    return dsn, env


def _tool(name: str) -> str:
    path = shutil.which(name)
    if not path:
        raise BackupError(f"{name} not found: install the PostgreSQL client (apt-get install postgresql-client)")
    return path


# ----- backup ------------------------------------------------------------------------------------


def backup(url: str, out: Path) -> BackupResult:
    """Write a consistent backup of the database at `url` to `out` (mode 0600)."""
    import time

    started = time.monotonic()
    out = Path(out)
    if backend_of(url) == "sqlite":
        res = _backup_sqlite(url, out)
    elif backend_of(url) == "postgresql":
        res = _backup_pg(url, out)
    else:
        raise BackupError(f"database.url: no backup for the '{backend_of(url)}' backend")
    res.seconds = time.monotonic() - started
    return res


def _backup_sqlite(url: str, out: Path) -> BackupResult:
    src_path = _sqlite_path(url)
    if not src_path.exists():
        raise BackupError(f"{src_path}: no such database file")
    tmp = out.with_name(out.name + ".partial")
    _private_file(tmp)
    src = sqlite3.connect(src_path, timeout=30, isolation_level=None)
    try:
        src.execute("PRAGMA busy_timeout=30000")
        # One read transaction: the counts and the copy see the same snapshot (backup_step reads
        # through this connection's open transaction; pages=-1 copies everything in one step).
        src.execute("BEGIN")
        names = [r[0] for r in src.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        tables = {t: src.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0] for t in _user_tables(names)}
        dst = sqlite3.connect(tmp)
        try:
            src.backup(dst, pages=-1)
            dst.execute("PRAGMA journal_mode=DELETE")  # a single self-contained file
        finally:
            dst.close()
        src.execute("COMMIT")
    except sqlite3.Error as exc:
        tmp.unlink(missing_ok=True)
        raise BackupError(f"{src_path}: backup failed: {exc}") from None
    finally:
        src.close()
    os.replace(tmp, out)
    return BackupResult(out, "sqlite-backup-api", tables)


def _backup_pg(url: str, out: Path) -> BackupResult:
    pg_dump = _tool("pg_dump")
    dsn, env = _pg_libpq(url)
    engine = create_engine(url, poolclass=NullPool)
    tmp = out.with_name(out.name + ".partial")
    _private_file(tmp)
    try:
        with engine.connect() as conn:
            # The snapshot stays valid while this transaction is open: pg_dump reads the same data
            # the counts below saw.
            conn.execute(text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY"))
            snapshot = conn.execute(text("SELECT pg_export_snapshot()")).scalar_one()
            names = inspect(conn).get_table_names()
            tables = {t: conn.execute(text(f'SELECT count(*) FROM "{t}"')).scalar_one() for t in _user_tables(names)}
            proc = subprocess.run([pg_dump, "--format=custom", "--no-owner", "--no-privileges",
                                   f"--snapshot={snapshot}", f"--file={tmp}", dsn],
                                  env=env, capture_output=True, text=True)
            conn.rollback()
    except Exception as exc:  # noqa: BLE001
        tmp.unlink(missing_ok=True)
        raise BackupError(f"database: cannot back up ({type(exc).__name__}: {str(exc).splitlines()[0]})") from None
    finally:
        engine.dispose()
    if proc.returncode != 0:
        tmp.unlink(missing_ok=True)
        last = proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else str(proc.returncode)
        raise BackupError(f"pg_dump failed: {last}")
    os.chmod(tmp, 0o600)
    os.replace(tmp, out)
    return BackupResult(out, "pg_dump-custom", tables)


# ----- restore -----------------------------------------------------------------------------------


def table_rows(engine: Engine) -> dict[str, int]:
    """Rows per table of the product's schema (the revision table left out)."""
    with engine.connect() as conn:
        names = _user_tables(inspect(conn).get_table_names())
        return {t: conn.execute(text(f'SELECT count(*) FROM "{t}"')).scalar_one() for t in names}


def kind_of(path: Path) -> str:
    with Path(path).open("rb") as fh:
        head = fh.read(16)
    if head.startswith(SQLITE_MAGIC):
        return "sqlite"
    if head.startswith(PGDUMP_MAGIC):
        return "postgresql"
    raise BackupError(f"{path}: not a tthc backup (neither a SQLite database nor a pg_dump custom-format file)")


def restore(url: str, path: Path, *, force: bool = False) -> dict[str, int]:
    """Restore the backup `path` into the database at `url`; the rows per table afterwards.

    Refuses a database holding any row unless `force` (then what is there is replaced)."""
    from tracker.db import make_engine

    path = Path(path)
    if not path.is_file():
        raise BackupError(f"{path}: no such file")
    kind, target = kind_of(path), backend_of(url)
    if kind != target:
        raise BackupError(f"{path} is a {kind} backup but database.url is {target}: restore it into a "
                          f"{kind} database (or move data between databases with 'tthc export dossiers')")
    if target == "sqlite" and not _sqlite_path(url).exists():
        rows: dict[str, int] = {}
    else:
        engine = make_engine(url)
        try:
            rows = table_rows(engine)
        except Exception as exc:  # noqa: BLE001
            raise BackupError(f"database: cannot connect ({type(exc).__name__}: {str(exc).splitlines()[0]})") from None
        finally:
            engine.dispose()
    filled = {t: n for t, n in rows.items() if n}
    if filled and not force:
        some = ", ".join(f"{t} {n}" for t, n in sorted(filled.items())[:4])
        raise BackupError(f"the database is not empty ({some} rows …): restore into an empty database, "
                          "or add --force to replace what it holds")
    if target == "sqlite":
        _restore_sqlite(url, path)
    else:
        _restore_pg(url, path)
    engine = make_engine(url)
    try:
        return table_rows(engine)
    finally:
        engine.dispose()


def _restore_sqlite(url: str, path: Path) -> None:
    dst_path = _sqlite_path(url)
    dst_path.parent.mkdir(parents=True, exist_ok=True)
    if not dst_path.exists():
        _private_file(dst_path)
    src = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        dst = sqlite3.connect(dst_path, timeout=30)
        try:
            src.backup(dst, pages=-1)  # the backup API the other way: replaces every page
            dst.execute("PRAGMA journal_mode=WAL")
        finally:
            dst.close()
    except sqlite3.Error as exc:
        raise BackupError(f"{dst_path}: restore failed: {exc}") from None
    finally:
        src.close()


def _restore_pg(url: str, path: Path) -> None:
    pg_restore = _tool("pg_restore")
    dsn, env = _pg_libpq(url)
    # --clean --if-exists: a migrated empty database (tthc init) has the tables already
    proc = subprocess.run([pg_restore, "--clean", "--if-exists", "--no-owner", "--no-privileges",
                           "--single-transaction", "--exit-on-error", f"--dbname={dsn}", str(path)],
                          env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        last = proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else str(proc.returncode)
        raise BackupError(f"pg_restore failed (nothing was changed): {last}")


# ----- the daily backups -------------------------------------------------------------------------


def backup_dir(settings) -> Path:  # noqa: ANN001
    """backup.dir, else <paths.var_dir>/backups."""
    return Path(settings.get("backup.dir") or settings.var_dir / "backups")


def take_daily(settings, now: datetime) -> tuple[BackupResult, list[Path]]:  # noqa: ANN001
    """What the scheduler does each day: a backup into backup_dir, then retention. (backup, deleted)."""
    url = settings.get("database.url")
    folder = backup_dir(settings)
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    res = backup(url, folder / default_name(url, now))
    return res, prune(folder, settings.get("backup.keep_daily"), settings.get("backup.keep_monthly"))


def backups_in(folder: Path) -> list[tuple[datetime, Path]]:
    """The backups `tthc backup` named in `folder`, newest first (other files are not ours)."""
    found = []
    for p in Path(folder).glob("tthc-*"):
        m = NAME_RE.match(p.name)
        if m and p.is_file():
            found.append((datetime.strptime(m.group(1) + m.group(2), "%Y-%m-%d%H%M%S"), p))
    return sorted(found, reverse=True)


def to_keep(stamps: Iterable[datetime], keep_daily: int, keep_monthly: int) -> set[datetime]:
    """Which backups retention keeps: the newest of each of the `keep_daily` most recent days with
    a backup, and the newest of each of the `keep_monthly` most recent months with one."""
    keep: set[datetime] = set()
    days: dict[date, datetime] = {}
    months: dict[tuple[int, int], datetime] = {}
    for s in sorted(stamps, reverse=True):
        days.setdefault(s.date(), s)
        months.setdefault((s.year, s.month), s)
    keep.update(list(days.values())[:keep_daily])
    keep.update(list(months.values())[:keep_monthly])
    return keep


def prune(folder: Path, keep_daily: int, keep_monthly: int) -> list[Path]:
    """Delete the backups retention does not keep; the deleted files."""
    found = backups_in(folder)
    keep = to_keep((s for s, _ in found), keep_daily, keep_monthly)
    gone = []
    for stamp, p in found:
        if stamp not in keep:
            p.unlink(missing_ok=True)
            gone.append(p)
    return gone
