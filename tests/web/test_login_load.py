"""The login throttle under load: bursts of concurrent wrong passwords from one address, sent to a real
server (Werkzeug's threaded server on 127.0.0.1, one thread per request), on SQLite and PostgreSQL.
However many arrive at once, at most MAX_FAILURES passwords are checked in the window; the rest are
refused (429) without a check. Bounded: 130 requests, each with a 60 s timeout."""

from __future__ import annotations

import http.client
import threading
import urllib.parse

import pytest

from tracker.users import create_user
from web.auth import MAX_FAILURES

PASSWORD = "correct horse battery"


@pytest.fixture
def server(settings, engine, monkeypatch, strong_password_hashes):
    """The app served on a free port; `checks` counts the passwords it checked, by username."""
    from werkzeug.serving import make_server

    import web.auth
    from web import create_app

    create_user(engine, "lan", "cchc", PASSWORD)
    create_user(engine, "mai", "cchc", PASSWORD)
    checks: dict[str, int] = {}
    lock = threading.Lock()
    real = web.auth.authenticate

    def counted(db, username, password):  # noqa: ANN001, ANN202
        with lock:
            checks[username] = checks.get(username, 0) + 1
        return real(db, username, password)

    monkeypatch.setattr(web.auth, "authenticate", counted)
    app = create_app(settings)
    app.config["WTF_CSRF_ENABLED"] = False  # the throttle is the point here, not the form's token
    srv = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield srv.server_port, checks
    srv.shutdown()
    srv.server_close()
    app.extensions["tthc_engine"].dispose()


def burst(port: int, username: str, n: int) -> list[int]:
    """n wrong-password logins released at the same instant; their status codes."""
    body = urllib.parse.urlencode({"username": username, "password": "wrong password"})
    gate = threading.Barrier(n)
    codes: list[int] = []
    lock = threading.Lock()

    def one() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        try:
            conn.connect()
            gate.wait(timeout=60)
            conn.request("POST", "/login", body=body, headers={"Content-Type": "application/x-www-form-urlencoded"})
            code = conn.getresponse().status
        except (OSError, threading.BrokenBarrierError) as exc:
            code = repr(exc)
        finally:
            conn.close()
        with lock:
            codes.append(code)

    threads = [threading.Thread(target=one) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    return codes


def test_concurrent_wrong_passwords_are_checked_at_most_max_failures_times(server, engine):
    port, checks = server
    codes = burst(port, "lan", 30)
    assert sorted(codes) == [401] * MAX_FAILURES + [429] * (30 - MAX_FAILURES), codes
    assert checks == {"lan": MAX_FAILURES}
    codes = burst(port, "mai", 100)
    assert sorted(codes) == [401] * MAX_FAILURES + [429] * (100 - MAX_FAILURES), codes
    assert checks == {"lan": MAX_FAILURES, "mai": MAX_FAILURES}
