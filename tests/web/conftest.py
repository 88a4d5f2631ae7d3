"""The dashboard's test world: the demo province (a real import) at a frozen moment, and personas.

Built once per session on SQLite; tests that need PostgreSQL too take `web_db` via `db_url`.
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import pytest
from sqlalchemy import delete, select

from tracker.config import load_settings
from tracker.db import make_engine, upgrade
from tracker.demo import ROOT_CODE, build_demo_files
from tracker.ingest import import_file, import_procedures, import_units
from tracker.models import Dossier, Unit
from tracker.users import User, UserUnit, create_token, create_user

NOW = datetime(2026, 11, 20, 10, 0)  # a Friday
PASSWORD = "correct horse battery"
DEPT = "000.00.01.H48"  # a department: the unit head's unit
DESK = ("000.11.40.H48", "000.12.40.H48")  # two communes: the reception officer's desk
PERSONAS = {
    # name: (role, units)
    "reception": ("reception", DESK),
    "head": ("unit_head", (DEPT,)),
    "province_head": ("unit_head", (ROOT_CODE,)),
    "cchc": ("cchc", ()),
    "admin": ("admin", ()),
    "nobody": ("reception", (DESK[0],)),  # then unlinked: an account with no unit
}


def _plant_desk_overdue(dossiers: Path, units: Path) -> None:
    """Two open dossiers past their appointment in each of the desk's communes: a small demo has
    too few dossiers per commune to be sure of one, and the desk's pages are tested with them."""
    import csv

    names = {r[0]: r[1] for r in csv.reader(units.read_text(encoding="utf-8-sig").splitlines(), delimiter=";")}
    text = dossiers.read_text(encoding="utf-8-sig")
    header, first = (next(csv.reader([line], delimiter=";")) for line in text.splitlines()[:2])
    col = {name: i for i, name in enumerate(header)}
    planted = []
    for n, code in enumerate(DESK):
        for k in range(2):
            row = ["" for _ in header]
            for name in ("Mã TTHC", "Tên thủ tục hành chính", "Lĩnh vực", "Kênh nộp"):
                row[col[name]] = first[col[name]]
            row[col["STT"]] = str(900000 + 2 * n + k)
            row[col["Mã hồ sơ"]] = f"{code}-261102-{9000 + k}"
            row[col["Đơn vị tiếp nhận"]] = names[code]
            row[col["Ngày tiếp nhận"]] = f"0{2 + k}/11/2026 09:00:00"
            row[col["Ngày hẹn trả"]] = f"{10 + k}/11/2026 17:00:00"
            row[col["Trạng thái"]] = "Đang xử lý"
            planted.append(";".join(row))
    dossiers.write_text(text.rstrip("\r\n") + "\r\n" + "\r\n".join(planted) + "\r\n", encoding="utf-8-sig")


def build_world(url: str, tmp: Path) -> dict:
    settings = load_settings(env={}, overrides={"database.url": url, "paths.var_dir": str(tmp / "var")})
    engine = make_engine(url)
    upgrade(engine)
    files = build_demo_files(tmp / "demo", today=NOW.date(), now=NOW, per_month=400, months=13)
    _plant_desk_overdue(files.dossiers, files.units)
    import_units(engine, files.units)
    import_procedures(engine, files.procedures)
    res = import_file(engine, settings, files.dossiers, source="demo")
    assert res.status in ("done", "partial"), res.message
    from tracker.outlook import refresh_outlook

    refresh_outlook(engine, settings, NOW)  # what `tthc refresh` stores: predicted lateness, time in status
    for name, (role, units) in PERSONAS.items():
        create_user(engine, name, role, PASSWORD, unit_codes=list(units), display_name=name.title())
    with engine.begin() as conn:
        nobody = conn.execute(select(User.id).where(User.username == "nobody")).scalar_one()
        conn.execute(delete(UserUnit).where(UserUnit.user_id == nobody))
    with engine.connect() as conn:
        admin_id = conn.execute(select(User.id).where(User.username == "admin")).scalar_one()
        head_id = conn.execute(select(User.id).where(User.username == "head")).scalar_one()
        units = {u.code: u.id for u in conn.execute(select(Unit.code, Unit.id))}
        codes = {}
        for code, uid in units.items():
            codes[code] = conn.execute(select(Dossier.code).where(Dossier.unit_id == uid).limit(1)).scalar()
    tokens = {"admin": create_token(engine, admin_id, "test"), "head": create_token(engine, head_id, "test")}
    engine.dispose()
    return {"url": url, "settings": settings, "units": units, "dossier_of_unit": codes, "tokens": tokens,
            "run_id": res.run_id}


