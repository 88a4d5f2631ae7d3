"""Row parsing: one data row of an export to a record of canonical fields, or the reason it is rejected.

`parse_row` is the definition: every rule a cell must meet (caps, dates within the calendar's
years, a reception before the appointment and the finish, known status and channel words, a
readable time limit and supplement list) and every rejection's wording. `RowParser` gives the
same answers for one file faster (tests/tracker/ingest/test_import_fast_path.py). Nothing here
touches the database.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from operator import itemgetter
from typing import Any

from tracker.calendar import FIRST_YEAR, LAST_YEAR, WorkCalendar
from tracker.display import UNSAFE, safe_text, shown
from tracker.ingest.columns import DATE_FIELDS, ColumnMap
from tracker.ingest.supplements import parse_supplements
from tracker.ingest.values import ValueProblem, parse_channel, parse_datetime, parse_status
from tracker.models import CODE_MAX, NAME_MAX, PHONE_MAX
from tracker.rules import NOT_RECEIVED_STATUSES, LimitError, TimeLimit, parse_limit

_DATE_ONLY = re.compile(r"^\s*(\d{1,2}[/.-]\d{1,2}[/.-]\d{4}|\d{4}-\d{2}-\d{2}|\d{8})\s*$")
# fields whose value is a promised day: a date with no time means the end of that day's office hours
_DAY_FIELDS = ("due_at", "rescheduled_due_at")
_CAPS = {"code": CODE_MAX, "procedure_code": CODE_MAX, "unit_code": CODE_MAX, "field_code": CODE_MAX,
         "procedure_name": NAME_MAX, "unit_name": NAME_MAX, "field_name": NAME_MAX,
         "applicant_name": NAME_MAX, "applicant_phone": PHONE_MAX, "limit_text": 200}
_TEXT_FIELDS = ("applicant_name", "applicant_phone", "unit_name", "procedure_name", "field_name")
_ESCAPED_FORMULA = re.compile(r"^'+[=+\-@\t\r]")  # tracker.export.safe_cell's escape, one quote of it
ROW_DATE_FIELDS = (*DATE_FIELDS, "first_seen_finished_at")


@dataclass
class Rejection:
    """A row the import does not store, and why: its line, the column (header label) at fault and
    that cell's value, and the whole row as the file had it (`raw`, for `tthc import --errors`)."""

    line: int
    column: str
    value: str
    reason: str
    raw: dict[str, str] = field(default_factory=dict)

    def __str__(self) -> str:
        col = f", column '{self.column}'" if self.column else ""
        return f"line {self.line}{col}: {self.reason}"


def parse_row(line: int, cells: list[str], cmap: ColumnMap, cal: WorkCalendar
              ) -> tuple[dict[str, Any] | None, Rejection | None]:
    """One data row to a record of canonical fields, or the reason it is rejected.

    Control characters and bidi overrides (tracker.display) are removed from every cell, and the
    record names the columns they were removed from ("cleaned"): they mean nothing in a name or a
    date, and a dossier is not lost over an invisible character. Except in the dossier code, the
    dossier's identity ('HS\x001' and 'HS1' would become one): that row is rejected."""
    cleaned: list[str] = []
    if UNSAFE.search("".join(cells)):
        cells, cleaned, bad_code = _cleaned(cells, cmap)
        if bad_code is not None:
            return None, Rejection(line, cmap.label("code"), bad_code, "control or bidirectional-override "
                                   "characters in the dossier code", raw_of(cells, cmap))
    n = len(cells)
    text = {f: (cells[i] if i < n else "") for f, i in cmap.fields.items()}

    def reject(f: str, reason: str) -> tuple[None, Rejection]:
        label = cmap.label(f) if f in cmap.fields else f
        return None, Rejection(line, label, text.get(f, ""), reason, raw_of(cells, cmap))

    if not text.get("code"):
        return reject("code", "missing dossier code (mã hồ sơ)")
    rec: dict[str, Any] = {f: text.get(f, "") for f in _CAPS}
    for f in _TEXT_FIELDS:  # the product's own export escapes formula-looking text with a quote
        if rec[f][:1] == "'" and _ESCAPED_FORMULA.match(rec[f]):
            rec[f] = rec[f][1:]
    for f, cap in _CAPS.items():  # the value, not its escape: a 20-character phone may be written with 21
        if len(rec[f]) > cap:
            return reject(f, f"longer than {cap} characters")
    try:
        rec["status"] = parse_status(text["status"])
    except ValueProblem as exc:
        return reject("status", str(exc))
    try:
        rec["channel"] = parse_channel(text.get("channel", ""))
    except ValueProblem as exc:
        return reject("channel", str(exc))
    for f in ROW_DATE_FIELDS:
        value = text.get(f, "")
        try:
            moment = parse_datetime(value) if value else None
        except ValueProblem as exc:
            return reject(f, str(exc))
        if moment is not None and not FIRST_YEAR <= moment.year <= LAST_YEAR:
            return reject(f, f"'{value}': year {moment.year} is outside the years the working calendar covers "
                             f"({FIRST_YEAR}–{LAST_YEAR})")
        if moment is not None and f in _DAY_FIELDS and len(value) <= 10 and _DATE_ONLY.match(value):
            moment = cal.day_end(moment.date())
        rec[f] = moment
    received = rec["received_at"]
    if received is None and rec["status"] not in NOT_RECEIVED_STATUSES:
        return reject("received_at", "missing reception date (ngày tiếp nhận)")
    if received is not None:
        for f, what in (("due_at", "appointment"), ("finished_at", "finish"), ("returned_at", "return")):
            if rec[f] is not None and rec[f] < received:
                if f == "due_at" and rec[f].date() == received.date():
                    continue  # a same-day appointment written as a bare date
                return reject(f, f"{what} {rec[f]:%d/%m/%Y %H:%M} is before the reception "
                                 f"{received:%d/%m/%Y %H:%M}")
    rec["limit"] = None
    if text.get("limit_text"):
        try:
            rec["limit"] = parse_limit(text["limit_text"])
        except LimitError as exc:
            return reject("limit_text", str(exc))
    try:
        rec["supplements"] = parse_supplements(text.get("supplements", ""), cal)
    except ValueProblem as exc:
        return reject("supplements", str(exc))
    if cleaned:
        rec["cleaned"] = cleaned
    return rec, None


