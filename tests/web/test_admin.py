"""The admin pages on SQLite and PostgreSQL: users (add, edit, reset a password), units (name,
digest recipients), the change log; each change reaches the affected user at their next request."""

from __future__ import annotations

import re
from datetime import datetime

import pytest
from sqlalchemy import select

from tests.web.conftest import csrf
from tracker.ingest import import_units
from tracker.models import Unit
from tracker.users import AdminEvent, User, create_user, list_users

NOW = datetime(2026, 11, 20, 10, 0)
PASSWORD = "correct horse battery"
NEW_PASSWORD = "một mật khẩu mới hơn"


@pytest.fixture
def office(settings, engine, tmp_path):
    """Three units, an admin (root), a reception officer (lan, U2) and a unit head (head, U1)."""
    from web import create_app

    path = tmp_path / "units.csv"
    path.write_text("Mã đơn vị;Tên đơn vị;Mã đơn vị cha;Cấp\nU1;Sở A;;tinh\nU2;UBND xã B;U1;xa\nU3;UBND xã C;;xa\n",
                    encoding="utf-8")
    import_units(engine, path)
    ids = {"root": create_user(engine, "root", "admin", PASSWORD),
           "lan": create_user(engine, "lan", "reception", PASSWORD, unit_codes=["U2"], display_name="Lan"),
           "head": create_user(engine, "head", "unit_head", PASSWORD, unit_codes=["U1"])}
    app = create_app(settings, testing=True, now=lambda: NOW)
    yield app, ids
    app.extensions["tthc_engine"].dispose()


def login(app, username: str, password: str = PASSWORD):  # noqa: ANN201
    c = app.test_client()
    resp = c.post("/login", data={"username": username, "password": password, "csrf_token": csrf(c)})
    assert resp.status_code == 302, resp.text
    return c


def post(c, path: str, **data):  # noqa: ANN001, ANN201
    return c.post(path, data={"csrf_token": csrf(c), **data})


def errors(html: str) -> list[str]:
    block = re.search(r'<ul class="error" id="(?:form|password)-errors">(.*?)</ul>', html, re.S)
    return re.findall(r"<li>(.*?)</li>", block.group(1)) if block else []


def users(engine) -> dict[str, dict]:  # noqa: ANN001
    return {u["username"]: u for u in list_users(engine)}


def test_admin_page_lists_users_units_settings_and_the_log(office, engine):
    app, _ = office
    c = login(app, "root")
    html = c.get("/admin").text
    assert 'id="users-table"' in html and "lan" in html and "Cán bộ Một cửa" in html
    assert 'href="/admin/units/U2"' in html and "Sở A" in html  # U2's parent shown
    assert "tthc units import" in html
    assert "Chưa có thay đổi nào." in html
    assert "database.url" in html  # the read-only settings stay


def test_add_a_user_through_the_form(office, engine):
    app, _ = office
    c = login(app, "root")
    assert c.get("/admin/users/new").status_code == 200
    resp = post(c, "/admin/users/new", username="mai", display_name="Mai", role="reception", units=["U2", "U3"],
                password=NEW_PASSWORD, password2=NEW_PASSWORD)
    assert resp.status_code == 302 and resp.headers["Location"] == "/admin"
    mai = users(engine)["mai"]
    assert (mai["role"], mai["units"], mai["active"]) == ("reception", ["U2", "U3"], True)
    with engine.connect() as conn:
        stored = conn.execute(select(User.password_hash).where(User.username == "mai")).scalar_one()
    assert NEW_PASSWORD not in stored
    html = c.get("/admin").text
    assert "Đã thêm người dùng mai." in html and "Thêm người dùng" in html  # the flash and the log
    assert NEW_PASSWORD not in html
    login(app, "mai", NEW_PASSWORD)
    # units selected for a role that sees every unit are not an error: they do not apply
    resp = post(c, "/admin/users/new", username="cc", role="cchc", units=["U2"], password=NEW_PASSWORD,
                password2=NEW_PASSWORD)
    assert resp.status_code == 302 and users(engine)["cc"]["units"] == []


