"""Golden tables for time limits, computed due dates and classification (RULES.md §4, §5).

All expected values are derived by hand from RULES.md with the default calendar
(sessions 07:00–11:30, 13:30–17:00: 8 working hours a day) and the holiday facts listed
in test_calendar_golden.py. Reference week: Mon 9 – Fri 13 March 2026 and Mon 16 – Fri 20
March 2026 are ordinary working weeks (Sat 14 / Sun 15 March are ordinary weekend days).
"""

from __future__ import annotations

from datetime import datetime, time

import pytest

from tracker.calendar import Session, WorkCalendar
from tracker.rules import (
    Classification,
    DossierFacts,
    LimitError,
    RuleSettings,
    TimeLimit,
    classify,
    compute_due,
    parse_limit,
)

P = pytest.param

CAL = WorkCalendar()
NO_CULTURE_DAY = WorkCalendar(culture_day=False)
CUSTOM = WorkCalendar(
    sessions=(Session(time(7, 30), time(11, 30)), Session(time(13, 0), time(16, 30)))
)

DATE = RuleSettings()  # comparison="date" is the default
DATETIME = RuleSettings(comparison="datetime")
ONLINE_ON = RuleSettings(online_last_hour_next_day=True)


def dt(y, mo, d, h=0, mi=0, s=0, us=0):
    return datetime(y, mo, d, h, mi, s, us)


def WD(n):
    return TimeLimit(n, "working_days")


def WH(n):
    return TimeLimit(n, "working_hours")


def CD(n):
    return TimeLimit(n, "calendar_days")


SAME_DAY = TimeLimit(0, "working_days")


# ---------------------------------------------------------------------------
# parse_limit
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, expected",
    [
        P("3 ngày làm việc", TimeLimit(3, "working_days"), id="vi: 3 ngày làm việc"),
        P("10 ngày làm việc", TimeLimit(10, "working_days"), id="vi: 10 ngày làm việc"),
        P("3 working days", TimeLimit(3, "working_days"), id="en: 3 working days"),
        P("1 working day", TimeLimit(1, "working_days"), id="en: 1 working day (số ít)"),
        P("0,5 ngày", TimeLimit(0.5, "working_days"), id="vi: 0,5 ngày = nửa ngày làm việc"),
        P("0,5 ngày làm việc", TimeLimit(0.5, "working_days"), id="vi: 0,5 ngày làm việc"),
        P("1,5 ngày làm việc", TimeLimit(1.5, "working_days"), id="vi: 1,5 ngày làm việc"),
        P("0.5 working days", TimeLimit(0.5, "working_days"), id="en: 0.5 working days"),
        P("8 giờ làm việc", TimeLimit(8, "working_hours"), id="vi: 8 giờ làm việc"),
        P("8 working hours", TimeLimit(8, "working_hours"), id="en: 8 working hours"),
        P("15 ngày", TimeLimit(15, "calendar_days"), id="vi: 15 ngày (số nguyên) = ngày lịch"),
        P("15 calendar days", TimeLimit(15, "calendar_days"), id="en: 15 calendar days"),
        P("trong ngày", TimeLimit(0, "working_days"), id="vi: trong ngày"),
        P("Trong ngày", TimeLimit(0, "working_days"), id="vi: Trong ngày (viết hoa)"),
        P("same day", TimeLimit(0, "working_days"), id="en: same day"),
        P("  3 ngày làm việc  ", TimeLimit(3, "working_days"), id="vi: khoảng trắng thừa"),
    ],
)
def test_parse_limit(text, expected):
    got = parse_limit(text)
    assert got == expected
    assert got.unit == expected.unit
    assert got.value == pytest.approx(expected.value)


@pytest.mark.parametrize(
    "text",
    [
        P("abc", id="chữ vô nghĩa"),
        P("-1 ngày", id="số âm"),
        P("-2 working days", id="en: số âm"),
    ],
)
def test_parse_limit_errors_quote_input(text):
    with pytest.raises(LimitError) as exc:
        parse_limit(text)
    assert isinstance(exc.value, ValueError)
    assert text in str(exc.value)


def test_parse_limit_empty_is_error():
    with pytest.raises(LimitError):
        parse_limit("")
    assert issubclass(LimitError, ValueError)


# ---------------------------------------------------------------------------
# compute_due
# ---------------------------------------------------------------------------

