"""`tthc backup`, `tthc restore`, `tthc check`, `tthc version`: running the product (docs/deploy.md).

Registered on cli.main's parser by `add_commands`."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from cli.common import CliError, open_engine
from tracker.config import ConfigError, Settings, load_settings
from tracker.settings_check import check_settings


def add_commands(sub) -> None:  # noqa: ANN001
    s = sub.add_parser("backup", help="a consistent backup of the database (SQLite backup API, or pg_dump)")
    s.add_argument("-o", "--output", metavar="FILE",
                   help="file to write (default: <backup.dir>/tthc-<date>T<time>.sqlite3 or .pgdump)")
    s.set_defaults(func=cmd_backup)

    s = sub.add_parser("restore", help="restore a backup into an empty database")
    s.add_argument("file", help="a file 'tthc backup' wrote")
    s.add_argument("--force", action="store_true", help="replace what a non-empty database holds")
    s.set_defaults(func=cmd_restore)

    s = sub.add_parser("check", help="is everything in order? one line per check, exit 1 on any failure")
    s.add_argument("--format", choices=["text", "json"], default="text")
    s.set_defaults(func=cmd_check, loads_settings=True)

    s = sub.add_parser("version", help="the installed version")
    s.set_defaults(func=cmd_version, loads_settings=True)


def cmd_backup(args: argparse.Namespace, settings: Settings) -> int:
    from tracker.backup import BackupError, backup, backup_dir, default_name
    from tracker.clock import now_local

    open_engine(settings)  # a reachable, migrated database, or a clear error
    url = settings.get("database.url")
    out = Path(args.output) if args.output else backup_dir(settings) / default_name(url, now_local())
    if not args.output:
        out.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        res = backup(url, out)
    except BackupError as exc:
        raise CliError(str(exc)) from None
    print(f"Backup written: {res.describe()} in {res.seconds:.1f} s")
    return 0


def cmd_restore(args: argparse.Namespace, settings: Settings) -> int:
    from tracker.backup import BackupError, restore
    from tracker.db import head_revision, is_current, make_engine

    url = settings.get("database.url")
    try:
        rows = restore(url, Path(args.file), force=args.force)
    except BackupError as exc:
        raise CliError(str(exc)) from None
    print(f"Restored {args.file}: " + ", ".join(f"{t} {n}" for t, n in sorted(rows.items()) if n))
    engine = make_engine(url)
    try:
        if not is_current(engine):
            print(f"The backup's schema is older than this version's ({head_revision()}): run 'tthc db upgrade'.")
    finally:
        engine.dispose()
    return 0


def cmd_check(args: argparse.Namespace, _settings: Settings | None) -> int:
    from tracker.clock import now_local
    from tracker.health import Check, failed, run_checks, version

    try:
        settings = check_settings(load_settings(args.config))
    except ConfigError as exc:
        checks = [Check("settings", "fail", str(exc))]
    else:
        where = settings.source or "defaults and environment"
        checks = [Check("settings", "ok", f"valid ({where})")]
        checks += _run(settings, run_checks, now_local())
    if args.format == "json":
        json.dump({"version": version(), "ok": not failed(checks), "checks": [c.as_dict() for c in checks]},
                  sys.stdout, ensure_ascii=False, indent=2)
        print()
    else:
        for c in checks:
            print(c.line())
    return 1 if failed(checks) else 0


def _run(settings: Settings, run_checks, now) -> list:  # noqa: ANN001
    from jobs.delivery import SmtpTransport
    from tracker.calendar_days import attach
    from tracker.db import make_engine

    engine = make_engine(settings.get("database.url"))
    try:
        attach(settings, engine)
        return run_checks(engine, settings, now, smtp_connect=SmtpTransport(settings).connect)
    finally:
        engine.dispose()


def cmd_version(args: argparse.Namespace, _settings: Settings | None) -> int:
    from tracker.health import version

    print(f"tthc {version()}")
    return 0
