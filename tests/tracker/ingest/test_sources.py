"""Import sources: declarations, drop folders (on SQLite and PostgreSQL), URLs against a real
HTTP server on 127.0.0.1."""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import func, select

from tests.conftest import write_export
from tracker.config import ConfigError, load_settings
from tracker.ingest.sources import folders, run_source
from tracker.ingest.sources.folders import run_folder_source
from tracker.ingest.sources.specs import SourceError, SourceSpec, display_url, parse_sources, source_specs
from tracker.ingest.sources.urls import fetch_url_source, run_url_source
from tracker.models import Dossier, ImportRun
from tracker.settings_check import check_settings

UNIT = "Sở Tư pháp"
SECRET_NAME = "Trần Thị Bí Mật"
SECRET_PHONE = "0987654321"
LATER = time.time() + 3600  # `now` for drop folders: every file written by a test is old enough
FAST = 0.01  # backoff base in tests


def _row(code, received="02/03/2026 08:00:00", due="05/03/2026 08:00:00", status="Đang xử lý",
         applicant="Nguyễn Văn An", phone="0912345678"):
    return ["1", code, "1.000001", "Cấp phiếu lý lịch tư pháp", "Lý lịch tư pháp", UNIT, applicant,
            phone, "Trực tuyến", received, due, "", "", status, "3 ngày làm việc"]


def _settings(db_url: str, tmp_path: Path, declared: list[dict] | None = None):
    return load_settings(env={}, overrides={
        "database.url": db_url, "paths.var_dir": str(tmp_path / "var"), "import.sources": declared or [],
        "import.url_timeout": 1, "import.url_retries": 1})


def _count(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(Dossier)).scalar_one()


# ----- declarations -------------------------------------------------------------------------------

FOLDER = {"name": "motcua", "kind": "folder", "path": "/srv/drop"}
URL = {"name": "igate", "kind": "url", "url": "https://igate.example.gov.vn/api/dossiers"}


def test_parse_sources_reads_both_kinds_with_defaults():
    folder, url = parse_sources([FOLDER, {**URL, "format": "igate-json", "token_env": "IGATE_TOKEN",
                                          "page_param": "page", "page_size_param": "size", "page_size": 500,
                                          "items_key": "content", "every_minutes": 30,
                                          "headers": {"Accept": "application/json"}}])
    assert folder == SourceSpec(name="motcua", kind="folder", path=Path("/srv/drop"))
    assert (folder.every_minutes, folder.archive) == (15, True)
    assert (url.format, url.token_env, url.auth_header, url.page_size, url.first_page) == (
        "igate-json", "IGATE_TOKEN", "Authorization", 500, 0)
    assert url.headers == (("Accept", "application/json"),)
    assert parse_sources([]) == [] and parse_sources(None) == []
    # from the environment: a JSON array
    assert parse_sources(json.dumps([FOLDER]))[0].name == "motcua"
    with pytest.raises(AttributeError):
        folder.name = "x"  # frozen


