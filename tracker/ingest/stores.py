"""Where an import meets the database: the connection it writes through, the indexes a big first
import builds at its end, and the two stores that look up and write a batch of dossier rows.

A store is chosen by the database (SqliteStore, PgStore) and answers the same questions for a
batch: which codes are stored with the same row hash (`unchanged`), what is stored for the others
(`details`), and `write` (upsert the rows, record the status history); `moment` reads back a
stored datetime as the driver returns it.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from datetime import datetime
from operator import itemgetter
from typing import Any

from sqlalchemy import Engine, select

from tracker.db import drop_indexes, restore_indexes
from tracker.derive import DERIVED_COLUMNS
from tracker.ingest.columns import DATE_FIELDS, ColumnMap
from tracker.locks import lock_key
from tracker.models import Dossier
from tracker.portal766 import SUMMARY_COLUMNS

log = logging.getLogger("tracker.import")

# columns of the dossier table written by an import, in order
WRITE_COLUMNS = ("code", "unit_id", "procedure_id", "channel", "status", *DATE_FIELDS, "first_seen_finished_at",
                 "limit_value", "limit_unit", *SUMMARY_COLUMNS, "applicant_name", "applicant_phone", *DERIVED_COLUMNS,
                 "import_run_id", "row_hash", "data_hash", "created_at", "updated_at")
_KEEP_ON_UPDATE = {"code", "created_at"}
# the PostgreSQL transaction lock a batch holds while it writes dossier rows (PgStore.write)
WRITE_LOCK_KEY = lock_key("tthc:dossier-write")

# SQLite settings of the import's connection, for the length of an import (restored after)
_SQLITE_IMPORT_PRAGMAS = {
    # checked upserts cost four times as much, and a batch only references rows it just resolved
    # in the same transaction (tests run PRAGMA foreign_key_check after imports)
    "foreign_keys": 0,
    # the pages a batch touches stay cached for the next one instead of being read back
    "cache_size": -16 * 1024,
    # a checkpoint every ~100 MB of WAL, not every 4 MB: each one syncs the WAL and the database
    # file to disk, and a page rewritten by several batches is copied back once (a tenth less
    # written in all for a million rows). The WAL keeps every commit consistent whatever the
    # interval; synchronous=NORMAL is unchanged. The WAL is truncated again at the end.
    "wal_autocheckpoint": 25_000,
    "busy_timeout": 30_000,  # as tracker.db sets it; shortened for that truncation only
}


@contextlib.contextmanager
def import_connection(engine: Engine) -> Iterator[Any]:
    """The connection an import writes through, a transaction per batch."""
    with engine.connect() as conn:
        saved = {}
        if engine.dialect.name == "sqlite":
            for name, value in _SQLITE_IMPORT_PRAGMAS.items():
                saved[name] = conn.exec_driver_sql(f"PRAGMA {name}").scalar()
                conn.exec_driver_sql(f"PRAGMA {name}={int(value)}")  # foreign_keys: outside a transaction
            conn.commit()
        try:
            yield conn
        finally:
            conn.rollback()
            if saved:
                # give back the WAL file the import grew, unless readers hold it (then it stays,
                # and is reused: nothing is lost either way)
                conn.exec_driver_sql("PRAGMA busy_timeout=100")
                conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)").close()
            for name, value in saved.items():
                conn.exec_driver_sql(f"PRAGMA {name}={int(value)}")
            conn.commit()


@contextlib.contextmanager
def indexes_deferred(conn, big: bool) -> Iterator[None]:  # noqa: ANN001
    """A big file's import into an empty dossier table writes the rows first and builds the
    secondary indexes once, at the end: sorted, in one pass, instead of an entry at a time at
    random places (a third of a 1,000,000-row first import; bench/import_csv.py). The unique
    code index stays, for the upserts. Only into an empty table: a table with dossiers serves
    lists and reports from these indexes meanwhile. The indexes are built again however the
    import ends; if the process is killed, the next import (or `tthc db upgrade`) builds them
    (tracker.db.restore_indexes), and until then queries are slower, never wrong."""
    with conn.begin():
        rebuilt = restore_indexes(conn)  # what an earlier import, killed, left missing
        empty = conn.execute(select(Dossier.id).limit(1)).first() is None
    if rebuilt:
        log.warning("dossier indexes built again (an import wrote without them and stopped, or is writing "
                    "now): %s", ", ".join(rebuilt))
    if not (big and empty):
        yield
        return
    with conn.begin():
        drop_indexes(conn)
    try:
        yield
    finally:
        conn.rollback()  # whatever an exception left open
        with conn.begin():
            restore_indexes(conn)


def absent_columns(cmap: ColumnMap) -> frozenset[str]:
    """Dossier columns NULL in every row of a file, as it has no column for them (parse_row)."""
    absent = {f for f in DATE_FIELDS if f not in cmap.fields}
    if "channel" not in cmap.fields:
        absent.add("channel")
    if "limit_text" not in cmap.fields:
        absent.update(("limit_value", "limit_unit"))
    return frozenset(absent)


# what the import keeps the same for every row of a run: written as SQL literals, not bound per row
_RUN_CONSTANTS = ("import_run_id", "created_at", "updated_at", "derived_fp")
# of a stored dossier whose row changed; the last seq of its status history
_DETAILS = ("d.code, d.row_hash, d.status, d.first_seen_finished_at, d.data_hash, d.supplement_count, "
            "(SELECT max(s.seq) FROM status_change s WHERE s.dossier_id = d.id)")


class SqliteStore:
    """Batched look-ups and writes through the sqlite3 driver itself.

    Binding costs dominate there: sqlite3 binds an int or a str directly, but looks for an
    adapter for None and for bool (several times the cost). So a NULL is bound as a value of
    another storage class than the column ever holds (0 for text, '' for numbers) and turned
    back by NULLIF in the statement; booleans are bound as 0/1, which is how SQLAlchemy stores
    them. Datetimes are bound as the text SQLAlchemy writes ('YYYY-MM-DD HH:MM:SS.ffffff')."""

    CHUNK = 500  # codes per look-up: well below any SQLite's limit on bound parameters

    def __init__(self, run_id: int | None, now: datetime, fp: str, nulls: frozenset[str] = frozenset()) -> None:
        """`nulls`: columns NULL in every row of this import (the file has no column for them)."""
        table = Dossier.__table__
        constant = {*_RUN_CONSTANTS, *nulls}
        self.columns = tuple(c for c in WRITE_COLUMNS if c not in constant)
        marks, self.datetimes, self.numbers, self.texts, self.booleans = [], [], [], [], []
        for i, name in enumerate(self.columns):
            col = table.c[name]
            kind = col.type.python_type
            mark = "?"
            if kind is datetime:
                self.datetimes.append(i)
                mark = "NULLIF(?, 0)"
            elif kind is bool:
                self.booleans.append(i)
            elif col.nullable and kind in (int, float):
                self.numbers.append(i)
                mark = "NULLIF(?, '')"
            elif col.nullable:
                self.texts.append(i)
                mark = "NULLIF(?, 0)"
            marks.append(mark)
        stamp = _sql_text(now.isoformat(" ", "microseconds"))
        self.moments = {now: now.isoformat(" ", "microseconds")}  # first seen finished: now, mostly
        constants = {"import_run_id": "NULL" if run_id is None else str(int(run_id)), "created_at": stamp,
                     "updated_at": stamp, "derived_fp": _sql_text(fp), **dict.fromkeys(nulls, "NULL")}
        names = [*self.columns, *constants]
        values = [*marks, *constants.values()]
        sets = ", ".join(f"{c} = excluded.{c}" for c in names if c not in _KEEP_ON_UPDATE)
        self.upsert_sql = (f"INSERT INTO dossier ({', '.join(names)}) VALUES ({', '.join(values)}) "
                           f"ON CONFLICT (code) DO UPDATE SET {sets} WHERE dossier.row_hash <> excluded.row_hash")
        history = ("INSERT INTO status_change (dossier_id, previous_status, status, seq, seen_at, import_run_id) "
                   f"SELECT id, {{}}, {stamp}, {constants['import_run_id']} FROM dossier")
        skip = " ON CONFLICT (dossier_id, seq) DO NOTHING"  # already recorded (tracker.models.StatusChange)
        self.history_sql = history.format("?, ?, ?") + " WHERE code = ?" + skip
        self.new_history_sql = history.format("NULL, status, 0") + " WHERE id > ? ORDER BY id" + skip
        self.pick = itemgetter(*self.columns)

    def unchanged(self, cursor, codes: list[str], hashes: list[str]) -> dict[str, str]:  # noqa: ANN001
        """code -> row hash of the rows stored with the same row hash: SQLite compares, so only
        codes come back."""
        found: dict[str, str] = {}
        pairs = self.CHUNK * 4 // 5  # two parameters each
        for i in range(0, len(codes), pairs):
            params = [x for pair in zip(codes[i:i + pairs], hashes[i:i + pairs], strict=True) for x in pair]
            cursor.execute(f"WITH v(code, h) AS (VALUES {', '.join(['(?, ?)'] * (len(params) // 2))}) "
                           "SELECT v.code, v.h FROM v JOIN dossier d ON d.code = v.code AND d.row_hash = v.h",
                           params)
            found.update(cursor.fetchall())
        return found

    def details(self, cursor, codes: list[str]) -> dict[str, tuple]:  # noqa: ANN001
        """code -> (row hash, status, first seen finished, data hash) of the stored ones."""
        return {c: rest for c, *rest in self._select(cursor, _DETAILS, codes)}

    def _select(self, cursor, columns: str, codes: list[str]) -> list[tuple]:  # noqa: ANN001
        found: list[tuple] = []
        for i in range(0, len(codes), self.CHUNK):
            chunk = codes[i:i + self.CHUNK]
            cursor.execute(f"SELECT {columns} FROM dossier d WHERE d.code IN ({', '.join('?' * len(chunk))})", chunk)
            found += cursor.fetchall()
        return found

    @staticmethod
    def moment(value: str | None) -> datetime | None:
        return None if value is None else datetime.fromisoformat(value)

    def params(self, row: dict[str, Any]) -> list:
        values = list(self.pick(row))
        texts = self.moments.copy()  # a row repeats its moments: the due used is the due, and so on
        for i in self.datetimes:
            v = values[i]
            if v is None:
                values[i] = 0
            else:
                text = texts.get(v)
                if text is None:
                    text = texts[v] = v.isoformat(" ", "microseconds")
                values[i] = text
        for i in self.numbers:
            if values[i] is None:
                values[i] = ""
        for i in self.texts:
            if values[i] is None:
                values[i] = 0
        for i in self.booleans:
            values[i] = 1 if values[i] else 0
        return values

    def write(self, cursor, rows: list[dict[str, Any]], history: list[tuple[str, int | None, int, int]]) -> None:  # noqa: ANN001
        """Upsert the rows; then the history: of the new dossiers (every one the upsert inserted:
        they have the ids after the largest, SQLite's rowid rule, as nothing else writes to the
        table inside the batch's transaction) in one statement, status changes by code."""
        last_id = cursor.execute("SELECT max(id) FROM dossier").fetchone()[0] or 0
        cursor.executemany(self.upsert_sql, [self.params(r) for r in rows])
        cursor.execute(self.new_history_sql, (last_id,))
        cursor.executemany(self.history_sql, [(prev, status, seq, code) for code, prev, status, seq in history
                                              if prev is not None])


def _sql_text(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


class PgStore:
    """PostgreSQL: one round trip per batch for each of look-up, upsert and history.

    The codes of a batch go as an array; each is looked up through a LATERAL … LIMIT 1
    subquery, which the planner cannot turn into a join: with the statistics of a table that
    grew by a million rows since it was last analysed, it hashes the whole table for every
    batch instead of probing the code index 5,000 times (15 times slower at 200,000 rows)."""

    def __init__(self, run_id: int | None, now: datetime, fp: str) -> None:
        self.run_id, self.now, self.fp = run_id, now, fp
        self.columns = (*(c for c in WRITE_COLUMNS if c not in _RUN_CONSTANTS), *_RUN_CONSTANTS)
        self.pick = itemgetter(*self.columns[:-len(_RUN_CONSTANTS)])
        self.constants = tuple({"import_run_id": run_id, "created_at": now, "updated_at": now,
                                "derived_fp": fp}[c] for c in _RUN_CONSTANTS)
        self.types: list[int] | None = None

    def unchanged(self, cursor, codes: list[str], hashes: list[str]) -> dict[str, str]:  # noqa: ANN001
        cursor.execute("SELECT v.code, v.h FROM unnest(%s::text[], %s::text[]) AS v(code, h) CROSS JOIN LATERAL "
                       "(SELECT 1 FROM dossier d WHERE d.code = v.code AND d.row_hash = v.h LIMIT 1) AS d",
                       (codes, hashes), binary=True)
        return dict(cursor.fetchall())

    def details(self, cursor, codes: list[str]) -> dict[str, tuple]:  # noqa: ANN001
        cursor.execute(f"SELECT {_DETAILS} FROM unnest(%s::text[]) AS v(c) CROSS JOIN LATERAL "
                       "(SELECT * FROM dossier d WHERE d.code = v.c LIMIT 1) AS d", (codes,), binary=True)
        return {c: tuple(rest) for c, *rest in cursor.fetchall()}

    @staticmethod
    def moment(value: datetime | None) -> datetime | None:
        return value

    def write(self, cursor, rows: list[dict[str, Any]], history: list[tuple[str, int | None, int, int]]) -> None:  # noqa: ANN001
        """COPY the batch into a transaction-scoped staging table, then one INSERT … SELECT …
        ON CONFLICT whose RETURNING feeds the history: a round trip per batch, not one per row."""
        cols = ", ".join(self.columns)
        cursor.execute("CREATE TEMP TABLE IF NOT EXISTS dossier_stage (LIKE dossier INCLUDING DEFAULTS) "
                       "ON COMMIT DELETE ROWS")
        if self.types is None:  # binary COPY: five times as fast as text for psycopg to write
            cursor.execute(f"SELECT {cols} FROM dossier_stage LIMIT 0")
            self.types = [d.type_code for d in cursor.description]
        pick, constants = self.pick, self.constants
        with cursor.copy(f"COPY dossier_stage ({cols}) FROM STDIN (FORMAT BINARY)") as copy:
            copy.set_types(self.types)
            for r in rows:
                copy.write_row((*pick(r), *constants))
        sets = ", ".join(f"{c} = excluded.{c}" for c in self.columns if c not in _KEEP_ON_UPDATE)
        upsert = (f"INSERT INTO dossier ({cols}) SELECT {cols} FROM dossier_stage ON CONFLICT (code) "
                  f"DO UPDATE SET {sets} WHERE dossier.row_hash <> excluded.row_hash")
        # One writer of dossier rows at a time, to the batch's commit: two imports of the same
        # dossiers in opposite orders otherwise each hold unique-index entries the other waits for
        # (a deadlock, seen in CI). Rows keep file order, so ids (and exports) follow the file.
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", (WRITE_LOCK_KEY,))
        if not history:
            cursor.execute(upsert)
            return
        codes, prevs, statuses, seqs = (list(x) for x in zip(*history, strict=True))
        cursor.execute(
            f"WITH written AS ({upsert} RETURNING id, code) "
            "INSERT INTO status_change (dossier_id, previous_status, status, seq, seen_at, import_run_id) "
            "SELECT w.id, v.prev, v.st, v.seq, %s, %s FROM unnest(%s::text[], %s::int[], %s::int[], %s::int[]) "
            "WITH ORDINALITY AS v(code, prev, st, seq, n) JOIN written AS w ON w.code = v.code ORDER BY v.n "
            "ON CONFLICT (dossier_id, seq) DO NOTHING",  # already recorded (tracker.models.StatusChange)
            (self.now, self.run_id, codes, prevs, statuses, seqs), binary=True)