def _cleaned(cells: list[str], cmap: ColumnMap) -> tuple[list[str], list[str], str | None]:
    """(the cells made safe, the labels of the columns changed, the code as it was if it changed)."""
    safe = [safe_text(c) for c in cells]
    labels = cmap.labels
    changed = [labels[i] if i < len(labels) and labels[i] else f"column {i + 1}"
               for i, (a, b) in enumerate(zip(cells, safe, strict=True)) if a != b]
    code_i = cmap.fields.get("code", -1)
    bad_code = shown(cells[code_i]) if 0 <= code_i < len(cells) and safe[code_i] != cells[code_i] else None
    return safe, changed, bad_code


_FALLBACK = object()  # a cache miss that parse_row must decide
_RECORD_FIELDS = frozenset((*_CAPS, "status", "channel", *ROW_DATE_FIELDS, "supplements"))


def _dmy_hms(value: str) -> datetime | None:
    """'dd/mm/yyyy HH:MM:SS' by slicing. fromisoformat only accepts ASCII digits in every slot, so
    what it returns is what parse_datetime returns; anything else is left to parse_datetime."""
    if len(value) == 19 and value[2] == "/" and value[5] == "/" and value[10] == " " and value[13] == ":" \
            and value[16] == ":":
        try:
            return datetime.fromisoformat(f"{value[6:10]}-{value[3:5]}-{value[:2]}T{value[11:]}")
        except ValueError:
            return None
    return None


def _dmy_hm(value: str) -> datetime | None:
    """'dd/mm/yyyy HH:MM'."""
    if len(value) == 16 and value[2] == "/" and value[5] == "/" and value[10] == " " and value[13] == ":":
        try:
            return datetime.fromisoformat(f"{value[6:10]}-{value[3:5]}-{value[:2]}T{value[11:]}")
        except ValueError:
            return None
    return None


def _dmy(value: str) -> datetime | None:
    """'dd/mm/yyyy' (midnight: a promised day's end is applied by the caller)."""
    if len(value) == 10 and value[2] == "/" and value[5] == "/":
        try:
            return datetime.fromisoformat(f"{value[6:10]}-{value[3:5]}-{value[:2]}")
        except ValueError:
            return None
    return None


def _compact(value: str) -> datetime | None:
    """'yyyyMMddHHmmss' (the national portal's dates)."""
    if len(value) == 14 and value.isascii() and value.isdigit():
        try:
            return datetime(int(value[:4]), int(value[4:6]), int(value[6:8]), int(value[8:10]), int(value[10:12]),
                             int(value[12:]))
        except ValueError:
            return None
    return None


def _iso(value: str) -> datetime | None:
    """'yyyy-mm-dd HH:MM:SS' or with a T, no offset."""
    if len(value) == 19 and value[4] == "-" and value[7] == "-" and value[10] in " T" and value[13] == ":" \
            and value[16] == ":":
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            return None
        return moment if moment.tzinfo is None else None
    return None


_DATE_SHAPES = (_dmy_hms, _dmy_hm, _dmy, _compact, _iso)


