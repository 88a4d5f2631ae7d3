"""The data-quality panel and its lists, the warning on a period's figures, and the "Đối chiếu" page
(web/quality.py): who may open what, lists scoped to the user's units, and the warning shown exactly
when the panel's counts touch the period (on SQLite and PostgreSQL)."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime

import pytest
from sqlalchemy import select

from tests.tracker.test_portal_figures import write_csv
from tests.tracker.test_quality import PLANTED
from tests.tracker.test_reports import add_dossiers, seed_catalogues
from tests.web.conftest import DEPT, DESK, PASSWORD, csrf
from tests.web.test_reports_pages import get_ok, table
from tracker.db import make_engine
from tracker.models import Unit
from tracker.portal_figures import import_figures
from tracker.quality import rows as quality_rows
from tracker.users import create_user
from web.scope import scope_for

YEAR = "period=y&year=2026"


# ----- the demo world: who may open what ---------------------------------------------------------


@pytest.mark.parametrize("persona, status", [
    ("reception", 403), ("head", 403), ("province_head", 403), ("nobody", 403), ("cchc", 200), ("admin", 200)])
def test_only_cchc_and_admin_open_the_reconciliation(client_for, persona, status):
    assert client_for(persona).get("/scores/reconcile").status_code == status
    assert client_for(None).get("/scores/reconcile").status_code == 302  # to the login page


@pytest.mark.parametrize("persona", ["reception", "head", "cchc", "nobody"])
def test_lists_hold_the_users_units_only(app, world, client_for, persona):
    from tracker.users import User

    eng = app.extensions["tthc_engine"]
    with eng.connect() as conn:
        user = conn.execute(select(User.__table__).where(User.username == persona)).mappings().one()
    scope = scope_for(eng, dict(user))
    c = client_for(persona)
    for kind in ("no_due", "beyond_limit"):
        want = quality_rows(eng, world["settings"], kind, date(2026, 1, 1), date(2026, 11, 20),
                            as_of=datetime(2026, 11, 20, 10, 0), unit_ids=scope.unit_ids)
        got = list(csv.reader(io.StringIO(get_ok(c, f"/quality/{kind}.csv?{YEAR}").data.decode("utf-8-sig"))))
        assert [r[0] for r in got[1:]] == [r["code"] for r in want], (persona, kind)
        if persona == "cchc":
            assert len(want) > 0, kind  # the demo province has some of both
        if scope.unit_ids is not None:
            allowed = {u.code for u in eng.connect().execute(select(Unit.code, Unit.id)) if u.id in scope.unit_ids}
            assert {r[1] for r in got[1:]} <= allowed
    assert c.get("/quality/no_such_list").status_code == 404


def test_the_panel_is_on_the_overview_for_cchc_and_admin_and_on_imports(client_for):
    for persona in ("cchc", "admin"):
        page = get_ok(client_for(persona), "/").text
        assert 'id="quality-panel"' in page and "/quality/no_due?" in page
    for persona in ("head", "reception"):
        assert 'id="quality-panel"' not in get_ok(client_for(persona), "/").text
    assert 'id="quality-panel"' in get_ok(client_for("cchc"), "/imports").text


def test_the_scores_page_links_to_the_reconciliation(client_for):
    assert 'href="/scores/reconcile"' in get_ok(client_for("cchc"), "/scores").text


# ----- both databases: planted cases, the warning, the reconciliation ----------------------------


NOW = datetime(2026, 10, 20, 10, 0)


@pytest.fixture
def small_app(settings, engine, no_users, tmp_path):
    from web import create_app

    ids = seed_catalogues(engine)
    add_dossiers(engine, settings, ids, [dict(d, code="P-" + d["code"]) for d in PLANTED if "AUGUST" not in d["code"]])
    # September, on which both 766 methods agree: one early dossier each
    add_dossiers(engine, settings, ids, [
        dict(code=f"SEPT-{unit}", unit=unit, received_at=datetime(2026, 9, 7, 8), due_at=datetime(2026, 9, 10, 17),
             status=10, finished_at=datetime(2026, 9, 8, 9)) for unit in ("T.XA", "T.XB")])
    create_user(engine, "cchc", "cchc", PASSWORD)
    create_user(engine, "head_xa", "unit_head", PASSWORD, unit_codes=["T.XA"])
    create_user(engine, "head_stp", "unit_head", PASSWORD, unit_codes=["T.STP"])
    app = create_app(settings, testing=True, now=lambda: NOW)
    clients = {}
    for who in ("cchc", "head_xa", "head_stp"):
        c = app.test_client()
        assert c.post("/login", data={"username": who, "password": PASSWORD, "csrf_token": csrf(c)}).status_code == 302
        clients[who] = c
    yield clients
    app.extensions["tthc_engine"].dispose()


def test_the_warning_shows_when_the_panel_touches_the_month(small_app):
    cchc, head_xa, head_stp = small_app["cchc"], small_app["head_xa"], small_app["head_stp"]
    page = get_ok(cchc, "/").text
    assert 'id="quality-warning"' in page
    warning = page.split('id="quality-warning"', 1)[1].split("</p>", 1)[0]
    assert "Không có ngày hẹn trả (2)" in warning and "Trạng thái và ngày tháng mâu thuẫn (2)" in warning
    assert "/quality?period=range&amp;" in warning and "from=2026-10-01&amp;to=2026-10-20" in warning
    # the report page: October is touched, September is not
    assert 'id="quality-warning"' in get_ok(cchc, "/reports?period=m10&year=2026").text
    assert 'id="quality-warning"' not in get_ok(cchc, "/reports?period=m9&year=2026").text
    # a unit head whose units hold none of the cases sees clean figures; the other is warned
    assert 'id="quality-warning"' not in get_ok(head_xa, "/").text
    assert 'id="quality-warning"' in get_ok(head_stp, "/").text


def test_the_panel_page_counts_and_links_each_list(small_app):
    page = get_ok(small_app["cchc"], "/quality?period=m10&year=2026").text
    rows = {k: c for k, c in table(page, "quality-counts")}
    assert rows["quality-no_due"][1] == "2 hồ sơ" and rows["quality-no_limit"][1] == "1 thủ tục"
    assert rows["quality-no_finished_at"][1] == "1 hồ sơ" and rows["quality-beyond_limit"][1] == "1 hồ sơ"
    mine = {k: c for k, c in table(get_ok(small_app["head_xa"], "/quality?period=m10&year=2026").text,
                                   "quality-counts")}
    assert mine["quality-no_due"][1] == "0 hồ sơ"
    listing = get_ok(small_app["cchc"], "/quality/contradictions?period=m10&year=2026").text
    assert "P-OPEN-BUT-FINISHED" in listing and "P-DONE-BEFORE-RECEIVED" in listing and "P-CLEAN" not in listing
    assert small_app["head_xa"].get("/quality/contradictions.csv?period=m10&year=2026").data.decode(
        "utf-8-sig").count("\n") == 1  # the header only


def test_the_reconciliation_page_shows_an_unexplained_gap(small_app, settings, tmp_path):
    engine = make_engine(settings.get("database.url"))
    try:
        import_figures(engine, write_csv(tmp_path / "p.csv", [
            "Mã đơn vị;Kỳ;Tiếp nhận;Đúng hạn;Điểm", "T.XA;2026-09;2;1;10,00", "T.SXD;09/2026;0;0;",
            "T.STP;2026-10;9;9;20"]))
    finally:
        engine.dispose()
    page = get_ok(small_app["cchc"], "/scores/reconcile?period=q3&year=2026").text
    rows = {key: cells for key, cells in table(page, "reconcile-table")}
    assert set(rows) == {"T.XA|2026-09-01", "T.SXD|2026-09-01", "T.XB|2026-09-01"}  # October is not in Q3
    xa = rows["T.XA|2026-09-01"]
    assert xa[2:5] == ["1", "1", "20,00"] and xa[8:11] == ["2", "1", "10,00"] and xa[11:14] == ["+1", "+0", "-10,00"]
    assert "Chưa giải thích được: +1 hồ sơ tiếp nhận, +0 hồ sơ đúng hạn" in xa[14]
    assert xa[15] == "Chưa giải thích được"
    assert rows["T.SXD|2026-09-01"][-1] == "Khớp"
    assert rows["T.XB|2026-09-01"][-1] == "Chưa có số liệu công bố"
    summary = page.split('id="reconcile-summary">', 1)[1].split("<", 1)[0]
    assert "Khớp: 1" in summary and "Chưa giải thích được: 1" in summary
    nothing = get_ok(small_app["cchc"], "/scores/reconcile?period=m3&year=2026").text
    assert 'id="no-figures"' in nothing


__all__ = ["DEPT", "DESK"]


def test_outside_tests_the_counts_never_keep_a_page_waiting(app):
    """The overview's panel and warning are computed in a thread (a scan of every dossier): None
    the first time, then the value; a new data version serves the old value while recounting."""
    import threading

    from web.cache import Cache

    cache = Cache()
    calls = []
    done = threading.Event()

    def compute():  # noqa: ANN202
        calls.append(1)
        done.set()
        return {"n": len(calls)}

    def settled() -> None:
        assert done.wait(10)
        for _ in range(100):
            if not cache.computing:
                return
            threading.Event().wait(0.05)

    def in_background(version: tuple):  # noqa: ANN202  (what web.quality.counts_for does outside tests)
        return cache.get_in_background(("probe",), compute, version=version)

    assert in_background((1,)) is None
    settled()
    assert in_background((1,)) == {"n": 1}
    done.clear()
    assert in_background((2,)) == {"n": 1}  # stale, served
    settled()
    assert in_background((2,)) == {"n": 2}


def test_the_reconciliation_opens_on_the_latest_published_period_even_a_running_one(small_app, settings, tmp_path):
    engine = make_engine(settings.get("database.url"))
    try:
        import_figures(engine, write_csv(tmp_path / "p.csv", [
            "Mã đơn vị;Kỳ;Tiếp nhận;Đúng hạn;Điểm", "T.XA;2026-09;1;1;20", "T.STP;2026-10;9;9;20"]))
    finally:
        engine.dispose()
    page = get_ok(small_app["cchc"], "/scores/reconcile").text  # October, counted on 20/10 10:00
    rows = {key: cells for key, cells in table(page, "reconcile-table")}
    assert "T.STP|2026-10-01" in rows and not any(k.endswith("2026-09-01") for k in rows)
    stp = rows["T.STP|2026-10-01"]
    assert stp[8:11] == ["9", "9", "20,00"] and stp[-1] == "Chưa giải thích được"


def test_a_list_downloads_as_csv_with_labels_and_formulas_neutralised(small_app, settings):
    from sqlalchemy import update

    engine = make_engine(settings.get("database.url"))
    try:
        with engine.begin() as conn:
            conn.execute(update(Unit).where(Unit.code == "T.STP").values(name='=HYPERLINK("http://x","Bấm")'))
    finally:
        engine.dispose()
    resp = get_ok(small_app["cchc"], "/quality/no_due.csv?period=m10&year=2026")
    assert resp.mimetype == "text/csv" and "chat-luong-no-due-20261001-20261020.csv" in resp.headers[
        "Content-Disposition"]
    assert resp.data.startswith("\ufeff".encode())
    got = list(csv.reader(io.StringIO(resp.data.decode("utf-8-sig"))))
    assert got[0][:3] == ["Mã hồ sơ", "Mã đơn vị", "Đơn vị"]
    by_code = {r[0]: r for r in got[1:]}
    assert set(by_code) == {"P-NO-DUE", "P-NO-DUE-SXD"}
    assert by_code["P-NO-DUE"][2] == "'=HYPERLINK(\"http://x\",\"Bấm\")"
    assert not any(cell.startswith(("=", "+", "@")) for row in got for cell in row)
