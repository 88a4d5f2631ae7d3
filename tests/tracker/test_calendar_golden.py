"""Golden tables for the working calendar (RULES.md §3 and §4.1–4.3).

Every expected value here was computed by hand from RULES.md and the holiday facts of
the `holidays` package (Vietnam) plus the product's decreed table; none comes from running
the implementation. Default office sessions: 07:00–11:30 and 13:30–17:00, half-open,
8 working hours a day.

Handy calendar facts (2025/2026):
  2025: Wed 1 Jan off; Tết Mon 27 – Fri 31 Jan off (Sat 1 Feb too); Mon 7 Apr off;
        Sat 26 Apr WORKED; Wed 30 Apr, Thu 1 May, Fri 2 May off; Mon 1, Tue 2 Sep off.
  2026: Thu 1 Jan off; Fri 2 Jan off and Sat 10 Jan WORKED (decreed table only);
        Tết Mon 16 – Fri 20 Feb off; Mon 27 Apr off; Thu 30 Apr, Fri 1 May off;
        Sat 22 Aug WORKED; Mon 31 Aug, Tue 1 Sep, Wed 2 Sep off;
        Tue 24 Nov off by default (culture_day=False makes it a working day).
"""

from __future__ import annotations

from datetime import date, datetime, time

import pytest

from tracker.calendar import Session, WorkCalendar

P = pytest.param

DEFAULT = WorkCalendar()
NO_CULTURE_DAY = WorkCalendar(culture_day=False)
# A province with 07:30–11:30 and 13:00–16:30: 4 h + 3.5 h = 7.5 working hours a day.
CUSTOM = WorkCalendar(
    sessions=(Session(time(7, 30), time(11, 30)), Session(time(13, 0), time(16, 30)))
)


def dt(y, mo, d, h=0, mi=0, s=0):
    return datetime(y, mo, d, h, mi, s)


# ---------------------------------------------------------------------------
# Working days (default calendar)
# ---------------------------------------------------------------------------

WORKING_DAY_TABLE = [
    # 2025
    P(date(2025, 1, 1), False, id="2025-01-01 Wed Tết Dương lịch nghỉ"),
    P(date(2025, 1, 2), True, id="2025-01-02 Thu ngày thường"),
    P(date(2025, 1, 24), True, id="2025-01-24 Fri trước Tết làm"),
    P(date(2025, 1, 27), False, id="2025-01-27 Mon Tết nghỉ"),
    P(date(2025, 1, 28), False, id="2025-01-28 Tue Tết nghỉ"),
    P(date(2025, 1, 29), False, id="2025-01-29 Wed mùng 1 Tết"),
    P(date(2025, 1, 30), False, id="2025-01-30 Thu Tết nghỉ"),
    P(date(2025, 1, 31), False, id="2025-01-31 Fri Tết nghỉ"),
    P(date(2025, 2, 1), False, id="2025-02-01 Sat Tết (weekend)"),
    P(date(2025, 2, 3), True, id="2025-02-03 Mon đi làm lại sau Tết"),
    P(date(2025, 4, 7), False, id="2025-04-07 Mon Giỗ Tổ Hùng Vương"),
    P(date(2025, 4, 26), True, id="2025-04-26 Sat làm bù"),
    P(date(2025, 4, 30), False, id="2025-04-30 Wed 30/4"),
    P(date(2025, 5, 1), False, id="2025-05-01 Thu 1/5"),
    P(date(2025, 5, 2), False, id="2025-05-02 Fri nghỉ bù (đổi ngày)"),
    P(date(2025, 5, 3), False, id="2025-05-03 Sat thường nghỉ"),
    P(date(2025, 5, 5), True, id="2025-05-05 Mon đi làm lại"),
    P(date(2025, 9, 1), False, id="2025-09-01 Mon Quốc khánh (ngày liền kề)"),
    P(date(2025, 9, 2), False, id="2025-09-02 Tue Quốc khánh"),
    P(date(2025, 9, 3), True, id="2025-09-03 Wed ngày thường"),
    P(date(2025, 9, 6), False, id="2025-09-06 Sat thường"),
    P(date(2025, 9, 7), False, id="2025-09-07 Sun thường"),
    # 2026
    P(date(2025, 12, 31), True, id="2025-12-31 Wed cuối năm làm"),
    P(date(2026, 1, 1), False, id="2026-01-01 Thu Tết Dương lịch"),
    P(date(2026, 1, 2), False, id="2026-01-02 Fri nghỉ theo bảng quyết định"),
    P(date(2026, 1, 3), False, id="2026-01-03 Sat thường nghỉ"),
    P(date(2026, 1, 4), False, id="2026-01-04 Sun"),
    P(date(2026, 1, 5), True, id="2026-01-05 Mon đi làm"),
    P(date(2026, 1, 10), True, id="2026-01-10 Sat làm bù theo bảng quyết định"),
    P(date(2026, 1, 11), False, id="2026-01-11 Sun"),
    P(date(2026, 1, 17), False, id="2026-01-17 Sat thường"),
    P(date(2026, 2, 13), True, id="2026-02-13 Fri trước Tết làm"),
    P(date(2026, 2, 16), False, id="2026-02-16 Mon Tết nghỉ"),
    P(date(2026, 2, 17), False, id="2026-02-17 Tue mùng 1 Tết"),
    P(date(2026, 2, 18), False, id="2026-02-18 Wed Tết nghỉ"),
    P(date(2026, 2, 19), False, id="2026-02-19 Thu Tết nghỉ"),
    P(date(2026, 2, 20), False, id="2026-02-20 Fri Tết nghỉ"),
    P(date(2026, 2, 23), True, id="2026-02-23 Mon đi làm lại sau Tết"),
    P(date(2026, 3, 11), True, id="2026-03-11 Wed ngày thường"),
    P(date(2026, 3, 14), False, id="2026-03-14 Sat thường"),
    P(date(2026, 3, 15), False, id="2026-03-15 Sun thường"),
    P(date(2026, 4, 26), False, id="2026-04-26 Sun Giỗ Tổ (rơi CN)"),
    P(date(2026, 4, 27), False, id="2026-04-27 Mon nghỉ bù Giỗ Tổ"),
    P(date(2026, 4, 28), True, id="2026-04-28 Tue ngày thường"),
    P(date(2026, 4, 30), False, id="2026-04-30 Thu 30/4"),
    P(date(2026, 5, 1), False, id="2026-05-01 Fri 1/5"),
    P(date(2026, 5, 4), True, id="2026-05-04 Mon đi làm lại"),
    P(date(2026, 8, 22), True, id="2026-08-22 Sat làm bù"),
    P(date(2026, 8, 29), False, id="2026-08-29 Sat thường"),
    P(date(2026, 8, 31), False, id="2026-08-31 Mon nghỉ (đổi ngày)"),
    P(date(2026, 9, 1), False, id="2026-09-01 Tue Quốc khánh"),
    P(date(2026, 9, 2), False, id="2026-09-02 Wed Quốc khánh"),
    P(date(2026, 9, 3), True, id="2026-09-03 Thu đi làm lại"),
    P(date(2026, 11, 23), True, id="2026-11-23 Mon ngày thường"),
    P(date(2026, 11, 24), False, id="2026-11-24 Tue Ngày Văn hóa VN (mặc định nghỉ)"),
    P(date(2026, 11, 25), True, id="2026-11-25 Wed ngày thường"),
]


