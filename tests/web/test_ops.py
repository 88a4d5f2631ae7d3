"""What operators read from the dashboard (/healthz, /metrics, the version) and the admin calendar page,
on SQLite and PostgreSQL."""

from __future__ import annotations

import html
import re
from datetime import datetime, timedelta

import pytest
from sqlalchemy import text

from tests.tracker.test_calendar_days import DECREE, dues
from tests.tracker.test_calendar_days import load as load_dossiers
from tests.web.conftest import csrf
from tracker.config import load_settings
from tracker.health import version
from tracker.users import create_user

NOW = datetime(2026, 11, 20, 10, 0)  # after 1 October: next year (2027) has no decreed day yet
BEFORE_OCTOBER = datetime(2026, 9, 30, 10, 0)
PASSWORD = "correct horse battery"
TOKEN = "scrape-me-3f9c"


def make_app(db_url, tmp_path, now=NOW, **overrides):  # noqa: ANN001, ANN003, ANN201
    from web import create_app

    settings = load_settings(env={}, overrides={"database.url": db_url, "paths.var_dir": str(tmp_path / "var"),
                                                "metrics.token": TOKEN, **overrides})
    return create_app(settings, testing=True, now=lambda: now)


@pytest.fixture
def office(engine, settings, db_url, tmp_path):
    load_dossiers(engine, settings, tmp_path)
    for name, role in (("root", "admin"), ("cchc", "cchc")):
        create_user(engine, name, role, PASSWORD)
    create_user(engine, "head", "unit_head", PASSWORD, unit_codes=[_unit_code(engine)])
    app = make_app(db_url, tmp_path)
    yield app
    app.extensions["tthc_engine"].dispose()


def _unit_code(engine) -> str:  # noqa: ANN001
    with engine.connect() as conn:
        return conn.execute(text("SELECT code FROM unit")).scalar_one()


def login(app, username: str):  # noqa: ANN001, ANN201
    c = app.test_client()
    resp = c.post("/login", data={"username": username, "password": PASSWORD, "csrf_token": csrf(c)})
    assert resp.status_code == 302, resp.text
    return c


def flashes(page: str) -> list[str]:
    return [html.unescape(m) for m in re.findall(r'<p class="flash">(.*?)</p>', page, re.S)]


# ----- /healthz and /metrics ---------------------------------------------------------------------


def test_healthz_says_ok_or_failing_per_check_and_the_version_only(office):
    resp = office.test_client().get("/healthz")
    assert resp.status_code == 200
    body = resp.get_json()
    assert body == {"status": "ok", "version": version(), "checks": {
        "database": "ok", "migrations": "ok", "indexes": "ok", "imports": "ok", "disk": "ok", "calendar": "warning"}}
    assert resp.headers["Cache-Control"] == "no-store"


def test_healthz_503_when_this_node_cannot_serve_but_not_for_a_stale_source(db_url, tmp_path, engine):
    app = make_app(db_url, tmp_path, **{"import.sources": [{"name": "motcua", "kind": "folder",
                                                            "path": str(tmp_path)}]})
    resp = app.test_client().get("/healthz")
    assert resp.status_code == 200 and resp.get_json()["status"] == "failing"
    assert resp.get_json()["checks"]["import motcua"] == "failing"  # never imported
    app.extensions["tthc_engine"].dispose()

    app = make_app(db_url, tmp_path, **{"check.min_free_mb": 9_999_999})
    resp = app.test_client().get("/healthz")
    assert resp.status_code == 503 and resp.get_json()["checks"]["disk"] == "failing"
    app.extensions["tthc_engine"].dispose()

    app = make_app("postgresql+psycopg://nobody@127.0.0.1:1/none", tmp_path)
    resp = app.test_client().get("/healthz")
    assert resp.status_code == 503
    assert resp.get_json() == {"status": "failing", "version": version(), "checks": {
        "database": "failing", "disk": "ok"}}
    app.extensions["tthc_engine"].dispose()


def _overview_count(body: str) -> float:
    m = re.search(r'tthc_http_request_duration_seconds_count\{endpoint="views.overview",method="GET"\} (\S+)', body)
    return float(m.group(1)) if m else 0.0


def test_metrics_behind_the_token(office, db_url, tmp_path):
    c = office.test_client()
    assert c.get("/metrics").status_code == 401
    assert c.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
    march = make_app(db_url, tmp_path, now=datetime(2027, 3, 1, 12, 0))  # A and B in progress, C overdue
    scrape = march.test_client()

    def metrics() -> str:
        resp = scrape.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
        assert resp.status_code == 200 and resp.mimetype == "text/plain"
        return resp.text

    seen = _overview_count(metrics())
    login(march, "root").get("/")  # one timed request
    body = metrics()
    assert _overview_count(body) == seen + 1
    assert 'tthc_dossiers_open{state="in_progress"} 3.0' in body
    assert 'tthc_dossiers_open{state="overdue"} 1.0' in body
    assert 'tthc_dossiers_open{state="at_risk"} 0.0' in body
    assert 'tthc_import_rows_total{outcome="inserted",source="file"} 3.0' in body
    assert 'tthc_import_rows_total{outcome="rejected",source="file"} 0.0' in body
    assert 'tthc_import_runs_total{source="file",status="done"} 1.0' in body
    age = float(re.search(r'tthc_import_last_age_seconds\{source="file"\} (\S+)', body).group(1))
    assert age > 0
    march.extensions["tthc_engine"].dispose()

    off = make_app(db_url, tmp_path, **{"metrics.token": ""})
    assert off.test_client().get("/metrics", headers={"Authorization": "Bearer "}).status_code == 404
    off.extensions["tthc_engine"].dispose()