COMPUTE_DUE_TABLE = [
    # --- N working days (§4.2) ---
    P(
        CAL,
        dt(2026, 3, 10, 10),
        WD(3),
        {},
        dt(2026, 3, 13, 10),
        id="WD: Tue 10:00 + 3 ngày -> Fri 10:00",
    ),
    P(
        CAL,
        dt(2026, 3, 13, 16),
        WD(1),
        {},
        dt(2026, 3, 16, 16),
        id="WD: Fri 16:00 + 1 ngày -> Mon 16:00",
    ),
    P(
        CAL,
        dt(2026, 3, 11, 7),
        WD(1),
        {},
        dt(2026, 3, 11, 17),
        id="WD: 07:00 + 1 ngày -> 17:00 cùng ngày",
    ),
    P(
        CAL,
        dt(2026, 3, 11, 13, 30),
        WD(1),
        {},
        dt(2026, 3, 12, 11, 30),
        id="WD: 13:30 + 1 ngày -> 11:30 hôm sau",
    ),
    P(
        CAL,
        dt(2026, 3, 11, 12, 0),
        WD(1),
        {},
        dt(2026, 3, 12, 11, 30),
        id="WD: nhận giờ nghỉ trưa -> như 13:30",
    ),
    # 4h from 09:00: 09:00–11:30 = 2.5h, 13:30 + 1.5h = 15:00.
    P(
        CAL,
        dt(2026, 3, 11, 9),
        WD(0.5),
        {},
        dt(2026, 3, 11, 15),
        id="WD: 09:00 + 0,5 ngày -> 15:00",
    ),
    P(
        CAL,
        dt(2026, 3, 11, 6),
        WD(0.5),
        {},
        dt(2026, 3, 11, 11),
        id="WD: 06:00 + 0,5 ngày -> 11:00",
    ),
    # 4h from 13:30: 13:30–17:00 = 3.5h, then 0.5h from Thu 07:00.
    P(
        CAL,
        dt(2026, 3, 11, 13, 30),
        WD(0.5),
        {},
        dt(2026, 3, 12, 7, 30),
        id="WD: 13:30 + 0,5 ngày -> Thu 07:30",
    ),
    P(
        CAL,
        dt(2026, 3, 11, 7, 30),
        WD(0.5),
        {},
        dt(2026, 3, 11, 11, 30),
        id="WD: 07:30 + 0,5 ngày -> 11:30 (giữ cuối phiên)",
    ),
    P(
        CAL,
        dt(2026, 3, 14, 10),
        WD(1),
        {},
        dt(2026, 3, 16, 17),
        id="WD: nhận Sat -> Mon 07:00 + 1 ngày = Mon 17:00",
    ),
    P(
        CAL,
        dt(2026, 3, 15, 10),
        WD(2),
        {},
        dt(2026, 3, 17, 17),
        id="WD: nhận Sun + 2 ngày -> Tue 17:00",
    ),
    P(
        CAL,
        dt(2026, 4, 30, 10),
        WD(2),
        {},
        dt(2026, 5, 5, 17),
        id="WD: nhận ngày lễ 30/4/2026 -> Tue 5/5 17:00",
    ),
    # Thu 12 Feb 10:00: +1 Fri 13, +2 Mon 23, +3 Tue 24, +4 Wed 25, +5 Thu 26 Feb.
    P(
        CAL,
        dt(2026, 2, 12, 10),
        WD(5),
        {},
        dt(2026, 2, 26, 10),
        id="WD: qua Tết 2026, 5 ngày -> Thu 26/2",
    ),
    P(CAL, dt(2025, 1, 24, 9), WD(1), {}, dt(2025, 2, 3, 9), id="WD: qua Tết 2025 -> Mon 3/2/2025"),
    P(
        CAL,
        dt(2025, 12, 31, 10),
        WD(1),
        {},
        dt(2026, 1, 5, 10),
        id="WD: 31/12/2025 + 1 -> Mon 5/1/2026 (2/1 nghỉ)",
    ),
    P(
        CAL,
        dt(2026, 1, 9, 10),
        WD(1),
        {},
        dt(2026, 1, 10, 10),
        id="WD: Fri 9/1/2026 + 1 -> Sat 10/1 làm bù",
    ),
    # Tue 18 Aug: Wed19(1) Thu20(2) Fri21(3) Sat22(4) Mon24(5) Tue25(6) Wed26(7) Thu27(8) Fri28(9)
    # [Mon 31 Aug, Tue 1, Wed 2 Sep off] Thu 3 Sep(10).
    P(
        CAL,
        dt(2026, 8, 18, 8),
        WD(10),
        {},
        dt(2026, 9, 3, 8),
        id="WD: 10 ngày qua 22/8 làm bù và 2/9/2026",
    ),
    # Fri 25 Apr 2025: Sat 26 Apr (1, làm bù), Mon 28 (2), Tue 29 (3).
    P(CAL, dt(2025, 4, 25, 9), WD(3), {}, dt(2025, 4, 29, 9), id="WD: qua Sat 26/4/2025 làm bù"),
    P(CAL, dt(2025, 4, 29, 9), WD(1), {}, dt(2025, 5, 5, 9), id="WD: qua 30/4–2/5/2025 -> Mon 5/5"),
    P(
        CAL,
        dt(2026, 11, 23, 10),
        WD(1),
        {},
        dt(2026, 11, 25, 10),
        id="WD: qua 24/11/2026 -> Wed 25/11",
    ),
    P(
        NO_CULTURE_DAY,
        dt(2026, 11, 23, 10),
        WD(1),
        {},
        dt(2026, 11, 24, 10),
        id="WD: culture_day=False -> Tue 24/11",
    ),
    # Custom sessions: one working day = 7.5h.
    # Wed 10:00: 10:00–11:30 = 1.5, 13:00–16:30 = 3.5 (5.0), Thu 07:30 + 2.5h.
    P(
        CUSTOM,
        dt(2026, 3, 11, 10),
        WD(1),
        {},
        dt(2026, 3, 12, 10),
        id="WD phiên riêng: 1 ngày = 7.5h -> Thu 10:00",
    ),
    P(
        CUSTOM,
        dt(2026, 3, 11, 7, 30),
        WD(0.5),
        {},
        dt(2026, 3, 11, 11, 15),
        id="WD phiên riêng: 0,5 ngày = 3.75h",
    ),
    # --- working hours (§4.3) ---
    P(
        CAL,
        dt(2026, 3, 11, 10),
        WH(8),
        {},
        dt(2026, 3, 12, 10),
        id="WH: Wed 10:00 + 8h -> Thu 10:00",
    ),
    P(
        CAL,
        dt(2026, 3, 11, 16),
        WH(2),
        {},
        dt(2026, 3, 12, 8),
        id="WH: 16:00 + 2h -> 08:00 hôm sau",
    ),
    P(
        CAL,
        dt(2026, 3, 11, 11),
        WH(1),
        {},
        dt(2026, 3, 11, 14),
        id="WH: 11:00 + 1h qua nghỉ trưa -> 14:00",
    ),
    P(
        CAL,
        dt(2026, 3, 11, 12, 15),
        WH(4),
        {},
        dt(2026, 3, 12, 7, 30),
        id="WH: 12:15 (từ 13:30) + 4h -> Thu 07:30",
    ),
    P(
        CAL,
        dt(2026, 3, 13, 15),
        WH(2),
        {},
        dt(2026, 3, 13, 17),
        id="WH: Fri 15:00 + 2h -> Fri 17:00 (giữ cuối phiên)",
    ),
    P(
        CAL,
        dt(2026, 2, 13, 15),
        WH(4),
        {},
        dt(2026, 2, 23, 9),
        id="WH: qua Tết 2026 -> Mon 23/2 09:00",
    ),
    # --- calendar days (§4.4): S + D days, same clock; non-working -> next working day ---
    P(
        CAL,
        dt(2026, 3, 13, 16, 30),
        CD(1),
        {},
        dt(2026, 3, 16, 16, 30),
        id="CD: Fri 16:30 + 1 ngày -> Mon 16:30",
    ),
    P(
        CAL,
        dt(2026, 3, 13, 17, 30),
        CD(1),
        {},
        dt(2026, 3, 17, 7),
        id="CD: Fri 17:30 + 1 ngày -> Tue 07:00 (S=Mon 07:00)",
    ),
    P(
        CAL,
        dt(2026, 3, 11, 10),
        CD(15),
        {},
        dt(2026, 3, 26, 10),
        id="CD: Wed 11/3 + 15 ngày -> Thu 26/3",
    ),
    P(
        CAL,
        dt(2026, 3, 11, 12),
        CD(1),
        {},
        dt(2026, 3, 12, 13, 30),
        id="CD: nhận nghỉ trưa -> S 13:30 -> Thu 13:30",
    ),
    # Thu 23 Apr + 7 = Thu 30 Apr (lễ), Fri 1 May (lễ), Sat, Sun -> Mon 4 May same clock.
    P(
        CAL,
        dt(2026, 4, 23, 10),
        CD(7),
        {},
        dt(2026, 5, 4, 10),
        id="CD: rơi vào lễ 30/4/2026 -> Mon 4/5 cùng giờ",
    ),
    P(
        CAL,
        dt(2026, 2, 9, 9),
        CD(7),
        {},
        dt(2026, 2, 23, 9),
        id="CD: rơi vào Tết 2026 -> Mon 23/2 cùng giờ",
    ),
    P(
        CAL,
        dt(2025, 12, 26, 10),
        CD(7),
        {},
        dt(2026, 1, 5, 10),
        id="CD: rơi vào 2/1/2026 nghỉ -> Mon 5/1",
    ),
    P(
        CAL,
        dt(2026, 1, 6, 10),
        CD(4),
        {},
        dt(2026, 1, 10, 10),
        id="CD: rơi vào Sat 10/1/2026 làm bù -> giữ",
    ),
    # Sat 15 Aug -> S = Mon 17 Aug 07:00; + 5 = Sat 22 Aug (worked) 07:00.
    P(
        CAL,
        dt(2026, 8, 15, 10),
        CD(5),
        {},
        dt(2026, 8, 22, 7),
        id="CD: nhận Sat, rơi vào Sat 22/8/2026 làm bù",
    ),
    # --- same day (§4.5): cut-off 15:00 inclusive, compared to the second ---
    P(CAL, dt(2026, 3, 11, 8), SAME_DAY, {}, dt(2026, 3, 11, 17), id="trong ngày: 08:00 -> 17:00"),
    P(
        CAL,
        dt(2026, 3, 11, 6),
        SAME_DAY,
        {},
        dt(2026, 3, 11, 17),
        id="trong ngày: 06:00 trước giờ -> 17:00",
    ),
    P(
        CAL,
        dt(2026, 3, 11, 12),
        SAME_DAY,
        {},
        dt(2026, 3, 11, 17),
        id="trong ngày: nghỉ trưa -> 17:00",
    ),
    P(
        CAL,
        dt(2026, 3, 11, 14, 59, 59),
        SAME_DAY,
        {},
        dt(2026, 3, 11, 17),
        id="trong ngày: 14:59:59 -> 17:00",
    ),
    P(
        CAL,
        dt(2026, 3, 11, 15),
        SAME_DAY,
        {},
        dt(2026, 3, 11, 17),
        id="trong ngày: đúng 15:00:00 -> 17:00 cùng ngày",
    ),
    P(
        CAL,
        dt(2026, 3, 11, 15, 0, 0, 999999),
        SAME_DAY,
        {},
        dt(2026, 3, 11, 17),
        id="trong ngày: 15:00:00.999 (so đến giây) -> cùng ngày",
    ),
    P(
        CAL,
        dt(2026, 3, 11, 15, 0, 1),
        SAME_DAY,
        {},
        dt(2026, 3, 12, 17),
        id="trong ngày: 15:00:01 -> hôm sau 17:00",
    ),
    P(
        CAL,
        dt(2026, 3, 11, 16, 30),
        SAME_DAY,
        {},
        dt(2026, 3, 12, 17),
        id="trong ngày: 16:30 -> hôm sau 17:00",
    ),
    P(
        CAL,
        dt(2026, 3, 9, 17, 30),
        SAME_DAY,
        {},
        dt(2026, 3, 10, 17),
        id="trong ngày: Mon 17:30 -> Tue 17:00",
    ),
    P(
        CAL,
        dt(2026, 3, 14, 9),
        SAME_DAY,
        {},
        dt(2026, 3, 16, 17),
        id="trong ngày: Saturday -> Mon 17:00",
    ),
    P(
        CAL,
        dt(2026, 3, 15, 9),
        SAME_DAY,
        {},
        dt(2026, 3, 16, 17),
        id="trong ngày: Sunday -> Mon 17:00",
    ),
    P(
        CAL,
        dt(2026, 4, 30, 9),
        SAME_DAY,
        {},
        dt(2026, 5, 4, 17),
        id="trong ngày: lễ 30/4/2026 -> Mon 4/5 17:00",
    ),
    P(
        CAL,
        dt(2026, 1, 1, 9),
        SAME_DAY,
        {},
        dt(2026, 1, 5, 17),
        id="trong ngày: 1/1/2026 -> Mon 5/1 17:00",
    ),
    P(
        CAL,
        dt(2026, 2, 13, 16),
        SAME_DAY,
        {},
        dt(2026, 2, 23, 17),
        id="trong ngày: Fri trước Tết 16:00 -> 23/2 17:00",
    ),
    P(
        CAL,
        dt(2026, 1, 9, 15, 30),
        SAME_DAY,
        {},
        dt(2026, 1, 10, 17),
        id="trong ngày: Fri 9/1 15:30 -> Sat 10/1 làm bù 17:00",
    ),
    P(
        CAL,
        dt(2026, 1, 10, 10),
        SAME_DAY,
        {},
        dt(2026, 1, 10, 17),
        id="trong ngày: Sat 10/1/2026 làm bù -> 17:00",
    ),
    P(
        CAL,
        dt(2026, 3, 11, 15, 30),
        SAME_DAY,
        {"rules": RuleSettings(same_day_cutoff=time(16, 0))},
        dt(2026, 3, 11, 17),
        id="trong ngày: mốc 16:00 cấu hình, 15:30 -> cùng ngày",
    ),
    P(
        CUSTOM,
        dt(2026, 3, 11, 14),
        SAME_DAY,
        {},
        dt(2026, 3, 11, 16, 30),
        id="trong ngày phiên riêng: -> 16:30",
    ),
    # --- supplements (§4.6): restart from zero at resubmission ---
    # Wed 14:00 + 24h -> Thu 14:00 (8), Fri 14:00 (16), Mon 14:00 (24).
    P(
        CAL,
        dt(2026, 3, 9, 8),
        WD(3),
        {"resubmitted_at": dt(2026, 3, 11, 14)},
        dt(2026, 3, 16, 14),
        id="bổ sung: 3 ngày tính lại từ Wed 14:00 -> Mon 14:00",
    ),
    P(
        CAL,
        dt(2026, 3, 9, 8),
        WD(1),
        {"resubmitted_at": dt(2026, 3, 13, 17, 45)},
        dt(2026, 3, 16, 17),
        id="bổ sung: nộp bổ sung Fri 17:45 -> Mon 17:00",
    ),
    P(
        CAL,
        dt(2026, 3, 2, 10),
        CD(15),
        {"resubmitted_at": dt(2026, 3, 11, 10)},
        dt(2026, 3, 26, 10),
        id="bổ sung: 15 ngày lịch tính lại từ 11/3 -> 26/3",
    ),
    P(
        CAL,
        dt(2026, 3, 11, 8),
        SAME_DAY,
        {"resubmitted_at": dt(2026, 3, 11, 15, 30)},
        dt(2026, 3, 12, 17),
        id="bổ sung: trong ngày, bổ sung sau 15:00 -> hôm sau 17:00",
    ),
    P(
        CAL,
        dt(2026, 3, 10, 10),
        WD(3),
        {"resubmitted_at": None},
        dt(2026, 3, 13, 10),
        id="bổ sung: resubmitted_at=None không đổi",
    ),
    # --- online last-hour rule (§4.8): only when the setting is on ---
    # Off (default): Wed 16:30 + 8h = 0.5h Wed + 7.5h Thu -> Thu 16:30.
    P(
        CAL,
        dt(2026, 3, 11, 16, 30),
        WD(1),
        {"channel": 2},
        dt(2026, 3, 12, 16, 30),
        id="trực tuyến giờ cuối, mặc định tắt -> Thu 16:30",
    ),
    P(
        CAL,
        dt(2026, 3, 11, 16, 30),
        WD(1),
        {"channel": 2, "rules": ONLINE_ON},
        dt(2026, 3, 12, 17),
        id="trực tuyến giờ cuối, bật -> tính từ Thu 07:00 -> Thu 17:00",
    ),
    P(
        CAL,
        dt(2026, 3, 11, 16, 0),
        WD(1),
        {"channel": 2, "rules": ONLINE_ON},
        dt(2026, 3, 12, 17),
        id="trực tuyến đúng 16:00 (đầu giờ cuối), bật -> Thu 17:00",
    ),
    P(
        CAL,
        dt(2026, 3, 11, 15, 59, 59),
        WD(1),
        {"channel": 2, "rules": ONLINE_ON},
        dt(2026, 3, 12, 15, 59, 59),
        id="trực tuyến 15:59:59 ngoài giờ cuối, bật -> không áp dụng",
    ),
    P(
        CAL,
        dt(2026, 3, 11, 16, 30),
        WD(1),
        {"channel": 1, "rules": ONLINE_ON},
        dt(2026, 3, 12, 16, 30),
        id="trực tiếp giờ cuối, bật -> không áp dụng",
    ),
    P(
        CAL,
        dt(2026, 3, 11, 16, 30),
        WD(1),
        {"channel": 3, "rules": ONLINE_ON},
        dt(2026, 3, 12, 16, 30),
        id="bưu chính giờ cuối, bật -> không áp dụng",
    ),
    P(
        CAL,
        dt(2026, 3, 11, 16, 30),
        WD(1),
        {"channel": None, "rules": ONLINE_ON},
        dt(2026, 3, 12, 16, 30),
        id="kênh không rõ giờ cuối, bật -> không áp dụng",
    ),
    P(
        CAL,
        dt(2026, 3, 13, 16, 30),
        WD(1),
        {"channel": 2, "rules": ONLINE_ON},
        dt(2026, 3, 16, 17),
        id="trực tuyến Fri 16:30, bật -> Mon 17:00",
    ),
    P(
        CAL,
        dt(2026, 1, 9, 16, 30),
        WD(1),
        {"channel": 2, "rules": ONLINE_ON},
        dt(2026, 1, 10, 17),
        id="trực tuyến Fri 9/1/2026 16:30, bật -> Sat 10/1 làm bù 17:00",
    ),
    # 16:15 online -> S = Thu 07:00; + 2h -> 09:00.
    P(
        CAL,
        dt(2026, 3, 11, 16, 15),
        WH(2),
        {"channel": 2, "rules": ONLINE_ON},
        dt(2026, 3, 12, 9),
        id="trực tuyến giờ cuối, giờ làm việc, bật -> Thu 09:00",
    ),
    # S = Thu 07:00, + 1 calendar day -> Fri 07:00.
    P(
        CAL,
        dt(2026, 3, 11, 16, 30),
        CD(1),
        {"channel": 2, "rules": ONLINE_ON},
        dt(2026, 3, 13, 7),
        id="trực tuyến giờ cuối, ngày lịch, bật -> Fri 07:00",
    ),
    P(
        CAL,
        dt(2026, 3, 11, 10),
        WD(1),
        {"channel": 2, "rules": ONLINE_ON},
        dt(2026, 3, 12, 10),
        id="trực tuyến buổi sáng, bật -> không áp dụng",
    ),
]


