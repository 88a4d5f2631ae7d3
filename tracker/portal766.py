"""The national portal's method for 766 criterion 2.1 ("Tỷ lệ hồ sơ xử lý trước hạn, đúng hạn"),
beside the Biểu 06 reading of tracker.reports (RULES §7), and criterion 2.2 (average time).

The portal's text (its "Mô tả công thức tính chỉ số 766", record 2.1) reads a dossier as on time
when its end of processing is at or before its appointment (NgayHenTra), where:
- the end is the moment of the end state: Đã xử lý xong > Đã trả kết quả > Dừng xử lý / Từ chối /
  rút hồ sơ; none by the end of the period: the period's last day;
- a dossier waiting for a supplement the applicant has not brought takes the request moment as
  its end, but more than one request makes it late;
- the time the applicant took to supplement (each pair: resubmission − request) is subtracted
  from the end;
- with no appointment, end − receipt − supplement time is compared with the legal limit.
The readings this module had to choose are listed in README.md ("The portal's 766 method").

`portal_verdict` is the definition: a pure function of one dossier's facts and its supplement
pairs at a moment T. Reports over a million dossiers cannot call it per dossier, so the parts
that do not depend on T are stored per dossier (`derived_columns`, through tracker.derive) and
`portal_scores` counts in SQL; a dossier with a supplement event after T (its pairs at T are
not its stored pairs) is evaluated by `portal_verdict` itself. A property test checks that the
SQL path and `portal_verdict` agree dossier by dossier (tests/tracker/test_portal766_sql.py).
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any, Literal

from sqlalchemy import Engine, and_, case, func, or_, select

from tracker.calendar import WorkCalendar
from tracker.rules import (
    DEFAULT_RULES,
    ENDED_STATUSES,
    ENDED_WITHOUT_RESULT,
    FINISHED_STATUSES,
    RuleSettings,
    TimeLimit,
    compute_due,
    is_later,
)
from tracker.units import load_tree

Verdict = Literal["on_time", "late"]
REASONS = ("finished", "stopped", "supplement_subtracted", "waiting_supplement", "supplement_requests",
           "no_due_limit", "no_due_no_limit", "no_end")
# dossier columns summarising its supplement pairs (stored by the import, facts of the source)
SUMMARY_COLUMNS = ("supplement_count", "supplement_seconds", "supplement_last_at", "supplement_open_at")
# dossier columns derived from the facts and the settings (tracker.derive stores them)
DERIVED_COLUMNS = ("portal_due_at", "portal_finish_at", "portal_end_at", "portal_late", "portal_waiting_late",
                   "portal_late_after", "portal_work_seconds")
PAIR_KEYS = ("requested_at", "resubmitted_at", "previous_due_at", "new_due_at")
_ONE_US = timedelta(microseconds=1)


# ----- facts ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SupplementPair:
    """One supplement request (Mẫu 02) and its answer, as DanhSachHoSoBoSung lists them."""

    requested_at: datetime | None  # NgayBoSung: the officer asked
    resubmitted_at: datetime | None = None  # NgayTiepNhanBoSung: the applicant brought it back
    previous_due_at: datetime | None = None  # NgayHenTraTruoc
    new_due_at: datetime | None = None  # NgayHenTraMoi


@dataclass(frozen=True)
class PortalFacts:
    """What the portal's method needs to know about one dossier."""

    code: str
    status: int
    received_at: datetime | None
    due_at: datetime | None = None  # NgayHenTra as recorded
    limit: TimeLimit | None = None
    finished_at: datetime | None = None  # Đã xử lý xong
    returned_at: datetime | None = None  # Đã trả kết quả
    first_seen_finished_at: datetime | None = None  # an ended status with no date: when we first saw it
    supplements: tuple[SupplementPair, ...] = ()
    channel: int | None = None


