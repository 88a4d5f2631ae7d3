"""Benchmark: import a 1,000,000-row iGate-style CSV (issue: import).

    .venv/bin/python bench/import_csv.py [ROWS] [--limits]        # default 1,000,000

Prints rows/s, µs per row, peak RSS and the time ratio against `sqlite3 .import` of the same file
into a bare table (the floor, measured in the same run), for a first import and for re-importing
the unchanged file, on SQLite and, when reachable, on PostgreSQL.
Targets (issue 3): first import <= 4x the floor, re-import <= 2x, peak RSS <= 300 MB.
Each import runs in its own process so its peak RSS is its own.

The generated file carries no time limits, so by itself the import computes no legal due dates;
--limits adds a first import into a database that holds the procedures catalogue with their
limits (gen_igate_csv.write_procedures), where every dossier's due date is computed.

Where the time goes (1,000,000 rows, a 2-core machine; tracker.ingest.loader, .writer and .batches say
what was done about it). A re-import is a reader process splitting, normalising and keying rows
(~3 µs a row) while the importer looks them up, 400 to a statement: the slower of the two is the
time. A first import into an empty database is the importer parsing, resolving, hashing,
deriving and binding each row (~20 µs in Python) and SQLite storing it, the secondary indexes
built at the end (tracker.ingest.stores.indexes_deferred; with them kept, new entries land all
over the date-keyed indexes and the import takes 40% longer). The "of which cannot go" line
stores the rows the first import stored, already made, through Python's sqlite3: what any
importer written in Python pays before reading a byte of the file (2.6x the floor here).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "out"
PG_ADMIN = os.environ.get("TRACKER_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
CHILD = """
import sys, time
from tracker.config import load_settings
from tracker.db import make_engine, upgrade
from tracker.ingest import import_file, import_procedures
url, path = sys.argv[1], sys.argv[2]
s = load_settings(env={}, overrides={"database.url": url})
e = make_engine(url); upgrade(e)
if len(sys.argv) > 3:
    import_procedures(e, sys.argv[3])