@pytest.mark.parametrize("entries, message", [
    ([FOLDER, {**FOLDER, "name": "b"}, {**URL, "url": "ftp://x"}],
     "import.sources[2] ('igate'): url 'ftp://x' is not http(s)"),
    ([{**URL, "url": "https://h/p?key=SECRET", "page_sise": 5}],
     "import.sources[0] ('igate'): unknown key 'page_sise' (did you mean page_size?)"),
    ([{**URL, "token": "abc"}], "unknown key 'token' (secrets do not belong in settings"),
    ([{**URL, "token_env": "eyJhbGciOi.JIUzI1NiJ9"}], "token_env must be the name of an environment variable"),
    ([FOLDER, FOLDER], "import.sources[1] ('motcua'): name 'motcua' is already used by import.sources[0]"),
    ([{**FOLDER, "name": "Một Cửa"}], "name 'Một Cửa' is not made of a-z, 0-9"),
    ([{"kind": "folder", "path": "x"}], "import.sources[0]: missing key 'name'"),
    ([{"name": "a", "path": "x"}], "import.sources[0] ('a'): missing key 'kind' ('folder' or 'url')"),
    ([{**FOLDER, "kind": "ftp"}], "kind 'ftp' is not 'folder' or 'url'"),
    ([{"name": "a", "kind": "folder"}], "import.sources[0] ('a'): missing key 'path'"),
    ([{"name": "a", "kind": "url"}], "import.sources[0] ('a'): missing key 'url'"),
    ([{**FOLDER, "page_param": "page"}], "key 'page_param' applies to url sources, not to a folder source"),
    ([{**URL, "archive": False}], "key 'archive' applies to folder sources"),
    ([{**URL, "format": "igate"}], "format 'igate' is not one of csv, xlsx, xls, html, portal-json, "
                                   "igate-json, tthc-csv, json (did you mean igate-json?)"),
    ([{**FOLDER, "every_minutes": 0}], "every_minutes '0' is not a whole number from 1 to 1440"),
    ([{**FOLDER, "every_minutes": True}], "every_minutes 'True' is not a whole number"),
    ([{**URL, "page_size": 100}], "page_size needs page_param"),
    ([{**URL, "page_param": "p", "page_size": 100}], "page_size and page_size_param go together"),
    ([{**URL, "headers": {"Authorization": "Bearer abc"}}], "headers: 'Authorization' carries the token"),
    ([{**URL, "headers": {"X-A": 1}}], "headers: the value of 'X-A' is not one line of text"),
    ([{**FOLDER, "archive": "yes"}], "archive 'yes' is not true or false"),
    (["motcua"], "import.sources[0]: 'motcua' is not a table"),
    ("not json", "is not a list of [[import.sources]] tables"),
])
def test_parse_sources_errors_name_the_entry_and_key(entries, message):
    with pytest.raises(ValueError) as exc:
        parse_sources(entries)
    assert message in str(exc.value)
    assert "SECRET" not in str(exc.value) and "eyJ" not in str(exc.value) and "abc" not in str(exc.value)


def test_settings_reject_a_bad_source_naming_it():
    with pytest.raises(ConfigError, match=r"import.sources\[0\] \('igate'\): url 'ftp://x' is not http\(s\)"):
        check_settings(load_settings(env={}, overrides={"import.sources": [{**URL, "url": "ftp://x"}]}))


def test_display_url_hides_credentials_and_query():
    assert display_url("https://u:p@h.example:8443/a/b?token=s#f") == "https://h.example:8443/a/b"


# ----- drop folders -------------------------------------------------------------------------------


def _drop(tmp_path: Path, **extra) -> tuple[Path, dict]:
    folder = tmp_path / "drop"
    folder.mkdir(exist_ok=True)
    return folder, {"name": "motcua", "kind": "folder", "path": str(folder), **extra}


def _age(path: Path, seconds_ago: float) -> None:
    t = time.time() - seconds_ago
    os.utime(path, (t, t))