@pytest.mark.parametrize("d, expected", WORKING_DAY_TABLE)
def test_is_working_day_default(d, expected):
    assert DEFAULT.is_working_day(d) is expected


@pytest.mark.parametrize("d, expected", WORKING_DAY_TABLE)
def test_is_working_day_custom_sessions_same_days(d, expected):
    # Sessions change hours, not days.
    assert CUSTOM.is_working_day(d) is expected


@pytest.mark.parametrize(
    "d, expected",
    [
        P(date(2026, 11, 24), True, id="culture_day=False: 24/11/2026 là ngày làm việc"),
        P(date(2027, 11, 24), True, id="culture_day=False: 24/11/2027 (Wed) làm việc"),
        P(date(2026, 11, 21), False, id="culture_day=False: Sat 21/11 vẫn nghỉ"),
        P(date(2026, 9, 2), False, id="culture_day=False: 2/9 vẫn nghỉ"),
        P(date(2026, 1, 2), False, id="culture_day=False: 2/1/2026 vẫn nghỉ"),
    ],
)
def test_is_working_day_culture_day_off(d, expected):
    assert NO_CULTURE_DAY.is_working_day(d) is expected


def test_culture_day_default_2027_is_off():
    # Package lists 24 Nov from 2026; Wed 24 Nov 2027 is off by default.
    assert DEFAULT.is_working_day(date(2027, 11, 24)) is False


@pytest.mark.parametrize(
    "d, expected",
    [
        # The decreed table is the only source of these two; without it the package rules apply.
        P(date(2026, 1, 2), True, id="decreed=False: Fri 2/1/2026 là ngày làm việc"),
        P(date(2026, 1, 10), False, id="decreed=False: Sat 10/1/2026 nghỉ"),
        P(date(2026, 1, 1), False, id="decreed=False: 1/1/2026 vẫn nghỉ (gói holidays)"),
        P(date(2026, 2, 17), False, id="decreed=False: Tết 2026 vẫn nghỉ (gói holidays)"),
    ],
)
def test_is_working_day_without_decreed_table(d, expected):
    assert WorkCalendar(decreed=False).is_working_day(d) is expected


