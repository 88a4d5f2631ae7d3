"""Sessions end on the server, and API tokens expire and can be revoked (SQLite and PostgreSQL).

A session carries the user's session generation from login; logging out, a password reset,
deactivation and a change of role or units raise it, so a copied cookie dies with them and
reactivating an account revives nothing. Tokens: an expiry, a name, the last use, `tthc users
tokens|revoke`, the admin page; a password reset or deactivation revokes them."""

from __future__ import annotations

import argparse
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from cli.common import CliError
from cli.users import add_commands
from tests.web import test_admin
from tests.web.test_admin import NEW_PASSWORD, NOW, login, post
from tracker.users import ApiToken, create_token, list_tokens, set_active, user_for_token

office = test_admin.office  # the fixture: three units, an admin, a reception officer, a unit head


def copy_of(app, client):  # noqa: ANN001, ANN201
    """Another browser holding a copy of `client`'s session cookie."""
    thief = app.test_client()
    thief.set_cookie("session", client.get_cookie("session").value)
    return thief


def test_a_copied_cookie_dies_at_logout(office):
    app, _ = office
    lan = login(app, "lan")
    thief = copy_of(app, lan)
    assert thief.get("/").status_code == 200  # the copy works while the session lives
    other_device = login(app, "lan")
    assert post(lan, "/logout").status_code == 302
    assert thief.get("/").status_code == 302 and "/login" in thief.get("/").headers["Location"]
    assert other_device.get("/").status_code == 302  # logging out ends every session of the user
    assert login(app, "lan").get("/").status_code == 200  # and a new login works


def test_reactivating_a_user_revives_none_of_their_sessions(office, engine):
    app, ids = office
    lan = login(app, "lan")
    thief = copy_of(app, lan)
    assert set_active(engine, "lan", False) and set_active(engine, "lan", True)
    assert lan.get("/").status_code == 302 and thief.get("/").status_code == 302
    admin = login(app, "root")
    lan = login(app, "lan")
    post(admin, f"/admin/users/{ids['lan']}", display_name="Lan", role="reception", units=["U2"])  # off
    post(admin, f"/admin/users/{ids['lan']}", display_name="Lan", role="reception", units=["U2"], active="1")
    assert lan.get("/").status_code == 302


def test_a_password_reset_ends_sessions_through_the_same_generation(office, engine):
    from tracker.users import User

    app, ids = office
    lan = login(app, "lan")
    with engine.connect() as conn:
        before = conn.execute(select(User.session_generation).where(User.id == ids["lan"])).scalar_one()
    post(login(app, "root"), f"/admin/users/{ids['lan']}/password", password=NEW_PASSWORD, password2=NEW_PASSWORD)
    with engine.connect() as conn:
        assert conn.execute(select(User.session_generation).where(User.id == ids["lan"])).scalar_one() == before + 1
    assert lan.get("/").status_code == 302


def test_a_session_from_before_generations_is_logged_out(office):
    app, ids = office
    c = app.test_client()
    with c.session_transaction() as s:  # what a cookie signed before the upgrade carries: id.password-stamp
        s["_user_id"] = f"{ids['lan']}.0123456789abcdef"
        s["_fresh"] = True
    assert c.get("/").status_code == 302


# ----- tokens --------------------------------------------------------------------------------------


def api(app, token: str):  # noqa: ANN001, ANN201
    return app.test_client().get("/api/v1/overdue", headers={"Authorization": f"Bearer {token}"})


def test_a_token_expires(office, engine):
    app, ids = office
    token = create_token(engine, ids["head"], "báo cáo tuần", days=3, now=NOW - timedelta(days=2))
    assert api(app, token).status_code == 200
    (row,) = list_tokens(engine, ids["head"])
    assert row["name"] == "báo cáo tuần" and row["last_used_at"] == NOW
    assert row["expires_at"] == NOW + timedelta(days=1)
    assert user_for_token(engine, token, now=NOW + timedelta(days=1)) is None
    old = create_token(engine, ids["head"], days=1, now=NOW - timedelta(days=1, seconds=1))
    resp = api(app, old)
    assert resp.status_code == 401 and resp.json == {"error": "invalid token"}


def test_a_password_reset_or_deactivation_revokes_tokens(office, engine):
    app, ids = office
    admin = login(app, "root")
    lan_token, head_token = create_token(engine, ids["lan"]), create_token(engine, ids["head"])
    assert api(app, lan_token).status_code == 200 and api(app, head_token).status_code == 200
    post(admin, f"/admin/users/{ids['lan']}/password", password=NEW_PASSWORD, password2=NEW_PASSWORD)
    assert api(app, lan_token).status_code == 401
    post(admin, f"/admin/users/{ids['head']}", display_name="Head", role="unit_head", units=["U1"])  # off
    post(admin, f"/admin/users/{ids['head']}", display_name="Head", role="unit_head", units=["U1"], active="1")
    assert api(app, head_token).status_code == 401  # reactivated: the token stays revoked
    assert {t["revoked_at"] is not None for t in list_tokens(engine)} == {True}


def test_the_admin_page_lists_and_revokes_tokens(office, engine):
    app, ids = office
    token = create_token(engine, ids["head"], "Power BI")
    admin = login(app, "root")
    page = admin.get("/admin/tokens")
    assert page.status_code == 200 and "Power BI" in page.text and "head" in page.text
    assert token not in page.text
    (row,) = list_tokens(engine)
    assert post(admin, f"/admin/tokens/{row['id']}/revoke").status_code == 302
    assert api(app, token).status_code == 401
    assert "Đã thu hồi" in admin.get("/admin/tokens").text
    assert "Thu hồi mã API" in admin.get("/admin").text  # in the change log
    assert login(app, "lan").get("/admin/tokens").status_code == 403
    assert login(app, "lan").post(f"/admin/tokens/{row['id']}/revoke").status_code in (400, 403)


def run(settings, *argv: str) -> int:  # noqa: ANN001
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="command", required=True)
    add_commands(sub)
    args = p.parse_args(argv)
    return args.func(args, settings)


def test_tokens_from_the_command_line(office, settings, engine, capsys):
    app, ids = office
    assert run(settings, "users", "token", "head", "--name", "nightly export", "--days", "7") == 0
    token = capsys.readouterr().out.strip()
    assert api(app, token).status_code == 200
    (row,) = list_tokens(engine)
    assert row["expires_at"] - row["created_at"] == timedelta(days=7)
    run(settings, "users", "token", "head")
    capsys.readouterr()
    with engine.connect() as conn:
        default = conn.execute(select(ApiToken).order_by(ApiToken.id.desc())).mappings().first()
    assert default["expires_at"] - default["created_at"] == timedelta(days=90)  # web.api_token_days
    assert run(settings, "users", "tokens", "head") == 0
    listing = capsys.readouterr().out
    assert f"{row['id']}\tnightly export\t" in listing and "active" in listing and token not in listing
    assert run(settings, "users", "revoke", str(row["id"])) == 0
    assert api(app, token).status_code == 401
    run(settings, "users", "tokens", "head")
    assert "revoked" in capsys.readouterr().out
    with pytest.raises(CliError, match=f"token {row['id']}: not found or already revoked"):
        run(settings, "users", "revoke", str(row["id"]))
    with pytest.raises(SystemExit):
        run(settings, "users", "token", "head", "--days", "0")
    with engine.begin() as conn:  # revoked rows stay listed; expiry is judged on the clock
        conn.execute(update(ApiToken).where(ApiToken.id == default["id"]).values(expires_at=NOW))
    run(settings, "users", "tokens", "head")
    assert "expired" in capsys.readouterr().out
