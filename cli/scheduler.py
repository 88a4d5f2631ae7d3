"""`tthc scheduler` and `tthc digest`: the jobs package's work, run on schedule or by hand.

    tthc scheduler                        the long-running process (one per database)
    tthc scheduler --once digest          one job now, then exit (cron, operators); also refresh,
                                          import (every declared source) and import:NAME
    tthc digest --preview [--unit CODE] [--date D] [--html]
    tthc digest --send [--date D] [--unit CODE] [--retry-unknown]
"""

from __future__ import annotations

import argparse
import logging
import sys
from datetime import date, datetime

from cli.common import CliError, open_engine, print_import
from tracker.config import Settings

ONCE_HELP = "run one job now and exit: digest, refresh, import (every declared source) or import:NAME"


def _date(text: str) -> date:
    from tracker.calendar import OutOfCalendar, check_covered

    for fmt in ("%Y-%m-%d", "%d/%m/%Y"):
        try:
            value = datetime.strptime(text.strip(), fmt).date()
        except ValueError:
            continue
        try:
            check_covered(value.year)
        except OutOfCalendar as exc:
            raise argparse.ArgumentTypeError(f"'{text}': {exc}") from None
        return value
    raise argparse.ArgumentTypeError(f"'{text}' is not a date: expected YYYY-MM-DD or DD/MM/YYYY")


def add_commands(sub) -> None:  # noqa: ANN001
    s = sub.add_parser("scheduler", help="run imports, the refresh and the morning digests on schedule")
    s.add_argument("--once", metavar="JOB", help=ONCE_HELP)
    s.add_argument("--date", type=_date, help="with --once digest: the digest date (default: today)")
    s.set_defaults(func=cmd_scheduler)

    s = sub.add_parser("digest", help="the morning digests of a day: --preview or --send")
    mode = s.add_mutually_exclusive_group(required=True)
    mode.add_argument("--preview", action="store_true", help="render and print them; send nothing")
    mode.add_argument("--send", action="store_true", help="deliver every message not delivered yet")
    s.add_argument("--date", type=_date, help="the digest date, YYYY-MM-DD (default: today)")
    s.add_argument("--unit", metavar="CODE", help="only this unit's digest (no CCHC summary)")
    s.add_argument("--html", action="store_true", help="with --preview: print the HTML part, not the text")
    s.add_argument("--retry-unknown", action="store_true",
                   help="with --send: also resend messages a crash left mid-send (they may arrive twice)")
    s.set_defaults(func=cmd_digest)


def _log_to_stderr(level: int, fmt: str = "plain") -> None:
    """Warnings from every library; the product's own progress (jobs, tracker) at `level`; plain text
    or one JSON object a line (log.format, tracker.logs)."""
    from tracker.logs import configure

    configure(fmt, level, sys.stderr, loggers=("jobs", "tracker"))


# ----- output ------------------------------------------------------------------------------------------


def print_preview(run, *, html: bool = False, out=None, err=None) -> None:  # noqa: ANN001
    """What would be sent: for each digest its recipients, subject and text body. With `html`, only
    the HTML documents go to `out` (`tthc digest --preview --unit X --html > x.html` opens in a
    browser); recipients and subjects go to `err`."""
    out, err = out or sys.stdout, err or sys.stderr
    head = err if html else out
    print(f"# Digests of {run.digest_date:%d/%m/%Y} as of {run.as_of:%H:%M}: {len(run.digests)} email(s)", file=head)
    if run.quiet:
        print(f"# Nothing to report (no email): {', '.join(run.quiet)}", file=head)
    for dg in run.digests:
        print("=" * 78, file=head)
        to = ", ".join(dg.recipients) if dg.recipients else \
            f"(nobody: unit {dg.scope} has no digest recipients — 'Email nhận báo cáo' in the units catalogue)"
        print(f"To: {to}", file=head)
        print(f"Subject: {dg.rendered.subject}", file=head)
        if not html:
            print(file=out)
        out.write(dg.rendered.html if html else dg.rendered.text)


