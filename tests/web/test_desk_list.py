"""The desk's overdue list as a person reads it (issue 14): most late first, lateness in working
days, past-the-new-appointment as a badge, no column the user cannot use, a timeline of the dossier."""

from __future__ import annotations

import re
from datetime import datetime

import pytest
from sqlalchemy import delete, select

from tests.web.conftest import DESK, NOW, PASSWORD, csrf
from tracker.config import load_settings
from tracker.db import make_engine
from tracker.open_dossiers import Lateness, lateness
from tracker.users import User, UserUnit, create_user
from web.lists import ListFilters, overdue_list
from web.scope import Scope


@pytest.fixture(scope="module")
def cal():
    return load_settings(env={}).work_calendar()


def test_the_most_late_come_first_whatever_their_new_appointment(world):
    engine = make_engine(world["url"])
    rows = overdue_list(engine, world["settings"], NOW, Scope("admin", None), ListFilters(), page_size=100_000).rows
    engine.dispose()
    dues = [r["due_used_at"] for r in rows]
    assert dues == sorted(dues)
    plain = [r["due_used_at"] for r in rows if not r["past_new"]]
    past_new = [r["due_used_at"] for r in rows if r["past_new"]]
    assert min(plain) < max(past_new)  # the world has a dossier more late than one past its new appointment:
    # sorted by due alone, it comes first; the old order put every past_new dossier above it
    lates = [r["lateness"] for r in rows if r["overdue"]]
    assert all(a.days is None or b.days is None or a.days >= b.days for a, b in zip(lates, lates[1:], strict=False))


def test_lateness_counts_working_days_as_the_filters_do(cal):
    friday = datetime(2026, 11, 20, 10, 0)
    # date mode: due on Monday, on Friday it is 4 working days late (Tue, Wed, Thu, Fri)
    assert lateness(cal, datetime(2026, 11, 16, 16, 0), friday, "date") == Lateness(True, 4, 32.0)
    # datetime mode: office time, rounded up to a tenth of a day (3 h on Friday + 3 full days + 1 h Monday)
    late = lateness(cal, datetime(2026, 11, 16, 16, 0), friday, "datetime")
    assert late.late and late.days == 3.5 and isinstance(late.days, float)
    # under one working day: hours
    assert lateness(cal, datetime(2026, 11, 20, 8, 0), friday, "datetime") == Lateness(True, None, 2.0)
    assert lateness(cal, datetime(2026, 11, 19, 17, 0), friday, "date") == Lateness(True, 1, 8.0)
    # time left: hours under one day, days beyond; date mode, due earlier today: due today
    assert lateness(cal, datetime(2026, 11, 20, 14, 0), friday, "date") == Lateness(False, None, 2.0)
    # Fri 10:00-17:00 5 h, Mon 8 h, (Tue 24/11 a holiday), Wed 07:00-10:00 3 h
    assert lateness(cal, datetime(2026, 11, 25, 10, 0), friday, "date").days == 2.0
    assert lateness(cal, datetime(2026, 11, 20, 8, 0), friday, "date").due_today


def _desk_of_one_unit(world):  # noqa: ANN001, ANN202
    engine = make_engine(world["url"])
    create_user(engine, "desk1", "reception", PASSWORD, unit_codes=[DESK[0]], display_name="Bàn một cửa")
    return engine


def test_a_desk_with_one_unit_gets_no_unit_filter_nor_column(client_for, world):
    engine = _desk_of_one_unit(world)
    try:
        html = client_for("desk1").get("/overdue").text
        assert 'name="unit"' not in html
        header = re.search(r"<thead>(.*?)</thead>", html, re.S).group(1)
        assert "Đơn vị" not in header and "Chủ hồ sơ" in header  # the desk sees names
        two = client_for("reception").get("/overdue").text
        assert 'name="unit"' in two and "Đơn vị" in re.search(r"<thead>(.*?)</thead>", two, re.S).group(1)
    finally:
        with engine.begin() as conn:
            uid = conn.execute(select(User.id).where(User.username == "desk1")).scalar_one()
            conn.execute(delete(UserUnit).where(UserUnit.user_id == uid))
            conn.execute(delete(User).where(User.id == uid))
        engine.dispose()


def test_a_role_that_sees_masked_names_gets_no_name_columns(client_for):
    c = client_for("head")
    html = c.get("/overdue").text
    header = re.search(r"<thead>(.*?)</thead>", html, re.S).group(1)
    assert "Chủ hồ sơ" not in header and "Điện thoại" not in header and "***" not in html
    csv_text = c.get("/overdue.csv").text
    assert "Chủ hồ sơ" not in csv_text.splitlines()[0] and "***" not in csv_text


def test_the_list_and_the_dossier_say_how_late_in_the_same_words(client_for):
    c = client_for("admin")
    html = c.get("/overdue?how_late=gt3").text
    code, words = re.search(r'<a href="/dossier/([^"]+)">[^<]+</a>.*?<td class="r late">([^<]+)</td>', html,
                            re.S).groups()
    assert re.fullmatch(r"trễ \d+(,\d)? ngày làm việc", words)
    page = c.get(f"/dossier/{code}").text
    assert f'<dd id="lateness">{words}</dd>' in page
    assert "giờ làm việc trễ" not in html
    assert 'class="badge past-new-badge"' in c.get("/overdue?how_late=past_new").text
    c.post("/lang", data={"lang": "en", "csrf_token": csrf(c)})
    assert "working days late" in c.get(f"/dossier/{code}").text


def test_the_timeline_tells_the_dossier_not_the_first_import(client_for):
    c = client_for("admin")
    html = c.get("/overdue").text
    code = re.search(r'href="/dossier/([^"]+)"', html).group(1)
    page = c.get(f"/dossier/{code}").text
    timeline = re.search(r'<ol class="timeline">(.*?)</ol>', page, re.S).group(1)
    assert "— →" not in timeline and "Tiếp nhận" in timeline


def test_one_day_is_said_in_the_singular(app):
    from flask import session

    from web.lists import lateness_words

    with app.test_request_context("/"):
        session["lang"] = "en"
        assert lateness_words(Lateness(True, 1, 8.0)) == "1 working day late"
        assert lateness_words(Lateness(True, 4, 32.0)) == "4 working days late"
        assert lateness_words(Lateness(False, None, 2.5)) == "2.5 working hours left"
    with app.test_request_context("/"):
        assert lateness_words(Lateness(True, 3.5, 28.0)) == "trễ 3,5 ngày làm việc"
