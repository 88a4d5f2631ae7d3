"""The "Chấm điểm" page shows the 766 score by both methods per unit, their difference, and links
to the dossiers the methods classify differently, each with the portal's reason."""

from __future__ import annotations

import csv
import io
from datetime import date

from tests.web.conftest import NOW
from tests.web.test_reports_pages import YEAR, get_ok, table, vi_value
from tracker.db import make_engine
from tracker.portal766 import portal_disagreements, portal_scores


def _truth(world):
    engine = make_engine(world["url"])
    try:
        return portal_scores(engine, world["settings"], date(2026, 1, 1), date(2026, 11, 20), as_of=NOW), engine
    finally:
        engine.dispose()


def test_scores_show_both_methods_per_unit_and_link_the_differences(client_for, world):
    (units, total), _ = _truth(world)
    page = get_ok(client_for("cchc"), "/scores" + YEAR).text
    rows = dict(table(page, "units-766-methods"))
    assert len(rows) == len(units) + 1
    for u in units:
        cells = rows[u.key]
        assert [vi_value(c) for c in cells[1:4]] == [u.received, u.biểu06_score, u.score], u.key
        assert vi_value(cells[5]) == u.disagree
    assert vi_value(rows["methods-total"][3]) == total.score
    assert total.disagree > 0  # the demo has dossiers stopped after their appointment, at least
    assert "/scores/disagreements?" in page
    # a unit's count links to exactly its own dossiers (not its subtree's)
    u = next(u for u in units if 0 < u.disagree <= 50)
    listed = get_ok(client_for("cchc"), f"/scores/disagreements{YEAR}&unit={u.key}&exact=1").text
    assert len(table(listed, "disagreements")) == u.disagree and 'id="exact-unit"' in listed
    assert f"unit={u.key}&amp;exact=1" in page


def test_the_differences_listed_with_their_reasons_and_exported(client_for, world):
    (_, total), _ = _truth(world)
    c = client_for("cchc")
    page = get_ok(c, "/scores/disagreements" + YEAR).text
    rows = table(page, "disagreements")
    engine = make_engine(world["url"])
    try:
        first = portal_disagreements(engine, world["settings"], date(2026, 1, 1), date(2026, 11, 20), as_of=NOW,
                                     limit=50)
    finally:
        engine.dispose()
    assert [code for code, _ in rows] == [d.code for d in first]
    assert all(d.explain("vi") in page for d in first[:5])
    lines = list(csv.reader(io.StringIO(get_ok(c, "/scores/disagreements.csv" + YEAR).data.decode("utf-8-sig"))))
    assert len(lines) == total.disagree + 1 and lines[0][0] == "Mã hồ sơ"
    # one unit's list holds only that unit's dossiers
    unit = first[0].unit_code
    one = table(get_ok(c, f"/scores/disagreements{YEAR}&unit={unit}").text, "disagreements")
    assert one and {d.unit_code for d in first if d.code in dict(one)} == {unit}


def test_the_differences_are_for_the_scoring_roles_only(client_for, world):
    assert client_for("head").get("/scores/disagreements" + YEAR).status_code == 403
    assert client_for("cchc").get("/scores/disagreements" + YEAR + "&unit=NO.SUCH").status_code == 404
    assert client_for("cchc").get("/scores/disagreements?period=zz").status_code == 400


def test_average_time_per_procedure_on_the_report_and_unit_pages(client_for, world):
    from tracker.portal766 import average_times

    engine = make_engine(world["url"])
    try:
        times = average_times(engine, world["settings"], date(2026, 1, 1), date(2026, 11, 20), as_of=NOW)
    finally:
        engine.dispose()
    assert times and sum(a.finished for a in times) > 0
    page = get_ok(client_for("cchc"), "/reports" + YEAR + "&by=procedure").text
    shown = dict(table(page, "avg-times"))
    assert {k: vi_value(cells[3]) for k, cells in shown.items()} == {a.key: a.working_days for a in times}
    assert 'id="avg-times"' not in get_ok(client_for("cchc"), "/reports" + YEAR).text  # by unit: not shown
    from tests.web.conftest import DEPT

    unit_page = get_ok(client_for("head"), f"/unit/{DEPT}").text
    assert 'id="avg-times"' in unit_page
