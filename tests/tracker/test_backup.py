"""Backups that restore, on SQLite and PostgreSQL: taken while an import runs (another process) and
the dashboard's queries read, restored into a fresh database, compared table by table and with
`tthc export dossiers` byte for byte."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import threading
import time
import uuid
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from cli.main import main
from tests.conftest import PG_URL, TABLES, write_export
from tracker.backup import BackupError, backup, backups_in, prune, restore, table_rows, to_keep
from tracker.db import make_engine, upgrade
from tracker.export import export_dossiers

ROWS = 20_000
BATCH = 200
UNITS = [("STP", "Sở Tư pháp"), ("SXD", "Sở Xây dựng"), ("XAB", "UBND xã An Bình")]
STATUSES = ["Đang xử lý", "Đã trả kết quả", "Chờ bổ sung"]


def big_export(path: Path, n: int = ROWS) -> Path:
    start = datetime(2026, 1, 5, 8, 0)
    rows = []
    for i in range(n):
        unit, name = UNITS[i % 3]
        received = start + timedelta(minutes=37 * i)
        status = STATUSES[i % 3]
        finished = (received + timedelta(days=2)).strftime("%d/%m/%Y %H:%M") if status == "Đã trả kết quả" else ""
        rows.append(["1", f"HS-{i:06d}", f"1.00{i % 7}", f"Thủ tục số {i % 7}", "Hộ tịch", name,
                     "Nguyễn Văn An", "0912345678", "Trực tuyến", received.strftime("%d/%m/%Y %H:%M"),
                     (received + timedelta(days=5)).strftime("%d/%m/%Y %H:%M"), finished, finished, status,
                     "3 ngày làm việc"])
    return write_export(path, rows)


def config(path: Path, url: str, var: Path) -> Path:
    path.write_text(f'[database]\nurl = "{url}"\n[paths]\nvar_dir = "{var}"\n[import]\nbatch_size = {BATCH}\n',
                    encoding="utf-8")
    return path


def fresh_target(backend: str, tmp_path: Path, request) -> str:  # noqa: ANN001
    """A database nobody has touched: a file that does not exist yet, or a new PostgreSQL database."""
    if backend == "sqlite":
        return f"sqlite:///{tmp_path / 'restored.db'}"
    name = f"tthc_restore_{uuid.uuid4().hex[:8]}"
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))

    def drop() -> None:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    request.addfinalizer(drop)
    return make_url(PG_URL).set(database=name).render_as_string(hide_password=False)


def export_bytes(url: str, out: Path) -> bytes:
    engine = make_engine(url)
    try:
        export_dossiers(engine, out)
    finally:
        engine.dispose()
    return out.read_bytes()


def dashboard_reads(url: str, stop: threading.Event, errors: list) -> None:
    """What the overview asks, over and over, while the import and the backup run."""
    engine = make_engine(url)
    try:
        while not stop.is_set():
            with engine.connect() as conn:
                conn.execute(text("SELECT unit_id, count(*) FROM dossier WHERE finish_at IS NULL "
                                  "GROUP BY unit_id")).all()
    except Exception as exc:  # noqa: BLE001
        errors.append(exc)
    finally:
        engine.dispose()


@pytest.mark.slow
def test_backup_during_an_import_restores_exactly(db_url, tmp_path, request):
    backend = make_url(db_url).get_backend_name()
    cfg = config(tmp_path / "tthc.toml", db_url, tmp_path / "var")
    assert main(["--config", str(cfg), "units", "import", str(write_export(
        tmp_path / "units.csv", [[c, n, "", "tinh", ""] for c, n in UNITS],
        header=["Mã đơn vị", "Tên đơn vị", "Mã đơn vị cha", "Cấp", "Email nhận báo cáo"]))]) == 0
    export = big_export(tmp_path / "export.csv")
    engine = make_engine(db_url)
    request.addfinalizer(engine.dispose)

    stop, errors = threading.Event(), []
    reader = threading.Thread(target=dashboard_reads, args=(db_url, stop, errors))
    reader.start()
    importer = subprocess.Popen([sys.executable, "-m", "cli", "--config", str(cfg), "import", str(export)],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            with engine.connect() as conn:
                if conn.execute(text("SELECT count(*) FROM dossier")).scalar_one() >= BATCH:
                    break
            time.sleep(0.01)
        during = backup(db_url, tmp_path / "during.backup")
        out, err = importer.communicate(timeout=300)
    finally:
        importer.kill()
        stop.set()
        reader.join()
    assert importer.returncode == 0, err
    assert errors == []

    # taken mid-import, at a batch boundary: the copy is consistent, not torn
    n = during.tables["dossier"]
    assert 0 < n < ROWS, f"the backup did not catch the import mid-way ({n} dossiers)"
    assert n % BATCH == 0
    assert stat.S_IMODE(os.stat(during.path).st_mode) == 0o600

    # restored into a fresh database: every table as the snapshot counted it
    target = fresh_target(backend, tmp_path, request)
    assert main(["--config", str(config(tmp_path / "restored.toml", target, tmp_path / "var2")), "restore",
                 str(during.path)]) == 0
    target_engine = make_engine(target)
    request.addfinalizer(target_engine.dispose)
    assert table_rows(target_engine) == during.tables
    with target_engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM status_change")).scalar_one() == during.tables["status_change"]
    if backend == "sqlite":  # the backup file is itself a database: the source at the backup's moment
        assert export_bytes(target, tmp_path / "a.csv") == export_bytes(f"sqlite:///{during.path}", tmp_path / "b.csv")

    # after the import: the source and its restored copy agree byte for byte
    after = backup(db_url, tmp_path / "after.backup")
    assert after.tables["dossier"] == ROWS
    assert main(["--config", str(config(tmp_path / "restored.toml", target, tmp_path / "var2")), "restore",
                 str(after.path)]) == 1  # not empty any more
    assert main(["--config", str(tmp_path / "restored.toml"), "restore", "--force", str(after.path)]) == 0
    assert table_rows(target_engine) == table_rows(engine)
    source_csv = export_bytes(db_url, tmp_path / "source.csv")
    assert source_csv.count(b"\n") == ROWS + 1
    assert export_bytes(target, tmp_path / "restored.csv") == source_csv


def test_restore_refuses_a_non_empty_database_and_says_so(db_url, tmp_path, capsys):
    cfg = config(tmp_path / "tthc.toml", db_url, tmp_path / "var")
    assert main(["--config", str(cfg), "import", str(big_export(tmp_path / "e.csv", 30))]) == 0
    assert main(["--config", str(cfg), "backup", "-o", str(tmp_path / "b.bak")]) == 0
    said = capsys.readouterr().out
    assert ("SQLite online backup API" if db_url.startswith("sqlite") else "pg_dump, custom format") in said
    assert "dossier 30" in said
    assert main(["--config", str(cfg), "restore", str(tmp_path / "b.bak")]) == 1
    err = capsys.readouterr().err
    assert "the database is not empty (dossier 30" in err and "add --force" in err


def test_restore_into_an_initialised_empty_database(db_url, tmp_path):
    """`tthc init` then `tthc restore`: the empty tables are replaced (pg_restore --clean)."""
    engine = make_engine(db_url)
    try:
        cfg = config(tmp_path / "tthc.toml", db_url, tmp_path / "var")
        assert main(["--config", str(cfg), "import", str(big_export(tmp_path / "e.csv", 50))]) == 0
        res = backup(db_url, tmp_path / "b.bak")
        want = table_rows(engine)
        with engine.begin() as conn:  # empty it again, schema kept (what `tthc init` leaves)
            for t in TABLES:  # children first: unit.created_by_run_id points at import_run
                conn.execute(text(f"DELETE FROM {t}"))
        assert restore(db_url, res.path) == want
    finally:
        engine.dispose()


def test_a_file_that_is_not_a_backup_or_of_the_other_backend(tmp_path):
    url = f"sqlite:///{tmp_path / 't.db'}"
    junk = tmp_path / "junk.bak"
    junk.write_bytes(b"hello")
    with pytest.raises(BackupError, match="not a tthc backup"):
        restore(url, junk)
    pgdump = tmp_path / "x.pgdump"
    pgdump.write_bytes(b"PGDMP" + bytes(20))
    with pytest.raises(BackupError, match="is a postgresql backup but database.url is sqlite"):
        restore(url, pgdump)
    with pytest.raises(BackupError, match="no such file"):
        restore(url, tmp_path / "missing")


def test_backup_of_a_database_that_does_not_exist(tmp_path):
    with pytest.raises(BackupError, match="no such database file"):
        backup(f"sqlite:///{tmp_path / 'nope.db'}", tmp_path / "b")


# ----- retention ---------------------------------------------------------------------------------


def test_retention_keeps_the_newest_of_each_recent_day_and_month():
    stamps = [datetime(2026, m, d, h) for m in (9, 10, 11, 12) for d in (1, 2, 3, 15, 28) for h in (2, 14)
              if not (m == 12 and d > 2)]
    keep = to_keep(stamps, keep_daily=3, keep_monthly=2)
    assert keep == {datetime(2026, 12, 2, 14), datetime(2026, 12, 1, 14), datetime(2026, 11, 28, 14)}
    keep = to_keep(stamps, keep_daily=2, keep_monthly=4)
    assert keep == {datetime(2026, 12, 2, 14), datetime(2026, 12, 1, 14), datetime(2026, 11, 28, 14),
                    datetime(2026, 10, 28, 14), datetime(2026, 9, 28, 14)}
    assert to_keep(stamps, 0, 0) == set()


def test_prune_deletes_only_our_backups_beyond_retention(tmp_path):
    names = ["tthc-2026-11-30T020000.sqlite3", "tthc-2026-12-01T020000.sqlite3", "tthc-2026-12-02T020000.sqlite3",
             "tthc-2026-12-02T090000.sqlite3", "notes.txt", "tthc-2026-01-01T020000.sqlite3.partial"]
    for n in names:
        (tmp_path / n).write_text("x")
    gone = prune(tmp_path, keep_daily=2, keep_monthly=1)
    assert sorted(p.name for p in gone) == ["tthc-2026-11-30T020000.sqlite3", "tthc-2026-12-02T020000.sqlite3"]
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "notes.txt", "tthc-2026-01-01T020000.sqlite3.partial", "tthc-2026-12-01T020000.sqlite3",
        "tthc-2026-12-02T090000.sqlite3"]
    assert [p.name for _, p in backups_in(tmp_path)] == ["tthc-2026-12-02T090000.sqlite3",
                                                          "tthc-2026-12-01T020000.sqlite3"]


def test_upgrade_after_restoring_an_older_backup_is_said(tmp_path, capsys):
    """A backup of an older schema restores, and `tthc restore` says to run `tthc db upgrade`."""
    old = f"sqlite:///{tmp_path / 'old.db'}"
    engine = make_engine(old)
    upgrade(engine, "0005")
    engine.dispose()
    res = backup(old, tmp_path / "old.bak")
    cfg = config(tmp_path / "t.toml", f"sqlite:///{tmp_path / 'new.db'}", tmp_path / "var")
    assert main(["--config", str(cfg), "restore", str(res.path)]) == 0
    assert "run 'tthc db upgrade'" in capsys.readouterr().out
