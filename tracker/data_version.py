"""The data version: a token that changes in every transaction that changes what pages show.

Bumped in the same transaction as the change, so it is committed with it: the end of an import run,
a units or procedures import, a refresh of the derived columns or of the outlook, an admin's edit of
a unit, a file of published figures. The dashboard keys its caches on it (web.cache): no cached
answer is older than the last committed import. A new random token each time, not a counter: a
database emptied and filled again (tests, a restore) never meets a version it had before.
"""

from __future__ import annotations

import uuid

from sqlalchemy import Engine, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from tracker.models import Meta

KEY = "data_version"


def bump(conn) -> None:  # noqa: ANN001  (a connection in the transaction that changed the data)
    """A new version, written last in the transaction that changed the data (the meta row is then held
    only while that transaction commits)."""
    insert = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
    stmt = insert(Meta.__table__).values(key=KEY, value=uuid.uuid4().hex)
    conn.execute(stmt.on_conflict_do_update(index_elements=["key"], set_={"value": stmt.excluded.value}))


def current(engine: Engine) -> str | None:
    """The version now (None: nothing bumped it yet). One primary-key read."""
    with engine.connect() as conn:
        return conn.execute(select(Meta.value).where(Meta.key == KEY)).scalar_one_or_none()
