"""JSON API under /api/v1, authenticated by a bearer token acting as its user (same scope).

GET /api/v1/rates?period=month|quarter|year&date=YYYY-MM-DD   on-time rates and 766 scores by unit
GET /api/v1/overdue?unit=&procedure=&field=&channel=&how_late=&q=&page=   the overdue and at-risk list
"""

from __future__ import annotations

from datetime import date, timedelta

from flask import Blueprint, abort, current_app, g, jsonify, request

from tracker.users import user_for_token
from web import current_now
from web.lists import ListFilters, overdue_list
from web.reports import YEARS
from web.scope import scope_for, unit_tree

bp = Blueprint("api", __name__, url_prefix="/api/v1")


@bp.before_request
def _token():  # noqa: ANN202
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return jsonify(error="a bearer token is required"), 401, {"WWW-Authenticate": "Bearer"}
    user = user_for_token(_engine(), token.strip(), now=current_now())
    if user is None:
        return jsonify(error="invalid token"), 401, {"WWW-Authenticate": "Bearer"}
    g.api_scope = scope_for(_engine(), user)
    return None


def _engine():  # noqa: ANN202
    return current_app.extensions["tthc_engine"]


def _period(kind: str, day: date) -> tuple[date, date]:
    if kind == "month":
        start = day.replace(day=1)
        end = (start + timedelta(days=32)).replace(day=1) - timedelta(days=1)
    elif kind == "quarter":
        start = day.replace(month=3 * ((day.month - 1) // 3) + 1, day=1)
        end = (start + timedelta(days=95)).replace(day=1) - timedelta(days=1)
    elif kind == "year":
        start, end = day.replace(month=1, day=1), day.replace(month=12, day=31)
    else:
        abort(400, description="period: expected month, quarter or year")
    return start, end


@bp.get("/rates")
def rates():  # noqa: ANN201
    from tracker.reports import ReportInvariantError, ReportRow, period_report

    now = current_now()
    try:
        day = date.fromisoformat(request.args.get("date", now.date().isoformat()))
    except ValueError:
        abort(400, description=f"date: '{request.args.get('date', '')[:40]}' is not a date: expected YYYY-MM-DD")
    if not YEARS[0] <= day.year <= YEARS[1]:
        abort(400, description=f"date: {day.isoformat()} is outside the years covered ({YEARS[0]}–{YEARS[1]})")
    start, end = _period(request.args.get("period", "month"), day)
    if start > now.date():
        abort(400, description="the period has not begun")
    try:
        report = period_report(_engine(), current_app.config["TTHC_SETTINGS"], start, end, as_of=now)
    except ReportInvariantError:
        current_app.logger.exception("period report %s..%s refused", start, end)
        return jsonify(error="the report failed its consistency check; see the server log"), 503
    scope, tree = g.api_scope, unit_tree(_engine())
    rows = [r for r in report.rows if scope.all_units or (
        (u := tree.by_code.get(r.key)) is not None and scope.allows(u.id))]
    total = ReportRow(key="total", name="Tổng cộng")
    for r in rows:
        total.add(r)
    return jsonify(period={"start": start.isoformat(), "end": end.isoformat()}, as_of=report.as_of.isoformat(),
                   units=[r.as_dict() for r in rows], total=total.as_dict())


@bp.get("/overdue")
def overdue():  # noqa: ANN201
    f = ListFilters.from_args(request.args)
    if f.unit:
        node = unit_tree(_engine()).by_code.get(f.unit)
        if node is None or not g.api_scope.allows(node.id):
            abort(404)
    page = overdue_list(_engine(), current_app.config["TTHC_SETTINGS"], current_now(), g.api_scope, f)

    def iso(v):  # noqa: ANN001, ANN202
        return v.isoformat() if v else None

    items = [{"code": r["code"], "unit": r["unit_code"], "procedure": r["procedure_code"],
              "field": r["field_name"], "channel": r["channel"], "received_at": iso(r["received_at"]),
              "due_at": iso(r["due_at"]), "computed_due_at": iso(r["computed_due_at"]),
              "due_used_at": iso(r["due_used_at"]), "rescheduled_due_at": iso(r["rescheduled_due_at"]),
              "class": "overdue" if r["overdue"] else "at_risk",
              "flags": ["past_rescheduled_due"] if r["past_new"] else [],
              "working_hours": r["hours"]} for r in page.rows]
    return jsonify(as_of=page.as_of.isoformat(), total=page.total, page=page.page, pages=page.pages, items=items)
