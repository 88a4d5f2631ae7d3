"""Absurd and hostile values in every route's parameters never make a 500 (issue 12 item 11).

First the cases found by trying, each a 4xx with a clear message; then a walk over every route of the
app's URL map with hostile values in its path parameters, in each query parameter it reads (alone,
and all at once) and in each form field, as every persona and anonymously. The app has its own
world (its own demo database): the walk posts to the admin forms and logs out."""

from __future__ import annotations

import io
import re
from urllib.parse import quote

import pytest

from tests.web.conftest import PASSWORD, build_world

HOSTILE = ["", "-1", "1e309", "99999999999999999999999", "9999-12-31", "0001-01-01", "31/02/2026",
           "29/02/2100 25:61", "..", "a/..", "\x00", "a\r\nSet-Cookie: x=1", "\u202e\x1b[31m' OR 1=1 --<b>",
           "%", "x" * 5000, "q0"]
LIST = ["unit", "procedure", "field", "channel", "how_late", "q", "page"]
CHOICE = ["period", "year", "from", "to", "as_of", "unit"]
# what each endpoint reads from its query string (test_every_query_parameter_is_walked keeps it whole)
QUERY = {
    "auth.login": ["next"], "views.overview": ["sort"], "views.overdue": LIST, "api.overdue": LIST,
    "api.rates": ["period", "date"], "reports.reports": [*CHOICE, "by", "rollup"], "reports.scores": CHOICE,
    "reports.audits": [*CHOICE, "audit", "detail", "page"], "views.calendar": ["year"],
    "reports.disagreements": [*CHOICE, "exact", "page"],
}
FORM = ["username", "password", "password2", "next", "lang", "display_name", "role", "units", "active", "name",
        "recipients"]


@pytest.fixture(scope="module")
def world_app(tmp_path_factory):
    from tests.web.conftest import NOW
    from web import create_app

    tmp = tmp_path_factory.mktemp("hostile")
    world = build_world(f"sqlite:///{tmp / 'web.db'}", tmp)
    app = create_app(world["settings"], testing=True, now=lambda: NOW)
    app.config["WTF_CSRF_ENABLED"] = False  # the handlers are the point: the forms' token is tested elsewhere
    yield app, world
    app.extensions["tthc_engine"].dispose()


def client(app, name: str | None):  # noqa: ANN001, ANN201
    """Logged in as `name`, whose password an earlier walk over the admin forms may have reset."""
    from sqlalchemy import select

    from tracker.users import User, set_active, set_password
    from web.auth import throttle

    engine = app.extensions["tthc_engine"]
    throttle.reset(engine)
    if name:
        with engine.connect() as conn:
            uid = conn.execute(select(User.id).where(User.username == name)).scalar_one()
        set_password(engine, uid, PASSWORD, actor="test")
        set_active(engine, name, True)
    c = app.test_client()
    if name:
        assert c.post("/login", data={"username": name, "password": PASSWORD}).status_code == 302
    return c


def check(resp, what: str) -> None:  # noqa: ANN001
    assert resp.status_code < 500, f"{what}: {resp.status_code}\n{resp.get_data(as_text=True)[:500]}"
    if resp.status_code >= 400 and what.split()[1].startswith("/api/"):
        assert resp.is_json and resp.json.get("error"), f"{what}: not JSON: {resp.get_data(as_text=True)[:200]}"


# ----- the cases found by trying ---------------------------------------------------------------------


