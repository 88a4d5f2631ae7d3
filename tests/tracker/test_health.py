"""`tthc check`: one line per check, exit 1 on any failure, --format json; against real things: the
databases, an SMTP server on 127.0.0.1 (aiosmtpd), an HTTP server for a URL source, a drop folder."""

from __future__ import annotations

import json
import threading
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from aiosmtpd.smtp import AuthResult
from sqlalchemy import text

from cli.main import main
from tests.jobs.conftest import SmtpServer
from tracker.config import load_settings
from tracker.db import make_engine, upgrade
from tracker.health import check_calendar, check_freshness, run_checks, version
from tracker.models import ImportRun


def write_config(tmp_path, db_url: str, extra: str = "") -> str:  # noqa: ANN001
    p = tmp_path / "tthc.toml"
    p.write_text(f'[database]\nurl = "{db_url}"\n[paths]\nvar_dir = "{tmp_path / "var"}"\n{extra}', encoding="utf-8")
    return str(p)


def run(capsys, *args: str) -> tuple[int, dict[str, str], str]:  # noqa: ANN001
    code = main(list(args))
    out = capsys.readouterr().out
    lines = {}
    for line in out.splitlines():
        status, name = line.split()[:2]
        lines[name] = status
    return code, lines, out


def test_everything_in_order_then_each_failure_on_its_line(db_url, tmp_path, capsys):
    code, lines, out = run(capsys, "--config", write_config(tmp_path, db_url), "check")
    assert code == 0, out
    assert lines == {"settings": "OK", "database": "OK", "migrations": "OK", "indexes": "OK", "smtp": "OK",
                     "imports": "OK", "disk": "OK", "calendar": lines["calendar"]}
    assert lines["calendar"] in ("OK", "WARN")  # depends on today's date; pinned below

    # a dropped index (a first import killed half-way does that) is named, with the remedy
    engine = make_engine(db_url)
    with engine.begin() as conn:
        conn.execute(text("DROP INDEX ix_dossier_open_due"))
    code, lines, out = run(capsys, "--config", write_config(tmp_path, db_url), "check")
    assert code == 1 and lines["indexes"] == "FAIL"
    assert "dossier.ix_dossier_open_due: run 'tthc db upgrade'" in out
    upgrade(engine)  # builds it again
    engine.dispose()

    # disk below the floor
    code, lines, out = run(capsys, "--config", write_config(tmp_path, db_url, "[check]\nmin_free_mb = 9999999\n"),
                           "check")
    assert code == 1 and lines["disk"] == "FAIL" and "minimum 9,999,999 MB" in out


