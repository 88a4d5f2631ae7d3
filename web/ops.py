"""What the operators' tools read: /healthz (the load balancer), /metrics (Prometheus), the version.

/healthz: no login, nothing but ok/warning/failing per check and the version. HTTP 503 only when this
node cannot serve (database, migrations, indexes, disk); a stale import or next year's calendar shows
as failing/warning in the body without taking the node out of the pool (every node shares the database:
pulling them all out would only add an outage).

/metrics: the Prometheus text format, behind `metrics.token` (off when empty). The dossier counts,
import figures and digest deliveries are computed from the database at scrape time: whichever gunicorn
worker answers gives the same figures, nothing is lost on a restart, and the scheduler's work (another
process) is counted too. Only the request-latency histogram lives in the processes: with several
gunicorn workers, set PROMETHEUS_MULTIPROC_DIR (deploy/tthc-web.service does) and prometheus_client's
multiprocess mode adds up every worker's histogram; without it, the histogram is the answering
process's own.
"""

from __future__ import annotations

import hmac
import logging
import os
import time
import uuid

from flask import Blueprint, Flask, Response, abort, current_app, g, jsonify, request
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from sqlalchemy import func, select

from tracker.health import run_checks, version
from web import current_now
from web.auth import current_user

request_log = logging.getLogger("web.request")

bp = Blueprint("ops", __name__)

SERVING = ("database", "migrations", "indexes", "disk")  # what makes /healthz answer 503
WORDS = {"ok": "ok", "warn": "warning", "fail": "failing"}
RANK = {"ok": 0, "warning": 1, "failing": 2}
UNTIMED = ("static", "ops.metrics", "ops.healthz")

_REGISTRY = CollectorRegistry()  # this process's own (the multiprocess files when that mode is on)
LATENCY = Histogram("tthc_http_request_duration_seconds", "Time to answer a dashboard or API request.",
                    ["method", "endpoint"], registry=_REGISTRY,
                    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30))


def _settings():  # noqa: ANN202
    return current_app.config["TTHC_SETTINGS"]


def _settings_of(app: Flask):  # noqa: ANN202
    return app.config["TTHC_SETTINGS"]


def _engine():  # noqa: ANN202
    return current_app.extensions["tthc_engine"]


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)

    from tracker.logs import configure, reset_context, set_context

    if not app.testing:  # tests install their own handlers
        configure(_settings_of(app).get("log.format"), logging.INFO, loggers=("tracker", "jobs", "web"))

    @app.before_request
    def _start() -> None:
        g.tthc_started = time.perf_counter()
        g.tthc_request_id = uuid.uuid4().hex[:12]
        g.tthc_log_token = set_context(request_id=g.tthc_request_id)
        if request.endpoint not in UNTIMED:
            from tracker.calendar_days import attach

            attach(_settings(), _engine())  # days another worker's admin page entered

    @app.after_request
    def _observe(resp):  # noqa: ANN001, ANN202
        started = g.pop("tthc_started", None)
        if started is not None and request.endpoint not in UNTIMED:
            seconds = time.perf_counter() - started
            LATENCY.labels(request.method, request.endpoint or "none").observe(seconds)
            # the endpoint, never the path or query string (they may name a dossier or a person)
            user = getattr(current_user, "id", None) if current_user and current_user.is_authenticated else None
            request_log.info("%s %s %d %.0f ms", request.method, request.endpoint or "none", resp.status_code,
                             seconds * 1000, extra={"method": request.method, "endpoint": request.endpoint or "none",
                                                    "status": resp.status_code, "ms": round(seconds * 1000, 1),
                                                    "user_id": user})
        if "tthc_request_id" in g:
            resp.headers["X-Request-Id"] = g.tthc_request_id
        return resp

    @app.teardown_request
    def _forget(_exc) -> None:  # noqa: ANN001
        token = g.pop("tthc_log_token", None)
        if token is not None:
            reset_context(token)

    @app.context_processor
    def _globals() -> dict:
        return {"tthc_version": version(), "calendar_warning": _calendar_warning}


def _calendar_warning():  # noqa: ANN202
    """Next year's coverage when the overview should warn (admin and CCHC, from 1 October), else None."""
    from tracker.calendar_days import coverage

    c = coverage(_engine(), _settings(), current_now().date())
    return c if c.warn else None


