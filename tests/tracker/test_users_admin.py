"""tracker.users as the admin pages and `tthc users add` use it: guards, unit edits and the admin log,
on SQLite and PostgreSQL."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import select

from tracker.ingest import import_units
from tracker.models import Unit
from tracker.users import (
    AdminEvent,
    RecipientsError,
    User,
    UserError,
    authenticate,
    create_user,
    list_users,
    parse_recipients,
    recent_events,
    set_active,
    set_password,
    update_unit,
    update_user,
)

PASSWORD = "mật khẩu đủ dài"


@pytest.fixture
def units(engine, tmp_path):
    path = tmp_path / "units.csv"
    path.write_text("Mã đơn vị;Tên đơn vị;Mã đơn vị cha;Cấp;Email nhận báo cáo\n"
                    "U1;Sở A;;tinh;so-a@example.vn\nU2;UBND xã B;U1;xa;\nU3;UBND xã C;U1;xa;\n", encoding="utf-8")
    import_units(engine, path)
    return engine


def _reason(call) -> str:  # noqa: ANN001
    with pytest.raises(UserError) as info:
        call()
    return info.value.reason


def test_create_user_guards(units):
    e = units
    create_user(e, "lan", "reception", PASSWORD, unit_codes=["U2"], display_name="Lan")
    assert _reason(lambda: create_user(e, "LAN", "cchc", PASSWORD)) == "username_taken"  # ignoring case
    assert _reason(lambda: create_user(e, "a b", "cchc", PASSWORD)) == "username_invalid"
    assert _reason(lambda: create_user(e, "  ", "cchc", PASSWORD)) == "username_empty"
    assert _reason(lambda: create_user(e, "x", "boss", PASSWORD)) == "role"
    assert _reason(lambda: create_user(e, "x", "unit_head", PASSWORD)) == "units_required"
    assert _reason(lambda: create_user(e, "x", "reception", PASSWORD, unit_codes=[" "])) == "units_required"
    assert _reason(lambda: create_user(e, "x", "cchc", PASSWORD, unit_codes=["U1"])) == "units_not_applicable"
    assert _reason(lambda: create_user(e, "x", "unit_head", PASSWORD, unit_codes=["NOPE"])) == "unit_not_found"
    assert _reason(lambda: create_user(e, "x", "cchc", "1234567")) == "password_short"
    assert _reason(lambda: create_user(e, "x", "cchc", PASSWORD, display_name="n" * 201)) == "display_name_long"
    assert [u["username"] for u in list_users(e)] == ["lan"]  # nothing half-written
    assert recent_events(e) == []  # the CLI's path (no actor) writes no admin event


def test_create_user_with_an_actor_is_logged_without_the_password(units):
    create_user(units, "head", "unit_head", PASSWORD, unit_codes=["U1", "U1"], actor="root")
    [event] = recent_events(units)
    assert (event["actor"], event["action"], event["target"]) == ("root", "user_added", "head")
    assert event["detail"] == {"role": "unit_head", "units": ["U1"]}
    with units.connect() as conn:
        raw = conn.execute(select(AdminEvent.detail)).scalar_one()
    assert PASSWORD not in raw


def test_update_user_changes_role_units_active_and_logs_what_changed(units):
    e = units
    root = create_user(e, "root", "admin", PASSWORD)
    lan = create_user(e, "lan", "reception", PASSWORD, unit_codes=["U2"], display_name="Lan")
    changes = update_user(e, lan, role="unit_head", unit_codes=["U1"], active=False, display_name="Nguyễn Thị Lan",
                          actor_id=root, actor="root")
    assert changes == {"role": ["reception", "unit_head"], "units": [["U2"], ["U1"]], "active": [True, False],
                       "display_name": True}
    row = {u["username"]: u for u in list_users(e)}["lan"]
    assert (row["role"], row["units"], row["active"], row["display_name"]) == ("unit_head", ["U1"], False,
                                                                               "Nguyễn Thị Lan")
    [event] = recent_events(e)
    assert event["action"] == "user_changed" and "Nguyễn" not in str(event["detail"])  # that it changed, not who
    assert update_user(e, lan, role="unit_head", unit_codes=["U1"], active=False, display_name="Nguyễn Thị Lan",
                       actor_id=root, actor="root") == {}
    assert len(recent_events(e)) == 1  # no change, no event
    assert _reason(lambda: update_user(e, lan, role="reception", unit_codes=[], active=True, display_name="",
                                       actor_id=root, actor="root")) == "units_required"
    assert _reason(lambda: update_user(e, 9999, role="cchc", unit_codes=[], active=True, display_name="",
                                       actor_id=root, actor="root")) == "user_not_found"


def test_an_admin_cannot_demote_or_deactivate_themself(units):
    root = create_user(units, "root", "admin", PASSWORD)
    create_user(units, "other", "admin", PASSWORD)
    for role, active in (("cchc", True), ("admin", False)):
        assert _reason(lambda r=role, a=active: update_user(units, root, role=r, unit_codes=[], active=a,
                                                              display_name="", actor_id=root, actor="root")
                       ) == "self_demote"
    assert update_user(units, root, role="admin", unit_codes=[], active=True, display_name="Root",
                       actor_id=root, actor="root") == {"display_name": True}


def test_the_last_active_admin_stays(units):
    a = create_user(units, "a", "admin", PASSWORD)
    b = create_user(units, "b", "admin", PASSWORD)
    update_user(units, b, role="cchc", unit_codes=[], active=True, display_name="", actor_id=a, actor="a")
    assert _reason(lambda: set_active(units, "a", False)) == "last_admin"
    # an actor that is not the target (here b, since demoted): the guard still holds
    assert _reason(lambda: update_user(units, a, role="cchc", unit_codes=[], active=True, display_name="",
                                       actor_id=b, actor="b")) == "last_admin"
    assert {u["username"]: (u["role"], u["active"]) for u in list_users(units)} == {
        "a": ("admin", True), "b": ("cchc", True)}
    assert set_active(units, "b", False) is True  # not an admin: no guard
    assert set_active(units, "ghost", False) is False


def test_two_admins_demoting_each_other_at_once_leave_one(units):
    """Each change is allowed alone; together they would leave no admin. Exactly one wins."""
    for attempt in range(5):
        a = create_user(units, f"a{attempt}", "admin", PASSWORD)
        b = create_user(units, f"b{attempt}", "admin", PASSWORD)
        with units.begin() as conn:  # only these two are admins
            conn.execute(User.__table__.update().where(User.id.not_in([a, b])).values(active=False))
        barrier = threading.Barrier(2)
        outcomes: list[str] = []
        threads = [threading.Thread(target=_demote, args=(units, a, b, barrier, outcomes)),
                   threading.Thread(target=_demote, args=(units, b, a, barrier, outcomes))]
        for th in threads:
            th.start()
        for th in threads:
            th.join(60)
        assert sorted(outcomes) == ["last_admin", "ok"], outcomes
        admins = [u for u in list_users(units) if u["role"] == "admin" and u["active"]]
        assert len(admins) == 1


def _demote(engine, target: int, actor: int, barrier: threading.Barrier, outcomes: list[str]) -> None:  # noqa: ANN001
    barrier.wait()
    try:
        update_user(engine, target, role="cchc", unit_codes=[], active=True, display_name="", actor_id=actor,
                    actor="x")
        outcomes.append("ok")
    except UserError as exc:
        outcomes.append(exc.reason)


def test_set_password_replaces_the_hash_and_is_logged(units):
    root = create_user(units, "root", "admin", PASSWORD)
    lan = create_user(units, "lan", "cchc", PASSWORD)
    assert _reason(lambda: set_password(units, lan, "short", actor="root")) == "password_short"
    set_password(units, lan, "một mật khẩu mới", actor="root")
    assert authenticate(units, "lan", PASSWORD) is None
    assert authenticate(units, "lan", "một mật khẩu mới")["id"] == lan
    [event] = recent_events(units)
    assert (event["action"], event["target"], event["detail"]) == ("password_reset", "lan", {})
    assert _reason(lambda: set_password(units, 9999, PASSWORD, actor="root")) == "user_not_found"
    assert root


def test_parse_recipients_names_every_bad_address():
    assert parse_recipients(" a@x.vn; b@sub.x.vn ,A@x.vn\n") == ["a@x.vn", "b@sub.x.vn"]
    assert parse_recipients("") == []
    with pytest.raises(RecipientsError) as info:
        parse_recipients("ok@x.vn, bad, also@bad, x@y.vn, <z@x.vn>")
    assert info.value.bad == ["bad", "also@bad", "<z@x.vn>"]
    assert "'bad'" in str(info.value) and "'also@bad'" in str(info.value)


def test_update_unit_name_and_recipients(units):
    changes = update_unit(units, "U2", name="  UBND  xã B mới ", recipients="a@x.vn;b@x.vn", actor="root")
    assert changes == {"name": ["UBND xã B", "UBND xã B mới"], "recipients": [0, 2]}
    with units.connect() as conn:
        row = conn.execute(select(Unit.name, Unit.name_key, Unit.digest_recipients).where(Unit.code == "U2")).one()
    assert row.name == "UBND xã B mới" and row.digest_recipients == "a@x.vn, b@x.vn"
    assert row.name_key == "ubnd xa b"  # exports still name the unit as imported
    [event] = recent_events(units)
    assert (event["action"], event["target"]) == ("unit_changed", "U2")
    assert "a@x.vn" not in str(event["detail"])  # how many, not who
    assert update_unit(units, "U2", name="UBND xã B mới", recipients="a@x.vn, b@x.vn", actor="root") == {}
    with pytest.raises(RecipientsError):
        update_unit(units, "U2", name="X", recipients="a@x.vn, nope", actor="root")
    assert _reason(lambda: update_unit(units, "U2", name=" ", recipients="", actor="root")) == "unit_name_empty"
    assert _reason(lambda: update_unit(units, "U2", name="n" * 501, recipients="", actor="root")) == "unit_name_long"
    assert _reason(lambda: update_unit(units, "NOPE", name="X", recipients="", actor="root")) == "unit_not_found"
    with units.connect() as conn:
        assert conn.execute(select(Unit.name).where(Unit.code == "U2")).scalar_one() == "UBND xã B mới"
