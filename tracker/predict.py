"""Predicted lateness: the probability that an open dossier finishes after its due.

From the province's own history. Each dossier's time is measured in WORKING hours
(tracker.calendar positions) relative to the moment past which it counts as late: the end of its
due date in "date" comparison mode (RULES §5), the due itself in "datetime" mode. Call that
relative time X: X <= 0 finished on time, X > 0 late. A dossier finished within the last
`predict.history_months` is an observed X; a dossier still open at the moment of the prediction
is censored at "now" (we know only that X > now − threshold); a dossier withdrawn or stopped
(7, 8) is censored where it ended. The survival function S(x) = P(X > x) is the Kaplan–Meier
estimate over the dossier's history: the same unit and procedure, else the procedure in every
unit, else the field, else the unit — the first with at least `predict.min_history` dossiers
whose observations reach beyond the dossier's own elapsed time.

An open dossier that has not finished by relative time c < 0 finishes late with probability
    P(X > 0 | X > c) = S(0) / S(c).
(The brief that asked for this wrote 1 − S(due)/S(now); that is the probability of finishing
on time, so it is not what is stored.) Measuring X against each dossier's own due, rather than
from its receipt, keeps a unit-wide or field-wide history meaningful when its procedures have
different time limits; within one procedure it is the plain processing time shifted by a constant.

Edge cases: c at or beyond the group's largest observation (S(c) = 0, or the flat tail after the
last censored value) says nothing, and neither does a history whose observations all end before
the due while the estimate there is not yet 0 (S(0) would be the flat tail): the next, coarser
history is tried, and with none the probability is unknown (None). A dossier already past its
threshold is late, not predicted.

Why numpy and not `lifelines`: lifelines 0.30 pulls pandas, scipy, matplotlib, autograd and
formulaic (well over 100 MB) for one estimator that is thirty lines here; the backtest also needs
thousands of grouped estimates per day, which a vectorised grouped estimator does in milliseconds.
`kaplan_meier` is the plain one-group estimator the grouped one is tested against.

No peeking: `Records.at(t)` is the only view the predictor gets — dossiers received after t do
not exist, finish moments after t are unknown (the dossier is open, censored at t), supplements
and resubmissions after t have not happened. The backtest predicts each day from that view.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

import numpy as np
from sqlalchemy import Engine, or_, select

from tracker.calendar import WorkCalendar
from tracker.limits import ProcedureLimits
from tracker.models import Dossier, Procedure
from tracker.rules import ENDED_WITHOUT_RESULT, NOT_RECEIVED_STATUSES, PAUSED_STATUSES, TimeLimit, compute_due

LEVELS = ("unit_procedure", "procedure", "field", "unit")
BASIS_TEXT = {
    "vi": {"unit_procedure": "hồ sơ cùng thủ tục tại đơn vị", "procedure": "hồ sơ cùng thủ tục ở mọi đơn vị",
           "field": "hồ sơ cùng lĩnh vực", "unit": "hồ sơ của đơn vị"},
    "en": {"unit_procedure": "dossiers of the same procedure at the unit",
           "procedure": "dossiers of the same procedure in every unit",
           "field": "dossiers of the same field", "unit": "dossiers of the unit"},
}
_WIDTH = float(2 ** 22)  # composite key spacing, in hours: |X| stays far below half of it
_CLIP = _WIDTH / 2 - 1


def basis_text(kind: str, count: int, months: int, lang: str = "vi") -> str:
    """'61 hồ sơ cùng thủ tục tại đơn vị, 12 tháng'."""
    if not kind:
        return ""
    if lang == "vi":
        return f"{count} {BASIS_TEXT['vi'][kind]}, {months} tháng"
    return f"{count} {BASIS_TEXT['en'][kind]}, {months} months"


# ----- the estimator ------------------------------------------------------------------------------


def kaplan_meier(x: Any, event: Any) -> tuple[np.ndarray, np.ndarray]:
    """(times, S): the distinct event times, ascending, and S(t) = P(X > t) just after each.

    A censored observation at t is at risk at every event time <= t (the usual convention)."""
    x = np.asarray(x, dtype=float)
    event = np.asarray(event, dtype=bool)
    times = np.unique(x[event])
    at_risk = np.array([(x >= t).sum() for t in times], dtype=float)
    deaths = np.array([(event & (x == t)).sum() for t in times], dtype=float)
    return times, np.cumprod(1.0 - deaths / at_risk)


def survival_at(times: np.ndarray, surv: np.ndarray, t: float) -> float:
    """S(t) from kaplan_meier's output: 1 before the first event time."""
    i = int(np.searchsorted(times, t, side="right")) - 1
    return 1.0 if i < 0 else float(surv[i])


