"""`tthc`: the command line.

Exit codes: 0 done; 1 an error (bad settings, a rejected file, a database not initialised);
2 a usage error; 3 an import that stored some rows and rejected others.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from collections import Counter
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from tracker.config import ConfigError, Settings, load_settings
from tracker.display import safe_text
from tracker.export import safe_cell
from tracker.ingest.readers import FORMATS
from tracker.rules import CLASSES, LimitError, parse_limit
from tracker.settings_check import check_settings


class CliError(Exception):
    """A one-line error for the user; exit code 1 unless given."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


def _moment(text: str) -> datetime:
    from tracker.ingest.values import ValueProblem, parse_datetime

    try:
        value = parse_datetime(text)
    except ValueProblem as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    if value is None:
        raise argparse.ArgumentTypeError("a date and time is needed, e.g. '2026-02-13 16:30'")
    from tracker.calendar import OutOfCalendar, check_covered

    try:
        check_covered(value.year)
    except OutOfCalendar as exc:
        raise argparse.ArgumentTypeError(f"'{text}': {exc}") from None
    return value


def _limit(text: str):  # noqa: ANN202
    try:
        return parse_limit(text)
    except LimitError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _bounded(lo: int, hi: int, what: str):  # noqa: ANN202
    """An argparse type: a whole number from lo to hi, else a usage error naming the value."""
    def parse(text: str) -> int:
        if not text.strip().lstrip("-").isdigit() or not lo <= int(text) <= hi:
            raise argparse.ArgumentTypeError(f"'{text}' is not {what} from {lo} to {hi}")
        return int(text)

    return parse


def _year(text: str) -> int:
    from tracker.calendar import FIRST_YEAR, LAST_YEAR

    if not text.isdigit() or not FIRST_YEAR <= int(text) <= LAST_YEAR:
        raise argparse.ArgumentTypeError(f"'{text}' is not a year from {FIRST_YEAR} to {LAST_YEAR}")
    return int(text)


# ----- helpers ------------------------------------------------------------------------------------

_ENGINES: list[Engine] = []  # disposed when a command ends


def _engine(settings: Settings, *, need_schema: bool = True) -> Engine:
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


def _entered_days(settings: Settings) -> None:
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
def _known_unit(engine: Engine, code: str | None) -> None:
    """--unit CODE names a unit that exists (else nothing would be listed, silently)."""
    from sqlalchemy import select

    from tracker.models import Unit

    if code is None:
        return
    with engine.connect() as conn:
        if conn.execute(select(Unit.id).where(Unit.code == code)).first() is None:
            raise CliError(f"--unit '{code}': no such unit")


def _fresh(engine: Engine, settings: Settings) -> None:
    """Recompute stored derived values the calendar or rule settings, or a time-limit version, made stale."""
    from tracker.derive import refresh_if_stale

    refresh_if_stale(engine, settings, announce=lambda stale: print(
        f"Settings or time limits changed: recomputing {stale} dossier(s)…", file=sys.stderr))


def _shown(value: Any) -> Any:  # noqa: ANN401
    """Text for the terminal: no ESC sequences, no bidi overrides, one line (tracker.display)."""
    return safe_text(value, one_line=True) if isinstance(value, str) else value


def _write_rows(rows: list[dict[str, Any]], fmt: str, out=None) -> None:  # noqa: ANN001
    out = out or sys.stdout
    rows = [{k: _shown(v) for k, v in r.items()} for r in rows]
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


def _fmt(dt: datetime | None) -> str | None:
    return dt.strftime("%Y-%m-%d %H:%M") if dt else None


# ----- commands -----------------------------------------------------------------------------------


def cmd_init(args: argparse.Namespace, settings: Settings) -> int:
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import SQLAlchemyError

    from tracker.db import head_revision, upgrade
    from tracker.ingest.loader import stopped_reason

    try:
        engine = _engine(settings, need_schema=False)
        upgrade(engine)
    except (OSError, SQLAlchemyError) as exc:  # a read-only location, a full disk, a server that refuses
        url = make_url(settings.get("database.url")).render_as_string(hide_password=True)
        raise CliError(f"database: cannot create or upgrade {url}: {stopped_reason(exc)}") from None
    print(f"Database ready at revision {head_revision()} ({engine.url.render_as_string(hide_password=True)})")
    return 0


def cmd_db(args: argparse.Namespace, settings: Settings) -> int:
    return cmd_init(args, settings)


