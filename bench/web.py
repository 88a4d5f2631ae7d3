"""Benchmark: the overview and the overdue list with 1,000,000 dossiers in SQLite, 8 clients.

    .venv/bin/python bench/web.py [--rows 1000000] [--workers 4] [--clients 8] [--seconds 20]

Builds bench/out/web-<rows>.db once (the demo province through the real import path), adds a
user, starts the dashboard under gunicorn (`cli.serve.run_gunicorn`, what `tthc serve
--workers N` runs) on a free port, logs 8 clients in and has each request the overview and the
overdue list (with a rotating filter) for the given time. Prints p50 and p95 per page.
Target: p95 <= 300 ms for both.
"""

from __future__ import annotations

import argparse
import re
import socket
import subprocess
import sys
import threading
import time
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "out" / "web"
PASSWORD = "bench password"
NOW = datetime(2026, 11, 20, 10, 0)


def build(rows: int) -> Path:
    db = OUT / f"web-{rows}.db"
    if db.exists():
        return db
    from tracker.config import load_settings
    from tracker.db import make_engine, upgrade
    from tracker.demo import build_demo_files
    from tracker.ingest import import_file, import_procedures, import_units
    from tracker.users import create_user

    OUT.mkdir(parents=True, exist_ok=True)
    tmp = db.with_suffix(".building")
    url = f"sqlite:///{tmp}"
    settings = load_settings(env={}, overrides={"database.url": url, "paths.var_dir": str(OUT / "var")})
    engine = make_engine(url)
    upgrade(engine)
    t = time.perf_counter()
    files = build_demo_files(OUT / "web-demo", today=NOW.date(), now=NOW, per_month=rows // 13, months=13)
    print(f"demo files: {time.perf_counter() - t:.0f} s", flush=True)
    import_units(engine, files.units)
    import_procedures(engine, files.procedures)
    t = time.perf_counter()
    res = import_file(engine, settings, files.dossiers, source="bench")
    print(f"import: {res.inserted} dossiers in {time.perf_counter() - t:.0f} s", flush=True)
    create_user(engine, "bench", "admin", PASSWORD)
    engine.dispose()
    tmp.rename(db)
    return db


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve(db: Path, port: int, workers: int) -> subprocess.Popen:
    code = (
        "import sys; from tracker.config import load_settings; from cli.serve import run_gunicorn; "
        f"s = load_settings(env={{}}, overrides={{'database.url': 'sqlite:///{db}', "
        f"'paths.var_dir': '{OUT / 'var'}'}}); sys.argv = ['gunicorn']; "
        f"run_gunicorn(s, '127.0.0.1', {port}, {workers})"
    )
    return subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)


def client(base: str, deadline: float, out: dict[str, list[float]], k: int) -> None:
    import requests

    s = requests.Session()
    token = re.search(r'name="csrf_token" value="([^"]+)"', s.get(f"{base}/login").text).group(1)
    r = s.post(f"{base}/login", data={"username": "bench", "password": PASSWORD, "csrf_token": token},
               allow_redirects=False)
    assert r.status_code == 302, r.status_code
    filters = ["", "?how_late=overdue", "?channel=2", "?how_late=gt7", "?page=3", "?how_late=at_risk"]
    i = k
    while time.monotonic() < deadline:
        for name, path in (("overview", "/"), ("overdue", "/overdue" + filters[i % len(filters)])):
            t = time.perf_counter()
            resp = s.get(base + path)
            dt = time.perf_counter() - t
            assert resp.status_code == 200, (path, resp.status_code)
            out[name].append(dt)
            if 'id="reports-pending"' in resp.text:
                out.setdefault("pending", []).append(dt)
        i += 1


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))] * 1000


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--workers", type=int, default=4)
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--seconds", type=float, default=20)
    args = ap.parse_args()
    import requests

    db = build(args.rows)
    port = free_port()
    proc = serve(db, port, args.workers)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                requests.get(f"{base}/healthz", timeout=5)
                break
            except requests.RequestException:
                time.sleep(0.1)
        # Warm every worker: the first overview a worker serves starts computing its reports (the 12
        # months and the running month, quarter and year) in the background, which takes seconds at
        # this size; meanwhile the page says the rates are pending. Rounds of concurrent requests
        # until a whole round is fast and complete; the warm-up time is printed, not hidden.
        t0 = time.monotonic()
        while time.monotonic() - t0 < 600:
            warm: dict[str, list[float]] = {"overview": [], "overdue": []}
            threads = [threading.Thread(target=client, args=(base, time.monotonic() + 2, warm, k))
                       for k in range(args.workers * 2)]
            for th in threads:
                th.start()
            for th in threads:
                th.join()
            if warm["overview"] and max(warm["overview"]) < 0.5 and not warm.get("pending"):
                break
        print(f"warm-up (first requests compute each worker's reports): {time.monotonic() - t0:.0f} s")
        times: dict[str, list[float]] = {"overview": [], "overdue": []}
        deadline = time.monotonic() + args.seconds
        threads = [threading.Thread(target=client, args=(base, deadline, times, k)) for k in range(args.clients)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
    finally:
        proc.terminate()
        proc.wait(10)
    ok = True
    print(f"{args.rows:,} dossiers, SQLite, gunicorn {args.workers} workers, {args.clients} clients, "
          f"{args.seconds:g} s")
    if times.get("pending"):
        print(f"  ({len(times.pop('pending'))} overview responses still had rates pending)")
    for name, values in times.items():
        p50, p95 = pct(values, 50), pct(values, 95)
        ok &= p95 <= 300
        print(f"  {name:<9} n={len(values):>5}  p50 {p50:7.1f} ms  p95 {p95:7.1f} ms  "
              f"{'ok' if p95 <= 300 else 'over the 300 ms target'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    sys.exit(main())
