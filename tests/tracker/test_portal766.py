"""Golden cases of the national portal's reading of 766 criterion 2.1 ("Tỷ lệ hồ sơ xử lý trước
hạn, đúng hạn"), written from the portal's own description (ChippedTopaz/qd766,
web/src/formula-document.ts, record 2.1) before tracker/portal766.py existed.

The text, as the cases below apply it:
- on time iff the end of processing (NgayKetThucXuLy) <= the appointment (NgayHenTra);
- end moment: Đã xử lý xong > Đã trả kết quả > Dừng xử lý / Từ chối / rút;
- waiting for a supplement the applicant has not brought: the request moment is the end, but
  more than one request is late;
- a dossier that ended after supplements: each pair's (resubmission − request) is subtracted;
- no appointment: end − start − supplement time <= the legal limit (start = receipt);
- no end state: the last day of the period is the end.

Calendar: the default one (07:00–11:30, 13:30–17:00). October 2026: Mon 5 – Fri 9 and Mon 12 –
Fri 16 are ordinary working weeks. Comparison: `date` (the product's default; RULES §5).
Period: October 2026, so T = 2026-10-31 23:59:59.
"""

from __future__ import annotations

from datetime import datetime

import pytest

from tracker.calendar import WorkCalendar
from tracker.portal766 import PortalFacts, SupplementPair, portal_verdict
from tracker.rules import RuleSettings, TimeLimit

CAL = WorkCalendar()
T = datetime(2026, 10, 31, 23, 59, 59)
P = pytest.param


def dt(d, h=0, mi=0, mo=10):
    return datetime(2026, mo, d, h, mi)


def pair(req, res=None):
    return SupplementPair(requested_at=req, resubmitted_at=res)


def facts(**kw) -> PortalFacts:
    base = {"code": "HS-1", "status": 10, "received_at": dt(5, 9), "due_at": dt(8, 17)}
    base.update(kw)
    return PortalFacts(**base)


CASES = [
    # ---- finished (Đã xử lý xong / Đã trả kết quả) -------------------------------------------
    P(facts(finished_at=dt(8, 10)), "on_time", dt(8, 10), "finished", id="finished-on-time"),
    P(facts(finished_at=dt(7, 10)), "on_time", dt(7, 10), "finished", id="finished-early-is-on-time"),
    P(facts(finished_at=dt(9, 8)), "late", dt(9, 8), "finished", id="finished-late"),
    # finished (xử lý xong) wins over returned (trả kết quả), whichever came first in the export
    P(facts(finished_at=dt(8, 16), returned_at=dt(12, 9)), "on_time", dt(8, 16), "finished",
      id="finished-before-returned"),
    P(facts(returned_at=dt(12, 9)), "late", dt(12, 9), "finished", id="returned-only"),
    # ---- supplements subtracted from a finished dossier's end --------------------------------
    # requested Tue 6 09:00, brought back Tue 13 09:00 (7 days); finished Wed 14 10:00 -> Wed 7 10:00
    P(facts(finished_at=dt(14, 10), supplements=(pair(dt(6, 9), dt(13, 9)),)), "on_time", dt(7, 10),
      "supplement_subtracted", id="supplement-turns-late-into-on-time"),
    # two closed pairs (1 day + 2 days): both subtracted; "more than once" is about waiting only
    P(facts(finished_at=dt(11, 10),
            supplements=(pair(dt(6, 9), dt(7, 9)), pair(dt(7, 10), dt(9, 10)))),
      "on_time", dt(8, 10), "supplement_subtracted", id="two-closed-pairs-subtracted"),
    # the subtraction is not enough: still late
    P(facts(finished_at=dt(16, 10), supplements=(pair(dt(6, 9), dt(7, 9)),)), "late", dt(15, 10),
      "supplement_subtracted", id="supplement-subtracted-still-late"),
    # ---- waiting for a supplement ------------------------------------------------------------
    P(facts(status=5, supplements=(pair(dt(7, 15)),)), "on_time", dt(7, 15), "waiting_supplement",
      id="waiting-one-request-before-due"),
    P(facts(status=5, supplements=(pair(dt(9, 9)),)), "late", dt(9, 9), "waiting_supplement",
      id="waiting-one-request-after-due"),
    P(facts(status=5, supplements=(pair(dt(6, 9), dt(7, 9)), pair(dt(7, 14)))), "late", dt(7, 14),
      "supplement_requests", id="waiting-two-requests-late"),
    # ---- no appointment ----------------------------------------------------------------------
    # 3 working days from Mon 5 09:00: due Thu 8 09:00 (the date counts: finished Thu 16:00 is on time)
    P(facts(due_at=None, limit=TimeLimit(3, "working_days"), finished_at=dt(8, 16)), "on_time", dt(8, 16),
      "no_due_limit", id="no-appointment-within-limit"),
    P(facts(due_at=None, limit=TimeLimit(3, "working_days"), finished_at=dt(9, 8)), "late", dt(9, 8),
      "no_due_limit", id="no-appointment-beyond-limit"),
    # supplement time (2 days) subtracted before comparing with the limit: Fri 9 15:00 -> Wed 7 15:00
    P(facts(due_at=None, limit=TimeLimit(3, "working_days"), finished_at=dt(9, 15),
            supplements=(pair(dt(6, 9), dt(8, 9)),)), "on_time", dt(7, 15), "no_due_limit",
      id="no-appointment-supplement-subtracted"),
    P(facts(due_at=None, finished_at=dt(30, 9)), "on_time", dt(30, 9), "no_due_no_limit",
      id="no-appointment-no-limit"),
    # ---- no end state: the period's last day ---------------------------------------------------
    P(facts(status=4), "late", T, "no_end", id="open-past-due"),
    P(facts(status=4, due_at=dt(10, 17, mo=11)), "on_time", T, "no_end", id="open-due-later"),
    P(facts(status=2, due_at=dt(31, 17)), "on_time", T, "no_end", id="open-due-on-last-day"),
    # a closed supplement of an open dossier is subtracted from the last day too: Oct 31 - 25 days
    P(facts(status=4, due_at=dt(8, 17), supplements=(pair(dt(6, 9), dt(31, 9)),)), "on_time",
      datetime(2026, 10, 6, 23, 59, 59), "no_end", id="open-with-supplement-subtracted"),
    # ---- stopped / withdrawn (status 7, 8): their moment is compared like any end ------------------
    P(facts(status=8, finished_at=dt(12, 10)), "late", dt(12, 10), "stopped", id="stopped-after-due"),
    P(facts(status=7, finished_at=dt(7, 10)), "on_time", dt(7, 10), "stopped", id="withdrawn-before-due"),
    # stopped with no date, first seen ended on 12 Oct by an import: that moment (RULES §5)
    P(facts(status=8, first_seen_finished_at=dt(12, 10)), "late", dt(12, 10), "stopped",
      id="stopped-first-seen"),
    # finished with no date, never seen open: counted as finished at its receipt (RULES §5)
    P(facts(status=10), "on_time", dt(5, 9), "finished", id="finished-no-date-at-receipt"),
    # ---- ended after T: at T it had no end state --------------------------------------------------
    P(facts(finished_at=dt(3, 9, mo=11), due_at=dt(20, 17, mo=11)), "on_time", T, "no_end",
      id="finished-after-T-due-later"),
    P(facts(finished_at=dt(3, 9, mo=11), due_at=dt(15, 17)), "late", T, "no_end", id="finished-after-T-past-due"),
    # a supplement requested after T does not exist at T
    P(facts(status=5, due_at=dt(10, 17, mo=11), supplements=(pair(dt(2, 9, mo=11)),)), "on_time", T, "no_end",
      id="request-after-T-ignored"),
    # a resubmission after T: at T the dossier was still waiting
    P(facts(status=4, supplements=(pair(dt(7, 9), dt(3, 9, mo=11)),)), "on_time", dt(7, 9), "waiting_supplement",
      id="resubmitted-after-T-still-waiting"),
]


