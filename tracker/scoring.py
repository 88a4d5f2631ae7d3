"""Scores (RULES.md §7), each shown with the inputs an officer needs to check it by hand.

- 766 "Tiến độ giải quyết" (Quyết định 766/QĐ-TTg, 20 of 100 points), per unit and overall:
  points = 20 × (early + on time + unfinished within time) / total, over the dossiers of the period
  report (RULES §6); two decimals, half up; no score when total is 0.
- PAR Index (Chỉ số CCHC) one-stop criteria: the official point bands were not found, so the rules
  are data, from the settings (`[[scoring.rules]]`):

      [[scoring.rules]]
      name = "Tỷ lệ đơn vị cấp xã giải quyết 100% hồ sơ đúng hạn"
      metric = "share_units_full_on_time"   # or overall_on_time_rate, share_late_with_apology
      level = "xa"                          # optional: only units of this level
      max_points = 1.0
      bands = [[100, 1.0], [80, 0.5], [0, 0]]   # [threshold %, fraction of max_points], any order
      empty_points = 1.0                    # optional: points when there is nothing to measure

  A band is hit when the metric's exact value (not its rounded display) is at or above its
  threshold; the highest such band gives `fraction × max_points`. Without `bands` the points are
  proportional: max_points × value / 100. Below every band: 0 points.

Metrics (numerator / denominator, over the period report's per-unit rows of the level):
- share_units_full_on_time: units whose finished dossiers were all early or on time / units that
  finished at least one dossier in the period (a unit that finished nothing is not measured);
- overall_on_time_rate: (early + on time) / finished;
- share_late_with_apology: (late + overdue with an apology issued before the due moment) /
  (late + overdue).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from fractions import Fraction
from typing import Any

from sqlalchemy import Engine

from tracker.config import Settings, table_list
from tracker.reports import Report, ReportRow, period_report, rate_text, ratio_half_up, score_766, vi_number

METRICS = ("share_units_full_on_time", "overall_on_time_rate", "share_late_with_apology")
METRIC_766 = "766_progress"
POINTS_766 = Decimal(20)
_RULE_KEYS = {"name", "metric", "level", "max_points", "bands", "empty_points"}
_NOTE_UNITS = 20  # units named in a note before "… and N more"


@dataclass(frozen=True)
class ScoringRule:
    name: str
    metric: str
    max_points: Decimal
    bands: tuple[tuple[Decimal, Decimal], ...] = ()  # (threshold %, fraction), highest threshold first
    level: str | None = None
    empty_points: Decimal | None = None


def _number(value: Any, what: str, lo: Decimal, hi: Decimal | None = None) -> Decimal:
    try:
        if isinstance(value, bool):
            raise InvalidOperation
        n = Decimal(str(value))
    except (InvalidOperation, ValueError):
        raise ValueError(f"{what}: '{value}' is not a number") from None
    if not n.is_finite() or n < lo or (hi is not None and n > hi):
        raise ValueError(f"{what}: {value} is not from {lo} to {hi if hi is not None else '…'}")
    return n


def parse_rules(value: Any) -> list[ScoringRule]:
    """Validate `scoring.rules`: an array of tables (TOML) or, from the environment, a JSON array.
    Errors name the rule and the key: "rule 2 ('Tỷ lệ …'): bands: …"."""
    value = table_list(value, "scoring.rules")
    if not value:
        return []
    if not isinstance(value, list):
        raise ValueError(f"'{value}' is not a list of [[scoring.rules]] tables")
    rules = []
    for i, entry in enumerate(value, start=1):
        if isinstance(entry, ScoringRule):
            rules.append(entry)
            continue
        if not isinstance(entry, dict):
            raise ValueError(f"rule {i}: '{entry}' is not a table")
        label = f"rule {i} ('{entry.get('name', '')}')"
        try:
            rules.append(_parse_rule(entry))
        except ValueError as exc:
            raise ValueError(f"{label}: {exc}") from None
    names = [r.name for r in rules]
    dup = next((n for n in names if names.count(n) > 1), None)
    if dup is not None:
        raise ValueError(f"two rules are named '{dup}'")
    return rules


def scoring_rules(settings: Settings) -> list[ScoringRule]:
    """The settings' `[[scoring.rules]]`, built once per value of the settings (checked at start-up by
    tracker.settings_check). Shared: not to be changed."""
    return settings.derived(parse_rules, "scoring.rules")


def _parse_rule(entry: dict[str, Any]) -> ScoringRule:
    unknown = sorted(set(entry) - _RULE_KEYS)
    if unknown:
        raise ValueError(f"unknown key '{unknown[0]}' (keys: {', '.join(sorted(_RULE_KEYS))})")
    name = entry.get("name")
    if not isinstance(name, str) or not name.strip():
        raise ValueError("name: a rule needs a name")
    metric = entry.get("metric")
    if metric not in METRICS:
        raise ValueError(f"metric: '{metric}' is not one of {', '.join(METRICS)}")
    level = entry.get("level")
    if level is not None and not isinstance(level, str):
        raise ValueError(f"level: '{level}' is not a unit level")
    max_points = _number(entry.get("max_points"), "max_points", Decimal(0))
    if max_points == 0:
        raise ValueError("max_points: must be more than 0")
    bands = []
    raw = entry.get("bands", [])
    if not isinstance(raw, list):
        raise ValueError(f"bands: '{raw}' is not a list of [threshold %, fraction] pairs")
    for band in raw:
        if not isinstance(band, list | tuple) or len(band) != 2:
            raise ValueError(f"bands: '{band}' is not a [threshold %, fraction] pair")
        bands.append((_number(band[0], "bands: threshold", Decimal(0), Decimal(100)),
                      _number(band[1], "bands: fraction", Decimal(0), Decimal(1))))
    thresholds = [t for t, _ in bands]
    if len(set(thresholds)) != len(thresholds):
        raise ValueError("bands: two bands have the same threshold")
    empty = entry.get("empty_points")
    empty_points = None if empty is None else _number(empty, "empty_points", Decimal(0), max_points)
    return ScoringRule(name.strip(), metric, max_points, tuple(sorted(bands, reverse=True)), level, empty_points)


# ----- lines ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ScoreLine:
    """One score with its inputs: numerator / denominator = value %, the band hit, the points."""

    rule: str
    metric: str
    scope: str  # a unit code, or "all" (optionally of one level)
    scope_name: str
    numerator: int
    denominator: int
    value: Decimal | None  # percent, two decimals half up; None when the denominator is 0
    band: tuple[Decimal, Decimal] | None  # (threshold %, fraction) hit; None: proportional or no band
    points: Decimal | None  # None: nothing to measure and no empty_points
    max_points: Decimal
    level: str | None = None
    note: str = ""
    banded: bool = False  # the rule has bands (else its points are proportional)

    def explain(self) -> str:
        """How the points come out, in Vietnamese, e.g. '7/9 = 77,78% ≥ 50% → 0,5 × 2 = 1,00 điểm'."""
        if self.points is None:
            return f"{self.numerator}/{self.denominator}: không có dữ liệu để tính điểm"
        if self.denominator == 0:
            return f"không có dữ liệu để đo: {vi_number(self.points, 2)} điểm theo quy tắc"
        head = f"{self.numerator}/{self.denominator} = {vi_number(self.value, 2)}%"
        if self.metric == METRIC_766:
            return f"20 × {self.numerator}/{self.denominator} = {vi_number(self.points, 2)} điểm"
        if self.band is not None:
            t, f = self.band
            return (f"{head} ≥ {vi_number(t.normalize(), None)}% → {vi_number(f.normalize(), None)} × "
                    f"{vi_number(self.max_points.normalize(), None)} = {vi_number(self.points, 2)} điểm")
        if self.banded:
            return f"{head}: dưới mọi ngưỡng → 0 điểm"
        return f"{head} × {vi_number(self.max_points.normalize(), None)} = {vi_number(self.points, 2)} điểm"

    def as_dict(self) -> dict[str, Any]:
        return {
            "rule": self.rule, "metric": self.metric, "level": self.level, "scope": self.scope,
            "scope_name": self.scope_name, "numerator": self.numerator, "denominator": self.denominator,
            "value": None if self.value is None else float(self.value),
            "band": None if self.band is None else [float(self.band[0]), float(self.band[1])],
            "points": None if self.points is None else float(self.points),
            "max_points": float(self.max_points), "explanation": self.explain(), "note": self.note,
        }


def _q2(value: Decimal | Fraction) -> Decimal:
    if isinstance(value, Fraction):
        return ratio_half_up(value.numerator, value.denominator, 1, 2)  # type: ignore[return-value]
    return value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def apply_rule(rule: ScoringRule, numerator: int, denominator: int, *, scope: str, scope_name: str,
               note: str = "") -> ScoreLine:
    """The points of one rule for its numerator and denominator."""
    value = ratio_half_up(numerator, denominator, 100, 2)
    band = None
    if denominator == 0:
        points = None if rule.empty_points is None else _q2(rule.empty_points)
    else:
        exact = Fraction(numerator * 100, denominator)
        if rule.bands:
            band = next((b for b in rule.bands if exact >= Fraction(str(b[0]))), None)
            points = _q2(band[1] * rule.max_points) if band else Decimal("0.00")
        else:
            points = _q2(Fraction(str(rule.max_points)) * numerator / denominator)
    return ScoreLine(rule.name, rule.metric, scope, scope_name, numerator, denominator, value, band, points,
                     rule.max_points, rule.level, note, bool(rule.bands))


def line_766(row: ReportRow, scope: str, scope_name: str) -> ScoreLine:
    numerator = row.early + row.on_time + row.within
    return ScoreLine("766 Tiến độ giải quyết", METRIC_766, scope, scope_name, numerator, row.total,
                     ratio_half_up(numerator, row.total, 100, 2), None,
                     score_766(row.early, row.on_time, row.within, row.total), POINTS_766)


def _units_of(report: Report, level: str | None) -> list[ReportRow]:
    return [r for r in report.rows if level is None or r.level == level]


def _listed(rows: list[ReportRow], what: str) -> str:
    if not rows:
        return ""
    shown = ", ".join(f"{r.name} ({rate_text(r.on_time_rate)})" for r in rows[:_NOTE_UNITS])
    more = f" … và {len(rows) - _NOTE_UNITS} đơn vị khác" if len(rows) > _NOTE_UNITS else ""
    return f"{what}: {shown}{more}"


def rule_line(rule: ScoringRule, report: Report) -> ScoreLine:
    units = _units_of(report, rule.level)
    scope_name = "Tất cả đơn vị" if rule.level is None else f"Đơn vị cấp {rule.level}"
    note = ""
    if rule.metric == "share_units_full_on_time":
        measured = [r for r in units if r.finished > 0]
        short = [r for r in measured if r.late > 0]
        numerator, denominator = len(measured) - len(short), len(measured)
        note = _listed(short, "Chưa đạt 100%")
    elif rule.metric == "overall_on_time_rate":
        numerator = sum(r.early + r.on_time for r in units)
        denominator = sum(r.finished for r in units)
    else:  # share_late_with_apology
        numerator = sum(r.late_apologised + r.overdue_apologised for r in units)
        denominator = sum(r.late + r.overdue for r in units)
    return apply_rule(rule, numerator, denominator, scope=rule.level or "all", scope_name=scope_name, note=note)


def score(engine: Engine, settings: Settings, start: date, end: date, as_of: datetime | None = None,
          rules: list[ScoringRule] | None = None) -> list[ScoreLine]:
    """The 766 score overall then per unit, then each rule's line, for the period [start, end]
    evaluated as tracker.reports.period_report does."""
    report = period_report(engine, settings, start, end, as_of=as_of, by="unit")
    lines = [line_766(report.total, "all", "Tất cả đơn vị")]
    lines += [line_766(r, r.key, r.name) for r in report.rows]
    lines += [rule_line(rule, report) for rule in parse_rules(rules or [])]
    return lines