OVERRIDE_TABLE = [
    P(
        dict(extra_holidays={date(2026, 3, 11): "Ngày thành lập tỉnh"}),
        date(2026, 3, 11),
        False,
        "Ngày thành lập tỉnh",
        id="extra_holidays: Wed 11/3/2026 nghỉ",
    ),
    P(
        dict(extra_holidays={date(2026, 3, 11): "Ngày thành lập tỉnh"}),
        date(2026, 3, 12),
        True,
        None,
        id="extra_holidays: ngày bên cạnh không đổi",
    ),
    P(
        dict(removed_holidays=[date(2026, 4, 30)]),
        date(2026, 4, 30),
        True,
        None,
        id="removed_holidays: Thu 30/4/2026 thành ngày làm việc",
    ),
    P(
        dict(removed_holidays=[date(2026, 4, 30)]),
        date(2026, 5, 1),
        False,
        "*",
        id="removed_holidays: 1/5 vẫn nghỉ",
    ),
    P(
        dict(removed_holidays=(date(2026, 1, 2),)),
        date(2026, 1, 2),
        True,
        None,
        id="removed_holidays: bỏ ngày nghỉ theo bảng quyết định 2/1/2026",
    ),
    P(
        dict(extra_workdays={date(2026, 3, 14): "Làm bù theo quyết định UBND tỉnh"}),
        date(2026, 3, 14),
        True,
        "Làm bù theo quyết định UBND tỉnh",
        id="extra_workdays: Sat 14/3/2026 làm bù",
    ),
    P(
        dict(extra_workdays={date(2026, 3, 14): "Làm bù theo quyết định UBND tỉnh"}),
        date(2026, 3, 21),
        False,
        None,
        id="extra_workdays: Sat khác vẫn nghỉ",
    ),
]


@pytest.mark.parametrize("kwargs, d, expected, reason", OVERRIDE_TABLE)
def test_settings_overrides(kwargs, d, expected, reason):
    cal = WorkCalendar(**kwargs)
    assert cal.is_working_day(d) is expected
    got = cal.day_reason(d)
    if reason is None:
        assert got is None
    elif reason == "*":
        assert got  # some non-empty reason
    else:
        assert got and reason in got


@pytest.mark.parametrize(
    "d",
    [
        P(date(2026, 1, 1), id="1/1/2026 nghỉ"),
        P(date(2026, 1, 2), id="2/1/2026 nghỉ (bảng quyết định)"),
        P(date(2026, 1, 10), id="Sat 10/1/2026 làm bù"),
        P(date(2026, 2, 17), id="Tết 2026"),
        P(date(2026, 4, 27), id="nghỉ bù Giỗ Tổ 2026"),
        P(date(2026, 8, 22), id="Sat 22/8/2026 làm bù"),
        P(date(2026, 8, 31), id="Mon 31/8/2026 nghỉ"),
        P(date(2026, 11, 24), id="24/11/2026 Ngày Văn hóa"),
        P(date(2025, 4, 26), id="Sat 26/4/2025 làm bù"),
        P(date(2025, 5, 2), id="Fri 2/5/2025 nghỉ"),
    ],
)
def test_day_reason_non_empty_for_special_days(d):
    reason = DEFAULT.day_reason(d)
    assert isinstance(reason, str) and reason.strip()


@pytest.mark.parametrize(
    "cal, d",
    [
        P(DEFAULT, date(2026, 3, 11), id="Wed thường -> None"),
        P(DEFAULT, date(2026, 3, 14), id="Sat thường -> None"),
        P(DEFAULT, date(2026, 3, 15), id="Sun thường -> None"),
        P(NO_CULTURE_DAY, date(2026, 11, 24), id="culture_day=False: 24/11 -> None"),
    ],
)
def test_day_reason_none_for_ordinary_days(cal, d):
    assert cal.day_reason(d) is None


