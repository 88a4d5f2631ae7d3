"""Due dates (RULES.md §4) and classes (RULES.md §5).

Pure functions: every answer that depends on "now" takes the moment as `as_of`, so a report
for a past period is exact and tests never patch the clock.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import Literal

from tracker.calendar import OutOfCalendar, WorkCalendar
from tracker.text import strip_accents

LimitUnit = Literal["working_days", "working_hours", "calendar_days"]
WORKING_DAYS: LimitUnit = "working_days"
WORKING_HOURS: LimitUnit = "working_hours"
CALENDAR_DAYS: LimitUnit = "calendar_days"

# National status codes (TrangThaiHoSo, FORMATS.md §2)
NOT_RECEIVED_STATUSES = frozenset({1, 3})  # mới đăng ký, không được tiếp nhận
PAUSED_STATUSES = frozenset({5, 6})  # chờ bổ sung, chờ nghĩa vụ tài chính: the clock is stopped
ENDED_WITHOUT_RESULT = frozenset({7, 8})  # rút hồ sơ, dừng xử lý: counted on time (II.06a)
FINISHED_STATUSES = frozenset({9, 10})  # đã xử lý xong, đã trả kết quả
ENDED_STATUSES = ENDED_WITHOUT_RESULT | FINISHED_STATUSES
ALL_STATUSES = frozenset(range(1, 11))
ONLINE = 2  # KenhThucHien: 1 trực tiếp, 2 trực tuyến, 3 bưu chính công ích

CLASSES = ("early", "on_time", "late", "within", "at_risk", "overdue", "paused", "not_received")
FINISHED_CLASSES = ("early", "on_time", "late")
FLAGS = ("no_due", "no_finished_at", "due_exceeds_limit", "late_without_apology", "past_rescheduled_due")


class LimitError(ValueError):
    """A time limit that cannot be read, or longer than any the law sets."""


# The longest time limit a procedure can have: the law sets none beyond a working year, and
# five calendar years is already past any (Decree 61/2018 counts in working days; a few land and
# construction procedures count calendar days). Hours: a working year of 8-hour days. A limit
# beyond these is a typo or an attack (9999999 working days would be counted day by day).
MAX_LIMIT = {"working_days": 365, "calendar_days": 1826, "working_hours": 365 * 8}


@dataclass(frozen=True)
class TimeLimit:
    """A legal time limit (thời hạn giải quyết). 0 working days is a same-day procedure."""

    value: float
    unit: LimitUnit

    @property
    def same_day(self) -> bool:
        return self.unit == WORKING_DAYS and self.value == 0

    def describe(self, lang: str = "vi") -> str:
        if self.same_day:
            return "trong ngày" if lang == "vi" else "same day"
        n = f"{self.value:g}"
        if lang == "vi":
            word = {WORKING_DAYS: "ngày làm việc", WORKING_HOURS: "giờ làm việc", CALENDAR_DAYS: "ngày"}
            return f"{n.replace('.', ',')} {word[self.unit]}"
        word = {WORKING_DAYS: "working day", WORKING_HOURS: "working hour", CALENDAR_DAYS: "calendar day"}
        return f"{n} {word[self.unit]}{'' if self.value == 1 else 's'}"


def _fold(text: str) -> str:
    """Lower case, no accents, single spaces: 'Ngày Làm  Việc' -> 'ngay lam viec'."""
    return " ".join(strip_accents(text.lower()).split())


_LIMIT_RE = re.compile(r"^(\d+(?:[.,]\d+)?)\s*(.*)$")
_UNIT_WORDS: tuple[tuple[tuple[str, ...], str], ...] = (
    (("ngay lam viec", "ngay lv", "working days", "working day", "business days", "business day",
      "wd"), WORKING_DAYS),
    (("gio lam viec", "gio", "working hours", "working hour", "hours", "hour", "h"), WORKING_HOURS),
    (("ngay", "calendar days", "calendar day", "days", "day"), CALENDAR_DAYS),
)
_SAME_DAY = ("trong ngay", "same day", "same-day", "sameday")
_EXPECTED = "expected e.g. '3 ngày làm việc', '0,5 ngày', '8 giờ làm việc', '15 ngày', 'trong ngày'"


def parse_limit(text: str) -> TimeLimit:
    """Read a time limit as Vietnamese catalogues and exports write it, or in English.

    '3 ngày làm việc', '3 working days', '0,5 ngày' (a fraction of a day is working time),
    '8 giờ làm việc', '15 ngày' (calendar days), 'trong ngày' / 'same day'. Trailing words
    ('… kể từ ngày nhận đủ hồ sơ hợp lệ') are allowed after the unit.
    """
    folded = _fold(text or "")
    if any(folded.startswith(w) for w in _SAME_DAY):
        return TimeLimit(0, WORKING_DAYS)
    m = _LIMIT_RE.match(folded)
    if not m:
        raise LimitError(f"'{text}' is not a time limit: {_EXPECTED}")
    value = float(m.group(1).replace(",", "."))
    rest = m.group(2)
    for words, unit in _UNIT_WORDS:
        for w in words:
            if rest == w or rest.startswith(w + " "):
                if unit == CALENDAR_DAYS and value != int(value):
                    unit = WORKING_DAYS  # "0,5 ngày": half a working day
                if unit == CALENDAR_DAYS and value == 0:
                    unit = WORKING_DAYS  # "0 ngày": same day
                limit = TimeLimit(value, unit)
                check_limit(limit, text)
                return limit
    raise LimitError(f"'{text}' is not a time limit: {_EXPECTED}")


def check_limit(limit: TimeLimit, text: str | None = None) -> None:
    """LimitError if `limit` is longer than MAX_LIMIT allows for its unit."""
    most = MAX_LIMIT[limit.unit]
    if not 0 <= limit.value <= most:
        shown = text if text is not None else limit.describe("vi")
        raise LimitError(f"'{shown}' is longer than the law allows for a procedure: at most "
                         f"{MAX_LIMIT['working_days']} working days, {MAX_LIMIT['calendar_days']} calendar "
                         f"days (5 years) or {MAX_LIMIT['working_hours']} working hours")


# Bumped whenever this module changes what the stored derived columns of a dossier hold: every
# stored row then differs from the settings' fingerprint and `tthc refresh` recomputes it.
DERIVATION_VERSION = 2


@dataclass(frozen=True)
class RuleSettings:
    """The configurable parts of RULES.md §4–5, with their defaults."""

    comparison: Literal["date", "datetime"] = "date"
    same_day_cutoff: time = time(15, 0)
    at_risk_hours: float = 8.0
    online_last_hour_next_day: bool = False

    def fingerprint(self) -> str:
        # r2: a finish moment decides "finished" whatever the status; first seen ended = on time at receipt
        return (f"r{DERIVATION_VERSION};cmp={self.comparison};cutoff={self.same_day_cutoff};risk={self.at_risk_hours};"
                f"online={self.online_last_hour_next_day}")


DEFAULT_RULES = RuleSettings()


# ----- due dates ------------------------------------------------------------------------------


@dataclass
class DueStep:
    """One step of the reasoning behind a computed due date, renderable in vi and en."""

    kind: str
    at: datetime | None = None
    to: datetime | None = None
    text: str = ""

    def render(self, lang: str = "vi") -> str:
        f = "%d/%m/%Y %H:%M" if lang == "vi" else "%Y-%m-%d %H:%M"
        at = self.at.strftime(f) if self.at else ""
        to = self.to.strftime(f) if self.to else ""
        vi = {
            "received": f"Tiếp nhận lúc {at}",
            "resubmitted": f"Bổ sung hồ sơ lúc {at}: thời hạn tính lại từ đầu",
            "start": f"Bắt đầu tính từ {to} ({self.text})",
            "online_last_hour": f"Nộp trực tuyến trong giờ làm việc cuối: tính từ ngày làm việc sau ({to})",
            "limit": f"Thời hạn: {self.text}",
            "same_day": f"Thủ tục trong ngày: {self.text}",
            "calendar_moved": f"Ngày {at:.10} không phải ngày làm việc: chuyển sang {to}",
            "skipped": f"Bỏ qua {at:.10}: {self.text}",
            "worked": f"Tính {at:.10} (ngày làm bù): {self.text}",
            "due": f"Hạn xử lý: {to}",
        }
        en = {
            "received": f"Received at {at}",
            "resubmitted": f"Supplement resubmitted at {at}: the limit counts again from zero",
            "start": f"Clock starts at {to} ({self.text})",
            "online_last_hour": f"Online in the last office hour: counts from the next working day ({to})",
            "limit": f"Limit: {self.text}",
            "same_day": f"Same-day procedure: {self.text}",
            "calendar_moved": f"{at:.10} is not a working day: moved to {to}",
            "skipped": f"Skipped {at:.10}: {self.text}",
            "worked": f"Counted {at:.10} (make-up working day): {self.text}",
            "due": f"Due: {to}",
        }
        return (vi if lang == "vi" else en)[self.kind]


@dataclass
class DueExplanation:
    due: datetime
    steps: list[DueStep] = field(default_factory=list)

    def lines(self, lang: str = "vi") -> list[str]:
        return [s.render(lang) for s in self.steps]


def _clock_start(cal: WorkCalendar, t: datetime, channel: int | None, rules: RuleSettings) -> datetime:
    """The moment the limit counts from, before office hours are applied (RULES §4.8)."""
    if rules.online_last_hour_next_day and channel == ONLINE and cal.is_working_day(t.date()):
        last_hour = cal.day_end(t.date()) - timedelta(hours=1)
        if last_hour <= t < cal.day_end(t.date()):
            return datetime.combine(cal.next_working_day(t.date()), time(0))
    return t


def compute_due(
    cal: WorkCalendar,
    received_at: datetime,
    limit: TimeLimit,
    *,
    resubmitted_at: datetime | None = None,
    channel: int | None = None,
    rules: RuleSettings = DEFAULT_RULES,
) -> datetime:
    """The legal due date (RULES §4) of something received at `received_at`.

    LimitError for a limit beyond MAX_LIMIT, OutOfCalendar for a due beyond the calendar's years."""
    check_limit(limit)
    t = resubmitted_at if resubmitted_at is not None and resubmitted_at > received_at else received_at
    t = _clock_start(cal, t, channel, rules)
    if limit.same_day:
        d = t.date()
        if not (cal.is_working_day(d) and t.replace(microsecond=0).time() <= rules.same_day_cutoff):
            d = cal.next_working_day(d)
        return cal.day_end(d)
    if limit.unit == WORKING_DAYS:
        return cal.add_working_seconds(t, round(limit.value * cal.day_seconds))
    if limit.unit == WORKING_HOURS:
        return cal.add_working_seconds(t, round(limit.value * 3600))
    start = cal.effective_start(t)
    day = cal.working_day_on_or_after(start.date() + timedelta(days=round(limit.value)))
    return datetime.combine(day, start.time())