def cmd_due(args: argparse.Namespace, settings: Settings) -> int:
    from tracker.rules import explain_due

    limit = args.limit
    _entered_days(settings)
    cal, rules = settings.work_calendar(), settings.rule_settings()
    from tracker.calendar import OutOfCalendar

    try:
        ex = explain_due(cal, args.received, limit, resubmitted_at=args.resubmitted, channel=args.channel,
                         rules=rules, lang=args.lang)
    except OutOfCalendar as exc:
        raise CliError(f"due: {exc}", 2) from None
    if args.format == "json":
        json.dump({"received_at": _fmt(args.received), "limit": {"value": limit.value, "unit": limit.unit},
                   "due_at": _fmt(ex.due), "steps": ex.lines(args.lang)}, sys.stdout, ensure_ascii=False,
                  indent=2)
        print()
    else:
        print(ex.due.strftime("%Y-%m-%d %H:%M"))
        for line in ex.lines(args.lang):
            print(f"  {line}")
    return 0


def cmd_calendar(args: argparse.Namespace, settings: Settings) -> int:
    _entered_days(settings)
    cal = settings.work_calendar()
    rows = [{"date": e.date.isoformat(), "weekday": e.date.strftime("%a"),
             "kind": e.kind, "reason": e.reason} for e in cal.year_days(args.year)]
    if args.format == "table":
        print(f"{args.year}: {sum(r['kind'] == 'off' for r in rows)} weekday(s) off, "
              f"{sum(r['kind'] == 'work' for r in rows)} weekend day(s) worked")
    _write_rows(rows, args.format)
    return 0


def cmd_classify(args: argparse.Namespace, settings: Settings) -> int:
    from tracker.clock import now_local
    from tracker.derive import classify_row
    from tracker.queries import dossier_rows, limit_versions

    engine = _engine(settings)
    _known_unit(engine, args.unit)
    _fresh(engine, settings)
    as_of = args.as_of or now_local()
    cal, rules = settings.work_calendar(), settings.rule_settings()
    counts: Counter[str] = Counter()
    listing = []
    limits = limit_versions(engine)
    for r in dossier_rows(engine, unit=args.unit):
        c, _ = classify_row(r, as_of, cal, rules, limits)
        counts[c.cls] += 1
        if args.list:
            listing.append({"code": r["code"], "class": c.cls, "due_used": _fmt(c.due_used),
                            "computed_due": _fmt(c.computed_due), "flags": ",".join(c.flags)})
    if args.list:
        _write_rows(listing, args.format)
        return 0
    rows = [{"class": k, "count": counts.get(k, 0)} for k in CLASSES]
    if args.format == "json":
        json.dump({"as_of": _fmt(as_of), "counts": {r["class"]: r["count"] for r in rows},
                   "total": sum(counts.values())}, sys.stdout, indent=2)
        print()
    else:
        if args.format == "table":
            print(f"As of {as_of:%Y-%m-%d %H:%M}, {sum(counts.values())} dossier(s)")
        _write_rows(rows, args.format)
    return 0


def cmd_dossier(args: argparse.Namespace, settings: Settings) -> int:
    from tracker.clock import now_local
    from tracker.derive import classify_row, limit_used
    from tracker.queries import dossier_rows, limit_versions
    from tracker.rules import explain_due

    if not args.code.strip():
        raise CliError("dossier: the code is empty", 2)
    engine = _engine(settings)
    _fresh(engine, settings)
    rows = list(dossier_rows(engine, code=args.code))
    if not rows:
        raise CliError(f"dossier '{args.code}': not found")
    r = rows[0]
    as_of = args.as_of or now_local()
    cal, rules = settings.work_calendar(), settings.rule_settings()
    limits = limit_versions(engine)
    c, limit = classify_row(r, as_of, cal, rules, limits)
    steps = []
    if limit and r["received_at"] and c.computed_due is not None:  # none: the limit cannot be counted
        steps = explain_due(cal, r["received_at"], limit, resubmitted_at=r["resubmitted_at"],
                            channel=r["channel"], rules=rules, lang=args.lang).lines(args.lang)
    info = {
        "code": r["code"], "unit": f"{r['unit_code']} {r['unit_name']}",
        "procedure": f"{r['procedure_code'] or ''} {r['procedure_name'] or ''}".strip(),
        "status": r["status"], "channel": r["channel"], "as_of": _fmt(as_of), "class": c.cls,
        "received_at": _fmt(r["received_at"]), "due_at (recorded)": _fmt(r["due_at"]),
        "computed_due": _fmt(c.computed_due), "due_used": _fmt(c.due_used),
        "rescheduled_due_at": _fmt(r["rescheduled_due_at"]), "apology_at": _fmt(r["apology_at"]),
        "finish_moment": _fmt(c.finish_moment),
        "limit": limit_used(r, limits, args.lang),
        "working_hours_left": None if c.working_hours_left is None else round(c.working_hours_left, 2),
        "flags": list(c.flags),
        "excess_hours": None if c.excess_hours is None else round(c.excess_hours, 2),
        "due_explained": steps,
    }
    info = {k: [_shown(s) for s in v] if isinstance(v, list) else _shown(v) for k, v in info.items()}
    if args.format == "json":
        json.dump(info, sys.stdout, ensure_ascii=False, indent=2)
        print()
        return 0
    for k, v in info.items():
        if k == "due_explained":
            print("due explained:")
            for s in v:
                print(f"  {s}")
        elif v not in (None, [], ""):
            print(f"{k}: {', '.join(v) if isinstance(v, list) else v}")
    return 0