# ---------------------------------------------------------------------------
# next_working_day
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "cal, d, expected",
    [
        P(DEFAULT, date(2026, 3, 11), date(2026, 3, 12), id="Wed -> Thu"),
        P(DEFAULT, date(2026, 3, 13), date(2026, 3, 16), id="Fri -> Mon"),
        P(DEFAULT, date(2026, 3, 14), date(2026, 3, 16), id="Sat -> Mon"),
        P(DEFAULT, date(2026, 1, 9), date(2026, 1, 10), id="Fri 9/1/2026 -> Sat 10/1 làm bù"),
        P(DEFAULT, date(2025, 12, 31), date(2026, 1, 5), id="31/12/2025 -> Mon 5/1/2026"),
        P(DEFAULT, date(2026, 2, 13), date(2026, 2, 23), id="trước Tết 2026 -> 23/2"),
        P(DEFAULT, date(2026, 8, 21), date(2026, 8, 22), id="Fri 21/8/2026 -> Sat 22/8 làm bù"),
        P(DEFAULT, date(2026, 8, 28), date(2026, 9, 3), id="Fri 28/8/2026 -> Thu 3/9"),
        P(DEFAULT, date(2025, 4, 29), date(2025, 5, 5), id="Tue 29/4/2025 -> Mon 5/5"),
        P(DEFAULT, date(2025, 4, 25), date(2025, 4, 26), id="Fri 25/4/2025 -> Sat 26/4 làm bù"),
        P(DEFAULT, date(2025, 1, 24), date(2025, 2, 3), id="trước Tết 2025 -> 3/2"),
        P(DEFAULT, date(2026, 11, 23), date(2026, 11, 25), id="Mon 23/11/2026 -> Wed 25/11"),
        P(
            NO_CULTURE_DAY,
            date(2026, 11, 23),
            date(2026, 11, 24),
            id="culture_day=False -> Tue 24/11",
        ),
    ],
)
def test_next_working_day(cal, d, expected):
    assert cal.next_working_day(d) == expected


# ---------------------------------------------------------------------------
# effective_start (RULES §4.1)
# ---------------------------------------------------------------------------

EFFECTIVE_START_TABLE = [
    # Wed 11 Mar 2026 is an ordinary working day; Thu 12 Mar too.
    P(DEFAULT, dt(2026, 3, 11, 9, 15), dt(2026, 3, 11, 9, 15), id="trong phiên sáng -> giữ nguyên"),
    P(DEFAULT, dt(2026, 3, 11, 0, 0), dt(2026, 3, 11, 7, 0), id="nửa đêm -> 07:00 cùng ngày"),
    P(DEFAULT, dt(2026, 3, 11, 6, 0), dt(2026, 3, 11, 7, 0), id="06:00 trước giờ mở cửa -> 07:00"),
    P(DEFAULT, dt(2026, 3, 11, 7, 0), dt(2026, 3, 11, 7, 0), id="đúng 07:00 -> 07:00"),
    P(
        DEFAULT,
        dt(2026, 3, 11, 11, 29, 59),
        dt(2026, 3, 11, 11, 29, 59),
        id="11:29:59 còn trong phiên",
    ),
    P(DEFAULT, dt(2026, 3, 11, 11, 30), dt(2026, 3, 11, 13, 30), id="đúng 11:30 -> 13:30 (nửa mở)"),
    P(DEFAULT, dt(2026, 3, 11, 12, 0), dt(2026, 3, 11, 13, 30), id="nghỉ trưa 12:00 -> 13:30"),
    P(DEFAULT, dt(2026, 3, 11, 13, 30), dt(2026, 3, 11, 13, 30), id="đúng 13:30 -> 13:30"),
    P(
        DEFAULT,
        dt(2026, 3, 11, 16, 59, 59),
        dt(2026, 3, 11, 16, 59, 59),
        id="16:59:59 còn trong phiên",
    ),
    P(DEFAULT, dt(2026, 3, 11, 17, 0), dt(2026, 3, 12, 7, 0), id="đúng 17:00 -> 07:00 hôm sau"),
    P(DEFAULT, dt(2026, 3, 11, 20, 0), dt(2026, 3, 12, 7, 0), id="20:00 sau giờ -> 07:00 hôm sau"),
    P(DEFAULT, dt(2026, 3, 11, 23, 59, 59), dt(2026, 3, 12, 7, 0), id="23:59:59 -> 07:00 hôm sau"),
    P(DEFAULT, dt(2026, 3, 13, 17, 30), dt(2026, 3, 16, 7, 0), id="Fri 17:30 -> Mon 07:00"),
    P(DEFAULT, dt(2026, 3, 14, 10, 0), dt(2026, 3, 16, 7, 0), id="Saturday -> Mon 07:00"),
    P(DEFAULT, dt(2026, 3, 15, 6, 0), dt(2026, 3, 16, 7, 0), id="Sunday 06:00 -> Mon 07:00"),
    P(DEFAULT, dt(2026, 4, 30, 9, 0), dt(2026, 5, 4, 7, 0), id="lễ 30/4/2026 -> Mon 4/5 07:00"),
    P(
        DEFAULT,
        dt(2026, 2, 13, 17, 30),
        dt(2026, 2, 23, 7, 0),
        id="chiều trước Tết 2026 17:30 -> Mon 23/2 07:00",
    ),
    P(DEFAULT, dt(2026, 2, 18, 9, 0), dt(2026, 2, 23, 7, 0), id="trong Tết 2026 -> 23/2 07:00"),
    P(
        DEFAULT,
        dt(2026, 1, 9, 17, 30),
        dt(2026, 1, 10, 7, 0),
        id="Fri 9/1/2026 17:30 -> Sat 10/1 07:00 làm bù",
    ),
    P(DEFAULT, dt(2026, 1, 10, 8, 0), dt(2026, 1, 10, 8, 0), id="trong giờ Sat 10/1/2026 làm bù"),
    # Thu 1 Jan off, Fri 2 Jan off (decreed), Sat 3 Jan not worked, Sun 4 Jan.
    P(DEFAULT, dt(2026, 1, 1, 10, 0), dt(2026, 1, 5, 7, 0), id="Thu 1/1/2026 -> Mon 5/1 07:00"),
    P(
        DEFAULT,
        dt(2025, 12, 31, 17, 0),
        dt(2026, 1, 5, 7, 0),
        id="31/12/2025 17:00 -> Mon 5/1/2026",
    ),
    P(
        DEFAULT,
        dt(2026, 8, 21, 18, 0),
        dt(2026, 8, 22, 7, 0),
        id="Fri 21/8/2026 18:00 -> Sat 22/8 làm bù",
    ),
    P(DEFAULT, dt(2025, 1, 24, 17, 0), dt(2025, 2, 3, 7, 0), id="trước Tết 2025 17:00 -> Mon 3/2"),
    P(
        DEFAULT,
        dt(2025, 4, 25, 17, 0),
        dt(2025, 4, 26, 7, 0),
        id="Fri 25/4/2025 -> Sat 26/4 làm bù",
    ),
    P(
        DEFAULT,
        dt(2025, 8, 29, 17, 0),
        dt(2025, 9, 3, 7, 0),
        id="Fri 29/8/2025 -> Wed 3/9 (qua 2/9)",
    ),
    P(
        DEFAULT,
        dt(2026, 11, 23, 17, 0),
        dt(2026, 11, 25, 7, 0),
        id="Mon 23/11/2026 17:00 -> Wed 25/11",
    ),
    P(
        NO_CULTURE_DAY,
        dt(2026, 11, 23, 17, 0),
        dt(2026, 11, 24, 7, 0),
        id="culture_day=False -> Tue 24/11",
    ),
    # Custom sessions 07:30–11:30, 13:00–16:30.
    P(CUSTOM, dt(2026, 3, 11, 7, 0), dt(2026, 3, 11, 7, 30), id="phiên riêng: 07:00 -> 07:30"),
    P(CUSTOM, dt(2026, 3, 11, 11, 30), dt(2026, 3, 11, 13, 0), id="phiên riêng: 11:30 -> 13:00"),
    P(
        CUSTOM,
        dt(2026, 3, 11, 13, 15),
        dt(2026, 3, 11, 13, 15),
        id="phiên riêng: 13:15 trong phiên",
    ),
    P(
        CUSTOM,
        dt(2026, 3, 11, 16, 30),
        dt(2026, 3, 12, 7, 30),
        id="phiên riêng: 16:30 -> 07:30 hôm sau",
    ),
    P(
        CUSTOM,
        dt(2026, 3, 11, 16, 45),
        dt(2026, 3, 12, 7, 30),
        id="phiên riêng: 16:45 (sau giờ) -> hôm sau",
    ),
]