def test_drop_folder_imports_each_file_once_oldest_first_and_archives_it(db_url, engine, tmp_path):
    folder, decl = _drop(tmp_path)
    settings = _settings(db_url, tmp_path, [decl])
    spec = source_specs(settings)[0]
    a = write_export(folder / "a.csv", [_row("HS-1"), _row("HS-2")])
    b = write_export(folder / "b.csv", [_row("HS-3"), _row("HS-4", received="31/02/2026 09:00:00")])
    _age(a, 60)
    _age(b, 120)  # older: first
    (folder / ".hidden.csv").write_text("x", encoding="utf-8")
    (folder / "sub").mkdir()
    write_export(folder / "sub" / "c.csv", [_row("HS-9")])

    outcomes = run_folder_source(engine, settings, spec, now=LATER, settle=0)
    assert [o.path.name for o in outcomes] == ["b.csv", "a.csv"]
    assert [o.status for o in outcomes] == ["partial", "done"]
    assert sorted(p.name for p in folder.iterdir()) == [".hidden.csv", ".tthc-import.lock", "archive", "sub"]
    archive = folder / "archive"
    assert sorted(p.name for p in archive.iterdir()) == ["a.csv", "a.csv.report.txt", "b.csv", "b.csv.report.txt"]
    assert all(o.moved_to == archive / o.path.name for o in outcomes)
    report = (archive / "b.csv.report.txt").read_text(encoding="utf-8")
    assert "Status: partial" in report and "Rows read: 2" in report and "Inserted: 1" in report
    assert "Rejected: 1" in report
    assert "line 3, column 'Ngày tiếp nhận', value '31/02/2026 09:00:00': " in report
    assert "Status: done" in (archive / "a.csv.report.txt").read_text(encoding="utf-8")
    assert _count(engine) == 3
    with engine.connect() as conn:
        assert set(conn.execute(select(ImportRun.source)).scalars()) == {"motcua"}

    assert run_folder_source(engine, settings, spec, now=LATER, settle=0) == []  # nothing new

    # the same content dropped again: imported again, harmlessly, and archived under a new name
    (folder / "a.csv").write_bytes((archive / "a.csv").read_bytes())
    again = run_folder_source(engine, settings, spec, now=LATER, settle=0)
    assert [(o.status, o.result.inserted, o.result.unchanged) for o in again] == [("done", 0, 2)]
    assert again[0].moved_to.parent == archive and again[0].moved_to.name.startswith("a.")
    assert again[0].moved_to.name != "a.csv" and again[0].moved_to.suffix == ".csv"
    assert again[0].report.exists() and (archive / "a.csv").exists()
    assert _count(engine) == 3


def test_a_file_without_header_goes_to_failed_with_the_reason(db_url, engine, tmp_path):
    folder, decl = _drop(tmp_path)
    settings = _settings(db_url, tmp_path, [decl])
    bad = folder / "notes.csv"
    bad.write_text("HS-1;02/03/2026;Đang xử lý\nHS-2;03/03/2026;Đang xử lý\n", encoding="utf-8")
    [out] = run_folder_source(engine, settings, source_specs(settings)[0], now=LATER, settle=0)
    assert out.status == "failed" and out.moved_to == folder / "failed" / "notes.csv"
    report = (folder / "failed" / "notes.csv.report.txt").read_text(encoding="utf-8")
    assert "Status: failed" in report and "no recognisable header row" in report
    assert not (folder / "archive").exists() and _count(engine) == 0


def test_reports_carry_no_applicant_data(db_url, engine, tmp_path):
    folder, decl = _drop(tmp_path)
    settings = _settings(db_url, tmp_path, [decl])
    write_export(folder / "x.csv", [
        _row("HS-1", received="31/02/2026 09:00:00", applicant=SECRET_NAME, phone=SECRET_PHONE),
        _row("HS-2", applicant=SECRET_NAME * 40, phone=SECRET_PHONE),  # name too long: that cell rejected
        _row("HS-3", applicant="Lê Văn C", phone="0" * 30),  # phone too long
        _row("HS-4", status="Đang phân vân", applicant=SECRET_NAME),
    ])
    [out] = run_folder_source(engine, settings, source_specs(settings)[0], now=LATER, settle=0)
    assert out.result.rejected == 4
    report = out.report.read_text(encoding="utf-8")
    assert "column 'Chủ hồ sơ', value '***': longer than 500 characters" in report
    assert "column 'Số điện thoại', value '***'" in report
    assert "value 'Đang phân vân'" in report
    for secret in (SECRET_NAME, SECRET_PHONE, "Lê Văn C", "0" * 30, "Trần"):
        assert secret not in report