@pytest.mark.parametrize(("f", "verdict", "end_at", "reason"), CASES)
def test_portal_verdict_golden(f, verdict, end_at, reason):
    v = portal_verdict(f, T, CAL)
    assert (v.verdict, v.end_at, v.reason) == (verdict, end_at, reason)


def test_datetime_comparison_setting_is_used():
    """'<=' follows the product's comparison setting: in datetime mode, finishing at 17:30 on the
    due date (due 17:00) is late; in date mode it is on time."""
    f = facts(finished_at=dt(8, 17, 30))
    assert portal_verdict(f, T, CAL).verdict == "on_time"
    assert portal_verdict(f, T, CAL, RuleSettings(comparison="datetime")).verdict == "late"


def test_as_of_before_period_end():
    """Evaluated mid-period (as_of), an open dossier's end is that moment, not the last day."""
    t = dt(7, 12)
    v = portal_verdict(facts(status=4), t, CAL)
    assert (v.verdict, v.end_at, v.reason) == ("on_time", t, "no_end")


def test_reasons_read_in_both_languages():
    v = portal_verdict(facts(status=5, supplements=(pair(dt(6, 9), dt(7, 9)), pair(dt(7, 14)))), T, CAL)
    assert "2 lần yêu cầu bổ sung" in v.explain("vi")
    assert "2 supplement requests" in v.explain("en")
    v = portal_verdict(facts(finished_at=dt(14, 10), supplements=(pair(dt(6, 9), dt(13, 9)),)), T, CAL)
    assert "7 ngày" in v.explain("vi") and "7 days" in v.explain("en")


def test_supplement_seconds_sum_closed_pairs_only():
    v = portal_verdict(facts(finished_at=dt(16, 10), supplements=(pair(dt(6, 9), dt(7, 9)), pair(dt(8, 9)))),
                       T, CAL)
    assert v.supplement_seconds == 24 * 3600
    assert v.requests == 2


def test_working_time_for_2_2_subtracts_the_supplement():
    """Criterion 2.2: working time from receipt to the end, supplement time subtracted as in 2.1.
    Mon 5 09:00 → Thu 8 10:00: Mon 6 h + Tue 8 h + Wed 8 h + Thu 3 h = 25 h; with a supplement of
    one calendar day (Tue 09:00 → Wed 09:00) the end is Wed 10:00: 6 + 8 + 3 = 17 h."""
    from tracker.portal766 import derived_columns, supplement_summary

    row = {"code": "HS-1", "status": 10, "received_at": dt(5, 9), "due_at": dt(8, 17), "finished_at": dt(8, 10)}
    assert derived_columns(row, None, CAL, RuleSettings())["portal_work_seconds"] == 25 * 3600
    row |= supplement_summary([pair(dt(6, 9), dt(7, 9))])
    assert derived_columns(row, None, CAL, RuleSettings())["portal_work_seconds"] == 17 * 3600
    # not counted: stopped, or finished with no date
    assert derived_columns({**row, "status": 8}, None, CAL, RuleSettings())["portal_work_seconds"] is None
    assert derived_columns({**row, "finished_at": None}, None, CAL, RuleSettings())["portal_work_seconds"] is None