def _print_import(res) -> None:  # noqa: ANN001
    if res.status in ("failed", "busy"):
        for rej in res.rejections[:10]:
            print(f"  {_shown(str(rej))}", file=sys.stderr)
        print(f"tthc: {_shown(res.message)}", file=sys.stderr)
        return
    summary = [{"rows read": res.rows_read, "inserted": res.inserted, "updated": res.updated,
                "unchanged": res.unchanged, "rejected": res.rejected, "seconds": round(res.seconds, 2)}]
    run = "" if res.run_id is None else f", run {res.run_id}"
    print(f"{res.file} ({res.format or 'csv'}, {res.status}{run})")
    _write_rows(summary, "table")
    for note in res.skipped[:5]:
        print(f"skipped {_shown(note)}")
    for note in res.warnings[:5]:
        print(f"warning: {note}")
    if res.new_units:
        print(f"new units ({len(res.new_units)}): {_shown(', '.join(res.new_units[:10]))}")
    if res.new_procedures:
        print(f"new procedures: {len(res.new_procedures)}")
    for rej in res.rejections[:20]:
        print(f"rejected {_shown(str(rej))}", file=sys.stderr)
    if res.rejected > 20:
        print(f"… and {res.rejected - 20} more rejected row(s)", file=sys.stderr)
    if res.rejected and res.run_id is not None:
        print(f"Fix them: tthc import --errors {res.run_id} -o rejected-{res.run_id}.csv", file=sys.stderr)


def _load_mapping(path: str | None) -> dict[str, str] | None:
    if not path:
        return None
    import tomllib

    from tracker.ingest.columns import parse_mapping

    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        return parse_mapping(data.get("mapping", data))
    except (OSError, tomllib.TOMLDecodeError, ValueError) as exc:
        raise CliError(f"--mapping {path}: {exc}", 2) from None


def cmd_import(args: argparse.Namespace, settings: Settings) -> int:
    from tracker.export import UnknownRun, export_rejected
    from tracker.ingest import import_file

    if args.errors is not None:
        if not args.output:
            raise CliError("--errors needs -o FILE", 2)
        engine = _engine(settings)
        try:
            n = export_rejected(engine, args.errors, args.output)
        except UnknownRun as exc:
            raise CliError(str(exc)) from None
        except OSError as exc:
            raise CliError(f"-o {args.output}: {exc.strerror or exc}") from None
        print(f"{n} rejected row(s) of run {args.errors} written to {args.output}")
        return 0
    if bool(args.path) == bool(args.source):
        raise CliError("give a file or URL to import, or --source NAME (not both)", 2)
    mapping = _load_mapping(args.mapping)
    engine = _engine(settings)
    _fresh(engine, settings)
    if args.source or args.path.startswith(("http://", "https://")):
        return _import_source(engine, settings, args, mapping)
    path = Path(args.path)
    if not path.is_file():
        raise CliError(f"{args.path}: no such file")
    progress = None
    if sys.stderr.isatty():
        import time

        started = time.monotonic()

        def progress(n: int) -> None:
            rate = n / max(time.monotonic() - started, 1e-6)
            print(f"\r{path.name}: {n:>12,} rows  {rate:>9,.0f} rows/s", end="", file=sys.stderr, flush=True)
    res = import_file(engine, settings, path, fmt=args.format, dry_run=args.dry_run, strict=args.strict,
                      mapping=mapping, progress=progress)
    if progress:
        print(file=sys.stderr)
    _print_import(res)
    return res.exit_code


