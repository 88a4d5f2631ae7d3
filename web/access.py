"""Which roles may open which page: the one table the menu, the links on pages and the views' own
checks all read, so a link is shown exactly when following it does not answer 403.

A page (a view's endpoint, or a blueprint's name for all of its views) not listed here is open to
every logged-in user; what they see in it is still narrowed to their units by web.scope.
"""

from __future__ import annotations

import functools

from flask import abort, request
from flask_login import current_user, login_required

ALL_ROLES = ("admin", "cchc", "unit_head", "reception")
PAGE_ROLES: dict[str, tuple[str, ...]] = {
    "reports.scores": ("admin", "cchc"),  # province-wide scores
    "reports.disagreements": ("admin", "cchc"),  # the dossiers the two 766 methods classify differently
    "quality.reconcile": ("admin", "cchc"),  # ours beside the portal's published figures
    "reports.audits": ("admin", "cchc", "unit_head"),
    "views.imports": ("admin", "cchc"),
    "views.rejected": ("admin", "cchc"),
    "admin": ("admin",),  # every page of the admin blueprint
    "calendar_admin": ("admin",),  # the working calendar's upkeep
}


def roles_for(endpoint: str) -> tuple[str, ...]:
    """The roles that may open `endpoint` ("blueprint.view")."""
    if endpoint in PAGE_ROLES:
        return PAGE_ROLES[endpoint]
    return PAGE_ROLES.get(endpoint.partition(".")[0], ALL_ROLES)


def may_open(endpoint: str, role: str | None = None) -> bool:
    """Whether `role` (default: the current user's) may open the page; for templates:
    `{% if may_open('reports.audits') %}<a …>{% endif %}`."""
    if role is None:
        if not current_user.is_authenticated:
            return False
        role = current_user.role
    return role in roles_for(endpoint)


def page_access(view):  # noqa: ANN001, ANN201
    """Logged in (else the login page) and a role PAGE_ROLES allows for this view (else 403)."""

    @functools.wraps(view)
    @login_required
    def inner(*a, **kw):  # noqa: ANN202
        if not may_open(request.endpoint or ""):
            abort(403)
        return view(*a, **kw)

    return inner


def init_app(app) -> None:  # noqa: ANN001
    app.jinja_env.globals.update(may_open=may_open)
