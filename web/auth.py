"""Logging in and out, the language switch, and the role checks every page uses.

Sessions are Flask-Login's (signed cookie, HttpOnly, SameSite=Lax). The user is read from the
database on every request, so a change of role, units or active flag applies at the next request.
A session also carries the user's session generation (`app_user.session_generation`) as it was at
login; a session whose generation is no longer the user's is logged out. Logging out, a password
change, deactivation and a change of role or units raise it (tracker.users), so each ends every
session the user had, including a copied cookie, and reactivating an account revives none.

Failed logins are counted per (username, client address) in the `login_attempt` table, shared by
every gunicorn worker and kept across restarts: after MAX_FAILURES within WINDOW the pair is
refused (429) until its oldest counted failure leaves the window; a success clears the pair's
failures. Counting and recording are one step (`Throttle.begin`): under a lock per username, the
attempt is counted and written as a failure *before* its password is checked, so concurrent
attempts cannot all pass the count; a success then deletes it with the pair's other failures.
Rows older than the window are pruned as attempts are written. The client's address is the
peer's, or X-Forwarded-For's when the peer is one of `web.trusted_proxies` (web.TrustedProxies).
An account also has a ceiling whatever the address: after MAX_ACCOUNT_FAILURES within WINDOW
(a password tried from many addresses, each under the pair's limit) the username is refused from
everywhere until the window passes, and the refusal is logged for the administrator (NIST SP
800-63B §5.2.2 asks for at most 100). A success does not lower it: it clears its own pair only.
"""

from __future__ import annotations

import functools
import logging
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import LoginManager, UserMixin, current_user, login_required, login_user, logout_user
from sqlalchemy import Engine, delete, func, select, text
from sqlalchemy.exc import OperationalError

from tracker.users import LoginAttempt, authenticate, end_sessions, get_user
from web import current_now
from web.i18n import LANGS
from web.scope import Scope, scope_for

bp = Blueprint("auth", __name__)
log = logging.getLogger("web.auth")
login_manager = LoginManager()
MAX_FAILURES = 5
MAX_ACCOUNT_FAILURES = 100
WINDOW = 15 * 60


class WebUser(UserMixin):
    def __init__(self, row: dict) -> None:
        self.row = row
        self.id = row["id"]
        self.username = row["username"]
        self.role = row["role"]
        self.display_name = row["display_name"] or row["username"]
        self._scope: Scope | None = None

    def get_id(self) -> str:
        return f"{self.id}.{self.row['session_generation']}"

    @property
    def scope(self) -> Scope:
        if self._scope is None:
            self._scope = scope_for(engine(), self.row)
        return self._scope


def engine():  # noqa: ANN201
    return current_app.extensions["tthc_engine"]


def init_app(app) -> None:  # noqa: ANN001
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = None
    login_manager.session_protection = "strong"


@login_manager.user_loader
def _load(session_id: str):  # noqa: ANN202
    user_id, _, generation = session_id.partition(".")
    if not (user_id.isdigit() and generation.isdigit() and len(user_id) < 12):
        return None  # a session from before generations (or not ours): logged out
    row = get_user(engine(), int(user_id))
    if row is None or not row["active"] or int(generation) != row["session_generation"]:
        return None  # deactivated, or logged out / password, role or units changed since: logged out
    return WebUser(row)