def counted_pairs(pairs: Iterable[SupplementPair]) -> list[SupplementPair]:
    """The pairs that are requests (a pair with no request moment tells nothing), by request moment."""
    return sorted((p for p in pairs if p.requested_at is not None), key=lambda p: p.requested_at)


def _closed_time(pairs: Iterable[SupplementPair], t: datetime | None = None) -> timedelta:
    """Σ (resubmission − request) of the pairs closed by T (all closed pairs when T is None)."""
    total = timedelta(0)
    for p in pairs:
        if p.resubmitted_at is not None and (t is None or p.resubmitted_at <= t) and p.resubmitted_at > p.requested_at:
            total += p.resubmitted_at - p.requested_at
    return total


def supplement_summary(pairs: Iterable[SupplementPair]) -> dict[str, Any]:
    """The dossier columns that summarise its pairs (SUMMARY_COLUMNS)."""
    counted = counted_pairs(pairs)
    if not counted:
        return {"supplement_count": 0, "supplement_seconds": 0.0, "supplement_last_at": None,
                "supplement_open_at": None}
    moments = [m for p in counted for m in (p.requested_at, p.resubmitted_at) if m is not None]
    last = counted[-1]
    return {"supplement_count": len(counted), "supplement_seconds": _closed_time(counted).total_seconds(),
            "supplement_last_at": max(moments),
            "supplement_open_at": last.requested_at if last.resubmitted_at is None else None}


def end_moment(status: int, finished_at: datetime | None, returned_at: datetime | None,
               first_seen_finished_at: datetime | None, received_at: datetime | None) -> datetime | None:
    """The moment of the end state: finished (xử lý xong) before returned (trả kết quả); an ended
    status with neither date (stopped, withdrawn, or finished without a date) ends when the product
    first saw it ended, or at its receipt when it was never seen open (RULES §5)."""
    if finished_at is not None:
        return finished_at
    if returned_at is not None:
        return returned_at
    if status in ENDED_STATUSES:
        return first_seen_finished_at or received_at
    return None


def portal_due(due_at: datetime | None, received_at: datetime | None, limit: TimeLimit | None,
               cal: WorkCalendar, rules: RuleSettings, channel: int | None = None) -> datetime | None:
    """The appointment; without one, the legal due from the receipt (the portal subtracts the
    supplement time from the end instead of restarting the clock at the resubmission)."""
    if due_at is not None:
        return due_at
    if limit is None or received_at is None:
        return None
    return compute_due(cal, received_at, limit, channel=channel, rules=rules)


# ----- the verdict ---------------------------------------------------------------------------------


