"""Logging in and out, the language switch, and the role checks every page uses.

Sessions are Flask-Login's (signed cookie, HttpOnly, SameSite=Lax). The user is read from the
database on every request, so a change of role, units or active flag applies at the next request;
the session also carries a stamp of the password hash, so a new password ends the old sessions.

Failed logins are counted per (username, client address) in the `login_attempt` table, shared by
every gunicorn worker and kept across restarts: after MAX_FAILURES within WINDOW the pair is
refused (429) until its oldest counted failure leaves the window; a success clears the pair's
failures. Rows older than the window are pruned as failures are written.
An account also has a ceiling whatever the address: after MAX_ACCOUNT_FAILURES within WINDOW
(a password tried from many addresses, each under the pair's limit) the username is refused from
everywhere until the window passes, and the refusal is logged for the administrator (NIST SP
800-63B §5.2.2 asks for at most 100). A success does not lower it: it clears its own pair only.
"""

from __future__ import annotations

import functools
import hashlib
import logging
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import LoginManager, UserMixin, current_user, login_required, login_user, logout_user
from sqlalchemy import Engine, delete, func, select

from tracker.users import LoginAttempt, authenticate, get_user
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
        return f"{self.id}.{password_stamp(self.row)}"

    @property
    def scope(self) -> Scope:
        if self._scope is None:
            self._scope = scope_for(engine(), self.row)
        return self._scope


def password_stamp(row: dict) -> str:
    """Changes whenever the password does (each hash has its own salt); reveals nothing of it."""
    return hashlib.sha256(row["password_hash"].encode()).hexdigest()[:16]


def engine():  # noqa: ANN201
    return current_app.extensions["tthc_engine"]


def init_app(app) -> None:  # noqa: ANN001
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = None
    login_manager.session_protection = "strong"


@login_manager.user_loader
def _load(session_id: str):  # noqa: ANN202
    user_id, _, stamp = session_id.partition(".")
    try:
        row = get_user(engine(), int(user_id))
    except ValueError:
        return None
    if row is None or not row["active"] or stamp != password_stamp(row):
        return None  # deactivated, or the password changed since this session began: logged out
    return WebUser(row)


class Throttle:
    """Failed logins per (username, address), stored in `login_attempt` (see the module's doc)."""

    def __init__(self, max_failures: int = MAX_FAILURES, window: int = WINDOW,
                 max_account_failures: int = MAX_ACCOUNT_FAILURES) -> None:
        self.max_failures = max_failures
        self.max_account_failures = max_account_failures
        self.window = timedelta(seconds=window)

    def locked(self, db: Engine, key: tuple[str, str], now: datetime) -> bool:
        username, ip = key
        recent = (LoginAttempt.username == username, LoginAttempt.attempted_at > now - self.window)
        with db.connect() as conn:
            n = conn.execute(select(func.count()).select_from(LoginAttempt).where(
                *recent, LoginAttempt.ip == ip)).scalar_one()
            if n >= self.max_failures:
                return True
            # the account's failures from every address: counted up to the ceiling, not beyond
            capped = select(LoginAttempt.id).where(*recent).limit(self.max_account_failures).subquery()
            total = conn.execute(select(func.count()).select_from(capped)).scalar_one()
        if total >= self.max_account_failures:
            log.warning("login refused for account %r: %d failed logins from several addresses within %d min",
                        username, total, self.window.seconds // 60)
            return True
        return False

    def fail(self, db: Engine, key: tuple[str, str], now: datetime) -> None:
        username, ip = key
        with db.begin() as conn:
            conn.execute(delete(LoginAttempt).where(LoginAttempt.attempted_at <= now - self.window))
            conn.execute(LoginAttempt.__table__.insert().values(username=username, ip=ip, attempted_at=now))

    def clear(self, db: Engine, key: tuple[str, str]) -> None:
        username, ip = key
        with db.begin() as conn:
            conn.execute(delete(LoginAttempt).where(LoginAttempt.username == username, LoginAttempt.ip == ip))

    def reset(self, db: Engine) -> None:
        """Forget every failure (tests)."""
        with db.begin() as conn:
            conn.execute(delete(LoginAttempt))


throttle = Throttle()


def _safe_next(target: str | None) -> str:
    if not target:
        return url_for("views.overview")
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
        if throttle.locked(engine(), key, current_now()):
            error, status = _("Đăng nhập sai quá nhiều lần. Thử lại sau ít phút."), 429
        else:
            row = authenticate(engine(), username, request.form.get("password", ""))
            if row is None:
                throttle.fail(engine(), key, current_now())
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
