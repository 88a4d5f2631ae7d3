"""Alembic environment: runs migrations on the engine handed over by tracker.db."""

from alembic import context
from sqlmodel import SQLModel

import tracker.models  # noqa: F401  (registers the tables on SQLModel.metadata)
import tracker.users  # noqa: F401

target_metadata = SQLModel.metadata


def run() -> None:
    engine = context.config.attributes.get("engine")
    if engine is None:
        raise RuntimeError("tracker migrations run through tracker.db.upgrade(engine)")
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=connection.dialect.name == "sqlite",  # SQLite needs batch ALTERs
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()
        connection.commit()


run()