def _duration_text(seconds: float, lang: str) -> str:
    days, rest = divmod(int(round(seconds)), 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    parts = []
    if days:
        parts.append(f"{days} ngày" if lang == "vi" else f"{days} day{'s' if days != 1 else ''}")
    if hours:
        parts.append(f"{hours} giờ" if lang == "vi" else f"{hours} hour{'s' if hours != 1 else ''}")
    if minutes or not parts:
        parts.append(f"{minutes} phút" if lang == "vi" else f"{minutes} minute{'s' if minutes != 1 else ''}")
    return " ".join(parts)


@dataclass(frozen=True)
class PortalVerdict:
    """The portal's reading of one dossier at T."""

    code: str
    verdict: Verdict
    end_at: datetime  # the end of processing the portal compares (after subtracting supplements)
    due_at: datetime | None  # what it is compared with: the appointment, else the legal due
    reason: str  # one of REASONS
    supplement_seconds: float = 0.0  # subtracted
    requests: int = 0  # supplement requests by T
    recorded_due: bool = True  # the due is the appointment (not computed from the limit)

    @property
    def on_time(self) -> bool:
        return self.verdict == "on_time"

    def explain(self, lang: str = "vi") -> str:
        """Why, in a line an officer can check by hand."""
        vi = lang == "vi"
        f = "%d/%m/%Y %H:%M" if vi else "%Y-%m-%d %H:%M"
        end = self.end_at.strftime(f)
        cmp = ""  # "(not) after the appointment …", or after the legal due when there is no appointment
        if self.due_at is not None:
            due = self.due_at.strftime(f)
            after = "sau" if self.verdict == "late" else "không sau"
            if vi:
                cmp = f"{after} {'hẹn trả' if self.recorded_due else 'hạn theo thời hạn giải quyết'} {due}"
            else:
                after = "after" if self.verdict == "late" else "not after"
                cmp = f"{after} {'the appointment' if self.recorded_due else 'the legal due'} {due}"
        supp = _duration_text(self.supplement_seconds, lang)
        r = self.reason
        if r == "supplement_requests":
            return (f"{self.requests} lần yêu cầu bổ sung, công dân chưa bổ sung: tính quá hạn" if vi else
                    f"{self.requests} supplement requests, the applicant has not supplemented: late")
        if r == "waiting_supplement":
            return (f"Đang chờ bổ sung: kết thúc tính tại lúc yêu cầu bổ sung {end}, {cmp}" if vi else
                    f"Waiting for a supplement: ends at the request {end}, {cmp}")
        if r == "no_due_no_limit":
            return ("Không có ngày hẹn trả và thời hạn giải quyết: tính đúng hạn" if vi else
                    "No appointment and no time limit: on time")
        if r == "no_end":
            head = (f"Chưa kết thúc xử lý: lấy ngày cuối kỳ, {end}" if vi else
                    f"No end state: the period's last day, {end}")
            if self.supplement_seconds:
                head += (f" (đã trừ {supp} bổ sung)" if vi else f" ({supp} of supplement subtracted)")
            if not self.due_at:
                return head + (": không có hạn, tính đúng hạn" if vi else ": no due, on time")
            return f"{head}, {cmp}"
        what = {"stopped": ("Dừng xử lý / rút hồ sơ lúc", "Stopped / withdrawn at"),
                "finished": ("Kết thúc xử lý lúc", "Finished at")}.get(r, ("Kết thúc xử lý lúc", "Finished at"))
        head = f"{what[0 if vi else 1]} {end}"
        if self.supplement_seconds:
            head = (f"Kết thúc xử lý (đã trừ {supp} bổ sung hồ sơ) lúc {end}" if vi else
                    f"Finished ({supp} of supplement subtracted) at {end}")
        if r == "no_due_limit":
            head += " — không có ngày hẹn trả" if vi else " — no appointment"
        return f"{head}, {cmp}"


def portal_verdict(f: PortalFacts, t: datetime, cal: WorkCalendar, rules: RuleSettings = DEFAULT_RULES
                   ) -> PortalVerdict:
    """The portal's verdict on one dossier at moment T (the end of the period, or as_of)."""
    pairs = [p for p in counted_pairs(f.supplements) if p.requested_at <= t]
    supp = _closed_time(pairs, t)
    due = portal_due(f.due_at, f.received_at, f.limit, cal, rules, f.channel)
    recorded = f.due_at is not None

    def verdict(end: datetime, reason: str) -> PortalVerdict:
        late = due is not None and is_later(end, due, rules)
        return PortalVerdict(f.code, "late" if late else "on_time", end, due, reason, supp.total_seconds(),
                             len(pairs), recorded)

    ended = end_moment(f.status, f.finished_at, f.returned_at, f.first_seen_finished_at, f.received_at)
    if ended is not None and ended <= t:
        if due is None:
            reason = "no_due_no_limit"
        elif not recorded:
            reason = "no_due_limit"
        elif supp:
            reason = "supplement_subtracted"
        elif f.status in ENDED_WITHOUT_RESULT:
            reason = "stopped"
        else:
            reason = "finished"
        return verdict(ended - supp, reason)
    last = pairs[-1] if pairs else None
    if last is not None and (last.resubmitted_at is None or last.resubmitted_at > t):
        if len(pairs) > 1:
            return PortalVerdict(f.code, "late", last.requested_at, due, "supplement_requests",
                                 supp.total_seconds(), len(pairs), recorded)
        return verdict(last.requested_at, "waiting_supplement")
    return verdict(t - supp, "no_end")


# ----- stored per dossier ---------------------------------------------------------------------------


def derived_columns(row: Mapping[str, Any], limit: TimeLimit | None, cal: WorkCalendar,
                    rules: RuleSettings) -> dict[str, Any]:
    """The parts of `portal_verdict` that do not depend on T, for a dossier row (its source
    columns and SUMMARY_COLUMNS). With every supplement event at or before T, the verdict at T is:
    ended by T (portal_finish_at <= T) -> portal_late; else waiting (supplement_open_at set) ->
    portal_waiting_late; else late iff T > portal_late_after (never when NULL)."""
    get = row.get
    due = portal_due(get("due_at"), get("received_at"), limit, cal, rules, get("channel"))
    received = get("received_at")
    ended = end_moment(row["status"], get("finished_at"), get("returned_at"), get("first_seen_finished_at"),
                       received)
    supp = timedelta(seconds=get("supplement_seconds") or 0.0)
    end = ended - supp if ended is not None else None
    open_at = get("supplement_open_at")
    late_after = None
    if due is not None:
        late_after = (datetime.combine(due.date() + timedelta(days=1), time(0)) + supp - _ONE_US
                      if rules.comparison == "date" else due + supp)
    work = None  # 2.2: working time of a finished dossier with a date, supplements subtracted
    if row["status"] in FINISHED_STATUSES and end is not None and received is not None and (
            get("finished_at") or get("returned_at")):
        work = max(0, cal.working_seconds_between(received, max(end, received)))
    return {
        "portal_due_at": due,
        "portal_finish_at": ended,
        "portal_end_at": end,
        "portal_late": bool(end is not None and due is not None and is_later(end, due, rules)),
        "portal_waiting_late": bool((get("supplement_count") or 0) > 1 or (
            open_at is not None and due is not None and is_later(open_at, due, rules))),
        "portal_late_after": late_after,
        "portal_work_seconds": work,
    }


# ----- supplements as text (the product's CSV, the portal's JSON) -------------------------------


def pairs_json(pairs: Sequence[SupplementPair]) -> str:
    """The `supplements` cell of the product's CSV: a JSON list of objects, moments as
    'YYYY-MM-DD HH:MM:SS' (null when unknown); '' for none."""
    if not pairs:
        return ""
    out = []
    for p in pairs:
        out.append({k: None if (v := getattr(p, k)) is None else v.strftime("%Y-%m-%d %H:%M:%S")
                    for k in PAIR_KEYS})
    return json.dumps(out, ensure_ascii=False, separators=(",", ":"))


# ----- SQL: the score per unit ------------------------------------------------------------------------


@dataclass
class PortalUnitScore:
    """One unit's (or the total's) count by the portal's method."""

    key: str
    name: str
    received: int = 0  # dossiers counted (carried over + received in the period, as Biểu 06)
    on_time: int = 0
    late: int = 0
    disagree: int = 0  # dossiers the Biểu 06 reading classifies the other way
    biểu06_on_time: int = 0  # early + on time + within, the Biểu 06 numerator of the 766 score

    @property
    def score(self) -> Decimal | None:
        """20 × on time / received, two decimals half up; None when nothing is counted."""
        from tracker.reports import ratio_half_up

        return ratio_half_up(self.on_time, self.received, 20, 2)

    @property
    def biểu06_score(self) -> Decimal | None:
        from tracker.reports import ratio_half_up

        return ratio_half_up(self.biểu06_on_time, self.received, 20, 2)

    def add(self, other: PortalUnitScore) -> None:
        for name in ("received", "on_time", "late", "disagree", "biểu06_on_time"):
            setattr(self, name, getattr(self, name) + getattr(other, name))

    def as_dict(self) -> dict[str, Any]:
        score = self.score
        return {"key": self.key, "received": self.received, "on_time": self.on_time, "late": self.late,
                "score": None if score is None else float(score)}


def _sql_parts(start: date, t: datetime, comparison: str) -> dict[str, Any]:
    from tracker.models import Dossier
    from tracker.reports import conditions

    d = Dossier.__table__.c
    c = conditions(datetime.combine(start, time(0)), t, comparison)
    straddle = d.supplement_last_at > t
    late = case((d.portal_finish_at <= t, d.portal_late),
                (d.supplement_open_at.is_not(None), d.portal_waiting_late),
                (d.portal_late_after < t, True), else_=False)
    ours_bad = or_(c["late"], c["overdue"])
    return {"scope": c, "straddle": straddle, "late": late, "ours_bad": ours_bad, "d": d}


def _flag(expr) -> Any:  # noqa: ANN001
    return case((expr, 1), else_=0)


def _scope_where(parts: dict[str, Any], unit_ids: Collection[int] | None):  # noqa: ANN202
    d = parts["d"]
    where = parts["scope"]["scope"]
    if unit_ids is not None:
        where = and_(where, d.unit_id.in_(sorted(unit_ids) or [-1]))
    return where


def _pairs_of(conn, ids: list[int]) -> dict[int, tuple[SupplementPair, ...]]:  # noqa: ANN001
    from tracker.models import Supplement

    pairs: dict[int, list[SupplementPair]] = {}
    for i in range(0, len(ids), 500):
        rows = conn.execute(select(Supplement).where(Supplement.dossier_id.in_(ids[i:i + 500]))
                            .order_by(Supplement.dossier_id, Supplement.seq)).mappings()
        for r in rows:
            pairs.setdefault(r["dossier_id"], []).append(SupplementPair(
                r["requested_at"], r["resubmitted_at"], r["previous_due_at"], r["new_due_at"]))
    return {k: tuple(v) for k, v in pairs.items()}


_FACT_COLUMNS = ("id", "code", "unit_id", "procedure_id", "status", "received_at", "due_at", "finished_at",
                 "returned_at", "first_seen_finished_at", "limit_value", "limit_unit", "channel",
                 "supplement_count", "supplement_requested_at", "resubmitted_at")


def facts_from(row: Mapping[str, Any], pairs: tuple[SupplementPair, ...], proc_limit: TimeLimit | None
               ) -> PortalFacts:
    """PortalFacts of a dossier row and its stored pairs. A dossier whose source gave only the last
    pair's columns (no list) has that one pair."""
    from tracker.derive import limit_of

    if not pairs and row.get("supplement_requested_at") is not None:
        pairs = (SupplementPair(row["supplement_requested_at"], row.get("resubmitted_at")),)
    return PortalFacts(code=row["code"], status=row["status"], received_at=row.get("received_at"),
                       due_at=row.get("due_at"), limit=limit_of(row, proc_limit), finished_at=row.get("finished_at"),
                       returned_at=row.get("returned_at"), first_seen_finished_at=row.get("first_seen_finished_at"),
                       supplements=pairs, channel=row.get("channel"))


def _straddlers(conn, parts, where, cal, rules, t) -> list[tuple[Mapping[str, Any], PortalVerdict]]:  # noqa: ANN001
    """The dossiers in scope with a supplement event after T, evaluated by portal_verdict."""
    from tracker.derive import procedure_limits

    d = parts["d"]
    rows = conn.execute(select(*(d[c] for c in _FACT_COLUMNS), parts["ours_bad"].label("ours_bad"))
                        .where(and_(where, parts["straddle"])).order_by(d.id)).mappings().all()
    if not rows:
        return []
    limits = procedure_limits(conn)
    pairs = _pairs_of(conn, [r["id"] for r in rows])
    return [(r, portal_verdict(facts_from(r, pairs.get(r["id"], ()), limits.at(r["procedure_id"], r["received_at"])),
                               t, cal, rules))
            for r in rows]


def portal_scores(engine: Engine, settings, start: date, end: date, *, as_of: datetime | None = None,  # noqa: ANN001
                  unit_ids: Collection[int] | None = None) -> tuple[list[PortalUnitScore], PortalUnitScore]:
    """The portal's 2.1 count per unit (units in tree order) and the total, over the dossiers of
    the Biểu 06 period report (carried over + received; statuses 1 and 3 excluded), at its moment
    T. The stored derived columns must match the settings, as for tracker.reports."""
    from tracker.reports import evaluation_moment

    rules = settings.rule_settings()
    t = evaluation_moment(start, end, as_of)
    parts = _sql_parts(start, t, rules.comparison)
    d = parts["d"]
    where = _scope_where(parts, unit_ids)
    counts: dict[int, PortalUnitScore] = {}
    # each dossier's two verdicts as small numbers, summed per unit (OFFSET 0: as tracker.reports
    # does, so SQLite sorts these instead of the columns the verdicts read)
    inner = (select(d.unit_id.label("u"), _flag(parts["late"]).label("late"), _flag(parts["ours_bad"]).label("bad"))
             .where(and_(where, or_(d.supplement_last_at.is_(None), d.supplement_last_at <= t)))
             .offset(0).subquery())
    q = (select(inner.c.u.label("unit_id"), func.count().label("n"), func.sum(inner.c.late).label("late"),
                func.sum(inner.c.bad).label("bad"), func.sum(_flag(inner.c.late != inner.c.bad)).label("disagree"))
         .group_by(inner.c.u))
    with engine.connect() as conn:
        for r in conn.execute(q).mappings():
            n, nl, nb = int(r["n"]), int(r["late"] or 0), int(r["bad"] or 0)
            counts[r["unit_id"]] = PortalUnitScore("", "", n, n - nl, nl, int(r["disagree"] or 0), n - nb)
        for row, v in _straddlers(conn, parts, where, settings.work_calendar(), rules, t):
            s = counts.setdefault(row["unit_id"], PortalUnitScore("", ""))
            ours_ok = not row["ours_bad"]
            s.add(PortalUnitScore("", "", 1, int(v.on_time), int(not v.on_time), int(v.on_time != ours_ok),
                                  int(ours_ok)))
    rows = []
    for u, _depth in load_tree(engine).in_code_order():
        if u.id in counts:
            s = counts.pop(u.id)
            s.key, s.name = u.code, u.name
            rows.append(s)
    for uid, s in counts.items():  # a unit row deleted under its dossiers
        s.key = s.name = f"#{uid}"
        rows.append(s)
    total = PortalUnitScore("total", "Tổng cộng")
    for s in rows:
        total.add(s)
    return rows, total


def sql_verdicts(engine: Engine, settings, start: date, end: date, *, as_of: datetime | None = None  # noqa: ANN001
                 ) -> dict[str, bool]:
    """{dossier code: late} of every dossier of the period, by the path portal_scores counts with
    (SQL over the stored columns; the dossiers with a supplement event after T by portal_verdict).
    For the property test that this path and portal_verdict agree dossier by dossier."""
    rules = settings.rule_settings()
    t = _moment(start, end, as_of)
    parts = _sql_parts(start, t, rules.comparison)
    d = parts["d"]
    where = _scope_where(parts, None)
    q = select(d.code, parts["late"].label("late")).where(
        and_(where, or_(d.supplement_last_at.is_(None), d.supplement_last_at <= t)))
    with engine.connect() as conn:
        out = {r.code: bool(r.late) for r in conn.execute(q)}
        for row, v in _straddlers(conn, parts, where, settings.work_calendar(), rules, t):
            out[row["code"]] = not v.on_time
    return out


@dataclass
class Disagreement:
    """A dossier the two methods classify differently."""

    code: str
    unit_code: str
    unit_name: str
    portal: Verdict  # the portal's verdict
    biểu06: str  # our class at T: early|on_time|late|within|overdue
    biểu06_verdict: Verdict  # on_time for early/on_time/within
    end_at: datetime  # the portal's end moment
    due_at: datetime | None
    reason: str  # REASONS
    explanation_vi: str = ""
    explanation_en: str = ""
    received_at: datetime | None = None
    finish_at: datetime | None = None  # our finish moment

    def explain(self, lang: str = "vi") -> str:
        return self.explanation_vi if lang == "vi" else self.explanation_en


def _ours_class(parts) -> Any:  # noqa: ANN001
    c = parts["scope"]
    return case((c["early"], "early"), (c["on_time"], "on_time"), (c["late"], "late"), (c["overdue"], "overdue"),
                else_="within")


def portal_disagreements(engine: Engine, settings, start: date, end: date, *, as_of: datetime | None = None,  # noqa: ANN001
                         unit_ids: Collection[int] | None = None, limit: int | None = 1000,
                         offset: int = 0) -> list[Disagreement]:
    """The dossiers of the period whose portal verdict differs from the Biểu 06 reading (ours on
    time = early, on time or within), by unit code then dossier code; at most `limit` (None: all)."""
    from tracker.derive import procedure_limits
    from tracker.models import Unit

    rules = settings.rule_settings()
    cal = settings.work_calendar()
    t = _moment(start, end, as_of)
    parts = _sql_parts(start, t, rules.comparison)
    d = parts["d"]
    where = _scope_where(parts, unit_ids)
    differs = and_(or_(d.supplement_last_at.is_(None), d.supplement_last_at <= t), parts["late"] != parts["ours_bad"])
    q = (select(*(d[c] for c in _FACT_COLUMNS), d.finish_at, _ours_class(parts).label("ours"),
                Unit.code.label("unit_code"), Unit.name.label("unit_name"))
         .join(Unit, Unit.id == d.unit_id)
         .where(and_(where, or_(differs, parts["straddle"])))
         .order_by(Unit.code, d.code))
    out: list[Disagreement] = []
    skipped = 0
    with engine.connect() as conn:
        limits = procedure_limits(conn)
        rows = conn.execute(q).mappings()
        chunk: list[Mapping[str, Any]] = []

        def flush() -> bool:
            nonlocal skipped
            pairs = _pairs_of(conn, [r["id"] for r in chunk if r["supplement_count"]])
            for r in chunk:
                time_limit = limits.at(r["procedure_id"], r["received_at"])
                v = portal_verdict(facts_from(r, pairs.get(r["id"], ()), time_limit), t, cal, rules)
                ours_ok = r["ours"] in ("early", "on_time", "within")
                if v.on_time == ours_ok:
                    continue
                if skipped < offset:
                    skipped += 1
                    continue
                out.append(Disagreement(r["code"], r["unit_code"], r["unit_name"], v.verdict, r["ours"],
                                        "on_time" if ours_ok else "late", v.end_at, v.due_at, v.reason,
                                        v.explain("vi"), v.explain("en"), r["received_at"], r["finish_at"]))
                if limit is not None and len(out) >= limit:
                    return True
            chunk.clear()
            return False

        for r in rows:
            chunk.append(r)
            if len(chunk) >= 500 and flush():
                return out
        if chunk:
            flush()
    return out


def _moment(start: date, end: date, as_of: datetime | None) -> datetime:
    from tracker.reports import evaluation_moment

    return evaluation_moment(start, end, as_of)


def dossier_verdicts(engine: Engine, settings, start: date, end: date, *, as_of: datetime | None = None,  # noqa: ANN001
                     unit_ids: Collection[int] | None = None) -> Iterable[tuple[str, str, PortalVerdict]]:
    """(unit code, dossier code, verdict) of every dossier of the period by the portal's method, by
    unit code then dossier code: `tthc score --method portal --dossiers`. Evaluated per dossier
    (portal_verdict), so it costs what a dossier list costs, not what a score costs."""
    from tracker.derive import procedure_limits
    from tracker.models import Unit

    rules = settings.rule_settings()
    cal = settings.work_calendar()
    t = _moment(start, end, as_of)
    parts = _sql_parts(start, t, rules.comparison)
    d = parts["d"]
    q = (select(*(d[c] for c in _FACT_COLUMNS), Unit.code.label("unit_code")).join(Unit, Unit.id == d.unit_id)
         .where(_scope_where(parts, unit_ids)).order_by(Unit.code, d.code))
    with engine.connect() as conn:
        limits = procedure_limits(conn)
        chunk: list[Mapping[str, Any]] = []
        for r in conn.execute(q.execution_options(yield_per=2000)).mappings():
            chunk.append(r)
            if len(chunk) >= 2000:
                yield from _verdicts(conn, chunk, limits, t, cal, rules)
                chunk = []
        yield from _verdicts(conn, chunk, limits, t, cal, rules)


def _verdicts(conn, chunk, limits, t, cal, rules):  # noqa: ANN001, ANN202
    pairs = _pairs_of(conn, [r["id"] for r in chunk if r["supplement_count"]]) if chunk else {}
    for r in chunk:
        f = facts_from(r, pairs.get(r["id"], ()), limits.at(r["procedure_id"], r["received_at"]))
        yield r["unit_code"], r["code"], portal_verdict(f, t, cal, rules)


# ----- 2.2: average processing time per procedure -----------------------------------------------------


@dataclass
class AverageTime:
    """Criterion 2.2 for one procedure: finished dossiers received in the period, their mean
    working time from receipt to the end (supplement time subtracted, as 2.1 does)."""

    key: str  # procedure code ("" unknown)
    name: str
    finished: int
    working_days: Decimal | None  # two decimals; None when nothing finished

    def as_dict(self) -> dict[str, Any]:
        return {"key": self.key, "name": self.name, "finished": self.finished,
                "working_days": None if self.working_days is None else float(self.working_days)}


def average_times(engine: Engine, settings, start: date, end: date, *, as_of: datetime | None = None,  # noqa: ANN001
                  unit_ids: Collection[int] | None = None) -> list[AverageTime]:
    """2.2 per procedure: dossiers finished (status 9, 10, with a finish date) by T, received in
    [start, end] (their end may fall in another period)."""
    from tracker.models import Dossier, Procedure
    from tracker.reports import Unindexed, ratio_half_up

    t = _moment(start, end, as_of)
    d = Dossier.__table__.c
    # a few units: their (unit, received) index; the province: a scan (tracker.reports.Unindexed)
    received = d.received_at if unit_ids is not None else Unindexed(d.received_at)
    where = and_(d.portal_work_seconds.is_not(None), received >= datetime.combine(start, time(0)), received <= t,
                 d.portal_finish_at <= t)
    if unit_ids is not None:
        where = and_(where, d.unit_id.in_(sorted(unit_ids) or [-1]))
    q = (select(d.procedure_id, func.count().label("n"), func.sum(d.portal_work_seconds).label("s"))
         .where(where).group_by(d.procedure_id))
    day = settings.work_calendar().day_seconds
    with engine.connect() as conn:
        procs = {r.id: (r.code, r.name) for r in conn.execute(select(Procedure.id, Procedure.code, Procedure.name))}
        out = []
        for r in conn.execute(q):
            code, name = procs.get(r.procedure_id, ("", "Không rõ thủ tục"))
            n = int(r.n)
            out.append(AverageTime(code, name, n, ratio_half_up(int(r.s or 0), n * day, 1, 2)))
    return sorted(out, key=lambda a: (a.key == "", a.key))


__all__ = ["PortalFacts", "SupplementPair", "PortalVerdict", "portal_verdict", "portal_scores",
           "portal_disagreements", "PortalUnitScore", "Disagreement", "average_times", "derived_columns",
           "supplement_summary"]
