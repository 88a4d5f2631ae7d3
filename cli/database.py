"""`tthc init` and `tthc db upgrade`: create or upgrade the database (Alembic migrations)."""

from __future__ import annotations

import argparse

from cli.common import CliError, open_engine
from tracker.config import Settings


def add_commands(sub) -> None:  # noqa: ANN001
    s = sub.add_parser("init", help="create or upgrade the database")
    s.set_defaults(func=cmd_init)
    s = sub.add_parser("db", help="database maintenance")
    s.add_argument("action", choices=["upgrade"])
    s.set_defaults(func=cmd_db)


def cmd_init(args: argparse.Namespace, settings: Settings) -> int:
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import SQLAlchemyError

    from tracker.db import head_revision, upgrade
    from tracker.ingest.loader import stopped_reason

    try:
        engine = open_engine(settings, need_schema=False)
        upgrade(engine)
    except (OSError, SQLAlchemyError) as exc:  # a read-only location, a full disk, a server that refuses
        url = make_url(settings.get("database.url")).render_as_string(hide_password=True)
        raise CliError(f"database: cannot create or upgrade {url}: {stopped_reason(exc)}") from None
    print(f"Database ready at revision {head_revision()} ({engine.url.render_as_string(hide_password=True)})")
    return 0


def cmd_db(args: argparse.Namespace, settings: Settings) -> int:
    return cmd_init(args, settings)
