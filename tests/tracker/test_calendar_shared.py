"""One WorkCalendar shared by a process: positions stay put as years load, and threads agree."""

from __future__ import annotations

import random
import threading
from datetime import date, datetime, timedelta

import pytest

from tracker.calendar import FIRST_YEAR, OutOfCalendar, WorkCalendar


def test_positions_do_not_move_when_earlier_or_later_years_load():
    cal = WorkCalendar()
    a, b = datetime(2026, 3, 2, 9, 0), datetime(2026, 3, 9, 14, 0)
    pa, pb = cal.position(a), cal.position(b)
    assert cal.is_working_day(date(2001, 1, 2))  # loads 1999..2028: the first day loaded moves back 25 years
    assert cal.is_working_day(date(2090, 1, 3))
    assert (cal.position(a), cal.position(b)) == (pa, pb)
    assert cal.moment(pa, prefer_end=False) == a and cal.moment(pb, prefer_end=False) == b
    assert cal.position(datetime(2001, 1, 2, 7, 0)) < 0  # before the first day it loaded


def test_counting_back_loads_the_years_it_needs():
    cal = WorkCalendar()
    t = datetime(2026, 6, 1, 8, 0)
    back = cal.latest_within(t, -3000 * cal.day_seconds)  # about 12 years of working days before
    assert back.year == 2014
    assert cal.working_seconds_between(back, t) == 3000 * cal.day_seconds
    with pytest.raises(OutOfCalendar, match=f"before {FIRST_YEAR}"):
        WorkCalendar().latest_within(datetime(1903, 1, 5, 8, 0), -2000 * cal.day_seconds)


def test_threads_sharing_one_calendar_count_as_a_calendar_of_their_own():
    rng = random.Random(7)
    pairs = []
    for _ in range(400):  # years spread out, so the threads load spans while the others count
        a = datetime(rng.randint(1950, 2090), rng.randint(1, 12), rng.randint(1, 28), rng.randint(0, 23))
        pairs.append((a, a + timedelta(days=rng.randint(0, 900), hours=rng.randint(0, 23))))
    expected = [WorkCalendar().working_seconds_between(a, b) for a, b in pairs]
    shared = WorkCalendar()
    got: list[list[int]] = []
    start = threading.Barrier(4)

    def count() -> None:
        start.wait()
        got.append([shared.working_seconds_between(a, b) for a, b in pairs])

    threads = [threading.Thread(target=count) for _ in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert len(got) == 4 and all(g == expected for g in got)
