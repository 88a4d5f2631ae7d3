"""The Flask dashboard. An app factory: `create_app(settings=None)`; tests pass their own settings."""

from __future__ import annotations

from flask import Flask, render_template
from sqlalchemy import func, select

from tracker.config import Settings, load_settings
from tracker.db import make_engine


def create_app(settings: Settings | None = None) -> Flask:
    settings = settings or load_settings()
    app = Flask(__name__, template_folder="../templates")
    app.config["TTHC_SETTINGS"] = settings
    engine = make_engine(settings.get("database.url"))

    @app.after_request
    def _headers(resp):  # noqa: ANN001
        resp.headers["X-Content-Type-Options"] = "nosniff"
        resp.headers["X-Frame-Options"] = "DENY"
        resp.headers["Content-Security-Policy"] = "default-src 'self'"
        resp.headers["Referrer-Policy"] = "same-origin"
        return resp

    @app.get("/")
    def index():  # noqa: ANN202
        from tracker.models import Dossier, ImportRun, Unit

        with engine.connect() as conn:
            counts = {
                "units": conn.execute(select(func.count()).select_from(Unit)).scalar_one(),
                "dossiers": conn.execute(select(func.count()).select_from(Dossier)).scalar_one(),
                "runs": conn.execute(select(func.count()).select_from(ImportRun)).scalar_one(),
            }
        return render_template("placeholder.html", counts=counts)

    @app.get("/healthz")
    def healthz():  # noqa: ANN202
        return {"status": "ok"}

    return app
