"""A big file is read by a second process (tracker.ingest.batches): the same batches, the same
stored dossiers, and a killed import leaves no reader behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bench.gen_igate_csv import generate
from tests.conftest import write_export
from tracker.calendar import WorkCalendar
from tracker.config import load_settings
from tracker.db import make_engine
from tracker.ingest import batches, import_file
from tracker.ingest.readers import open_export
from tracker.ingest.rows import parse_row, raw_of
from tracker.models import Dossier, ImportRun, StatusChange

ROOT = Path(__file__).resolve().parents[3]
CAL = WorkCalendar()
pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="the reader process is used on Linux")

HEADER = ["STT", "Mã hồ sơ", "Đơn vị tiếp nhận", "Ngày tiếp nhận", "Trạng thái", "Ghi chú", "Ngày hẹn trả"]


def _rows(n: int) -> list[list[str]]:
    rows = []
    for i in range(n):
        rows.append([str(i + 1), f"HS-{i:05d}", "Sở Tư pháp", f"{1 + i % 28:02d}/03/2026 08:00:00", "Đang xử lý",
                     "", f"{1 + i % 28:02d}/04/2026"])
    rows[3][5] = "một dòng;\nhai dòng"  # quoted: read through csv.reader
    rows[7] = rows[7][:4]  # a short row
    rows[9] += ["beyond", "the header"]
    rows[11][2] = "Sở\x1fTư pháp"  # a separator inside a cell: this batch travels as cells
    rows[13][4] = "Đang phân vân"  # rejected
    rows[15] = ["", "Tổng cộng", "", "", "", "", ""]  # a totals row: skipped
    return rows


def _local_and_forked(path: Path, size: int):
    out = []
    for read in (batches.local, batches.forked):
        src, cmap, rows = open_export(path)
        keyer = batches.Keyer(cmap)
        args = (rows, keyer, size) if read is batches.local else (src, rows, keyer, size)
        out.append((src, cmap, list(read(*args))))
    return out


def test_the_reader_process_sends_what_is_read_here(tmp_path):
    path = write_export(tmp_path / "a.csv", _rows(40), header=HEADER)
    (src_l, cmap, local), (src_f, _, forked) = _local_and_forked(path, 6)
    assert [len(b) for b in forked] == [len(b) for b in local] and sum(len(b) for b in local) == 39
    assert any(b.rows is None for b in forked) and any(b.rows is not None for b in forked)  # packed, and not
    for b_l, b_f in zip(local, forked, strict=True):
        assert (b_f.lines, b_f.codes, b_f.hashes) == (b_l.lines, b_l.codes, b_l.hashes)
        for i, line in enumerate(b_l.lines):
            cells_l, cells_f = b_l.cells(i), b_f.cells(i)
            assert raw_of(cells_f, cmap) == raw_of(cells_l, cmap)
            assert parse_row(line, cells_f, cmap, CAL) == parse_row(line, cells_l, cmap, CAL)
    assert src_f.skipped == src_l.skipped and any("totals row" in s for s in src_f.skipped)


def test_a_reader_stopped_half_way_goes_away(tmp_path):
    path = write_export(tmp_path / "a.csv", _rows(400), header=HEADER)
    src, cmap, rows = open_export(path)
    reader = batches.forked(src, rows, batches.Keyer(cmap), 10)
    before = _children()
    next(reader)
    assert len(_children()) == len(before) + 1 and threading.active_count() == 2
    reader.close()  # the importer failed: the process is killed and reaped, the drain thread ends
    assert _children() == before and threading.active_count() == 1


def test_the_reader_process_does_not_keep_the_source_lock(tmp_path):
    """A flock lives as long as any copy of its descriptor: a reader forked while the import held
    the lock must not keep it once the import is gone (killed: no unlock, just the close)."""
    import fcntl

    path = write_export(tmp_path / "a.csv", _rows(400), header=HEADER)
    lock = os.open(tmp_path / "x.lock", os.O_RDWR | os.O_CREAT)
    fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    src, cmap, rows = open_export(path)
    reader = batches.forked(src, rows, batches.Keyer(cmap), 10)
    next(reader)  # the reader runs (and has closed what it inherited)
    os.close(lock)  # what the kernel does when the importer is killed
    again = os.open(tmp_path / "x.lock", os.O_RDWR)
    try:
        fcntl.flock(again, fcntl.LOCK_EX | fcntl.LOCK_NB)  # BlockingIOError if the reader kept it
    finally:
        os.close(again)
        reader.close()


def _children() -> list[int]:
    """Processes whose parent is this one (reaped ones are gone from /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == os.getpid():
                found.append(int(entry.name))
    return found


@pytest.fixture(scope="module")
def big_file(tmp_path_factory) -> Path:
    """An iGate-style export just over the size read by a second process."""
    path = tmp_path_factory.mktemp("big") / "igate.csv"
    n = 1
    while n < 10 ** 7:
        generate(n, path)
        if path.stat().st_size >= batches.READ_AHEAD_BYTES:
            return path
        n = max(n * 2, int(n * batches.READ_AHEAD_BYTES / path.stat().st_size * 1.02))
    raise AssertionError("unreachable")


def _contents(engine) -> list[tuple]:
    d = Dossier.__table__.c
    cols = [c for c in d if c.name not in ("id", "import_run_id", "created_at", "updated_at",
                                           "first_seen_finished_at")]
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(select(*cols).order_by(d.code))]


