"""The admin pages (role admin only): users, units' names and digest recipients, the settings
(read-only), and the log of every change made here.

The forms post back to themselves with Flask-WTF's CSRF token. The rules live in tracker.users,
shared with `tthc users add`; this module reads the forms and translates refusals.
"""

from __future__ import annotations

from datetime import date, datetime

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import pgettext
from flask_login import login_user
from sqlalchemy import select

from tracker.models import Unit
from tracker.users import (
    ALL_UNITS_ROLES,
    DISPLAY_NAME_MAX,
    PASSWORD_MIN,
    ROLES,
    RecipientsError,
    UserError,
    create_user,
    get_user,
    list_tokens,
    list_users,
    recent_events,
    revoke_token,
    set_password,
    token_state,
    update_unit,
    update_user,
    user_unit_ids,
)
from web import current_now
from web.access import page_access
from web.auth import WebUser, current_user, engine, roles_required
from web.scope import unit_tree

bp = Blueprint("admin", __name__, url_prefix="/admin")
EVENTS_SHOWN = 50


@bp.get("")
@page_access
def index():  # noqa: ANN201
    settings = current_app.config["TTHC_SETTINGS"]
    shown = [(s.key, "••••••" if s.secret else _setting_text(v)) for s, v in settings.items()]
    events = recent_events(engine(), EVENTS_SHOWN)
    for e in events:
        e["what"], e["action_text"] = _describe(e), _action(e["action"])
    names = {code: u.name for code, u in unit_tree(engine()).by_code.items()}
    return render_template("admin.html", users=list_users(engine()), units=_units(), settings=shown, events=events,
                           unit_names=names)


# ----- users ---------------------------------------------------------------------------------------


@bp.route("/users/new", methods=["GET", "POST"])
@page_access
def user_new():  # noqa: ANN201
    form = {"username": "", "display_name": "", "role": "reception", "units": [], "active": True}
    errors: list[str] = []
    if request.method == "POST":
        form = _user_form()
        form["username"] = request.form.get("username", "").strip()[:200]
        errors = _password_errors()
        if not errors:
            try:
                create_user(engine(), form["username"], form["role"], request.form.get("password", ""),
                            unit_codes=form["units"], display_name=form["display_name"],
                            actor=current_user.username)
            except UserError as exc:
                errors = _messages(exc)
        if not errors:
            flash(_("Đã thêm người dùng %(u)s.", u=form["username"]))
            return redirect(url_for("admin.index"))
    return _user_page(None, form, errors)


@bp.route("/users/<int:user_id>", methods=["GET", "POST"])
@page_access
def user_edit(user_id: int):  # noqa: ANN201
    user = get_user(engine(), user_id) or abort(404)
    form = _stored_form(user)
    errors: list[str] = []
    if request.method == "POST":
        form = _user_form()
        form["active"] = request.form.get("active") == "1"
        try:
            changed = update_user(engine(), user_id, role=form["role"], unit_codes=form["units"],
                                  active=form["active"], display_name=form["display_name"],
                                  actor_id=current_user.id, actor=current_user.username)
        except UserError as exc:
            errors = _messages(exc)
        else:
            flash(_("Đã lưu người dùng %(u)s.", u=user["username"]) if changed else _("Không có gì thay đổi."))
            return redirect(url_for("admin.index"))
    return _user_page(user, form, errors)


@bp.post("/users/<int:user_id>/password")
@page_access
def user_password(user_id: int):  # noqa: ANN201
    user = get_user(engine(), user_id) or abort(404)
    errors = _password_errors()
    if not errors:
        try:
            set_password(engine(), user_id, request.form.get("password", ""), actor=current_user.username)
        except UserError as exc:
            errors = _messages(exc)
    if errors:
        return _user_page(user, _stored_form(user), [], password_errors=errors)
    if user_id == current_user.id:  # a new password ends old sessions; not the one that set it
        login_user(WebUser(get_user(engine(), user_id)))
    flash(_("Đã đặt mật khẩu mới cho %(u)s.", u=user["username"]))
    return redirect(url_for("admin.index"))


