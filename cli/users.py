"""`tthc users add|list|token|tokens|revoke`: the dashboard's users and their API tokens."""

from __future__ import annotations

import argparse
import getpass
import sys

from cli.common import CliError, bounded, open_engine


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


_days = bounded(1, 3650, "a number of days")
_token_id = bounded(1, 2**31 - 1, "a token id")


def cmd_users_add(args: argparse.Namespace, settings) -> int:  # noqa: ANN001
    from tracker.users import UserError, create_user

    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = getpass.getpass("Password: ")
        if getpass.getpass("Again: ") != password:
            raise CliError("passwords differ")
    try:
        create_user(open_engine(settings), args.username, args.role, password, unit_codes=args.unit,
                    display_name=args.name)
    except UserError as exc:
        raise CliError(str(exc)) from None
    print(f"user '{args.username}' added ({args.role}{': ' + ', '.join(args.unit) if args.unit else ''})")
    return 0


def cmd_users_list(args: argparse.Namespace, settings) -> int:  # noqa: ANN001
    from tracker.users import list_users

    for u in list_users(open_engine(settings)):
        state = "" if u["active"] else " (inactive)"
        print(f"{u['username']}\t{u['role']}\t{','.join(u['units'])}{state}")
    return 0


def _user_id(engine, username: str) -> int:  # noqa: ANN001
    from sqlalchemy import select

    from tracker.users import User

    with engine.connect() as conn:
        uid = conn.execute(select(User.id).where(User.username == username)).scalar_one_or_none()
    if uid is None:
        raise CliError(f"user '{username}': not found")
    return uid


def cmd_users_token(args: argparse.Namespace, settings) -> int:  # noqa: ANN001
    from tracker.users import UserError, create_token

    engine = open_engine(settings)
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

    engine = open_engine(settings)
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
    from tracker.users import revoke_token

    if not revoke_token(open_engine(settings), args.token_id):
        raise CliError(f"token {args.token_id}: not found or already revoked")
    print(f"token {args.token_id} revoked")
    return 0