def explain_due(
    cal: WorkCalendar,
    received_at: datetime,
    limit: TimeLimit,
    *,
    resubmitted_at: datetime | None = None,
    channel: int | None = None,
    rules: RuleSettings = DEFAULT_RULES,
    lang: str = "vi",
) -> DueExplanation:
    """compute_due, with the reasoning an officer can check by hand."""
    due = compute_due(cal, received_at, limit, resubmitted_at=resubmitted_at, channel=channel, rules=rules)
    steps = [DueStep("received", at=received_at)]
    t = received_at
    if resubmitted_at is not None and resubmitted_at > received_at:
        steps.append(DueStep("resubmitted", at=resubmitted_at))
        t = resubmitted_at
    shifted = _clock_start(cal, t, channel, rules)
    if shifted != t:
        steps.append(DueStep("online_last_hour", to=shifted))
    t = shifted
    steps.append(DueStep("limit", text=limit.describe(lang)))
    if limit.same_day:
        cut = rules.same_day_cutoff.strftime("%H:%M")
        if due.date() == t.date():
            why = f"nhận trước {cut} ngày làm việc" if lang == "vi" else f"received by {cut} on a working day"
        else:
            why = (f"nhận sau {cut} hoặc ngày nghỉ: trả ngày làm việc sau" if lang == "vi"
                   else f"received after {cut} or on a day off: due the next working day")
        steps.append(DueStep("same_day", text=why))
        start_day = t.date()
    else:
        start = cal.effective_start(t)
        if start != t:
            steps.append(DueStep("start", to=start, text=_why_moved(cal, t, lang)))
        start_day = start.date()
        if limit.unit == CALENDAR_DAYS:
            target = start.date() + timedelta(days=round(limit.value))
            if target != due.date():
                steps.append(DueStep("calendar_moved", at=datetime.combine(target, time(0)), to=due))
    if limit.unit != CALENDAR_DAYS:
        for d, reason in cal.non_working_between(start_day, due.date()):
            steps.append(DueStep("skipped", at=datetime.combine(d, time(0)), text=reason))
        for d in _worked_weekend_days(cal, start_day, due.date()):
            steps.append(DueStep("worked", at=datetime.combine(d, time(0)), text=cal.day_reason(d) or ""))
    steps.append(DueStep("due", to=due))
    return DueExplanation(due, steps)


