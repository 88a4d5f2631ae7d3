"""Scores (RULES.md §7): the 766 progress score and PAR-style rules taken from settings, each line
with inputs an officer can check by hand."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal

import pytest

from tests.cli.test_main import run_cli
from tests.tracker.test_reports import MARCH, add_dossiers, seed_catalogues
from tracker.scoring import ScoringRule, apply_rule, parse_rules, score

EXAMPLE_RULES = [  # the example rule set proposed for config.example.toml
    {"name": "Đơn vị cấp tỉnh giải quyết 100% hồ sơ đúng hạn", "metric": "share_units_full_on_time",
     "level": "tinh", "max_points": 1.0, "bands": [[100, 1.0], [80, 0.5], [0, 0]]},
    {"name": "Đơn vị cấp xã giải quyết 100% hồ sơ đúng hạn", "metric": "share_units_full_on_time",
     "level": "xa", "max_points": 1.0, "bands": [[100, 1.0], [80, 0.5], [0, 0]]},
    {"name": "Tỷ lệ hồ sơ giải quyết đúng hạn", "metric": "overall_on_time_rate", "max_points": 2,
     "bands": [[90, 1.0], [80, 0.5], [0, 0]]},
    {"name": "Hồ sơ trễ hạn có xin lỗi", "metric": "share_late_with_apology", "max_points": 3},
    {"name": "Cấp huyện: trễ hạn có xin lỗi", "metric": "share_late_with_apology", "level": "huyen",
     "max_points": 1, "bands": [[100, 1]], "empty_points": 1},
    {"name": "Cấp huyện: đúng hạn", "metric": "overall_on_time_rate", "level": "huyen", "max_points": 1},
]


def test_rules_are_validated_with_the_rule_and_key_named():
    rules = parse_rules(EXAMPLE_RULES)
    assert rules[0] == ScoringRule("Đơn vị cấp tỉnh giải quyết 100% hồ sơ đúng hạn", "share_units_full_on_time",
                                   Decimal("1.0"), ((Decimal(100), Decimal("1.0")), (Decimal(80), Decimal("0.5")),
                                                    (Decimal(0), Decimal(0))), "tinh")
    assert parse_rules(json.dumps(EXAMPLE_RULES[:1])) == rules[:1]  # from the environment: JSON
    assert parse_rules([]) == [] and parse_rules("") == []
    # bands in any order are kept highest first
    assert parse_rules([{**EXAMPLE_RULES[0], "bands": [[0, 0], [100, 1]]}])[0].bands[0][0] == 100
    for bad, message in [
        ({**EXAMPLE_RULES[0], "metric": "share_happy_citizens"}, "rule 1 ('Đơn vị cấp tỉnh"),
        ({**EXAMPLE_RULES[0], "metric": "share_happy_citizens"}, "metric: 'share_happy_citizens' is not one of"),
        ({**EXAMPLE_RULES[0], "bands": [[101, 1]]}, "bands: threshold: 101 is not from 0 to 100"),
        ({**EXAMPLE_RULES[0], "bands": [[95, 2]]}, "bands: fraction: 2 is not from 0 to 1"),
        ({**EXAMPLE_RULES[0], "bands": [[95]]}, "is not a [threshold %, fraction] pair"),
        ({**EXAMPLE_RULES[0], "bands": [[95, 1], [95, 0.5]]}, "same threshold"),
        ({**EXAMPLE_RULES[0], "max_points": "nhiều"}, "max_points: 'nhiều' is not a number"),
        ({**EXAMPLE_RULES[0], "max_points": 0}, "max_points: must be more than 0"),
        ({**EXAMPLE_RULES[0], "empty_points": 5}, "empty_points: 5 is not from 0 to 1.0"),
        ({**EXAMPLE_RULES[0], "treshold": 5}, "unknown key 'treshold'"),
        ({**EXAMPLE_RULES[0], "name": " "}, "a rule needs a name"),
    ]:
        with pytest.raises(ValueError, match=None) as exc:
            parse_rules([bad])
        assert message in str(exc.value), (message, str(exc.value))
    with pytest.raises(ValueError, match="two rules are named"):
        parse_rules([EXAMPLE_RULES[0], EXAMPLE_RULES[0]])
    with pytest.raises(ValueError, match="JSON array"):
        parse_rules("[{")


def test_a_band_is_hit_by_the_exact_value_not_its_rounded_display():
    rule = parse_rules([{"name": "r", "metric": "overall_on_time_rate", "max_points": 2,
                         "bands": [[100, 1], [95, 0.5]]}])[0]
    at = apply_rule(rule, 19, 20, scope="all", scope_name="")  # exactly 95%
    assert (at.value, at.band, at.points) == (Decimal("95.00"), (Decimal(95), Decimal("0.5")), Decimal("1.00"))
    assert at.explain() == "19/20 = 95,00% ≥ 95% → 0,5 × 2 = 1,00 điểm"
    below = apply_rule(rule, 18999, 20000, scope="all", scope_name="")  # 94.995% shows as 95,00%
    assert (below.value, below.band, below.points) == (Decimal("95.00"), None, Decimal("0.00"))
    assert "dưới mọi ngưỡng" in below.explain()
    almost = apply_rule(rule, 9999, 10000, scope="all", scope_name="")  # 99.99%: not 100
    assert almost.band == (Decimal(95), Decimal("0.5"))
    proportional = apply_rule(parse_rules([{"name": "p", "metric": "overall_on_time_rate", "max_points": 3}])[0],
                              2, 3, scope="all", scope_name="")
    assert proportional.points == Decimal("2.00") and proportional.band is None
    nothing = apply_rule(rule, 0, 0, scope="all", scope_name="")
    assert (nothing.value, nothing.points) == (None, None) and "không có dữ liệu" in nothing.explain()


@pytest.fixture
def ids(engine):
    return seed_catalogues(engine)


def test_march_scores_with_their_inputs_and_the_score_command(engine, settings, ids, capsys):
    add_dossiers(engine, settings, ids, MARCH)
    lines = score(engine, settings, date(2026, 3, 1), date(2026, 3, 31), rules=parse_rules(EXAMPLE_RULES))
    by = {(ln.rule, ln.scope): ln for ln in lines}
    overall = lines[0]
    assert (overall.scope, overall.numerator, overall.denominator) == ("all", 13, 16)
    assert (overall.value, overall.points, overall.max_points) == (Decimal("81.25"), Decimal("16.25"), Decimal(20))
    assert overall.explain() == "20 × 13/16 = 16,25 điểm"
    stp = by[("766 Tiến độ giải quyết", "T.STP")]
    assert (stp.numerator, stp.denominator, stp.points) == (11, 14, Decimal("15.71"))
    assert by[("766 Tiến độ giải quyết", "T.XA")].points == Decimal("20.00")

    tinh = by[(EXAMPLE_RULES[0]["name"], "tinh")]  # Sở Tư pháp finished 2 late: 0 of 1 unit
    assert (tinh.numerator, tinh.denominator, tinh.points) == (0, 1, Decimal("0.00"))
    assert tinh.note == "Chưa đạt 100%: Sở Tư pháp (77,8%)"
    xa = by[(EXAMPLE_RULES[1]["name"], "xa")]  # An Bình finished its one on time; Bình Minh nothing
    assert (xa.numerator, xa.denominator, xa.points) == (1, 1, Decimal("1.00"))
    rate = by[(EXAMPLE_RULES[2]["name"], "all")]  # 8 of 10 finished on time: exactly the 80% band
    assert (rate.numerator, rate.denominator, rate.band, rate.points) == (8, 10, (80, Decimal("0.5")),
                                                                          Decimal("1.00"))
    apology = by[(EXAMPLE_RULES[3]["name"], "all")]  # late C4, N1 and overdue N3: N1 apologised in time
    assert (apology.numerator, apology.denominator, apology.points) == (1, 3, Decimal("1.00"))
    assert by[(EXAMPLE_RULES[4]["name"], "huyen")].points == Decimal("1.00")  # nothing to measure: empty_points
    assert by[(EXAMPLE_RULES[5]["name"], "huyen")].points is None

    code, out, _ = run_cli(capsys, settings, "score", "--from", "2026-03-01", "--to", "2026-03-31", "--format",
                           "json")
    data = json.loads(out)
    assert code == 0 and data[0] == {
        "rule": "766 Tiến độ giải quyết", "metric": "766_progress", "level": None, "scope": "all",
        "scope_name": "Tất cả đơn vị", "numerator": 13, "denominator": 16, "value": 81.25, "band": None,
        "points": 16.25, "max_points": 20.0, "explanation": "20 × 13/16 = 16,25 điểm", "note": ""}
    code, out, _ = run_cli(capsys, settings, "score", "--from", "2026-03-01", "--to", "2026-03-31")
    assert code == 0 and "13/16" in out and "16,25/20" in out and "only the 766 score" in out
    code, _, err = run_cli(capsys, settings, "score", "--from", "tháng 3", "--to", "2026-03-31")
    assert code == 2 and err == "tthc: --from: 'tháng 3' is not a date: expected YYYY-MM-DD or dd/mm/yyyy\n"
