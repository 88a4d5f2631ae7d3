"""The Vietnamese working calendar (RULES.md §3) and working-time arithmetic (RULES.md §4).

Rule-based holidays come from the `holidays` package (it uses the Vietnamese lunar calendar).
Decreed swaps the package lags behind on are applied from the shipped table
`tracker/data/decreed_days.toml`, then the deployment's own settings on top.

All moments are naive datetimes in local time (Asia/Ho_Chi_Minh, UTC+7, no daylight saving).

Speed: every moment maps to a *working-second position*, the number of working seconds
before it counted from the first day the calendar loaded. Adding working hours is then an
addition and counting them a subtraction; only the two conversions touch the calendar, and
they are a few array look-ups. That is what makes a million due dates a few seconds of work.

Sharing: years are loaded as they are asked for. A position never changes when more years are
loaded (loading earlier years counts them below zero), and each load publishes a new span of
years whole, under a lock; so one calendar can serve every thread of a process (the settings
build one per value: tracker.config.Settings.work_calendar).
"""

from __future__ import annotations

import hashlib
import threading
import tomllib
from array import array
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path

import holidays

DECREED_TABLE = Path(__file__).parent / "data" / "decreed_days.toml"
CULTURE_DAY_MARK = "Văn hóa Việt Nam"  # 24/11, "Ngày Văn hóa Việt Nam" (Resolution 80)
_SPAN_MARGIN_YEARS = 2
# The years the calendar covers: those the `holidays` package knows Vietnam's (lunar) holidays
# for. Outside them Tết would silently count as working days, and a moment in year 9999 or 0001
# cannot be counted at all: any moment outside raises OutOfCalendar, so no loop or recursion
# here runs longer than this span.
FIRST_YEAR = 1901
LAST_YEAR = 2100


@dataclass(frozen=True, order=True)
class Session:
    """One office session of a working day, half-open: [start, end)."""

    start: time
    end: time

    def __str__(self) -> str:
        return f"{self.start:%H:%M}-{self.end:%H:%M}"


DEFAULT_SESSIONS = (Session(time(7, 0), time(11, 30)), Session(time(13, 30), time(17, 0)))


@dataclass(frozen=True)
class DayEntry:
    """A weekday off or a weekend day worked, with why."""

    date: date
    kind: str  # "off" | "work"
    reason: str


class CalendarError(ValueError):
    """A calendar setting that cannot be used (overlapping sessions, a bad table entry)."""


class OutOfCalendar(ValueError):
    """A moment (or a working day counted to) outside the years the calendar covers."""


def check_covered(year: int, what: str = "date") -> None:
    """OutOfCalendar unless `year` is one the working calendar covers."""
    if not FIRST_YEAR <= year <= LAST_YEAR:
        raise OutOfCalendar(f"{what} in year {year} is outside the years the working calendar covers "
                            f"({FIRST_YEAR}–{LAST_YEAR})")


def _secs(t: time) -> int:
    return t.hour * 3600 + t.minute * 60 + t.second


def load_decreed_table(path: Path = DECREED_TABLE) -> tuple[dict[date, str], dict[date, str]]:
    """The shipped table of decreed days: ({date: reason} off, {date: reason} worked)."""
    with path.open("rb") as fh:
        data = tomllib.load(fh)
    off: dict[date, str] = {}
    work: dict[date, str] = {}
    for i, entry in enumerate(data.get("day", []), start=1):
        d, kind = entry.get("date"), entry.get("kind")
        if not isinstance(d, date) or kind not in ("off", "work"):
            raise CalendarError(f"{path.name}: entry {i}: need a date and kind 'off' or 'work', got {entry!r}")
        reason = entry.get("reason", "")
        if entry.get("source"):
            reason = f"{reason} ({entry['source']})"
        (off if kind == "off" else work)[d] = reason
    return off, work


