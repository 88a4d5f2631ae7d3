"""`tthc users …` and `tthc serve [--workers N]`, hooked into tracker.cli's parser by `add_commands`."""

from __future__ import annotations

import argparse
import getpass
import sys


def add_commands(sub) -> None:  # noqa: ANN001
    s = sub.add_parser("users", help="dashboard users: add, list, token")
    usub = s.add_subparsers(dest="users_action", required=True, metavar="ACTION")
    a = usub.add_parser("add", help="add a user")
    a.add_argument("username")
    a.add_argument("--role", required=True, choices=["admin", "cchc", "unit_head", "reception"])
    a.add_argument("--unit", action="append", default=[], metavar="CODE",
                   help="unit code (unit head: their unit; reception: each unit of the desk)")
    a.add_argument("--name", default="", help="display name")
    a.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    a.set_defaults(func=cmd_users_add)
    li = usub.add_parser("list", help="list users")
    li.set_defaults(func=cmd_users_list)
    tk = usub.add_parser("token", help="create an API token for a user (printed once)")
    tk.add_argument("username")
    tk.add_argument("--label", default="")
    tk.set_defaults(func=cmd_users_token)

    if "serve" in sub.choices:  # tracker.cli's own `serve` (no --workers) is still registered
        return
    s = sub.add_parser("serve", help="start the dashboard (development server, or gunicorn with --workers)")
    s.add_argument("--host")
    s.add_argument("--port", type=int)
    s.add_argument("--workers", type=int, default=0, help="run gunicorn with N worker processes")
    s.set_defaults(func=cmd_serve)


def _engine(settings):  # noqa: ANN001, ANN202
    from tracker.cli import _engine as engine

    return engine(settings)


def cmd_users_add(args: argparse.Namespace, settings) -> int:  # noqa: ANN001
    from tracker.cli import CliError
    from tracker.users import UserError, create_user

    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = getpass.getpass("Password: ")
        if getpass.getpass("Again: ") != password:
            raise CliError("passwords differ")
    try:
        create_user(_engine(settings), args.username, args.role, password, unit_codes=args.unit,
                    display_name=args.name)
    except UserError as exc:
        raise CliError(str(exc)) from None
    print(f"user '{args.username}' added ({args.role}{': ' + ', '.join(args.unit) if args.unit else ''})")
    return 0


def cmd_users_list(args: argparse.Namespace, settings) -> int:  # noqa: ANN001
    from tracker.users import list_users

    for u in list_users(_engine(settings)):
        state = "" if u["active"] else " (inactive)"
        print(f"{u['username']}\t{u['role']}\t{','.join(u['units'])}{state}")
    return 0


def cmd_users_token(args: argparse.Namespace, settings) -> int:  # noqa: ANN001
    from sqlalchemy import select

    from tracker.cli import CliError
    from tracker.users import User, create_token

    engine = _engine(settings)
    with engine.connect() as conn:
        uid = conn.execute(select(User.id).where(User.username == args.username)).scalar_one_or_none()
    if uid is None:
        raise CliError(f"user '{args.username}': not found")
    print(create_token(engine, uid, args.label))
    return 0


def cmd_serve(args: argparse.Namespace, settings) -> int:  # noqa: ANN001
    host = args.host or settings.get("web.host")
    port = args.port or settings.get("web.port")
    print(f"Dashboard: http://{host}:{port}", flush=True)
    if args.workers and args.workers > 0:
        if warning := settings.base_url_warning():
            print(warning, file=sys.stderr, flush=True)
        return _gunicorn(settings, host, port, args.workers)
    from web import create_app

    create_app(settings).run(host=host, port=port, debug=False, use_reloader=False)
    return 0


def _gunicorn(settings, host: str, port: int, workers: int) -> int:  # noqa: ANN001
    from gunicorn.app.base import BaseApplication

    class App(BaseApplication):
        def load_config(self) -> None:
            self.cfg.set("bind", f"{host}:{port}")
            self.cfg.set("workers", workers)
            self.cfg.set("threads", 2)
            self.cfg.set("accesslog", None)
            self.cfg.set("forwarded_allow_ips", "127.0.0.1")

        def load(self):  # noqa: ANN202
            from web import create_app

            return create_app(settings)

    App().run()
    return 0
