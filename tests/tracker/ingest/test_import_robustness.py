"""Imports survive what happens to real ones: a killed process, a second import at once, a file
exported by us and read back, rejected rows fixed by an officer and imported again."""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import threading
import time
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bench.gen_igate_csv import generate
from cli.main import main
from tests.conftest import write_export
from tracker.config import load_settings
from tracker.db import make_engine, upgrade
from tracker.export import export_dossiers
from tracker.ingest import import_file
from tracker.locks import source_lock
from tracker.models import Dossier, ImportRun

ROOT = Path(__file__).resolve().parents[3]
UNIT = "Sở Xây dựng"
HEADER = ["Mã hồ sơ", "Mã TTHC", "Tên thủ tục hành chính", "Đơn vị tiếp nhận", "Chủ hồ sơ", "Số điện thoại",
          "Kênh nộp", "Ngày tiếp nhận", "Ngày hẹn trả", "Ngày yêu cầu bổ sung", "Ngày bổ sung", "Ngày xin lỗi",
          "Ngày hẹn trả mới", "Ngày kết thúc xử lý", "Ngày trả kết quả", "Trạng thái", "Thời hạn giải quyết"]
FIELDS = ["code", "status", "channel", "received_at", "due_at", "supplement_requested_at", "resubmitted_at",
          "apology_at", "rescheduled_due_at", "finished_at", "returned_at", "limit_value", "limit_unit",
          "applicant_name", "applicant_phone", "computed_due_at", "due_used_at", "result_class", "data_hash"]


def _contents(engine) -> list[tuple]:
    cols = [getattr(Dossier, f) for f in FIELDS]
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(select(*cols).order_by(Dossier.code))]


def _kill_import_half_way(db_url: str, path: Path, cwd: Path, engine) -> int:  # noqa: ANN001
    """Run `tthc import path` (batches of 500) in a process, SIGKILL it once 2,000 dossiers are
    stored; the dossiers stored then."""
    env = {**os.environ, "TTHC_DATABASE_URL": db_url, "TTHC_IMPORT_BATCH_SIZE": "500",
           "PYTHONPATH": str(ROOT)}
    env.pop("TTHC_CONFIG", None)
    proc = subprocess.Popen([sys.executable, "-m", "cli", "import", str(path)], env=env, cwd=cwd,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    stored = 0
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and stored < 2000:
        time.sleep(0.05)
        with engine.connect() as conn:
            stored = conn.execute(select(func.count()).select_from(Dossier)).scalar_one()
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    return stored


def test_killed_import_leaves_a_consistent_database_and_the_next_run_completes(db_url, tmp_path):
    path = generate(20_000, tmp_path / "big.csv")
    engine = make_engine(db_url)
    stored = _kill_import_half_way(db_url, path, tmp_path, engine)
    assert 2000 <= stored < 20_000, "the import should have been killed half-way"
    with engine.connect() as conn:
        run = conn.execute(select(ImportRun)).mappings().one()
        in_db = conn.execute(select(func.count()).select_from(Dossier)).scalar_one()
    assert run["status"] == "running"
    # batches are whole: the counters say exactly what the database holds
    assert run["inserted"] == in_db and in_db % 500 == 0

    settings = load_settings(env={}, overrides={"database.url": db_url})
    res = import_file(engine, settings, path)
    assert (res.inserted, res.unchanged, res.rejected) == (20_000 - in_db, in_db, 0)
    with engine.connect() as conn:
        statuses = dict(conn.execute(select(ImportRun.id, ImportRun.status)).all())
    assert sorted(statuses.values()) == ["done", "interrupted"]

    clean_url = f"sqlite:///{tmp_path / 'clean.db'}"
    clean = make_engine(clean_url)
    upgrade(clean)
    import_file(clean, load_settings(env={}, overrides={"database.url": clean_url}), path)
    assert _contents(engine) == _contents(clean)
    engine.dispose()
    clean.dispose()


def test_a_second_import_of_the_same_source_is_refused_while_one_runs(engine, settings, tmp_path):
    path = write_export(tmp_path / "a.csv", [["1", "HS-1", "1.1", "Thủ tục", "Lĩnh vực", UNIT, "", "", "",
                                              "02/03/2026 08:00:00", "", "", "", "Đang xử lý", ""]])
    with source_lock(engine, "motcua"):
        res = import_file(engine, settings, path, source="motcua")
        assert res.status == "busy" and res.exit_code == 1
        assert "another import of source 'motcua' is already running" in res.message
        other = import_file(engine, settings, path, source="igate")  # another source is not blocked
        assert other.status == "done"
    again = import_file(engine, settings, path, source="motcua")
    assert again.status == "done" and again.unchanged == 1
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(ImportRun)).scalar_one() == 2