def test_files_still_being_written_wait_for_the_next_run(db_url, engine, tmp_path):
    folder, decl = _drop(tmp_path)
    settings = _settings(db_url, tmp_path, [decl])
    spec = source_specs(settings)[0]
    write_export(folder / "fresh.csv", [_row("HS-1")])  # modified just now
    (folder / "big.csv.part").write_text("partial download", encoding="utf-8")
    assert run_folder_source(engine, settings, spec, settle=0) == []

    growing = folder / "growing.csv"
    write_export(growing, [_row("HS-2")])
    _age(growing, 60)
    _age(folder / "fresh.csv", 60)
    stop = threading.Event()

    def append() -> None:  # a slow writer still appending during the settle pause
        for i in range(20):
            if stop.wait(0.02):
                return
            with growing.open("ab") as fh:
                fh.write(f"1;HS-X{i};;;;{UNIT};;;;02/03/2026 08:00:00;;;;Đang xử lý;\r\n".encode())
            _age(growing, 60)  # even with an old mtime, the size changes

    writer = threading.Thread(target=append)
    writer.start()
    try:
        outcomes = run_folder_source(engine, settings, spec, now=LATER, settle=0.2)
    finally:
        stop.set()
        writer.join()
    assert [o.path.name for o in outcomes] == ["fresh.csv"]
    assert growing.exists()
    [later] = run_folder_source(engine, settings, spec, now=LATER, settle=0)
    assert later.path.name == "growing.csv" and later.status == "done"


def test_a_file_that_disappears_is_skipped(db_url, engine, tmp_path, monkeypatch):
    folder, decl = _drop(tmp_path)
    settings = _settings(db_url, tmp_path, [decl])
    for name in ("a.csv", "b.csv"):
        _age(write_export(folder / name, [_row(f"HS-{name}")]), 60)
    real = folders.import_source_file

    def vanish_first(engine, settings, path, spec):  # someone takes a.csv away mid-run
        if path.name == "a.csv":
            path.unlink()
        return real(engine, settings, path, spec)

    monkeypatch.setattr(folders, "import_source_file", vanish_first)
    outcomes = run_folder_source(engine, settings, source_specs(settings)[0], now=LATER, settle=0)
    assert [o.path.name for o in outcomes] == ["b.csv"]
    assert _count(engine) == 1


def test_an_unexpected_reader_error_fails_the_file_not_the_folder(db_url, engine, tmp_path, monkeypatch):
    folder, decl = _drop(tmp_path)
    settings = _settings(db_url, tmp_path, [decl])
    for name in ("a.csv", "b.csv"):
        _age(write_export(folder / name, [_row(f"HS-{name}", applicant=SECRET_NAME)]), 60)
    real = folders.import_source_file

    def broken_reader(engine, settings, path, spec):
        if path.name == "a.csv":
            raise ValueError(f"cannot parse {SECRET_NAME}")
        return real(engine, settings, path, spec)

    monkeypatch.setattr(folders, "import_source_file", broken_reader)
    a, b = run_folder_source(engine, settings, source_specs(settings)[0], now=LATER, settle=0)
    assert (a.status, a.moved_to, b.status) == ("failed", folder / "failed" / "a.csv", "done")
    report = a.report.read_text(encoding="utf-8")
    assert "unexpected error (ValueError)" in report and SECRET_NAME not in report
    with engine.connect() as conn:
        assert sorted(conn.execute(select(ImportRun.status)).scalars()) == ["done", "failed"]


def test_without_archive_files_stay_and_a_ledger_remembers_them(db_url, engine, tmp_path):
    folder, decl = _drop(tmp_path, archive=False)
    settings = _settings(db_url, tmp_path, [decl])
    spec = source_specs(settings)[0]
    a = write_export(folder / "a.csv", [_row("HS-1")])
    _age(a, 60)
    [out] = run_folder_source(engine, settings, spec, now=LATER, settle=0)
    assert out.status == "done" and out.moved_to is None and a.exists()
    assert out.report.parent == tmp_path / "var" / "sources" / "motcua" / "reports"
    assert sorted(p.name for p in folder.iterdir()) == ["a.csv"]
    assert run_folder_source(engine, settings, spec, now=LATER, settle=0) == []
    os.utime(a)  # touched, same content: still nothing
    assert run_folder_source(engine, settings, spec, now=LATER, settle=0) == []
    write_export(a, [_row("HS-1"), _row("HS-2")])
    [changed] = run_folder_source(engine, settings, spec, now=LATER, settle=0)
    assert (changed.result.inserted, changed.result.unchanged) == (1, 1)


