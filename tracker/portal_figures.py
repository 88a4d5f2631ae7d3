"""What the national portal published, beside ours: `tthc portal-figures import` and `compare`.

The CCHC office sees the portal's 766 figures per unit every month. `import_figures` reads them
from a CSV or XLSX file (columns: unit code, period — "2026-10", "10/2026", "Q4/2026", "2026", or
from/to dates in two columns — received, on-time count, score; Vietnamese or English labels, with
or without accents) and stores one `portal_figure` row per unit and period; a re-import of the same
unit and period replaces it. Every bad row is reported with file, line, column and value, and then
nothing is stored.

`reconcile` sets, per unit and period: ours by Biểu 06 (tracker.reports: received = total, on time
= early + on time + within, the 766 score of RULES §7), ours by the portal's method
(tracker.portal766), the published figures, the gap, and the dossiers that explain it:

- counted differently: the two methods disagree on a dossier (portal_disagreements); a dossier
  the portal counts on time and Biểu 06 late moves the portal's on-time count up by one, and so on;
- in our data and not counted by the portal: a disagreement whose portal verdict is none (the
  portal's method leaves the dossier out of the period): one received (and maybe one on time) less.

What those dossiers do not account for between the published figures and our Biểu 06 ones is
"unexplained" and shown as such: the portal's own dossier list is not available to us, so a
difference in the data behind the two counts cannot be traced to dossiers.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, and_, delete, or_, select

from tracker import data_version
from tracker.clock import now_local
from tracker.config import Settings
from tracker.ingest.base import HEADER_SCAN_ROWS, FileRejected, open_binary, sniff_text_encoding
from tracker.ingest.readers import detect_format, sniff_delimiter
from tracker.ingest.text import fold
from tracker.ingest.values import ValueProblem, parse_datetime
from tracker.models import CODE_MAX, PortalFigure, Unit
from tracker.text import strip_accents

# canonical column -> labels seen (compared folded: accents, case, spacing and style do not matter)
COLUMNS: dict[str, tuple[str, ...]] = {
    "unit_code": ("Mã đơn vị", "MaDonVi", "Mã cơ quan", "MaCoQuan", "unit_code", "unit code", "unit",
                  "agencyCode", "Mã ĐV"),
    "unit_name": ("Tên đơn vị", "Đơn vị", "Cơ quan", "TenDonVi", "unit_name", "name", "agencyName"),
    "period": ("Kỳ", "Kỳ báo cáo", "Kỳ đánh giá", "Kỳ công bố", "Tháng", "Thời gian", "period", "month"),
    "period_start": ("Từ ngày", "Ngày bắt đầu", "TuNgay", "from", "period_start", "start", "from_date"),
    "period_end": ("Đến ngày", "Ngày kết thúc", "DenNgay", "to", "period_end", "end", "to_date"),
    "received": ("Tiếp nhận", "Số hồ sơ tiếp nhận", "Hồ sơ tiếp nhận", "Tổng số hồ sơ", "Tổng số", "Tổng hồ sơ",
                 "Số hồ sơ", "received", "total", "TongSo"),
    "on_time": ("Đúng hạn", "Số hồ sơ đúng hạn", "Trước hạn, đúng hạn", "Trước hạn và đúng hạn",
                "Xử lý trước hạn, đúng hạn", "Số hồ sơ xử lý trước hạn, đúng hạn", "Hồ sơ đúng hạn",
                "on_time", "on time", "on_time_count", "DungHan"),
    "score": ("Điểm", "Điểm 766", "Điểm tiến độ", "Điểm tiến độ giải quyết", "Điểm số", "score", "points",
              "Diem"),
}
REQUIRED = ("unit_code", "received", "on_time", "score")
_BY_KEY = {fold(label): name for name, labels in COLUMNS.items() for label in labels}
POINTS = Decimal(20)
DISAGREEMENTS_MAX = 100_000  # per period: far more than a month of one province disagrees on


class FiguresRejected(ValueError):
    """The file, or some of its rows, cannot be stored: nothing was. `problems` says what and where."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass
