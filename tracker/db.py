"""Database engine and schema migrations (Alembic).

SQLite in WAL mode by default (zero setup); PostgreSQL through TTHC_DATABASE_URL. The schema is
only ever changed by migrations: `tthc db upgrade` (and `tthc init`, which runs it). One thing
besides: a first import into an empty table drops the dossier's secondary indexes and builds them
again at its end; `restore_indexes` (run by every import and by `upgrade`) builds any that a
killed import left missing.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, Index, create_engine, event, inspect
from sqlalchemy.engine import make_url
from sqlalchemy.schema import CreateIndex, DropIndex

from tracker.files import private_file
from tracker.models import Dossier

MIGRATIONS = Path(__file__).parent / "migrations"


def make_engine(url: str, *, echo: bool = False) -> Engine:
    """An engine for `url`; for SQLite, creates the folder (0700) and the file (0600: it holds personal
    data and password hashes; SQLite gives its -wal and -shm files the same mode), and turns on WAL
    and foreign keys."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:" and not parsed.database.startswith("file:"):
            private_file(parsed.database)
        engine = create_engine(url, echo=echo, connect_args={"timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):  # noqa: ANN001
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        return engine
    return create_engine(url, echo=echo, pool_pre_ping=True)


def alembic_config(engine: Engine) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["engine"] = engine
    return cfg


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the schema to `revision` (default: the newest); at the newest, also rebuild the
    dossier indexes a first import killed half-way left dropped (restore_indexes)."""
    command.upgrade(alembic_config(engine), revision)
    if revision == "head":
        with engine.begin() as conn:
            restore_indexes(conn)


def deferrable_indexes() -> list[Index]:
    """The dossier table's secondary indexes: what a first import into an empty table drops
    and builds again at its end (tracker.ingest.stores.indexes_deferred). The unique code
    stays: upserts need it."""
    return sorted((ix for ix in Dossier.__table__.indexes if not ix.unique), key=lambda ix: ix.name)


def drop_indexes(conn: Connection) -> None:
    """Drop the deferrable indexes (those present): what a first import does before its first batch."""
    for ix in deferrable_indexes():
        conn.execute(DropIndex(ix, if_exists=True))


def restore_indexes(conn: Connection) -> list[str]:
    """Create the deferrable indexes that are missing; their names (nothing to do: [])."""
    present = {ix["name"] for ix in inspect(conn).get_indexes("dossier")}
    missing = [ix for ix in deferrable_indexes() if ix.name not in present]
    for ix in missing:
        conn.execute(CreateIndex(ix, if_not_exists=True))
    return [ix.name for ix in missing]


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def head_revision() -> str | None:
    return ScriptDirectory(str(MIGRATIONS)).get_current_head()


def is_current(engine: Engine) -> bool:
    return current_revision(engine) == head_revision()


def backend(engine: Engine) -> str:
    return engine.dialect.name  # "sqlite" | "postgresql"
