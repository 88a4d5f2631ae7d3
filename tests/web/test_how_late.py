"""'Overdue by more than N working days' on the overdue list: the cut moment (tracker.open_dossiers.late_cut)
against a count made day by day, and the SQL filter on dossiers due just before and just after
the cut, across a weekend and a holiday."""

from __future__ import annotations

from datetime import datetime, time, timedelta

import pytest

from tracker.config import load_settings
from tracker.models import Dossier, Unit
from tracker.open_dossiers import late_cut
from tracker.users import create_user
from web.lists import ListFilters, overdue_list
from web.scope import Scope

# Wed 29/04/2026: Mon 27/04 is off (Giỗ Tổ Hùng Vương, observed), 25-26/04 a weekend. Three working
# days back: Tue 28, Fri 24, Thu 23 — five calendar days would have reached Fri 24 only.
T = datetime(2026, 4, 29, 10, 0)


@pytest.fixture(scope="module")
def cal():
    return load_settings(env={}).work_calendar()


def working_days_late(cal, due: datetime, t: datetime) -> int:  # noqa: ANN001
    """Date mode, counted one day at a time: the working days in (due's date, t's date]."""
    n, d = 0, due.date() + timedelta(days=1)
    while d <= t.date():
        n += cal.is_working_day(d)
        d += timedelta(days=1)
    return n


@pytest.mark.parametrize("t", [T, datetime(2026, 4, 29, 7, 0), datetime(2026, 4, 29, 12, 15),
                               datetime(2026, 5, 2, 9, 0),  # a Saturday after the 30/04 and 01/05 holidays
                               datetime(2026, 5, 4, 17, 30), datetime(2026, 1, 5, 8, 0)])  # a year's turn
@pytest.mark.parametrize("days", [3, 7, 30])
def test_the_cut_agrees_with_counting(cal, t, days):
    date_cut, instant_cut = late_cut(cal, t, "date", days), late_cut(cal, t, "datetime", days)
    assert date_cut.time() == time(0)
    due = t - timedelta(days=3 * days + 20)
    moments = []
    while due <= t:
        moments.append(due)
        due += timedelta(minutes=30)
    for day in {m.date() for m in moments}:
        moments += [datetime.combine(day, time(h, m)) for h, m in ((7, 0), (11, 30), (13, 30), (17, 0))]
    for due in moments:
        assert (due < date_cut) == (working_days_late(cal, due, t) > days), (due, date_cut)
        late = cal.working_seconds_between(due, t) > days * cal.day_seconds
        assert (due < instant_cut) == late, (due, instant_cut)


def test_the_cut_across_a_weekend_and_a_holiday(cal):
    assert late_cut(cal, T, "date", 3) == datetime(2026, 4, 23)
    assert late_cut(cal, T, "datetime", 3) == datetime(2026, 4, 23, 10, 0)
    assert late_cut(cal, datetime(2026, 4, 29, 7, 0), "datetime", 3) == datetime(2026, 4, 22, 17, 0)
    assert late_cut(cal, datetime(2026, 4, 29, 13, 0), "datetime", 1) == datetime(2026, 4, 28, 11, 30)


DUES = {  # code: due moment
    "WED22-1700": datetime(2026, 4, 22, 17, 0),  # 4 working days late in either mode
    "THU23-0700": datetime(2026, 4, 23, 7, 0),  # date mode: 3 days late; datetime mode: 3 days + 3 hours
    "THU23-0959": datetime(2026, 4, 23, 9, 59),  # just before the instant cut
    "THU23-1000": datetime(2026, 4, 23, 10, 0),  # exactly 3 working days: not more
    "THU23-1001": datetime(2026, 4, 23, 10, 1),  # just after
    "FRI24-1000": datetime(2026, 4, 24, 10, 0),  # 5 calendar days, 2 working days
    "TUE28-1700": datetime(2026, 4, 28, 17, 0),  # overdue, 1 working day
}


@pytest.fixture
def desk(db_url, engine, tmp_path):
    with engine.begin() as conn:
        uid = conn.execute(Unit.__table__.insert().values(code="U1", name="UBND xã A", name_key="ubnd xa a",
                                                          level="xa", digest_recipients="", created_at=T)
                           ).inserted_primary_key[0]
        for code, due in DUES.items():
            conn.execute(Dossier.__table__.insert().values(
                code=code, unit_id=uid, status=4, received_at=datetime(2026, 4, 1, 8), due_at=due, due_used_at=due,
                applicant_name="", applicant_phone="", apology_before_due=False, no_finished_at=False,
                derived_fp="", row_hash="", data_hash="", created_at=T, updated_at=T))
    return db_url


def listed(db_url, engine, tmp_path, comparison: str, how_late: str) -> set[str]:  # noqa: ANN001
    settings = load_settings(env={}, overrides={"database.url": db_url, "paths.var_dir": str(tmp_path / "var"),
                                                "rules.comparison": comparison})
    page = overdue_list(engine, settings, T, Scope("admin", None), ListFilters(how_late=how_late))
    return {r["code"] for r in page.rows}


def test_the_filter_in_sql_date_mode(desk, engine, tmp_path):
    assert listed(desk, engine, tmp_path, "date", "gt3") == {"WED22-1700"}
    assert listed(desk, engine, tmp_path, "date", "overdue") == set(DUES)
    assert listed(desk, engine, tmp_path, "date", "gt30") == set()


def test_the_filter_in_sql_datetime_mode(desk, engine, tmp_path):
    assert listed(desk, engine, tmp_path, "datetime", "gt3") == {"WED22-1700", "THU23-0700", "THU23-0959"}
    assert listed(desk, engine, tmp_path, "datetime", "gt7") == set()


def test_the_page_says_working_days(desk, settings, engine):
    from tests.web.conftest import csrf
    from web import create_app

    create_user(engine, "desk", "reception", "correct horse battery", unit_codes=["U1"])
    app = create_app(settings, testing=True, now=lambda: T)
    try:
        c = app.test_client()
        c.post("/login", data={"username": "desk", "password": "correct horse battery", "csrf_token": csrf(c)})
        html = c.get("/overdue?how_late=gt3").text
        assert '<option value="gt3" selected>Quá hạn trên 3 ngày làm việc</option>' in html
        assert "WED22-1700" in html and "THU23-0700" not in html and "FRI24-1000" not in html
        c.post("/lang", data={"lang": "en", "csrf_token": csrf(c)})
        assert "Overdue by more than 30 working days" in c.get("/overdue").text
    finally:
        app.extensions["tthc_engine"].dispose()