class GroupedKM:
    """Kaplan–Meier estimates of many groups at once (one sort), queried in bulk."""

    def __init__(self, keys: np.ndarray, x: np.ndarray, event: np.ndarray) -> None:
        x = np.clip(np.asarray(x, dtype=float), -_CLIP, _CLIP)
        order = np.lexsort((x, keys))
        k, xs, ev = keys[order], x[order], event[order].astype(np.int64)
        n = len(k)
        if n == 0:
            self.keys = np.empty(0, dtype=np.int64)
            self.count = np.empty(0, dtype=np.int64)
            self.last = np.empty(0)
            self._comp = np.empty(0)
            self._surv = np.empty(0)
            self._first_run = np.empty(0, dtype=np.int64)
            return
        grp_new = np.ones(n, dtype=bool)
        grp_new[1:] = k[1:] != k[:-1]
        run_new = grp_new.copy()
        run_new[1:] |= xs[1:] != xs[:-1]
        grp_start = np.flatnonzero(grp_new)
        grp_end = np.append(grp_start[1:], n)
        run_start = np.flatnonzero(run_new)
        run_g = np.searchsorted(grp_start, run_start, side="right") - 1
        deaths = np.add.reduceat(ev, run_start)
        at_risk = grp_end[run_g] - run_start
        factor = 1.0 - deaths / at_risk
        zero = factor <= 0.0
        cum_log = np.cumsum(np.log(np.where(zero, 1.0, factor)))
        cum_zero = np.cumsum(zero)
        first_run = np.searchsorted(run_start, grp_start)  # index of each group's first run
        base_log = np.where(first_run > 0, cum_log[first_run - 1], 0.0)
        base_zero = np.where(first_run > 0, cum_zero[first_run - 1], 0)
        self._surv = np.where(cum_zero - base_zero[run_g] > 0, 0.0, np.exp(cum_log - base_log[run_g]))
        self._comp = run_g * _WIDTH + xs[run_start]
        self._first_run = first_run
        self.keys = k[grp_start]
        self.count = grp_end - grp_start
        self.last = xs[grp_end - 1]  # each group's largest observation

    def group_of(self, keys: np.ndarray) -> np.ndarray:
        """Each key's group index, -1 where the history has no such group."""
        if len(self.keys) == 0:
            return np.full(len(keys), -1, dtype=np.int64)
        i = np.searchsorted(self.keys, keys)
        i = np.minimum(i, len(self.keys) - 1)
        return np.where(self.keys[i] == keys, i, -1)

    def survival(self, g: np.ndarray, t: np.ndarray) -> np.ndarray:
        """S_g(t) for group indices g (>= 0) and values t."""
        t = np.clip(np.asarray(t, dtype=float), -_CLIP, _CLIP)
        idx = np.searchsorted(self._comp, g * _WIDTH + t, side="right") - 1
        inside = idx >= self._first_run[g]
        return np.where(inside, self._surv[np.maximum(idx, 0)], 1.0)


# ----- what the predictor knows of each dossier ---------------------------------------------------


def months_back(t: datetime, months: int) -> datetime:
    y, m = divmod(t.year * 12 + t.month - 1 - months, 12)
    day = min(t.day, 28)
    return t.replace(year=y, month=m + 1, day=day)


def threshold_moment(due: datetime, comparison: str) -> datetime:
    """Finishing after this moment is late: the end of the due date (date mode) or the due."""
    if comparison == "date":
        return datetime.combine(due.date() + timedelta(days=1), time(0))
    return due