def test_sqlite_foreign_keys_hold_after_imports(tmp_path):
    url = f"sqlite:///{tmp_path / 'fk.db'}"
    engine = make_engine(url)
    upgrade(engine)
    import_file(engine, load_settings(env={}, overrides={"database.url": url}), generate(3000, tmp_path / "x.csv"))
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1  # enforcement is back on
        assert conn.exec_driver_sql("PRAGMA foreign_key_check").fetchall() == []
    engine.dispose()


def _full_rows() -> list[list[str]]:
    base = ["1.000001", "Cấp giấy phép xây dựng", UNIT]
    return [
        ["HS-1", *base, "Nguyễn Văn A", "0912345678", "Trực tuyến", "02/03/2026 08:00:00", "20/03/2026 08:00:00",
         "04/03/2026 09:00:00", "06/03/2026 10:00:00", "19/03/2026 15:00:00", "25/03/2026 08:00:00",
         "24/03/2026 10:00:00", "24/03/2026 14:00:00", "Đã trả kết quả", "10 ngày làm việc"],
        ["HS-2", *base, "=HYPERLINK(\"http://x\";\"bấm\")", "+84 912 000 000", "Trực tiếp", "02/03/2026 09:00:00",
         "", "", "", "", "", "", "", "Đang xử lý", "0,5 ngày"],
        ["HS-3", *base, "@SUM(1;2)", "-", "Bưu chính công ích", "03/03/2026 16:30:00", "04/03/2026",
         "", "", "", "", "", "", "Đã xử lý xong", "Trong ngày"],
    ]


def test_own_export_reads_back_unchanged(engine, settings, tmp_path):
    res = import_file(engine, settings, write_export(tmp_path / "a.csv", _full_rows(), header=HEADER))
    assert (res.inserted, res.rejected) == (3, 0), res.rejections
    before = _contents(engine)
    out = tmp_path / "export.csv"
    assert export_dossiers(engine, out) == 3
    text = out.read_text(encoding="utf-8-sig")
    assert "'=HYPERLINK" in text and "'@SUM" in text and "'+84 912" in text  # neutralised for spreadsheets
    again = import_file(engine, settings, out)  # into the same database: the same data, nothing written
    assert (again.rows_read, again.unchanged, again.updated, again.inserted) == (3, 3, 0, 0)
    other_url = f"sqlite:///{tmp_path / 'other.db'}"
    other = make_engine(other_url)
    upgrade(other)
    moved = import_file(other, load_settings(env={}, overrides={"database.url": other_url}), out)
    assert (moved.inserted, moved.rejected) == (3, 0), moved.rejections
    assert _contents(other) == before  # every stored field, formulas and limits included
    with other.connect() as conn:
        assert conn.execute(select(Dossier.applicant_name).where(Dossier.code == "HS-2")).scalar_one() \
            == '=HYPERLINK("http://x";"bấm")'
    other.dispose()


