"""What holds personal data or secrets is created for its owner only, whatever the umask: the SQLite
database and its -wal/-shm (0600), var/ and the folders the product makes in it (0700), the digest
outbox, the session secret, and the exports the product writes (0600)."""

from __future__ import annotations

import os
import stat
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import text

from cli.main import main
from tracker.config import load_settings
from tracker.db import make_engine


@pytest.fixture(autouse=True)
def permissive_umask():
    """The usual 022, which made 0644 files and 0755 folders before."""
    old = os.umask(0o022)
    yield
    os.umask(old)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_the_sqlite_database_var_and_its_files(tmp_path):
    var = tmp_path / "site" / "var"
    engine = make_engine(f"sqlite:///{var / 'tthc.db'}")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (x)"))
        conn.execute(text("INSERT INTO t VALUES (1)"))
        assert (var / "tthc.db-wal").exists() and (var / "tthc.db-shm").exists()
        assert {p.name: oct(mode(p)) for p in var.iterdir()} == {
            "tthc.db": "0o600", "tthc.db-wal": "0o600", "tthc.db-shm": "0o600"}
    engine.dispose()
    assert mode(var) == 0o700 and mode(var.parent) == 0o700  # each folder it had to make


def test_an_existing_folder_or_database_keeps_its_mode(tmp_path):
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o750)
    os.chmod(shared, 0o750)
    (shared / "tthc.db").touch(mode=0o640)
    os.chmod(shared / "tthc.db", 0o640)
    make_engine(f"sqlite:///{shared / 'tthc.db'}").dispose()
    assert mode(shared) == 0o750 and mode(shared / "tthc.db") == 0o640  # the operator's choice


def test_init_secret_outbox_and_exports(tmp_path, monkeypatch, capsys):
    from jobs.delivery import OutboxTransport, Outgoing, Rendered, build_message
    from web import create_app

    var = tmp_path / "var"
    monkeypatch.setenv("TTHC_DATABASE_URL", f"sqlite:///{var / 'tthc.db'}")
    monkeypatch.setenv("TTHC_PATHS_VAR_DIR", str(var))
    monkeypatch.chdir(tmp_path)
    assert main(["init"]) == 0
    assert mode(var) == 0o700 and mode(var / "tthc.db") == 0o600
    settings = load_settings(env={}, overrides={"database.url": f"sqlite:///{var / 'tthc.db'}",
                                                "paths.var_dir": str(var)})
    app = create_app(settings, testing=True)
    app.extensions["tthc_engine"].dispose()
    assert mode(var / "secret_key") == 0o600 and mode(var / "translations") == 0o700

    outbox = OutboxTransport(var / "outbox" / date(2026, 11, 25).isoformat())
    out = Outgoing("unit", "SXD", None, "a@sxd.gov.vn", Rendered("s", "t", "<p>h</p>"))
    outbox.send(build_message(settings, recipient=out.recipient, rendered=out.rendered, message_id="<x@y>"), out)
    assert mode(var / "outbox") == 0o700 and mode(var / "outbox" / "2026-11-25") == 0o700
    assert mode(outbox.path_for(out)) == 0o600

    for argv, name in ((["export", "dossiers", "-o"], "backup.csv"),
                       (["report", "--from", "2026-03-01", "--to", "2026-03-31", "--format", "csv", "-o"], "r.csv"),
                       (["report", "--from", "2026-03-01", "--to", "2026-03-31", "--format", "xlsx", "-o"], "r.xlsx"),
                       (["audit", "no-due", "--format", "csv", "-o"], "a.csv")):
        assert main([*argv, str(tmp_path / name)]) == 0, capsys.readouterr().err
        assert mode(tmp_path / name) == 0o600, name