class Throttle:
    """Failed logins per (username, address), stored in `login_attempt` (see the module's doc)."""

    def __init__(self, max_failures: int = MAX_FAILURES, window: int = WINDOW,
                 max_account_failures: int = MAX_ACCOUNT_FAILURES) -> None:
        self.max_failures = max_failures
        self.max_account_failures = max_account_failures
        self.window = timedelta(seconds=window)

    def begin(self, db: Engine, key: tuple[str, str], now: datetime) -> bool:
        """May this attempt's password be checked? If so (True) it is written as a failure first,
        in the same transaction as the count; `clear` removes it when the password was right.
        False: refused (429), and nothing is written."""
        username, ip = key
        recent = (LoginAttempt.username == username, LoginAttempt.attempted_at > now - self.window)
        with db.begin() as conn:
            _lock(conn, username)
            conn.execute(delete(LoginAttempt).where(LoginAttempt.username == username,
                                                    LoginAttempt.attempted_at <= now - self.window))
            n = conn.execute(select(func.count()).select_from(LoginAttempt).where(
                *recent, LoginAttempt.ip == ip)).scalar_one()
            if n >= self.max_failures:
                return False
            # the account's failures from every address: counted up to the ceiling, not beyond
            capped = select(LoginAttempt.id).where(*recent).limit(self.max_account_failures).subquery()
            total = conn.execute(select(func.count()).select_from(capped)).scalar_one()
            if total >= self.max_account_failures:
                log.warning("login refused for account %r: %d failed logins from several addresses within %d min",
                            username, total, self.window.seconds // 60)
                return False
            conn.execute(LoginAttempt.__table__.insert().values(username=username, ip=ip, attempted_at=now))
        self._prune(db, now)
        return True

    def _prune(self, db: Engine, now: datetime) -> None:
        """Drop every username's rows older than the window: apart from the lock, so attempts on
        different names never wait on each other; best effort (the next attempt prunes again)."""
        try:
            with db.begin() as conn:
                conn.execute(delete(LoginAttempt).where(LoginAttempt.attempted_at <= now - self.window))
        except OperationalError as exc:
            log.info("old login attempts not pruned this time: %s", type(exc.orig).__name__)

    def clear(self, db: Engine, key: tuple[str, str]) -> None:
        username, ip = key
        with db.begin() as conn:
            conn.execute(delete(LoginAttempt).where(LoginAttempt.username == username, LoginAttempt.ip == ip))

    def reset(self, db: Engine) -> None:
        """Forget every failure (tests)."""
        with db.begin() as conn:
            conn.execute(delete(LoginAttempt))


throttle = Throttle()


def _lock(conn, username: str) -> None:  # noqa: ANN001
    """Serialise the attempts on one username until the transaction ends. PostgreSQL: an advisory
    lock on the name's hash. SQLite: the first write (the pruning that follows) takes the database's
    write lock, and the counts after it read under that lock."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(hashtextextended(:k, 0))"), {"k": "login:" + username})


def _safe_next(target: str | None) -> str:
    if not target:
        return url_for("views.overview")
    if len(target) > 2000 or any(ord(ch) < 0x20 or ord(ch) == 0x7F or ch == "\\" for ch in target):
        return url_for("views.overview")  # a header cannot carry it (and browsers read \ as /)
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return url_for("views.overview")
    return target


@bp.route("/login", methods=["GET", "POST"])
def login():  # noqa: ANN201
    error = None
    status = 200
    if request.method == "POST":
        username = request.form.get("username", "").strip()[:100]
        key = (username.lower(), (request.remote_addr or "")[:64])
        try:
            allowed = throttle.begin(engine(), key, current_now())
        except OperationalError:  # the database is busy (SQLite: a long write): no check uncounted
            log.warning("login attempt not counted: database busy")
            allowed = None
        if allowed is None:
            error, status = _("Hệ thống đang bận. Vui lòng thử lại sau giây lát."), 503
        elif not allowed:
            error, status = _("Đăng nhập sai quá nhiều lần. Thử lại sau ít phút."), 429
        else:
            row = authenticate(engine(), username, request.form.get("password", ""))
            if row is None:
                error, status = _("Sai tên đăng nhập hoặc mật khẩu."), 401
            else:
                throttle.clear(engine(), key)
                lang = session.get("lang")
                session.clear()
                if lang:
                    session["lang"] = lang
                login_user(WebUser(row))
                return redirect(_safe_next(request.args.get("next")))
    return render_template("login.html", error=error), status


@bp.post("/logout")
def logout():  # noqa: ANN201
    if current_user.is_authenticated:
        end_sessions(engine(), current_user.id)  # every copy of this session's cookie dies too
    logout_user()
    lang = session.get("lang")
    session.clear()
    if lang:
        session["lang"] = lang
    return redirect(url_for("auth.login"))


@bp.post("/lang")
def set_lang():  # noqa: ANN201
    choice = request.form.get("lang", "vi")
    if choice in LANGS:
        session["lang"] = choice
    return redirect(_safe_next(request.form.get("next")))


def roles_required(*roles: str):  # noqa: ANN201
    """Logged in (else 302 to the login page) and one of `roles` (else 403)."""

    def wrap(view):  # noqa: ANN001, ANN202
        @functools.wraps(view)
        @login_required
        def inner(*a, **kw):  # noqa: ANN202
            if current_user.role not in roles:
                abort(403)
            return view(*a, **kw)

        return inner

    return wrap


__all__ = ["bp", "current_user", "flash", "login_required", "roles_required"]