class ImportedFigures:
    file: str
    rows: int = 0
    inserted: int = 0
    replaced: int = 0
    skipped: list[str] = field(default_factory=list)  # title and totals rows


# ----- reading -------------------------------------------------------------------------------------


def _table(path: Path) -> Iterator[tuple[int, list[str]]]:
    """(line or row number, cells) of a CSV file or of the first sheet of a workbook."""
    kind = detect_format(path)
    if kind in ("xlsx", "xls"):
        from tracker.ingest.workbook import first_sheet

        # checked first, then read in a child process: a forged sheet must not abort this one (issue 12)
        yield from first_sheet(path, kind)
        return
    if kind != "csv":
        raise FileRejected(f"{path.name}: a {kind.upper()} file; published figures are read from CSV or XLSX")
    enc = sniff_text_encoding(path)
    convert = enc.converter()
    with io.TextIOWrapper(open_binary(path), encoding=enc.codec, newline="") as fh:
        sample = fh.read(64 * 1024)
        fh.seek(0)
        reader = csv.reader(fh, delimiter=sniff_delimiter(sample))
        for row in reader:
            yield reader.line_num, [convert(c) for c in row]


def _header(cells: list[str]) -> dict[str, int]:
    found: dict[str, int] = {}
    for i, cell in enumerate(cells):
        name = _BY_KEY.get(fold(cell))
        if name and name not in found:
            found[name] = i
    return found


_RANGE_SPLIT = re.compile(r"\s+(?:-|–|—|den|to)\s+|\.\.|\s*–\s*")


def _last_day(year: int, month: int) -> date:
    import calendar

    return date(year, month, calendar.monthrange(year, month)[1])


def parse_period(text: str) -> tuple[date, date]:
    """A published period: a month ('2026-10', '10/2026', 'Tháng 10/2026', 'T10/2026'), a quarter
    ('Q4/2026', 'Quý IV/2026', '2026-Q4'), a year ('2026', 'Năm 2026') or a range of two dates
    ('01/10/2026 - 31/10/2026'). ValueProblem says what was expected."""
    raw = text.strip()
    s = strip_accents(raw).lower()
    parts = [p for p in _RANGE_SPLIT.split(s) if p.strip()]
    if len(parts) == 2:
        try:
            a, b = parse_datetime(parts[0]), parse_datetime(parts[1])
        except ValueProblem:
            a = b = None
        if a is not None and b is not None:
            if b.date() < a.date():
                raise ValueProblem(f"'{raw}' ends before it starts")
            return a.date(), b.date()
    s = re.sub(r"[\s_]+", "", s)
    s = re.sub(r"^(thang|nam|ky|t)(?=\d)", "", s)
    for roman, n in (("iv", "4"), ("iii", "3"), ("ii", "2"), ("i", "1")):
        s = re.sub(rf"^(quy|q){roman}(?=[/.-])", rf"q{n}", s)
    s = re.sub(r"^quy(?=\d)", "q", s)
    if m := re.fullmatch(r"(\d{4})[-/.](\d{1,2})", s):
        year, month = int(m[1]), int(m[2])
    elif m := re.fullmatch(r"(\d{1,2})[-/.](\d{4})", s):
        month, year = int(m[1]), int(m[2])
    elif m := re.fullmatch(r"q([1-4])[-/.]?(\d{4})|(\d{4})[-/.]?q([1-4])", s):
        q, year = (int(m[1]), int(m[2])) if m[1] else (int(m[4]), int(m[3]))
        return date(year, 3 * q - 2, 1), _last_day(year, 3 * q)
    elif m := re.fullmatch(r"(\d{4})", s):
        return date(int(m[1]), 1, 1), date(int(m[1]), 12, 31)
    else:
        raise ValueProblem(f"'{raw}' is not a period: expected a month '2026-10' or '10/2026', a quarter "
                           "'Q4/2026', a year '2026', or two dates '01/10/2026 - 31/10/2026'")
    if not 1 <= month <= 12:
        raise ValueProblem(f"'{raw}' has no month {month}")
    return date(year, month, 1), _last_day(year, month)