def print_delivery(run, out=None, err=None) -> None:  # noqa: ANN001
    out, err = out or sys.stdout, err or sys.stderr
    d = run.delivery
    print(f"Digest {run.digest_date:%d/%m/%Y}: {len(d.sent)} sent, {len(d.failed)} failed, {len(d.refused)} refused, "
          f"{len(d.skipped)} already sent or being sent by another process", file=out)
    for o in d.sent:
        print(f"sent {o.scope}: {o.recipient}", file=out)
    if run.quiet:
        print(f"nothing to report (no email): {', '.join(run.quiet)}", file=out)
    if run.no_recipients:
        print(f"warning: something to report but no recipients: {', '.join(run.no_recipients)}", file=err)
    for o, error in d.failed:
        print(f"failed {o.scope}: {o.recipient}: {error} (the scheduler retries; or run 'tthc digest --send "
              f"--date {run.digest_date.isoformat()}')", file=err)
    for o, error in d.refused:
        print(f"refused {o.scope}: {o.recipient}: {error}", file=err)
    for o in d.unknown:
        print(f"unknown {o.scope}: {o.recipient}: its delivery was interrupted (lost connection or crash); it may "
              "have arrived. Resend with --retry-unknown", file=err)
    for p in run.problems:
        print(f"warning: {p}", file=err)


# ----- commands ----------------------------------------------------------------------------------------


def cmd_digest(args: argparse.Namespace, settings: Settings) -> int:
    from jobs.digest import DigestError, run_digests
    from tracker.clock import now_local

    if (args.html and not args.preview) or (args.retry_unknown and not args.send):
        raise CliError("--html goes with --preview, --retry-unknown with --send", 2)
    engine = open_engine(settings)
    day = args.date or now_local().date()
    try:
        run = run_digests(engine, settings, day, send=args.send, unit=args.unit, explicit=True,
                          retry_unknown=args.retry_unknown)
    except DigestError as exc:
        raise CliError(str(exc)) from None
    if run.skipped:
        print(run.skipped)
        return 0
    if args.preview:
        print_preview(run, html=args.html)
        for p in run.problems:
            print(f"warning: {p}", file=sys.stderr)
    else:
        print_delivery(run)
    return run.exit_code


def cmd_scheduler(args: argparse.Namespace, settings: Settings) -> int:
    from jobs.scheduler import ONCE_JOBS, SchedulerBusy, run_once, run_scheduler
    from tracker.ingest.sources import SourceError

    if args.date and args.once != "digest":
        raise CliError("--date goes with --once digest", 2)
    if args.once and args.once not in ONCE_JOBS[:3] and not args.once.startswith("import:"):
        raise CliError(f"--once: no job '{args.once}': {ONCE_HELP}", 2)
    _log_to_stderr(logging.WARNING if args.once else logging.INFO, settings.get("log.format"))
    engine = open_engine(settings)
    if not args.once:
        if warning := settings.base_url_warning():
            print(warning, file=sys.stderr)
        try:
            return run_scheduler(engine, settings)
        except SchedulerBusy as exc:
            raise CliError(str(exc)) from None
    try:
        result = run_once(engine, settings, args.once, digest_date=args.date)
    except SourceError as exc:
        raise CliError(str(exc)) from None
    if args.once == "refresh":
        print(f"{result} dossier(s) recomputed")
        return 0
    if args.once == "digest":
        if result.skipped:
            print(result.skipped)
            return 0
        print_delivery(result)
        return result.exit_code
    if not result:
        print("no import sources declared ([[import.sources]] in the settings file)")
    codes = [0]
    for source_run in result:
        if not source_run.results:
            print(f"{source_run.spec.name}: nothing new to import")
        for res in source_run.results:
            print_import(res)
        codes.append(source_run.exit_code)
    return 1 if 1 in codes else max(codes)
