"""Who may see what: dashboard users, their units, and API tokens.

Roles (RULES: every query is scoped on the server):
- admin: everything, plus user and unit administration;
- cchc: the administrative-reform office, every unit (CCHC officer);
- unit_head: their unit(s) and every unit below in the tree (lãnh đạo đơn vị);
- reception: the units of their one-stop desk, exactly (cán bộ Một cửa).
Unit heads and reception officers are tied to units by `user_unit` rows. Passwords and API tokens
are stored hashed only.

`tthc users add` and the admin pages share these functions, and with them their guards: a unit head or
reception officer has at least one unit, usernames are unique (ignoring case), an admin cannot demote or
deactivate themself, and the last active admin stays. Every change made through the admin pages is
written to `admin_event` (who, when, what), without passwords or personal data.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
from datetime import datetime, timedelta

from sqlalchemy import Column, Connection, Engine, Index, Text, delete, func, select, update
from sqlmodel import Field, SQLModel
from werkzeug.security import check_password_hash, generate_password_hash

from tracker import data_version
from tracker.clock import now_local
from tracker.models import NAME_MAX, Moment, Unit

ROLES = ("admin", "cchc", "unit_head", "reception")
ALL_UNITS_ROLES = frozenset({"admin", "cchc"})
PERSONAL_DATA_ROLES = frozenset({"admin", "reception"})  # see applicants' names and phones unmasked
PASSWORD_MIN = 8
PASSWORD_MAX = 1000
USERNAME_MAX = 100
DISPLAY_NAME_MAX = 200
TOKEN_DAYS = 90  # an API token's default term (`tthc users token --days`)
TOKEN_DAYS_MAX = 3650
TOKEN_NAME_MAX = 200
_USERNAME = re.compile(r"[\w.@-]+")
# stricter than what jobs.digest accepts, so whatever is saved here is delivered there
_EMAIL = re.compile(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+")


class User(SQLModel, table=True):
    __tablename__ = "app_user"

    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(max_length=100, unique=True)
    password_hash: str = Field(max_length=300)
    role: str = Field(max_length=20)
    display_name: str = Field(default="", max_length=200)
    active: bool = True
    created_at: datetime = Moment(default_factory=now_local)
    # in each login's session, compared on every request (web.auth): raising it ends every session
    session_generation: int = Field(default=0, sa_column_kwargs={"server_default": "0"})


class UserUnit(SQLModel, table=True):
    """A unit head's unit (with its subtree) or a unit of a reception officer's desk."""

    __tablename__ = "user_unit"

    user_id: int = Field(foreign_key="app_user.id", primary_key=True)
    unit_id: int = Field(foreign_key="unit.id", primary_key=True)


class ApiToken(SQLModel, table=True):
    """A token for /api/v1, acting as its user (same scope). Only the SHA-256 is stored.

    Refused once past `expires_at` or revoked (`revoked_at`: by an admin, `tthc users revoke`, or
    the user's password reset or deactivation); revoked rows stay, to be listed."""

    __tablename__ = "api_token"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="app_user.id", index=True)
    token_hash: str = Field(max_length=64, unique=True)
    label: str = Field(default="", max_length=200)  # its name: what it is for
    created_at: datetime = Moment(default_factory=now_local)
    last_used_at: datetime | None = Moment(default=None)
    expires_at: datetime | None = Moment(default=None)
    revoked_at: datetime | None = Moment(default=None)


class LoginAttempt(SQLModel, table=True):
    """A failed login, kept for the throttle's window (web.auth) and shared by every worker."""

    __tablename__ = "login_attempt"
    __table_args__ = (
        # used by the throttle: the failures of one (username, address) within the window
        Index("ix_login_attempt_key", "username", "ip", "attempted_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(max_length=USERNAME_MAX)  # as typed, lower-cased
    ip: str = Field(max_length=64)
    attempted_at: datetime = Moment(index=True)  # the index serves the pruning of old rows


class AdminEvent(SQLModel, table=True):
    """One change made on the admin pages: who, when, what (never a password or personal data)."""

    __tablename__ = "admin_event"

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Moment(index=True)  # the admin page shows the most recent
    actor: str = Field(max_length=USERNAME_MAX)
    action: str = Field(max_length=40)  # user_added | user_changed | password_reset | unit_changed
    target: str = Field(max_length=200)  # a username or a unit code
    detail: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))  # JSON: what changed


class UserError(ValueError):
    """A refused user change. `reason` names the rule (the web translates it), `value` the culprit."""

    def __init__(self, message: str, reason: str = "invalid", value: str = "") -> None:
        super().__init__(message)
        self.reason = reason
        self.value = value


def hash_password(password: str) -> str:
    return generate_password_hash(password)


