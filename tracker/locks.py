"""Named locks that a killed process cannot leave behind.

PostgreSQL: a session advisory lock on a connection held for the duration (released by the
server when the connection dies). SQLite: flock(2) on a file beside the database (released by
the kernel when the process dies). Used so two imports of one source, or two schedulers, never
run at once.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import re
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy import Engine, func, select
from sqlalchemy.engine import make_url


class LockBusy(RuntimeError):
    """Somebody else holds the lock; the message says who, where it can."""


def lock_key(name: str) -> int:
    return int.from_bytes(hashlib.blake2b(name.encode(), digest_size=8).digest(), "big", signed=True)


def lock_path(engine: Engine, name: str) -> Path | None:
    db = make_url(str(engine.url)).database
    if not db or db == ":memory:":
        return None
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "_", name)[:80]
    return Path(f"{db}.lock-{slug}")


@contextlib.contextmanager
def named_lock(engine: Engine, name: str, *, what: str) -> Iterator[None]:
    """Hold lock `name` for the block, or raise LockBusy at once naming `what` is running."""
    if engine.dialect.name == "postgresql":
        conn = engine.connect()
        try:
            key = lock_key(name)
            if not conn.execute(select(func.pg_try_advisory_lock(key))).scalar_one():
                raise LockBusy(f"{what} is already running (PostgreSQL advisory lock '{name}' is held)")
            conn.commit()
            try:
                yield
            finally:
                conn.execute(select(func.pg_advisory_unlock(key)))
                conn.commit()
        finally:
            conn.close()
        return
    path = lock_path(engine, name)
    if path is None:
        yield
        return
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 64, 0).decode(errors="replace").strip()
            who = f" (process {holder})" if holder.isdigit() else ""
            raise LockBusy(f"{what} is already running{who}; try again when it has finished") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        try:
            yield
        finally:
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def source_lock(engine: Engine, source: str) -> contextlib.AbstractContextManager[None]:
    return named_lock(engine, f"import:{source}", what=f"another import of source '{source}'")