class RowParser:
    """parse_row for one file, fast for the rows real exports are made of.

    What a file's header fixes is looked up once (which cells hold which fields); each date
    column keeps the shape of its first value (dd/mm/yyyy HH:MM:SS, …) and reads later ones by
    slicing; status, channel and time-limit words go through per-file caches (a handful of
    distinct values in a million rows). A row this cannot read with certainty — a value of
    another shape, anything to reject, a quote-escaped formula — goes to parse_row itself, so
    every result, rejections included, is parse_row's (tests/tracker/ingest/test_import_fast_path.py)."""

    def __init__(self, cmap: ColumnMap, cal: WorkCalendar) -> None:
        self.cmap, self.cal = cmap, cal
        # the fields parse_row reads (a mapping may name others: parse_row ignores them)
        fields = {f: i for f, i in cmap.fields.items() if f in _RECORD_FIELDS}
        self.names = tuple(fields)
        positions = tuple(fields.values())
        self.width = max(positions) + 1
        self.pick = itemgetter(*positions)  # code, received_at and status at least
        self.caps = tuple((f, cap) for f, cap in _CAPS.items() if f in fields)
        self.texts = tuple(f for f in _TEXT_FIELDS if f in fields)
        # what an absent column contributes to the record
        self.absent: dict[str, Any] = {f: "" for f in _CAPS if f not in fields}
        self.absent.update({f: None for f in ROW_DATE_FIELDS if f not in fields})
        self.dates = [[f, f in _DAY_FIELDS, None] for f in ROW_DATE_FIELDS if f in fields]  # [field, day, shape]
        self.has_channel = "channel" in fields
        self.statuses: dict[str, int] = {}
        self.channels: dict[str, int | None] = {"": None}
        self.limits: dict[str, TimeLimit] = {}

    def parse(self, line: int, cells: list[str]) -> tuple[dict[str, Any] | None, Rejection | None]:
        if UNSAFE.search("".join(cells)):
            return parse_row(line, cells, self.cmap, self.cal)  # control characters: removed there
        rec = self.fast(cells) if len(cells) >= self.width else None
        if rec is None:
            return parse_row(line, cells, self.cmap, self.cal)
        return rec, None

    def fast(self, cells: list[str]) -> dict[str, Any] | None:
        """The record parse_row would make of `cells`, or None: ask parse_row."""
        # the cells by field; parsed values then replace the texts, as parse_row's record has them
        rec: dict[str, Any] = dict(zip(self.names, self.pick(cells), strict=True))
        if not rec["code"]:
            return None
        for f, cap in self.caps:
            if len(rec[f]) > cap:
                return None
        for f in self.texts:
            if rec[f][:1] == "'":
                return None
        limit_text = rec.get("limit_text")
        rec.update(self.absent)
        status = self.statuses.get(rec["status"])
        if status is None:
            status = self._learn(self.statuses, parse_status, rec["status"])
            if status is _FALLBACK:
                return None
        rec["status"] = status
        if self.has_channel:
            channel = self.channels.get(rec["channel"], _FALLBACK)
            if channel is _FALLBACK:
                channel = self._learn(self.channels, parse_channel, rec["channel"])
                if channel is _FALLBACK:
                    return None
            rec["channel"] = channel
        else:
            rec["channel"] = None
        for slot in self.dates:
            f, day, shape = slot
            value = rec[f]
            if not value:
                rec[f] = None
                continue
            if shape is None:
                shape = slot[2] = next((s for s in _DATE_SHAPES if s(value) is not None), None)
                if shape is None:
                    return None
            moment = shape(value)
            if moment is None or not FIRST_YEAR <= moment.year <= LAST_YEAR:
                return None
            if day and shape is _dmy:
                moment = self.cal.day_end(moment.date())
            rec[f] = moment
        received = rec["received_at"]
        if received is None:
            return None
        for f in ("due_at", "finished_at", "returned_at"):
            v = rec[f]
            if v is not None and v < received and not (f == "due_at" and v.date() == received.date()):
                return None
        rec["limit"] = None
        if limit_text:
            limit = self.limits.get(limit_text)
            if limit is None:
                limit = self._learn(self.limits, parse_limit, limit_text)
                if limit is _FALLBACK:
                    return None
            rec["limit"] = limit
        supplements = rec.get("supplements")
        if supplements:
            try:
                rec["supplements"] = parse_supplements(supplements, self.cal)
            except ValueProblem:
                return None
        else:
            rec["supplements"] = ()
        return rec

    @staticmethod
    def _learn(cache: dict, parse: Callable[[str], Any], value: str) -> Any:  # noqa: ANN401
        try:
            result = parse(value)
        except (ValueProblem, LimitError):
            return _FALLBACK
        if len(cache) < 10_000:
            cache[value] = result
        return result


def raw_of(cells: list[str], cmap: ColumnMap) -> dict[str, str]:
    """The row as the file had it, by header label: what `tthc import --errors` writes back."""
    n = len(cells)
    return {label: (cells[i] if i < n else "") for i, label in enumerate(cmap.labels) if label}
