"""`tthc portal-figures`: the national portal's published 766 figures, stored and set beside ours.

    tthc portal-figures import FILE                       # CSV or XLSX: unit code, period, received, on time, score
    tthc portal-figures compare --from D --to D [--as-of T] [--format table|json] [-o FILE]

An import stores every row or none: each bad row is printed with file, line, column and value, and
the exit code is 1. `compare` lists per unit and published period ours by Biểu 06 and by the
portal's method, the published figures, the gap and the dossiers that explain it
(tracker.portal_figures); a gap nothing explains says "chưa giải thích được".
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from cli.common import (
    CliError,
    add_period_args,
    open_engine,
    open_output,
    read_as_of,
    read_period,
    refresh_if_stale,
    write_json,
    write_rows,
)
from tracker.config import Settings
from tracker.reports import vi_number

STATUS_TEXT = {"match": "khớp", "explained": "giải thích được", "unexplained": "chưa giải thích được",
               "not_published": "chưa có số liệu công bố"}


def cmd_import(args: argparse.Namespace, settings: Settings) -> int:
    from tracker.ingest.base import FileRejected
    from tracker.portal_figures import FiguresRejected, import_figures

    path = Path(args.path)
    if not path.is_file():
        raise CliError(f"{args.path}: no such file")
    engine = open_engine(settings)
    try:
        res = import_figures(engine, path)
    except FiguresRejected as exc:
        for problem in exc.problems:
            print(f"rejected {problem}", file=sys.stderr)
        raise CliError(f"{path.name}: {len(exc.problems)} problem(s); nothing stored") from None
    except FileRejected as exc:
        raise CliError(f"{exc}; nothing stored") from None
    print(f"{res.file}: {res.rows} figure(s) stored, {res.inserted} new, {res.replaced} replaced")
    for note in res.skipped[:5]:
        print(f"skipped {note}")
    return 0


def _fig(f) -> str:  # noqa: ANN001
    if f is None:
        return "-"
    return f"{f.received}/{f.on_time}/{vi_number(f.score, 2)}"


def _gap(r) -> str:  # noqa: ANN001
    g = r.gap
    if g is None:
        return "-"
    return f"{g.received:+d}/{g.on_time:+d}/" + ("-" if g.score is None else f"{g.score:+.2f}".replace(".", ","))


def cmd_compare(args: argparse.Namespace, settings: Settings) -> int:
    from tracker.portal_figures import reconcile

    start, end = read_period(args)
    as_of = read_as_of(args)
    engine = open_engine(settings)
    refresh_if_stale(engine, settings)
    try:
        rec = reconcile(engine, settings, start, end, as_of=as_of)
    except ValueError as exc:
        raise CliError(str(exc), 2) from None
    with open_output(args.output) as out:
        if args.format == "json":
            write_json(rec.as_dict(), out)
            return 0
        if not rec.periods:
            out.write(f"no published figures for periods within {start:%d/%m/%Y} – {end:%d/%m/%Y} "
                      "(tthc portal-figures import FILE)\n")
            return 0
        out.write("received/on time/score; gap = published − ours by the portal's method\n")
        rows = []
        for r in rec.rows:
            left = r.unexplained
            rows.append({
                "unit": r.unit, "period": f"{r.start:%d/%m/%Y}–{r.end:%d/%m/%Y}", "bieu06": _fig(r.bieu06),
                "portal_method": _fig(r.portal_method), "published": _fig(r.published), "gap": _gap(r),
                "explained_by": len(r.explained_by),
                "unexplained": "-" if left is None else f"{left[0]:+d}/{left[1]:+d}",
                "status": STATUS_TEXT[r.status]})
        write_rows(rows, "table", out)
        for r in rec.rows:
            for e in r.explained_by[:20]:
                out.write(f"{r.unit} {r.start:%m/%Y}: {e.code} {e.kind} (portal {e.portal or '-'}, "
                          f"Biểu 06 {e.bieu06 or '-'}) {e.reason}\n")
    return 0


def add_commands(sub) -> None:  # noqa: ANN001
    s = sub.add_parser("portal-figures", help="the portal's published 766 figures: import, compare with ours")
    acts = s.add_subparsers(dest="action", required=True, metavar="ACTION")
    a = acts.add_parser("import", help="store a CSV or XLSX of published figures (all rows or none)")
    a.add_argument("path")
    a.set_defaults(func=cmd_import)
    a = acts.add_parser("compare", help="ours (both methods), the portal's, the gap and the dossiers behind it")
    add_period_args(a, required=True)
    a.add_argument("--format", choices=["table", "json"], default="table")
    a.add_argument("-o", "--output", help="write to this file")
    a.set_defaults(func=cmd_compare)