@pytest.mark.parametrize("cal, t, expected", EFFECTIVE_START_TABLE)
def test_effective_start(cal, t, expected):
    assert cal.effective_start(t) == expected


# ---------------------------------------------------------------------------
# add_working_hours (RULES §4.2, §4.3)
# ---------------------------------------------------------------------------

ADD_HOURS_TABLE = [
    P(
        DEFAULT,
        dt(2026, 3, 10, 10, 0),
        24,
        dt(2026, 3, 13, 10, 0),
        id="Tue 10:00 + 24h -> Fri 10:00",
    ),
    P(DEFAULT, dt(2026, 3, 13, 16, 0), 8, dt(2026, 3, 16, 16, 0), id="Fri 16:00 + 8h -> Mon 16:00"),
    P(
        DEFAULT,
        dt(2026, 3, 11, 7, 0),
        8,
        dt(2026, 3, 11, 17, 0),
        id="07:00 + 8h -> 17:00 cùng ngày",
    ),
    P(
        DEFAULT,
        dt(2026, 3, 11, 13, 30),
        8,
        dt(2026, 3, 12, 11, 30),
        id="13:30 + 8h -> 11:30 hôm sau",
    ),
    P(
        DEFAULT,
        dt(2026, 3, 11, 7, 0),
        4.5,
        dt(2026, 3, 11, 11, 30),
        id="07:00 + 4.5h -> 11:30 (giữ ở cuối phiên)",
    ),
    P(
        DEFAULT,
        dt(2026, 3, 11, 10, 0),
        2,
        dt(2026, 3, 11, 14, 0),
        id="10:00 + 2h qua nghỉ trưa -> 14:00",
    ),
    P(DEFAULT, dt(2026, 3, 11, 7, 0), 0.25, dt(2026, 3, 11, 7, 15), id="07:00 + 0.25h -> 07:15"),
    P(
        DEFAULT,
        dt(2026, 3, 11, 12, 0),
        0,
        dt(2026, 3, 11, 13, 30),
        id="12:00 + 0h -> bắt đầu hiệu lực 13:30",
    ),
    P(DEFAULT, dt(2026, 3, 11, 20, 0), 0, dt(2026, 3, 12, 7, 0), id="20:00 + 0h -> 07:00 hôm sau"),
    P(
        DEFAULT,
        dt(2026, 3, 11, 6, 0),
        1,
        dt(2026, 3, 11, 8, 0),
        id="06:00 + 1h -> 08:00 (đếm từ 07:00)",
    ),
    P(DEFAULT, dt(2026, 3, 14, 9, 0), 1, dt(2026, 3, 16, 8, 0), id="Sat + 1h -> Mon 08:00"),
    # Wed 07:00 + 40h = 5 full days: Wed, Thu, Fri, Mon, Tue -> Tue 17:00.
    P(
        DEFAULT,
        dt(2026, 3, 11, 7, 0),
        40,
        dt(2026, 3, 17, 17, 0),
        id="Wed 07:00 + 40h -> Tue 17:00",
    ),
    # Tết 2025: Fri 24 Jan 14:00–17:00 = 3h; Mon 3 Feb 07:00–11:30 = 4.5h; 0.5h more -> 14:00.
    P(
        DEFAULT,
        dt(2025, 1, 24, 14, 0),
        8,
        dt(2025, 2, 3, 14, 0),
        id="qua Tết 2025: Fri 24/1 14:00 + 8h -> Mon 3/2 14:00",
    ),
    # Tết 2026: Thu 12 Feb 10:00 + 8h -> Fri 13 Feb 10:00, + 8h -> Mon 23 Feb 10:00.
    P(
        DEFAULT,
        dt(2026, 2, 12, 10, 0),
        16,
        dt(2026, 2, 23, 10, 0),
        id="qua Tết 2026: Thu 12/2 + 16h -> Mon 23/2",
    ),
    P(
        DEFAULT,
        dt(2026, 2, 13, 15, 0),
        4,
        dt(2026, 2, 23, 9, 0),
        id="qua Tết 2026: Fri 13/2 15:00 + 4h -> 23/2 09:00",
    ),
    P(
        DEFAULT,
        dt(2025, 8, 29, 9, 0),
        8,
        dt(2025, 9, 3, 9, 0),
        id="qua 2/9/2025: Fri 29/8 + 8h -> Wed 3/9",
    ),
    # Fri 21 Aug 15:00–17:00 = 2h, Sat 22 Aug (worked) 07:00 + 2h.
    P(DEFAULT, dt(2026, 8, 21, 15, 0), 4, dt(2026, 8, 22, 9, 0), id="vào Sat 22/8/2026 làm bù"),
    P(DEFAULT, dt(2026, 8, 28, 10, 0), 8, dt(2026, 9, 3, 10, 0), id="qua 31/8–2/9/2026 -> Thu 3/9"),
    P(
        DEFAULT,
        dt(2026, 1, 9, 16, 0),
        8,
        dt(2026, 1, 10, 16, 0),
        id="Fri 9/1/2026 + 8h -> Sat 10/1 làm bù",
    ),
    P(
        DEFAULT,
        dt(2025, 12, 31, 10, 0),
        8,
        dt(2026, 1, 5, 10, 0),
        id="31/12/2025 + 8h -> Mon 5/1/2026 (2/1 nghỉ)",
    ),
    P(
        DEFAULT,
        dt(2025, 4, 25, 16, 0),
        8,
        dt(2025, 4, 26, 16, 0),
        id="Fri 25/4/2025 + 8h -> Sat 26/4 làm bù",
    ),
    P(
        DEFAULT,
        dt(2025, 4, 29, 10, 0),
        8,
        dt(2025, 5, 5, 10, 0),
        id="Tue 29/4/2025 + 8h -> Mon 5/5",
    ),
    P(DEFAULT, dt(2025, 4, 4, 10, 0), 8, dt(2025, 4, 8, 10, 0), id="qua Giỗ Tổ 2025 -> Tue 8/4"),
    P(
        DEFAULT,
        dt(2026, 4, 24, 10, 0),
        8,
        dt(2026, 4, 28, 10, 0),
        id="qua nghỉ bù Giỗ Tổ 2026 -> Tue 28/4",
    ),
    P(
        DEFAULT,
        dt(2026, 11, 23, 10, 0),
        8,
        dt(2026, 11, 25, 10, 0),
        id="qua 24/11/2026 -> Wed 25/11",
    ),
    P(
        NO_CULTURE_DAY,
        dt(2026, 11, 23, 10, 0),
        8,
        dt(2026, 11, 24, 10, 0),
        id="culture_day=False -> Tue 24/11",
    ),
    # Custom sessions: 7.5 h a day.
    P(
        CUSTOM,
        dt(2026, 3, 11, 7, 30),
        7.5,
        dt(2026, 3, 11, 16, 30),
        id="phiên riêng: 07:30 + 7.5h -> 16:30",
    ),
    # 13:00–16:30 = 3.5h, then Thu 07:30–11:30 = 4h -> ends exactly on 11:30 and stays.
    P(
        CUSTOM,
        dt(2026, 3, 11, 13, 0),
        7.5,
        dt(2026, 3, 12, 11, 30),
        id="phiên riêng: 13:00 + 7.5h -> 11:30 hôm sau",
    ),
    P(
        CUSTOM,
        dt(2026, 3, 11, 11, 0),
        1,
        dt(2026, 3, 11, 13, 30),
        id="phiên riêng: 11:00 + 1h -> 13:30",
    ),
]


