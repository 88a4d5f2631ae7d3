"""Who may see what: dashboard users, their units, and API tokens.

Roles (RULES: every query is scoped on the server):
- admin: everything, plus user and unit administration;
- cchc: the administrative-reform office, every unit (CCHC officer);
- unit_head: their unit(s) and every unit below in the tree (lãnh đạo đơn vị);
- reception: the units of their one-stop desk, exactly (cán bộ Một cửa).
Unit heads and reception officers are tied to units by `user_unit` rows. Passwords and API tokens
are stored hashed only.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime

from sqlalchemy import Engine, delete, select, update
from sqlmodel import Field, SQLModel
from werkzeug.security import check_password_hash, generate_password_hash

from tracker.clock import now_local
from tracker.models import Moment, Unit

ROLES = ("admin", "cchc", "unit_head", "reception")
ALL_UNITS_ROLES = frozenset({"admin", "cchc"})
PERSONAL_DATA_ROLES = frozenset({"admin", "reception"})  # see applicants' names and phones unmasked


class User(SQLModel, table=True):
    __tablename__ = "app_user"

    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(max_length=100, unique=True)
    password_hash: str = Field(max_length=300)
    role: str = Field(max_length=20)
    display_name: str = Field(default="", max_length=200)
    active: bool = True
    created_at: datetime = Moment(default_factory=now_local)


class UserUnit(SQLModel, table=True):
    """A unit head's unit (with its subtree) or a unit of a reception officer's desk."""

    __tablename__ = "user_unit"

    user_id: int = Field(foreign_key="app_user.id", primary_key=True)
    unit_id: int = Field(foreign_key="unit.id", primary_key=True)


class ApiToken(SQLModel, table=True):
    """A token for /api/v1, acting as its user (same scope). Only the SHA-256 is stored."""

    __tablename__ = "api_token"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="app_user.id", index=True)
    token_hash: str = Field(max_length=64, unique=True)
    label: str = Field(default="", max_length=200)
    created_at: datetime = Moment(default_factory=now_local)
    last_used_at: datetime | None = Moment(default=None)


class UserError(ValueError):
    pass


def hash_password(password: str) -> str:
    return generate_password_hash(password)


def create_user(engine: Engine, username: str, role: str, password: str, *, unit_codes: list[str] = (),
                display_name: str = "") -> int:
    """Add a user; unit codes tie a unit head or reception officer to their units."""
    username = username.strip()
    if not username:
        raise UserError("username: empty")
    if role not in ROLES:
        raise UserError(f"role '{role}': expected one of {', '.join(ROLES)}")
    if len(password) < 8:
        raise UserError("password: at least 8 characters")
    if role in ALL_UNITS_ROLES and unit_codes:
        raise UserError(f"role '{role}' sees every unit: --unit does not apply")
    if role not in ALL_UNITS_ROLES and not unit_codes:
        raise UserError(f"role '{role}' needs at least one --unit CODE")
    with engine.begin() as conn:
        if conn.execute(select(User.id).where(User.username == username)).first():
            raise UserError(f"user '{username}': exists already")
        unit_ids = []
        for code in unit_codes:
            uid = conn.execute(select(Unit.id).where(Unit.code == code)).scalar_one_or_none()
            if uid is None:
                raise UserError(f"unit '{code}': not found")
            unit_ids.append(uid)
        user_id = conn.execute(User.__table__.insert().values(
            username=username, password_hash=hash_password(password), role=role,
            display_name=display_name or username, active=True, created_at=now_local())).inserted_primary_key[0]
        for uid in dict.fromkeys(unit_ids):
            conn.execute(UserUnit.__table__.insert().values(user_id=user_id, unit_id=uid))
    return user_id


def authenticate(engine: Engine, username: str, password: str) -> dict | None:
    """The user row when the password matches an active user, else None (same work either way)."""
    with engine.connect() as conn:
        row = conn.execute(select(User).where(User.username == username.strip())).mappings().first()
    if row is None:
        check_password_hash(_DUMMY_HASH, password)  # no timing hint that the name does not exist
        return None
    if not check_password_hash(row["password_hash"], password) or not row["active"]:
        return None
    return dict(row)


_DUMMY_HASH = generate_password_hash("not a password")


def get_user(engine: Engine, user_id: int) -> dict | None:
    with engine.connect() as conn:
        row = conn.execute(select(User).where(User.id == user_id)).mappings().first()
    return dict(row) if row else None


def user_unit_ids(engine: Engine, user_id: int) -> list[int]:
    with engine.connect() as conn:
        return list(conn.execute(select(UserUnit.unit_id).where(UserUnit.user_id == user_id)).scalars())


def list_users(engine: Engine) -> list[dict]:
    with engine.connect() as conn:
        users = [dict(r) for r in conn.execute(select(User).order_by(User.username)).mappings()]
        links = conn.execute(select(UserUnit.user_id, Unit.code).join(Unit, Unit.id == UserUnit.unit_id)).all()
    for u in users:
        u["units"] = sorted(code for uid, code in links if uid == u["id"])
    return users


def set_active(engine: Engine, username: str, active: bool) -> bool:
    with engine.begin() as conn:
        return conn.execute(update(User).where(User.username == username).values(active=active)).rowcount == 1


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(engine: Engine, user_id: int, label: str = "") -> str:
    """A new API token for a user; the clear token is returned once and never stored."""
    token = "tthc_" + secrets.token_urlsafe(32)
    with engine.begin() as conn:
        conn.execute(ApiToken.__table__.insert().values(user_id=user_id, token_hash=token_digest(token),
                                                        label=label, created_at=now_local()))
    return token


def user_for_token(engine: Engine, token: str) -> dict | None:
    with engine.begin() as conn:
        row = conn.execute(select(User).join(ApiToken, ApiToken.user_id == User.id)
                           .where(ApiToken.token_hash == token_digest(token))).mappings().first()
        if row is None or not row["active"]:
            return None
        conn.execute(update(ApiToken).where(ApiToken.token_hash == token_digest(token))
                     .values(last_used_at=now_local()))
    return dict(row)


def revoke_tokens(engine: Engine, user_id: int) -> int:
    with engine.begin() as conn:
        return conn.execute(delete(ApiToken).where(ApiToken.user_id == user_id)).rowcount