@pytest.mark.parametrize("cal, received, limit, kwargs, expected", COMPUTE_DUE_TABLE)
def test_compute_due(cal, received, limit, kwargs, expected):
    assert compute_due(cal, received, limit, **kwargs) == expected


def test_calendar_days_due_not_monotonic_in_clock_time_by_design():
    """RULES §4.4 keeps the clock time of S when moving off a non-working day, so a later
    receipt can get an earlier instant on the same due day. Pinned so nobody 'fixes' it silently."""
    # Thu 12 Feb 2026 16:00 + 10 = Sun 22 Feb -> Mon 23 Feb 16:00.
    a = compute_due(CAL, dt(2026, 2, 12, 16), CD(10))
    # Fri 13 Feb 2026 07:00 + 10 = Mon 23 Feb 07:00 (working day, stays).
    b = compute_due(CAL, dt(2026, 2, 13, 7), CD(10))
    assert a == dt(2026, 2, 23, 16)
    assert b == dt(2026, 2, 23, 7)


def test_parse_then_compute_same_day():
    assert compute_due(CAL, dt(2026, 3, 11, 15, 0, 1), parse_limit("trong ngày")) == dt(
        2026, 3, 12, 17
    )


# ---------------------------------------------------------------------------
# classify (RULES §5)
# ---------------------------------------------------------------------------

