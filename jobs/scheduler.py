"""The scheduler: one long-running process (`tthc scheduler`) that runs the jobs on time.

- each import source declared in settings, every `every_minutes` (tracker.ingest.sources.run_source);
- the refresh of derived columns, at start and hourly (cheap when nothing is stale: one count);
- the morning digest at `digest.time` (07:30, Asia/Ho_Chi_Minh) on working days. The job itself
  checks the working calendar, so holidays are skipped and make-up Saturdays are not; it also runs
  every 30 minutes until the end of the office day, doing nothing once the day's digest has been
  fully delivered: a scheduler started late, or an SMTP server back after an outage, still delivers
  the morning's digest, and never twice (jobs.delivery claims each message).

Exactly one scheduler runs per database: at start it takes a lock (a PostgreSQL advisory lock, held
by a connection the server drops with the process; on SQLite an flock(2) on a file beside the
database, released by the kernel when the process dies). A second scheduler says who holds it and
exits with status 1. `tthc scheduler --once JOB` runs one job and exits without the lock: each job
is safe beside a running scheduler (imports lock their source, deliveries are claimed).
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import threading
from collections.abc import Callable, Iterator
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, create_engine, text
from sqlalchemy.exc import SQLAlchemyError, StatementError
from sqlalchemy.pool import NullPool

from jobs.digest import META_DONE, DigestRun, digest_moment, run_digests
from tracker.clock import LOCAL_TZ, now_local
from tracker.config import Settings
from tracker.derive import get_meta, refresh_if_stale
from tracker.ingest.sources import source_specs
from tracker.locks import LockBusy, lock_key, lock_path, named_lock

log = logging.getLogger("jobs.scheduler")

LOCK_NAME = "scheduler"
CATCH_UP_MINUTES = 30
REFRESH_MINUTES = 60
ONCE_JOBS = ("digest", "refresh", "import", "import:NAME")


class SchedulerBusy(RuntimeError):
    """Another scheduler holds the lock. The message says so, with its pid and host where known."""


# ----- jobs: units of work, called by the scheduler, by `--once` and by tests ------------------------


def import_job(engine: Engine, settings: Settings, name: str):  # noqa: ANN201
    """Run the declared source `name` once (tracker.ingest.sources.run_source)."""
    from tracker.ingest.sources import run_source

    run = run_source(engine, settings, name)
    for r in run.results:
        log.info("import %s: %s (%s): %d read, %d inserted, %d updated, %d rejected", name, r.file, r.status,
                 r.rows_read, r.inserted, r.updated, r.rejected)
    return run


def refresh_job(engine: Engine, settings: Settings) -> int:
    """Recompute the derived columns of rows derived with other settings, then the outlook of every
    open dossier (predicted lateness, time in status: tracker.outlook); returns how many rows the
    first recomputed."""
    from tracker.outlook import refresh_outlook

    n = refresh_if_stale(engine, settings)
    if n:
        log.info("refresh: %d dossier(s) recomputed", n)
    log.info("refresh: outlook of %d open dossier(s) stored", refresh_outlook(engine, settings))
    return n


def digest_job(engine: Engine, settings: Settings, *, now: datetime | None = None,
               backoff: float = 2.0) -> DigestRun | None:
    """Today's digest, if today is a working day, the digest time has passed, the office day has
    not ended, and it has not been fully delivered yet. None when there was nothing to do."""
    now = now or now_local()
    today = now.date()
    cal = settings.work_calendar()
    moment = digest_moment(settings, today)
    if not cal.is_working_day(today):
        if moment <= now < moment + timedelta(minutes=CATCH_UP_MINUTES):  # said once, not every half hour
            log.info("digest: %s is not a working day (%s): no digest", today, cal.day_reason(today) or "weekend")
        return None
    if not moment <= now < cal.day_end(today):
        return None
    if get_meta(engine, META_DONE) == today.isoformat():
        return None
    run = run_digests(engine, settings, today, send=True, backoff=backoff)
    for problem in run.problems:
        log.warning("digest: %s", problem)
    if run.no_recipients:
        log.warning("digest: unit(s) with something to report but no recipients: %s", ", ".join(run.no_recipients))
    return run


def backup_job(engine: Engine, settings: Settings, *, now: datetime | None = None):  # noqa: ANN201
    """The daily backup (tracker.backup: SQLite backup API or pg_dump), then retention."""
    from tracker.backup import take_daily

    res, gone = take_daily(settings, now or now_local())
    log.info("backup: %s (%d bytes, %.1f s); %d old backup(s) deleted", res.path, res.path.stat().st_size,
             res.seconds, len(gone))
    return res


def run_once(engine: Engine, settings: Settings, job: str, *, digest_date: date | None = None) -> Any:
    """`tthc scheduler --once JOB`: one job, now. Returns the job's result."""
    if job == "digest":
        return run_digests(engine, settings, digest_date or now_local().date(), send=True)
    if job == "refresh":
        return refresh_job(engine, settings)
    if job == "import":
        return [import_job(engine, settings, spec.name) for spec in source_specs(settings)]
    if job.startswith("import:"):
        return [import_job(engine, settings, job.removeprefix("import:"))]
    raise ValueError(f"no job '{job}': one of {', '.join(ONCE_JOBS)}")


