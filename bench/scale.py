"""Benchmark at province scale (issue 17): 10,000,000 dossiers on PostgreSQL, 1,000,000 on SQLite, and
the figures the issue sets targets for, each printed beside its target.

    make bench-scale
    .venv/bin/python bench/scale.py [--rebuild] [--only build|report|audits|web] [--seconds 30]
                                    [--caches on,off] [--roles cchc,unit_head] [--migrate]

The data (bench/scale_data.py, which says how it is made): a PostgreSQL database `tthc_bench_10m` on the
server of $TTHC_BENCH_PG_URL (default: the tests' server, postgresql+psycopg://postgres@127.0.0.1:5432/test),
created when missing, migrated by the product's Alembic (tracker.db.upgrade) and generated in SQL; and
var/bench/tthc_bench_1m.db, a tenth of it copied into SQLite. Both are reused while they hold the right
rows from the same generator, at the schema's head revision and the settings' fingerprint; `--rebuild`
builds them again; `--migrate` brings a database one migration behind up to the head instead (Alembic,
as a deployment would) rather than rebuilding it. They stay for later runs on this machine; nothing
generated is committed. Whoever adds data the import maintains (aggregates, say) adds its rebuild to
`finish_build`: the generator writes the tables directly, not through the importer.

Figures, with the machine they were measured on (cores, load, memory, PostgreSQL version):
- a year's period report by unit (tracker.reports.period_report, 2025): at 10M on PostgreSQL (target
  0.5 s) and at 1M on SQLite (target 0.3 s); the first run and the median of five more;
- the three audits over 2025 at 10M (tracker.audits.run_audit; target 1 s each);
- the overview and the overdue list (rotating filters) with 8 concurrent clients against gunicorn with 4
  workers, over HTTP, logged in as a CCHC officer and as the head of a department with five
  sub-departments: p50, p95, p99 and the database time per request (bench/scale_serve.py), target p95
  100 ms; with the product's caches as deployed, after a warm-up (`on`: they can serve reports up to 5
  minutes and lists up to 15 s older than the last import, which the issue rules out), and with every
  cache emptied before each request (`off`: what a page costs when it reads fresh data).
A JSON copy of the figures goes to var/bench/scale-<date>.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import re
import socket
import statistics
import subprocess
import sys
import threading
import time
import uuid
from datetime import date, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import scale_data as sd  # noqa: E402

VAR = ROOT / "var" / "bench"
PG_ROWS = 10_000_000
SQLITE_EVERY = 10  # the SQLite database: every tenth dossier
PG_ADMIN_URL = os.environ.get("TTHC_BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
YEAR = 2025
TARGET_REPORT_PG, TARGET_REPORT_SQLITE, TARGET_AUDIT, TARGET_P95_MS = 0.5, 0.3, 1.0, 100.0
PASSWORD = "bench scale password"
USERS = {"cchc": ("bench_cchc", "cchc"), "unit_head": ("bench_head", "unit_head")}
FILTERS = ["", "?how_late=overdue", "?channel=2", "?how_late=gt7", "?page=3", "?how_late=at_risk"]
META = ("bench_rows", "bench_generator", "bench_build_id", "bench_build_seconds", "bench_built_at")
SAMPLE = 1000


def say(text: str = "") -> None:
    print(text, flush=True)


def progress(text: str) -> None:
    print(text, end="", flush=True)


# ----- the machine ----------------------------------------------------------------------------------------


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} {five:.2f} {fifteen:.2f}"


def machine(pg_url: str) -> dict[str, str]:
    import psycopg

    mem = "?"
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem = f"{int(line.split()[1]) / 1024 / 1024:.0f} GB"
    except OSError:
        pass
    with psycopg.connect(_plain(pg_url)) as conn:
        version = conn.execute("SHOW server_version").fetchone()[0]
        buffers = conn.execute("SHOW shared_buffers").fetchone()[0]
        workers = conn.execute("SHOW max_parallel_workers_per_gather").fetchone()[0]
    import sqlite3

    return {"nproc": str(os.cpu_count()), "load": load(), "memory": mem, "cpu": _cpu_model(),
            "python": platform.python_version(), "postgresql": version, "shared_buffers": buffers,
            "parallel_workers_per_gather": workers, "sqlite": sqlite3.sqlite_version}


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "?"


def _plain(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://")


def _with_db(url: str, name: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).set(database=name).render_as_string(hide_password=False)


# ----- the databases ----------------------------------------------------------------------------------------


def _state(engine, settings) -> tuple[dict[str, str | None], str | None]:  # noqa: ANN001
    """The bench facts stored in the database, and why it cannot be reused as it is (None: it can)."""
    from sqlalchemy import inspect

    from tracker.db import current_revision, head_revision
    from tracker.derive import META_FP, get_meta

    if "meta" not in inspect(engine).get_table_names():
        return {}, "empty"
    facts = {k: get_meta(engine, k) for k in (*META, META_FP)}
    if facts["bench_generator"] != sd.GENERATOR:
        return facts, f"generator {facts['bench_generator']}, not {sd.GENERATOR}"
    if facts[META_FP] != settings.fingerprint():
        return facts, "derived with other settings"
    if current_revision(engine) != head_revision():
        return facts, f"schema at {current_revision(engine)}, head is {head_revision()}"
    return facts, None


def ensure_pg(rebuild: bool, migrate: bool) -> tuple[str, dict]:
    """The 10M PostgreSQL database's URL, built when missing, stale or asked to; and its build facts."""
    import psycopg

    from tracker.db import current_revision, head_revision, make_engine, upgrade

    name = "tthc_bench_10m" if PG_ROWS == 10_000_000 else f"tthc_bench_{PG_ROWS}"
    url = _with_db(PG_ADMIN_URL, name)
    settings = sd.bench_settings(url)
    with psycopg.connect(_plain(PG_ADMIN_URL), autocommit=True) as admin:
        exists = admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone() is not None
    why = "asked to (--rebuild)" if rebuild else "missing"
    if exists and not rebuild:
        engine = make_engine(url)
        facts, why = _state(engine, settings)
        if why and why.startswith("schema at") and migrate and facts.get("bench_rows") == str(PG_ROWS):
            t0 = time.perf_counter()
            say(f"{name}: {why}; migrating (--migrate) …")
            upgrade(engine)
            say(f"  migrated in {time.perf_counter() - t0:.1f} s")
            facts, why = _state(engine, settings)
        if why is None and facts.get("bench_rows") != str(PG_ROWS):
            why = f"{facts.get('bench_rows')} dossiers, not {PG_ROWS:,}"
        engine.dispose()
        if why is None:
            say(f"{name}: reused ({int(facts['bench_rows']):,} dossiers, generator {facts['bench_generator']}, "
                f"built {facts['bench_built_at']} in {float(facts['bench_build_seconds']):.0f} s; --rebuild builds it "
                "again)")
            return url, facts
    say(f"{name}: building ({why}) — {PG_ROWS:,} dossiers; load now {load()}")
    t_all = time.perf_counter()
    with psycopg.connect(_plain(PG_ADMIN_URL), autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}"')
    engine = make_engine(url)
    t0 = time.perf_counter()
    upgrade(engine)
    say(f"  schema by Alembic (tracker.db.upgrade) to {current_revision(engine)}: {time.perf_counter() - t0:.1f} s")
    rep = sd.build_pg(url, PG_ROWS, log=progress)
    finish_build(engine, settings, rep)
    t0 = time.perf_counter()
    rng = random.Random(sd.SEED)
    sd.verify(engine, settings, rng.sample(range(1, PG_ROWS + 1), SAMPLE))
    rep.step("sample checked", t0)
    seconds = time.perf_counter() - t_all
    facts = _stamp(engine, PG_ROWS, seconds, uuid.uuid4().hex)
    engine.dispose()
    cpu = rep.seconds.get("generating backends' CPU")
    say(f"{name}: built in {seconds:.0f} s ({seconds / 60:.1f} min; the two generating connections used "
        f"{'?' if cpu is None else f'{cpu:.0f}'} s of CPU; load now {load()}); schema at {head_revision()}")
    return url, facts


