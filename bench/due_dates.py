"""Benchmark: computed due dates per second (issue: at least 200,000/s on the dev machine).

    make bench          # or: .venv/bin/python bench/due_dates.py [N]

Receptions are spread over 2025-2027 at any minute of any day (weekends, nights, holidays
included) with the mix of limits a province has; the calendar is the default one.
"""

from __future__ import annotations

import random
import sys
import time
from datetime import datetime, timedelta

from tracker.calendar import WorkCalendar
from tracker.rules import TimeLimit, compute_due

TARGET = 200_000


def main(n: int = 1_000_000) -> int:
    rng = random.Random(1)
    cal = WorkCalendar()
    limits = [TimeLimit(0, "working_days"), TimeLimit(0.5, "working_days"), TimeLimit(3, "working_days"),
              TimeLimit(5, "working_days"), TimeLimit(15, "working_days"), TimeLimit(30, "working_days"),
              TimeLimit(8, "working_hours"), TimeLimit(15, "calendar_days")]
    start = datetime(2025, 1, 1)
    received = [start + timedelta(minutes=rng.randrange(3 * 365 * 24 * 60)) for _ in range(n)]
    picks = [limits[rng.randrange(len(limits))] for _ in range(n)]
    cal.is_working_day(start.date())  # load the calendar outside the timing

    t0 = time.perf_counter()
    for r, lim in zip(received, picks, strict=True):
        compute_due(cal, r, lim)
    elapsed = time.perf_counter() - t0
    rate = n / elapsed
    print(f"due dates:        {n:,}")
    print(f"elapsed:          {elapsed:.2f} s")
    print(f"rate:             {rate:,.0f} due dates/s")
    print(f"target:           {TARGET:,}/s  ->  ratio {rate / TARGET:.2f}x the target")
    return 0


if __name__ == "__main__":
    sys.exit(main(int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000))