@pytest.mark.parametrize("form,message", [
    ({"username": "LAN"}, "Tên đăng nhập &#39;LAN&#39; đã được dùng."),
    ({"username": "a b"}, "Tên đăng nhập &#39;a b&#39;: chỉ gồm chữ, số"),
    ({"username": ""}, "Chưa nhập tên đăng nhập."),
    ({"role": "unit_head", "units": []}, "cần ít nhất một đơn vị"),
    ({"units": ["NOPE"]}, "Không có đơn vị mã &#39;NOPE&#39;."),
    ({"password": "short", "password2": "short"}, "Mật khẩu cần ít nhất 8 ký tự."),
    ({"password2": "something else"}, "Hai lần nhập mật khẩu không khớp."),
    ({"role": "superuser"}, "Vai trò &#39;superuser&#39; không hợp lệ."),
])
def test_add_user_refusals_are_clear_and_keep_the_form(office, engine, form, message):
    app, _ = office
    c = login(app, "root")
    data = {"username": "mai", "display_name": "Mai <b>", "role": "reception", "units": ["U2"],
            "password": NEW_PASSWORD, "password2": NEW_PASSWORD, **form}
    resp = post(c, "/admin/users/new", **data)
    assert resp.status_code == 400
    assert any(message in e for e in errors(resp.text)), errors(resp.text)
    assert 'value="Mai &lt;b&gt;"' in resp.text  # kept, escaped
    assert NEW_PASSWORD not in resp.text  # passwords are never echoed back
    assert set(users(engine)) == {"root", "lan", "head"}


def test_messages_follow_the_language(office):
    app, _ = office
    c = login(app, "root")
    post(c, "/lang", lang="en")
    resp = post(c, "/admin/users/new", username="x", role="unit_head", password=NEW_PASSWORD,
                password2=NEW_PASSWORD)
    assert errors(resp.text) == ["A unit head or reception officer needs at least one unit."]


def test_role_and_units_apply_at_the_users_next_request(office, engine):
    app, ids = office
    admin = login(app, "root")
    lan = login(app, "lan")
    assert lan.get("/unit/U3").status_code == 404 and lan.get("/imports").status_code == 403
    resp = post(admin, f"/admin/users/{ids['lan']}", display_name="Lan", role="reception", units=["U2", "U3"],
                active="1")
    assert resp.status_code == 302
    assert lan.get("/unit/U3").status_code == 302  # the session granted at login is over
    lan = login(app, "lan")
    assert lan.get("/unit/U3").status_code == 200
    post(admin, f"/admin/users/{ids['lan']}", display_name="Lan", role="cchc", active="1")
    assert lan.get("/imports").status_code == 302
    assert login(app, "lan").get("/imports").status_code == 200
    post(admin, f"/admin/users/{ids['lan']}", display_name="Lan Nguyễn", role="cchc", active="1")
    assert admin.get("/").status_code == 200  # a new display name ends nothing
    events = [e for e in admin.get("/admin").text.split('id="events-table"')[1].split("</table>")[0].split("<tr>")]
    assert any("Sửa người dùng" in e and "Cán bộ Một cửa → Cán bộ CCHC" in e for e in events)


def test_a_deactivated_user_is_logged_out(office, engine):
    app, ids = office
    admin = login(app, "root")
    lan = login(app, "lan")
    assert lan.get("/").status_code == 200
    assert post(admin, f"/admin/users/{ids['lan']}", display_name="Lan", role="reception", units=["U2"]
                ).status_code == 302  # no `active`: the box unticked
    assert users(engine)["lan"]["active"] is False
    resp = lan.get("/")
    assert resp.status_code == 302 and "/login" in resp.headers["Location"]
    c = app.test_client()
    assert c.post("/login", data={"username": "lan", "password": PASSWORD, "csrf_token": csrf(c)}).status_code == 401


def test_a_password_reset_ends_the_users_sessions(office, engine):
    app, ids = office
    admin = login(app, "root")
    lan = login(app, "lan")
    resp = post(admin, f"/admin/users/{ids['lan']}/password", password="short", password2="short")
    assert resp.status_code == 400 and errors(resp.text) == ["Mật khẩu cần ít nhất 8 ký tự."]
    resp = post(admin, f"/admin/users/{ids['lan']}/password", password=NEW_PASSWORD, password2=NEW_PASSWORD + "x")
    assert resp.status_code == 400 and errors(resp.text) == ["Hai lần nhập mật khẩu không khớp."]
    assert lan.get("/").status_code == 200  # refused resets changed nothing
    resp = post(admin, f"/admin/users/{ids['lan']}/password", password=NEW_PASSWORD, password2=NEW_PASSWORD)
    assert resp.status_code == 302
    assert lan.get("/").status_code == 302  # the old session is over
    c = app.test_client()
    assert c.post("/login", data={"username": "lan", "password": PASSWORD, "csrf_token": csrf(c)}).status_code == 401
    login(app, "lan", NEW_PASSWORD)
    assert admin.get("/").status_code == 200  # the admin's own session is untouched
    resp = post(admin, f"/admin/users/{ids['root']}/password", password=NEW_PASSWORD, password2=NEW_PASSWORD)
    assert resp.status_code == 302 and admin.get("/admin").status_code == 200  # still in, after their own reset
    login(app, "root", NEW_PASSWORD)
    with engine.connect() as conn:
        actions = conn.execute(select(AdminEvent.action, AdminEvent.detail)).all()
    assert [a.action for a in actions] == ["password_reset"] * 2 and NEW_PASSWORD not in str(actions)