CODE = "000.00.53.H48-260310-0001"
R = dt(2026, 3, 10, 10)  # Tue 10 Mar 2026 10:00
D = dt(2026, 3, 13, 10)  # Fri 13 Mar 2026 10:00 (recorded appointment)
LATE_WA = ("late_without_apology",)


def F(**kw) -> DossierFacts:
    base = dict(code=CODE, status=4, received_at=R, due_at=D)
    base.update(kw)
    return DossierFacts(**base)


CLASSIFY_TABLE = [
    # --- not received ---
    P(
        F(status=1, received_at=None),
        dt(2026, 3, 11, 9),
        DATE,
        "not_received",
        (),
        id="status 1 mới đăng ký",
    ),
    P(
        F(status=1),
        dt(2026, 3, 11, 9),
        DATE,
        "not_received",
        (),
        id="status 1 dù có ngày tiếp nhận",
    ),
    P(F(status=3), dt(2026, 3, 16, 9), DATE, "not_received", (), id="status 3 không tiếp nhận"),
    P(
        F(status=4, received_at=dt(2026, 3, 11, 10)),
        dt(2026, 3, 11, 9, 59, 59),
        DATE,
        "not_received",
        (),
        id="tiếp nhận sau thời điểm T",
    ),
    P(
        F(status=10, received_at=dt(2026, 3, 11, 10), finished_at=dt(2026, 3, 12, 9)),
        dt(2026, 3, 10, 17),
        DATE,
        "not_received",
        (),
        id="đã trả nhưng tiếp nhận sau T",
    ),
    # --- finished: early / on time / late, both modes (due Fri 13 Mar 10:00) ---
    P(
        F(status=10, finished_at=dt(2026, 3, 12, 16)),
        dt(2026, 3, 16, 12),
        DATE,
        "early",
        (),
        id="date: xong Thu -> early",
    ),
    P(
        F(status=10, finished_at=dt(2026, 3, 12, 16)),
        dt(2026, 3, 16, 12),
        DATETIME,
        "early",
        (),
        id="datetime: xong Thu -> early",
    ),
    P(
        F(status=10, finished_at=dt(2026, 3, 13, 15)),
        dt(2026, 3, 16, 12),
        DATE,
        "on_time",
        (),
        id="date: xong cùng ngày hẹn, muộn giờ -> on_time",
    ),
    P(
        F(status=10, finished_at=dt(2026, 3, 13, 15)),
        dt(2026, 3, 16, 12),
        DATETIME,
        "late",
        LATE_WA,
        id="datetime: xong cùng ngày, sau giờ hẹn -> late",
    ),
    P(
        F(status=10, finished_at=dt(2026, 3, 13, 9)),
        dt(2026, 3, 16, 12),
        DATE,
        "on_time",
        (),
        id="date: xong ngày hẹn, sớm giờ -> on_time",
    ),
    P(
        F(status=10, finished_at=dt(2026, 3, 13, 9)),
        dt(2026, 3, 16, 12),
        DATETIME,
        "on_time",
        (),
        id="datetime: xong ngày hẹn trước giờ -> on_time (không early)",
    ),
    P(
        F(status=10, finished_at=D),
        dt(2026, 3, 16, 12),
        DATETIME,
        "on_time",
        (),
        id="datetime: xong đúng giờ hẹn",
    ),
    P(
        F(status=9, finished_at=dt(2026, 3, 14, 0)),
        dt(2026, 3, 16, 12),
        DATE,
        "late",
        LATE_WA,
        id="date: xong Sat 00:00 -> late",
    ),
    P(
        F(status=10, finished_at=dt(2026, 3, 16, 8)),
        dt(2026, 3, 16, 12),
        DATE,
        "late",
        LATE_WA,
        id="date: xong Mon -> late",
    ),
    P(
        F(status=10, finished_at=dt(2026, 3, 16, 8)),
        dt(2026, 3, 16, 12),
        DATETIME,
        "late",
        LATE_WA,
        id="datetime: xong Mon -> late",
    ),
    P(
        F(status=10, finished_at=dt(2026, 3, 12, 10)),
        dt(2026, 3, 12, 10),
        DATE,
        "early",
        (),
        id="xong đúng thời điểm T -> đã xong",
    ),
    # --- finish moment fallbacks ---
    P(
        F(status=10, returned_at=dt(2026, 3, 12, 9)),
        dt(2026, 3, 16, 12),
        DATE,
        "early",
        (),
        id="không có finished_at -> dùng returned_at",
    ),
    P(
        F(status=10, finished_at=dt(2026, 3, 12, 16), returned_at=dt(2026, 3, 16, 9)),
        dt(2026, 3, 16, 12),
        DATE,
        "early",
        (),
        id="có cả hai -> ưu tiên finished_at",
    ),
    P(
        F(status=9, first_seen_finished_at=dt(2026, 3, 12, 10)),
        dt(2026, 3, 16, 12),
        DATE,
        "early",
        ("no_finished_at",),
        id="status 9 thiếu cả hai -> first_seen, cờ no_finished_at",
    ),
    P(
        F(status=9, first_seen_finished_at=dt(2026, 3, 16, 8)),
        dt(2026, 3, 16, 12),
        DATE,
        "late",
        ("late_without_apology", "no_finished_at"),
        id="status 9 thiếu cả hai, first_seen muộn -> late",
    ),
    # --- RULES §5: an ended status with neither date, first seen already ended (never seen open):
    #     on time, finished at its receipt, flagged no_finished_at (a first import invents no lateness)
    P(
        F(status=9),
        dt(2026, 3, 16, 12),
        DATE,
        "on_time",
        ("no_finished_at",),
        id="status 9 thiếu cả hai, lần đầu thấy đã xong -> on_time, cờ no_finished_at",
    ),
    P(
        F(status=10),
        dt(2026, 11, 30, 12),
        DATETIME,
        "on_time",
        ("no_finished_at",),
        id="status 10 thiếu cả hai, T rất muộn -> vẫn on_time (không lấy T làm lúc xong)",
    ),
    P(
        F(status=8),
        dt(2026, 3, 16, 12),
        DATE,
        "on_time",
        ("no_finished_at",),
        id="status 8 thiếu ngày, lần đầu thấy đã dừng -> on_time, cờ no_finished_at",
    ),
    P(
        F(status=7, first_seen_finished_at=dt(2026, 3, 16, 8)),
        dt(2026, 3, 16, 12),
        DATE,
        "on_time",
        ("no_finished_at",),
        id="status 7 thiếu ngày, thấy rút sau khi đã thấy mở -> on_time, cờ no_finished_at",
    ),
    # --- RULES §5: a finish moment decides "finished at T", whatever the status says ---
    P(
        DossierFacts(code=CODE, status=4, received_at=dt(2026, 10, 5, 9), due_at=dt(2026, 10, 8, 17),
                     finished_at=dt(2026, 10, 7, 10)),
        dt(2026, 10, 15, 9),
        DATE,
        "early",
        (),
        id="status 4 (đang xử lý) có ngày kết thúc trước T -> early, không phải overdue",
    ),
    P(
        F(status=2, returned_at=dt(2026, 3, 13, 9)),
        dt(2026, 3, 16, 12),
        DATE,
        "on_time",
        (),
        id="status 2 có returned_at ngày hẹn -> on_time",
    ),
    P(
        F(status=5, finished_at=dt(2026, 3, 16, 8)),
        dt(2026, 3, 17, 9),
        DATE,
        "late",
        LATE_WA,
        id="status 5 có ngày kết thúc sau hạn -> late, không phải paused",
    ),
    P(
        F(status=6, finished_at=dt(2026, 3, 12, 8)),
        dt(2026, 3, 17, 9),
        DATE,
        "early",
        (),
        id="status 6 có ngày kết thúc trước hạn -> early",
    ),
    P(
        F(status=4, finished_at=dt(2026, 3, 16, 9)),
        dt(2026, 3, 14, 12),
        DATE,
        "overdue",
        LATE_WA,
        id="status 4 có ngày kết thúc sau T, T quá hạn -> overdue tại T",
    ),
    P(
        F(status=5, finished_at=dt(2026, 3, 16, 9)),
        dt(2026, 3, 11, 9),
        DATE,
        "paused",
        (),
        id="status 5 có ngày kết thúc sau T -> paused tại T",
    ),
    # --- status 9/10 with a finish moment after T: unfinished at T ---
    P(
        F(status=9, finished_at=dt(2026, 3, 16, 9)),
        dt(2026, 3, 11, 9),
        DATE,
        "within",
        (),
        id="status 9 xong sau T -> within tại T",
    ),
    P(
        F(status=10, finished_at=dt(2026, 3, 16, 9)),
        dt(2026, 3, 14, 12),
        DATE,
        "overdue",
        LATE_WA,
        id="status 10 xong sau T, T quá hạn -> overdue",
    ),
    P(
        F(status=10, returned_at=dt(2026, 3, 16, 9)),
        dt(2026, 3, 11, 9),
        DATE,
        "within",
        (),
        id="status 10 chỉ có returned_at sau T -> within",
    ),
    # --- ended without result ---
    P(
        F(status=7, finished_at=dt(2026, 3, 16, 8)),
        dt(2026, 3, 17, 9),
        DATE,
        "on_time",
        (),
        id="status 7 rút hồ sơ -> on_time",
    ),
    P(
        F(status=8, finished_at=dt(2026, 3, 16, 8)),
        dt(2026, 3, 17, 9),
        DATE,
        "on_time",
        (),
        id="status 8 dừng xử lý -> on_time",
    ),
    P(
        F(status=7, finished_at=dt(2026, 3, 16, 8)),
        dt(2026, 3, 17, 9),
        DATETIME,
        "on_time",
        (),
        id="datetime: status 7 -> on_time",
    ),
    # --- paused ---
    P(
        F(status=5),
        dt(2026, 3, 17, 10),
        DATE,
        "paused",
        (),
        id="status 5 chờ bổ sung, quá hạn -> paused",
    ),
    P(
        F(status=6),
        dt(2026, 3, 17, 10),
        DATE,
        "paused",
        (),
        id="status 6 nghĩa vụ tài chính, quá hạn -> paused",
    ),
    P(
        F(status=5),
        dt(2026, 3, 17, 10),
        DATETIME,
        "paused",
        (),
        id="datetime: status 5 quá hạn -> paused",
    ),
    P(F(status=5), dt(2026, 3, 11, 9), DATE, "paused", (), id="status 5 trong hạn -> paused"),
    # --- overdue vs at risk ---
    P(
        F(),
        dt(2026, 3, 13, 15),
        DATE,
        "at_risk",
        (),
        id="date: T cùng ngày hẹn sau giờ -> at_risk, không overdue",
    ),
    P(
        F(),
        dt(2026, 3, 13, 15),
        DATETIME,
        "overdue",
        LATE_WA,
        id="datetime: T sau giờ hẹn -> overdue",
    ),
    P(
        F(),
        dt(2026, 3, 13, 23, 59, 59),
        DATE,
        "at_risk",
        (),
        id="date: 23:59:59 ngày hẹn -> at_risk",
    ),
    P(
        F(),
        dt(2026, 3, 14, 0, 0, 0),
        DATE,
        "overdue",
        LATE_WA,
        id="date: 00:00 ngày sau -> overdue",
    ),
    P(F(), dt(2026, 3, 16, 8), DATE, "overdue", LATE_WA, id="date: Mon -> overdue"),
    P(F(), dt(2026, 3, 16, 8), DATETIME, "overdue", LATE_WA, id="datetime: Mon -> overdue"),
    P(F(), D, DATETIME, "at_risk", (), id="datetime: T đúng giờ hẹn -> chưa quá hạn, at_risk"),
    P(
        F(),
        dt(2026, 3, 13, 10, 0, 1),
        DATETIME,
        "overdue",
        LATE_WA,
        id="datetime: 1 giây sau giờ hẹn -> overdue",
    ),
    P(F(), dt(2026, 3, 12, 10), DATE, "at_risk", (), id="date: còn đúng 8h -> at_risk (bao gồm)"),
    P(F(), dt(2026, 3, 12, 10), DATETIME, "at_risk", (), id="datetime: còn đúng 8h -> at_risk"),
    P(F(), dt(2026, 3, 12, 9, 59), DATE, "within", (), id="còn 8h01 -> within"),
    P(
        F(due_at=dt(2026, 3, 16, 16)),
        dt(2026, 3, 13, 16),
        DATE,
        "at_risk",
        (),
        id="qua cuối tuần: Fri 16:00 -> Mon 16:00 = 8h -> at_risk",
    ),
    P(
        F(due_at=dt(2026, 3, 16, 16, 1)),
        dt(2026, 3, 13, 16),
        DATE,
        "within",
        (),
        id="qua cuối tuần: hẹn Mon 16:01 -> within",
    ),
    P(
        F(received_at=dt(2026, 2, 11, 9), due_at=dt(2026, 2, 23, 10)),
        dt(2026, 2, 13, 10),
        DATE,
        "at_risk",
        (),
        id="qua Tết 2026: Fri 13/2 10:00 -> Mon 23/2 10:00 = 8h",
    ),
    # Wed 31 Dec 10:00 -> Mon 5 Jan 10:00: 5h + 3h = 8h because Fri 2 Jan 2026 is off (decreed).
    P(
        F(received_at=dt(2025, 12, 29, 9), due_at=dt(2026, 1, 5, 10)),
        dt(2025, 12, 31, 10),
        DATE,
        "at_risk",
        (),
        id="qua 1–2/1/2026: còn 8h -> at_risk (2/1 nghỉ)",
    ),
    P(F(), dt(2026, 3, 11, 9), DATE, "within", (), id="còn 17h -> within"),
    P(
        F(status=2, received_at=dt(2026, 3, 10, 10)),
        dt(2026, 3, 10, 10),
        DATE,
        "within",
        (),
        id="status 2 tiếp nhận đúng T -> within",
    ),
    P(F(status=2), dt(2026, 3, 16, 9), DATE, "overdue", LATE_WA, id="status 2 quá hạn -> overdue"),
    P(
        F(),
        dt(2026, 3, 11, 10),
        RuleSettings(at_risk_hours=16.0),
        "at_risk",
        (),
        id="ngưỡng 16h, còn đúng 16h -> at_risk",
    ),
    P(F(), dt(2026, 3, 11, 10), DATE, "within", (), id="ngưỡng mặc định, còn 16h -> within"),
    # --- due sources ---
    P(
        F(due_at=None, limit=WD(3)),
        dt(2026, 3, 11, 9),
        DATE,
        "within",
        (),
        id="không có hẹn -> dùng hạn tính (within)",
    ),
    P(
        F(due_at=None, limit=WD(3)),
        dt(2026, 3, 12, 10),
        DATE,
        "at_risk",
        (),
        id="không có hẹn -> hạn tính, còn 8h",
    ),
    P(
        F(due_at=None, limit=WD(3), status=10, finished_at=dt(2026, 3, 13, 15)),
        dt(2026, 3, 16, 12),
        DATE,
        "on_time",
        (),
        id="date: hạn tính, xong cùng ngày -> on_time",
    ),
    P(
        F(due_at=None, limit=WD(3), status=10, finished_at=dt(2026, 3, 13, 15)),
        dt(2026, 3, 16, 12),
        DATETIME,
        "late",
        LATE_WA,
        id="datetime: hạn tính, xong sau giờ -> late",
    ),
    P(
        F(due_at=None, computed_due_at=D),
        dt(2026, 3, 16, 9),
        DATE,
        "overdue",
        LATE_WA,
        id="computed_due_at cho sẵn -> overdue",
    ),
    P(
        F(due_at=None, status=10, finished_at=dt(2026, 3, 30, 9)),
        dt(2026, 3, 31, 9),
        DATE,
        "on_time",
        ("no_due",),
        id="không hẹn, không hạn, đã xong -> on_time + no_due",
    ),
    P(
        F(due_at=None),
        dt(2026, 3, 30, 9),
        DATE,
        "within",
        ("no_due",),
        id="không hẹn, không hạn, chưa xong -> within + no_due",
    ),
    P(
        F(due_at=None),
        dt(2026, 3, 30, 9),
        DATETIME,
        "within",
        ("no_due",),
        id="datetime: không hẹn -> within + no_due",
    ),
    # Received Mon 2 Mar, resubmitted Tue 10 Mar 10:00, 3 days -> Fri 13 Mar 10:00;
    # T = Thu 10:00, 8h left.
    P(
        F(due_at=None, limit=WD(3), received_at=dt(2026, 3, 2, 8), resubmitted_at=R),
        dt(2026, 3, 12, 10),
        DATE,
        "at_risk",
        (),
        id="hạn tính lại sau bổ sung -> at_risk",
    ),
    # --- due_exceeds_limit (computed Fri 13 Mar 10:00 from R + 3 days) ---
    P(
        F(due_at=dt(2026, 3, 16, 10), limit=WD(3)),
        dt(2026, 3, 11, 9),
        DATE,
        "within",
        ("due_exceeds_limit",),
        id="date: hẹn Mon > hạn Fri -> due_exceeds_limit",
    ),
    P(
        F(due_at=dt(2026, 3, 16, 10), limit=WD(3)),
        dt(2026, 3, 11, 9),
        DATETIME,
        "within",
        ("due_exceeds_limit",),
        id="datetime: hẹn Mon > hạn Fri -> due_exceeds_limit",
    ),
    P(
        F(due_at=dt(2026, 3, 13, 17), limit=WD(3)),
        dt(2026, 3, 11, 9),
        DATE,
        "within",
        (),
        id="date: hẹn cùng ngày muộn giờ -> không cờ",
    ),
    P(
        F(due_at=dt(2026, 3, 13, 17), limit=WD(3)),
        dt(2026, 3, 11, 9),
        DATETIME,
        "within",
        ("due_exceeds_limit",),
        id="datetime: hẹn cùng ngày muộn giờ -> cờ",
    ),
    P(
        F(due_at=dt(2026, 3, 12, 17), limit=WD(3)),
        dt(2026, 3, 11, 9),
        DATE,
        "within",
        (),
        id="hẹn sớm hơn hạn -> không cờ",
    ),
    P(
        F(due_at=dt(2026, 3, 16, 10), limit=WD(3), status=10, finished_at=dt(2026, 3, 12, 9)),
        dt(2026, 3, 16, 12),
        DATE,
        "early",
        ("due_exceeds_limit",),
        id="đã xong sớm vẫn có cờ due_exceeds_limit",
    ),
    # Received Wed 11 Mar 07:00 + 3 days -> computed Fri 13 Mar 17:00.
    P(
        F(received_at=dt(2026, 3, 11, 7), due_at=dt(2026, 3, 13, 20), limit=WD(3)),
        dt(2026, 3, 11, 9),
        DATETIME,
        "within",
        (),
        id="datetime: hẹn muộn hơn nhưng 0 giờ làm việc -> không cờ",
    ),
    P(
        F(received_at=dt(2026, 3, 11, 7), due_at=dt(2026, 3, 16, 7), limit=WD(3)),
        dt(2026, 3, 11, 9),
        DATETIME,
        "within",
        (),
        id="datetime: hẹn Mon 07:00, vượt 0h -> không cờ",
    ),
    # Date mode: "later" is a later date, whatever the excess (RULES §4.7) -> flagged with excess 0.
    P(
        F(received_at=dt(2026, 3, 11, 7), due_at=dt(2026, 3, 16, 7), limit=WD(3)),
        dt(2026, 3, 11, 9),
        DATE,
        "within",
        ("due_exceeds_limit",),
        id="date: hẹn Mon 07:00 ngày sau hạn -> cờ (vượt 0h)",
    ),
    P(
        F(due_at=dt(2026, 3, 17, 10), computed_due_at=D),
        dt(2026, 3, 11, 9),
        DATE,
        "within",
        ("due_exceeds_limit",),
        id="computed_due_at cho sẵn, hẹn Tue -> cờ",
    ),
    # --- apology ---
    P(
        F(status=10, finished_at=dt(2026, 3, 16, 8), apology_at=dt(2026, 3, 12, 9)),
        dt(2026, 3, 16, 12),
        DATE,
        "late",
        (),
        id="late, xin lỗi trước hạn -> không cờ",
    ),
    P(
        F(status=10, finished_at=dt(2026, 3, 16, 8), apology_at=dt(2026, 3, 16, 7, 30)),
        dt(2026, 3, 16, 12),
        DATE,
        "late",
        LATE_WA,
        id="late, xin lỗi sau hạn -> late_without_apology",
    ),
    P(
        F(status=10, finished_at=dt(2026, 3, 16, 8), apology_at=D),
        dt(2026, 3, 16, 12),
        DATETIME,
        "late",
        LATE_WA,
        id="datetime: xin lỗi đúng giờ hẹn (không trước hạn) -> cờ",
    ),
    P(
        F(status=10, finished_at=dt(2026, 3, 16, 8), apology_at=dt(2026, 3, 13, 9, 59, 59)),
        dt(2026, 3, 16, 12),
        DATETIME,
        "late",
        (),
        id="datetime: xin lỗi 1 giây trước hạn -> không cờ",
    ),
    P(
        F(
            status=10,
            finished_at=dt(2026, 3, 17, 9),
            apology_at=dt(2026, 3, 12, 9),
            rescheduled_due_at=dt(2026, 3, 18, 10),
        ),
        dt(2026, 3, 19, 9),
        DATE,
        "late",
        (),
        id="hẹn lại Wed, xong Tue trước hẹn mới -> vẫn late",
    ),
    P(
        F(apology_at=dt(2026, 3, 12, 9), rescheduled_due_at=dt(2026, 3, 18, 10)),
        dt(2026, 3, 17, 10),
        DATE,
        "overdue",
        (),
        id="hẹn lại, chưa quá hẹn mới -> overdue, không cờ",
    ),
    P(
        F(apology_at=dt(2026, 3, 12, 9), rescheduled_due_at=dt(2026, 3, 18, 10)),
        dt(2026, 3, 19, 9),
        DATE,
        "overdue",
        ("past_rescheduled_due",),
        id="quá cả hẹn mới -> past_rescheduled_due",
    ),
    P(
        F(apology_at=dt(2026, 3, 12, 9), rescheduled_due_at=dt(2026, 3, 18, 10)),
        dt(2026, 3, 19, 9),
        DATETIME,
        "overdue",
        ("past_rescheduled_due",),
        id="datetime: quá cả hẹn mới -> past_rescheduled_due",
    ),
    P(
        F(apology_at=dt(2026, 3, 16, 9), rescheduled_due_at=dt(2026, 3, 18, 10)),
        dt(2026, 3, 19, 9),
        DATE,
        "overdue",
        ("late_without_apology", "past_rescheduled_due"),
        id="xin lỗi muộn và quá hẹn mới -> hai cờ",
    ),
    P(
        F(status=10, finished_at=dt(2026, 3, 12, 9), apology_at=dt(2026, 3, 11, 9)),
        dt(2026, 3, 16, 12),
        DATE,
        "early",
        (),
        id="early có xin lỗi -> early, không cờ",
    ),
    P(
        F(status=5, apology_at=None),
        dt(2026, 3, 19, 9),
        DATE,
        "paused",
        (),
        id="paused quá hạn không bị cờ xin lỗi",
    ),
]