class _Span:
    """The loaded years, never changed once built: a thread reads one span whole while another builds
    the next. `base` is the number of the span's first working day, so that the k-th working day
    since the calendar's first load is `work_days[k - base]` in every span (negative k: before it)."""

    __slots__ = ("base", "first_year", "last_year", "off", "ord0", "work_before", "work_days", "worked")

    def __init__(self, first_year: int, last_year: int, ord0: int, base: int, work_before: array,
                 work_days: list[datetime], off: dict[date, str], worked: dict[date, str]) -> None:
        self.first_year, self.last_year, self.ord0, self.base = first_year, last_year, ord0, base
        self.work_before = work_before  # per day of the span: working days strictly before it
        self.work_days = work_days  # the span's working days, at midnight
        self.off, self.worked = off, worked  # weekdays off and weekend days worked, with reason

    def index(self, d: date) -> int | None:
        """Day `d`'s index in the span, or None when it is outside."""
        i = d.toordinal() - self.ord0
        return i if 0 <= i < len(self.work_before) - 1 else None


class WorkCalendar:
    """Working days and office sessions, and arithmetic on working time."""

    def __init__(
        self,
        *,
        sessions: Iterable[Session] = DEFAULT_SESSIONS,
        extra_holidays: Mapping[date, str] | None = None,
        removed_holidays: Iterable[date] = (),
        extra_workdays: Mapping[date, str] | None = None,
        culture_day: bool = True,
        decreed: bool = True,
        db_days: Mapping[date, tuple[str, str]] | None = None,
    ) -> None:
        self.sessions = tuple(sorted(sessions))
        if not self.sessions:
            raise CalendarError("calendar.sessions: at least one office session is needed")
        previous_end = -1
        for s in self.sessions:
            if not s.start < s.end:
                raise CalendarError(f"calendar.sessions: '{s}' ends before it starts")
            if _secs(s.start) < previous_end:
                raise CalendarError(f"calendar.sessions: '{s}' overlaps the session before it")
            previous_end = _secs(s.end)
        self.extra_holidays = dict(extra_holidays or {})
        self.removed_holidays = frozenset(removed_holidays)
        self.extra_workdays = dict(extra_workdays or {})
        self.culture_day = culture_day
        self.decreed = decreed
        self.db_days = dict(db_days or {})  # {date: (kind, reason)} admins entered (tracker.calendar_days)

        # (start second, end second, working seconds before this session in the day)
        spans = []
        before = 0
        for s in self.sessions:
            a, b = _secs(s.start), _secs(s.end)
            spans.append((a, b, before))
            before += b - a
        self._spans = tuple(spans)
        self.day_seconds = before
        self.day_hours = before / 3600
        self._day_start_secs = spans[0][0]
        self._day_end = self.sessions[-1].end

        self._span: _Span | None = None  # the years loaded so far
        self._loading = threading.Lock()

    # ----- the loaded span of years -------------------------------------------------------

    def _ensure(self, year: int) -> _Span:
        """A span holding `year` (and the years around it), loaded if need be."""
        s = self._span
        if s is not None and s.first_year <= year <= s.last_year:
            return s
        check_covered(year)
        with self._loading:  # one thread loads; the others then find its span
            s = self._span
            if s is not None and s.first_year <= year <= s.last_year:
                return s
            first = year - _SPAN_MARGIN_YEARS
            last = year + _SPAN_MARGIN_YEARS
            if s is not None:
                first, last = min(first, s.first_year), max(last, s.last_year)
            s = self._span = self._build(max(first, FIRST_YEAR), min(last, LAST_YEAR), s)
            return s

    def _day(self, d: date) -> tuple[_Span, int]:
        """A span holding day `d`, and d's index in it."""
        s = self._span
        i = None if s is None else s.index(d)
        if i is None:
            s = self._ensure(d.year)
            i = s.index(d)
        return s, i

    def _build(self, first_year: int, last_year: int, previous: _Span | None) -> _Span:
        pkg = holidays.country_holidays("VN", years=range(first_year, last_year + 1), language="vi")
        off: dict[date, str] = {}
        worked: dict[date, str] = {}
        for d, name in pkg.items():
            if self.culture_day or CULTURE_DAY_MARK.lower() not in name.lower():
                off[d] = name
        for d in pkg.weekend_workdays:
            if first_year <= d.year <= last_year:
                worked[d] = self._swap_reason(d, off)
        if self.decreed:
            decreed_off, decreed_work = load_decreed_table()
            for d, reason in decreed_off.items():
                off.setdefault(d, reason)
            for d, reason in decreed_work.items():
                off.pop(d, None)
                worked[d] = reason
        off.update(self.extra_holidays)
        for d in self.removed_holidays:
            off.pop(d, None)
        for d, reason in self.extra_workdays.items():
            off.pop(d, None)
            worked[d] = reason or "Ngày làm việc theo cấu hình"
        for d, (kind, reason) in self.db_days.items():  # over the table and the settings
            if kind == "off":
                worked.pop(d, None)
                off[d] = reason
            else:
                off.pop(d, None)
                worked[d] = reason

        start, end = date(first_year, 1, 1), date(last_year, 12, 31)
        work_before = array("l", bytes(8 * ((end - start).days + 2)))
        work_days: list[datetime] = []
        d = start
        one = timedelta(days=1)
        for i in range((end - start).days + 1):
            work_before[i] = len(work_days)
            if self._working(d, off, worked):
                work_days.append(datetime(d.year, d.month, d.day))
            d += one
        work_before[-1] = len(work_days)
        # the previous span's first working day keeps its number: no position moves
        base = 0 if previous is None else previous.base - work_before[previous.ord0 - start.toordinal()]
        return _Span(first_year, last_year, start.toordinal(), base, work_before, work_days,
                     {d: r for d, r in off.items() if d.weekday() < 5},
                     {d: r for d, r in worked.items() if d.weekday() >= 5})

    @staticmethod
    def _working(d: date, off: Mapping[date, str], worked: Mapping[date, str]) -> bool:
        if d in worked:
            return True
        return d.weekday() < 5 and d not in off

    @staticmethod
    def _swap_reason(saturday: date, off: Mapping[date, str]) -> str:
        mark = saturday.strftime("%d/%m/%Y")
        for d, name in off.items():
            if mark in name:
                return f"Làm bù cho ngày nghỉ {d:%d/%m/%Y}"
        return "Ngày làm bù"

    # ----- days ---------------------------------------------------------------------------

    def is_working_day(self, d: date) -> bool:
        s, i = self._day(d)
        return s.work_before[i + 1] > s.work_before[i]

    def day_reason(self, d: date) -> str | None:
        """Why a weekday is off or a weekend day is worked; None for an ordinary day."""
        s, _ = self._day(d)
        return s.off.get(d) or s.worked.get(d)

    def next_working_day(self, d: date) -> date:
        """The first working day strictly after `d`."""
        s, i = self._day(d)
        return self._working_day(s.base + s.work_before[i + 1]).date()

    def working_day_on_or_after(self, d: date) -> date:
        s, i = self._day(d)
        return self._working_day(s.base + s.work_before[i]).date()

    def _working_day(self, k: int) -> datetime:
        """Working day number k (see _Span.base), at midnight."""
        s = self._span
        while True:  # at most a few loads: the span only grows towards FIRST_YEAR and LAST_YEAR
            j = k - s.base
            if 0 <= j < len(s.work_days):
                return s.work_days[j]
            if j >= len(s.work_days) and s.last_year < LAST_YEAR:
                # one step to the end of the covered years (not a year at a time: each step rebuilds)
                ahead = s.last_year + 1 + (j - len(s.work_days)) // 240
                s = self._ensure(min(max(ahead, s.last_year + 1), LAST_YEAR))
            elif j < 0 and s.first_year > FIRST_YEAR:
                behind = s.first_year - 1 - (-j) // 240
                s = self._ensure(max(min(behind, s.first_year - 1), FIRST_YEAR))
            elif j < 0:
                raise OutOfCalendar(f"a working day counted to before {FIRST_YEAR}, the first year the working "
                                    "calendar covers")
            else:
                raise OutOfCalendar(f"a working day counted to beyond {LAST_YEAR}, the last year the working "
                                    "calendar covers")

    def year_days(self, year: int) -> list[DayEntry]:
        """The weekdays off and the weekend days worked in `year`, with reasons."""
        s = self._ensure(year)
        entries = [DayEntry(d, "off", r) for d, r in s.off.items() if d.year == year]
        entries += [DayEntry(d, "work", r) for d, r in s.worked.items() if d.year == year]
        return sorted(entries, key=lambda e: e.date)

    def day_end(self, d: date) -> datetime:
        """The end of the last session of day `d`."""
        return datetime.combine(d, self._day_end)

    # ----- working time ---------------------------------------------------------------------

    def position(self, t: datetime) -> int:
        """Working seconds before moment `t`, counted from the first day the calendar loaded
        (negative before it). Loading more years never changes a position."""
        s, i = self._day(t)
        wb = s.work_before
        k = wb[i]
        base = (s.base + k) * self.day_seconds
        if wb[i + 1] == k:  # not a working day: as the start of the next one
            return base
        s = t.hour * 3600 + t.minute * 60 + t.second
        for a, b, before in self._spans:
            if s < a:
                return base + before
            if s < b:
                return base + before + s - a
        return base + self.day_seconds

    def moment(self, pos: int, *, prefer_end: bool) -> datetime:
        """The moment at working-second position `pos`.

        A position on a boundary between two sessions is both the end of one and the start of
        the next: `prefer_end` picks the end (a due date stays at 17:00, 11:30), otherwise the
        start (an effective start moves to 07:00, 13:30)."""
        k, r = divmod(pos, self.day_seconds)
        if prefer_end and r == 0:
            k, r = k - 1, self.day_seconds
        day = self._working_day(k)
        for a, b, before in self._spans:
            length = b - a
            if r < before + length or (prefer_end and r == before + length):
                return day + timedelta(seconds=a + r - before)
        raise AssertionError("unreachable: r is within a day")  # pragma: no cover

    def effective_start(self, t: datetime) -> datetime:
        """RULES §4.1: the moment the clock starts for something received at `t`."""
        return self.moment(self.position(t), prefer_end=False)

    def add_working_seconds(self, t: datetime, seconds: int) -> datetime:
        """`seconds` of working time after the effective start of `t`."""
        pos = self.position(t) + seconds
        return self.moment(pos, prefer_end=seconds > 0)

    def add_working_hours(self, t: datetime, hours: float) -> datetime:
        return self.add_working_seconds(t, round(hours * 3600))

    def working_seconds_between(self, a: datetime, b: datetime) -> int:
        """Working time in [a, b), in seconds; negative when b is before a."""
        return self.position(b) - self.position(a)

    def working_hours_between(self, a: datetime, b: datetime) -> float:
        return self.working_seconds_between(a, b) / 3600

    def latest_within(self, t: datetime, seconds: int) -> datetime:
        """The latest moment m with working_seconds_between(t, m) <= seconds (to the second).

        Lets SQL answer "at most N working hours left" with `due <= latest_within(now, N h)`: a due
        in the evening, on a weekend or at the next opening is as close as the last office second."""
        return self.moment(self.position(t) + seconds, prefer_end=False)

    def non_working_between(self, a: date, b: date) -> list[tuple[date, str]]:
        """Weekdays off (with reason) in [a, b]: for explaining a due date."""
        self._day(a)
        s, _ = self._day(b)  # holds a's years too: a span only grows
        return sorted((d, r) for d, r in s.off.items() if a <= d <= b)

    # ----- identity -------------------------------------------------------------------------

    def fingerprint(self) -> str:
        """Changes whenever anything that decides a working day or an office hour changes."""
        h = hashlib.sha256()
        h.update(f"holidays={holidays.__version__};".encode())
        h.update(f"sessions={[str(s) for s in self.sessions]};".encode())
        h.update(f"extra={sorted(self.extra_holidays.items())};".encode())
        h.update(f"removed={sorted(self.removed_holidays)};".encode())
        h.update(f"workdays={sorted(self.extra_workdays.items())};".encode())
        h.update(f"culture_day={self.culture_day};decreed={self.decreed};".encode())
        if self.decreed:
            h.update(DECREED_TABLE.read_bytes())
        if self.db_days:  # only when there are any: a deployment without them keeps its fingerprint
            h.update(f"db_days={sorted(self.db_days.items())};".encode())
        return h.hexdigest()[:16]


def parse_session(text: str) -> Session:
    """'07:00-11:30' -> Session; raises ValueError naming the text."""
    try:
        start_s, end_s = (part.strip() for part in text.split("-"))
        return Session(time.fromisoformat(start_s), time.fromisoformat(end_s))
    except ValueError:
        raise ValueError(f"'{text}' is not an office session: expected 'HH:MM-HH:MM'") from None