def test_rejected_rows_can_be_fixed_and_imported_again(engine, settings, tmp_path, capsys, monkeypatch, db_url):
    rows = _full_rows()
    rows[0][7] = "31/02/2026 08:00:00"  # impossible date
    rows[1][15] = "Đang suy nghĩ"  # unknown status
    res = import_file(engine, settings, write_export(tmp_path / "a.csv", rows, header=HEADER))
    assert (res.inserted, res.rejected) == (1, 2)
    monkeypatch.setenv("TTHC_DATABASE_URL", db_url)
    errors = tmp_path / "errors.csv"
    assert main(["import", "--errors", str(res.run_id), "-o", str(errors)]) == 0
    with errors.open(encoding="utf-8-sig", newline="") as fh:
        table = list(csv.reader(fh))
    assert table[0][:3] == ["Dòng (line)", "Cột lỗi (column)", "Lý do (reason)"] and table[0][3:] == HEADER
    assert [r[0] for r in table[1:]] == ["2", "3"]
    assert table[1][1] == "Ngày tiếp nhận" and "day is out of range" in table[1][2]
    table[1][3 + 7] = "02/03/2026 08:00:00"  # the officer fixes the date, leaves the status
    with errors.open("w", encoding="utf-8-sig", newline="") as fh:
        csv.writer(fh).writerows(table)
    fixed = import_file(engine, settings, errors)
    assert (fixed.inserted, fixed.rejected) == (1, 1)
    assert "'Đang suy nghĩ' is not a known status" in fixed.rejections[0].reason
    capsys.readouterr()
    assert main(["import", "--errors", "99999", "-o", str(errors)]) == 1
    assert "import run 99999: not found" in capsys.readouterr().err


def test_import_from_a_url(db_url, tmp_path, monkeypatch, capsys):
    served = tmp_path / "www"
    served.mkdir()
    write_export(served / "export.csv", _full_rows(), header=HEADER)
    handler = partial(_QuietHandler, directory=str(served))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        monkeypatch.setenv("TTHC_DATABASE_URL", db_url)
        monkeypatch.setenv("TTHC_PATHS_VAR_DIR", str(tmp_path / "var"))
        code = main(["import", f"http://127.0.0.1:{server.server_port}/export.csv"])
        out = capsys.readouterr().out
        assert code == 0 and "done" in out
        code = main(["import", f"http://127.0.0.1:{server.server_port}/missing.csv"])
        assert code == 1 and "404" in capsys.readouterr().err
    finally:
        server.shutdown()
        server.server_close()
    engine = make_engine(db_url)
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(Dossier)).scalar_one() == 3
    engine.dispose()


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:  # keep test output clean
        pass


