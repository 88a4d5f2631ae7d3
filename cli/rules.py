"""`tthc due` and `tthc calendar`: the working calendar and the due-date rules, no database needed
(the decreed days admins entered are used when the database exists)."""

from __future__ import annotations

import argparse
import json
import sys

from cli.common import CliError, entered_days, moment, moment_text, time_limit, write_rows, year
from tracker.config import Settings


def add_commands(sub) -> None:  # noqa: ANN001
    s = sub.add_parser("due", help="compute a due date on the working calendar, with the reasoning")
    s.add_argument("--received", type=moment, required=True, help="reception moment, e.g. '2026-02-13 16:30'")
    s.add_argument("--limit", type=time_limit, required=True,
                   help="'3 ngày làm việc', '8 giờ làm việc', '15 ngày', 'trong ngày'")
    s.add_argument("--resubmitted", type=moment, help="supplement resubmitted at (the limit restarts)")
    s.add_argument("--channel", type=int, choices=[1, 2, 3], help="1 in person, 2 online, 3 post")
    s.add_argument("--format", choices=["text", "json"], default="text")
    s.add_argument("--lang", choices=["vi", "en"], default="vi")
    s.set_defaults(func=cmd_due)

    s = sub.add_parser("calendar", help="weekdays off and weekend days worked in a year")
    s.add_argument("--year", type=year, required=True)
    s.add_argument("--format", choices=["table", "json", "csv"], default="table")
    s.set_defaults(func=cmd_calendar)


def cmd_due(args: argparse.Namespace, settings: Settings) -> int:
    from tracker.calendar import OutOfCalendar
    from tracker.rules import explain_due

    limit = args.limit
    entered_days(settings)
    cal, rules = settings.work_calendar(), settings.rule_settings()
    try:
        ex = explain_due(cal, args.received, limit, resubmitted_at=args.resubmitted, channel=args.channel,
                         rules=rules, lang=args.lang)
    except OutOfCalendar as exc:
        raise CliError(f"due: {exc}", 2) from None
    if args.format == "json":
        json.dump({"received_at": moment_text(args.received), "limit": {"value": limit.value, "unit": limit.unit},
                   "due_at": moment_text(ex.due), "steps": ex.lines(args.lang)}, sys.stdout, ensure_ascii=False,
                  indent=2)
        print()
    else:
        print(ex.due.strftime("%Y-%m-%d %H:%M"))
        for line in ex.lines(args.lang):
            print(f"  {line}")
    return 0


def cmd_calendar(args: argparse.Namespace, settings: Settings) -> int:
    entered_days(settings)
    cal = settings.work_calendar()
    rows = [{"date": e.date.isoformat(), "weekday": e.date.strftime("%a"),
             "kind": e.kind, "reason": e.reason} for e in cal.year_days(args.year)]
    if args.format == "table":
        print(f"{args.year}: {sum(r['kind'] == 'off' for r in rows)} weekday(s) off, "
              f"{sum(r['kind'] == 'work' for r in rows)} weekend day(s) worked")
    write_rows(rows, args.format)
    return 0
