"""The authorisation matrix: every persona × every page × every unit, with the exact status.

A unit head who edits a URL to reach another unit's dossier gets 404, never the page."""

from __future__ import annotations

import re

import pytest

from tests.web.conftest import DEPT, DESK, PERSONAS, ROOT_CODE

ALL = "all"
SCORE_ROLES = ("admin", "cchc")  # Chấm điểm: province-wide
AUDIT_ROLES = ("admin", "cchc", "unit_head")  # Kiểm tra
SCOPE = {"reception": set(DESK), "head": {DEPT}, "province_head": ALL, "cchc": ALL, "admin": ALL, "nobody": set()}


def allowed(persona: str, unit: str) -> bool:
    s = SCOPE[persona]
    return s == ALL or unit in s


def test_the_matrix_covers_every_persona():
    assert set(SCOPE) == set(PERSONAS)


@pytest.mark.parametrize("persona", [None, *PERSONAS])
def test_pages_without_a_unit(client_for, world, persona):
    c = client_for(persona)
    expected = {
        "/": 200, "/overdue": 200, "/overdue.csv": 200, "/overdue.xlsx": 200, "/units": 200, "/calendar": 200,
        "/calendar?year=2025": 200,
        "/imports": 200 if persona in ("admin", "cchc") else 403,
        f"/imports/{world['run_id']}/rejected.csv": 200 if persona in ("admin", "cchc") else 403,
        "/imports/99999/rejected.csv": 404 if persona in ("admin", "cchc") else 403,
        "/admin": 200 if persona == "admin" else 403,
        "/dossier/NO-SUCH-CODE": 404, "/unit/NO-SUCH-UNIT": 404,
        "/reports": 200, "/reports.csv": 200, "/reports.xlsx": 200, "/reports?by=field&period=q3&year=2026": 200,
        "/reports?period=range&from=x": 400, "/reports.csv?year=x": 400, "/reports.pdf": 404,
        "/reports?unit=NO-SUCH-UNIT": 404,
    }
    role = PERSONAS[persona][0] if persona else None
    for path in ("/scores", "/scores.csv", "/scores?period=q1&year=2026"):
        expected[path] = 200 if role in SCORE_ROLES else 403
    for path in ("/audits", "/audits.csv", "/audits?audit=no-due", "/audits.csv?audit=no-apology",
                 "/audits?audit=beyond-limit&detail=1"):
        expected[path] = 200 if role in AUDIT_ROLES else 403
    expected["/audits?unit=NO-SUCH-UNIT"] = 404 if role in AUDIT_ROLES else 403
    # data quality (web.quality): every role, scoped; the reconciliation: province-wide roles
    expected.update({"/quality": 200, "/quality/no_due": 200, "/quality/contradictions.csv": 200,
                     "/quality/no-such-list": 404, "/quality/no_due.pdf": 404, "/quality?period=range&from=x": 400,
                     "/scores/reconcile": 200 if role in SCORE_ROLES else 403})
    for path, status in expected.items():
        got = c.get(path).status_code
        if persona is None:
            assert got == 302, path
        else:
            assert got == status, (persona, path, got)


@pytest.mark.parametrize("persona", [None, *PERSONAS])
def test_every_unit_and_its_dossier(client_for, world, persona):
    c = client_for(persona)
    for unit, code in sorted(world["dossier_of_unit"].items()):
        ok = persona is not None and allowed(persona, unit)
        want = 302 if persona is None else (200 if ok else 404)
        assert c.get(f"/unit/{unit}").status_code == want, (persona, unit)
        assert c.get(f"/overdue?unit={unit}").status_code == want, (persona, unit)
        if code:
            assert c.get(f"/dossier/{code}").status_code == want, (persona, unit, code)
    for unit in (ROOT_CODE, DEPT, DESK[0], "000.00.05.H48", "000.20.40.H48"):
        ok = persona is not None and allowed(persona, unit)
        want = 302 if persona is None else (200 if ok else 404)
        assert c.get(f"/overdue.csv?unit={unit}").status_code == want, (persona, unit)
        assert c.get(f"/overdue.xlsx?unit={unit}").status_code == want, (persona, unit)
        for path in ("/reports", "/reports.csv", "/reports.xlsx"):
            assert c.get(f"{path}?unit={unit}").status_code == want, (persona, path, unit)
        audits = want if persona is None or PERSONAS[persona][0] in AUDIT_ROLES else 403
        for path in ("/audits", "/audits.csv"):
            assert c.get(f"{path}?unit={unit}").status_code == audits, (persona, path, unit)