_NAT = np.datetime64("NaT", "s")
_NAT_INT = int(np.iinfo(np.int64).min)  # NaT's bit pattern
_EPOCH = datetime(1970, 1, 1)
_SECOND = timedelta(seconds=1)


def _stamp(t: datetime | None) -> np.datetime64:
    return _NAT if t is None else np.datetime64(t.replace(microsecond=0), "s")


@dataclass
class View:
    """The records as known at moment t (Records.at)."""

    t: datetime
    pos_t: float
    known: np.ndarray  # received by t
    finished: np.ndarray  # ended by t
    paused: np.ndarray  # waiting for a supplement (or, live, for fees) at t
    thr: np.ndarray  # position of the late threshold (hours), as known at t
    pos_due: np.ndarray  # position of the due, as known at t


@dataclass
class Records:
    """Columns of every dossier the predictor may use, as numpy arrays (one entry per dossier)."""

    ids: np.ndarray
    keys: dict[str, np.ndarray]  # per level: an int64 key, -1 when the dossier has none
    t_recv: np.ndarray
    t_fin: np.ndarray
    t_req: np.ndarray
    t_resub: np.ndarray
    pos_fin: np.ndarray  # hours; nan when not finished
    thr_final: np.ndarray  # hours: the late threshold of the due as stored (after any resubmission)
    thr_orig: np.ndarray  # hours: the threshold before a resubmission moved the due
    due_final: np.ndarray
    due_orig: np.ndarray
    ended_without_result: np.ndarray
    guessed_finish: np.ndarray  # finish moment not recorded (no_finished_at): not an observation
    live_paused: np.ndarray  # status 5/6 now
    day_hours: float
    cal: WorkCalendar = field(repr=False)
    comparison: str = "date"

    def __len__(self) -> int:
        return len(self.ids)

    def position(self, t: datetime) -> float:
        return self.cal.position(t) / 3600.0

    def at(self, t: datetime, *, live: bool = False) -> View:
        """What was known at t. `live`: t is now, and the current status (5, 6) says who is paused."""
        ts = _stamp(t)
        known = self.t_recv <= ts
        finished = known & (self.t_fin <= ts)
        resub_known = self.t_resub <= ts
        req_known = self.t_req <= ts
        moved = np.isnat(self.t_resub) | resub_known
        thr = np.where(moved, self.thr_final, self.thr_orig)
        due = np.where(moved, self.due_final, self.due_orig)
        paused = req_known & ~(resub_known & (self.t_resub >= self.t_req))
        if live:
            paused = paused | self.live_paused
        return View(t, self.position(t), known, finished, paused & ~finished, thr, due)


def load_records(engine: Engine, cal: WorkCalendar, comparison: str, *, finished_since: datetime | None,
                 unit_ids: list[int] | None = None) -> Records:
    """Every received dossier with a due that is open or finished since `finished_since`."""
    d = Dossier.__table__.c
    p = Procedure.__table__.c
    q = (select(d.id, d.unit_id, d.procedure_id, p.field_name, d.status, d.channel, d.received_at,
                d.resubmitted_at, d.supplement_requested_at, d.due_used_at, d.due_at, d.finish_at,
                d.no_finished_at, d.limit_value, d.limit_unit)
         .select_from(Dossier.__table__.outerjoin(Procedure.__table__, p.id == d.procedure_id))
         .where(d.status.not_in(sorted(NOT_RECEIVED_STATUSES)), d.received_at.is_not(None),
                d.due_used_at.is_not(None))
         .order_by(d.id))
    if finished_since is not None:
        q = q.where(or_(d.finish_at.is_(None), d.finish_at >= finished_since))
    if unit_ids is not None:
        q = q.where(d.unit_id.in_(unit_ids))
    with engine.connect() as conn:
        rows = conn.execute(q).all()
        limits = ProcedureLimits.load(conn)
    return build_records(rows, cal, comparison, limits)