# ----- the lock ----------------------------------------------------------------------------------


def _whoami() -> str:
    return f"pid {os.getpid()} on {socket.gethostname()}"


def _pg_holder(engine: Engine) -> str:
    """Who holds the scheduler's advisory lock, from pg_locks and pg_stat_activity ('' if unknown)."""
    key = lock_key(LOCK_NAME)
    q = text("SELECT a.application_name, a.backend_start FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
             "WHERE l.locktype = 'advisory' AND l.granted AND l.classid::bigint = :hi AND l.objid::bigint = :lo "
             "AND l.objsubid = 1 AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())")
    try:
        with engine.connect() as conn:
            row = conn.execute(q, {"hi": (key >> 32) & 0xFFFFFFFF, "lo": key & 0xFFFFFFFF}).first()
    except SQLAlchemyError:
        return ""
    if row is None:
        return ""
    who = (row.application_name or "").removeprefix("tthc scheduler, ")
    since = f", since {row.backend_start.astimezone(LOCAL_TZ):%d/%m/%Y %H:%M}" if row.backend_start else ""
    return f"{who}{since}" if who else ""


def _busy(who: str) -> SchedulerBusy:
    detail = f" ({who})" if who else ""
    return SchedulerBusy(f"another scheduler is already running{detail}; this one exits. Stop that one first, "
                         "or run a single job with 'tthc scheduler --once JOB'.")


@contextlib.contextmanager
def scheduler_lock(engine: Engine) -> Iterator[None]:
    """Hold the one-scheduler lock for the block, or raise SchedulerBusy at once."""
    with contextlib.ExitStack() as stack:
        if engine.dialect.name == "postgresql":
            # its own connection, named so that a second scheduler can say who holds the lock
            lock_engine = create_engine(engine.url, poolclass=NullPool,
                                        connect_args={"application_name": f"tthc scheduler, {_whoami()}"[:63]})
            stack.callback(lock_engine.dispose)
            try:
                stack.enter_context(named_lock(lock_engine, LOCK_NAME, what="another scheduler"))
            except LockBusy:
                raise _busy(_pg_holder(engine)) from None
        else:
            try:
                stack.enter_context(named_lock(engine, LOCK_NAME, what="another scheduler"))
            except LockBusy:
                path = lock_path(engine, LOCK_NAME)
                pid = path.read_text(errors="replace").strip() if path else ""
                raise _busy(f"pid {pid} on this machine" if pid.isdigit() else "") from None
        yield


# ----- the process -------------------------------------------------------------------------------