def _count(text: str) -> int:
    s = text.strip().replace("\u00a0", " ")
    if re.fullmatch(r"\d+", s):
        return int(s)
    if re.fullmatch(r"\d{1,3}(?:([.,  ])\d{3})(?:\1\d{3})*", s):  # thousands: 1.234 / 1,234 / 1 234
        return int(re.sub(r"\D", "", s))
    raise ValueProblem(f"'{text}' is not a count of dossiers (a whole number, 0 or more)")


def _score(text: str) -> Decimal:
    s = text.strip().replace(",", ".")
    try:
        value = Decimal(s)
    except InvalidOperation:
        value = None
    if value is None or not value.is_finite() or not re.fullmatch(r"\d+(\.\d+)?", s):
        raise ValueProblem(f"'{text}' is not a score (a number from 0 to 20, e.g. 19,85)")
    if value > POINTS:
        raise ValueProblem(f"'{text}' is more than the 20 points of the 766 progress score")
    return value


def _day(text: str) -> date:
    value = parse_datetime(text)
    if value is None:
        raise ValueProblem("empty: a date is needed")
    return value.date()


@dataclass(frozen=True)
class Figure:
    line: int
    unit_code: str
    period_start: date
    period_end: date
    received: int
    on_time: int
    score: Decimal | None


class _Row:
    """One data row of a figures file, read field by field; each problem names file, line, column
    (as the file labels it) and value."""

    def __init__(self, file: str, line: int, cells: list[str], cols: dict[str, int], labels: list[str]) -> None:
        self.file, self.line, self.cells, self.cols, self.labels = file, line, cells, cols, labels
        self.problems: list[str] = []

    def cell(self, name: str) -> str:
        i = self.cols.get(name)
        return self.cells[i].strip() if i is not None and i < len(self.cells) else ""

    def bad(self, name: str, value: str, reason: str) -> None:
        label = self.labels[self.cols[name]] if name in self.cols else name
        self.problems.append(f"{self.file} line {self.line}, column '{label}': '{value}' {reason}")

    def read(self, name: str, parse):  # noqa: ANN001, ANN202
        value = self.cell(name)
        try:
            return parse(value)
        except ValueProblem as exc:
            msg = str(exc)
            self.bad(name, value, msg[len(value) + 3:] if msg.startswith(f"'{value}' ") else f"— {msg}")
            return None

    def period(self) -> tuple[date, date] | None:
        if "period" in self.cols and self.cell("period"):
            return self.read("period", parse_period)
        start, end = self.read("period_start", _day), self.read("period_end", _day)
        if start is None or end is None:
            return None
        if end < start:
            self.bad("period_end", self.cell("period_end"), f"is before the start {start:%d/%m/%Y}")
            return None
        return start, end

    def figure(self, known: set[str]) -> Figure | None:
        code = self.cell("unit_code")
        if not code:
            self.bad("unit_code", code, "— the unit code is missing")
        elif len(code) > CODE_MAX or code not in known:
            self.bad("unit_code", code, "is not a known unit code (tthc units import adds units)")
        period = self.period()
        received = self.read("received", _count)
        on_time = self.read("on_time", _count)
        score = self.read("score", _score) if self.cell("score") or received != 0 else None
        if received is not None and on_time is not None and on_time > received:
            self.bad("on_time", self.cell("on_time"), f"is more than the {received} received")
        if self.problems or period is None:
            return None
        return Figure(self.line, code, period[0], period[1], received, on_time, score)