def _stored_form(user: dict) -> dict:
    tree = unit_tree(engine())
    return {"display_name": user["display_name"], "role": user["role"], "active": user["active"],
            "units": [tree.by_id[u].code for u in user_unit_ids(engine(), user["id"]) if u in tree.by_id]}


def _user_form() -> dict:
    role = request.form.get("role", "")
    units = request.form.getlist("units")
    # roles that see every unit have none; a unit left selected in the list is not an error
    return {"display_name": request.form.get("display_name", "")[:DISPLAY_NAME_MAX * 2], "role": role,
            "units": [] if role in ALL_UNITS_ROLES else [u for u in units if u][:1000], "active": True}


def _password_errors() -> list[str]:
    if request.form.get("password", "") != request.form.get("password2", ""):
        return [_("Hai lần nhập mật khẩu không khớp.")]
    return []


def _user_page(user: dict | None, form: dict, errors: list[str], *, password_errors: list[str] = ()):  # noqa: ANN202
    status = 400 if errors or password_errors else 200
    return render_template("admin_user.html", user=user, form=form, errors=errors, password_errors=password_errors,
                           roles=ROLES, units=unit_tree(engine()).ordered(), password_min=PASSWORD_MIN), status


# ----- API tokens ----------------------------------------------------------------------------------


@bp.get("/tokens")
@roles_required("admin")
def tokens():  # noqa: ANN201
    """Every API token (never the token itself): whose, its name, created, expires, last used, state."""
    now = current_now()
    rows = [{**t, "state": token_state(t, now)} for t in list_tokens(engine())]
    return render_template("admin_tokens.html", tokens=rows, states=_token_states())


@bp.post("/tokens/<int:token_id>/revoke")
@roles_required("admin")
def token_revoke(token_id: int):  # noqa: ANN201
    if revoke_token(engine(), token_id, actor=current_user.username):
        flash(_("Đã thu hồi mã API số %(n)s.", n=token_id))
    else:
        flash(_("Mã API số %(n)s không có hoặc đã bị thu hồi.", n=token_id))
    return redirect(url_for("admin.tokens"))


def _token_states() -> dict[str, str]:
    return {"active": _("Còn hiệu lực"), "expired": _("Đã hết hạn"), "revoked": _("Đã thu hồi")}


# ----- units ---------------------------------------------------------------------------------------


@bp.route("/units/<path:code>", methods=["GET", "POST"])
@page_access
def unit_edit(code: str):  # noqa: ANN201
    with engine().connect() as conn:
        unit = conn.execute(select(Unit).where(Unit.code == code)).mappings().first() or abort(404)
    tree = unit_tree(engine())
    parent = tree.by_id.get(unit["parent_id"]) if unit["parent_id"] else None
    form = {"name": unit["name"], "recipients": unit["digest_recipients"]}
    errors: list[str] = []
    if request.method == "POST":
        form = {"name": request.form.get("name", "")[:2000], "recipients": request.form.get("recipients", "")[:20000]}
        try:
            changed = update_unit(engine(), code, name=form["name"], recipients=form["recipients"],
                                  actor=current_user.username)
        except UserError as exc:
            errors = _messages(exc)
        else:
            flash(_("Đã lưu đơn vị %(c)s.", c=code) if changed else _("Không có gì thay đổi."))
            return redirect(url_for("admin.index"))
    return render_template("admin_unit.html", unit=unit, parent=parent, form=form, errors=errors), \
        400 if errors else 200


def _units() -> list[dict]:
    tree = unit_tree(engine())
    with engine().connect() as conn:
        recipients = dict(conn.execute(select(Unit.id, Unit.digest_recipients)).all())
    out = []
    for u, depth in tree.ordered():
        parent = tree.by_id.get(u.parent_id) if u.parent_id else None
        out.append({"unit": u, "depth": depth, "parent": parent, "recipients": recipients.get(u.id, "")})
    return out


# ----- messages ------------------------------------------------------------------------------------