@pytest.mark.parametrize("argv, message", [
    (["import"], "give a file or URL to import, or --source NAME"),
    (["import", "--errors", "3"], "--errors needs -o FILE"),
])
def test_import_usage_errors(argv, message, capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("TTHC_DATABASE_URL", f"sqlite:///{tmp_path / 'u.db'}")
    assert main(argv) == 2
    assert message in capsys.readouterr().err


def _dossier_indexes(engine) -> set[str]:
    from sqlalchemy import inspect

    with engine.connect() as conn:
        return {ix["name"] for ix in inspect(conn).get_indexes("dossier")}


DEFERRED = {"ix_dossier_open_due", "ix_dossier_unit_finish", "ix_dossier_unit_received", "ix_dossier_supplement_last"}


def _index_ddl(engine) -> list[str]:
    """The DROP/CREATE INDEX statements the engine runs from now on."""
    from sqlalchemy import event

    seen: list[str] = []

    @event.listens_for(engine, "before_cursor_execute")
    def _ddl(conn, cursor, statement, *args) -> None:  # noqa: ANN001
        if "INDEX" in statement.upper() and statement.lstrip().upper().startswith(("DROP", "CREATE")):
            seen.append(" ".join(statement.split()[:2]).upper())

    return seen


def test_a_first_big_import_builds_the_indexes_at_its_end_and_stores_the_same(db_url, tmp_path, monkeypatch):
    from tracker.ingest import loader

    path = generate(3000, tmp_path / "first.csv")
    more = generate(3100, tmp_path / "more.csv")  # the same 3,000 and 100 new
    engine = make_engine(db_url)
    settings = load_settings(env={}, overrides={"database.url": db_url})
    ddl = _index_ddl(engine)
    monkeypatch.setattr(loader, "BULK_BYTES", 1)  # every file is big
    res = import_file(engine, settings, path, batch_size=500)
    assert (res.status, res.inserted) == ("done", 3000)
    assert ddl == ["DROP INDEX"] * len(DEFERRED) + ["CREATE INDEX"] * len(DEFERRED)
    assert _dossier_indexes(engine) >= DEFERRED

    ddl.clear()
    res = import_file(engine, settings, more, batch_size=500)  # the table has dossiers: indexes kept
    assert (res.inserted, res.unchanged) == (100, 3000)
    assert ddl == []

    monkeypatch.setattr(loader, "BULK_BYTES", 1 << 60)  # the same files, the indexes kept all along
    clean_url = f"sqlite:///{tmp_path / 'clean.db'}"
    clean = make_engine(clean_url)
    upgrade(clean)
    clean_settings = load_settings(env={}, overrides={"database.url": clean_url})
    import_file(clean, clean_settings, path, batch_size=500)
    import_file(clean, clean_settings, more, batch_size=500)
    assert _contents(engine) == _contents(clean)
    engine.dispose()
    clean.dispose()


def test_an_import_that_fails_half_way_still_builds_the_indexes(engine, settings, tmp_path, monkeypatch):
    from tracker.ingest import loader
    from tracker.ingest.writer import BatchWriter

    path = generate(2000, tmp_path / "first.csv")
    monkeypatch.setattr(loader, "BULK_BYTES", 1)
    flush = BatchWriter.flush
    calls = []

    def failing(self, batch) -> None:  # noqa: ANN001
        calls.append(len(batch))
        if len(calls) == 2:
            raise OSError("disk full")
        flush(self, batch)

    monkeypatch.setattr(BatchWriter, "flush", failing)
    res = import_file(engine, settings, path, batch_size=500)
    assert res.status == "failed" and "the import stopped after 500 row(s): OSError: disk full" in res.message
    with engine.connect() as conn:  # the run says so: not left `running`
        assert conn.execute(select(ImportRun.status, ImportRun.message).where(ImportRun.id == res.run_id)).one() \
            == ("failed", res.message)
    assert _dossier_indexes(engine) >= DEFERRED
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(Dossier)).scalar_one() == 500


def test_a_first_import_killed_half_way_leaves_indexes_that_the_next_run_builds(db_url, tmp_path):
    from tracker.ingest.loader import BULK_BYTES

    path = generate(50_000, tmp_path / "big.csv")
    assert path.stat().st_size >= BULK_BYTES
    engine = make_engine(db_url)
    stored = _kill_import_half_way(db_url, path, tmp_path, engine)
    assert 2000 <= stored < 50_000, "the import should have been killed half-way"
    assert not DEFERRED & _dossier_indexes(engine), "a first import of a big file writes without them"

    upgrade(engine)  # `tthc db upgrade` builds them
    assert _dossier_indexes(engine) >= DEFERRED
    with engine.begin() as conn:
        for name in DEFERRED:
            conn.exec_driver_sql(f"DROP INDEX {name}")
    settings = load_settings(env={}, overrides={"database.url": db_url})
    res = import_file(engine, settings, path)  # and so does the next import, before anything else
    assert _dossier_indexes(engine) >= DEFERRED
    with engine.connect() as conn:
        in_db = conn.execute(select(func.count()).select_from(Dossier)).scalar_one()
    assert (res.status, res.inserted + res.unchanged, in_db) == ("done", 50_000, 50_000)
    engine.dispose()
