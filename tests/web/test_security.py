"""Sessions, CSRF, throttling, headers, upload limits, exports and personal data."""

from __future__ import annotations

import io
import re

from openpyxl import load_workbook
from sqlalchemy import update

from tests.web.conftest import PASSWORD, csrf
from tracker.db import make_engine
from tracker.models import Dossier


def test_login_needs_csrf_and_sets_a_safe_cookie(app):
    c = app.test_client()
    assert c.post("/login", data={"username": "admin", "password": PASSWORD}).status_code == 400
    resp = c.post("/login", data={"username": "admin", "password": PASSWORD, "csrf_token": csrf(c)})
    assert resp.status_code == 302
    cookie = resp.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie
    assert c.post("/logout").status_code == 400  # no token: refused
    assert c.get("/").status_code == 200


def test_cookie_is_secure_over_https(app):
    c = app.test_client()
    token = csrf(c)
    resp = c.post("/login", data={"username": "admin", "password": PASSWORD, "csrf_token": token},
                  base_url="https://localhost", headers={"Referer": "https://localhost/login"})
    assert resp.status_code == 302
    assert "Secure" in resp.headers["Set-Cookie"]
    assert "Strict-Transport-Security" in resp.headers


def test_login_is_throttled_per_username_and_address(client_for, app):
    client_for(None)  # clears the counter
    c = app.test_client()
    token = csrf(c)
    for _ in range(5):
        assert c.post("/login", data={"username": "cchc", "password": "wrong", "csrf_token": token}).status_code == 401
    resp = c.post("/login", data={"username": "cchc", "password": PASSWORD, "csrf_token": token})
    assert resp.status_code == 429  # even the right password waits out the window
    other = c.post("/login", data={"username": "admin", "password": PASSWORD, "csrf_token": token})
    assert other.status_code == 302


def test_open_redirects_are_refused(app):
    c = app.test_client()
    resp = c.post("/login?next=https://evil.example/", data={"username": "admin", "password": PASSWORD,
                                                             "csrf_token": csrf(c)})
    assert resp.headers["Location"] == "/"


def test_security_headers_and_no_inline_script(client_for):
    c = client_for("admin")
    for path in ("/", "/overdue", "/calendar", "/admin", "/login"):
        resp = c.get(path)
        csp = resp.headers["Content-Security-Policy"]
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp
        assert resp.headers["X-Frame-Options"] == "DENY"
        assert resp.headers["X-Content-Type-Options"] == "nosniff"
        assert "<script" not in resp.text and " style=" not in resp.text and " on" + "click" not in resp.text
        assert not re.search(r'(src|href)="(https?:)?//', resp.text)  # nothing fetched from elsewhere (no CDN)


def test_upload_is_limited_in_size_and_role(client_for, app):
    c = client_for("cchc")
    token = csrf(c)
    body = b"--b\r\nContent-Disposition: form-data; name=\"csrf_token\"\r\n\r\n" + token.encode() + b"\r\n"
    body += b"x" * (app.config["MAX_CONTENT_LENGTH"] + 1)
    resp = c.post("/imports", data=body, content_type="multipart/form-data; boundary=b")
    assert resp.status_code == 413
    head = client_for("head")
    resp = head.post("/imports", data={"csrf_token": csrf(head), "file": (io.BytesIO(b"a"), "a.csv")},
                     content_type="multipart/form-data")
    assert resp.status_code == 403


def _desk_overdue_code(c) -> str:
    html = c.get("/overdue?how_late=overdue").text
    return re.search(r'href="/dossier/([^"]+)"', html).group(1)


def test_personal_data_masked_for_roles_that_do_not_need_it(client_for, world):
    reception, cchc = client_for("reception"), client_for("cchc")
    code = _desk_overdue_code(reception)
    engine = make_engine(world["url"])
    with engine.begin() as conn:
        conn.execute(update(Dossier).where(Dossier.code == code)
                     .values(applicant_name="Nguyễn Văn An", applicant_phone="0912345678"))
    engine.dispose()
    assert "Nguyễn Văn An" in reception.get(f"/dossier/{code}").text
    page = cchc.get(f"/dossier/{code}").text
    assert "Nguyễn Văn An" not in page and "Nguyễn V*** A**" in page and "09******78" in page
    assert "0912345678" not in cchc.get(f"/overdue.csv?q={code}").text
    assert "0912345678" in reception.get(f"/overdue.csv?q={code}").text


def test_exported_cells_are_neutralised_and_match_the_screen(client_for, world):
    c = client_for("reception")
    code = _desk_overdue_code(c)
    engine = make_engine(world["url"])
    with engine.begin() as conn:
        conn.execute(update(Dossier).where(Dossier.code == code).values(applicant_name="=HYPERLINK(\"x\")"))
    engine.dispose()
    args = f"unit={code.rsplit('-', 2)[0]}&how_late=overdue"
    screen = re.findall(r'href="/dossier/([^"]+)"', c.get(f"/overdue?{args}").text)
    csv_text = c.get(f"/overdue.csv?{args}").text
    assert "'=HYPERLINK" in csv_text
    assert [line.split(",")[0] for line in csv_text.lstrip("\ufeff").splitlines()[1:]] == screen
    wb = load_workbook(io.BytesIO(c.get(f"/overdue.xlsx?{args}").data))
    cells = [row[0].value for row in wb.active.iter_rows(min_row=2)]
    assert cells == screen
    assert any(str(v).startswith("'=") for row in wb.active.iter_rows(min_row=2, values_only=True) for v in row)


def test_language_switch(client_for):
    c = client_for("admin")
    assert "Tổng quan" in c.get("/").text
    c.post("/lang", data={"lang": "en", "next": "/overdue", "csrf_token": csrf(c)})
    html = c.get("/").text
    assert "Overview" in html and 'lang="en"' in html
    c.post("/lang", data={"lang": "vi", "next": "/", "csrf_token": csrf(c)})
    assert "Tổng quan" in c.get("/").text

