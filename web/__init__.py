"""The Flask dashboard. An app factory: `create_app(settings=None, testing=False)`; tests pass their
own settings. Thin: pages ask `tracker` (rules, reports) and `web.lists` for answers."""

from __future__ import annotations

import secrets
from datetime import datetime
from pathlib import Path

from flask import Flask, render_template, request
from flask.sessions import SecureCookieSessionInterface
from flask_wtf.csrf import CSRFError, CSRFProtect
from werkzeug.exceptions import HTTPException, InternalServerError
from werkzeug.routing import IntegerConverter

from tracker.config import Settings, load_settings
from tracker.db import make_engine
from tracker.files import open_private, private_dir
from tracker.settings_check import check_settings

MAX_UPLOAD_BYTES = 50 * 1024 * 1024
LIST_CACHE_SECONDS = 15  # the overdue list and the counts: at most this old ('as of' shows when)
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'")

csrf = CSRFProtect()


class _SessionInterface(SecureCookieSessionInterface):
    """The session cookie is Secure whenever the request came over HTTPS (directly or as a trusted
    proxy said through X-Forwarded-Proto: TrustedProxies)."""

    def get_cookie_secure(self, app: Flask) -> bool:
        return bool(app.config["SESSION_COOKIE_SECURE"] or request.is_secure)


class TrustedProxies:
    """WSGI middleware: Werkzeug's ProxyFix (one hop of X-Forwarded-For and -Proto) for requests whose
    immediate peer is one of `web.trusted_proxies`; any other request keeps its peer's address and
    scheme, whatever headers it carries. The same under the development server and gunicorn
    (whose own forwarded_allow_ips is emptied: cli.serve)."""

    def __init__(self, app, networks: list[str]) -> None:  # noqa: ANN001
        import ipaddress

        from werkzeug.middleware.proxy_fix import ProxyFix

        self.app = app
        self.fixed = ProxyFix(app, x_for=1, x_proto=1)
        self.networks = [ipaddress.ip_network(n) for n in networks]

    def trusted(self, peer: str | None) -> bool:
        import ipaddress

        try:
            addr = ipaddress.ip_address((peer or "").split("%")[0])
        except ValueError:
            return False
        if getattr(addr, "ipv4_mapped", None):
            addr = addr.ipv4_mapped
        return any(addr in n for n in self.networks)

    def __call__(self, environ, start_response):  # noqa: ANN001, ANN204
        if self.networks and self.trusted(environ.get("REMOTE_ADDR")):
            return self.fixed(environ, start_response)
        return self.app(environ, start_response)


class _IntConverter(IntegerConverter):
    """`<int:…>` in every route: up to the largest id a column holds (PostgreSQL's integer), so an
    absurd id is a 404, not an overflow in the database driver."""

    def __init__(self, map, fixed_digits: int = 0, min: int | None = None, max: int | None = 2**31 - 1,  # noqa: A002
                 signed: bool = False) -> None:
        super().__init__(map, fixed_digits=fixed_digits, min=min, max=max, signed=signed)


def _secret_key(settings: Settings) -> str:
    key = settings.get("web.secret_key")
    if key:
        return key
    path = settings.var_dir / "secret_key"
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        private_dir(path.parent)
        key = secrets.token_hex(32)
        with open_private(path, "w") as fh:
            fh.write(key)
        return key


def create_app(settings: Settings | None = None, *, testing: bool = False, now=None) -> Flask:  # noqa: ANN001
    """`now`: a callable giving the present moment (tests freeze it); default the local clock."""
    from tracker.clock import now_local
    from web import access, admin, api, auth, cache, calendar_admin, i18n, ops, outlook, quality, reports, views

    settings = check_settings(settings or load_settings())
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
    app.url_map.converters["int"] = _IntConverter
    app.wsgi_app = TrustedProxies(app.wsgi_app, settings.get("web.trusted_proxies"))
    app.extensions["tthc_engine"] = make_engine(settings.get("database.url"))
    app.extensions["tthc_now"] = now or now_local
    cache.init_app(app)
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
    access.init_app(app)

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

    app.register_error_handler(HTTPException, _error_page)
    app.register_error_handler(InternalServerError, _server_error)

    return app


def _error_page(exc: HTTPException):  # noqa: ANN202
    """Any HTTP error: JSON under /api/ ({"error": what}), else the error page, saying what was
    wrong when the view said so (its description)."""
    from flask import jsonify

    code = exc.code or 500
    if code < 400:
        return exc  # redirects raised as exceptions (RequestRedirect) pass through
    said = exc.description if exc.description != type(exc).description and not isinstance(exc, CSRFError) else None
    if request.path.startswith("/api/"):
        return jsonify(error=said or exc.name), code, _allow(exc)
    return render_template("error.html", code=code, message=said), code, _allow(exc)


def _allow(exc: HTTPException) -> dict:
    return {"Allow": ", ".join(exc.valid_methods)} if getattr(exc, "valid_methods", None) else {}


def _server_error(exc):  # noqa: ANN001, ANN202
    """A bug: logged with its traceback by Flask; the client gets a short answer in its own format."""
    from flask import jsonify

    if request.path.startswith("/api/"):
        return jsonify(error="internal error; see the server log"), 500
    return render_template("error.html", code=500, message=None), 500


def current_now() -> datetime:
    from flask import current_app

    return current_app.extensions["tthc_now"]()
