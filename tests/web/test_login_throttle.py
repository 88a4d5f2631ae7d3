"""The login throttle lives in the database: two app instances on one database (two gunicorn
workers, or the app before and after a restart) share it; the window passes on the app's clock."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select

from tests.web.conftest import csrf
from tracker.users import LoginAttempt, create_user
from web.auth import MAX_FAILURES, WINDOW

PASSWORD = "correct horse battery"
START = datetime(2026, 11, 20, 10, 0)


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def two_apps(settings, engine):
    """Two instances of the app on one database, on one clock the test moves."""
    from web import create_app

    create_user(engine, "lan", "cchc", PASSWORD)
    create_user(engine, "mai", "cchc", PASSWORD)
    clock = Clock()
    apps = [create_app(settings, testing=True, now=clock) for _ in range(2)]
    yield apps, clock
    for app in apps:
        app.extensions["tthc_engine"].dispose()


def attempt(app, username: str, password: str, ip: str = "10.0.0.1") -> int:  # noqa: ANN001
    c = app.test_client()
    c.environ_base["REMOTE_ADDR"] = ip
    return c.post("/login", data={"username": username, "password": password, "csrf_token": csrf(c)}).status_code


def rows(engine) -> int:  # noqa: ANN001
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(LoginAttempt)).scalar_one()


def test_failures_in_one_instance_lock_the_other(two_apps, engine):
    (first, second), _ = two_apps
    for _ in range(MAX_FAILURES - 1):
        assert attempt(first, "lan", "wrong") == 401
    assert attempt(second, "LAN", "wrong") == 401  # the fifth, counted together, whatever the case typed
    assert attempt(second, "lan", PASSWORD) == 429  # even the right password waits
    assert attempt(first, "lan", PASSWORD) == 429
    assert "Đăng nhập sai quá nhiều lần" in _page(second, "lan", PASSWORD)
    assert attempt(second, "lan", PASSWORD, ip="10.0.0.2") == 302  # per username and address
    assert attempt(second, "mai", PASSWORD) == 302
    assert rows(engine) == MAX_FAILURES  # refused attempts while locked are not written


def test_the_lock_survives_a_restart(settings, engine, two_apps):
    from web import create_app

    (first, _), clock = two_apps
    for _ in range(MAX_FAILURES):
        attempt(first, "lan", "wrong")
    restarted = create_app(settings, testing=True, now=clock)
    try:
        assert attempt(restarted, "lan", PASSWORD) == 429
    finally:
        restarted.extensions["tthc_engine"].dispose()


def test_the_window_passes_on_the_apps_clock(two_apps, engine):
    (first, second), clock = two_apps
    for minute in range(MAX_FAILURES):
        clock.now = START + timedelta(minutes=minute)
        assert attempt(first, "lan", "wrong") == 401
    # locked until the oldest counted failure (at START) leaves the window
    clock.now = START + timedelta(seconds=WINDOW - 1)
    assert attempt(second, "lan", PASSWORD) == 429
    clock.now = START + timedelta(seconds=WINDOW)
    assert attempt(second, "lan", "wrong") == 401  # one slot free again: refused for the password only
    assert attempt(second, "lan", PASSWORD) == 429  # ... and that failure filled it
    clock.now = START + timedelta(seconds=WINDOW, minutes=MAX_FAILURES - 1)
    assert attempt(first, "lan", PASSWORD) == 302  # one failure left in the window


def test_a_success_clears_the_failures(two_apps):
    (first, second), _ = two_apps
    for _ in range(MAX_FAILURES - 1):
        assert attempt(first, "lan", "wrong") == 401
    assert attempt(second, "lan", PASSWORD) == 302
    for _ in range(MAX_FAILURES - 1):
        assert attempt(first, "lan", "wrong") == 401
    assert attempt(first, "lan", PASSWORD) == 302


def test_old_rows_are_pruned(two_apps, engine):
    (first, _), clock = two_apps
    for ip in ("10.0.0.1", "10.0.0.2", "10.0.0.3"):
        attempt(first, "lan", "wrong", ip=ip)
    attempt(first, "mai", "wrong")
    assert rows(engine) == 4
    clock.now = START + timedelta(seconds=WINDOW + 1)
    attempt(first, "mai", "wrong")
    assert rows(engine) == 1  # only the new failure is left


def _page(app, username: str, password: str) -> str:  # noqa: ANN001
    c = app.test_client()
    c.environ_base["REMOTE_ADDR"] = "10.0.0.1"
    return c.post("/login", data={"username": username, "password": password, "csrf_token": csrf(c)}).text


def test_an_account_tried_from_many_addresses_is_refused_from_everywhere(two_apps, engine, caplog):
    """A password spray: each address stays under the pair's limit, the account does not."""
    from web.auth import MAX_ACCOUNT_FAILURES

    (first, second), clock = two_apps
    per_address = MAX_FAILURES - 1
    with engine.begin() as conn:  # what 25 addresses failing 4 times each leave behind
        conn.execute(LoginAttempt.__table__.insert(), [
            {"username": "lan", "ip": f"10.1.0.{i // per_address}", "attempted_at": START - timedelta(minutes=5)}
            for i in range(MAX_ACCOUNT_FAILURES - 1)])
    assert attempt(first, "lan", PASSWORD, ip="10.9.9.9") == 302  # one short of the ceiling
    assert attempt(first, "lan", "wrong", ip="10.9.9.8") == 401  # the hundredth
    assert attempt(second, "lan", PASSWORD, ip="10.9.9.7") == 429  # now refused from a new address too
    assert attempt(second, "LAN", PASSWORD, ip="10.9.9.9") == 429
    assert attempt(second, "mai", PASSWORD, ip="10.9.9.7") == 302  # other accounts are not
    assert "'lan': 100 failed logins" in caplog.text and PASSWORD not in caplog.text
    clock.now = START + timedelta(seconds=WINDOW, minutes=-6)  # all hundred still in the window
    assert attempt(first, "lan", PASSWORD, ip="10.9.9.7") == 429
    clock.now = START + timedelta(seconds=WINDOW, minutes=-5, microseconds=1)  # the sprayed ones left it
    assert attempt(first, "lan", PASSWORD, ip="10.9.9.7") == 302