def _messages(exc: UserError) -> list[str]:
    """The refusal in the page's language; the English text of tracker.users is for the CLI."""
    r, v = exc.reason, exc.value
    if isinstance(exc, RecipientsError):
        return [_("'%(a)s' không phải địa chỉ email hợp lệ.", a=a) for a in exc.bad]
    if r == "username_empty":
        return [_("Chưa nhập tên đăng nhập.")]
    if r == "username_invalid":
        return [_("Tên đăng nhập '%(u)s': chỉ gồm chữ, số và . _ @ -, tối đa 100 ký tự.", u=v)]
    if r == "username_taken":
        return [_("Tên đăng nhập '%(u)s' đã được dùng.", u=v)]
    if r == "role":
        return [_("Vai trò '%(r)s' không hợp lệ.", r=v)]
    if r == "units_required":
        return [_("Lãnh đạo đơn vị và Cán bộ Một cửa cần ít nhất một đơn vị.")]
    if r == "unit_not_found":
        return [_("Không có đơn vị mã '%(c)s'.", c=v)]
    if r == "password_short":
        return [_("Mật khẩu cần ít nhất %(n)s ký tự.", n=PASSWORD_MIN)]
    if r == "password_long":
        return [_("Mật khẩu quá dài.")]
    if r == "display_name_long":
        return [_("Tên hiển thị tối đa %(n)s ký tự.", n=DISPLAY_NAME_MAX)]
    if r == "self_demote":
        return [_("Bạn không thể tự hạ vai trò hay tự ngừng hoạt động tài khoản của mình.")]
    if r == "last_admin":
        return [_("Phải còn ít nhất một tài khoản Quản trị đang hoạt động.")]
    if r == "unit_name_empty":
        return [_("Chưa nhập tên đơn vị.")]
    if r == "unit_name_long":
        return [_("Tên đơn vị quá dài (tối đa 500 ký tự).")]
    if r == "user_not_found":
        abort(404)
    return [str(exc)]


def _describe(event: dict) -> str:
    """What an admin_event changed, in the page's language. Changes are stored as [old, new]."""
    d = event["detail"]
    if event["action"].startswith("calendar_day_"):
        from web.i18n import label

        return f"{label('kind', d.get('kind', ''))}: {d.get('reference', '')}"
    if event["action"] == "user_added":
        units = ", ".join(d.get("units", [])) or "—"
        return f"{_('Vai trò')}: {_role(d.get('role', ''))}; {pgettext('units', 'Đơn vị')}: {units}"
    parts = []
    if "role" in d:
        parts.append(f"{_('Vai trò')}: {_role(d['role'][0])} → {_role(d['role'][1])}")
    if "units" in d:
        parts.append(f"{pgettext('units', 'Đơn vị')}: " + " → ".join(", ".join(u) or "—" for u in d["units"]))
    if "active" in d:
        parts.append(f"{_('Hoạt động')}: " + " → ".join(_("Có") if a else _("Không") for a in d["active"]))
    if "display_name" in d:
        parts.append(_("đổi tên hiển thị"))
    if "name" in d:
        parts.append(f"{_('Tên')}: {d['name'][0]} → {d['name'][1]}")
    if "token" in d:
        parts.append(_("mã API số %(n)s", n=d["token"]))
    if d.get("tokens_revoked"):
        parts.append(_("thu hồi %(n)s mã API", n=d["tokens_revoked"]))
    if "recipients" in d:
        parts.append(_("người nhận bản tin: %(a)s → %(b)s địa chỉ", a=d["recipients"][0], b=d["recipients"][1]))
    return "; ".join(parts)


def _action(action: str) -> str:
    return {"user_added": pgettext("adm_ev_user_added", "Thêm người dùng"), "user_changed": _("Sửa người dùng"),
            "password_reset": pgettext("adm_ev_password_reset",
                                       "Đặt lại mật khẩu"), "unit_changed": _("Sửa đơn vị"),
            "calendar_day_added": _("Thêm ngày nghỉ/làm bù"),
            "calendar_day_removed": _("Xoá ngày nghỉ/làm bù"),
            "token_revoked": _("Thu hồi mã API")}.get(action, action)


def _role(role: str) -> str:
    return {"admin": _("Quản trị"), "cchc": _("Cán bộ CCHC"), "unit_head": _("Lãnh đạo đơn vị"),
            "reception": _("Cán bộ Một cửa")}.get(role, role)


def _setting_text(value) -> str:  # noqa: ANN001
    if isinstance(value, dict):
        return "; ".join(f"{k}: {v}" for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return ", ".join(str(v) for v in value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)