def check_password(password: str) -> None:
    if len(password) < PASSWORD_MIN:
        raise UserError(f"password: at least {PASSWORD_MIN} characters", "password_short")
    if len(password) > PASSWORD_MAX:
        raise UserError(f"password: at most {PASSWORD_MAX} characters", "password_long")


def _check_display_name(name: str) -> str:
    name = " ".join(name.split())
    if len(name) > DISPLAY_NAME_MAX:
        raise UserError(f"display name: at most {DISPLAY_NAME_MAX} characters", "display_name_long")
    return name


def _check_role_units(role: str, unit_codes) -> list[str]:  # noqa: ANN001
    if role not in ROLES:
        raise UserError(f"role '{role}': expected one of {', '.join(ROLES)}", "role", role)
    codes = list(dict.fromkeys(c.strip() for c in unit_codes if c.strip()))
    if role in ALL_UNITS_ROLES and codes:
        raise UserError(f"role '{role}' sees every unit: --unit does not apply", "units_not_applicable", role)
    if role not in ALL_UNITS_ROLES and not codes:
        raise UserError(f"role '{role}' needs at least one --unit CODE", "units_required", role)
    return codes


def _unit_ids(conn: Connection, codes: list[str]) -> list[int]:
    known = dict(conn.execute(select(Unit.code, Unit.id).where(Unit.code.in_(codes))).all()) if codes else {}
    for code in codes:
        if code not in known:
            raise UserError(f"unit '{code}': not found", "unit_not_found", code)
    return [known[c] for c in codes]


def create_user(engine: Engine, username: str, role: str, password: str, *, unit_codes: list[str] = (),
                display_name: str = "", actor: str | None = None) -> int:
    """Add a user; unit codes tie a unit head or reception officer to their units. With `actor`
    (the admin page's user), the addition is written to the admin log."""
    username = username.strip()
    if not username:
        raise UserError("username: empty", "username_empty")
    if len(username) > USERNAME_MAX or not _USERNAME.fullmatch(username):
        raise UserError(f"username '{username[:USERNAME_MAX]}': letters, digits and . _ @ - only, "
                        f"at most {USERNAME_MAX}", "username_invalid", username[:USERNAME_MAX])
    codes = _check_role_units(role, unit_codes)
    check_password(password)
    display_name = _check_display_name(display_name)
    with engine.begin() as conn:
        if conn.execute(select(User.id).where(func.lower(User.username) == username.lower())).first():
            raise UserError(f"user '{username}': exists already", "username_taken", username)
        unit_ids = _unit_ids(conn, codes)
        user_id = conn.execute(User.__table__.insert().values(
            username=username, password_hash=hash_password(password), role=role,
            display_name=display_name or username, active=True, created_at=now_local())).inserted_primary_key[0]
        for uid in unit_ids:
            conn.execute(UserUnit.__table__.insert().values(user_id=user_id, unit_id=uid))
        if actor is not None:
            record_event(conn, actor, "user_added", username, {"role": role, "units": codes})
    return user_id


def _lock_admins(conn: Connection) -> None:
    """Serialise changes that could leave no active admin. PostgreSQL: lock the active admins'
    rows. SQLite: the write that follows takes the database's single write lock, and the count
    after it (`_keep_an_admin`) runs under that lock."""
    if conn.dialect.name != "sqlite":
        conn.execute(select(User.id).where(User.role == "admin", User.active.is_(True))
                     .order_by(User.id).with_for_update()).all()


def _keep_an_admin(conn: Connection, was_active_admin: bool) -> None:
    if not was_active_admin:
        return
    n = conn.execute(select(func.count()).select_from(User)
                     .where(User.role == "admin", User.active.is_(True))).scalar_one()
    if n == 0:
        raise UserError("the last active admin cannot be demoted or deactivated", "last_admin")


def update_user(engine: Engine, user_id: int, *, role: str, unit_codes: list[str], active: bool,
                display_name: str, actor_id: int, actor: str) -> dict:
    """Change a user's role, units, active flag and display name, on behalf of admin `actor_id`.
    Returns what changed ({} when nothing did), as written to the admin log."""
    codes = _check_role_units(role, unit_codes)
    display_name = _check_display_name(display_name)
    if user_id == actor_id and (role != "admin" or not active):
        raise UserError("an admin cannot demote or deactivate themself", "self_demote")
    with engine.begin() as conn:
        _lock_admins(conn)
        old = conn.execute(select(User).where(User.id == user_id)).mappings().first()
        if old is None:
            raise UserError(f"user {user_id}: not found", "user_not_found", str(user_id))
        unit_ids = _unit_ids(conn, codes)
        old_codes = sorted(conn.execute(select(Unit.code).join(UserUnit, UserUnit.unit_id == Unit.id)
                                        .where(UserUnit.user_id == user_id)).scalars())
        display_name = display_name or old["username"]
        changes: dict = {}
        if role != old["role"]:
            changes["role"] = [old["role"], role]
        if sorted(codes) != old_codes:
            changes["units"] = [old_codes, sorted(codes)]
        if active != old["active"]:
            changes["active"] = [old["active"], active]
        if display_name != old["display_name"]:
            changes["display_name"] = True  # that it changed, not the names
        if not changes:
            return {}
        conn.execute(update(User).where(User.id == user_id)
                     .values(role=role, active=active, display_name=display_name))
        if changes.keys() & {"role", "units", "active"}:
            _end_sessions(conn, user_id)  # a session keeps what it was granted at login: no longer
        if not active and old["active"]:
            _revoke_all(conn, user_id)
        if "units" in changes:
            conn.execute(delete(UserUnit).where(UserUnit.user_id == user_id))
            for uid in unit_ids:
                conn.execute(UserUnit.__table__.insert().values(user_id=user_id, unit_id=uid))
        _keep_an_admin(conn, old["role"] == "admin" and old["active"])
        record_event(conn, actor, "user_changed", old["username"], changes)
    return changes


