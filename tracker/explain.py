"""One dossier explained at a moment: its class, the due it is held to, which time limit and how
the due was counted, step by step (tracker.rules.explain_due).

`tthc dossier CODE` prints it; the dashboard's dossier page shows the same facts.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Engine

from tracker.calendar import WorkCalendar
from tracker.config import Settings
from tracker.derive import classify_row, limit_used
from tracker.limits import ProcedureLimits
from tracker.queries import dossier_rows, limit_versions
from tracker.rules import Classification, RuleSettings, TimeLimit, explain_due


@dataclass(frozen=True)
class DossierExplained:
    row: Mapping[str, Any]  # the dossier with its unit and procedure (tracker.queries.dossier_rows)
    as_of: datetime
    classification: Classification
    limit: TimeLimit | None  # its own limit, or its procedure's version in force on its receipt date
    limit_text: str | None  # that limit said for a person, and where it comes from
    due_steps: list[str] = field(default_factory=list)  # how the due was counted; empty: it cannot be


def explain_row(row: Mapping[str, Any], as_of: datetime, cal: WorkCalendar, rules: RuleSettings,
                limits: ProcedureLimits, lang: str = "vi") -> DossierExplained:
    """Explain a dossier row a caller has already read (and scoped), at `as_of`."""
    c, limit = classify_row(row, as_of, cal, rules, limits)
    steps = []
    if limit and row["received_at"] and c.computed_due is not None:  # none: the limit cannot be counted
        steps = explain_due(cal, row["received_at"], limit, resubmitted_at=row["resubmitted_at"],
                            channel=row["channel"], rules=rules, lang=lang).lines(lang)
    return DossierExplained(row, as_of, c, limit, limit_used(row, limits, lang), steps)


def explain_dossier(engine: Engine, settings: Settings, code: str, as_of: datetime,
                    lang: str = "vi") -> DossierExplained | None:
    """The dossier with this code explained at `as_of`, or None when there is none."""
    rows = list(dossier_rows(engine, code=code))
    if not rows:
        return None
    return explain_row(rows[0], as_of, settings.work_calendar(), settings.rule_settings(),
                       limit_versions(engine), lang)