def finish_build(engine, settings, rep) -> None:  # noqa: ANN001
    """What a running product has besides the imported rows: its users, the settings' fingerprint the rows
    were derived with, statistics and a vacuum (autovacuum would otherwise run during the figures)."""
    from sqlalchemy import text

    from tracker.derive import META_FP, set_meta
    from tracker.users import create_user

    t0 = time.perf_counter()
    cat = sd.catalogue()
    create_user(engine, USERS["cchc"][0], "cchc", PASSWORD)
    create_user(engine, USERS["unit_head"][0], "unit_head", PASSWORD, unit_codes=[cat.head_unit_code])
    set_meta(engine, META_FP, settings.fingerprint())
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("SET maintenance_work_mem = '1GB'"))
            conn.execute(text("VACUUM (ANALYZE) dossier, status_change, supplement, dossier_outlook, import_run, unit, "
                              "procedure, procedure_limit, app_user, user_unit, meta"))
        rep.step("VACUUM (ANALYZE)", t0)


def _stamp(engine, rows: int, seconds: float, build_id: str) -> dict:  # noqa: ANN001
    from tracker.derive import META_FP, get_meta, set_meta

    facts = {"bench_rows": str(rows), "bench_generator": sd.GENERATOR, "bench_build_id": build_id,
             "bench_build_seconds": f"{seconds:.1f}", "bench_built_at": datetime.now().isoformat(" ", "seconds")}
    for k, v in facts.items():
        set_meta(engine, k, v)
    facts[META_FP] = get_meta(engine, META_FP)
    return facts


