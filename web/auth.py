"""Logging in and out, the language switch, and the role checks every page uses.

Sessions are Flask-Login's (signed cookie, HttpOnly, SameSite=Lax). Failed logins are counted per
(username, client address): after MAX_FAILURES within WINDOW the pair is locked for WINDOW. The
counter lives in the process; under gunicorn each worker counts on its own, so the effective
limit is MAX_FAILURES × workers — still a throttle, and documented.
"""

from __future__ import annotations

import functools
import threading
import time
from urllib.parse import urlsplit

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, session, url_for
from flask_login import LoginManager, UserMixin, current_user, login_required, login_user, logout_user

from tracker.users import authenticate, get_user
from web.i18n import LANGS, t
from web.scope import Scope, scope_for

bp = Blueprint("auth", __name__)
login_manager = LoginManager()
MAX_FAILURES = 5
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
        return str(self.id)

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
def _load(user_id: str):  # noqa: ANN202
    try:
        row = get_user(engine(), int(user_id))
    except ValueError:
        return None
    return WebUser(row) if row and row["active"] else None


class Throttle:
    def __init__(self) -> None:
        self._fails: dict[tuple[str, str], list[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, key: tuple[str, str], now: float) -> list[float]:
        return [x for x in self._fails.get(key, []) if now - x < WINDOW]

    def locked(self, key: tuple[str, str]) -> bool:
        with self._lock:
            return len(self._recent(key, time.monotonic())) >= MAX_FAILURES

    def fail(self, key: tuple[str, str]) -> None:
        with self._lock:
            now = time.monotonic()
            self._fails[key] = [*self._recent(key, now), now]

    def clear(self, key: tuple[str, str]) -> None:
        with self._lock:
            self._fails.pop(key, None)


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
        key = (username.lower(), request.remote_addr or "")
        if throttle.locked(key):
            error, status = t("locked"), 429
        else:
            row = authenticate(engine(), username, request.form.get("password", ""))
            if row is None:
                throttle.fail(key)
                error, status = t("bad_login"), 401
            else:
                throttle.clear(key)
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