def _worked_weekend_days(cal: WorkCalendar, a, b) -> list:
    days = []
    d = a
    while d <= b:
        if d.weekday() >= 5 and cal.is_working_day(d):
            days.append(d)
        d += timedelta(days=1)
    return days


def _why_moved(cal: WorkCalendar, t: datetime, lang: str) -> str:
    vi = lang == "vi"
    if not cal.is_working_day(t.date()):
        reason = cal.day_reason(t.date()) or ("cuối tuần" if vi else "weekend")
        return f"nhận vào ngày nghỉ: {reason}" if vi else f"received on a day off: {reason}"
    clock = t.time()
    if clock < cal.sessions[0].start:
        return "nhận trước giờ làm việc" if vi else "received before opening"
    if clock >= cal.sessions[-1].end:
        return "nhận sau giờ làm việc" if vi else "received after closing"
    return "nhận trong giờ nghỉ giữa các buổi" if vi else "received between office sessions"


# ----- classification ---------------------------------------------------------------------------


@dataclass(frozen=True)
class DossierFacts:
    """What classification needs to know about a dossier."""

    code: str
    status: int
    received_at: datetime | None
    due_at: datetime | None = None  # ngày hẹn trả recorded on the receipt
    limit: TimeLimit | None = None
    computed_due_at: datetime | None = None
    resubmitted_at: datetime | None = None
    rescheduled_due_at: datetime | None = None  # ngày hẹn trả mới (Mẫu 04)
    apology_at: datetime | None = None  # phiếu xin lỗi
    finished_at: datetime | None = None
    returned_at: datetime | None = None
    first_seen_finished_at: datetime | None = None
    channel: int | None = None


