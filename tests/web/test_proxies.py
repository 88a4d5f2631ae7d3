"""Behind a reverse proxy: X-Forwarded-For and -Proto are believed only from `web.trusted_proxies`, so
failed logins count on the client's address (not the proxy's, which would lock a user out for
everyone) and nobody else can pick the address their failures are counted on."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from tests.web.conftest import csrf
from tracker.config import ConfigError, load_settings
from tracker.users import LoginAttempt, create_user
from web.auth import MAX_FAILURES

PASSWORD = "correct horse battery"
PROXY = "10.0.0.5"


@pytest.fixture
def proxied(db_url, tmp_path, engine):
    from web import create_app

    create_user(engine, "lan", "cchc", PASSWORD)
    settings = load_settings(env={}, overrides={"database.url": db_url, "paths.var_dir": str(tmp_path / "var"),
                                                "web.trusted_proxies": ["10.0.0.0/24", "::1"]})
    app = create_app(settings, testing=True)
    yield app
    app.extensions["tthc_engine"].dispose()


def login(app, password: str, *, peer: str, forwarded: str | None = None, proto: str | None = None):  # noqa: ANN001, ANN201
    c = app.test_client()
    c.environ_base["REMOTE_ADDR"] = peer
    headers = {}
    if forwarded:
        headers["X-Forwarded-For"] = forwarded
    if proto:
        headers["X-Forwarded-Proto"] = proto
        headers["Referer"] = f"{proto}://localhost/login"  # Flask-WTF checks it over HTTPS
    token = csrf(c)
    return c.post("/login", data={"username": "lan", "password": password, "csrf_token": token}, headers=headers)


def counted_on(engine) -> set[str]:  # noqa: ANN001
    with engine.connect() as conn:
        return set(conn.execute(select(LoginAttempt.ip)).scalars())


def test_through_a_trusted_proxy_failures_count_on_the_client(proxied, engine):
    for _ in range(MAX_FAILURES):
        assert login(proxied, "wrong", peer=PROXY, forwarded="203.0.113.7").status_code == 401
    assert counted_on(engine) == {"203.0.113.7"}
    assert login(proxied, PASSWORD, peer=PROXY, forwarded="203.0.113.7").status_code == 429
    # another client behind the same proxy is not locked out
    assert login(proxied, PASSWORD, peer=PROXY, forwarded="198.51.100.9").status_code == 302
    # a client that sends its own X-Forwarded-For through the proxy: the proxy appends the real one
    assert login(proxied, PASSWORD, peer=PROXY, forwarded="198.51.100.9, 203.0.113.7").status_code == 429


def test_from_anywhere_else_forwarded_headers_are_ignored(proxied, engine):
    for _ in range(MAX_FAILURES):
        assert login(proxied, "wrong", peer="192.0.2.1", forwarded="203.0.113.99").status_code == 401
    assert counted_on(engine) == {"192.0.2.1"}  # not the address it claimed
    # nor can it escape its lock by claiming another address each time
    assert login(proxied, PASSWORD, peer="192.0.2.1", forwarded="203.0.113.100").status_code == 429


def test_https_is_believed_from_a_trusted_proxy_only(proxied):
    via_proxy = login(proxied, PASSWORD, peer=PROXY, forwarded="203.0.113.7", proto="https")
    assert via_proxy.status_code == 302 and "Secure" in via_proxy.headers["Set-Cookie"]
    assert via_proxy.headers["Strict-Transport-Security"]
    direct = login(proxied, PASSWORD, peer="192.0.2.1", forwarded="203.0.113.7", proto="https")
    assert direct.status_code == 302 and "Secure" not in direct.headers["Set-Cookie"]


def test_without_trusted_proxies_nothing_forwarded_is_believed(settings, engine):
    from web import create_app

    create_user(engine, "lan", "cchc", PASSWORD)
    app = create_app(settings, testing=True)
    try:
        login(app, "wrong", peer=PROXY, forwarded="203.0.113.7")
        assert counted_on(engine) == {PROXY}
    finally:
        app.extensions["tthc_engine"].dispose()


@pytest.mark.parametrize("bad", ["10.0.0.0/33", "proxy.example", "10.0.0.1/24"])
def test_a_bad_proxy_setting_is_named(bad):
    with pytest.raises(ConfigError, match=f"web.trusted_proxies: '{bad}' is not an address or network"):
        load_settings(env={}, overrides={"web.trusted_proxies": [bad]})
    env = {"TTHC_WEB_TRUSTED_PROXIES": "127.0.0.1, 10.1.0.0/16"}
    assert load_settings(env=env).get("web.trusted_proxies") == ["127.0.0.1/32", "10.1.0.0/16"]


def test_under_gunicorn_the_client_behind_a_trusted_proxy_is_counted(db_url, tmp_path, engine):
    """The reported case: `tthc serve --workers N` behind a proxy on 127.0.0.1. Each failure counts on
    the X-Forwarded-For client, so a user is not locked out for everyone."""
    import http.cookiejar
    import os
    import re
    import socket
    import subprocess
    import sys
    import time
    import urllib.error
    import urllib.parse
    import urllib.request
    from pathlib import Path

    create_user(engine, "lan", "cchc", PASSWORD)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "TTHC_DATABASE_URL": db_url,
           "TTHC_PATHS_VAR_DIR": str(tmp_path / "var"), "TTHC_WEB_TRUSTED_PROXIES": "127.0.0.1"}
    exe = str(Path(sys.executable).with_name("tthc"))
    proc = subprocess.Popen([exe, "serve", "--workers", "2", "--port", str(port)], env=env, cwd=tmp_path,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"

    def attempt(password: str, client_ip: str) -> int:
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
        page = opener.open(f"{base}/login", timeout=30).read().decode()
        token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
        body = urllib.parse.urlencode({"username": "lan", "password": password, "csrf_token": token}).encode()
        req = urllib.request.Request(f"{base}/login", data=body, headers={"X-Forwarded-For": client_ip})
        try:
            return opener.open(req, timeout=30).status
        except urllib.error.HTTPError as exc:
            return exc.code

    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"{base}/healthz", timeout=5).close()
                break
            except OSError:
                assert proc.poll() is None and time.monotonic() < deadline, "gunicorn did not start"
                time.sleep(0.2)
        assert [attempt("wrong", "203.0.113.7") for _ in range(MAX_FAILURES)] == [401] * MAX_FAILURES
        assert attempt(PASSWORD, "203.0.113.7") == 429
        assert attempt(PASSWORD, "198.51.100.9") == 200  # another client: logged in (redirect followed)
        assert counted_on(engine) == {"203.0.113.7"}
    finally:
        proc.terminate()
        proc.wait(timeout=30)
