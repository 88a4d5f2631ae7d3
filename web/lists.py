"""The overdue and at-risk list (the reception desk's page): its filters, one page of it, and how
lateness reads. What is open, overdue or at risk at T is tracker.open_dossiers'.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import Engine, case, func, or_, select

from tracker.collation import name_key
from tracker.config import Settings
from tracker.models import Dossier, Procedure, Unit
from tracker.open_dossiers import Lateness, in_units, late_cut, lateness, open_conditions
from web.i18n import fmt_num
from web.outlook import add_outlook, outlook_filter
from web.scope import Scope, mask_name, mask_phone, unit_tree

d = Dossier.__table__.c
PAGE_SIZE = 50
HOW_LATE = ("any", "overdue", "at_risk", "past_new", "gt3", "gt7", "gt30", "likely_late", "stuck")
LATE_DAYS = {"gt3": 3, "gt7": 7, "gt30": 30}  # overdue by more than this many working days


def lateness_words(value: Lateness | None) -> str:
    """The same words on the list, the unit page and the dossier page."""
    if value is None:
        return ""
    if value.due_today:
        return _("đến hạn trong hôm nay")
    if value.days == 1 and isinstance(value.days, int):  # date mode's whole days: English says "1 day"
        return _("trễ 1 ngày làm việc") if value.late else _("còn 1 ngày làm việc")
    if value.days is not None:
        n = fmt_num(value.days if isinstance(value.days, int) else float(value.days), 1)
        return _("trễ %(n)s ngày làm việc", n=n) if value.late else _("còn %(n)s ngày làm việc", n=n)
    n = fmt_num(float(value.hours), 1)
    return _("trễ %(n)s giờ làm việc", n=n) if value.late else _("còn %(n)s giờ làm việc", n=n)


@dataclass
class ListFilters:
    unit: str = ""  # a unit code: that unit and its subtree
    procedure: str = ""  # a procedure code
    field: str = ""  # a field name (lĩnh vực)
    channel: str = ""  # "1" | "2" | "3"
    how_late: str = "any"
    q: str = ""  # dossier code, or its start
    page: int = 1

    @classmethod
    def from_args(cls, args) -> ListFilters:  # noqa: ANN001
        try:
            page = max(1, min(int(args.get("page", 1)), 100_000))
        except ValueError:
            page = 1
        how = args.get("how_late", "any")
        ch = args.get("channel", "")
        return cls(unit=args.get("unit", "").strip(), procedure=args.get("procedure", "").strip(),
                   field=args.get("field", "").strip(), channel=ch if ch in ("1", "2", "3") else "",
                   how_late=how if how in HOW_LATE else "any", q=args.get("q", "").strip()[:64], page=page)

    def query_args(self, **change: Any) -> dict[str, Any]:
        out = {"unit": self.unit, "procedure": self.procedure, "field": self.field, "channel": self.channel,
               "how_late": self.how_late, "q": self.q, "page": self.page}
        out.update(change)
        return {k: v for k, v in out.items() if v not in ("", None, "any") and not (k == "page" and v == 1)}


@dataclass
class ListPage:
    rows: list[dict[str, Any]]
    total: int
    page: int
    pages: int
    as_of: datetime
    filters: ListFilters
    extra: dict[str, Any] = field(default_factory=dict)


def overdue_list(engine: Engine, settings: Settings, t: datetime, scope: Scope, f: ListFilters,
                 unit_ids: set[int] | None = None, *, page_size: int = PAGE_SIZE) -> ListPage:
    """One page of the list, most urgent first: the most working time late (the earliest due) first;
    dossiers past even their new appointment are marked (`past_new`), not put in a block above."""
    cal, rules = settings.work_calendar(), settings.rule_settings()
    c = open_conditions(t, cal, rules)
    kind = {"overdue": c["overdue"], "at_risk": c["at_risk"], "past_new": c["past_new"]}.get(
        f.how_late, or_(c["overdue"], c["at_risk"]))
    cond = [c["unfinished"], kind]
    extra: dict[str, Any] = {}
    if f.how_late in ("likely_late", "stuck"):  # tracker.outlook's stored rows (web/outlook.py)
        cond = outlook_filter(engine, settings, t, f.how_late, c, extra)
    days = LATE_DAYS.get(f.how_late)
    if days:
        cond.append(d.due_used_at < late_cut(cal, t, rules.comparison, days))
    if f.unit:
        node = unit_tree(engine).by_code.get(f.unit)
        cond.append(d.unit_id.in_(sorted(unit_tree(engine).subtree(node.id)) if node else [-1]))
    if f.procedure:
        cond.append(d.procedure_id.in_(select(Procedure.id).where(Procedure.code == f.procedure)))
    if f.field:
        cond.append(d.procedure_id.in_(select(Procedure.id).where(Procedure.field_name == f.field)))
    if f.channel:
        cond.append(d.channel == int(f.channel))
    if f.q:
        cond.append(d.code.like(f.q.replace("%", "").replace("_", "\\_") + "%", escape="\\"))
    units = scope.units(unit_ids)
    base = in_units(select(func.count()).select_from(Dossier.__table__).where(*cond), units)
    with engine.connect() as conn:
        total = conn.execute(base).scalar_one()
        pages = max(1, -(-total // page_size))
        page = min(f.page, pages)
        urgency = case((c["past_new"], 0), else_=1)
        q = (select(d.id, d.code, d.status, d.channel, d.received_at, d.due_at, d.computed_due_at, d.due_used_at,
                    d.rescheduled_due_at, d.applicant_name, d.applicant_phone,
                    urgency.label("urgency"), Unit.code.label("unit_code"), Unit.name.label("unit_name"),
                    Procedure.code.label("procedure_code"), Procedure.name.label("procedure_name"),
                    Procedure.field_name)
             .select_from(Dossier.__table__.join(Unit, Unit.id == d.unit_id)
                          .outerjoin(Procedure, Procedure.id == d.procedure_id))
             .where(*cond).order_by(d.due_used_at, d.id)
             .limit(page_size).offset((page - 1) * page_size))
        rows = [dict(r) for r in conn.execute(in_units(q, units)).mappings()]
    comparison = rules.comparison
    cut = c["cut"]
    add_outlook(engine, settings, t, rows)
    for r in rows:
        due = r["due_used_at"]
        r["overdue"] = due is not None and due < cut
        r["at_risk"] = not r["overdue"] and due is not None and due <= c["boundary"] and r["status"] not in (5, 6)
        r["past_new"] = r["urgency"] == 0
        r["hours"] = round(cal.working_hours_between(t, due), 1) if due else None
        r["lateness"] = lateness(cal, due, t, comparison) if due else None
        r["comparison"] = comparison
        if not scope.sees_personal_data:
            r["applicant_name"] = mask_name(r["applicant_name"] or "")
            r["applicant_phone"] = mask_phone(r["applicant_phone"] or "")
    return ListPage(rows, total, page, pages, t, f, extra)


def filter_choices(engine: Engine, scope: Scope) -> dict[str, list]:
    """Procedures and fields for the filter boxes."""
    with engine.connect() as conn:
        procs = conn.execute(select(Procedure.code, Procedure.name, Procedure.field_name)).all()
    procs = sorted(procs, key=lambda p: (name_key(p.name or ""), p.code))
    fields = sorted({p.field_name for p in procs if p.field_name}, key=name_key)
    return {"procedures": procs, "fields": fields}
