"""The national portal's method for the 766 progress score (criterion 2.1) — placeholder, replaced at merge.

The real module is written in parallel (issue 11, "The portal's method"); this file only holds
its interface so the reconciliation and the data-quality panel can be built against it:

- `portal_scores(engine, settings, start, end, *, as_of=None, unit_ids=None)` ->
  (a PortalUnitScore per unit, the total PortalUnitScore);
- `portal_disagreements(engine, settings, start, end, *, as_of=None, unit_ids=None, limit=None)` ->
  the dossiers the portal's method and Biểu 06 classify differently.

Here the portal's counts are the Biểu 06 ones (on time := early + on time + within, as the 766
score of tracker.reports counts them) and the two methods never disagree. Nothing may rely on
these internals: the tests of the reconciliation use data on which both methods agree.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import Engine

from tracker.config import Settings
from tracker.reports import ReportRow, period_report, ratio_half_up


@dataclass(frozen=True)
class PortalUnitScore:
    key: str  # the unit's code ("total" for the total)
    name: str
    received: int
    on_time: int
    late: int
    score: Decimal | None  # 20 × on_time / received, 2 decimals half up; None when nothing was received


@dataclass(frozen=True)
class Disagreement:
    code: str
    unit: str  # the unit's code
    portal: str  # "on_time" | "late"
    bieu06: str  # "on_time" | "late"
    end_at: datetime | None
    reason: str


def _score(row: ReportRow) -> PortalUnitScore:
    on_time = row.early + row.on_time + row.within
    return PortalUnitScore(row.key, row.name, row.total, on_time, row.total - on_time,
                           ratio_half_up(on_time, row.total, 20, 2))


def portal_scores(engine: Engine, settings: Settings, start: date, end: date, *, as_of: datetime | None = None,
                  unit_ids: Collection[int] | None = None) -> tuple[list[PortalUnitScore], PortalUnitScore]:
    report = period_report(engine, settings, start, end, as_of=as_of, by="unit", unit_ids=unit_ids)
    return [_score(r) for r in report.rows], _score(report.total)


def portal_disagreements(engine: Engine, settings: Settings, start: date, end: date, *,
                         as_of: datetime | None = None, unit_ids: Collection[int] | None = None,
                         limit: int | None = None) -> Iterable[Disagreement]:
    return []