@pytest.mark.parametrize("cal, t, hours, expected", ADD_HOURS_TABLE)
def test_add_working_hours(cal, t, hours, expected):
    assert cal.add_working_hours(t, hours) == expected


# ---------------------------------------------------------------------------
# working_seconds_between / working_hours_between
# ---------------------------------------------------------------------------

BETWEEN_TABLE = [
    P(DEFAULT, dt(2026, 3, 11, 7, 0), dt(2026, 3, 11, 17, 0), 8 * 3600, id="cả ngày = 8h"),
    P(
        DEFAULT,
        dt(2026, 3, 11, 10, 0),
        dt(2026, 3, 11, 14, 0),
        2 * 3600,
        id="10:00–14:00 = 2h (trừ nghỉ trưa)",
    ),
    P(DEFAULT, dt(2026, 3, 11, 12, 0), dt(2026, 3, 11, 13, 30), 0, id="trong giờ nghỉ trưa = 0"),
    P(DEFAULT, dt(2026, 3, 11, 11, 29), dt(2026, 3, 11, 13, 31), 120, id="11:29–13:31 = 2 phút"),
    P(DEFAULT, dt(2026, 3, 11, 20, 0), dt(2026, 3, 12, 8, 0), 3600, id="đêm -> sáng = 1h"),
    P(
        DEFAULT,
        dt(2026, 3, 13, 16, 0),
        dt(2026, 3, 16, 16, 0),
        8 * 3600,
        id="Fri 16:00 -> Mon 16:00 = 8h",
    ),
    P(DEFAULT, dt(2026, 3, 14, 8, 0), dt(2026, 3, 15, 16, 0), 0, id="Sat -> Sun = 0"),
    P(DEFAULT, dt(2026, 3, 11, 9, 0), dt(2026, 3, 11, 9, 0), 0, id="a == b -> 0"),
    P(DEFAULT, dt(2026, 3, 11, 14, 0), dt(2026, 3, 11, 10, 0), -2 * 3600, id="b < a -> âm"),
    P(
        DEFAULT,
        dt(2026, 3, 16, 16, 0),
        dt(2026, 3, 13, 16, 0),
        -8 * 3600,
        id="ngược qua cuối tuần -> -8h",
    ),
    P(DEFAULT, dt(2026, 2, 13, 7, 0), dt(2026, 2, 23, 7, 0), 8 * 3600, id="qua Tết 2026 = 8h"),
    P(
        DEFAULT,
        dt(2026, 1, 9, 17, 0),
        dt(2026, 1, 12, 7, 0),
        8 * 3600,
        id="Sat 10/1/2026 làm bù = 8h",
    ),
    P(
        DEFAULT,
        dt(2025, 12, 31, 17, 0),
        dt(2026, 1, 5, 7, 0),
        0,
        id="31/12/2025 17:00 -> 5/1/2026 07:00 = 0",
    ),
    # Wed 11 Mar 07:00 -> Wed 18 Mar 07:00: 5 working days.
    P(DEFAULT, dt(2026, 3, 11, 7, 0), dt(2026, 3, 18, 7, 0), 40 * 3600, id="một tuần = 40h"),
    P(DEFAULT, dt(2026, 11, 23, 17, 0), dt(2026, 11, 25, 7, 0), 0, id="24/11/2026 nghỉ = 0"),
    P(
        NO_CULTURE_DAY,
        dt(2026, 11, 23, 17, 0),
        dt(2026, 11, 25, 7, 0),
        8 * 3600,
        id="culture_day=False = 8h",
    ),
    P(
        CUSTOM,
        dt(2026, 3, 11, 0, 0),
        dt(2026, 3, 12, 0, 0),
        int(7.5 * 3600),
        id="phiên riêng: một ngày = 7.5h",
    ),
    P(
        CUSTOM,
        dt(2026, 3, 11, 11, 0),
        dt(2026, 3, 11, 13, 30),
        3600,
        id="phiên riêng: 11:00–13:30 = 1h",
    ),
]


