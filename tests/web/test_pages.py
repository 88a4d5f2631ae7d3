"""Every page for every persona, and the overdue list checked against tracker.rules.classify."""

from __future__ import annotations

import pytest

from tests.web.conftest import DEPT, NOW, PERSONAS
from tracker.db import make_engine
from tracker.derive import classify_row
from tracker.queries import dossier_rows, limit_versions
from tracker.rules import at_risk_boundary  # noqa: F401  (the list's SQL boundary, checked below)
from web.lists import ListFilters, overdue_list
from web.scope import Scope, mask_name, mask_phone

PAGES = ("/", "/overdue", "/units", "/calendar", "/overdue?how_late=overdue", "/overdue?channel=2",
         "/overdue?how_late=gt3", "/overdue?how_late=past_new", "/overdue?q=000.00", "/overview-missing")


@pytest.mark.parametrize("persona", list(PERSONAS))
def test_every_page_renders_in_both_languages(client_for, persona):
    from tests.web.conftest import csrf

    c = client_for(persona)
    for lang in ("vi", "en"):
        c.post("/lang", data={"lang": lang, "csrf_token": csrf(c)})
        for path in PAGES:
            resp = c.get(path)
            assert resp.status_code == (404 if path == "/overview-missing" else 200), (persona, path)
            assert f'lang="{lang}"' in resp.text


def test_the_list_is_exactly_what_classify_says(world):
    """Overdue and at risk by SQL on stored columns == classify() dossier by dossier (RULES §5)."""
    settings = world["settings"]
    engine = make_engine(world["url"])
    cal, rules = settings.work_calendar(), settings.rule_settings()
    want = {}
    limits = limit_versions(engine)
    for r in dossier_rows(engine):
        c, _ = classify_row(r, NOW, cal, rules, limits)
        if c.cls in ("overdue", "at_risk"):
            want[r["code"]] = (c.cls, "past_rescheduled_due" in c.flags)
    page = overdue_list(engine, settings, NOW, Scope("admin", None), ListFilters(), page_size=100_000)
    got = {r["code"]: ("overdue" if r["overdue"] else "at_risk", r["past_new"]) for r in page.rows}
    engine.dispose()
    assert got == want and len(want) > 10
    dues = [r["due_used_at"] for r in page.rows]
    assert dues == sorted(dues)  # the most late first (tests/web/test_desk_list.py)


def test_filters_narrow_the_list(world):
    settings = world["settings"]
    engine = make_engine(world["url"])
    everything = overdue_list(engine, settings, NOW, Scope("admin", None), ListFilters(), page_size=1000).rows
    for f, keep in [
        (ListFilters(channel="2"), lambda r: r["channel"] == 2),
        (ListFilters(how_late="overdue"), lambda r: r["overdue"]),
        (ListFilters(how_late="at_risk"), lambda r: not r["overdue"]),
        (ListFilters(how_late="past_new"), lambda r: r["past_new"]),
        (ListFilters(unit=DEPT), lambda r: r["unit_code"] == DEPT),
        (ListFilters(q=everything[0]["code"]), lambda r: r["code"] == everything[0]["code"]),
        (ListFilters(field=everything[0]["field_name"]), lambda r: r["field_name"] == everything[0]["field_name"]),
        (ListFilters(procedure=everything[0]["procedure_code"]),
         lambda r: r["procedure_code"] == everything[0]["procedure_code"]),
    ]:
        got = [r["code"] for r in overdue_list(engine, settings, NOW, Scope("admin", None), f, page_size=1000).rows]
        assert got == [r["code"] for r in everything if keep(r)], f
    paged = overdue_list(engine, settings, NOW, Scope("admin", None), ListFilters(page=2), page_size=10)
    assert [r["code"] for r in paged.rows] == [r["code"] for r in everything[10:20]]
    assert paged.pages == -(-len(everything) // 10)
    engine.dispose()


def test_dossier_page_explains_due_class_and_flags(client_for, world):
    c = client_for("admin")
    html = c.get("/overdue?how_late=past_new").text
    code = html.split('href="/dossier/')[1].split('"')[0]
    page = c.get(f"/dossier/{code}").text
    assert "Hạn xử lý được tính thế nào" in page and "Tiếp nhận lúc" in page
    assert "Quá cả ngày hẹn trả mới" in page and 'id="class" class="cls-overdue"' in page
    assert "Diễn biến" in page


def test_overview_unit_and_calendar_pages(client_for):
    c = client_for("head")
    page = c.get("/").text
    assert 'id="count-overdue"' in page and "<svg" in page
    unit = c.get(f"/unit/{DEPT}").text
    assert "Thủ tục theo mức trễ" in unit
    cal = c.get("/calendar?year=2026").text
    assert "02/01/2026" in cal and "10/01/2026" in cal  # the decreed swap the package lacks


def test_masks():
    assert mask_name("Nguyễn Văn An") == "Nguyễn V*** A**"
    assert mask_phone("0912345678") == "09******78"
    assert mask_name("") == "" and mask_phone("") == ""


def test_list_cache_reuses_within_its_time_and_never_in_tests(app):
    from web.cache import Cache

    cache, calls = Cache(), []
    for _ in range(3):
        cache.get(("k",), lambda: calls.append(1), version="v1", max_age=60)
    assert len(calls) == 1
    cache.get(("k",), lambda: calls.append(1), version="v1", max_age=0)
    assert len(calls) == 2
    assert app.config["TTHC_LIST_CACHE_SECONDS"] == 0


def test_first_overview_of_a_process_computes_rates_in_the_background(world):
    import re
    import time

    from tests.web.conftest import PASSWORD, csrf
    from web import create_app

    app = create_app(world["settings"], now=lambda: NOW.replace(minute=1))  # not testing: the real path
    c = app.test_client()
    c.post("/login", data={"username": "cchc", "password": PASSWORD, "csrf_token": csrf(c)})
    first = c.get("/").text
    assert 'id="reports-pending"' in first and 'id="count-overdue"' in first
    for _ in range(200):
        if not app.extensions["tthc_cache"].computing:
            break
        time.sleep(0.05)
    second = c.get("/").text
    assert 'id="reports-pending"' not in second
    assert re.search(r'<span class="n">\d+,\d%</span>', second)
    app.extensions["tthc_engine"].dispose()


def test_the_units_index_shows_each_units_figures(client_for, world):
    """Open, overdue and this month's on-time rate per unit (its own dossiers), as README says."""
    import re

    from tracker.open_dossiers import open_counts

    engine = make_engine(world["url"])
    want = open_counts(engine, world["settings"], NOW, {world["units"][DEPT]})
    engine.dispose()
    page = client_for("admin").get("/units").text
    row = re.search(rf'<tr><td class="depth-\d" translate="no"><a href="/unit/{re.escape(DEPT)}">.*?</tr>', page, re.S)
    cells = re.findall(r'<td class="r">(.*?)</td>', row.group(0), re.S)
    assert re.sub(r"<[^>]+>", "", cells[0]) == str(want["in_progress"])
    assert re.sub(r"<[^>]+>", "", cells[1]) == str(want["overdue"])
    assert re.fullmatch(r"\d+,\d%|—", cells[2])