def set_password(engine: Engine, user_id: int, password: str, *, actor: str) -> None:
    """An admin sets a new password: the user's open sessions end and their API tokens are revoked
    (whoever knew the old password may have made one)."""
    check_password(password)
    with engine.begin() as conn:
        username = conn.execute(select(User.username).where(User.id == user_id)).scalar_one_or_none()
        if username is None:
            raise UserError(f"user {user_id}: not found", "user_not_found", str(user_id))
        conn.execute(update(User).where(User.id == user_id).values(password_hash=hash_password(password)))
        _end_sessions(conn, user_id)
        revoked = _revoke_all(conn, user_id)
        record_event(conn, actor, "password_reset", username, {"tokens_revoked": revoked} if revoked else {})


def _end_sessions(conn: Connection, user_id: int) -> None:
    """Every session of the user ends at its next request (web.auth compares the generation)."""
    conn.execute(update(User).where(User.id == user_id)
                 .values(session_generation=User.session_generation + 1))


def end_sessions(engine: Engine, user_id: int) -> None:
    """Log the user out everywhere (what logging out does: a copied cookie dies with it)."""
    with engine.begin() as conn:
        _end_sessions(conn, user_id)


def record_event(conn: Connection, actor: str, action: str, target: str, detail: dict) -> None:
    conn.execute(AdminEvent.__table__.insert().values(at=now_local(), actor=actor, action=action,
                                                      target=target, detail=json.dumps(detail, ensure_ascii=False)))


def recent_events(engine: Engine, limit: int = 50) -> list[dict]:
    with engine.connect() as conn:
        rows = conn.execute(select(AdminEvent).order_by(AdminEvent.at.desc(), AdminEvent.id.desc())
                            .limit(limit)).mappings().all()
    return [{**r, "detail": json.loads(r["detail"] or "{}")} for r in rows]


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
    """Turn an account on or off (not the last active admin off)."""
    with engine.begin() as conn:
        _lock_admins(conn)
        old = conn.execute(select(User.id, User.role, User.active).where(User.username == username)).first()
        if old is None:
            return False
        conn.execute(update(User).where(User.username == username).values(active=active))
        if old.active != active:
            _end_sessions(conn, old.id)  # reactivating does not revive the sessions of before
        if old.active and not active:
            _revoke_all(conn, old.id)
        _keep_an_admin(conn, old.role == "admin" and old.active)
    return True


class RecipientsError(UserError):
    """Some digest recipients are not email addresses; `bad` lists each, as typed."""

    def __init__(self, bad: list[str]) -> None:
        super().__init__("recipients: not an email address: " + ", ".join(f"'{b}'" for b in bad),
                         "recipients_invalid", ", ".join(bad))
        self.bad = bad


def parse_recipients(text: str) -> list[str]:
    """'a@x.vn, b@x.vn; A@x.vn' -> ['a@x.vn', 'b@x.vn']; RecipientsError names every bad address."""
    good: list[str] = []
    bad: list[str] = []
    for part in re.split(r"[,;\s]+", text or ""):
        if not part:
            continue
        if len(part) > 254 or not _EMAIL.fullmatch(part):
            bad.append(part[:100])
        elif part.lower() not in {g.lower() for g in good}:
            good.append(part)
    if bad:
        raise RecipientsError(bad)
    return good