@pytest.mark.parametrize("cal, a, b, seconds", BETWEEN_TABLE)
def test_working_seconds_between(cal, a, b, seconds):
    got = cal.working_seconds_between(a, b)
    assert isinstance(got, int)
    assert got == seconds


@pytest.mark.parametrize("cal, a, b, seconds", BETWEEN_TABLE)
def test_working_hours_between(cal, a, b, seconds):
    assert cal.working_hours_between(a, b) == pytest.approx(seconds / 3600)


# ---------------------------------------------------------------------------
# year_days
# ---------------------------------------------------------------------------

# Weekdays off and weekend days worked in 2026 (package + decreed table, culture day on).
YEAR_2026 = {
    date(2026, 1, 1): "off",
    date(2026, 1, 2): "off",
    date(2026, 1, 10): "work",
    date(2026, 2, 16): "off",
    date(2026, 2, 17): "off",
    date(2026, 2, 18): "off",
    date(2026, 2, 19): "off",
    date(2026, 2, 20): "off",
    date(2026, 4, 27): "off",
    date(2026, 4, 30): "off",
    date(2026, 5, 1): "off",
    date(2026, 8, 22): "work",
    date(2026, 8, 31): "off",
    date(2026, 9, 1): "off",
    date(2026, 9, 2): "off",
    date(2026, 11, 24): "off",
}

