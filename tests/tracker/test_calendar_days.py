"""Decreed days admins enter (tracker.calendar_days): applied over the shipped table and the settings,
logged, part of the calendar's fingerprint; the dossiers they touch are recomputed and counted."""

from __future__ import annotations

import json
from datetime import date, datetime

import pytest
from sqlalchemy import select

from tests.conftest import write_export
from tracker.calendar import WorkCalendar
from tracker.calendar_days import (
    CalendarDayError,
    add_day,
    attach,
    coverage,
    entered_days,
    recompute,
    remove_day,
    warning_text,
)
from tracker.config import load_settings
from tracker.derive import stale_count
from tracker.ingest import import_file
from tracker.models import Dossier
from tracker.users import AdminEvent

DECREE = "Thông báo 123/TB-VPCP"


def load(engine, settings, tmp_path) -> None:  # noqa: ANN001
    """Three dossiers without a recorded appointment (the due is computed): two cross Tue 2/3/2027."""
    rows = [["1", code, "1.001", "Đăng ký khai sinh", "Hộ tịch", "UBND xã An Bình", "", "", "Trực tiếp",
             received, "", "", "", "Đang xử lý", "3 ngày làm việc"]
            for code, received in [("A", "01/03/2027 08:00"), ("B", "26/02/2027 08:00"), ("C", "04/01/2027 08:00")]]
    res = import_file(engine, settings, write_export(tmp_path / "e.csv", rows))
    assert res.rejected == 0, res.rejections


def dues(engine) -> dict[str, datetime]:  # noqa: ANN001
    with engine.connect() as conn:
        return dict(conn.execute(select(Dossier.code, Dossier.computed_due_at)).all())


def test_a_decreed_day_off_moves_the_dossiers_it_touches_and_removing_it_moves_them_back(engine, settings, tmp_path):
    load(engine, settings, tmp_path)
    before = dues(engine)
    assert (before["A"], before["B"]) == (datetime(2027, 3, 4, 8, 0), datetime(2027, 3, 3, 8, 0))
    fp = settings.fingerprint()

    add_day(engine, date(2027, 3, 2), "off", DECREE, note="Nghỉ bù", actor="admin")
    n, moved = recompute(engine, settings, [date(2027, 3, 2)])
    assert (n, moved) == (2, 2)  # the two dossiers open across 2/3 recomputed; C only re-stamped
    after = dues(engine)
    assert after["C"] == before["C"]
    assert (after["A"], after["B"]) == (datetime(2027, 3, 5, 8, 0), datetime(2027, 3, 4, 8, 0))
    assert settings.fingerprint() != fp
    assert settings.work_calendar().day_reason(date(2027, 3, 2)) == f"Nghỉ bù ({DECREE})"

    # another process (the CLI, another gunicorn worker) sees the same calendar once it attaches
    other = load_settings(env={}, overrides={"database.url": str(engine.url.render_as_string(hide_password=False)),
                                             "paths.var_dir": str(tmp_path / "var")})
    assert stale_count(engine, other.fingerprint()) == 3
    attach(other, engine)
    assert stale_count(engine, other.fingerprint()) == 0

    assert_nothing_else_moves(engine, settings)

    assert remove_day(engine, date(2027, 3, 2), actor="admin") is True
    assert recompute(engine, settings, [date(2027, 3, 2)]) == (2, 2)
    assert_nothing_else_moves(engine, settings)
    assert dues(engine) == before
    assert settings.fingerprint() == fp  # no entered day: the fingerprint the deployment had
    assert remove_day(engine, date(2027, 3, 2), actor="admin") is False

    with engine.connect() as conn:
        events = conn.execute(select(AdminEvent.actor, AdminEvent.action, AdminEvent.target, AdminEvent.detail)
                              .order_by(AdminEvent.id)).all()
    assert [(a, act, t, json.loads(d)) for a, act, t, d in events] == [
        ("admin", "calendar_day_added", "2027-03-02", {"kind": "off", "reference": DECREE}),
        ("admin", "calendar_day_removed", "2027-03-02", {"kind": "off", "reference": DECREE})]


def assert_nothing_else_moves(engine, settings) -> None:  # noqa: ANN001
    """What the targeted recompute left alone is what a full one computes."""
    from tracker.derive import refresh_derived

    stats: dict[str, int] = {}
    refresh_derived(engine, settings.work_calendar(), settings.rule_settings(), settings.fingerprint(),
                    all_rows=True, stats=stats)
    assert stats == {"moved": 0}


def test_targeted_recompute_agrees_with_a_full_one_on_many_dossiers(engine, settings, tmp_path):
    """Dossiers received every day of two months, with and without recorded dues, finished or not:
    a make-up Saturday and a day off entered, then removed; each time a full recompute changes nothing."""
    from datetime import timedelta

    rows = []
    start = datetime(2027, 2, 1, 9, 30)
    for i in range(120):
        received = start + timedelta(hours=11 * i)
        due = (received + timedelta(days=4)).strftime("%d/%m/%Y %H:%M") if i % 3 == 0 else ""
        finished = (received + timedelta(days=i % 9)).strftime("%d/%m/%Y %H:%M") if i % 2 else ""
        rows.append(["1", f"M{i}", "1.001", "Đăng ký khai sinh", "Hộ tịch", "UBND xã An Bình", "", "", "Trực tiếp",
                     received.strftime("%d/%m/%Y %H:%M"), due, finished, finished,
                     "Đã trả kết quả" if finished else "Đang xử lý", f"{1 + i % 5} ngày làm việc"])
    assert import_file(engine, settings, write_export(tmp_path / "m.csv", rows)).rejected == 0
    total_moved = 0
    for day, kind in ((date(2027, 3, 2), "off"), (date(2027, 2, 20), "work")):
        add_day(engine, day, kind, DECREE, actor="admin")
        n, moved = recompute(engine, settings, [day])
        assert 0 < moved <= n < 120
        total_moved += moved
        assert_nothing_else_moves(engine, settings)
    for day in (date(2027, 3, 2), date(2027, 2, 20)):
        remove_day(engine, day, actor="admin")
        recompute(engine, settings, [day])
        assert_nothing_else_moves(engine, settings)
    assert total_moved > 10