def test_run_source_dispatches_by_name(db_url, engine, tmp_path):
    folder, decl = _drop(tmp_path)
    settings = _settings(db_url, tmp_path, [decl, {**URL, "name": "igate"}])
    _age(write_export(folder / "a.csv", [_row("HS-1")]), 60)
    run = run_source(engine, settings, "motcua", now=LATER, settle=0)
    assert [r.status for r in run.results] == ["done"] and run.exit_code == 0
    with pytest.raises(SourceError, match=r"no import source named 'motcau' \(did you mean motcua\?\); "
                                          r"declared: motcua, igate"):
        run_source(engine, settings, "motcau")


def test_a_folder_being_imported_by_another_process_is_left_alone(tmp_path):
    import fcntl

    folder, decl = _drop(tmp_path)
    settings = _settings("sqlite://", tmp_path, [decl])
    _age(write_export(folder / "a.csv", [_row("HS-1")]), 60)
    with (folder / ".tthc-import.lock").open("a") as held:
        fcntl.flock(held.fileno(), fcntl.LOCK_EX)  # as the scheduler would while importing
        assert run_folder_source(None, settings, source_specs(settings)[0], now=LATER, settle=0) == []
    assert (folder / "a.csv").exists()


def test_a_source_locked_by_another_import_leaves_its_files_in_place(db_url, engine, tmp_path):
    locks = pytest.importorskip("tracker.locks")
    folder, decl = _drop(tmp_path)
    settings = _settings(db_url, tmp_path, [decl])
    _age(write_export(folder / "a.csv", [_row("HS-1")]), 60)
    with locks.source_lock(engine, "motcua"):  # e.g. `tthc import x.csv --source motcua` running
        assert run_folder_source(engine, settings, source_specs(settings)[0], now=LATER, settle=0) == []
    assert (folder / "a.csv").exists() and not (folder / "failed").exists()
    [out] = run_folder_source(engine, settings, source_specs(settings)[0], now=LATER, settle=0)
    assert out.status == "done"


def test_a_missing_folder_is_a_clear_error(tmp_path):
    settings = _settings("sqlite://", tmp_path, [{**FOLDER, "path": str(tmp_path / "nope")}])
    with pytest.raises(SourceError, match="import source 'motcua': folder .*nope does not exist"):
        run_folder_source(None, settings, source_specs(settings)[0])


# ----- URLs, against a real HTTP server -----------------------------------------------------------

Reply = tuple[int, dict[str, str], bytes]


class _Server(ThreadingHTTPServer):
    daemon_threads = False  # server_close() joins the handler threads: nothing outlives a test

    def handle_error(self, request, client_address):  # a client that gave up is not an error here
        pass


