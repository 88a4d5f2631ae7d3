"""Period reports (RULES.md §6): the Biểu 06 / II.06a counts per unit, field, procedure, channel
or level, with the on-time rate and the 766 progress score (RULES.md §7).

The counting happens in the database: one GROUP BY pass with SUM(CASE …) over the stored derived
columns (`finish_at`, `result_class`, `due_used_at`, see tracker.derive), on SQLite and PostgreSQL
alike. No dossier is loaded into Python. The database groups by unit, procedure or channel;
fields, levels, roll-ups up the unit tree and the total row are sums of those few grouped rows.

A report is evaluated at one moment T: the end of the last day (23:59:59), or `as_of` when that
is earlier (a period that has not ended: the caller passes the present moment; this module never
reads the clock). Every dossier in scope lands in exactly one received column and exactly one
finished/unfinished column, so `total = finished + unfinished` holds on every row; it is checked
whenever a report is built.

The stored derived columns must match the settings (the comparison mode decides result_class):
callers refresh stale rows first (tracker.derive.refresh_if_stale).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any

from sqlalchemy import Engine, and_, case, false, func, not_, or_, select, true
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import ColumnElement

from tracker import open_dossiers
from tracker.collation import name_key
from tracker.config import Settings
from tracker.models import Dossier, Procedure
from tracker.rules import NOT_RECEIVED_STATUSES, ONLINE
from tracker.units import UnitNode, UnitTree, load_tree

BY = ("unit", "field", "procedure", "channel", "level")
END_OF_DAY = time(23, 59, 59)
TOTAL_KEY = "total"

# What the database counts per group, in the order the report shows them.
COUNTS = ("carried_over", "received_online", "received_offline", "early", "on_time", "late", "within",
          "overdue")
# Counted beside them for the scores (RULES §7): late or overdue with an apology before due.
APOLOGY_COUNTS = ("late_apologised", "overdue_apologised")

CHANNEL_NAMES = {"1": "Trực tiếp", "2": "Trực tuyến", "3": "Bưu chính công ích", "": "Không rõ kênh"}
LEVEL_NAMES = {"tinh": "Cấp tỉnh", "huyen": "Cấp huyện", "xa": "Cấp xã", "": "Không rõ cấp"}
LEVEL_ORDER = ("tinh", "huyen", "xa")
NO_PROCEDURE = "Không rõ thủ tục"
NO_FIELD = "Không rõ lĩnh vực"


class ReportInvariantError(AssertionError):
    """total != finished + unfinished: the counting is wrong, never the data. Not an assert
    statement, so `python -O` cannot switch the check off."""


# ----- numbers as the report shows them ------------------------------------------------------------


def ratio_half_up(numerator: int, denominator: int, scale: int, places: int) -> Decimal | None:
    """numerator / denominator × scale, rounded half up to `places` decimals, in integers (exact:
    no float ever decides a rounding). None when the denominator is 0."""
    if denominator <= 0:
        return None
    q = 10**places
    units = (2 * numerator * scale * q + denominator) // (2 * denominator)
    return Decimal(units).scaleb(-places)


def on_time_rate(early: int, on_time: int, finished: int) -> Decimal | None:
    """(early + on time) / finished, in percent with one decimal, half up (RULES §6)."""
    return ratio_half_up(early + on_time, finished, 100, 1)


def score_766(early: int, on_time: int, within: int, total: int) -> Decimal | None:
    """766 'Tiến độ giải quyết' points: 20 × (early + on time + within) / total (RULES §7).

    Two decimals, half up, as the portal publishes unit scores (e.g. 19,85)."""
    return ratio_half_up(early + on_time + within, total, 20, 2)


def vi_number(value: Decimal | int | float | None, places: int | None = None) -> str:
    """A number as Vietnamese text: decimal comma, dot for thousands ('1.234', '97,3')."""
    if value is None:
        return "-"
    if places is not None:
        text = f"{value:,.{places}f}"
    else:  # a Decimal as written, without exponent ('1E+2' -> '100'); an int with its thousands
        text = f"{value:,f}" if isinstance(value, Decimal) else f"{value:,}"
    return text.replace(",", "\0").replace(".", ",").replace("\0", ".")


def rate_text(rate: Decimal | None) -> str:
    """An on-time rate as Vietnamese text: Decimal('97.3') -> '97,3%'; no rate -> '-'."""
    return "-" if rate is None else f"{vi_number(rate, 1)}%"


# ----- rows ----------------------------------------------------------------------------------------


@dataclass
class ReportRow:
    """One row of the report: a unit, field, procedure, channel or level, or the total."""

    key: str
    name: str
    carried_over: int = 0  # kỳ trước chuyển qua
    received_online: int = 0  # mới tiếp nhận trực tuyến
    received_offline: int = 0  # mới tiếp nhận trực tiếp và dịch vụ bưu chính (and unknown channel)
    early: int = 0  # trước hạn
    on_time: int = 0  # đúng hạn (also withdrawn and stopped: status 7, 8)
    late: int = 0  # quá hạn
    within: int = 0  # đang giải quyết trong hạn (also paused, at risk, no due)
    overdue: int = 0  # đang giải quyết quá hạn
    late_apologised: int = 0
    overdue_apologised: int = 0
    level: str = ""  # unit rows: the unit's level
    parent_key: str | None = None  # unit rows: the parent unit's code
    depth: int = 0  # roll-up rows: depth in the unit tree (0 = a root)
    sql_total: int | None = field(default=None, repr=False)  # COUNT(*) as the database saw it

    @property
    def received(self) -> int:
        return self.received_online + self.received_offline

    @property
    def total(self) -> int:
        return self.carried_over + self.received

    @property
    def finished(self) -> int:
        return self.early + self.on_time + self.late

    @property
    def unfinished(self) -> int:
        return self.within + self.overdue

    @property
    def on_time_rate(self) -> Decimal | None:
        return on_time_rate(self.early, self.on_time, self.finished)

    @property
    def score_766(self) -> Decimal | None:
        return score_766(self.early, self.on_time, self.within, self.total)

    def add(self, other: ReportRow) -> None:
        for name in (*COUNTS, *APOLOGY_COUNTS):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        if self.sql_total is not None or other.sql_total is not None:
            self.sql_total = (self.sql_total or 0) + (other.sql_total or 0)

    def check(self) -> None:
        """The invariant of RULES §6, on this row."""
        if self.total != self.finished + self.unfinished or (
                self.sql_total is not None and self.sql_total != self.total):
            raise ReportInvariantError(
                f"report row {self.key!r}: total {self.total} (counted {self.sql_total}) != finished "
                f"{self.finished} + unfinished {self.unfinished}")

    def as_dict(self) -> dict[str, Any]:
        """The row for machine output (JSON, CSV): counts as integers, rate and score as numbers."""
        rate, score = self.on_time_rate, self.score_766
        return {
            "key": self.key, "name": self.name, "carried_over": self.carried_over,
            "received_online": self.received_online, "received_offline": self.received_offline,
            "total": self.total, "finished": self.finished, "early": self.early, "on_time": self.on_time,
            "late": self.late, "unfinished": self.unfinished, "within": self.within, "overdue": self.overdue,
            "on_time_rate": None if rate is None else float(rate),
            "score_766": None if score is None else float(score),
        }

    def display(self) -> dict[str, str]:
        """The row as an officer reads it: thousands with dots, rate '97,3%', score '19,85'."""
        d = self.as_dict()
        out = {k: vi_number(v) if isinstance(v, int) else v for k, v in d.items()}
        out["on_time_rate"] = rate_text(self.on_time_rate)
        out["score_766"] = vi_number(self.score_766, 2)
        return out


@dataclass
class Report:
    start: date
    end: date
    as_of: datetime  # T, the moment the report is evaluated at
    by: str
    comparison: str
    rows: list[ReportRow]
    total: ReportRow
    rollup: bool = False

    @property
    def ended(self) -> bool:
        """Whether the report is evaluated at the end of its last day."""
        return self.as_of == datetime.combine(self.end, END_OF_DAY)

    def all_rows(self) -> list[ReportRow]:
        return [*self.rows, self.total]

    def as_dicts(self) -> list[dict[str, Any]]:
        return [r.as_dict() for r in self.all_rows()]


# ----- the query -----------------------------------------------------------------------------------


class Unindexed(ColumnElement):
    """A column the SQLite planner must not pick an index for: rendered `+column` there (SQLite's
    documented way to disqualify a term), the bare column elsewhere. With bound moments SQLite
    takes the received_at index for `received_at <= T` and looks every row up: three to eight
    times slower than scanning the table, for a year and even for a month (bench/report.py,
    1,000,000 dossiers). `+column` has no affinity; both sides are then compared as the stored
    'YYYY-MM-DD HH:MM:SS.ffffff' text, as before."""

    inherit_cache = True

    def __init__(self, column) -> None:  # noqa: ANN001
        self.column = column
        self.type = column.type


@compiles(Unindexed)
def _unindexed_default(element: Unindexed, compiler, **kw) -> str:  # noqa: ANN001
    return compiler.process(element.column, **kw)


@compiles(Unindexed, "sqlite")
def _unindexed_sqlite(element: Unindexed, compiler, **kw) -> str:  # noqa: ANN001
    return "+" + compiler.process(element.column, **kw)


def evaluation_moment(start: date, end: date, as_of: datetime | None = None) -> datetime:
    """T: the end of the last day, or `as_of` if the period has not ended by then."""
    if end < start:
        raise ValueError(f"the period ends ({end:%d/%m/%Y}) before it starts ({start:%d/%m/%Y})")
    last = datetime.combine(end, END_OF_DAY)
    if as_of is None or as_of >= last:
        return last
    if as_of < datetime.combine(start, time(0)):
        raise ValueError(f"the period starting {start:%d/%m/%Y} has not begun at {as_of:%d/%m/%Y %H:%M}")
    return as_of


def conditions(start_at: datetime | None, t: datetime, comparison: str) -> dict[str, Any]:
    """The SQL conditions of RULES §5–6 at moment T for a period from `start_at` (None: no lower
    bound, every dossier received by T). Shared with tracker.audits so both count alike; overdue and
    paused as tracker.open_dossiers says, unfinished as a scan reads it (see `Unindexed`)."""
    d = Dossier.__table__.c
    finish = Unindexed(d.finish_at)  # in a WHERE (the audits'), an OR of index ranges is 4x a scan
    finished = finish <= t  # NULL finish_at: not finished
    unfinished = or_(finish.is_(None), finish > t)
    cut = open_dossiers.overdue_cut(t, comparison)
    paused = open_dossiers.paused()
    overdue = and_(unfinished, not_(paused), d.due_used_at < cut)
    not_overdue = or_(paused, d.due_used_at.is_(None), d.due_used_at >= cut)
    within = and_(unfinished, not_overdue)
    result = func.coalesce(d.result_class, "on_time")  # an ended dossier always has one (derive)
    scope = and_(d.status.not_in(sorted(NOT_RECEIVED_STATUSES)), Unindexed(d.received_at) <= t)
    if start_at is not None:
        finish_at = Unindexed(d.finish_at)
        scope = and_(scope, or_(Unindexed(d.received_at) >= start_at, finish_at.is_(None), finish_at >= start_at))
    before = d.received_at < start_at if start_at is not None else false()
    new = d.received_at >= start_at if start_at is not None else true()
    apologised = d.apology_before_due.is_(True)
    late = and_(finished, result == "late")
    return {
        "scope": scope,
        "finished": finished,
        "carried_over": before,
        "received_online": and_(new, d.channel == ONLINE),
        "received_offline": and_(new, or_(d.channel.is_(None), d.channel != ONLINE)),
        "early": and_(finished, result == "early"),
        "on_time": and_(finished, result == "on_time"),
        "late": late,
        "within": within,
        "not_overdue": not_overdue,  # of an unfinished dossier
        "overdue": overdue,
        "late_apologised": and_(late, apologised),
        "overdue_apologised": and_(overdue, apologised),
    }


# Buckets a dossier falls in: how it entered the period (r) and where it stands at T (f).
R_CARRIED, R_ONLINE, R_OFFLINE = 0, 1, 2
F_EARLY, F_ON_TIME, F_LATE, F_WITHIN, F_OVERDUE = 0, 1, 2, 3, 4
_R = {"carried_over": R_CARRIED, "received_online": R_ONLINE, "received_offline": R_OFFLINE}
_F = {"early": F_EARLY, "on_time": F_ON_TIME, "late": F_LATE, "within": F_WITHIN, "overdue": F_OVERDUE}


def grouped_counts(engine: Engine, group_col, start: date, t: datetime, comparison: str,
                   unit_ids: Collection[int] | None = None) -> dict[Any, ReportRow]:  # noqa: ANN001
    """One GROUP BY query: {group value: ReportRow with the counts} for the dossiers in scope
    (and of the units `unit_ids`, when given: a dashboard user's units).

    The inner select gives each dossier two small bucket numbers; the outer one sums them per
    group with SUM(CASE …). OFFSET 0 keeps SQLite from flattening the two: its GROUP BY sorts
    every row, and sorting (group, r, f, apology) costs a fraction of sorting the raw columns the
    conditions read. On SQLite the table is scanned (see `Unindexed`); PostgreSQL plans from its
    statistics and aggregates by hash. Each dossier lands in exactly one r and one f bucket, so
    the sums add up to COUNT(*): ReportRow.check() verifies it on every row."""
    c = conditions(datetime.combine(start, time(0)), t, comparison)
    d = Dossier.__table__.c
    r = case((c["carried_over"], R_CARRIED), (d.channel == ONLINE, R_ONLINE), else_=R_OFFLINE)
    result = case((d.result_class == "early", F_EARLY), (d.result_class == "late", F_LATE), else_=F_ON_TIME)
    f = case((c["finished"], result), (c["not_overdue"], F_WITHIN), else_=F_OVERDUE)
    where = c["scope"] if unit_ids is None else and_(c["scope"], d.unit_id.in_(sorted(unit_ids) or [-1]))
    inner = (select(group_col.label("g"), r.label("r"), f.label("f"), d.apology_before_due.label("a"))
             .where(where).offset(0).subquery())

    def n(cond) -> Any:  # noqa: ANN001
        return func.sum(case((cond, 1), else_=0))

    sums = {name: n(inner.c.r == v) for name, v in _R.items()}
    sums |= {name: n(inner.c.f == v) for name, v in _F.items()}
    sums["late_apologised"] = n(and_(inner.c.f == F_LATE, inner.c.a.is_(True)))
    sums["overdue_apologised"] = n(and_(inner.c.f == F_OVERDUE, inner.c.a.is_(True)))
    q = (select(inner.c.g, func.count().label("n"), *(v.label(k) for k, v in sums.items()))
         .group_by(inner.c.g))
    out: dict[Any, ReportRow] = {}
    with engine.connect() as conn:
        for row in conn.execute(q).mappings():
            out[row["g"]] = ReportRow(key="", name="", sql_total=int(row["n"]),
                                      **{k: int(row[k] or 0) for k in sums})
    return out


# ----- grouping --------------------------------------------------------------------------------


def _unit_rows(counts: dict[Any, ReportRow], tree: UnitTree, rollup: bool) -> list[ReportRow]:
    order = tree.in_code_order()
    if not rollup:
        return [_named(counts[u.id], u, depth) for u, depth in order if u.id in counts]
    subtree: dict[int, ReportRow] = {}
    for uid, row in counts.items():
        u = tree.by_id.get(uid)
        if u is None:
            continue
        for a in (u, *tree.ancestors(uid)):
            subtree.setdefault(a.id, ReportRow(key="", name="", sql_total=0)).add(row)
    return [_named(subtree[u.id], u, depth) for u, depth in order if u.id in subtree]


def _named(row: ReportRow, u: UnitNode, depth: int) -> ReportRow:
    row.key, row.name, row.level, row.depth = u.code, u.name, u.level, depth
    return row


def _fold(parts: Iterable[tuple[str, str, ReportRow]]) -> dict[str, ReportRow]:
    out: dict[str, ReportRow] = {}
    for key, name, row in parts:
        if key not in out:
            out[key] = ReportRow(key=key, name=name, sql_total=0)
        out[key].add(row)
    return out


def _level_key(level: str) -> tuple[int, str]:
    return (LEVEL_ORDER.index(level) if level in LEVEL_ORDER else len(LEVEL_ORDER) + (level == ""), level)


def period_report(engine: Engine, settings: Settings, start: date, end: date, *, as_of: datetime | None = None,
                  by: str = "unit", rollup: bool = False, unit_ids: Collection[int] | None = None) -> Report:
    """The period report of RULES §6 for [start, end], grouped `by` unit|field|procedure|channel|level.

    `rollup` (by unit only): each unit's row counts its whole subtree, and units with dossiers only
    below them get a row too. The total row always counts each dossier once. `unit_ids`: only the
    dossiers of these units (None: every unit); roll-up rows may then name units outside them."""
    if by not in BY:
        raise ValueError(f"by: '{by}' is not one of {', '.join(BY)}")
    if rollup and by != "unit":
        raise ValueError("rollup applies to the report by unit")
    comparison = settings.rule_settings().comparison
    t = evaluation_moment(start, end, as_of)
    d = Dossier.__table__.c
    group_col = {"unit": d.unit_id, "level": d.unit_id, "channel": d.channel}.get(by, d.procedure_id)
    counts = grouped_counts(engine, group_col, start, t, comparison, unit_ids)

    if by in ("unit", "level"):
        tree = load_tree(engine)
        tree = tree.with_units(UnitNode(uid, f"#{uid}", f"#{uid}", None, "") for uid in counts if uid not in tree.by_id)
        units = tree.by_id
        if by == "unit":
            rows = _unit_rows(counts, tree, rollup)
        else:
            folded = _fold((units[uid].level, LEVEL_NAMES.get(units[uid].level, units[uid].level), row)
                           for uid, row in counts.items())
            rows = [folded[k] for k in sorted(folded, key=_level_key)]
    elif by == "channel":
        rows = []
        for ch in sorted(counts, key=lambda c: (c is None, c)):
            key = "" if ch is None else str(ch)
            row = counts[ch]
            row.key, row.name = key or "unknown", CHANNEL_NAMES.get(key, f"Kênh {key}")
            rows.append(row)
    else:
        rows = _by_procedure(engine, counts, by)

    total = ReportRow(key=TOTAL_KEY, name="Tổng cộng", sql_total=0)
    for row in counts.values():
        total.add(row)
    for row in (*rows, total):
        row.check()
    return Report(start, end, t, by, comparison, rows, total, rollup)


def _by_procedure(engine: Engine, counts: dict[Any, ReportRow], by: str) -> list[ReportRow]:
    with engine.connect() as conn:
        procs = {r.id: r for r in conn.execute(
            select(Procedure.id, Procedure.code, Procedure.name, Procedure.field_code, Procedure.field_name))}
    if by == "procedure":
        rows = []
        for pid, row in counts.items():
            p = procs.get(pid)
            row.key, row.name = (p.code, p.name) if p else ("", NO_PROCEDURE)
            rows.append(row)
        return sorted(rows, key=lambda r: (r.key == "", r.key))
    parts = []
    for pid, row in counts.items():
        p = procs.get(pid)
        code, name = ((p.field_code or "").strip(), (p.field_name or "").strip()) if p else ("", "")
        parts.append((code or name, name or code or NO_FIELD, row))
    folded = _fold(parts)
    return [folded[k] for k in sorted(folded, key=lambda k: (k == "", name_key(folded[k].name), k))]


def row_fields() -> tuple[str, ...]:
    """The keys of ReportRow.as_dict(), in order (the JSON and CSV columns)."""
    return tuple(ReportRow(key="", name="").as_dict())