def ensure_sqlite(pg_url: str, pg_facts: dict, rebuild: bool) -> tuple[str, dict]:
    """The 1M SQLite database: a tenth of the PostgreSQL one, copied again whenever that one was rebuilt."""
    from tracker.db import make_engine

    rows = PG_ROWS // SQLITE_EVERY
    path = VAR / ("tthc_bench_1m.db" if rows == 1_000_000 else f"tthc_bench_{rows}.db")
    url = f"sqlite:///{path}"
    settings = sd.bench_settings(url)
    why = "asked to (--rebuild)" if rebuild else "missing"
    if path.exists() and not rebuild:
        engine = make_engine(url)
        facts, why = _state(engine, settings)
        if why is None and facts.get("bench_build_id") != pg_facts.get("bench_build_id"):
            why = "copied from an earlier build of the PostgreSQL database"
        engine.dispose()
        if why is None:
            say(f"{path.relative_to(ROOT)}: reused ({int(facts['bench_rows']):,} dossiers)")
            return url, facts
    say(f"{path.relative_to(ROOT)}: building ({why}) — every {SQLITE_EVERY}th dossier of the PostgreSQL database")
    VAR.mkdir(parents=True, exist_ok=True)
    t_all = time.perf_counter()
    copied = sd.build_sqlite(pg_url, path, SQLITE_EVERY, log=progress)
    if copied != rows:
        raise SystemExit(f"SQLite: {copied:,} dossiers copied, {rows:,} expected")
    engine = make_engine(url)
    rep = sd.BuildReport(rows=rows)
    rep.step("copied", t_all)
    finish_build(engine, settings, rep)
    t0 = time.perf_counter()
    sd.verify(engine, settings, random.Random(sd.SEED).sample(range(SQLITE_EVERY, PG_ROWS + 1, SQLITE_EVERY), SAMPLE))
    rep.step("sample checked", t0)
    seconds = time.perf_counter() - t_all
    facts = _stamp(engine, rows, seconds, pg_facts["bench_build_id"])
    engine.dispose()
    say(f"{path.relative_to(ROOT)}: built in {seconds:.0f} s")
    return url, facts


def counts(url: str) -> dict[str, int]:
    from sqlalchemy import text

    from tracker.db import make_engine

    engine = make_engine(url)
    with engine.connect() as conn:
        out = {t: conn.execute(text(f"SELECT count(*) FROM {t}")).scalar_one()
               for t in ("dossier", "status_change", "supplement", "dossier_outlook", "unit", "procedure")}
        out["open"] = conn.execute(text("SELECT count(*) FROM dossier WHERE finish_at IS NULL AND status NOT IN (1, 3)")
                                   ).scalar_one()
        if engine.dialect.name == "postgresql":
            out["database_bytes"] = conn.execute(text("SELECT pg_database_size(current_database())")).scalar_one()
    engine.dispose()
    if engine.dialect.name == "sqlite":
        out["database_bytes"] = Path(engine.url.database).stat().st_size
    return out


# ----- reports and audits ---------------------------------------------------------------------------------------


def report_figures(url: str, target: float, label: str) -> dict:
    from tracker.db import make_engine
    from tracker.reports import period_report

    engine = make_engine(url)
    settings = sd.bench_settings(url)
    start, end = date(YEAR, 1, 1), date(YEAR, 12, 31)
    times, cpu = [], []
    for _ in range(6):
        t0, c0 = time.perf_counter(), time.process_time()
        report = period_report(engine, settings, start, end, by="unit")
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    engine.dispose()
    first, median = times[0], statistics.median(times[1:])
    t = report.total
    say(f"  {label}: {YEAR} by unit, {len(report.rows)} rows, {t.total:,} dossiers "
        f"(finished {t.finished:,}, unfinished {t.unfinished:,}, on-time rate {t.on_time_rate}%)")
    say(f"    first run {first:.2f} s; median of 5 more {median:.2f} s (best {min(times[1:]):.2f}); "
        f"Python CPU {min(cpu):.2f} s  —  target {target} s: {'met' if median <= target else 'MISSED'}; load {load()}")
    return {"first_s": round(first, 3), "median_s": round(median, 3), "best_s": round(min(times[1:]), 3),
            "target_s": target, "met": median <= target, "rows": len(report.rows), "dossiers": t.total}