@dataclass(frozen=True)
class Classification:
    cls: str
    due_used: datetime | None
    computed_due: datetime | None
    flags: tuple[str, ...] = ()
    excess_hours: float | None = None
    finish_moment: datetime | None = None
    working_hours_left: float | None = None
    rescheduled_due: datetime | None = None


def is_later(a: datetime, b: datetime, rules: RuleSettings) -> bool:
    """Is `a` later than `b` in the comparison mode (date: a later calendar date)?"""
    return a.date() > b.date() if rules.comparison == "date" else a > b


def finish_moment(f: DossierFacts) -> tuple[datetime | None, str]:
    """The moment a dossier ended (RULES §5), and where it came from.

    Sources: "finished" (finished_at) or "returned" (returned_at), whatever the status says;
    for an ended status (7–10) with neither date, "first_seen" (the moment an import first saw
    the ended status of a dossier it had seen open) or, when the product first saw the dossier
    already ended, "unknown": counted as finished at its receipt, on time. (None, "") otherwise."""
    if f.finished_at is not None:
        return f.finished_at, "finished"
    if f.returned_at is not None:
        return f.returned_at, "returned"
    if f.status not in ENDED_STATUSES:
        return None, ""
    if f.first_seen_finished_at is not None:
        return f.first_seen_finished_at, "first_seen"
    return f.received_at, "unknown"


