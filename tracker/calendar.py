"""The Vietnamese working calendar (RULES.md §3) and working-time arithmetic (RULES.md §4).

Rule-based holidays come from the `holidays` package (it uses the Vietnamese lunar calendar).
Decreed swaps the package lags behind on are applied from the shipped table
`tracker/data/decreed_days.toml`, then the deployment's own settings on top.

All moments are naive datetimes in local time (Asia/Ho_Chi_Minh, UTC+7, no daylight saving).

Speed: every moment maps to a *working-second position*, the number of working seconds
before it counted from the first day of the loaded span. Adding working hours is then an
addition and counting them a subtraction; only the two conversions touch the calendar, and
they are a few array look-ups. That is what makes a million due dates a few seconds of work.
"""

from __future__ import annotations

import hashlib
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

        self._first_year = self._last_year = 0
        self._ord0 = 0
        self._work_before = array("l")  # per day of the span: working days strictly before it
        self._work_days: list[datetime] = []  # k-th working day of the span, at midnight
        self._off: dict[date, str] = {}  # weekdays off, with reason
        self._worked: dict[date, str] = {}  # weekend days worked, with reason

    # ----- the loaded span of years -------------------------------------------------------

    def _ensure(self, year: int) -> None:
        if self._work_days and self._first_year <= year <= self._last_year:
            return
        first = year - _SPAN_MARGIN_YEARS
        last = year + _SPAN_MARGIN_YEARS
        if self._work_days:
            first, last = min(first, self._first_year), max(last, self._last_year)
        self._build(max(first, 1), min(last, 9998))

    def _build(self, first_year: int, last_year: int) -> None:
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

        self._first_year, self._last_year = first_year, last_year
        start, end = date(first_year, 1, 1), date(last_year, 12, 31)
        self._ord0 = start.toordinal()
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
        self._work_before, self._work_days = work_before, work_days
        self._off = {d: r for d, r in off.items() if d.weekday() < 5}
        self._worked = {d: r for d, r in worked.items() if d.weekday() >= 5}

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

    def _index(self, t: date) -> int:
        i = t.toordinal() - self._ord0
        if i < 0 or i >= len(self._work_before) - 1:
            self._ensure(t.year)
            i = t.toordinal() - self._ord0
        return i

    # ----- days ---------------------------------------------------------------------------

    def is_working_day(self, d: date) -> bool:
        i = self._index(d)
        return self._work_before[i + 1] > self._work_before[i]

    def day_reason(self, d: date) -> str | None:
        """Why a weekday is off or a weekend day is worked; None for an ordinary day."""
        self._index(d)
        return self._off.get(d) or self._worked.get(d)

    def next_working_day(self, d: date) -> date:
        """The first working day strictly after `d`."""
        i = self._index(d)
        return self._working_day(self._work_before[i + 1]).date()

    def working_day_on_or_after(self, d: date) -> date:
        i = self._index(d)
        return self._working_day(self._work_before[i]).date()

    def _working_day(self, k: int) -> datetime:
        while k >= len(self._work_days):
            self._ensure(self._last_year + 1)
        return self._work_days[k]

    def year_days(self, year: int) -> list[DayEntry]:
        """The weekdays off and the weekend days worked in `year`, with reasons."""
        self._ensure(year)
        entries = [DayEntry(d, "off", r) for d, r in self._off.items() if d.year == year]
        entries += [DayEntry(d, "work", r) for d, r in self._worked.items() if d.year == year]
        return sorted(entries, key=lambda e: e.date)

    def day_end(self, d: date) -> datetime:
        """The end of the last session of day `d`."""
        return datetime.combine(d, self._day_end)

    # ----- working time ---------------------------------------------------------------------

    def position(self, t: datetime) -> int:
        """Working seconds before moment `t`, counted from the start of the loaded span."""
        i = t.toordinal() - self._ord0
        wb = self._work_before
        if i < 0 or i >= len(wb) - 1:
            self._ensure(t.year)
            return self.position(t)
        k = wb[i]
        base = k * self.day_seconds
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
        if prefer_end and r == 0 and k > 0:
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
        self._index(a)  # load both years first: loading an earlier year shifts every position
        self._index(b)
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
        self._index(a)
        self._index(b)
        return sorted((d, r) for d, r in self._off.items() if a <= d <= b)

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
