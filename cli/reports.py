"""`tthc report`, `tthc score` and `tthc audit`: the CCHC office's commands.

    tthc report --from 2026-03-01 --to 2026-03-31 [--as-of T] [--by unit|field|procedure|channel|level]
                [--rollup] [--format table|json|csv|xlsx] [-o FILE] [--province NAME]
    tthc score  --from D --to D [--as-of T] [--method biểu06|portal] [--dossiers] [--format table|json] [-o FILE]
    tthc audit  beyond-limit|no-apology|no-due [--from D --to D] [--as-of T] [--detail]
                [--format table|csv|json] [-o FILE]

`add_commands(sub)` registers them on cli.main's subparsers. Dates are YYYY-MM-DD or dd/mm/yyyy;
a bad one is a one-line error with exit code 2. Without --as-of a report is evaluated now, or at
the end of its last day when the period has ended (RULES §6).
"""

from __future__ import annotations

import argparse
import json
from datetime import datetime
from typing import Any

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
from tracker.reports import BY, Report, period_report, vi_number
from tracker.text import strip_accents

BY_LABELS = {"unit": "đơn vị", "field": "lĩnh vực", "procedure": "thủ tục", "channel": "kênh", "level": "cấp"}


def _setting(settings: Settings, key: str, default: Any) -> Any:  # noqa: ANN401
    """A setting that tracker.config may not declare yet (report.province, scoring.rules)."""
    try:
        return settings.get(key)
    except KeyError:
        return default


# ----- report --------------------------------------------------------------------------------------


def _heading(report: Report) -> str:
    mode = "so sánh theo ngày" if report.comparison == "date" else "so sánh theo thời điểm"
    return (f"Kỳ báo cáo {report.start:%d/%m/%Y} – {report.end:%d/%m/%Y}, tính đến "
            f"{report.as_of:%d/%m/%Y %H:%M:%S} ({mode}); theo {BY_LABELS[report.by]}")


def cmd_report(args: argparse.Namespace, settings: Settings) -> int:
    start, end = read_period(args)
    as_of = read_as_of(args)
    if args.rollup and args.by != "unit":
        raise CliError("--rollup applies to --by unit", 2)
    if args.format == "xlsx" and not args.output:
        raise CliError("--format xlsx needs -o FILE.xlsx", 2)
    engine = open_engine(settings)
    refresh_if_stale(engine, settings)
    try:
        report = period_report(engine, settings, start, end, as_of=as_of, by=args.by, rollup=args.rollup)
    except ValueError as exc:
        raise CliError(str(exc), 2) from None
    if args.format == "xlsx":
        from dataclasses import replace

        from tracker.clock import now_local
        from tracker.report_xlsx import FormText, write_report_xlsx

        form = FormText.from_settings(settings, signed_on=now_local().date())
        if args.province is not None:
            form = replace(form, province=args.province)
        try:
            write_report_xlsx(report, args.output, form=form)
        except OSError as exc:
            raise CliError(f"-o {args.output}: {exc.strerror or exc}") from None
        print(f"{len(report.rows)} row(s) and the total written to {args.output}")
        return 0
    with open_output(args.output, bom=args.format == "csv") as out:
        if args.format == "json":
            write_json(report.as_dicts(), out)
        elif args.format == "csv":
            write_rows(report.as_dicts(), "csv", out)
        else:
            out.write(_heading(report) + "\n")
            rows = []
            for r in report.all_rows():
                shown = r.display()
                shown["name"] = "  " * r.depth + r.name
                rows.append(shown)
            write_rows(rows, "table", out)
    return 0


# ----- score ---------------------------------------------------------------------------------------


def _score_row(ln) -> dict[str, str]:  # noqa: ANN001
    points = "-" if ln.points is None else f"{vi_number(ln.points, 2)}/{vi_number(ln.max_points.normalize())}"
    return {"rule": ln.rule, "scope": ln.scope, "name": ln.scope_name, "inputs": f"{ln.numerator}/{ln.denominator}",
            "value": "-" if ln.value is None else f"{vi_number(ln.value, 2)}%", "points": points,
            "explanation": ln.explain()}


def parse_method(text: str) -> str:
    """'portal', or 'biểu06' (also written 'bieu06', 'bieu-06' …): the 766 method to score by."""
    folded = strip_accents(text.strip().lower()).replace("-", "").replace(" ", "")
    if folded in ("portal", "bieu06"):
        return folded
    raise argparse.ArgumentTypeError(f"'{text}' is not a method: expected biểu06 (or bieu06) or portal")


def _portal_json(method: str, units, total, dossiers) -> str:  # noqa: ANN001
    """The portal score as `tthc score --method portal --format json` prints it: compact, fields
    in this order, the score a number with two decimals (or null)."""
    def unit(u) -> str:  # noqa: ANN001
        score = "null" if u.score is None else f"{u.score:.2f}"
        return (f'{{"key":{json.dumps(u.key, ensure_ascii=False)},"received":{u.received},'
                f'"on_time":{u.on_time},"late":{u.late},"score":{score}}}')

    text = f'{{"method":"{method}","units":[{",".join(unit(u) for u in units)}],"total":{unit(total)}'
    if dossiers is not None:
        items = ",".join(f'{{"code":{json.dumps(v.code, ensure_ascii=False)},"verdict":"{v.verdict}",'
                         f'"end_at":"{v.end_at:%Y-%m-%d %H:%M:%S}"}}' for _, _, v in dossiers)
        text += f',"dossiers":[{items}]'
    return text + "}"