@pytest.mark.parametrize("facts, as_of, rules, cls, flags", CLASSIFY_TABLE)
def test_classify(facts, as_of, rules, cls, flags):
    got = classify(facts, as_of, CAL, rules)
    assert isinstance(got, Classification)
    assert got.cls == cls
    assert tuple(got.flags) == tuple(sorted(flags))


# Detail fields: due_used, computed_due, excess_hours, working_hours_left, finish_moment.

DETAIL_TABLE = [
    P(
        F(),
        dt(2026, 3, 11, 9),
        DATE,
        dict(due_used=D, working_hours_left=17.0),
        id="within: còn 17h",
    ),
    P(F(), dt(2026, 3, 12, 10), DATE, dict(working_hours_left=8.0), id="at_risk: còn 8h"),
    P(
        F(),
        dt(2026, 3, 12, 9, 59),
        DATE,
        dict(working_hours_left=8 + 1 / 60),
        id="within: còn 8h01",
    ),
    # [Fri 10:00, Fri 15:00) = 1.5h + 1.5h -> -3h.
    P(
        F(),
        dt(2026, 3, 13, 15),
        DATE,
        dict(working_hours_left=-3.0),
        id="date at_risk sau giờ: -3h",
    ),
    P(
        F(),
        dt(2026, 3, 13, 23, 59, 59),
        DATE,
        dict(working_hours_left=-5.0),
        id="cuối ngày hẹn: -5h",
    ),
    P(F(), dt(2026, 3, 16, 8), DATE, dict(working_hours_left=-6.0), id="overdue Mon 08:00: -6h"),
    P(F(), D, DATETIME, dict(working_hours_left=0.0), id="đúng giờ hẹn: 0h"),
    P(
        F(status=10, finished_at=dt(2026, 3, 16, 9)),
        dt(2026, 3, 14, 12),
        DATE,
        dict(working_hours_left=-5.0),
        id="status 10 xong sau T: -5h tại Sat",
    ),
    P(
        F(due_at=dt(2026, 3, 16, 16)),
        dt(2026, 3, 13, 16),
        DATE,
        dict(working_hours_left=8.0),
        id="qua cuối tuần: 8h",
    ),
    P(
        F(due_at=None, limit=WD(3)),
        dt(2026, 3, 11, 9),
        DATE,
        dict(due_used=D, computed_due=D, working_hours_left=17.0),
        id="hạn tính dùng làm due",
    ),
    P(
        F(due_at=None, computed_due_at=D),
        dt(2026, 3, 11, 9),
        DATE,
        dict(due_used=D, computed_due=D),
        id="computed_due_at cho sẵn",
    ),
    P(
        F(due_at=None, limit=WD(3), received_at=dt(2026, 3, 2, 8), resubmitted_at=R),
        dt(2026, 3, 12, 10),
        DATE,
        dict(due_used=D, computed_due=D, working_hours_left=8.0),
        id="hạn tính lại sau bổ sung",
    ),
    P(
        F(due_at=None),
        dt(2026, 3, 30, 9),
        DATE,
        dict(due_used=None, computed_due=None),
        id="không có hạn nào",
    ),
    # Fri 10:00 -> Mon 10:00 = 5h + 3h.
    P(
        F(due_at=dt(2026, 3, 16, 10), limit=WD(3)),
        dt(2026, 3, 11, 9),
        DATE,
        dict(due_used=dt(2026, 3, 16, 10), computed_due=D, excess_hours=8.0),
        id="vượt hạn 8h",
    ),
    P(
        F(due_at=dt(2026, 3, 13, 17), limit=WD(3)),
        dt(2026, 3, 11, 9),
        DATETIME,
        dict(excess_hours=5.0),
        id="datetime: vượt hạn 5h cùng ngày",
    ),
    P(
        F(due_at=dt(2026, 3, 13, 17), limit=WD(3)),
        dt(2026, 3, 11, 9),
        DATE,
        dict(excess_hours=None),
        id="date: cùng ngày -> không có excess",
    ),
    P(
        F(received_at=dt(2026, 3, 11, 7), due_at=dt(2026, 3, 16, 7), limit=WD(3)),
        dt(2026, 3, 11, 9),
        DATE,
        dict(computed_due=dt(2026, 3, 13, 17), excess_hours=0.0),
        id="date: ngày sau, vượt 0h",
    ),
    # Fri 10:00 -> Tue 10:00 = 5 + 8 + 3.
    P(
        F(due_at=dt(2026, 3, 17, 10), computed_due_at=D),
        dt(2026, 3, 11, 9),
        DATE,
        dict(excess_hours=16.0),
        id="vượt hạn 16h",
    ),
    P(
        F(status=10, finished_at=dt(2026, 3, 12, 16)),
        dt(2026, 3, 16, 12),
        DATE,
        dict(finish_moment=dt(2026, 3, 12, 16), working_hours_left=None),
        id="finish_moment = finished_at",
    ),
    P(
        F(status=10, returned_at=dt(2026, 3, 12, 9)),
        dt(2026, 3, 16, 12),
        DATE,
        dict(finish_moment=dt(2026, 3, 12, 9)),
        id="finish_moment = returned_at",
    ),
    P(
        F(status=9, first_seen_finished_at=dt(2026, 3, 16, 8)),
        dt(2026, 3, 16, 12),
        DATE,
        dict(finish_moment=dt(2026, 3, 16, 8)),
        id="finish_moment = first_seen",
    ),
    P(
        F(status=9),
        dt(2026, 3, 16, 12),
        DATE,
        {"finish_moment": R},
        id="thấy đã xong lần đầu, thiếu ngày -> finish_moment = ngày tiếp nhận",
    ),
    P(
        F(apology_at=dt(2026, 3, 12, 9), rescheduled_due_at=dt(2026, 3, 18, 10)),
        dt(2026, 3, 19, 9),
        DATE,
        dict(due_used=D),
        id="hẹn lại không thay due_used",
    ),
]


@pytest.mark.parametrize("facts, as_of, rules, expected", DETAIL_TABLE)
def test_classify_details(facts, as_of, rules, expected):
    got = classify(facts, as_of, CAL, rules)
    for name, value in expected.items():
        actual = getattr(got, name)
        if isinstance(value, float):
            assert actual == pytest.approx(value, abs=1e-6), name
        else:
            assert actual == value, name


def test_classify_default_rules_is_date_mode():
    # Finished later the same day as due: on_time in date mode (the default).
    facts = F(status=10, finished_at=dt(2026, 3, 13, 15))
    assert classify(facts, dt(2026, 3, 16, 12), CAL).cls == "on_time"


def test_classify_flags_sorted_tuple():
    got = classify(
        F(apology_at=dt(2026, 3, 16, 9), rescheduled_due_at=dt(2026, 3, 18, 10)),
        dt(2026, 3, 19, 9),
        CAL,
    )
    assert isinstance(got.flags, tuple)
    assert got.flags == ("late_without_apology", "past_rescheduled_due")