YEAR_2025 = {
    date(2025, 1, 1): "off",
    date(2025, 1, 27): "off",
    date(2025, 1, 28): "off",
    date(2025, 1, 29): "off",
    date(2025, 1, 30): "off",
    date(2025, 1, 31): "off",
    date(2025, 4, 7): "off",
    date(2025, 4, 26): "work",
    date(2025, 4, 30): "off",
    date(2025, 5, 1): "off",
    date(2025, 5, 2): "off",
    date(2025, 9, 1): "off",
    date(2025, 9, 2): "off",
}


def _as_map(entries):
    return {e.date: e.kind for e in entries}


@pytest.mark.parametrize(
    "d, kind",
    [
        P(date(2026, 1, 2), "off", id="2/1/2026 off"),
        P(date(2026, 1, 10), "work", id="10/1/2026 work"),
        P(date(2026, 8, 22), "work", id="22/8/2026 work"),
        P(date(2026, 8, 31), "off", id="31/8/2026 off"),
        P(date(2026, 11, 24), "off", id="24/11/2026 off"),
    ],
)
def test_year_days_2026_contains(d, kind):
    entries = DEFAULT.year_days(2026)
    match = [e for e in entries if e.date == d]
    assert len(match) == 1
    assert match[0].kind == kind
    assert isinstance(match[0].reason, str) and match[0].reason.strip()


@pytest.mark.parametrize(
    "d",
    [
        P(date(2026, 1, 3), id="Sat 3/1 thường không có"),
        P(date(2026, 3, 14), id="Sat 14/3 thường không có"),
        P(date(2026, 3, 11), id="Wed 11/3 thường không có"),
        P(date(2026, 4, 26), id="Sun 26/4 (lễ rơi CN) không có"),
        P(date(2026, 2, 21), id="Sat 21/2 (trong kỳ Tết, cuối tuần) không có"),
    ],
)
def test_year_days_2026_excludes_ordinary_and_weekend_off(d):
    assert d not in _as_map(DEFAULT.year_days(2026))


def test_year_days_2026_exact():
    entries = DEFAULT.year_days(2026)
    assert _as_map(entries) == YEAR_2026
    assert [e.date for e in entries] == sorted(e.date for e in entries)
    for e in entries:
        assert e.reason and e.reason == DEFAULT.day_reason(e.date)


def test_year_days_2025_exact():
    assert _as_map(DEFAULT.year_days(2025)) == YEAR_2025


def test_year_days_2026_without_culture_day():
    expected = dict(YEAR_2026)
    del expected[date(2026, 11, 24)]
    assert _as_map(NO_CULTURE_DAY.year_days(2026)) == expected


def test_year_days_reflects_settings():
    cal = WorkCalendar(
        extra_holidays={date(2026, 3, 11): "Ngày thành lập tỉnh"},
        removed_holidays=[date(2026, 4, 30)],
        extra_workdays={date(2026, 3, 14): "Làm bù"},
    )
    entries = {e.date: e for e in cal.year_days(2026)}
    assert entries[date(2026, 3, 11)].kind == "off"
    assert "Ngày thành lập tỉnh" in entries[date(2026, 3, 11)].reason
    assert entries[date(2026, 3, 14)].kind == "work"
    assert "Làm bù" in entries[date(2026, 3, 14)].reason
    assert date(2026, 4, 30) not in entries
