"""The SQL-side at-risk test (due <= at_risk_boundary) agrees with classify() everywhere."""

from __future__ import annotations

from datetime import datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.conftest import examples
from tracker.calendar import WorkCalendar
from tracker.rules import DossierFacts, RuleSettings, at_risk_boundary, classify

CAL = WorkCalendar()
moments = st.datetimes(min_value=datetime(2025, 12, 1), max_value=datetime(2026, 12, 31)).map(
    lambda d: d.replace(microsecond=0))


@settings(max_examples=examples(400), deadline=None, database=None)
@given(as_of=moments, ahead=st.integers(min_value=0, max_value=5 * 24 * 3600),
       mode=st.sampled_from(["date", "datetime"]), hours=st.sampled_from([4.0, 8.0, 16.0]))
def test_boundary_matches_classify(as_of, ahead, mode, hours):
    rules = RuleSettings(comparison=mode, at_risk_hours=hours)
    due = as_of + timedelta(seconds=ahead)
    c = classify(DossierFacts("X", 4, as_of - timedelta(days=1), due_at=due), as_of, CAL, rules)
    assert c.cls in ("at_risk", "within")
    assert (c.cls == "at_risk") == (due <= at_risk_boundary(CAL, as_of, rules))


def test_boundary_across_a_weekend_is_the_next_opening():
    # Fri 16:00 + 8 working hours ends Mon 16:00: a due then is at risk, a second later is not
    boundary = at_risk_boundary(CAL, datetime(2026, 3, 6, 16, 0))
    assert boundary == datetime(2026, 3, 9, 16, 0)
    # Fri 07:00 + 8 h ends at Fri 17:00, which is Mon 07:00 in working time: the weekend is at risk too
    assert at_risk_boundary(CAL, datetime(2026, 3, 6, 7, 0)) == datetime(2026, 3, 9, 7, 0)