def test_a_big_file_imports_alike_through_the_reader_process(db_url, big_file, tmp_path):
    """The same file imported through the reader process and, with a second thread running
    (no fork then), read here: the same dossiers, history and counts."""
    src, cmap, rows = open_export(big_file)
    assert batches.batches(big_file, src, rows, batches.Keyer(cmap), 5000).__name__ == "forked"
    settings = load_settings(env={}, overrides={"database.url": db_url})
    engine = make_engine(db_url)
    first = import_file(engine, settings, big_file)
    assert first.balanced and first.rejected == 0 and first.inserted == first.rows_read
    forked = _contents(engine)
    again = import_file(engine, settings, big_file)
    assert (again.unchanged, again.inserted, again.updated) == (first.rows_read, 0, 0)

    other_url = f"sqlite:///{tmp_path / 'local.db'}"
    other = make_engine(other_url)
    from tracker.db import upgrade
    upgrade(other)
    stop = threading.Event()
    thread = threading.Thread(target=stop.wait)
    thread.start()
    try:
        local = import_file(other, load_settings(env={}, overrides={"database.url": other_url}), big_file)
    finally:
        stop.set()
        thread.join()
    assert (local.inserted, local.rows_read) == (first.inserted, first.rows_read)
    assert _contents(other) == forked
    for e in (engine, other):
        with e.connect() as conn:
            assert conn.execute(select(func.count()).select_from(StatusChange)).scalar_one() == first.inserted
        e.dispose()


def _processes_reading(path: Path) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if str(path).encode() in (entry / "cmdline").read_bytes():
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def test_a_killed_import_leaves_no_reader_process(db_url, big_file):
    env = {**os.environ, "TTHC_DATABASE_URL": db_url, "TTHC_IMPORT_BATCH_SIZE": "500", "PYTHONPATH": str(ROOT)}
    env.pop("TTHC_CONFIG", None)
    engine = make_engine(db_url)
    proc = subprocess.Popen([sys.executable, "-m", "cli", "import", str(big_file)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    stored, deadline = 0, time.monotonic() + 120
    while time.monotonic() < deadline and stored < 2000:
        time.sleep(0.05)
        with engine.connect() as conn:
            stored = conn.execute(select(func.count()).select_from(Dossier)).scalar_one()
    readers = [p for p in _processes_reading(big_file) if p != proc.pid]
    assert readers, "a second process should be reading the file"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    with engine.connect() as conn:
        run = conn.execute(select(ImportRun)).mappings().one()
        in_db = conn.execute(select(func.count()).select_from(Dossier)).scalar_one()
    assert run["status"] == "running" and run["inserted"] == in_db and in_db % 500 == 0
    # at once: the reader let go of the source lock when it started (a flock lives on in a fork)
    res = import_file(engine, load_settings(env={}, overrides={"database.url": db_url}), big_file)
    assert res.status == "done" and res.unchanged == in_db and res.inserted == res.rows_read - in_db
    deadline = time.monotonic() + 10
    while _processes_reading(big_file) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert _processes_reading(big_file) == []  # it died with the importer
    engine.dispose()