def _import_source(engine: Engine, settings: Settings, args: argparse.Namespace, mapping) -> int:  # noqa: ANN001
    import tempfile

    from tracker.ingest.sources import SourceError, parse_sources, run_source, run_url_source

    if args.dry_run or args.strict or mapping:
        raise CliError("--dry-run, --strict and --mapping apply to files; download the file first", 2)
    try:
        if args.source:
            run = run_source(engine, settings, args.source, workdir=settings.var_dir / "downloads")
            results, code = run.results, run.exit_code
        else:
            spec = parse_sources([{"name": "url", "kind": "url", "url": args.path,
                                   **({"format": args.format} if args.format else {})}])[0]
            with tempfile.TemporaryDirectory() as tmp:
                results = run_url_source(engine, settings, spec, workdir=tmp)
            code = max((r.exit_code for r in results), default=0, key=lambda c: (c == 1, c))
    except (SourceError, ValueError) as exc:
        raise CliError(str(exc)) from None
    if not results:
        print("nothing new to import")
    for res in results:
        _print_import(res)
    return code


def cmd_export(args: argparse.Namespace, settings: Settings) -> int:
    from tracker.export import export_dossiers, write_dossiers

    engine = _engine(settings)
    _known_unit(engine, args.unit)
    if args.output == "-":
        n = write_dossiers(engine, sys.stdout, unit_code=args.unit)
    else:
        try:
            n = export_dossiers(engine, args.output, unit_code=args.unit)
        except OSError as exc:
            raise CliError(f"-o {args.output}: {exc.strerror or exc}") from None
        print(f"{n} dossier(s) written to {args.output}")
    return 0


def cmd_catalogue(args: argparse.Namespace, settings: Settings) -> int:
    from tracker.ingest import FileRejected, import_procedures, import_units

    engine = _engine(settings)
    fn = import_units if args.command == "units" else import_procedures
    try:
        res = fn(engine, args.path)
    except (FileRejected, OSError) as exc:
        raise CliError(str(exc)) from None
    print(f"{res.file}: {res.rows_read} read, {res.inserted} inserted, {res.updated} updated, "
          f"{res.unchanged} unchanged, {len(res.rejected)} rejected")
    if res.versions:
        print(f"{res.versions} time-limit version(s) added or corrected; {res.marked} dossier(s) of those "
              "procedures to derive again")
    for r in res.rejected[:20]:
        print(f"rejected {r}", file=sys.stderr)
    if args.command == "procedures":
        _fresh(engine, settings)
    return res.exit_code


def cmd_refresh(args: argparse.Namespace, settings: Settings) -> int:
    from tracker.derive import refresh_derived

    engine = _engine(settings)
    n = refresh_derived(engine, settings.work_calendar(), settings.rule_settings(),
                        settings.fingerprint(), all_rows=args.all)
    print(f"{n} dossier(s) recomputed")
    from tracker.outlook import refresh_outlook

    print(f"{refresh_outlook(engine, settings)} open dossier(s): predicted lateness and time in status stored")
    return 0


def cmd_demo(args: argparse.Namespace, settings: Settings) -> int:
    from tracker.demo_setup import run_demo

    return run_demo(settings, serve=not args.no_serve, per_month=args.per_month)