def test_bad_settings_are_a_failed_check_in_json_too(tmp_path, capsys):
    cfg = tmp_path / "tthc.toml"
    cfg.write_text('[rules]\ncomparison = "sometimes"\n', encoding="utf-8")
    assert main(["--config", str(cfg), "check", "--format", "json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] is False and report["version"] == version()
    assert report["checks"] == [{"name": "settings", "status": "fail",
                                 "detail": f"rules.comparison: 'sometimes' is not one of date, datetime ({cfg})"}]


def test_a_database_not_reachable_or_not_migrated(tmp_path, capsys):
    url = "postgresql+psycopg://nobody@127.0.0.1:1/none"
    code, lines, out = run(capsys, "--config", write_config(tmp_path, url), "check")
    assert code == 1 and lines["database"] == "FAIL" and "migrations" not in lines
    assert "OperationalError" in out

    empty = f"sqlite:///{tmp_path / 'empty.db'}"
    code, lines, out = run(capsys, "--config", write_config(tmp_path, empty), "check")
    assert code == 1 and lines["database"] == "OK" and lines["migrations"] == "FAIL"
    assert "at revision none" in out and "run 'tthc db upgrade'" in out


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning")  # the test server
def test_smtp_answers_ehlo_and_accepts_the_login(sqlite_db_url, tmp_path, capsys, monkeypatch):
    logins = []

    def authenticator(server, session, envelope, mechanism, auth_data):  # noqa: ANN001, ANN202
        logins.append(auth_data.login)
        return AuthResult(success=auth_data.password == b"right", handled=False)  # not handled: 535 on failure

    server = SmtpServer(authenticator=authenticator, auth_required=True, auth_require_tls=False).start()
    smtp = (f'[smtp]\nhost = "127.0.0.1"\nport = {server.port}\nsecurity = "none"\nusername = "tthc"\n'
            'password_env = "CHECK_SMTP_PASSWORD"\ntimeout = 5\n')
    try:
        monkeypatch.setenv("CHECK_SMTP_PASSWORD", "right")
        code, lines, out = run(capsys, "--config", write_config(tmp_path, sqlite_db_url, smtp), "check")
        assert lines["smtp"] == "OK" and f"127.0.0.1:{server.port} (none) answered EHLO, logged in" in out
        assert logins == [b"tthc"]
        monkeypatch.setenv("CHECK_SMTP_PASSWORD", "wrong")
        code, lines, out = run(capsys, "--config", write_config(tmp_path, sqlite_db_url, smtp), "check")
        assert code == 1 and lines["smtp"] == "FAIL" and "SMTPAuthenticationError" in out
        assert "wrong" not in out
    finally:
        server.stop()
    code, lines, out = run(capsys, "--config", write_config(tmp_path, sqlite_db_url, smtp), "check")
    assert code == 1 and lines["smtp"] == "FAIL" and "ConnectionRefusedError" in out


@pytest.fixture
def sqlite_db_url(tmp_path):
    url = f"sqlite:///{tmp_path / 'tthc.db'}"
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    return url


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: ANN202, N802
        self.send_response(200 if self.path.startswith("/ok") else 503)
        self.end_headers()
        self.wfile.write(b"[]")

    def log_message(self, *args):  # noqa: ANN002, ANN202
        pass


@pytest.fixture
def http_server():
    server = HTTPServer(("127.0.0.1", 0), _Handler)
    t = threading.Thread(target=server.serve_forever, daemon=True)
    t.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_every_declared_source_reachable(sqlite_db_url, tmp_path, capsys, http_server):
    drop = tmp_path / "drop"
    drop.mkdir()
    sources = (f'[[import.sources]]\nname = "folder"\nkind = "folder"\npath = "{drop}"\n'
               f'[[import.sources]]\nname = "api"\nkind = "url"\nurl = "{http_server}/ok?key=SECRET"\n'
               f'[[import.sources]]\nname = "down"\nkind = "url"\nurl = "{http_server}/broken"\n'
               f'[[import.sources]]\nname = "gone"\nkind = "folder"\npath = "{tmp_path / "nowhere"}"\n')
    code, _, out = run(capsys, "--config", write_config(tmp_path, sqlite_db_url, sources), "check")
    assert code == 1
    got = {line.split()[2]: (line.split()[0], line) for line in out.splitlines() if line.split()[1] == "source"}
    assert {k: v[0] for k, v in got.items()} == {"folder": "OK", "api": "OK", "down": "FAIL", "gone": "FAIL"}
    assert "HTTP 503" in got["down"][1] and "no such folder" in got["gone"][1]
    assert "SECRET" not in out  # the query string may hold a key


def test_the_last_import_of_each_source_younger_than_its_limit(db_url, tmp_path):
    settings = load_settings(env={}, overrides={
        "database.url": db_url, "paths.var_dir": str(tmp_path / "var"), "check.import_max_age_hours": 26,
        "import.sources": [{"name": "motcua", "kind": "folder", "path": str(tmp_path)},
                           {"name": "igate", "kind": "folder", "path": str(tmp_path)},
                           {"name": "new", "kind": "folder", "path": str(tmp_path)}]})
    now = datetime(2026, 12, 2, 9, 0)
    engine = make_engine(db_url)
    try:
        with engine.begin() as conn:
            for source, age, status in [("motcua", 25, "done"), ("igate", 27, "partial"), ("igate", 1, "failed")]:
                conn.execute(ImportRun.__table__.insert().values(source=source, status=status, started_at=now,
                                                                 finished_at=now - timedelta(hours=age)))
        checks = {c.name: c for c in check_freshness(engine, settings, now)}
    finally:
        engine.dispose()
    assert {n: c.status for n, c in checks.items()} == {"import motcua": "ok", "import igate": "fail",
                                                        "import new": "fail"}
    assert "27.0 h ago (limit 26 h)" in checks["import igate"].detail  # a failed run does not count
    assert checks["import new"].detail == "never imported"


def test_calendar_coverage_warns_from_the_first_of_october(db_url, tmp_path):
    from tracker.calendar_days import add_day

    settings = load_settings(env={}, overrides={"database.url": db_url, "paths.var_dir": str(tmp_path / "var")})
    engine = make_engine(db_url)
    try:
        # the shipped table covers 2026: in 2025 nothing to say
        assert check_calendar(engine, settings, datetime(2025, 11, 1)).status == "ok"
        assert check_calendar(engine, settings, datetime(2026, 9, 30, 23, 59)).status == "ok"
        c = check_calendar(engine, settings, datetime(2026, 10, 1, 0, 0))
        assert c.status == "warn" and c.detail.startswith("2027: no decreed days confirmed yet")
        last = run_checks(engine, settings, datetime(2026, 10, 1), network=False)[-1]
        assert (last.name, last.status, last.ok) == ("calendar", "warn", True)  # a warning: exit 0
        add_day(engine, datetime(2027, 2, 5).date(), "off", "Thông báo 1/TB-VPCP", actor="admin")
        c = check_calendar(engine, settings, datetime(2026, 10, 1))
        assert c.status == "ok" and c.detail == "2027: 1 decreed day(s) confirmed (0 shipped, 1 entered)"
    finally:
        engine.dispose()


def test_version_command(capsys):
    assert main(["version"]) == 0
    assert capsys.readouterr().out == f"tthc {version()}\n"
    assert version()[0].isdigit()


def test_the_version_is_read_once_per_process(monkeypatch):
    """Every page's footer shows it: reading the package metadata (a file parsed) each time cost ~4 ms a page."""
    import tracker.health

    reads = []
    real = tracker.health.metadata.version
    monkeypatch.setattr(tracker.health.metadata, "version", lambda name: reads.append(name) or real(name))
    version.cache_clear()
    try:
        assert {version() for _ in range(50)} == {real("tthc-monitor")}
        assert reads == ["tthc-monitor"]
    finally:
        version.cache_clear()