def test_digest_deliveries_by_outcome_in_metrics(office, engine):
    with engine.begin() as conn:
        for i, status in enumerate(["sent", "sent", "failed"]):
            conn.execute(text("INSERT INTO digest_delivery (digest_date, kind, scope, recipient, status, attempts, "
                              "error, subject, message_id, claimed_by, created_at) VALUES ('2026-11-20', 'unit', "
                              f"'U', 'r{i}@x.vn', '{status}', 1, '', '', '', '', '2026-11-20 07:30:00')"))
    body = office.test_client().get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"}).text
    assert 'tthc_digest_deliveries{kind="unit",outcome="sent"} 2.0' in body
    assert 'tthc_digest_deliveries{kind="unit",outcome="failed"} 1.0' in body


def test_the_version_in_the_footer(office):
    page = login(office, "head").get("/").text
    assert f"tthc-monitor {version()}</footer>" in page


# ----- the calendar warning and the admin calendar page -------------------------------------------------


def test_overview_warns_admin_and_cchc_from_october_not_unit_heads(office, db_url, tmp_path):
    for who, warned in (("root", True), ("cchc", True), ("head", False)):
        page = login(office, who).get("/").text
        assert ('id="calendar-warning"' in page) is warned, who
        if warned:
            assert "Năm 2027 chưa có ngày nghỉ, ngày làm bù theo quyết định" in html.unescape(page)
    september = make_app(db_url, tmp_path, now=BEFORE_OCTOBER)
    assert 'id="calendar-warning"' not in login(september, "root").get("/").text
    september.extensions["tthc_engine"].dispose()


def test_admin_enters_a_decreed_day_the_page_says_how_many_moved(office, engine):
    admin = login(office, "root")
    before = dues(engine)
    resp = admin.post("/admin/calendar", data={"csrf_token": csrf(admin), "day": "2027-03-02", "kind": "off",
                                               "reference": DECREE, "note": ""})
    assert resp.status_code == 302
    page = admin.get("/admin/calendar").text
    assert flashes(page) == ["Đã thêm ngày 02/03/2027. Đã tính lại 2 hồ sơ; 2 hồ sơ thay đổi hạn xử lý hoặc kết quả."]
    assert DECREE in page and 'id="calendar-warning"' not in page
    assert dues(engine)["A"] > before["A"]
    assert 'id="calendar-warning"' not in admin.get("/").text  # 2027 has a decreed day now
    cal = admin.get("/calendar?year=2027").text
    assert f"Nghỉ theo quyết định ({DECREE})" in html.unescape(cal)
    log = html.unescape(admin.get("/admin").text)
    assert "Thêm ngày nghỉ/làm bù" in log and f"Nghỉ: {DECREE}" in log

    refused = admin.post("/admin/calendar", data={"csrf_token": csrf(admin), "day": "2027-03-06", "kind": "off",
                                                  "reference": DECREE})
    assert refused.status_code == 400
    assert "2027-03-06 là ngày cuối tuần: ngày nghỉ phải là ngày trong tuần." in html.unescape(refused.text)

    resp = admin.post("/admin/calendar/2027-03-02/delete", data={"csrf_token": csrf(admin)})
    assert resp.status_code == 302
    assert flashes(admin.get("/admin/calendar").text) == [
        "Đã xoá ngày 02/03/2027. Đã tính lại 2 hồ sơ; 2 hồ sơ thay đổi hạn xử lý hoặc kết quả."]
    assert dues(engine) == before


def test_only_admins_change_the_calendar(office, engine):
    for who in ("cchc", "head"):
        c = login(office, who)
        assert c.get("/admin/calendar").status_code == 403
        assert c.post("/admin/calendar", data={"csrf_token": csrf(c), "day": "2027-03-02", "kind": "off",
                                               "reference": DECREE}).status_code == 403
    assert office.test_client().get("/admin/calendar").status_code == 302  # to the login page
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM calendar_day")).scalar_one() == 0


def test_each_request_logged_as_json_by_endpoint_without_the_query_string(office):
    import io
    import json
    import logging

    from tracker.logs import configure

    stream = io.StringIO()
    handler = configure("json", logging.INFO, stream)
    try:
        c = login(office, "root")
        resp = c.get("/overdue?q=HS-SECRET-CODE")
    finally:
        logging.getLogger().removeHandler(handler)
    got = [json.loads(line) for line in stream.getvalue().splitlines()]
    line = next(g for g in got if g.get("endpoint") == "views.overdue")
    assert line["status"] == 200 and line["method"] == "GET" and line["user_id"] is not None
    assert line["request_id"] == resp.headers["X-Request-Id"]
    assert line["event"].startswith("GET views.overdue 200 ")
    assert "HS-SECRET-CODE" not in stream.getvalue() and "correct horse" not in stream.getvalue()


def test_the_imports_page_uses_the_same_freshness_limit_as_tthc_check(office, db_url, tmp_path):
    from tracker.clock import now_local

    later = now_local() + timedelta(hours=3)
    for hours, stale in ((26, False), (2, True)):
        app = make_app(db_url, tmp_path, now=later, **{"check.import_max_age_hours": hours})
        page = login(app, "root").get("/imports").text
        row = re.search(r'<tr class="([^"]*)"><td>file</td>', page)
        assert row and ("stale" in row.group(1)) is stale, hours
        app.extensions["tthc_engine"].dispose()
