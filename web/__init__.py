"""The Flask dashboard. An app factory: `create_app(settings=None, testing=False)`; tests pass their
own settings. Thin: pages ask `tracker` (rules, reports) and `web.lists` for answers."""

from __future__ import annotations

import secrets
from datetime import datetime
from pathlib import Path

from flask import Flask, render_template, request
from flask.sessions import SecureCookieSessionInterface
from flask_wtf.csrf import CSRFProtect

from tracker.config import Settings, load_settings
from tracker.db import make_engine

MAX_UPLOAD_BYTES = 50 * 1024 * 1024
LIST_CACHE_SECONDS = 15  # the overdue list and the counts: at most this old ('as of' shows when)
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'")

csrf = CSRFProtect()


class _SessionInterface(SecureCookieSessionInterface):
    """The session cookie is Secure whenever the request came over HTTPS (directly or, under
    gunicorn, as the proxy said through X-Forwarded-Proto from an allowed address)."""

    def get_cookie_secure(self, app: Flask) -> bool:
        return bool(app.config["SESSION_COOKIE_SECURE"] or request.is_secure)


def _secret_key(settings: Settings) -> str:
    key = settings.get("web.secret_key")
    if key:
        return key
    path = settings.var_dir / "secret_key"
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        path.parent.mkdir(parents=True, exist_ok=True)
        key = secrets.token_hex(32)
        path.write_text(key)
        path.chmod(0o600)
        return key


def create_app(settings: Settings | None = None, *, testing: bool = False, now=None) -> Flask:  # noqa: ANN001
    """`now`: a callable giving the present moment (tests freeze it); default the local clock."""
    from tracker.derive import now_local
    from web import admin, api, auth, calendar_admin, i18n, ops, outlook, quality, reports, views

    settings = settings or load_settings()
    app = Flask(__name__, template_folder=str(Path(__file__).parent.parent / "templates"),
                static_folder="static")
    app.config.update(
        TTHC_SETTINGS=settings,
        TESTING=testing,
        SECRET_KEY=_secret_key(settings),
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=False,
        MAX_CONTENT_LENGTH=MAX_UPLOAD_BYTES,
        WTF_CSRF_TIME_LIMIT=None,
        TTHC_LIST_CACHE_SECONDS=0 if testing else LIST_CACHE_SECONDS,
    )
    app.session_interface = _SessionInterface()
    app.extensions["tthc_engine"] = make_engine(settings.get("database.url"))
    app.extensions["tthc_now"] = now or now_local
    csrf.init_app(app)
    auth.init_app(app)
    app.register_blueprint(auth.bp)
    app.register_blueprint(views.bp)
    app.register_blueprint(admin.bp)
    app.register_blueprint(api.bp)
    app.register_blueprint(reports.bp)
    app.register_blueprint(quality.bp)
    app.register_blueprint(outlook.bp)
    csrf.exempt(api.bp)  # token auth, no cookies
    ops.init_app(app)  # /healthz, /metrics, the version in the footer
    app.register_blueprint(calendar_admin.bp)

    i18n.init_app(app, settings.var_dir / "translations")

    @app.after_request
    def _headers(resp):  # noqa: ANN001, ANN202
        resp.headers["X-Content-Type-Options"] = "nosniff"
        resp.headers["X-Frame-Options"] = "DENY"
        resp.headers["Content-Security-Policy"] = CSP
        resp.headers["Referrer-Policy"] = "same-origin"
        resp.headers["Permissions-Policy"] = "camera=(), microphone=(), geolocation=()"
        resp.headers["Cross-Origin-Opener-Policy"] = "same-origin"
        if request.is_secure:
            resp.headers["Strict-Transport-Security"] = "max-age=31536000"
        if request.path != "/healthz" and not request.path.startswith("/static/"):
            resp.headers.setdefault("Cache-Control", "no-store")
        return resp

    for code in (403, 404, 413, 429):
        app.register_error_handler(code, _error_page(code))

    return app


def _error_page(code: int):  # noqa: ANN202
    def handler(exc):  # noqa: ANN001, ANN202
        from flask import jsonify

        if request.path.startswith("/api/"):
            return jsonify(error=getattr(exc, "description", str(code))), code
        return render_template("error.html", code=code), code

    return handler


def current_now() -> datetime:
    from flask import current_app

    return current_app.extensions["tthc_now"]()
