"""Hostile uploads and long imports against the web layer (issue 12): a file that would abort a
workbook reader is a rejected file, the worker answers on; a login during a long import succeeds."""

from __future__ import annotations

import io
import threading
import time

from sqlalchemy import select

from bench.gen_igate_csv import generate
from tests import hostile as hx
from tests.web.conftest import PASSWORD, csrf
from tracker.config import load_settings
from tracker.db import make_engine, upgrade
from tracker.ingest import import_file
from tracker.models import ImportRun
from tracker.users import create_user
from web import create_app


def test_a_workbook_that_would_abort_the_reader_is_a_rejected_upload(settings, engine, no_users, tmp_path):
    create_user(engine, "cchc", "cchc", PASSWORD)
    far = hx.sheet_xml(hx.good_rows(), extra='<row r="1048576"><c r="XFD1048576"><v>1</v></c></row>')
    data = hx.xlsx(tmp_path / "far.xlsx", far).read_bytes()
    app = create_app(settings, testing=True)
    c = app.test_client()
    c.post("/login", data={"username": "cchc", "password": PASSWORD, "csrf_token": csrf(c)})
    resp = c.post("/imports", data={"csrf_token": csrf(c), "file": (io.BytesIO(data), "far.xlsx")},
                  content_type="multipart/form-data", follow_redirects=True)
    assert resp.status_code == 200 and "import.max_columns" in resp.text
    assert c.get("/imports").status_code == 200  # the worker lives on
    with engine.connect() as conn:
        assert conn.execute(select(ImportRun.source, ImportRun.status)).all() == [("upload", "failed")]
    app.extensions["tthc_engine"].dispose()


def test_a_login_during_a_long_import_on_sqlite_succeeds(tmp_path):
    url = f"sqlite:///{tmp_path / 'busy.db'}"
    settings = load_settings(env={}, overrides={"database.url": url, "paths.var_dir": str(tmp_path / "var")})
    engine = make_engine(url)
    upgrade(engine)
    create_user(engine, "cchc", "cchc", PASSWORD)
    path = generate(60_000, tmp_path / "big.csv")
    app = create_app(settings, testing=True)
    done = threading.Event()
    result = {}

    def run() -> None:
        result["import"] = import_file(engine, settings, path, batch_size=5000)
        done.set()

    importer = threading.Thread(target=run)
    importer.start()
    answers = []
    while not done.is_set() or not answers:
        c = app.test_client()
        started = time.monotonic()
        wrong = c.post("/login", data={"username": "cchc", "password": "wrong", "csrf_token": csrf(c)})
        right = c.post("/login", data={"username": "cchc", "password": PASSWORD, "csrf_token": csrf(c)})
        answers.append((wrong.status_code, right.status_code, time.monotonic() - started, done.is_set()))
    importer.join()
    assert result["import"].status == "done"
    assert any(not finished for *_, finished in answers), "no login happened while the import ran"
    assert {(w, r) for w, r, *_ in answers} == {(401, 302)}, answers  # a wrong password counted, a right one in
    assert max(s for _, _, s, _ in answers) < 10  # a batch's transaction at most, never the whole import
    app.extensions["tthc_engine"].dispose()
    engine.dispose()
