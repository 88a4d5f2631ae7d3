"""`tthc classify` and `tthc dossier`: the classes of the dossiers at a moment, and one dossier
explained (tracker.explain)."""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter

from cli.common import CliError, known_unit, moment, moment_text, open_engine, refresh_if_stale, shown, write_rows
from tracker.config import Settings
from tracker.rules import CLASSES


def add_commands(sub) -> None:  # noqa: ANN001
    s = sub.add_parser("classify", help="count (or list) dossiers per class at a moment")
    s.add_argument("--as-of", type=moment, help="the moment (default: now)")
    s.add_argument("--list", action="store_true", help="one row per dossier")
    s.add_argument("--unit", help="only this unit code")
    s.add_argument("--format", choices=["table", "json", "csv"], default="table")
    s.set_defaults(func=cmd_classify)

    s = sub.add_parser("dossier", help="one dossier: class, due and flags explained")
    s.add_argument("code")
    s.add_argument("--as-of", type=moment)
    s.add_argument("--format", choices=["text", "json"], default="text")
    s.add_argument("--lang", choices=["vi", "en"], default="vi")
    s.set_defaults(func=cmd_dossier)


def cmd_classify(args: argparse.Namespace, settings: Settings) -> int:
    from tracker.clock import now_local
    from tracker.derive import classify_row
    from tracker.queries import dossier_rows, limit_versions

    engine = open_engine(settings)
    known_unit(engine, args.unit)
    refresh_if_stale(engine, settings)
    as_of = args.as_of or now_local()
    cal, rules = settings.work_calendar(), settings.rule_settings()
    counts: Counter[str] = Counter()
    listing = []
    limits = limit_versions(engine)
    for r in dossier_rows(engine, unit=args.unit):
        c, _ = classify_row(r, as_of, cal, rules, limits)
        counts[c.cls] += 1
        if args.list:
            listing.append({"code": r["code"], "class": c.cls, "due_used": moment_text(c.due_used),
                            "computed_due": moment_text(c.computed_due), "flags": ",".join(c.flags)})
    if args.list:
        write_rows(listing, args.format)
        return 0
    rows = [{"class": k, "count": counts.get(k, 0)} for k in CLASSES]
    if args.format == "json":
        json.dump({"as_of": moment_text(as_of), "counts": {r["class"]: r["count"] for r in rows},
                   "total": sum(counts.values())}, sys.stdout, indent=2)
        print()
    else:
        if args.format == "table":
            print(f"As of {as_of:%Y-%m-%d %H:%M}, {sum(counts.values())} dossier(s)")
        write_rows(rows, args.format)
    return 0


def cmd_dossier(args: argparse.Namespace, settings: Settings) -> int:
    from tracker.clock import now_local
    from tracker.explain import explain_dossier

    if not args.code.strip():
        raise CliError("dossier: the code is empty", 2)
    engine = open_engine(settings)
    refresh_if_stale(engine, settings)
    ex = explain_dossier(engine, settings, args.code, args.as_of or now_local(), args.lang)
    if ex is None:
        raise CliError(f"dossier '{args.code}': not found")
    r, c = ex.row, ex.classification
    info = {
        "code": r["code"], "unit": f"{r['unit_code']} {r['unit_name']}",
        "procedure": f"{r['procedure_code'] or ''} {r['procedure_name'] or ''}".strip(),
        "status": r["status"], "channel": r["channel"], "as_of": moment_text(ex.as_of), "class": c.cls,
        "received_at": moment_text(r["received_at"]), "due_at (recorded)": moment_text(r["due_at"]),
        "computed_due": moment_text(c.computed_due), "due_used": moment_text(c.due_used),
        "rescheduled_due_at": moment_text(r["rescheduled_due_at"]), "apology_at": moment_text(r["apology_at"]),
        "finish_moment": moment_text(c.finish_moment),
        "limit": ex.limit_text,
        "working_hours_left": None if c.working_hours_left is None else round(c.working_hours_left, 2),
        "flags": list(c.flags),
        "excess_hours": None if c.excess_hours is None else round(c.excess_hours, 2),
        "due_explained": ex.due_steps,
    }
    info = {k: [shown(s) for s in v] if isinstance(v, list) else shown(v) for k, v in info.items()}
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