def cmd_portal_score(args: argparse.Namespace, settings: Settings) -> int:
    from tracker.portal766 import dossier_verdicts, portal_scores

    start, end = read_period(args)
    as_of = read_as_of(args)
    engine = open_engine(settings)
    refresh_if_stale(engine, settings)
    try:
        units, total = portal_scores(engine, settings, start, end, as_of=as_of)
    except ValueError as exc:
        raise CliError(str(exc), 2) from None
    dossiers = dossier_verdicts(engine, settings, start, end, as_of=as_of) if args.dossiers else None
    total.key = "total"
    with open_output(args.output) as out:
        if args.format == "json":
            out.write(_portal_json("portal", units, total, dossiers) + "\n")
            return 0
        rows = [{"key": u.key, "name": u.name, "received": vi_number(u.received), "on_time": vi_number(u.on_time),
                 "late": vi_number(u.late), "score": vi_number(u.score, 2)} for u in [*units, total]]
        write_rows(rows, "table", out)
        if dossiers is not None:
            write_rows([{"unit": uc, "code": v.code, "verdict": v.verdict,
                               "end_at": f"{v.end_at:%Y-%m-%d %H:%M:%S}", "reason": v.explain("vi")}
                              for uc, _, v in dossiers], "table", out)
    return 0


def cmd_score(args: argparse.Namespace, settings: Settings) -> int:
    from tracker.scoring import parse_rules, score

    if args.method == "portal":
        return cmd_portal_score(args, settings)
    if args.dossiers:
        raise CliError("--dossiers applies to --method portal", 2)
    start, end = read_period(args)
    as_of = read_as_of(args)
    try:
        rules = parse_rules(_setting(settings, "scoring.rules", []))
    except ValueError as exc:
        raise CliError(f"settings: scoring.rules: {exc}") from None
    engine = open_engine(settings)
    refresh_if_stale(engine, settings)
    try:
        lines = score(engine, settings, start, end, as_of, rules)
    except ValueError as exc:
        raise CliError(str(exc), 2) from None
    with open_output(args.output) as out:
        if args.format == "json":
            write_json([line.as_dict() for line in lines], out)
            return 0
        rows = [_score_row(ln) for ln in lines]
        write_rows(rows, "table", out)
        for ln in lines:
            if ln.note:
                out.write(f"{ln.rule}: {ln.note}\n")
        if not rules:
            out.write("(no [[scoring.rules]] in the settings: only the 766 score)\n")
    return 0


# ----- audit ---------------------------------------------------------------------------------------


def _dated(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v.strftime("%Y-%m-%d %H:%M") if isinstance(v, datetime) else v for k, v in r.items()}
            for r in rows]


def cmd_audit(args: argparse.Namespace, settings: Settings) -> int:
    from tracker.audits import run_audit, write_csv

    start, end = read_period(args, required=False)
    as_of = read_as_of(args)
    if args.detail and args.audit != "beyond-limit":
        raise CliError("--detail applies to beyond-limit", 2)
    engine = open_engine(settings)
    refresh_if_stale(engine, settings)
    try:
        rows = run_audit(args.audit, engine, settings, as_of=as_of, start=start, end=end, detail=args.detail)
    except ValueError as exc:
        raise CliError(str(exc), 2) from None
    with open_output(args.output, bom=args.format == "csv") as out:
        if args.format == "csv":
            write_csv(rows, out)
        elif args.format == "json":
            write_json(_dated(rows), out)
        else:
            period = f" {start:%d/%m/%Y} – {end:%d/%m/%Y}" if start and end else ""
            out.write(f"{args.audit}{period}: {len(rows)} row(s)\n")
            write_rows(_dated(rows), "table", out)
    if args.output and args.output != "-":
        print(f"{len(rows)} row(s) written to {args.output}")
    return 0


# ----- parser --------------------------------------------------------------------------------------


def add_commands(sub) -> None:  # noqa: ANN001  (argparse's _SubParsersAction)
    """Register `report`, `score` and `audit` on main's subparsers."""
    s = sub.add_parser("report", help="period report (Biểu 06 / II.06a) per unit, field, procedure, channel or level")
    add_period_args(s, required=True)
    s.add_argument("--by", choices=BY, default="unit", help="one row per … (default: unit)")
    s.add_argument("--rollup", action="store_true", help="by unit: each unit's row counts its whole subtree")
    s.add_argument("--format", choices=["table", "json", "csv", "xlsx"], default="table")
    s.add_argument("-o", "--output", help="write to this file (needed for xlsx)")
    s.add_argument("--province", help="province name for the XLSX title block (default: setting report.province)")
    s.set_defaults(func=cmd_report)

    s = sub.add_parser("score", help="766 progress score per unit and overall, and the [[scoring.rules]]")
    add_period_args(s, required=True)
    s.add_argument("--method", type=parse_method, default="bieu06", metavar="biểu06|portal",
                   help="biểu06 (default): RULES §7 over the Biểu 06 counts; portal: the national portal's "
                        "reading of criterion 2.1 (tracker.portal766)")
    s.add_argument("--dossiers", action="store_true", help="--method portal: each dossier's verdict and end moment")
    s.add_argument("--format", choices=["table", "json"], default="table")
    s.add_argument("-o", "--output", help="write to this file")
    s.set_defaults(func=cmd_score)

    s = sub.add_parser("audit", help="appointments beyond the legal limit, late without apology, no appointment")
    s.add_argument("audit", choices=["beyond-limit", "no-apology", "no-due"])
    add_period_args(s, required=False)
    s.add_argument("--detail", action="store_true", help="beyond-limit: one row per dossier")
    s.add_argument("--format", choices=["table", "csv", "json"], default="table")
    s.add_argument("-o", "--output", help="write to this file (CSV in UTF-8 with a BOM for Excel)")
    s.set_defaults(func=cmd_audit)
