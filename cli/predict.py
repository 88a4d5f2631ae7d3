"""`tthc predict`: the predicted-lateness commands.

    tthc predict backtest --from D --to D [--at HH:MM] [--now T] [--format table|json]
    tthc predict refresh                       (what `tthc refresh` also does)

The backtest predicts each working day of the period at `--at` (default: the digest time) from
only what was known then, and scores the warnings against what happened by `--now` (default: the
latest moment in the data): precision, recall, Brier score and median lead time, for warnings
raised at least 3 working days before the due, beside the same for the fixed 8-hour at-risk rule.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict
from datetime import time

from cli.common import CliError, moment, open_engine, parse_day, refresh_if_stale
from tracker.config import Settings


def _time(text: str) -> time:
    try:
        return time.fromisoformat(text.strip())
    except ValueError:
        raise CliError(f"--at: '{text}' is not a time: expected HH:MM", 2) from None


def cmd_predict(args: argparse.Namespace, settings: Settings) -> int:
    engine = open_engine(settings)
    refresh_if_stale(engine, settings)
    if args.action == "refresh":
        from tracker.outlook import refresh_outlook

        print(f"{refresh_outlook(engine, settings)} open dossier(s): outlook stored")
        return 0
    from tracker.predict import backtest

    if not args.start or not args.end:
        raise CliError("predict backtest: --from and --to are required", 2)
    start, end = parse_day(args.start, "--from"), parse_day(args.end, "--to")
    if end < start:
        raise CliError(f"--to {end} is before --from {start}", 2)
    rules = settings.rule_settings()
    bt = backtest(engine, settings.work_calendar(), rules.comparison, rules.at_risk_hours, start, end,
                  at=_time(args.at) if args.at else settings.get("digest.time"),
                  min_history=settings.get("predict.min_history"), months=settings.get("predict.history_months"),
                  threshold=settings.get("predict.threshold"), now=args.now)
    if args.format == "json":
        out = asdict(bt)
        out["start"], out["end"] = str(bt.start), str(bt.end)
        json.dump(out, sys.stdout, ensure_ascii=False, indent=2)
        print()
    else:
        print("\n".join(bt.lines()))
    return 0


def add_commands(sub) -> None:  # noqa: ANN001
    s = sub.add_parser("predict", help="predicted lateness: refresh it, or measure it on past days")
    s.add_argument("action", choices=["backtest", "refresh"])
    s.add_argument("--from", dest="start", help="first day of the backtest (YYYY-MM-DD)")
    s.add_argument("--to", dest="end", help="last day of the backtest")
    s.add_argument("--at", help="time of day each prediction is made (default: digest.time)")
    s.add_argument("--now", type=moment, help="what happened is judged as known at this moment "
                                                    "(default: the latest moment in the data)")
    s.add_argument("--format", choices=["table", "json"], default="table")
    s.set_defaults(func=cmd_predict)