def update_unit(engine: Engine, code: str, *, name: str, recipients: str, actor: str) -> dict:
    """Change a unit's display name and digest recipients. The folded name that matches exports
    to the unit (`name_key`) stays as imported. Returns what changed, as written to the admin log."""
    name = " ".join(name.split())
    if not name:
        raise UserError("unit name: empty", "unit_name_empty")
    if len(name) > NAME_MAX:
        raise UserError(f"unit name: at most {NAME_MAX} characters", "unit_name_long")
    emails = parse_recipients(recipients)
    with engine.begin() as conn:
        old = conn.execute(select(Unit.name, Unit.digest_recipients).where(Unit.code == code)).first()
        if old is None:
            raise UserError(f"unit '{code}': not found", "unit_not_found", code)
        changes: dict = {}
        if name != old.name:
            changes["name"] = [old.name, name]
        old_emails = [e for e in re.split(r"[,;\s]+", old.digest_recipients or "") if e]
        if emails != old_emails:
            changes["recipients"] = [len(old_emails), len(emails)]  # how many, not who
        if not changes:
            return {}
        conn.execute(update(Unit).where(Unit.code == code).values(name=name, digest_recipients=", ".join(emails)))
        record_event(conn, actor, "unit_changed", code, changes)
        data_version.bump(conn)
    return changes


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(engine: Engine, user_id: int, name: str = "", *, days: int = TOKEN_DAYS,
                 now: datetime | None = None) -> str:
    """A new API token for a user, valid `days` days; the clear token is returned once and never stored."""
    if not 1 <= days <= TOKEN_DAYS_MAX:
        raise UserError(f"days: {days} is not from 1 to {TOKEN_DAYS_MAX}", "token_days", str(days))
    name = " ".join(name.split())
    if len(name) > TOKEN_NAME_MAX:
        raise UserError(f"token name: at most {TOKEN_NAME_MAX} characters", "token_name_long")
    now = now or now_local()
    token = "tthc_" + secrets.token_urlsafe(32)
    with engine.begin() as conn:
        conn.execute(ApiToken.__table__.insert().values(user_id=user_id, token_hash=token_digest(token),
                                                        label=name, created_at=now,
                                                        expires_at=now + timedelta(days=days)))
    return token


def user_for_token(engine: Engine, token: str, now: datetime | None = None) -> dict | None:
    """The token's user, if the token is known, neither expired nor revoked, and the user active.
    Its last use is written at most once a minute (not a write per API call)."""
    now = now or now_local()
    with engine.connect() as conn:
        found = conn.execute(select(User, ApiToken.id.label("token_id"), ApiToken.last_used_at.label("token_used"))
                             .join(ApiToken, ApiToken.user_id == User.id)
                             .where(ApiToken.token_hash == token_digest(token), ApiToken.revoked_at.is_(None),
                                    ApiToken.expires_at > now)).mappings().first()
    if found is None or not found["active"]:
        return None
    if found["token_used"] is None or found["token_used"] < now - timedelta(minutes=1):
        with engine.begin() as conn:
            conn.execute(update(ApiToken).where(ApiToken.id == found["token_id"]).values(last_used_at=now))
    return {k: v for k, v in found.items() if k not in ("token_id", "token_used")}


def list_tokens(engine: Engine, user_id: int | None = None) -> list[dict]:
    """Tokens (of one user, or all), newest first, with their user's name; never the token itself."""
    q = (select(ApiToken.id, ApiToken.user_id, User.username, ApiToken.label.label("name"), ApiToken.created_at,
                ApiToken.expires_at, ApiToken.last_used_at, ApiToken.revoked_at)
         .join(User, User.id == ApiToken.user_id).order_by(ApiToken.id.desc()))
    if user_id is not None:
        q = q.where(ApiToken.user_id == user_id)
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(q).mappings()]


def token_state(token: dict, now: datetime) -> str:
    """'active', 'expired' or 'revoked'."""
    if token["revoked_at"] is not None:
        return "revoked"
    if token["expires_at"] is None or token["expires_at"] <= now:
        return "expired"
    return "active"


def revoke_token(engine: Engine, token_id: int, *, actor: str | None = None, user_id: int | None = None) -> bool:
    """Revoke one token (of `user_id`, when given); False if there is no such token or it was revoked."""
    with engine.begin() as conn:
        q = select(ApiToken.id, User.username).join(User, User.id == ApiToken.user_id).where(
            ApiToken.id == token_id, ApiToken.revoked_at.is_(None))
        if user_id is not None:
            q = q.where(ApiToken.user_id == user_id)
        found = conn.execute(q).first()
        if found is None:
            return False
        conn.execute(update(ApiToken).where(ApiToken.id == token_id).values(revoked_at=now_local()))
        if actor is not None:
            record_event(conn, actor, "token_revoked", found.username, {"token": token_id})
    return True


def _revoke_all(conn: Connection, user_id: int) -> int:
    return conn.execute(update(ApiToken).where(ApiToken.user_id == user_id, ApiToken.revoked_at.is_(None))
                        .values(revoked_at=now_local())).rowcount


def revoke_tokens(engine: Engine, user_id: int) -> int:
    """Revoke every token of a user; how many were live."""
    with engine.begin() as conn:
        return _revoke_all(conn, user_id)