def _safe_error(exc: BaseException) -> str:
    """An error for the log without SQL parameters (they may hold applicant data)."""
    if isinstance(exc, StatementError) and exc.orig is not None:
        exc = exc.orig
    first = (str(exc).splitlines() or [""])[0]
    return f"{type(exc).__name__}: {first}"[:500]


def _guarded(name: str, fn: Callable[..., Any]) -> Callable[..., None]:
    def run(*args: Any, **kwargs: Any) -> None:
        from tracker.calendar_days import attach
        from tracker.logs import log_context

        try:
            with log_context(job=name):
                attach(args[1], args[0])  # every job takes (engine, settings): the decreed days entered since
                fn(*args, **kwargs)
        except Exception as exc:  # noqa: BLE001  (a failed run is logged; the next one is scheduled)
            log.error("job %s failed: %s", name, _safe_error(exc))

    return run


def build_scheduler(engine: Engine, settings: Settings):  # noqa: ANN201
    """The BlockingScheduler with every job added, not started."""
    from apscheduler.schedulers.blocking import BlockingScheduler
    from apscheduler.triggers.combining import OrTrigger
    from apscheduler.triggers.cron import CronTrigger
    from apscheduler.triggers.interval import IntervalTrigger

    sched = BlockingScheduler(timezone=LOCAL_TZ, job_defaults={"coalesce": True, "max_instances": 1,
                                                         "misfire_grace_time": 15 * 60})
    start = datetime.now(LOCAL_TZ)
    for spec in source_specs(settings):
        sched.add_job(_guarded(f"import:{spec.name}", import_job),
                      IntervalTrigger(minutes=spec.every_minutes, timezone=LOCAL_TZ),
                      args=(engine, settings, spec.name), id=f"import:{spec.name}", name=f"import {spec.name}",
                      next_run_time=start)
    sched.add_job(_guarded("refresh", refresh_job), IntervalTrigger(minutes=REFRESH_MINUTES, timezone=LOCAL_TZ),
                  args=(engine, settings), id="refresh", name="refresh", next_run_time=start)
    t = settings.get("digest.time")
    # every day at the digest time (the job skips days off), and every 30 minutes to catch up
    trigger = OrTrigger([CronTrigger(hour=t.hour, minute=t.minute, second=t.second, timezone=LOCAL_TZ),
                         IntervalTrigger(minutes=CATCH_UP_MINUTES, timezone=LOCAL_TZ)])
    if settings.get("backup.keep_daily") or settings.get("backup.keep_monthly"):
        b = settings.get("backup.time")
        sched.add_job(_guarded("backup", backup_job), CronTrigger(hour=b.hour, minute=b.minute, timezone=LOCAL_TZ),
                      args=(engine, settings), id="backup", name="backup")
    sched.add_job(_guarded("digest", digest_job), trigger, args=(engine, settings), id="digest", name="digest",
                  next_run_time=start + timedelta(seconds=5))
    return sched


def run_scheduler(engine: Engine, settings: Settings, *, ready: Callable[[str], None] | None = None) -> int:
    """Take the lock, run the jobs until SIGTERM or SIGINT, let running jobs finish, release."""
    with scheduler_lock(engine):
        sched = build_scheduler(engine, settings)
        stopping: list[threading.Thread] = []

        def stop(signum: int, _frame: Any) -> None:
            if not stopping:  # shut down off the signal handler; the main thread joins it below
                log.info("signal %d: stopping once running jobs finish", signum)
                stopping.append(threading.Thread(target=sched.shutdown, name="shutdown"))
                stopping[0].start()

        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, stop)
            signal.signal(signal.SIGINT, stop)
        t = settings.get("digest.time")
        sources = ", ".join(f"{s.name} every {s.every_minutes} min" for s in source_specs(settings))
        message = (f"scheduler running ({_whoami()}): digest at {t:%H:%M} on working days; "
                   f"imports: {sources or 'none declared'}")
        log.info(message)
        if ready:
            ready(message)
        sched.start()
        for th in stopping:
            th.join()
    log.info("scheduler stopped")
    return 0
