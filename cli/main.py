"""`tthc`: the parser and `main` (the console script; also `python -m cli`).

Each group of commands lives in its own module and registers itself with `add_commands(sub)`;
`main` loads the settings, runs the command and turns what went wrong into a one-line message.

Exit codes: 0 done; 1 an error (bad settings, a rejected file, a database not initialised);
2 a usage error; 3 an import that stored some rows and rejected others.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from cli import data, database, demo, dossiers, figures, ops, predict, reports, rules, scheduler, serve, users
from cli.common import CliError, dispose_engines
from tracker.config import ConfigError, load_settings
from tracker.settings_check import check_settings

# in the order `tthc --help` lists them
GROUPS = (database, rules, dossiers, data, demo, reports, figures, ops, predict, scheduler, users, serve)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="tthc", description="Keep administrative-procedure dossiers on time.")
    p.add_argument("--config", help="settings file (default: $TTHC_CONFIG, else ./tthc.toml)")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for group in GROUPS:
        group.add_commands(sub)
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
        dispose_engines()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