def test_a_make_up_saturday_is_a_working_day(engine, settings):
    add_day(engine, date(2027, 3, 6), "work", DECREE, actor="admin")
    attach(settings, engine)
    cal = settings.work_calendar()
    assert cal.is_working_day(date(2027, 3, 6))
    assert cal.day_reason(date(2027, 3, 6)) == f"Làm bù theo quyết định ({DECREE})"
    assert [e.kind for e in cal.year_days(2027) if e.date == date(2027, 3, 6)] == ["work"]
    assert entered_days(engine)[0]["created_by"] == "admin"


def test_entered_days_apply_over_the_settings(engine, tmp_path, db_url):
    settings = load_settings(env={}, overrides={"database.url": db_url, "paths.var_dir": str(tmp_path / "var"),
                                                "calendar.extra_workdays": ["2027-03-06: theo cấu hình"]})
    add_day(engine, date(2027, 3, 6), "work", DECREE, actor="admin")
    attach(settings, engine)
    assert settings.work_calendar().day_reason(date(2027, 3, 6)) == f"Làm bù theo quyết định ({DECREE})"


@pytest.mark.parametrize(("day", "kind", "reference", "reason", "message"), [
    (date(2027, 3, 6), "off", DECREE, "off_weekend", "2027-03-06 is a Saturday: a day off is a weekday"),
    (date(2027, 3, 5), "work", DECREE, "work_weekday", "a make-up working day is a Saturday or Sunday"),
    (date(2027, 3, 5), "off", "  ", "no_reference", "reference: the decree or notice is needed"),
    (date(2027, 3, 5), "holiday", DECREE, "bad_kind", "kind 'holiday': expected one of off, work"),
    (date(2027, 3, 5), "off", "x" * 201, "too_long", "reference at most 200 characters"),
])
def test_refused_entries_say_why(engine, day, kind, reference, reason, message):
    with pytest.raises(CalendarDayError, match=message) as exc:
        add_day(engine, day, kind, reference, actor="admin")
    assert exc.value.reason == reason
    assert entered_days(engine) == []


def test_the_same_date_twice_is_refused(engine):
    add_day(engine, date(2027, 3, 5), "off", DECREE, actor="admin")
    with pytest.raises(CalendarDayError, match="2027-03-05: already entered; remove it first"):
        add_day(engine, date(2027, 3, 5), "off", "another", actor="admin")
    assert len(entered_days(engine)) == 1


def test_next_years_coverage_and_the_warning_from_the_first_of_october(engine, settings):
    assert coverage(engine, settings, date(2025, 12, 1)).confirmed > 0  # 2026 is in the shipped table
    assert coverage(engine, settings, date(2026, 9, 30)).warn is False
    c = coverage(engine, settings, date(2026, 10, 1))
    assert (c.year, c.confirmed, c.warn) == (2027, 0, True)
    assert warning_text(engine, settings, date(2026, 12, 31)).startswith("Lịch làm việc năm 2027 chưa có ngày nghỉ")
    assert warning_text(engine, settings, date(2026, 9, 1)) is None
    add_day(engine, date(2027, 2, 8), "off", DECREE, actor="admin")
    assert coverage(engine, settings, date(2026, 10, 1)).warn is False
    assert warning_text(engine, settings, date(2026, 10, 1)) is None


def test_the_calendar_fingerprint_includes_entered_days_only_when_there_are_some():
    plain = WorkCalendar()
    assert WorkCalendar(db_days={}).fingerprint() == plain.fingerprint()
    assert WorkCalendar(db_days={date(2027, 3, 2): ("off", "x")}).fingerprint() != plain.fingerprint()
    assert WorkCalendar(db_days={date(2027, 3, 2): ("off", "x")}).fingerprint() != WorkCalendar(
        db_days={date(2027, 3, 3): ("off", "x")}).fingerprint()


def test_tthc_calendar_and_due_include_entered_days(engine, db_url, tmp_path, capsys):
    from cli.main import main

    cfg = tmp_path / "tthc.toml"
    cfg.write_text(f'[database]\nurl = "{db_url}"\n[paths]\nvar_dir = "{tmp_path / "var"}"\n', encoding="utf-8")
    add_day(engine, date(2027, 3, 2), "off", DECREE, actor="admin")
    assert main(["--config", str(cfg), "calendar", "--year", "2027", "--format", "csv"]) == 0
    assert f"2027-03-02,Tue,off,Nghỉ theo quyết định ({DECREE})" in capsys.readouterr().out
    assert main(["--config", str(cfg), "due", "--received", "2027-03-01 08:00", "--limit", "3 ngày làm việc"]) == 0
    assert capsys.readouterr().out.startswith("2027-03-05 08:00")


def test_tthc_due_without_a_database_creates_none(tmp_path, capsys):
    from cli.main import main

    cfg = tmp_path / "tthc.toml"
    cfg.write_text(f'[database]\nurl = "sqlite:///{tmp_path / "db" / "t.db"}"\n', encoding="utf-8")
    assert main(["--config", str(cfg), "due", "--received", "2027-03-01 08:00", "--limit", "3 ngày làm việc"]) == 0
    assert capsys.readouterr().out.startswith("2027-03-04 08:00")
    assert not (tmp_path / "db").exists()
