"""`tthc users add|list|token` (cli.users), on SQLite and PostgreSQL; passwords stored hashed."""

from __future__ import annotations

import argparse
import io

import pytest
from sqlalchemy import select

from cli.common import CliError
from cli.users import add_commands
from tracker.db import make_engine
from tracker.ingest import import_units
from tracker.users import ApiToken, User, authenticate, user_for_token


def run(settings, monkeypatch, *argv: str, stdin: str = "") -> None:
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="command", required=True)
    add_commands(sub)
    args = p.parse_args(argv)
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    assert args.func(args, settings) == 0


def test_users_add_list_and_token(settings, engine, no_users, monkeypatch, capsys, tmp_path):
    units = tmp_path / "units.csv"
    units.write_text("Mã đơn vị;Tên đơn vị;Mã đơn vị cha;Cấp\nU1;Sở A;;tinh\nU2;UBND xã B;U1;xa\n", encoding="utf-8")
    import_units(engine, units)
    run(settings, monkeypatch, "users", "add", "lan", "--role", "reception", "--unit", "U2", "--password-stdin",
        stdin="mật khẩu dài\n")
    run(settings, monkeypatch, "users", "add", "boss", "--role", "admin", "--password-stdin", stdin="secret-pass\n")
    with pytest.raises(CliError, match="needs at least one --unit"):
        run(settings, monkeypatch, "users", "add", "x", "--role", "unit_head", "--password-stdin", stdin="12345678\n")
    with pytest.raises(CliError, match="unit 'NOPE': not found"):
        run(settings, monkeypatch, "users", "add", "y", "--role", "unit_head", "--unit", "NOPE", "--password-stdin",
            stdin="12345678\n")
    with pytest.raises(CliError, match="exists already"):
        run(settings, monkeypatch, "users", "add", "lan", "--role", "cchc", "--password-stdin", stdin="12345678\n")
    capsys.readouterr()
    run(settings, monkeypatch, "users", "list")
    out = capsys.readouterr().out
    assert "lan\treception\tU2" in out and "boss\tadmin" in out
    run(settings, monkeypatch, "users", "token", "boss")
    token = capsys.readouterr().out.strip()
    e = make_engine(settings.get("database.url"))
    with e.connect() as conn:
        stored = conn.execute(select(User.password_hash).where(User.username == "lan")).scalar_one()
        assert "mật khẩu" not in stored and stored.startswith(("scrypt:", "pbkdf2:"))
        assert token not in conn.execute(select(ApiToken.token_hash)).scalar_one()
    assert authenticate(e, "lan", "mật khẩu dài")["role"] == "reception"
    assert authenticate(e, "lan", "wrong") is None and authenticate(e, "ghost", "x") is None
    assert user_for_token(e, token)["username"] == "boss"
    e.dispose()