def read_figures(path: str | Path, unit_codes: Collection[str]) -> tuple[list[Figure], list[str]]:
    """The figures of a file, checked row by row against the units `unit_codes`; (figures, skipped
    rows). FiguresRejected with every problem found (file, line, column, value), or FileRejected
    for a file that has no usable header."""
    path = Path(path)
    rows = _table(path)
    cols: dict[str, int] = {}
    labels: list[str] = []
    skipped: list[str] = []
    for line, cells in rows:
        cols = _header(cells)
        if "unit_code" in cols and ("received" in cols or "on_time" in cols):
            labels = cells
            break
        if any(cells):
            skipped.append(f"line {line}: title")
        if line >= HEADER_SCAN_ROWS:
            break
    missing = [c for c in REQUIRED if c not in cols]
    if "period" not in cols and not ("period_start" in cols and "period_end" in cols):
        missing.append("period (or from and to dates)")
    if missing or not labels:
        found = ", ".join(f"'{c}'" for c in labels if c) or "no header row"
        raise FileRejected(f"{path.name}: missing columns {', '.join(missing)} (expected labels such as "
                           f"'Mã đơn vị', 'Kỳ', 'Tiếp nhận', 'Đúng hạn', 'Điểm'); found {found}")
    known = set(unit_codes)
    problems: list[str] = []
    figures: list[Figure] = []
    seen: dict[tuple[str, date, date], int] = {}
    for line, cells in rows:
        if not any(c.strip() for c in cells):
            continue
        row = _Row(path.name, line, cells, cols, labels)
        firsts = [fold(c) for c in cells[:3] if c.strip()]
        if not row.cell("unit_code") and any(f.startswith(("tong", "cong", "total")) for f in firsts):
            skipped.append(f"line {line}: totals row")
            continue
        figure = row.figure(known)
        if figure is not None:
            key = (figure.unit_code, figure.period_start, figure.period_end)
            if key in seen:
                row.bad("unit_code", figure.unit_code, f"— the same unit and period as line {seen[key]}")
                figure = None
            seen.setdefault(key, line)
        problems += row.problems
        if figure is not None:
            figures.append(figure)
    if problems:
        raise FiguresRejected(problems)
    return figures, skipped


def import_figures(engine: Engine, path: str | Path, *, now: datetime | None = None) -> ImportedFigures:
    """Read and store a file of published figures, all or nothing (see the module's docstring)."""
    path = Path(path)
    with engine.connect() as conn:
        codes = set(conn.execute(select(Unit.code)).scalars())
    figures, skipped = read_figures(path, codes)
    result = ImportedFigures(path.name, rows=len(figures), skipped=skipped)
    stamp = now or now_local()
    t = PortalFigure.__table__.c
    keys = [(f.unit_code, f.period_start, f.period_end) for f in figures]
    with engine.begin() as conn:
        for chunk in (keys[i:i + 500] for i in range(0, len(keys), 500)):
            result.replaced += conn.execute(delete(PortalFigure.__table__).where(
                or_(*(and_(t.unit_code == c, t.period_start == s, t.period_end == e) for c, s, e in chunk)))
            ).rowcount
        if figures:
            conn.execute(PortalFigure.__table__.insert(), [
                {"unit_code": f.unit_code, "period_start": f.period_start, "period_end": f.period_end,
                 "received": f.received, "on_time": f.on_time,
                 "score": None if f.score is None else float(f.score), "imported_at": stamp,
                 "file_name": path.name[:1000]} for f in figures])
        data_version.bump(conn)
    result.inserted = len(figures) - result.replaced
    return result


# ----- reconciliation ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Figures:
    received: int
    on_time: int
    score: Decimal | None

    def as_dict(self) -> dict[str, Any]:
        return {"received": self.received, "on_time": self.on_time,
                "score": None if self.score is None else float(self.score)}


@dataclass(frozen=True)
class Explanation:
    """A dossier behind a gap: `kind` counted_differently | not_counted_by_portal."""

    code: str
    unit: str
    kind: str
    portal: str | None
    bieu06: str | None
    end_at: datetime | None
    reason: str
    received: int  # what it moves between Biểu 06 and the portal's count: 0 or -1
    on_time: int  # -1, 0 or +1

    def as_dict(self) -> dict[str, Any]:
        return {"code": self.code, "kind": self.kind, "portal": self.portal, "bieu06": self.bieu06,
                "end_at": None if self.end_at is None else self.end_at.strftime("%Y-%m-%d %H:%M:%S"),
                "reason": self.reason}