# ----- parser -------------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="tthc", description="Keep administrative-procedure dossiers on time.")
    p.add_argument("--config", help="settings file (default: $TTHC_CONFIG, else ./tthc.toml)")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    s = sub.add_parser("init", help="create or upgrade the database")
    s.set_defaults(func=cmd_init)
    s = sub.add_parser("db", help="database maintenance")
    s.add_argument("action", choices=["upgrade"])
    s.set_defaults(func=cmd_db)

    s = sub.add_parser("due", help="compute a due date on the working calendar, with the reasoning")
    s.add_argument("--received", type=_moment, required=True, help="reception moment, e.g. '2026-02-13 16:30'")
    s.add_argument("--limit", type=_limit, required=True,
                   help="'3 ngày làm việc', '8 giờ làm việc', '15 ngày', 'trong ngày'")
    s.add_argument("--resubmitted", type=_moment, help="supplement resubmitted at (the limit restarts)")
    s.add_argument("--channel", type=int, choices=[1, 2, 3], help="1 in person, 2 online, 3 post")
    s.add_argument("--format", choices=["text", "json"], default="text")
    s.add_argument("--lang", choices=["vi", "en"], default="vi")
    s.set_defaults(func=cmd_due)

    s = sub.add_parser("calendar", help="weekdays off and weekend days worked in a year")
    s.add_argument("--year", type=_year, required=True)
    s.add_argument("--format", choices=["table", "json", "csv"], default="table")
    s.set_defaults(func=cmd_calendar)

    s = sub.add_parser("classify", help="count (or list) dossiers per class at a moment")
    s.add_argument("--as-of", type=_moment, help="the moment (default: now)")
    s.add_argument("--list", action="store_true", help="one row per dossier")
    s.add_argument("--unit", help="only this unit code")
    s.add_argument("--format", choices=["table", "json", "csv"], default="table")
    s.set_defaults(func=cmd_classify)

    s = sub.add_parser("dossier", help="one dossier: class, due and flags explained")
    s.add_argument("code")
    s.add_argument("--as-of", type=_moment)
    s.add_argument("--format", choices=["text", "json"], default="text")
    s.add_argument("--lang", choices=["vi", "en"], default="vi")
    s.set_defaults(func=cmd_dossier)

    s = sub.add_parser("import", help="import a one-stop export (file or URL), or a declared source")
    s.add_argument("path", nargs="?", help="a file, or an http(s) URL")
    s.add_argument("--source", help="a source declared in the settings ([[import.sources]])")
    s.add_argument("--format", choices=FORMATS, help="skip detection from content")
    s.add_argument("--mapping", help="TOML file with a [mapping] table: 'Source label' = 'field'")
    s.add_argument("--dry-run", action="store_true", help="validate and count, write nothing")
    s.add_argument("--strict", action="store_true", help="reject the whole file on any bad row")
    s.add_argument("--errors", type=_bounded(1, 2**31 - 1, "a run id"), metavar="RUN_ID",
                   help="write the rejected rows of a run (with -o)")
    s.add_argument("-o", "--output", help="output file for --errors")
    s.set_defaults(func=cmd_import)

    s = sub.add_parser("export", help="export dossiers in the product's own CSV format")
    s.add_argument("what", choices=["dossiers"])
    s.add_argument("-o", "--output", required=True, help="file to write, or - for standard output")
    s.add_argument("--unit", help="only this unit code")
    s.set_defaults(func=cmd_export)

    for name in ("units", "procedures"):
        s = sub.add_parser(name, help=f"the {name} catalogue")
        s.add_argument("action", choices=["import"])
        s.add_argument("path")
        s.set_defaults(func=cmd_catalogue)

    s = sub.add_parser("refresh", help="recompute due dates and classes after settings change")
    s.add_argument("--all", action="store_true", help="every dossier, not only stale ones")
    s.set_defaults(func=cmd_refresh)

    s = sub.add_parser("demo", help="build a realistic demo province and start the dashboard")
    s.add_argument("--no-serve", action="store_true", help="build the data only")
    s.add_argument("--per-month", type=_bounded(1, 1_000_000, "a number of dossiers"), default=4000,
                   help="dossiers per month (default 4000)")
    s.set_defaults(func=cmd_demo)

    # commands that live beside their subsystem
    from jobs.cli import add_commands as job_commands
    from tracker import figures_cli, ops_cli, predict_cli, report_cli
    from web.cli import add_commands as web_commands

    report_cli.add_commands(sub)
    figures_cli.add_commands(sub)
    ops_cli.add_commands(sub)
    predict_cli.add_commands(sub)
    job_commands(sub)
    web_commands(sub)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        # `tthc check` reports bad settings as one of its checks; `tthc version` needs none
        settings = None if getattr(args, "loads_settings", False) else check_settings(load_settings(args.config))
        code = args.func(args, settings)
        sys.stdout.flush()  # inside the try: a closed pipe is reported here, not at exit
        return code
    except ConfigError as exc:
        print(f"tthc: settings: {exc}", file=sys.stderr)
        return 1
    except CliError as exc:
        print(f"tthc: {exc}", file=sys.stderr)
        return exc.code
    except KeyboardInterrupt:
        print("tthc: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `tthc classify --list | head`: the reader left, nothing is wrong
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    finally:
        while _ENGINES:
            _ENGINES.pop().dispose()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