@pytest.fixture
def http():
    """A server on 127.0.0.1: `routes[path] = fn(query, n) -> (status, headers, body)`, n counting
    the calls to that path; `seen` lists (path, query, headers) of every request."""
    routes: dict[str, Callable[[dict, int], Reply]] = {}
    seen: list[tuple[str, dict, dict]] = []
    stop = threading.Event()
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            parts = urlsplit(self.path)
            query = {k: v[0] for k, v in parse_qs(parts.query).items()}
            with lock:
                seen.append((parts.path, query, dict(self.headers)))
                n = sum(1 for p, _, _ in seen if p == parts.path)
            status, headers, body = routes[parts.path](query, n) if parts.path in routes else (404, {}, b"")
            try:
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            except OSError:
                pass

        def log_message(self, *args):
            pass

    server = _Server(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    yield type("Http", (), {"base": base, "routes": routes, "seen": seen, "stop": stop})
    stop.set()
    server.shutdown()
    server.server_close()
    thread.join()


def _csv_bytes(tmp_path: Path, rows: list[list[str]]) -> bytes:
    return write_export(tmp_path / "served.csv", rows).read_bytes()


CSV = {"Content-Type": "text/csv; charset=utf-8"}
JSON = {"Content-Type": "application/json"}


def test_url_500_once_then_success_is_retried_and_imported(db_url, engine, tmp_path, http):
    body = _csv_bytes(tmp_path, [_row("HS-1"), _row("HS-2")])
    binary = {"Content-Type": "application/octet-stream"}
    http.routes["/export"] = lambda q, n: (500, {}, b"busy") if n == 1 else (200, binary, body)
    settings = _settings(db_url, tmp_path, [{"name": "portal", "kind": "url", "url": http.base + "/export",
                                             "format": "tthc-csv"}])
    [spec] = source_specs(settings)
    results = run_url_source(engine, settings, spec, workdir=tmp_path / "work", backoff=FAST)
    assert [(r.status, r.inserted, r.file) for r in results] == [("done", 2, "portal.csv")]
    assert len(http.seen) == 2 and _count(engine) == 2
    assert list((tmp_path / "work").iterdir()) == []  # downloads removed once imported
    with engine.connect() as conn:
        assert conn.execute(select(ImportRun.source, ImportRun.status)).all() == [("portal", "done")]


def test_url_429_with_retry_after_is_honoured(tmp_path, http):
    http.routes["/export"] = lambda q, n: (429, {"Retry-After": "0"}, b"") if n == 1 else (200, CSV, b"a;b\r\n")
    settings = _settings("sqlite://", tmp_path, [{"name": "p", "kind": "url", "url": http.base + "/export"}])
    [path] = fetch_url_source(source_specs(settings)[0], settings, tmp_path / "d", backoff=FAST)
    assert path.name == "p.csv" and path.read_bytes() == b"a;b\r\n" and len(http.seen) == 2


@pytest.mark.parametrize("headers, name", [
    ({"Content-Type": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}, "p.xlsx"),
    ({"Content-Type": "application/octet-stream", "Content-Disposition": 'attachment; filename="hs.xls"'},
     "p.xls"),
    ({"Content-Type": "text/html; charset=utf-8"}, "p.html"),
    ({"Content-Type": "application/octet-stream"}, "p.dat"),
])
def test_a_single_download_is_named_from_its_type(tmp_path, http, headers, name):
    http.routes["/export"] = lambda q, n: (200, headers, b"x")
    settings = _settings("sqlite://", tmp_path, [{"name": "p", "kind": "url", "url": http.base + "/export"}])
    [path] = fetch_url_source(source_specs(settings)[0], settings, tmp_path / "d", backoff=FAST)
    assert path.name == name


def test_url_timeout_is_a_clear_error_after_the_retries(tmp_path, http):
    def slow(q, n):
        http.stop.wait(3)  # longer than import.url_timeout = 1
        return 200, CSV, b""

    http.routes["/slow"] = slow
    url = http.base + "/slow?key=s3cr3t"
    settings = _settings("sqlite://", tmp_path, [{"name": "slow", "kind": "url", "url": url}])
    started = time.perf_counter()
    with pytest.raises(SourceError) as exc:
        fetch_url_source(source_specs(settings)[0], settings, tmp_path / "d", backoff=FAST)
    assert time.perf_counter() - started < 2.9
    assert str(exc.value) == (f"import source 'slow': GET {http.base}/slow: timed out after 1 s "
                              "(after 2 attempts)")
    assert len(http.seen) == 2


def test_url_404_fails_at_once_and_is_recorded(db_url, engine, tmp_path, http):
    settings = _settings(db_url, tmp_path, [{"name": "gone", "kind": "url", "url": http.base + "/nope?token=xyz"}])
    with pytest.raises(SourceError) as exc:
        run_url_source(engine, settings, source_specs(settings)[0], workdir=tmp_path / "w", backoff=FAST)
    assert str(exc.value) == f"import source 'gone': GET {http.base}/nope: HTTP 404 Not Found (not retried)"
    assert len(http.seen) == 1
    with engine.connect() as conn:
        run = conn.execute(select(ImportRun)).mappings().one()
    assert (run["source"], run["status"], run["file_name"]) == ("gone", "failed", f"{http.base}/nope")
    assert "HTTP 404" in run["message"] and "xyz" not in run["message"]


def test_url_connection_refused_is_retried_then_named_without_the_query(tmp_path):
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    settings = _settings("sqlite://", tmp_path, [{"name": "down", "kind": "url",
                                                  "url": f"http://127.0.0.1:{port}/x?token=s3cr3t"}])
    with pytest.raises(SourceError) as exc:
        fetch_url_source(source_specs(settings)[0], settings, tmp_path / "d", backoff=FAST)
    message = str(exc.value)
    assert message.startswith(f"import source 'down': GET http://127.0.0.1:{port}/x: connection failed: ")
    assert message.endswith("(after 2 attempts)") and "s3cr3t" not in message


def test_paged_api_with_bearer_token(tmp_path, http, monkeypatch):
    def page(q, n):
        p = int(q["page"])
        items = [{"code": f"HS-{p}-{i}", "applicant": "Nguyễn Văn An"} for i in range(int(q["size"]))]
        return 200, JSON, json.dumps({"content": items if p < 3 else [], "number": p}).encode()

    http.routes["/api/dossiers"] = page
    monkeypatch.setenv("IGATE_TEST_TOKEN", "tok-123")
    settings = _settings("sqlite://", tmp_path, [{
        "name": "igate", "kind": "url", "url": http.base + "/api/dossiers", "format": "igate-json",
        "token_env": "IGATE_TEST_TOKEN", "page_param": "page", "page_size_param": "size", "page_size": 2,
        "headers": {"Accept": "application/json"}}])
    files = fetch_url_source(source_specs(settings)[0], settings, tmp_path / "d", backoff=FAST)
    assert [f.name for f in files] == ["page-0001.json", "page-0002.json", "page-0003.json"]
    assert json.loads(files[2].read_text(encoding="utf-8")) == [
        {"code": "HS-2-0", "applicant": "Nguyễn Văn An"}, {"code": "HS-2-1", "applicant": "Nguyễn Văn An"}]
    assert [q for _, q, _ in http.seen] == [{"page": str(p), "size": "2"} for p in range(4)]
    assert all(h["Authorization"] == "Bearer tok-123" and h["Accept"] == "application/json"
               for _, _, h in http.seen)
    assert not any(b"tok-123" in f.read_bytes() for f in files)


def test_paged_api_stops_at_total_pages_or_last(tmp_path, http):
    http.routes["/a"] = lambda q, n: (200, JSON, json.dumps(
        {"data": {"items": [{"p": q["p"]}], "totalPages": 2}}).encode())
    http.routes["/b"] = lambda q, n: (200, JSON, json.dumps(
        {"records": [{"p": q["p"]}], "last": q["p"] == "3"}).encode())
    settings = _settings("sqlite://", tmp_path, [
        {"name": "a", "kind": "url", "url": http.base + "/a", "page_param": "p", "first_page": 1},
        {"name": "b", "kind": "url", "url": http.base + "/b", "page_param": "p", "first_page": 1}])
    a, b = source_specs(settings)
    assert len(fetch_url_source(a, settings, tmp_path / "a", backoff=FAST)) == 2
    assert len(fetch_url_source(b, settings, tmp_path / "b", backoff=FAST)) == 3
    assert [q["p"] for _, q, _ in http.seen] == ["1", "2", "1", "2", "3"]


def test_paged_api_that_ignores_the_page_parameter_is_stopped(tmp_path, http):
    http.routes["/same"] = lambda q, n: (200, JSON, b'{"items": [{"code": "HS-1"}]}')
    settings = _settings("sqlite://", tmp_path, [{"name": "s", "kind": "url", "url": http.base + "/same",
                                                  "page_param": "page"}])
    with pytest.raises(SourceError, match="the same records as the previous page; does the API take 'page'"):
        fetch_url_source(source_specs(settings)[0], settings, tmp_path / "d", backoff=FAST)
    assert len(http.seen) == 2


def test_missing_token_variable_is_named_and_nothing_is_requested(tmp_path, http, monkeypatch):
    monkeypatch.delenv("IGATE_TEST_TOKEN", raising=False)
    settings = _settings("sqlite://", tmp_path, [{"name": "igate", "kind": "url", "url": http.base + "/x",
                                                  "token_env": "IGATE_TEST_TOKEN"}])
    with pytest.raises(SourceError, match="environment variable IGATE_TEST_TOKEN is not set"):
        fetch_url_source(source_specs(settings)[0], settings, tmp_path / "d", backoff=FAST)
    assert http.seen == []


def test_a_custom_token_header_does_not_follow_a_redirect_to_another_host(tmp_path, http, monkeypatch):
    port = urlsplit(http.base).port
    http.routes["/start"] = lambda q, n: (302, {"Location": f"http://localhost:{port}/end"}, b"")
    http.routes["/end"] = lambda q, n: (200, CSV, b"a;b\r\n")
    monkeypatch.setenv("IGATE_TEST_TOKEN", "tok-456")
    settings = _settings("sqlite://", tmp_path, [{"name": "r", "kind": "url", "url": http.base + "/start",
                                                  "token_env": "IGATE_TEST_TOKEN", "auth_header": "X-Api-Key",
                                                  "auth_scheme": ""}])
    fetch_url_source(source_specs(settings)[0], settings, tmp_path / "d", backoff=FAST)
    (_, _, first), (_, _, second) = http.seen
    assert first["X-Api-Key"] == "tok-456" and "X-Api-Key" not in second


def test_a_response_beyond_max_megabytes_or_json_nested_too_deeply_is_a_clear_error(tmp_path, http):
    http.routes["/big"] = lambda q, n: (200, CSV, b"a;b\r\n" * 300_000)  # 1.5 MB
    http.routes["/deep"] = lambda q, n: (200, JSON, b'{"items": ' + b"[" * 200_000 + b"]" * 200_000 + b"}")
    http.routes["/huge"] = lambda q, n: (200, JSON, b'{"items": [' + b"9" * 5000 + b"]}")
    settings = load_settings(env={}, overrides={
        "database.url": "sqlite://", "paths.var_dir": str(tmp_path / "var"), "import.max_megabytes": 1,
        "import.url_timeout": 5, "import.url_retries": 0, "import.sources": [
            {"name": "big", "kind": "url", "url": http.base + "/big"},
            {"name": "deep", "kind": "url", "url": http.base + "/deep", "page_param": "p"},
            {"name": "huge", "kind": "url", "url": http.base + "/huge", "page_param": "p"}]})
    big, deep, huge = source_specs(settings)
    with pytest.raises(SourceError, match=r"import source 'big': .*more than the 1 MB an import reads"):
        fetch_url_source(big, settings, tmp_path / "b", backoff=FAST)
    with pytest.raises(SourceError, match=r"import source 'deep': .* not readable JSON \(nested too deeply\)"):
        fetch_url_source(deep, settings, tmp_path / "d", backoff=FAST)
    with pytest.raises(SourceError, match=r"import source 'huge': .* not readable JSON \(Exceeds the limit"):
        fetch_url_source(huge, settings, tmp_path / "h", backoff=FAST)
