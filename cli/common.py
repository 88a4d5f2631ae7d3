"""What every group of `tthc` commands shares: the one-line error, the argument types, the database
a command opens (and that `main` closes), refreshing stale derived values, and output in table,
CSV and JSON that is safe for a terminal or a spreadsheet."""

from __future__ import annotations

import argparse
import csv
import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path
from typing import IO, Any

from sqlalchemy import Engine

from tracker.config import Settings
from tracker.display import safe_text
from tracker.export import safe_cell
from tracker.files import open_private
from tracker.rules import LimitError, TimeLimit, parse_limit

DATE_FORMATS = ("%Y-%m-%d", "%d/%m/%Y", "%d-%m-%Y")


class CliError(Exception):
    """A one-line error for the user; exit code 1 unless given."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


# ----- argument types (a bad value is a usage error naming it, exit code 2) -----------------------


def moment(text: str) -> datetime:
    """An argparse type: a date and time on the calendar the product covers."""
    from tracker.calendar import OutOfCalendar, check_covered
    from tracker.ingest.values import ValueProblem, parse_datetime

    try:
        value = parse_datetime(text)
    except ValueProblem as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    if value is None:
        raise argparse.ArgumentTypeError("a date and time is needed, e.g. '2026-02-13 16:30'")
    try:
        check_covered(value.year)
    except OutOfCalendar as exc:
        raise argparse.ArgumentTypeError(f"'{text}': {exc}") from None
    return value


def time_limit(text: str) -> TimeLimit:
    """An argparse type: '3 ngày làm việc', '8 giờ làm việc', '15 ngày', 'trong ngày' …"""
    try:
        return parse_limit(text)
    except LimitError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def bounded(lo: int, hi: int, what: str):  # noqa: ANN201
    """An argparse type: a whole number from lo to hi, else a usage error naming the value."""
    def parse(text: str) -> int:
        if not text.strip().lstrip("-").isdigit() or not lo <= int(text) <= hi:
            raise argparse.ArgumentTypeError(f"'{text}' is not {what} from {lo} to {hi}")
        return int(text)

    return parse


def year(text: str) -> int:
    """An argparse type: a year the working calendar covers."""
    from tracker.calendar import FIRST_YEAR, LAST_YEAR

    if not text.isdigit() or not FIRST_YEAR <= int(text) <= LAST_YEAR:
        raise argparse.ArgumentTypeError(f"'{text}' is not a year from {FIRST_YEAR} to {LAST_YEAR}")
    return int(text)


def parse_day(text: str, flag: str) -> date:
    """A day given to `flag` (YYYY-MM-DD or dd/mm/yyyy), else a usage error."""
    for fmt in DATE_FORMATS:
        try:
            return datetime.strptime(text.strip(), fmt).date()
        except ValueError:
            continue
    raise CliError(f"{flag}: '{text}' is not a date: expected YYYY-MM-DD or dd/mm/yyyy", 2)


def parse_moment(text: str | None) -> datetime | None:
    """--as-of's moment, or None when not given."""
    from tracker.ingest.values import ValueProblem, parse_datetime

    if text is None:
        return None
    try:
        value = parse_datetime(text)
    except ValueProblem as exc:
        raise CliError(f"--as-of: {exc}", 2) from None
    if value is None:
        raise CliError("--as-of: a date and time is needed, e.g. '2026-03-18 16:30'", 2)
    return value


def add_period_args(s: argparse.ArgumentParser, *, required: bool) -> None:
    """--from, --to and --as-of, read back by read_period and read_as_of."""
    s.add_argument("--from", dest="start", required=required, metavar="DATE",
                   help="first day of the period, e.g. 2026-03-01 or 01/03/2026")
    s.add_argument("--to", dest="end", required=required, metavar="DATE", help="last day of the period")
    s.add_argument("--as-of", metavar="MOMENT",
                   help="evaluate at this moment (default: now; a period that has ended: its last day 23:59:59)")


def read_period(args: argparse.Namespace, *, required: bool = True) -> tuple[date | None, date | None]:
    start = parse_day(args.start, "--from") if args.start else None
    end = parse_day(args.end, "--to") if args.end else None
    if (start is None) != (end is None) or (required and start is None):
        raise CliError("give the period with both --from and --to", 2)
    if start is not None and end is not None and end < start:
        raise CliError(f"--to {end:%d/%m/%Y} is before --from {start:%d/%m/%Y}", 2)
    return start, end


def read_as_of(args: argparse.Namespace) -> datetime:
    from tracker.clock import now_local

    return parse_moment(args.as_of) or now_local()


# ----- the database -------------------------------------------------------------------------------

_ENGINES: list[Engine] = []  # disposed when a command ends (dispose_engines)


def open_engine(settings: Settings, *, need_schema: bool = True) -> Engine:
    """The settings' database, disposed when the command ends. With `need_schema`: reachable and
    migrated to this version, else a one-line error saying what to run; the decreed days admins
    entered are attached to the settings' calendar."""
    from tracker.db import is_current, make_engine

    engine = make_engine(settings.get("database.url"))
    _ENGINES.append(engine)
    if need_schema:
        try:
            current = is_current(engine)
        except Exception as exc:  # noqa: BLE001  (a database we cannot reach)
            raise CliError(f"database: cannot connect ({type(exc).__name__}: {str(exc).splitlines()[0]})"
                           ) from None
        if not current:
            raise CliError("database: not initialised or not up to date: run 'tthc init' "
                           "(or 'tthc db upgrade')")
        from tracker.calendar_days import attach

        attach(settings, engine)  # the decreed days admins entered, over the table and the settings
    return engine