def audit_figures(url: str, label: str) -> dict:
    from tracker.audits import AUDITS, run_audit
    from tracker.db import make_engine

    engine = make_engine(url)
    settings = sd.bench_settings(url)
    out = {}
    for name in AUDITS:
        times = []
        for _ in range(2):
            t0 = time.perf_counter()
            found = run_audit(name, engine, settings, as_of=sd.NOW, start=date(YEAR, 1, 1), end=date(YEAR, 12, 31))
            times.append(time.perf_counter() - t0)
        out[name] = {"first_s": round(times[0], 3), "second_s": round(times[1], 3), "rows": len(found),
                     "met": max(times) <= TARGET_AUDIT}
    engine.dispose()
    say(f"  {label}: " + "; ".join(f"{n} {v['first_s']:.2f} s then {v['second_s']:.2f} s ({v['rows']:,} rows)"
                                   for n, v in out.items()))
    worst = max(max(v["first_s"], v["second_s"]) for v in out.values())
    say(f"    slowest {worst:.2f} s  —  target {TARGET_AUDIT} s each: "
        f"{'met' if worst <= TARGET_AUDIT else 'MISSED'}; load {load()}")
    return out


# ----- the dashboard over HTTP -----------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve(url: str, caches: str, workers: int, log_path: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    var_dir = VAR / "web"
    var_dir.mkdir(parents=True, exist_ok=True)
    log = log_path.open("w")
    proc = subprocess.Popen([sys.executable, str(ROOT / "bench" / "scale_serve.py"), url, str(port), str(workers),
                             caches, str(var_dir)], cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    import requests

    for _ in range(600):
        if proc.poll() is not None:
            raise SystemExit(f"the dashboard did not start: see {log_path}")
        try:
            requests.get(f"{base}/healthz", timeout=5)
            return proc, base
        except requests.RequestException:
            time.sleep(0.1)
    raise SystemExit(f"the dashboard did not answer in 60 s: see {log_path}")


def login(base: str, role: str):  # noqa: ANN201
    import requests

    s = requests.Session()
    token = re.search(r'name="csrf_token" value="([^"]+)"', s.get(f"{base}/login").text).group(1)
    r = s.post(f"{base}/login", data={"username": USERS[role][0], "password": PASSWORD, "csrf_token": token},
               allow_redirects=False)
    if r.status_code != 302:
        raise SystemExit(f"login as {USERS[role][0]}: HTTP {r.status_code}")
    return s


def sessions_for(base: str, role: str, n: int) -> list:
    """`n` logged-in sessions, one after the other: concurrent logins of one account from one address
    would be refused by the login throttle (it counts an attempt before checking the password)."""
    return [login(base, role) for _ in range(n)]


def run_clients(base: str, sessions: list, page: str, seconds: float) -> list[tuple]:
    """Each session a user requesting `page` again and again (the overdue list with the next filter each
    time) until the deadline; each makes at least one request, and one started is finished and counted.
    (latency s, database ms, queries, HTTP status, rates still pending) per request."""
    out: list[tuple] = []
    errors: list[BaseException] = []
    deadline = time.monotonic() + seconds

    def user(s, k: int) -> None:  # noqa: ANN001
        try:
            i = k
            while True:
                path = "/" if page == "overview" else "/overdue" + FILTERS[i % len(FILTERS)]
                t = time.perf_counter()
                resp = s.get(base + path, timeout=3600)
                dt = time.perf_counter() - t
                out.append((dt, float(resp.headers.get("X-Bench-DB-Ms", "nan")),
                            int(resp.headers.get("X-Bench-Queries", 0)), resp.status_code,
                            'id="reports-pending"' in resp.text))
                i += 1
                if time.monotonic() >= deadline:
                    return
        except BaseException as exc:  # noqa: BLE001  (raised again in the main thread)
            errors.append(exc)

    threads = [threading.Thread(target=user, args=(s, k)) for k, s in enumerate(sessions)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    if errors:
        raise errors[0]
    return out


def pct(values: list[float], p: float) -> float:
    """The nearest-rank percentile."""
    values = sorted(values)
    return values[min(len(values) - 1, max(0, round(p / 100 * len(values) + 0.5) - 1))]


def warm_up(base: str, sessions: list, budget: float = 600) -> tuple[float, bool]:
    """The deployed caches: each worker computes its overview's reports in the background on its first
    request (the page says they are pending meanwhile). Rounds of concurrent overviews until one round
    has every page complete and under a second, or `budget` seconds: (seconds, whether it settled);
    printed, not hidden."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < budget:
        rec = run_clients(base, sessions, "overview", 3)
        if rec and all(not r[4] and r[3] == 200 for r in rec) and max(r[0] for r in rec) < 1:
            return time.monotonic() - t0, True
        time.sleep(2)
    return time.monotonic() - t0, False


def web_figures(url: str, label: str, caches_modes: list[str], roles: list[str], seconds: float,
                workers: int = 4, clients: int = 8) -> dict:
    """Each page on its own, `clients` users at once. Caches on: after the warm-up, for `seconds`. Caches
    off: the overdue list for `seconds`, the overview once per user (each one computes fifteen period
    reports and the data-quality counts over every dossier)."""
    results: dict = {}
    who = {"cchc": "CCHC officer (every unit)",
           "unit_head": f"unit head ({sd.DEPARTMENTS[sd.HEAD_DEPARTMENT][0]} and its 5 sub-departments)"}
    for caches in caches_modes:
        log_path = VAR / f"web-{caches}.log"
        proc, base = serve(url, caches, workers, log_path)
        try:
            for role in roles:
                key = f"{caches}/{role}"
                sessions = sessions_for(base, role, clients)
                warm, settled = warm_up(base, sessions) if caches == "on" else (0.0, True)
                results[key] = {"warm_up_s": round(warm, 1), "settled": settled, "pages": {}}
                mode = ("every cache emptied before each request" if caches == "off"
                        else f"as deployed, after a warm-up of {warm:.0f} s" if settled
                        else f"as deployed; {warm:.0f} s of warm-up and the overview still not under a second "
                             "with its rates computed: measured as it is")
                say(f"  {label}, caches {caches} ({mode}), {who[role]}, {clients} clients, gunicorn {workers} workers:")
                for page in ("overview", "overdue"):
                    span = 0 if caches == "off" and page == "overview" else seconds
                    t0 = time.monotonic()
                    rows = run_clients(base, sessions, page, span)
                    wall = time.monotonic() - t0
                    results[key]["pages"][page] = entry = _page_entry(rows, wall)
                    extra = (f"; {entry['errors']} not 200" if entry["errors"] else "") + (
                        f"; {entry['pending']} with rates still pending" if entry["pending"] else "")
                    say(f"    {page:<9} n={entry['n']:>5} in {wall:4.0f} s  p50 {entry['p50_ms']:8.1f}  p95 "
                        f"{entry['p95_ms']:8.1f}  p99 {entry['p99_ms']:8.1f} ms; database p50 {entry['db_ms_p50']} ms, "
                        f"p95 {entry['db_ms_p95']} ms ({entry['queries']} queries){extra}  —  target p95 "
                        f"{TARGET_P95_MS:.0f} ms: {'met' if entry['met'] else 'MISSED'}")
                say(f"    load {load()}")
        finally:
            proc.terminate()
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)
    return results


def _page_entry(rows: list[tuple], wall: float) -> dict:
    lat = [r[0] * 1000 for r in rows]
    db = [r[1] for r in rows if r[1] == r[1]]
    bad = sum(1 for r in rows if r[3] != 200)
    p95 = pct(lat, 95)
    return {"n": len(rows), "seconds": round(wall, 1), "p50_ms": round(pct(lat, 50), 1), "p95_ms": round(p95, 1),
            "p99_ms": round(pct(lat, 99), 1), "max_ms": round(max(lat), 1),
            "db_ms_mean": round(statistics.mean(db), 1) if db else None,
            "db_ms_p50": round(pct(db, 50), 1) if db else None, "db_ms_p95": round(pct(db, 95), 1) if db else None,
            "queries": round(statistics.mean(r[2] for r in rows), 1), "errors": bad,
            "pending": sum(1 for r in rows if r[4]), "met": p95 <= TARGET_P95_MS and not bad}


# ----- main ---------------------------------------------------------------------------------------------------------


def _size(db: str, rows: int) -> str:
    return f"{db} {rows // 10**6}M" if rows % 10**6 == 0 else f"{db} {rows:,}"


def main(argv: list[str] | None = None) -> int:
    global PG_ROWS  # noqa: PLW0603
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rebuild", action="store_true", help="build both databases again")
    ap.add_argument("--migrate", action="store_true",
                    help="a database behind the schema's head: migrate it (Alembic) instead of rebuilding")
    ap.add_argument("--only", choices=("build", "report", "audits", "web"), action="append",
                    help="only these steps (the databases are built or checked first in any case)")
    ap.add_argument("--seconds", type=float, default=30, help="measuring time per web run (default 30)")
    ap.add_argument("--caches", default="on,off", help="web runs: on (as deployed), off (emptied), or both")
    ap.add_argument("--roles", default="cchc,unit_head", help="web runs: cchc, unit_head or both")
    ap.add_argument("--skip-sqlite", action="store_true", help="no SQLite database or figure")
    ap.add_argument("--rows", type=int, default=PG_ROWS,
                    help="dossiers on PostgreSQL (default 10,000,000; another size has its own databases)")
    args = ap.parse_args(argv)
    PG_ROWS = args.rows
    steps = set(args.only or ("build", "report", "audits", "web"))
    VAR.mkdir(parents=True, exist_ok=True)

    started = time.perf_counter()
    pg_url, pg_facts = ensure_pg(args.rebuild, args.migrate)
    sqlite_url = None
    if not args.skip_sqlite:
        sqlite_url, _ = ensure_sqlite(pg_url, pg_facts, args.rebuild)
    m = machine(pg_url)
    say()
    say(f"machine: {m['nproc']} cores ({m['cpu']}), {m['memory']} memory, load {m['load']}; PostgreSQL "
        f"{m['postgresql']} (shared_buffers {m['shared_buffers']}, {m['parallel_workers_per_gather']} parallel "
        f"workers per gather); SQLite {m['sqlite']}; Python {m['python']}")
    pg_counts = counts(pg_url)
    say(f"PostgreSQL: {pg_counts['dossier']:,} dossiers ({pg_counts['open']:,} open at "
        f"{sd.NOW:%d/%m/%Y %H:%M}), {pg_counts['status_change']:,} status changes, {pg_counts['supplement']:,} "
        f"supplement pairs, {pg_counts['unit']} units, {pg_counts['procedure']} procedures; "
        f"{pg_counts['database_bytes'] / 2**30:.1f} GB; generated in {float(pg_facts['bench_build_seconds']):.0f} s "
        f"on {pg_facts['bench_built_at']}")
    results: dict = {"machine": m, "pg": {"counts": pg_counts, "build": pg_facts}, "now": str(sd.NOW)}
    if sqlite_url:
        sq = counts(sqlite_url)
        say(f"SQLite: {sq['dossier']:,} dossiers ({sq['open']:,} open), {sq['database_bytes'] / 2**30:.1f} GB")
        results["sqlite"] = {"counts": sq}
    say(f"the present moment: {sd.NOW:%d/%m/%Y %H:%M} (a Thursday; the last import at {sd.LAST_IMPORT:%H:%M})")
    say()
    if "report" in steps:
        say("Period report (tracker.reports.period_report):")
        results["report_pg"] = report_figures(pg_url, TARGET_REPORT_PG, _size("PostgreSQL", PG_ROWS))
        if sqlite_url:
            results["report_sqlite"] = report_figures(sqlite_url, TARGET_REPORT_SQLITE,
                                                      _size("SQLite", PG_ROWS // SQLITE_EVERY))
    if "audits" in steps:
        say(f"Audits over {YEAR} (tracker.audits.run_audit):")
        results["audits_pg"] = audit_figures(pg_url, _size("PostgreSQL", PG_ROWS))
    if "web" in steps:
        say("Dashboard over HTTP (bench/scale_serve.py; X-Bench-DB-Ms: the request's own database time):")
        modes, roles = [c for c in args.caches.split(",") if c], [r for r in args.roles.split(",") if r]
        results["web_pg"] = web_figures(pg_url, _size("PostgreSQL", PG_ROWS), modes, roles, args.seconds)
    out = VAR / f"scale-{datetime.now():%Y%m%d-%H%M%S}.json"
    out.write_text(json.dumps(results, indent=1, default=str))
    say()
    say(f"done in {time.perf_counter() - started:.0f} s; figures also in {out.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
