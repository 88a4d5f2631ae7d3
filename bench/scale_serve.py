"""The dashboard under gunicorn for bench/scale.py: what `tthc serve --workers N` runs (web.cli._gunicorn's
settings: N workers of 2 threads, no access log, forwarded headers not believed), plus what the benchmark
needs, without changing the product:

- the present moment frozen at bench/scale_data.NOW (create_app's `now`), so the data and the clock agree;
- the time each request spends in the database: SQLAlchemy's cursor events on the app's engine add up the
  time of the statements the request's own thread runs (rows are fetched inside execute with psycopg and
  SQLite), sent back in the X-Bench-DB-Ms and X-Bench-Queries headers (work a page left to a background
  thread is not the request's);
- `off`: no cache serves anything: every per-process cache of pages, counts and reports is emptied before
  each request and the app's `testing` switch is on, which is how the product computes the overview's
  reports and the data-quality counts in the request instead of in the background (web.views._report,
  web.quality._in_background). `on`: the product as deployed.

    .venv/bin/python bench/scale_serve.py DATABASE_URL PORT WORKERS on|off VAR_DIR
"""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def make_app(url: str, caches: str, var_dir: str):  # noqa: ANN201
    from sqlalchemy import event

    from bench.scale_data import NOW
    from tracker.config import load_settings
    from web import create_app

    settings = load_settings(env={}, overrides={"database.url": url, "paths.var_dir": var_dir})
    app = create_app(settings, now=lambda: NOW)
    engine = app.extensions["tthc_engine"]
    spent = threading.local()

    @event.listens_for(engine, "before_cursor_execute")
    def _before(conn, cursor, statement, parameters, context, executemany) -> None:  # noqa: ANN001
        context._bench_started = time.perf_counter()

    @event.listens_for(engine, "after_cursor_execute")
    def _after(conn, cursor, statement, parameters, context, executemany) -> None:  # noqa: ANN001
        if getattr(spent, "active", False):
            spent.seconds += time.perf_counter() - context._bench_started
            spent.queries += 1

    def _start() -> None:
        spent.seconds, spent.queries, spent.active = 0.0, 0, True
        if caches == "off":
            _empty_caches()

    # first of all before_request functions: web.ops's own runs queries too
    app.before_request_funcs.setdefault(None, []).insert(0, _start)

    @app.after_request
    def _headers(resp):  # noqa: ANN001, ANN202
        if getattr(spent, "active", False):
            resp.headers["X-Bench-DB-Ms"] = f"{spent.seconds * 1000:.2f}"
            resp.headers["X-Bench-Queries"] = str(spent.queries)
            spent.active = False
        return resp

    if caches == "off":
        app.testing = True
        app.config["TTHC_LIST_CACHE_SECONDS"] = 0
        app.config["PROPAGATE_EXCEPTIONS"] = False  # a failure is a 500 the client counts, as in production
    return app


def _empty_caches() -> None:
    """Every per-process cache of what the pages show (the unit tree and the calendar stay: no dossier
    data in them)."""
    from web import lists, quality, reports, views

    with views._REPORTS_LOCK:
        views._REPORTS.clear()
    with reports._CACHE_LOCK:
        reports._CACHE.clear()
    with quality._SWR_LOCK:
        quality._SWR.clear()
    with lists.CACHE._lock:
        lists.CACHE._items.clear()


def main(url: str, port: int, workers: int, caches: str, var_dir: str) -> int:
    from gunicorn.app.base import BaseApplication

    class App(BaseApplication):
        def load_config(self) -> None:
            self.cfg.set("bind", f"127.0.0.1:{port}")
            self.cfg.set("workers", workers)
            self.cfg.set("threads", 2)
            self.cfg.set("accesslog", None)
            self.cfg.set("forwarded_allow_ips", "")
            self.cfg.set("timeout", 900)  # a page computed with no cache at 10M can take minutes

        def load(self):  # noqa: ANN202
            return make_app(url, caches, var_dir)

    App().run()
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    url_, port_, workers_, caches_, var_ = sys.argv[1:6]
    sys.exit(main(url_, int(port_), int(workers_), caches_, var_))