def dispose_engines() -> None:
    """Close every database a command opened (main does it when a command ends)."""
    while _ENGINES:
        _ENGINES.pop().dispose()


def entered_days(settings: Settings) -> None:
    """For commands that work without a database (due, calendar): the decreed days admins entered,
    when the database exists and is migrated. Never creates one."""
    from sqlalchemy.engine import make_url

    from tracker.calendar_days import attach
    from tracker.db import is_current, make_engine

    url = settings.get("database.url")
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and not (parsed.database and Path(parsed.database).is_file()):
        return
    engine = make_engine(url)
    _ENGINES.append(engine)
    try:
        if is_current(engine):
            attach(settings, engine)
    except Exception:  # noqa: BLE001, S110  (no database here: the shipped table and the settings)
        pass


def known_unit(engine: Engine, code: str | None) -> None:
    """--unit CODE names a unit that exists (else nothing would be listed, silently)."""
    from sqlalchemy import select

    from tracker.models import Unit

    if code is None:
        return
    with engine.connect() as conn:
        if conn.execute(select(Unit.id).where(Unit.code == code)).first() is None:
            raise CliError(f"--unit '{code}': no such unit")


def refresh_if_stale(engine: Engine, settings: Settings) -> None:
    """Recompute stored derived values the calendar or rule settings, or a time-limit version, made stale."""
    from tracker.derive import refresh_if_stale as refresh

    refresh(engine, settings, announce=lambda stale: print(
        f"Settings or time limits changed: recomputing {stale} dossier(s)…", file=sys.stderr))


# ----- output -------------------------------------------------------------------------------------


def shown(value: Any) -> Any:  # noqa: ANN401
    """Text for the terminal: no ESC sequences, no bidi overrides, one line (tracker.display)."""
    return safe_text(value, one_line=True) if isinstance(value, str) else value


def moment_text(dt: datetime | None) -> str | None:
    return dt.strftime("%Y-%m-%d %H:%M") if dt else None


def write_rows(rows: list[dict[str, Any]], fmt: str, out: IO[str] | None = None) -> None:
    """Rows as an aligned table, CSV (cells safe for a spreadsheet) or JSON."""
    out = out or sys.stdout
    rows = [{k: shown(v) for k, v in r.items()} for r in rows]
    if fmt == "json":
        json.dump(rows, out, ensure_ascii=False, indent=2, default=str)
        out.write("\n")
        return
    if not rows:
        return
    if fmt == "csv":
        w = csv.DictWriter(out, fieldnames=list(rows[0]))
        w.writeheader()
        for r in rows:
            w.writerow({k: safe_cell(v) for k, v in r.items()})
        return
    cols = list(rows[0])
    cells = [[("" if r[c] is None else str(r[c])) for c in cols] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(cols)]
    out.write("  ".join(c.ljust(w) for c, w in zip(cols, widths, strict=True)).rstrip() + "\n")
    for row in cells:
        out.write("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip() + "\n")


def write_json(data: Any, out: IO[str]) -> None:  # noqa: ANN401
    json.dump(data, out, ensure_ascii=False, indent=2, default=str)
    out.write("\n")


@contextmanager
def open_output(path: str | None, *, bom: bool = False) -> Iterator[IO[str]]:
    """-o FILE (created for its owner only), or standard output for none or '-'."""
    if not path or path == "-":
        yield sys.stdout
        return
    try:
        fh = open_private(path, "w", encoding="utf-8-sig" if bom else "utf-8", newline="" if bom else None)
    except OSError as exc:
        raise CliError(f"-o {path}: {exc.strerror or exc}") from None
    with fh:
        yield fh


def print_import(res) -> None:  # noqa: ANN001
    """What an import did (tracker.ingest's ImportResult): counts, notes, the rejected rows on stderr."""
    if res.status in ("failed", "busy"):
        for rej in res.rejections[:10]:
            print(f"  {shown(str(rej))}", file=sys.stderr)
        print(f"tthc: {shown(res.message)}", file=sys.stderr)
        return
    summary = [{"rows read": res.rows_read, "inserted": res.inserted, "updated": res.updated,
                "unchanged": res.unchanged, "rejected": res.rejected, "seconds": round(res.seconds, 2)}]
    run = "" if res.run_id is None else f", run {res.run_id}"
    print(f"{res.file} ({res.format or 'csv'}, {res.status}{run})")
    write_rows(summary, "table")
    for note in res.skipped[:5]:
        print(f"skipped {shown(note)}")
    for note in res.warnings[:5]:
        print(f"warning: {note}")
    if res.new_units:
        print(f"new units ({len(res.new_units)}): {shown(', '.join(res.new_units[:10]))}")
    if res.new_procedures:
        print(f"new procedures: {len(res.new_procedures)}")
    for rej in res.rejections[:20]:
        print(f"rejected {shown(str(rej))}", file=sys.stderr)
    if res.rejected > 20:
        print(f"… and {res.rejected - 20} more rejected row(s)", file=sys.stderr)
    if res.rejected and res.run_id is not None:
        print(f"Fix them: tthc import --errors {res.run_id} -o rejected-{res.run_id}.csv", file=sys.stderr)