@dataclass
class ReconRow:
    unit: str
    name: str
    start: date
    end: date
    bieu06: Figures
    portal_method: Figures
    published: Figures | None
    explained_by: list[Explanation]
    imported_at: datetime | None = None
    file_name: str = ""

    @property
    def gap(self) -> Figures | None:
        """Published minus ours by the portal's method."""
        if self.published is None:
            return None
        p, o = self.published, self.portal_method
        score = None if p.score is None or o.score is None else p.score - o.score
        return Figures(p.received - o.received, p.on_time - o.on_time, score)

    @property
    def unexplained(self) -> tuple[int, int] | None:
        """(received, on time): what the listed dossiers leave of published minus Biểu 06."""
        if self.published is None:
            return None
        r = self.published.received - self.bieu06.received - sum(e.received for e in self.explained_by)
        o = self.published.on_time - self.bieu06.on_time - sum(e.on_time for e in self.explained_by)
        return r, o

    @property
    def status(self) -> str:
        """not_published | match | explained | unexplained."""
        left = self.unexplained
        if left is None:
            return "not_published"
        if left != (0, 0):
            return "unexplained"
        same = (self.published.received, self.published.on_time) == (self.bieu06.received, self.bieu06.on_time)
        return "match" if same and not self.explained_by else "explained"

    def as_dict(self) -> dict[str, Any]:
        gap, left = self.gap, self.unexplained
        return {
            "unit": self.unit, "name": self.name, "period_start": self.start.isoformat(),
            "period_end": self.end.isoformat(), "status": self.status,
            "bieu06": self.bieu06.as_dict(), "portal_method": self.portal_method.as_dict(),
            "published": None if self.published is None else self.published.as_dict(),
            "gap": None if gap is None else gap.as_dict(),
            "unexplained": None if left is None else {"received": left[0], "on_time": left[1]},
            "explained_by": [e.as_dict() for e in self.explained_by],
        }


@dataclass
class Reconciliation:
    start: date
    end: date
    periods: list[tuple[date, date]]
    rows: list[ReconRow]

    def as_dict(self) -> dict[str, Any]:
        return {"from": self.start.isoformat(), "to": self.end.isoformat(),
                "periods": [{"start": s.isoformat(), "end": e.isoformat()} for s, e in self.periods],
                "rows": [r.as_dict() for r in self.rows]}


def _attr(obj: Any, *names: str) -> Any:
    """The first of `names` the record has (an attribute, or a key of a dict)."""
    for name in names:
        if isinstance(obj, dict):
            if name in obj:
                return obj[name]
        elif hasattr(obj, name):
            return getattr(obj, name)
    return None


# a Biểu 06 class as the portal's two verdicts read it (the 766 numerator counts within as on time)
_VERDICT = {"early": "on_time", "on_time": "on_time", "within": "on_time", "late": "late", "overdue": "late"}


def explanation(d: Any) -> Explanation:
    """One record of tracker.portal766.portal_disagreements as what it moves between the counts.

    Read by the names of its interface — code, unit_code, portal (the verdict), biểu06_verdict (or
    the class biểu06), end_at, explanation_vi / reason — or their plain spellings (unit, bieu06)."""
    portal = _attr(d, "portal_verdict", "portal")
    bieu06 = _attr(d, "biểu06_verdict", "bieu06_verdict", "biểu06", "bieu06")
    bieu06 = _VERDICT.get(bieu06, bieu06)
    counted = portal in ("on_time", "late")
    moves_on_time = (portal == "on_time") - (bieu06 == "on_time") if counted else -(bieu06 == "on_time")
    return Explanation(
        code=str(_attr(d, "code")), unit=str(_attr(d, "unit_code", "unit") or ""),
        kind="counted_differently" if counted else "not_counted_by_portal", portal=portal, bieu06=bieu06,
        end_at=_attr(d, "end_at"), reason=str(_attr(d, "explanation_vi", "reason") or ""),
        received=0 if counted else -1, on_time=int(moves_on_time))