def test_the_reported_cases_are_4xx_with_a_clear_message(world_app):
    app, world = world_app
    token = {"Authorization": f"Bearer {world['tokens']['admin']}"}
    c = app.test_client()
    resp = c.get("/api/v1/rates?date=9999-12-31", headers=token)
    assert resp.status_code == 400 and resp.json == {
        "error": "date: 9999-12-31 is outside the years covered (1990–2100)"}
    resp = c.get("/api/v1/rates?date=31/02/2026", headers=token)
    assert resp.status_code == 400 and "'31/02/2026' is not a date" in resp.json["error"]
    resp = c.get("/api/v1/nothing-here", headers=token)
    assert resp.status_code == 404 and resp.is_json
    resp = c.post("/api/v1/rates", headers=token)
    assert resp.status_code == 405 and resp.is_json and "GET" in resp.headers["Allow"]

    resp = c.post("/login?next=/overdue%0D%0ASet-Cookie:%20x=1", data={"username": "admin", "password": PASSWORD})
    assert resp.status_code == 302 and resp.headers["Location"] == "/"  # a next that cannot be a header: ignored
    assert "x=1" not in str(resp.headers)

    admin = client(app, "admin")
    for name in ("..", ".", "a/..", "bad\x00name.csv"):
        resp = admin.post("/imports", data={"file": (io.BytesIO(b"x;y\n1;2\n"), name)},
                          content_type="multipart/form-data")
        assert resp.status_code == 400, name
        text = resp.get_data(as_text=True)
        assert "Tên tệp" in text and "Traceback" not in text, name
    resp = admin.post("/imports", data={"file": (io.BytesIO(b"x;y\n1;2\n"), "Báo cáo " * 60 + ".csv")},
                      content_type="multipart/form-data")
    assert resp.status_code == 302  # a long Vietnamese name: shortened under the file system's 255 bytes

    for path in ("/imports/99999999999999999999/rejected.csv", "/admin/users/18446744073709551616",
                 "/imports/2147483648/rejected.csv", "/admin/tokens/9223372036854775808/revoke"):
        resp = admin.get(path) if "revoke" not in path else admin.post(path)
        assert resp.status_code == 404, path


def test_every_query_parameter_is_walked():
    """Each parameter the views read is in QUERY: a new one is walked too (or this fails)."""
    from pathlib import Path

    read = set()
    for path in Path(__file__).parents[2].joinpath("web").glob("*.py"):
        read |= set(re.findall(r"""args\.get(?:list)?\(\s*["']([a-z_]+)["']""", path.read_text(encoding="utf-8")))
    assert read <= {p for ps in QUERY.values() for p in ps}, read - {p for ps in QUERY.values() for p in ps}


# ----- the walk --------------------------------------------------------------------------------------


def _path(rule, value: str) -> str:  # noqa: ANN001
    """The rule's path with every argument set to `value` (digits only for <int:…>)."""
    out = rule.rule
    for arg in rule.arguments:
        conv = type(rule._converters[arg]).__name__
        v = value if not conv.endswith("IntConverter") else (value if value.isdigit() else "1")
        v = quote(v or "x", safe="/") if conv == "PathConverter" else quote(v or "x", safe="")
        out = re.sub(rf"<(?:[a-z]+:)?{arg}>", lambda _m, v=v: v, out)
    return out


def _rules(app):  # noqa: ANN001, ANN202
    return [r for r in app.url_map.iter_rules() if r.endpoint != "static"]


def _walk(app, persona: str | None, *, alone: bool) -> None:  # noqa: ANN001
    """Every route with each hostile value: in its path, in all its query parameters at once (and
    with `alone`, in each by itself, the others left out), and in every form field it could read."""
    c = client(app, persona)  # first: it revokes the persona's tokens
    from sqlalchemy import select

    from tracker.users import User, create_token

    engine = app.extensions["tthc_engine"]
    with engine.connect() as conn:
        uid = conn.execute(select(User.id).where(User.username == (persona or "admin"))).scalar_one()
    headers = {"Authorization": f"Bearer {create_token(engine, uid)}"}
    for rule in _rules(app):
        methods = sorted(rule.methods - {"HEAD", "OPTIONS"})
        params = QUERY.get(rule.endpoint, [])
        for value in HOSTILE:
            path = _path(rule, value)
            if "GET" in methods:
                queries = [{p: value for p in params}] + ([{p: value} for p in params] if alone else [])
                for query in queries:
                    resp = c.get(path, query_string=query, headers=headers)
                    check(resp, f"GET {path} {query!r} as {persona}")
            if "POST" in methods and rule.endpoint != "auth.logout":
                form = {f: value for f in FORM}
                if rule.endpoint == "views.imports":
                    form = {"file": (io.BytesIO(value.encode("utf-8", "replace")), value or "x")}
                resp = c.post(path, data=form, headers=headers)
                check(resp, f"POST {path} {value!r} as {persona}")
    check(c.post("/logout"), f"POST /logout as {persona}")


@pytest.mark.parametrize("persona", [None, "nobody", "head", "cchc"])
def test_no_route_answers_500_to_hostile_values(world_app, persona):
    _walk(world_app[0], persona, alone=False)


@pytest.mark.parametrize("persona", ["admin", "reception"])  # every page, and a desk's narrow scope
def test_no_parameter_alone_makes_a_500(world_app, persona):
    _walk(world_app[0], persona, alone=True)