def build_records(rows: list[Any], cal: WorkCalendar, comparison: str,
                  limits: ProcedureLimits | None = None) -> Records:
    """Records from rows shaped like load_records' query (attribute access)."""
    fields: dict[str, int] = {}
    n = len(rows)
    if n:  # load every year at once: one build of the calendar, not one per year reached
        moments = [m for r in rows for m in (r.received_at, r.due_used_at, r.finish_at) if m is not None]
        cal.is_working_day(min(moments).date() - timedelta(days=400))
        cal.is_working_day(max(moments).date() + timedelta(days=400))
    pos = cal.position
    hour = 3600.0
    date_mode = comparison == "date"
    thr_final, due_final, thr_orig, due_orig, pos_fin = [], [], [], [], []
    for r in rows:
        due = r.due_used_at
        thr = pos(threshold_moment(due, comparison)) / hour
        p_due = pos(due) / hour
        thr_final.append(thr)
        due_final.append(p_due)
        first = (_due_before_resubmission(r, cal, limits)
                 if r.resubmitted_at is not None and r.resubmitted_at > r.received_at else None)
        if first is None:
            thr_orig.append(thr)
            due_orig.append(p_due)
        else:
            thr_orig.append(pos(threshold_moment(first, comparison)) / hour)
            due_orig.append(pos(first) / hour)
        if r.finish_at is None:
            pos_fin.append(np.nan)
            continue
        x = pos(r.finish_at) / hour
        if date_mode and x <= thr and r.finish_at.date() > due.date():
            x = thr + 1 / hour  # finished on a later date outside office hours: late all the same
        pos_fin.append(x)
    ids = np.fromiter((r.id for r in rows), dtype=np.int64, count=n)
    unit = np.fromiter((r.unit_id for r in rows), dtype=np.int64, count=n)
    proc = np.fromiter((-1 if r.procedure_id is None else r.procedure_id for r in rows), dtype=np.int64, count=n)
    fld = np.fromiter((fields.setdefault(r.field_name, len(fields)) if r.field_name else -1 for r in rows),
                      dtype=np.int64, count=n)

    def stamps(name: str) -> np.ndarray:  # whole seconds since 1970 as datetime64 (NaT for None): fast
        secs = [_NAT_INT if (m := getattr(r, name)) is None else (m - _EPOCH) // _SECOND for r in rows]
        return np.array(secs, dtype=np.int64).reshape(n).view("datetime64[s]")

    t_recv, t_fin = stamps("received_at"), stamps("finish_at")
    t_req, t_resub = stamps("supplement_requested_at"), stamps("resubmitted_at")
    ended = np.fromiter((r.status in ENDED_WITHOUT_RESULT for r in rows), dtype=bool, count=n)
    guessed = np.fromiter((bool(r.no_finished_at) for r in rows), dtype=bool, count=n)
    live_paused = np.fromiter((r.status in PAUSED_STATUSES and r.finish_at is None for r in rows), dtype=bool,
                              count=n)
    thr_final, due_final, thr_orig, due_orig, pos_fin = (
        np.array(v, dtype=float).reshape(n) for v in (thr_final, due_final, thr_orig, due_orig, pos_fin))
    keys = {"unit_procedure": np.where(proc >= 0, unit * 1_000_000 + proc, -1), "procedure": proc,
            "field": fld, "unit": unit}
    return Records(ids, keys, t_recv, t_fin, t_req, t_resub, pos_fin, thr_final, thr_orig, due_final, due_orig,
                   ended, guessed, live_paused, cal.day_hours, cal, comparison)


def _due_before_resubmission(r: Any, cal: WorkCalendar,  # noqa: ANN401
                             limits: ProcedureLimits | None) -> datetime | None:
    """The due the dossier had before its resubmission restarted the clock: recomputed from its
    time limit, its own or its procedure's version in force on its receipt date (the stored due
    is the later one)."""
    if r.limit_value is not None and r.limit_unit:
        limit = TimeLimit(float(r.limit_value), r.limit_unit)
    else:
        limit = limits.at(r.procedure_id, r.received_at) if limits is not None else None
    if limit is None:
        return None
    return compute_due(cal, r.received_at, limit, channel=r.channel)


# ----- predicting ---------------------------------------------------------------------------------


@dataclass
class Prediction:
    """For each target (an index into the records): P(late), and the history it came from."""

    targets: np.ndarray  # indices of dossiers open, not paused and not yet past their threshold at t
    probability: np.ndarray  # nan: no history to judge by
    level: np.ndarray  # index into LEVELS, -1: none
    count: np.ndarray  # dossiers in that history
    elapsed: np.ndarray  # c: hours relative to the threshold (negative)


def predict(rec: Records, view: View, *, min_history: int, months: int) -> Prediction:
    """P(finishes after its due) for every open, running dossier at view.t, from view only."""
    since = _stamp(months_back(view.t, months))
    usable = view.known & ~np.isnan(view.thr)
    finished = view.finished & usable
    observed = finished & (rec.t_fin >= since) & ~rec.guessed_finish
    open_ = usable & ~view.finished
    history = observed | open_
    x = np.where(finished, rec.pos_fin - view.thr, view.pos_t - view.thr)
    event = observed & ~rec.ended_without_result
    c_all = view.pos_t - view.thr
    targets = np.flatnonzero(open_ & ~view.paused & (c_all < 0))
    c = c_all[targets]
    prob = np.full(len(targets), np.nan)
    level = np.full(len(targets), -1, dtype=np.int64)
    count = np.zeros(len(targets), dtype=np.int64)
    h = np.flatnonzero(history)
    for li, name in enumerate(LEVELS):
        todo = np.flatnonzero(level < 0)
        if len(todo) == 0:
            break
        keys = rec.keys[name]
        hk = keys[h]
        valid = hk >= 0
        km = GroupedKM(hk[valid], x[h][valid], event[h][valid])
        tk = keys[targets[todo]]
        g = np.where(tk >= 0, km.group_of(tk), -1)
        ok = g >= 0
        gi = np.maximum(g, 0)
        ok &= (km.count[gi] >= min_history) if len(km.count) else False
        ok &= (c[todo] < km.last[gi]) if len(km.last) else False
        sel = todo[ok]
        if len(sel) == 0:
            continue
        s_now = km.survival(g[ok], c[sel])
        s_due = km.survival(g[ok], np.zeros(len(sel)))
        with np.errstate(divide="ignore", invalid="ignore"):
            p = np.where(s_now > 0, s_due / s_now, np.nan)
        # S(0) is known only where the history reaches the due: an observation at or past it, or an
        # estimate already at 0 (everyone finished before); a flat tail after the last open one is not
        good = ~np.isnan(p) & ((km.last[g[ok]] >= 0) | (s_due == 0))
        prob[sel[good]] = np.clip(p[good], 0.0, 1.0)
        level[sel[good]] = li
        count[sel[good]] = km.count[g[ok][good]]
    return Prediction(targets, prob, level, count, c)


# ----- the backtest -------------------------------------------------------------------------------


@dataclass
class MethodScore:
    name: str
    warned: int = 0
    true_warned: int = 0
    late: int = 0
    precision: float | None = None
    recall: float | None = None
    median_lead_days: float | None = None
    brier: float | None = None


@dataclass
class Backtest:
    start: date
    end: date
    days: int
    evaluated: int  # dossiers predicted on at least one day, with a known outcome
    late: int
    predictions: int  # (day, dossier) pairs with a probability
    lead_days: int
    scores: dict[str, MethodScore]  # "predict", "rule8h", and the same with "@3d" for early warnings

    def lines(self) -> list[str]:
        def f(v: float | None, digits: int = 2) -> str:
            return "—" if v is None else f"{v:.{digits}f}"

        out = [f"Backtest {self.start} … {self.end}: {self.days} working days, {self.evaluated} dossiers "
               f"with a known outcome ({self.late} late), {self.predictions} daily predictions.",
               f"{'method':<34} {'warned':>7} {'precision':>9} {'recall':>7} {'brier':>6} {'median lead (wd)':>17}"]
        labels = {"predict": "predicted, all warnings", "rule8h": "8-hour rule, all warnings",
                  "predict@3d": f"predicted, ≥ {self.lead_days} wd before due",
                  "rule8h@3d": f"8-hour rule, ≥ {self.lead_days} wd before due"}
        for key in ("predict@3d", "rule8h@3d", "predict", "rule8h"):
            s = self.scores[key]
            out.append(f"{labels[key]:<34} {s.warned:>7} {f(s.precision):>9} {f(s.recall):>7} {f(s.brier, 3):>6} "
                       f"{f(s.median_lead_days, 1):>17}")
        return out


def backtest(engine: Engine, cal: WorkCalendar, comparison: str, at_risk_hours: float, start: date, end: date,
             *, at: time, min_history: int, months: int, threshold: float, lead_days: int = 3,
             now: datetime | None = None, records: Records | None = None) -> Backtest:
    """For each working day of [start, end], at time `at`, predict from what was known then; then
    score against what happened (as known at `now`, default: the latest moment in the data)."""
    first = datetime.combine(start, at)
    rec = records or load_records(engine, cal, comparison, finished_since=months_back(first, months))
    return score_backtest(rec, start, end, at=at, at_risk_hours=at_risk_hours, min_history=min_history,
                          months=months, threshold=threshold, lead_days=lead_days, now=now)


def score_backtest(rec: Records, start: date, end: date, *, at: time, at_risk_hours: float, min_history: int,
                   months: int, threshold: float, lead_days: int = 3, now: datetime | None = None) -> Backtest:
    cal = rec.cal
    if now is None:
        stamps = np.concatenate([rec.t_recv, rec.t_fin[~np.isnat(rec.t_fin)]])
        now = stamps.max().astype(datetime) if len(stamps) else datetime.combine(end, at)
    pos_now = rec.position(now)
    # what happened: late, on time, or not known yet (open, not past its threshold at `now`)
    done = ~np.isnat(rec.t_fin)
    late = np.where(done, (rec.pos_fin > rec.thr_final) & ~rec.ended_without_result, pos_now > rec.thr_final)
    known = done | (pos_now > rec.thr_final)
    n = len(rec)
    first_pred = np.full(n, np.nan)  # lead (working hours) of the first warning, per method
    first_rule = np.full(n, np.nan)
    first_pred3 = np.full(n, np.nan)
    first_rule3 = np.full(n, np.nan)
    seen = np.zeros(n, dtype=bool)
    sq_pred = sq_rule = 0.0
    pairs = 0
    early = lead_days * rec.day_hours
    days = 0
    d = start
    while d <= end:
        if cal.is_working_day(d):
            days += 1
            view = rec.at(datetime.combine(d, at))
            pr = predict(rec, view, min_history=min_history, months=months)
            tg = pr.targets
            lead = view.pos_due[tg] - view.pos_t  # working hours to the due
            flag_rule = lead <= at_risk_hours
            has_p = ~np.isnan(pr.probability)
            flag_pred = has_p & (pr.probability >= threshold)
            ok = known[tg]
            seen[tg[ok]] = True
            y = late[tg].astype(float)
            m = ok & has_p
            sq_pred += float(((pr.probability[m] - y[m]) ** 2).sum())
            sq_rule += float(((flag_rule[m].astype(float) - y[m]) ** 2).sum())
            pairs += int(m.sum())
            for flags, store, need in ((flag_pred, first_pred, 0), (flag_rule, first_rule, 0),
                                       (flag_pred, first_pred3, early), (flag_rule, first_rule3, early)):
                hit = flags & ok & (lead >= need)
                idx = tg[hit]
                new = np.isnan(store[idx])
                store[idx[new]] = lead[hit][new]
        d += timedelta(days=1)
    late_seen = seen & late
    scores = {}
    for key, store in (("predict", first_pred), ("rule8h", first_rule), ("predict@3d", first_pred3),
                       ("rule8h@3d", first_rule3)):
        warned = ~np.isnan(store)
        tp = warned & late
        s = MethodScore(key, int(warned.sum()), int(tp.sum()), int(late_seen.sum()))
        s.precision = s.true_warned / s.warned if s.warned else None
        s.recall = s.true_warned / s.late if s.late else None
        s.median_lead_days = float(np.median(store[tp]) / rec.day_hours) if tp.any() else None
        s.brier = (sq_pred if key.startswith("predict") else sq_rule) / pairs if pairs else None
        scores[key] = s
    return Backtest(start, end, days, int(seen.sum()), int(late_seen.sum()), pairs, lead_days, scores)