def _figures(received: int, on_time: int) -> Figures:
    from tracker.reports import ratio_half_up

    return Figures(received, on_time, ratio_half_up(on_time, received, 20, 2))


def _stored_score(value: float | None) -> Decimal | None:
    """A stored score (a float) as the two-decimal number it was published as."""
    return None if value is None else Decimal(str(value)).quantize(Decimal("0.01"))


def published_figures(engine: Engine, start: date, end: date) -> list[PortalFigure]:
    """The stored figures whose period lies within [start, end]."""
    t = PortalFigure.__table__.c
    with engine.connect() as conn:
        return list(conn.execute(select(PortalFigure.__table__).where(t.period_start >= start, t.period_end <= end)
                                 .order_by(t.period_start, t.period_end, t.unit_code)))


def reconcile(engine: Engine, settings: Settings, start: date, end: date, *, as_of: datetime | None = None,
              unit_ids: Collection[int] | None = None) -> Reconciliation:
    """Per unit and published period within [start, end]: ours (both methods), the portal's, the
    gap and the dossiers behind it. A period that has not ended by `as_of` is counted at `as_of`.
    Units with dossiers but no published figure get a row too (status not_published)."""
    from tracker.portal766 import portal_disagreements, portal_scores
    from tracker.reports import period_report

    figures = published_figures(engine, start, end)
    with engine.connect() as conn:
        units = {r.code: (r.id, r.name) for r in conn.execute(select(Unit.code, Unit.id, Unit.name))}
    if unit_ids is not None:
        figures = [f for f in figures if units.get(f.unit_code, (None,))[0] in unit_ids]
    periods = sorted({(f.period_start, f.period_end) for f in figures})
    rows: list[ReconRow] = []
    for ps, pe in periods:
        moment = as_of if as_of is not None and as_of < datetime.combine(pe, time(23, 59, 59)) else None
        if moment is not None and moment < datetime.combine(ps, time(0)):
            continue  # not begun at as_of: nothing of ours to compare
        report = period_report(engine, settings, ps, pe, as_of=moment, by="unit", unit_ids=unit_ids)
        ours = {r.key: r for r in report.rows}
        portal_rows, _ = portal_scores(engine, settings, ps, pe, as_of=moment, unit_ids=unit_ids)
        portal = {p.key: p for p in portal_rows}
        explained: dict[str, list[Explanation]] = {}
        for d in portal_disagreements(engine, settings, ps, pe, as_of=moment, unit_ids=unit_ids,
                                      limit=DISAGREEMENTS_MAX):
            e = explanation(d)
            explained.setdefault(e.unit, []).append(e)
        published = {f.unit_code: f for f in figures if (f.period_start, f.period_end) == (ps, pe)}
        for code in sorted(set(ours) | set(portal) | set(published)):
            b = ours.get(code)
            p = portal.get(code)
            f = published.get(code)
            name = b.name if b else p.name if p else units.get(code, (None, code))[1]
            rows.append(ReconRow(
                unit=code, name=name, start=ps, end=pe,
                bieu06=_figures(b.total, b.early + b.on_time + b.within) if b else _figures(0, 0),
                portal_method=Figures(p.received, p.on_time, p.score) if p else _figures(0, 0),
                published=None if f is None else Figures(f.received, f.on_time, _stored_score(f.score)),
                explained_by=explained.get(code, []),
                imported_at=None if f is None else f.imported_at, file_name="" if f is None else f.file_name))
    return Reconciliation(start, end, periods, rows)


def status_counts(rows: Iterable[ReconRow]) -> dict[str, int]:
    out = {"match": 0, "explained": 0, "unexplained": 0, "not_published": 0}
    for r in rows:
        out[r.status] += 1
    return out


__all__ = ["COLUMNS", "Explanation", "FiguresRejected", "ImportedFigures", "ReconRow", "Reconciliation",
           "import_figures", "parse_period", "published_figures", "read_figures", "reconcile"]