def test_an_admin_cannot_demote_or_deactivate_themself(office, engine):
    app, ids = office
    admin = login(app, "root")
    resp = post(admin, f"/admin/users/{ids['root']}", role="cchc", active="1")
    assert resp.status_code == 400
    assert errors(resp.text) == ["Bạn không thể tự hạ vai trò hay tự ngừng hoạt động tài khoản của mình."]
    resp = post(admin, f"/admin/users/{ids['root']}", role="admin")
    assert resp.status_code == 400
    assert users(engine)["root"]["role"] == "admin" and users(engine)["root"]["active"]
    assert admin.get("/admin").status_code == 200


def test_unknown_user_or_unit_is_404(office):
    app, _ = office
    admin = login(app, "root")
    assert admin.get("/admin/users/9999").status_code == 404
    assert post(admin, "/admin/users/9999", role="cchc", active="1").status_code == 404
    assert post(admin, "/admin/users/9999/password", password=NEW_PASSWORD, password2=NEW_PASSWORD).status_code == 404
    assert admin.get("/admin/units/NOPE").status_code == 404
    assert post(admin, "/admin/units/NOPE", name="X").status_code == 404


def test_edit_a_units_name_and_recipients(office, engine):
    app, _ = office
    admin = login(app, "root")
    page = admin.get("/admin/units/U2").text
    assert "UBND xã B" in page and "Sở A" in page and "xa" in page  # name, parent, level
    resp = post(admin, "/admin/units/U2", name="UBND xã B", recipients="ok@x.vn; bad, <x@y.vn>")
    assert resp.status_code == 400
    assert errors(resp.text) == ["&#39;bad&#39; không phải địa chỉ email hợp lệ.",
                                 "&#39;&lt;x@y.vn&gt;&#39; không phải địa chỉ email hợp lệ."]
    assert "ok@x.vn; bad, &lt;x@y.vn&gt;</textarea>" in resp.text  # kept to fix
    resp = post(admin, "/admin/units/U2", name="UBND xã Bình", recipients="a@x.vn;b@x.vn")
    assert resp.status_code == 302
    with engine.connect() as conn:
        row = conn.execute(select(Unit.name, Unit.digest_recipients).where(Unit.code == "U2")).one()
    assert tuple(row) == ("UBND xã Bình", "a@x.vn, b@x.vn")
    assert "UBND xã Bình" in admin.get("/units").text  # the unit tree is read again at once
    log = admin.get("/admin").text.split('id="events-table"')[1]
    assert "Sửa đơn vị" in log and "UBND xã B → UBND xã Bình" in log and "0 → 2" in log
    assert "a@x.vn" not in log


def test_admin_forms_need_the_csrf_token(office, engine):
    app, ids = office
    admin = login(app, "root")
    assert admin.post("/admin/users/new", data={"username": "x", "role": "cchc", "password": NEW_PASSWORD,
                                                "password2": NEW_PASSWORD}).status_code == 400
    assert admin.post(f"/admin/users/{ids['lan']}", data={"role": "cchc", "active": "1"}).status_code == 400
    assert admin.post(f"/admin/users/{ids['lan']}/password", data={"password": NEW_PASSWORD,
                                                                    "password2": NEW_PASSWORD}).status_code == 400
    assert admin.post("/admin/units/U2", data={"name": "X"}).status_code == 400
    assert set(users(engine)) == {"root", "lan", "head"} and users(engine)["lan"]["role"] == "reception"


def test_other_roles_get_403_and_change_nothing(office, engine):
    app, ids = office
    for name in ("lan", "head"):
        c = login(app, name)
        for path in ("/admin", "/admin/users/new", f"/admin/users/{ids['lan']}", "/admin/units/U2"):
            assert c.get(path).status_code == 403, (name, path)
        assert post(c, "/admin/users/new", username="x", role="admin", password=NEW_PASSWORD,
                    password2=NEW_PASSWORD).status_code == 403
        assert post(c, f"/admin/users/{ids[name]}", role="admin", active="1").status_code == 403
        assert post(c, f"/admin/users/{ids['root']}/password", password=NEW_PASSWORD,
                    password2=NEW_PASSWORD).status_code == 403
        assert post(c, "/admin/units/U2", name="X").status_code == 403
    assert set(users(engine)) == {"root", "lan", "head"}
    assert users(engine)["lan"]["role"] == "reception" and users(engine)["head"]["role"] == "unit_head"
    login(app, "root")  # password unchanged