t = time.perf_counter(); r = import_file(e, s, path); dt = time.perf_counter() - t
assert r.balanced and r.status in ("done", "partial"), r.message
print(dt, r.inserted, r.updated, r.unchanged, r.rejected)
"""


def run_child(url: str, path: Path, procedures: Path | None = None) -> tuple[float, float, str]:
    """(seconds inside import_file, peak RSS MB, counts) of one import in a fresh process."""
    extra = [str(procedures)] if procedures else []
    proc = subprocess.Popen([sys.executable, "-c", CHILD, url, str(path), *extra], stdout=subprocess.PIPE,
                            cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    out = proc.stdout.read().decode()
    proc.stdout.close()
    _, status, usage = os.wait4(proc.pid, 0)
    if status != 0:
        raise SystemExit(f"import child failed: {out}")
    seconds, *counts = out.split()
    return float(seconds), usage.ru_maxrss / 1024, " ".join(counts)


def floor(path: Path) -> float:
    db = OUT / "floor.db"
    db.unlink(missing_ok=True)
    t = time.perf_counter()
    subprocess.run(["sqlite3", str(db), "-cmd", ".mode csv", "-cmd", ".separator ;", f".import {path} raw"],
                   check=True)
    elapsed = time.perf_counter() - t
    db.unlink(missing_ok=True)
    return elapsed


def store_floor(imported: Path, target: Path) -> float:
    """Seconds to store the rows a first import stored, already made: read back from `imported`
    (not timed) and bound through Python's sqlite3 in batches of 5,000, one transaction each,
    into the product's schema with its secondary indexes built at the end, as a first import
    does (its history rows left out). What is left of a first import's time is reading,
    checking, deriving and building the rows."""
    import sqlite3

    from tracker.db import drop_indexes, make_engine, restore_indexes, upgrade
    from tracker.ingest.stores import import_connection  # the import's own connection settings

    engine = make_engine(fresh_sqlite(target))
    upgrade(engine)
    with engine.begin() as conn:
        drop_indexes(conn)
    source = sqlite3.connect(imported)
    names = [r[1] for r in source.execute("PRAGMA table_info(dossier)") if r[1] != "id"]
    # a column with one value in every row (the run's stamps, a column the file lacks) is written
    # into the statement, as the import does, not bound row by row
    constant = {n: source.execute(f"SELECT min({n}) FROM dossier").fetchone()[0] for n in names
                if source.execute(f"SELECT count(DISTINCT {n}) + (count(*) > count({n})) FROM dossier").fetchone()[0]
                <= 1}
    columns = [n for n in names if n not in constant]
    literal = [source.execute("SELECT quote(?)", (v,)).fetchone()[0] for v in constant.values()]
    insert = (f"INSERT INTO dossier ({', '.join([*columns, *constant])}) "
              f"VALUES ({', '.join(['?'] * len(columns) + literal)})")
    reader = source.execute(f"SELECT {', '.join(columns)} FROM dossier ORDER BY id")
    elapsed = 0.0
    with import_connection(engine) as conn:
        cursor = conn.connection.driver_connection.cursor()
        while chunk := reader.fetchmany(5000):
            t = time.perf_counter()
            with conn.begin():
                cursor.executemany(insert, chunk)
            elapsed += time.perf_counter() - t
        t = time.perf_counter()
        with conn.begin():
            restore_indexes(conn)
        elapsed += time.perf_counter() - t
    source.close()
    engine.dispose()
    fresh_sqlite(target)
    return elapsed


def report(label: str, seconds: float, rss: float, rows: int, base: float, target: float | None) -> None:
    ratio = seconds / base
    verdict = ""
    if target is not None:
        verdict = f" (target <= {target:.0f}x: {'met' if ratio <= target else 'MISSED'})"
    print(f"{label:28s} {seconds:7.2f} s  {rows / seconds:9,.0f} rows/s  {seconds / rows * 1e6:5.1f} µs/row"
          f"  peak RSS {rss:5.0f} MB  {ratio:5.2f}x floor{verdict}")


def fresh_sqlite(db: Path) -> str:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    return f"sqlite:///{db}"


def main(rows: int = 1_000_000, limits: bool = False) -> int:
    sys.path.insert(0, str(ROOT / "bench"))
    from gen_igate_csv import generate, write_procedures

    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / f"igate-{rows}.csv"
    if not path.exists():
        print(f"generating {path.name} …")
        generate(rows, path)
    if not shutil.which("sqlite3"):
        raise SystemExit("the sqlite3 command-line tool is needed for the floor (apt-get install sqlite3)")
    base = floor(path)
    print(f"file: {path.name}, {rows:,} rows, {path.stat().st_size / 1e6:.0f} MB")
    print(f"{'floor: sqlite3 .import':28s} {base:7.2f} s  {rows / base:9,.0f} rows/s  {base / rows * 1e6:5.1f} µs/row")

    url = fresh_sqlite(OUT / "bench.db")
    seconds, rss, counts = run_child(url, path)
    report("SQLite first import", seconds, rss, rows, base, 4)
    seconds = store_floor(OUT / "bench.db", OUT / "store.db")
    print(f"{'  of which cannot go: storing':28s} {seconds:7.2f} s  {seconds / rows * 1e6:27.1f} µs/row  "
          f"{'':17s}{seconds / base:5.2f}x floor  (the finished rows handed to SQLite through Python's "
          "sqlite3, indexes built at the end: an importer in Python pays this before reading a byte)")
    seconds, rss, counts = run_child(url, path)
    report("SQLite re-import unchanged", seconds, rss, rows, base, 2)
    print(f"{'':28s} (peak RSS target <= 300 MB; counts inserted/updated/unchanged/rejected: {counts})")
    if limits:
        catalogue = write_procedures(OUT / "procedures.csv")
        seconds, rss, _ = run_child(fresh_sqlite(OUT / "bench-limits.db"), path, catalogue)
        report("SQLite first, due dates", seconds, rss, rows, base, None)

    try:
        from sqlalchemy import create_engine, text
        from sqlalchemy.engine import make_url

        admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
        name = f"tthc_bench_{uuid.uuid4().hex[:8]}"
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # noqa: BLE001
        print(f"PostgreSQL: not measured ({type(exc).__name__}: {exc})")
        return 0
    try:
        pg = make_url(PG_ADMIN).set(database=name).render_as_string(hide_password=False)
        seconds, rss, _ = run_child(pg, path)
        report("PostgreSQL first import", seconds, rss, rows, base, None)
        seconds, rss, _ = run_child(pg, path)
        report("PostgreSQL re-import", seconds, rss, rows, base, None)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
    return 0


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if a != "--limits"]
    sys.exit(main(int(args[0]) if args else 1_000_000, limits="--limits" in sys.argv[1:]))