# ----- /healthz ----------------------------------------------------------------------------------


@bp.get("/healthz")
def healthz():  # noqa: ANN201
    checks: dict[str, str] = {}
    for c in run_checks(_engine(), _settings(), current_now(), network=False):
        word = WORDS[c.status]
        if RANK[word] >= RANK[checks.get(c.name, "ok")]:
            checks[c.name] = word
    serving = all(checks.get(name, "ok") != "failing" for name in SERVING)
    overall = "failing" if "failing" in checks.values() else "ok"
    resp = jsonify(status=overall, version=version(), checks=checks)
    resp.status_code = 200 if serving else 503
    resp.headers["Cache-Control"] = "no-store"
    return resp


# ----- /metrics ----------------------------------------------------------------------------------


class DatabaseCollector:
    """Figures read from the database at scrape time (see the module's doc for why)."""

    def __init__(self, engine, settings, now) -> None:  # noqa: ANN001
        self.engine, self.settings, self.now = engine, settings, now

    def collect(self):  # noqa: ANN201
        from tracker.models import DigestDelivery, ImportRun
        from tracker.open_dossiers import open_counts

        counts = open_counts(self.engine, self.settings, self.now)
        dossiers = GaugeMetricFamily("tthc_dossiers_open", "Unfinished dossiers by state, now (in_progress: all).",
                                     labels=["state"])
        for state in ("in_progress", "overdue", "at_risk", "paused"):
            dossiers.add_metric([state], counts[state])
        yield dossiers

        age = GaugeMetricFamily("tthc_import_last_age_seconds", "Seconds since the last completed import, by source.",
                                labels=["source"])
        rows = CounterMetricFamily("tthc_import_rows", "Rows of every import, by source and outcome.",
                                   labels=["source", "outcome"])
        runs = CounterMetricFamily("tthc_import_runs", "Imports, by source and status.", labels=["source", "status"])
        outcomes = ("rows_read", "inserted", "updated", "unchanged", "rejected")
        with self.engine.connect() as conn:
            last = conn.execute(select(ImportRun.source, func.max(ImportRun.finished_at))
                                .where(ImportRun.status.in_(["done", "partial"])).group_by(ImportRun.source)).all()
            sums = conn.execute(select(ImportRun.source, *(func.coalesce(func.sum(getattr(ImportRun, o)), 0)
                                                           for o in outcomes)).group_by(ImportRun.source)).all()
            by_status = conn.execute(select(ImportRun.source, ImportRun.status, func.count())
                                     .group_by(ImportRun.source, ImportRun.status)).all()
            deliveries = conn.execute(select(DigestDelivery.kind, DigestDelivery.status, func.count())
                                      .group_by(DigestDelivery.kind, DigestDelivery.status)).all()
        for source, when in last:
            if when is not None:
                age.add_metric([source], max((self.now - when).total_seconds(), 0.0))
        for source, *values in sums:
            for outcome, v in zip(outcomes, values, strict=True):
                rows.add_metric([source, outcome.removeprefix("rows_")], float(v))
        for source, status, n in by_status:
            runs.add_metric([source, status], float(n))
        yield age
        yield rows
        yield runs
        digests = GaugeMetricFamily("tthc_digest_deliveries", "Digest e-mails by kind (unit, cchc) and outcome.",
                                    labels=["kind", "outcome"])
        for kind, status, n in deliveries:
            digests.add_metric([kind, status], n)
        yield digests


def _authorised(token: str) -> bool:
    given = request.headers.get("Authorization", "")
    scheme, _, value = given.partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(value.strip().encode(), token.encode())


@bp.get("/metrics")
def metrics():  # noqa: ANN201
    token = _settings().get("metrics.token")
    if not token:
        abort(404)
    if not _authorised(token):
        return Response("metrics: missing or wrong bearer token\n", 401, {"WWW-Authenticate": "Bearer"},
                        mimetype="text/plain")
    registry = CollectorRegistry()
    registry.register(DatabaseCollector(_engine(), _settings(), current_now()))
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.MultiProcessCollector(registry)
        body = generate_latest(registry)
    else:
        body = generate_latest(registry) + generate_latest(_REGISTRY)
    return Response(body, 200, {"Content-Type": CONTENT_TYPE_LATEST, "Cache-Control": "no-store"})