@pytest.fixture(scope="session")
def world(tmp_path_factory) -> dict:
    tmp = tmp_path_factory.mktemp("web")
    return build_world(f"sqlite:///{tmp / 'web.db'}", tmp)


@pytest.fixture(scope="session")
def app(world):
    from web import create_app

    app = create_app(world["settings"], testing=True, now=lambda: NOW)
    yield app
    app.extensions["tthc_engine"].dispose()


@pytest.fixture
def client_for(app):
    """client_for('head') -> a test client logged in as that persona (None: anonymous)."""
    from web.auth import throttle

    def make(name: str | None):  # noqa: ANN202
        c = app.test_client()
        if name:
            resp = c.post("/login", data={"username": name, "password": PASSWORD, "csrf_token": csrf(c)})
            assert resp.status_code == 302, resp.text
        return c

    throttle.reset(app.extensions["tthc_engine"])
    return make


def csrf(client) -> str:
    """The CSRF token of the client's session, read from the login page's form."""
    import re

    html = client.get("/login").text
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


# ----- the real browser (tests/web/test_browser.py, tests/web/test_personas_browser.py) ---------------

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]


def _unavailable() -> str | None:
    if not Path(CHROMIUM).exists():
        return f"{CHROMIUM} not installed (apt-get install -y chromium)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright package is not installed (pip install -e '.[test]')"
    return None


def _served(app):  # noqa: ANN001, ANN202
    """Serve `app` on a free port in a thread for as long as the fixture lives: its URL."""
    import threading

    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(5)
    server.server_close()
    app.extensions["tthc_engine"].dispose()


@pytest.fixture(scope="session")
def live_url(world, tmp_path_factory):
    """The test world served on a real socket, once per session. Started the way an operator
    starts it: from a directory of its own, with the default relative `paths.var_dir` ("var"),
    so a path resolved against the wrong directory shows (issue 14: English translated nothing)."""
    import os

    reason = _unavailable()
    if reason:
        if os.environ.get("TRACKER_TEST_REQUIRE_BROWSER"):
            pytest.fail(f"browser tests required: {reason}")
        pytest.skip(reason)
    from web import create_app

    home = tmp_path_factory.mktemp("operator-home")
    here = os.getcwd()
    os.chdir(home)
    try:
        settings = load_settings(env={}, overrides={"database.url": world["url"]})  # paths.var_dir: "var"
        # testing=True: reports computed in the request, not in background threads outliving the test
        app = create_app(settings, testing=True, now=lambda: NOW)
    finally:
        os.chdir(here)
    yield from _served(app)


@pytest.fixture(scope="session")
def browser(live_url):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


def shot(page, name: str, *, full_page: bool = True) -> None:  # noqa: ANN001
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=full_page)


def login(page, base: str, username: str) -> None:  # noqa: ANN001
    page.goto(f"{base}/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/")


__all__ = ["DEPT", "DESK", "NOW", "PASSWORD", "PERSONAS", "ROOT_CODE", "date", "csrf", "login", "shot"]


@pytest.fixture
def no_users(engine):
    """tests/conftest.py empties the tracker's tables between PostgreSQL tests; these are the web's."""
    from tracker.users import ApiToken

    with engine.begin() as conn:
        for table in (ApiToken, UserUnit, User):
            conn.execute(delete(table))
    return engine