GUESSED_FINISH = frozenset({"first_seen", "unknown"})  # flagged no_finished_at


def computed_due_of(f: DossierFacts, cal: WorkCalendar, rules: RuleSettings) -> datetime | None:
    if f.computed_due_at is not None:
        return f.computed_due_at
    if f.limit is None or f.received_at is None:
        return None
    try:
        return compute_due(cal, f.received_at, f.limit, resubmitted_at=f.resubmitted_at,
                           channel=f.channel, rules=rules)
    except (LimitError, OutOfCalendar):
        # a limit stored before limits were bounded, or a due past the calendar's last year:
        # no legal due can be computed (imports reject such rows; this keeps old ones readable)
        return None


def audit_excess(f: DossierFacts, computed: datetime | None, cal: WorkCalendar,
                 rules: RuleSettings) -> float | None:
    """Working hours by which the recorded appointment exceeds the legal limit, or None (§4.7)."""
    if f.due_at is None or computed is None or not is_later(f.due_at, computed, rules):
        return None
    excess = cal.working_hours_between(computed, f.due_at)
    if rules.comparison == "datetime" and excess <= 0:
        return None
    return excess


def at_risk_boundary(cal: WorkCalendar, as_of: datetime, rules: RuleSettings = DEFAULT_RULES) -> datetime:
    """An unfinished, not overdue dossier is at risk exactly when its due <= this moment (§5).

    For lists filtered in SQL; tests check it against classify()."""
    return cal.latest_within(as_of, round(rules.at_risk_hours * 3600))


def finished_class(status: int, moment: datetime, due: datetime | None, rules: RuleSettings,
                   source: str = "finished") -> str:
    """early / on_time / late of a dossier that ended at `moment` (RULES §5). A dossier first seen
    already ended with no date (`source` "unknown") is on time: nothing says when it ended."""
    if status in ENDED_WITHOUT_RESULT or due is None or source == "unknown":
        return "on_time"
    if moment.date() < due.date():
        return "early"
    if is_later(moment, due, rules):
        return "late"
    return "on_time"


def classify(f: DossierFacts, as_of: datetime, cal: WorkCalendar,
             rules: RuleSettings = DEFAULT_RULES) -> Classification:
    """The class of a dossier at moment `as_of` (RULES §5), its due and its flags."""
    computed = computed_due_of(f, cal, rules)
    due = f.due_at or computed
    if f.status in NOT_RECEIVED_STATUSES or f.received_at is None or f.received_at > as_of:
        return Classification("not_received", due, computed, rescheduled_due=f.rescheduled_due_at)

    flags: list[str] = []
    excess = audit_excess(f, computed, cal, rules)
    if excess is not None:
        flags.append("due_exceeds_limit")
    if due is None:
        flags.append("no_due")

    moment, source = finish_moment(f)
    apologised = f.apology_at is not None and due is not None and f.apology_at < due

    if moment is not None and moment <= as_of:
        if source in GUESSED_FINISH:
            flags.append("no_finished_at")
        cls = finished_class(f.status, moment, due, rules, source)
        if cls == "late" and not apologised:
            flags.append("late_without_apology")
        return Classification(cls, due, computed, tuple(sorted(flags)), excess, moment,
                              rescheduled_due=f.rescheduled_due_at)

    left = cal.working_hours_between(as_of, due) if due is not None else None
    if f.status in PAUSED_STATUSES:
        cls = "paused"
    elif due is None:
        cls = "within"
    elif is_later(as_of, due, rules):
        cls = "overdue"
        if not apologised:
            flags.append("late_without_apology")
        if f.rescheduled_due_at is not None and is_later(as_of, f.rescheduled_due_at, rules):
            flags.append("past_rescheduled_due")
    elif cal.working_seconds_between(as_of, due) <= round(rules.at_risk_hours * 3600):
        cls = "at_risk"
    else:
        cls = "within"
    return Classification(cls, due, computed, tuple(sorted(flags)), excess, None, left,
                          rescheduled_due=f.rescheduled_due_at)
