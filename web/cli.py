"""`tthc users …` and `tthc serve [--workers N]`, hooked into tracker.cli's parser by `add_commands`."""

from __future__ import annotations

import argparse
import getpass
import socket
import sys

from tracker.cli import _bounded


def add_commands(sub) -> None:  # noqa: ANN001
    s = sub.add_parser("users", help="dashboard users: add, list, token, tokens, revoke")
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
    tk.add_argument("--name", "--label", dest="name", default="", help="what the token is for")
    tk.add_argument("--days", type=_days, help="days it stays valid (default: web.api_token_days, 90)")
    tk.set_defaults(func=cmd_users_token)
    ts = usub.add_parser("tokens", help="a user's API tokens: id, name, created, expires, last used, state")
    ts.add_argument("username")
    ts.set_defaults(func=cmd_users_tokens)
    rv = usub.add_parser("revoke", help="revoke an API token (its id, from `tthc users tokens`)")
    rv.add_argument("token_id", type=_token_id)
    rv.set_defaults(func=cmd_users_revoke)

    if "serve" in sub.choices:  # tracker.cli's own `serve` (no --workers) is still registered
        return
    s = sub.add_parser("serve", help="start the dashboard (development server, or gunicorn with --workers)")
    s.add_argument("--host")
    s.add_argument("--port", type=_port)
    s.add_argument("--workers", type=_bounded(0, 64, "a number of workers"), default=0,
                   help="run gunicorn with N worker processes")
    s.set_defaults(func=cmd_serve)


_port = _bounded(1, 65535, "a port")
_days = _bounded(1, 3650, "a number of days")
_token_id = _bounded(1, 2**31 - 1, "a token id")


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


def _user_id(engine, username: str) -> int:  # noqa: ANN001
    from sqlalchemy import select

    from tracker.cli import CliError
    from tracker.users import User

    with engine.connect() as conn:
        uid = conn.execute(select(User.id).where(User.username == username)).scalar_one_or_none()
    if uid is None:
        raise CliError(f"user '{username}': not found")
    return uid


def cmd_users_token(args: argparse.Namespace, settings) -> int:  # noqa: ANN001
    from tracker.cli import CliError
    from tracker.users import UserError, create_token

    engine = _engine(settings)
    uid = _user_id(engine, args.username)
    days = args.days or settings.get("web.api_token_days")
    try:
        token = create_token(engine, uid, args.name, days=days)
    except UserError as exc:
        raise CliError(str(exc), 2) from None
    print(token)
    print(f"valid {days} day(s); list with 'tthc users tokens {args.username}'", file=sys.stderr)
    return 0


def cmd_users_tokens(args: argparse.Namespace, settings) -> int:  # noqa: ANN001
    from tracker.clock import now_local
    from tracker.users import list_tokens, token_state

    engine = _engine(settings)
    now = now_local()

    def when(v) -> str:  # noqa: ANN001
        return v.strftime("%Y-%m-%d %H:%M") if v else "-"

    tokens = list_tokens(engine, _user_id(engine, args.username))
    if not tokens:
        print(f"user '{args.username}' has no API token")
    for t in tokens:
        print(f"{t['id']}\t{t['name'] or '-'}\tcreated {when(t['created_at'])}\texpires {when(t['expires_at'])}"
              f"\tlast used {when(t['last_used_at'])}\t{token_state(t, now)}")
    return 0


def cmd_users_revoke(args: argparse.Namespace, settings) -> int:  # noqa: ANN001
    from tracker.cli import CliError
    from tracker.users import revoke_token

    if not revoke_token(_engine(settings), args.token_id):
        raise CliError(f"token {args.token_id}: not found or already revoked")
    print(f"token {args.token_id} revoked")
    return 0


def cmd_serve(args: argparse.Namespace, settings) -> int:  # noqa: ANN001
    from tracker.cli import CliError

    host = args.host or settings.get("web.host")
    port = args.port or settings.get("web.port")
    if args.workers:
        print(f"Dashboard: http://{host}:{port}", flush=True)
        if warning := settings.base_url_warning():
            print(warning, file=sys.stderr, flush=True)
        return _gunicorn(settings, host, port, args.workers)
    from werkzeug.serving import make_server

    from web import create_app

    app = create_app(settings)
    try:  # bound here (Werkzeug would print two lines and exit), then announced: what is printed is where it listens
        sock = socket.create_server((host, port), family=socket.AF_INET6 if ":" in host else socket.AF_INET)
    except OSError as exc:
        raise CliError(f"serve: cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    server = make_server(host, port, app, threaded=True, fd=sock.detach())
    print(f"Dashboard: http://{host}:{server.socket.getsockname()[1]}", flush=True)
    try:
        server.serve_forever()
    finally:
        server.server_close()
    return 0


def _gunicorn(settings, host: str, port: int, workers: int) -> int:  # noqa: ANN001
    from gunicorn.app.base import BaseApplication

    class App(BaseApplication):
        def load_config(self) -> None:
            self.cfg.set("bind", f"{host}:{port}")
            self.cfg.set("workers", workers)
            self.cfg.set("threads", 2)
            self.cfg.set("accesslog", None)
            # forwarded headers are believed by web.TrustedProxies (web.trusted_proxies) alone
            self.cfg.set("forwarded_allow_ips", "")

        def load(self):  # noqa: ANN202
            from web import create_app

            return create_app(settings)

    App().run()
    return 0
