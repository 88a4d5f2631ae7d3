"""The scheduler process: its jobs, its one-per-database lock, and `--once` run by two processes at once."""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select

from cli.common import CliError, dispose_engines
from cli.scheduler import cmd_scheduler
from jobs.scheduler import SchedulerBusy, build_scheduler, scheduler_lock
from tests.conftest import write_export
from tests.jobs.conftest import CCHC_OFFICER, DOSSIERS, EVERYONE, deliveries, export_row
from tracker.clock import LOCAL_TZ as TZ
from tracker.db import make_engine
from tracker.models import Dossier


def _env(db_url: str, tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TTHC_")}
    env.update({"TTHC_DATABASE_URL": db_url, "TTHC_PATHS_VAR_DIR": str(tmp_path / "var"),
                "TTHC_DIGEST_TIME": "23:59:59",  # after the office day: the digest job stays idle
                **extra})
    return env


def _tthc(*args: str) -> list[str]:
    return [sys.executable, "-m", "cli", *args]


def _wait_for(log: Path, text: str, proc: subprocess.Popen, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if text in log.read_text(errors="replace"):
            return
        if proc.poll() is not None:
            pytest.fail(f"exited with {proc.returncode}: {log.read_text(errors='replace')}")
        time.sleep(0.05)
    pytest.fail(f"'{text}' not seen in {timeout} s: {log.read_text(errors='replace')}")


@pytest.fixture
def cli_engines():
    yield
    dispose_engines()


def test_a_second_scheduler_says_another_is_running_and_exits(db_url, tmp_path):
    env = _env(db_url, tmp_path)
    log = tmp_path / "first.log"
    with log.open("wb") as fh:
        first = subprocess.Popen(_tthc("scheduler"), env=env, cwd=tmp_path, stdout=fh, stderr=subprocess.STDOUT)
    try:
        _wait_for(log, "scheduler running", first)
        second = subprocess.run(_tthc("scheduler"), env=env, cwd=tmp_path, capture_output=True, text=True,
                                timeout=60)
        assert second.returncode == 1
        assert "tthc: another scheduler is already running (pid " in second.stderr
        assert f"pid {first.pid} on " in second.stderr  # who, so an operator can find it
        assert first.poll() is None  # the first one carries on
    finally:
        first.send_signal(signal.SIGTERM)
        first.wait(timeout=30)
    assert first.returncode == 0 and "scheduler stopped" in log.read_text()
    engine = make_engine(db_url)
    try:
        with scheduler_lock(engine), pytest.raises(SchedulerBusy, match="another scheduler is already running"), \
                scheduler_lock(engine):  # the first released it: this process takes it, and only once
            pass
    finally:
        engine.dispose()


def test_two_processes_running_the_digest_at_once_send_one_message_per_recipient(province, db_url, tmp_path,
                                                                                 smtp_server):
    env = _env(db_url, tmp_path, TTHC_SMTP_HOST="127.0.0.1", TTHC_SMTP_PORT=str(smtp_server.port),
               TTHC_SMTP_SECURITY="none", TTHC_DIGEST_CCHC_RECIPIENTS=CCHC_OFFICER, TTHC_DIGEST_TIME="07:30")
    cmd = _tthc("scheduler", "--once", "digest", "--date", "2026-11-25")
    procs = [subprocess.Popen(cmd, env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    outputs = [p.communicate(timeout=60) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs
    received = Counter(r for m in smtp_server.mailbox.messages for r in m.rcpt_tos)
    assert received == Counter(EVERYONE)  # each recipient exactly once
    sent_lines = [line for out, _ in outputs for line in out.splitlines() if line.startswith("sent ")]
    assert len(sent_lines) == len(EVERYONE)  # between them, each message claimed by one process
    rows = deliveries(province)
    assert {(r["status"], r["attempts"]) for r in rows.values()} == {("sent", 1)}


def test_the_scheduler_runs_each_source_the_refresh_and_the_digest(sqlite_db):
    drop = sqlite_db.dir / "drop"
    drop.mkdir()
    settings = sqlite_db.settings(import__sources=[{"name": "motcua", "kind": "folder", "path": str(drop),
                                                    "every_minutes": 10}])
    sched = build_scheduler(sqlite_db.engine, settings)
    jobs = {j.id: j for j in sched.get_jobs()}
    assert set(jobs) == {"import:motcua", "refresh", "digest", "backup"}
    assert jobs["backup"].trigger.get_next_fire_time(None, datetime(2026, 11, 25, 6, 0, tzinfo=TZ)) == datetime(
        2026, 11, 26, 2, 0, tzinfo=TZ)  # backup.time, 02:00 local
    assert jobs["import:motcua"].trigger.interval.total_seconds() == 600
    cron = jobs["digest"].trigger.triggers[0]  # 07:30 local every day; the job skips days off
    assert cron.get_next_fire_time(None, datetime(2026, 11, 25, 6, 0, tzinfo=TZ)) == datetime(2026, 11, 25, 7, 30,
                                                                                              tzinfo=TZ)
    # the wiring: each job's function and arguments do their work
    export = write_export(drop / "export.csv", [export_row(*DOSSIERS[0])])
    os.utime(export, (time.time() - 60, time.time() - 60))  # settled: not being written any more
    for job in jobs.values():
        job.func(*job.args, **job.kwargs)
    with sqlite_db.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(Dossier)).scalar_one() == 1
    assert (drop / "archive" / "export.csv").is_file()
    assert len(list((sqlite_db.dir / "var" / "backups").glob("tthc-*.sqlite3"))) == 1


def test_no_backup_job_when_retention_keeps_none(sqlite_db):
    settings = sqlite_db.settings(backup__keep_daily=0, backup__keep_monthly=0)
    assert "backup" not in {j.id for j in build_scheduler(sqlite_db.engine, settings).get_jobs()}


def test_once_refresh_and_import_from_the_command_line(sqlite_db, cli_engines, capsys):
    settings = sqlite_db.settings()
    assert cmd_scheduler(argparse.Namespace(once="refresh", date=None), settings) == 0
    assert capsys.readouterr().out == "0 dossier(s) recomputed\n"
    assert cmd_scheduler(argparse.Namespace(once="import", date=None), settings) == 0
    assert "no import sources declared" in capsys.readouterr().out
    with pytest.raises(CliError, match="--once: no job 'digests'"):
        cmd_scheduler(argparse.Namespace(once="digests", date=None), settings)
