"""The stored dossiers: `tthc import` (a file, a URL or a declared source, and the rejected rows of
a run), `tthc export dossiers`, the `units` and `procedures` catalogues, and `tthc refresh`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from sqlalchemy import Engine

from cli.common import CliError, bounded, known_unit, open_engine, print_import, refresh_if_stale
from tracker.config import Settings
from tracker.ingest.readers import FORMATS


def add_commands(sub) -> None:  # noqa: ANN001
    s = sub.add_parser("import", help="import a one-stop export (file or URL), or a declared source")
    s.add_argument("path", nargs="?", help="a file, or an http(s) URL")
    s.add_argument("--source", help="a source declared in the settings ([[import.sources]])")
    s.add_argument("--format", choices=FORMATS, help="skip detection from content")
    s.add_argument("--mapping", help="TOML file with a [mapping] table: 'Source label' = 'field'")
    s.add_argument("--dry-run", action="store_true", help="validate and count, write nothing")
    s.add_argument("--strict", action="store_true", help="reject the whole file on any bad row")
    s.add_argument("--errors", type=bounded(1, 2**31 - 1, "a run id"), metavar="RUN_ID",
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


def load_mapping(path: str | None) -> dict[str, str] | None:
    """--mapping FILE: a TOML [mapping] table of 'Source label' = 'field', checked like the setting."""
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
        engine = open_engine(settings)
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
    mapping = load_mapping(args.mapping)
    engine = open_engine(settings)
    refresh_if_stale(engine, settings)
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
    print_import(res)
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
        print_import(res)
    return code


def cmd_export(args: argparse.Namespace, settings: Settings) -> int:
    from tracker.export import export_dossiers, write_dossiers

    engine = open_engine(settings)
    known_unit(engine, args.unit)
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

    engine = open_engine(settings)
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
        refresh_if_stale(engine, settings)
    return res.exit_code


def cmd_refresh(args: argparse.Namespace, settings: Settings) -> int:
    from tracker.derive import refresh_derived
    from tracker.outlook import refresh_outlook

    engine = open_engine(settings)
    n = refresh_derived(engine, settings.work_calendar(), settings.rule_settings(),
                        settings.fingerprint(), all_rows=args.all)
    print(f"{n} dossier(s) recomputed")
    print(f"{refresh_outlook(engine, settings)} open dossier(s): predicted lateness and time in status stored")
    return 0
