"""The CCHC summary warns from 1 October while next year has no decreed day (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import date

from jobs.digest import build_digests
from tests.jobs.conftest import DIGEST_DAY, make_settings
from tracker.calendar_days import add_day

WARNING = "Lịch làm việc năm 2027 chưa có ngày nghỉ, ngày làm bù theo quyết định"


def summary(engine, settings, day):  # noqa: ANN001, ANN201
    run = build_digests(engine, settings, day)
    return next(d for d in run.digests if d.kind == "cchc").rendered


def test_the_cchc_summary_warns_until_next_years_days_are_entered(province, db_url, tmp_path):
    settings = make_settings(db_url, tmp_path)
    rendered = summary(province, settings, DIGEST_DAY)  # 25/11/2026
    assert f"CHÚ Ý: {WARNING}" in rendered.text
    assert WARNING in rendered.html
    september = summary(province, settings, date(2026, 9, 30))
    assert WARNING not in september.text and WARNING not in september.html
    unit = next(d for d in build_digests(province, settings, DIGEST_DAY).digests if d.kind == "unit")
    assert WARNING not in unit.rendered.text  # the units' digests do not carry it

    add_day(province, date(2027, 2, 8), "off", "Thông báo 1/TB-VPCP", actor="admin")
    assert WARNING not in summary(province, settings, DIGEST_DAY).text