@pytest.mark.parametrize("persona", [p for p in PERSONAS if SCOPE[p] != ALL])
def test_lists_and_exports_hold_only_the_scope(client_for, persona):
    c = client_for(persona)
    for page in range(1, 4):
        html = c.get(f"/overdue?page={page}").text
        codes = re.findall(r'href="/dossier/([^"]+)"', html)
        assert all(code.rsplit("-", 2)[0] in SCOPE[persona] for code in codes), (persona, codes)
    csv_text = c.get("/overdue.csv").text
    for line in csv_text.splitlines()[1:]:
        assert line.split(",")[0].rsplit("-", 2)[0] in SCOPE[persona]
    units_page = c.get("/units").text
    shown = set(re.findall(r'href="/unit/([^"]+)"', units_page))
    assert shown == SCOPE[persona]
    overview_units = set(re.findall(r'href="/unit/([^"]+)"', c.get("/").text))
    assert overview_units <= SCOPE[persona]
    for by in ("unit", "field"):
        report = c.get(f"/reports?period=y&year=2026&by={by}&rollup=1").text
        assert set(re.findall(r'href="/unit/([^"]+)"', report.split("<main>")[1])) <= SCOPE[persona]
    report_csv = c.get("/reports.csv?period=y&year=2026").text
    assert {line.split(",")[1] for line in report_csv.splitlines()[1:-1]} <= SCOPE[persona]
    if PERSONAS[persona][0] in AUDIT_ROLES:
        for audit in ("no-apology", "no-due", "beyond-limit&detail=1"):
            listed = c.get(f"/audits?period=y&year=2026&audit={audit}").text
            codes = re.findall(r'href="/dossier/([^"]+)"', listed)
            assert all(code.rsplit("-", 2)[0] in SCOPE[persona] for code in codes), (persona, audit)


def test_nobody_sees_no_dossier(client_for):
    html = client_for("nobody").get("/overdue").text
    assert "/dossier/" not in html


@pytest.mark.parametrize("token_of,unit", [("admin", DEPT), ("admin", DESK[0]), ("head", DEPT), ("head", DESK[0])])
def test_api_is_scoped_like_the_pages(app, world, token_of, unit):
    c = app.test_client()
    headers = {"Authorization": f"Bearer {world['tokens'][token_of]}"}
    want = 200 if token_of == "admin" or unit == DEPT else 404
    assert c.get(f"/api/v1/overdue?unit={unit}", headers=headers).status_code == want
    rates = c.get("/api/v1/rates?period=year", headers=headers)
    if rates.status_code == 200:  # reports may refuse while tracker.reports is being finished
        keys = {u["key"] for u in rates.get_json()["units"]}
        assert token_of == "admin" or keys <= {DEPT}
    items = c.get("/api/v1/overdue", headers=headers).get_json()["items"]
    assert token_of == "admin" or all(i["unit"] == DEPT for i in items)


def test_api_needs_a_valid_token(app):
    c = app.test_client()
    assert c.get("/api/v1/overdue").status_code == 401
    assert c.get("/api/v1/overdue", headers={"Authorization": "Bearer nope"}).status_code == 401
    assert c.get("/api/v1/rates", headers={"Authorization": "Basic x"}).status_code == 401


# ----- admin pages (issue 4) -----------------------------------------------------------------------


def _admin_urls(world) -> list[str]:
    from sqlalchemy import select

    from tracker.db import make_engine
    from tracker.users import User

    e = make_engine(world["url"])
    with e.connect() as conn:
        uid = conn.execute(select(User.id).where(User.username == "reception")).scalar_one()
    e.dispose()
    return ["/admin", "/admin/users/new", f"/admin/users/{uid}", f"/admin/units/{DEPT}", "/admin/calendar"]


@pytest.mark.parametrize("persona", [None, *PERSONAS])
def test_admin_pages_are_for_admins_only(client_for, world, persona):
    """Every admin GET and POST: 403 for every other persona (with a valid CSRF token, so the role
    check is what refuses), the login page for nobody logged in; nothing changes."""
    from tests.web.conftest import csrf
    from tracker.users import list_users

    c = client_for(persona)
    urls = _admin_urls(world)
    for path in urls:
        got = c.get(path).status_code
        assert got == {None: 302, "admin": 200}.get(persona, 403), (persona, path, got)
    if persona == "admin":
        return  # the admin's POSTs change the shared world: tests/web/test_admin.py covers them
    token = csrf(c)
    posts = {"/admin/users/new": {"username": "intruder", "role": "admin", "password": "x" * 12,
                                  "password2": "x" * 12},
             urls[2]: {"role": "admin", "active": "1"},
             urls[2] + "/password": {"password": "x" * 12, "password2": "x" * 12},
             urls[3]: {"name": "Hacked", "recipients": "evil@example.com"},
             urls[4]: {"day": "2027-03-02", "kind": "off", "reference": "forged"},
             urls[4] + "/2027-03-02/delete": {}}
    for path, data in posts.items():
        got = c.post(path, data={"csrf_token": token, **data}).status_code
        assert got == (302 if persona is None else 403), (persona, path, got)
    from tracker.db import make_engine

    e = make_engine(world["url"])
    try:
        roles = {u["username"]: u["role"] for u in list_users(e)}
    finally:
        e.dispose()
    assert "intruder" not in roles and roles["reception"] == "reception"
    from tracker.calendar_days import entered_days

    e = make_engine(world["url"])
    try:
        assert entered_days(e) == []
    finally:
        e.dispose()
