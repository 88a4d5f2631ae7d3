"""The dashboard's pages. Each one reads the user's scope first; anything outside it is a 404."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

from flask import Blueprint, Response, abort, current_app, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import pgettext
from sqlalchemy import case, func, select

from tracker.collation import name_key
from tracker.export import safe_cell
from tracker.ingest.sources import source_specs
from tracker.models import Dossier, ImportRun, Procedure, StatusChange
from tracker.open_dossiers import lateness, open_conditions, open_counts, open_counts_by_unit
from tracker.queries import dossier_row
from tracker.reports import ReportInvariantError, ReportRow, period_report
from web import current_now
from web.access import page_access
from web.auth import current_user, engine, login_required
from web.cache import cache, data_version
from web.i18n import fmt_dt, fmt_num, label
from web.lists import ListFilters, filter_choices, lateness_words, overdue_list
from web.outlook import outlook_counts, outlook_for
from web.scope import mask_name, mask_phone, unit_tree

bp = Blueprint("views", __name__)
bp.add_app_template_global(lateness_words)
STALE_HOURS = 26  # a daily export that missed a day


def settings():  # noqa: ANN201
    return current_app.config["TTHC_SETTINGS"]


def _open_conditions(t: datetime) -> dict:
    return open_conditions(t, settings().work_calendar(), settings().rule_settings())


def _ttl() -> float:
    """Seconds a list page or the counts are reused (0 in tests: they change data under the app)."""
    return current_app.config["TTHC_LIST_CACHE_SECONDS"]


# ----- overview ------------------------------------------------------------------------------------


def _period_starts(today: date) -> dict[str, date]:
    q_month = 3 * ((today.month - 1) // 3) + 1
    return {"month_to_date": today.replace(day=1), "quarter_to_date": today.replace(month=q_month, day=1),
            "year_to_date": today.replace(month=1, day=1)}


def _scoped_total(report, scope):  # noqa: ANN001, ANN202
    """The report's total over the units in scope (a unit report's rows are per unit, no roll-up)."""
    if scope.all_units:
        return report.total, report.rows
    tree = unit_tree(engine())
    rows = [r for r in report.rows if (u := tree.by_code.get(r.key)) is not None and scope.allows(u.id)]
    total = ReportRow(key="total", name="Tổng cộng")
    for r in rows:
        total.add(r)
    return total, rows


RUNNING_PERIOD_TTL = 300.0  # seconds before a running period's report is recomputed (in the background)


PENDING = object()  # _report: no report yet, one is being computed


def _report(start: date, end: date, now: datetime):  # noqa: ANN202
    """tracker.reports.period_report, cached (web.cache). A report is computed again when an import
    ran since (the data version changed) or, for a running period (this month, quarter, year), when
    older than RUNNING_PERIOD_TTL. No request waits for a report over a million dossiers: the last
    one is served while a thread computes the next; the first one of a process is computed in the
    background too: meanwhile None, and `g.reports_pending` tells the page to say so. None also when
    the report refuses (its invariant check failed): the page shows no rates, and it is logged.
    Tests (app.testing) compute at once."""
    eng, sets, log = engine(), settings(), current_app.logger
    ended = now >= datetime.combine(end, datetime.max.time())

    def compute():  # noqa: ANN202
        try:
            return period_report(eng, sets, start, end, as_of=now)
        except ReportInvariantError:
            log.exception("period report %s..%s refused", start, end)
            return None

    def fresh(report) -> bool:  # noqa: ANN001
        return report is None or report.as_of <= now  # not computed for a later moment (a test's frozen clock)

    key = ("report", str(eng.url), start, end, sets.fingerprint())
    how = dict(version=data_version(eng), max_age=None if ended else RUNNING_PERIOD_TTL, fresh=fresh)
    if current_app.testing:  # tests see every change at once
        return cache().get(key, compute, **how)
    report = cache().get_in_background(key, compute, **how, default=PENDING)
    if report is PENDING:
        g.reports_pending = True
        return None
    return report


def _empty_report():  # noqa: ANN202
    return SimpleNamespace(rows=[], total=ReportRow(key="total", name=""))


def _months_back(d: date, n: int) -> date:
    y, m = divmod(d.year * 12 + d.month - 1 - n, 12)
    return date(y, m + 1, 1)


def _chart(points: list[tuple[str, float | None]]) -> dict:
    """A server-rendered SVG bar chart: no script, so the CSP stays strict."""
    w, h, pad = 600, 200, 30
    bw = (w - 2 * pad) / max(len(points), 1)
    bars = []
    for i, (name, value) in enumerate(points):
        x = pad + i * bw
        bh = 0 if value is None else (h - 2 * pad) * value / 100
        bars.append({"x": round(x + 4, 1), "y": round(h - pad - bh, 1), "w": round(bw - 8, 1), "h": round(bh, 1),
                     "label": name, "lx": round(x + bw / 2, 1), "value": "—" if value is None
                     else fmt_num(value, 1) + "%"})
    return {"w": w, "h": h, "pad": pad, "bars": bars}


def _phone_chart(points: list[tuple[str, float | None]]) -> dict:
    """The same months as horizontal bars, most recent first, narrow enough for 11 px labels on a phone."""
    label_w, bar_w, row_h, top = 46, 250, 18, 22
    bars = []
    for i, (name, value) in enumerate(reversed(points)):
        y = top + i * row_h
        width = 0 if value is None else round(bar_w * value / 100, 1)
        text = "—" if value is None else fmt_num(value, 1) + "%"
        bars.append({"y": y, "w": width, "h": row_h - 5, "ty": y + row_h - 8, "label": name, "title": name,
                     "value": text, "vx": round(label_w + width + 4, 1)})
    ticks = [{"x": round(label_w + bar_w * p / 100, 1), "label": f"{p}%"} for p in (0, 50, 100)]
    return {"w": label_w + bar_w + 50, "h": top + len(bars) * row_h + 8, "x0": label_w, "bars": bars,
            "ticks": ticks, "top": top, "avg_x": None}


@bp.get("/")
@login_required
def overview():  # noqa: ANN201
    scope = current_user.scope
    now = current_now()
    version = data_version(engine())
    counts = cache().get(("counts", str(engine().url), scope.key), lambda: open_counts(
        engine(), settings(), now, scope.units()), version=version, max_age=_ttl())
    today = now.date()
    rates = {}
    for name, start in _period_starts(today).items():
        total, rows = _scoped_total(_report(start, today, now) or _empty_report(), scope)
        rates[name] = total
        if name == "year_to_date":
            unit_rows = rows
    sort = request.args.get("sort", "name")
    keys = {"name": lambda r: name_key(r.name), "rate": lambda r: (r.on_time_rate is None, r.on_time_rate or 0),
            "score": lambda r: (r.score_766 is None, r.score_766 or 0), "overdue": lambda r: -r.overdue,
            "total": lambda r: -r.total}
    unit_rows = sorted(unit_rows, key=keys.get(sort, keys["name"]))
    points = []
    for i in range(11, -1, -1):
        first = _months_back(today, i)
        last = min(_months_back(today, i - 1) - timedelta(days=1), today)
        total, _ = _scoped_total(_report(first, last, now) or _empty_report(), scope)
        rate = total.on_time_rate
        points.append((first.strftime("%m/%y"), None if rate is None else float(rate)))
    from web import quality

    starts = _period_starts(today)
    month_warning = quality.warning(quality.choice_of(starts["month_to_date"], today, now), scope.unit_ids)
    panel = None
    if current_user.role in quality.PANEL_ROLES:
        panel = quality.panel(quality.choice_of(starts["year_to_date"], today, now), scope.unit_ids)
    ahead = cache().get(("outlook", str(engine().url), scope.key), lambda: outlook_counts(
        engine(), settings(), now, scope, _open_conditions(now)["unfinished"]), version=version, max_age=_ttl())
    return render_template("overview.html", counts=counts, rates=rates, unit_rows=unit_rows, sort=sort,
                           chart=_chart(points), phone_chart=_phone_chart(points), now=now, qw=month_warning,
                           qp=panel, ahead=ahead)


# ----- overdue list --------------------------------------------------------------------------------


def _allowed_unit_filter(f: ListFilters) -> None:
    if f.unit:
        node = unit_tree(engine()).by_code.get(f.unit)
        if node is None or not current_user.scope.allows(node.id):
            abort(404)


EXPORT_COLUMNS = ("code", "unit", "procedure", "field", "channel", "received_at", "due_at", "computed_due_at",
                  "rescheduled_due_at", "class", "hours", "applicant_name", "applicant_phone")


def _export_rows(page) -> list[list]:  # noqa: ANN001
    """The list as on screen; without the applicant's columns for a role that sees them masked."""
    out = []
    personal = current_user.scope.sees_personal_data
    for r in page.rows:
        cls = "overdue" if r["overdue"] else "at_risk" if r.get("at_risk", True) else "within"
        out.append([r["code"], f"{r['unit_code']} {r['unit_name']}", r["procedure_name"] or "", r["field_name"] or "",
                    label("channel", r['channel']) if r["channel"] in (1, 2, 3) else "", fmt_dt(r["received_at"]),
                    fmt_dt(r["due_at"]), fmt_dt(r["computed_due_at"]), fmt_dt(r["rescheduled_due_at"]),
                    label("class", cls) + (" *" if r["past_new"] else ""), lateness_words(r["lateness"]), r["hours"]]
                   + ([r["applicant_name"], r["applicant_phone"]] if personal else []))
    return out


def _export_header() -> list[str]:
    return [_("Mã hồ sơ"), pgettext("unit", "Đơn vị"), _("Thủ tục"), _("Lĩnh vực"), _("Kênh"), _("Tiếp nhận"),
            _("Hẹn trả (ghi nhận)"), _("Hạn theo quy định"), _("Hẹn trả mới"), _("Phân loại"), _("Mức trễ"),
            _("Giờ làm việc trễ / còn lại")] + (
        [_("Chủ hồ sơ"), _("Điện thoại")] if current_user.scope.sees_personal_data else [])


@bp.get("/overdue")
@bp.get("/overdue.<fmt>")
@login_required
def overdue(fmt: str | None = None):  # noqa: ANN201
    f = ListFilters.from_args(request.args)
    _allowed_unit_filter(f)
    scope = current_user.scope
    page = cache().get(("list", str(engine().url), scope.key, repr(f)),
                       lambda: overdue_list(engine(), settings(), current_now(), scope, f),
                       version=data_version(engine()), max_age=_ttl())
    if fmt == "csv":
        buf = io.StringIO()
        w = csv.writer(buf)
        w.writerow(_export_header())
        for row in _export_rows(page):
            w.writerow([safe_cell(v) for v in row])
        return Response("\ufeff" + buf.getvalue(), mimetype="text/csv",
                        headers={"Content-Disposition": "attachment; filename=qua-han.csv"})
    if fmt == "xlsx":
        from openpyxl import Workbook

        wb = Workbook()
        ws = wb.active
        ws.append(_export_header())
        for row in _export_rows(page):
            ws.append([safe_cell(v) for v in row])
        out = io.BytesIO()
        wb.save(out)
        return Response(out.getvalue(), headers={"Content-Disposition": "attachment; filename=qua-han.xlsx"},
                        mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    if fmt is not None:
        abort(404)
    tree = unit_tree(engine())
    units = tree.ordered(None if scope.all_units else set(scope.unit_ids))
    active = sum(1 for k in f.query_args() if k != "page")
    return render_template("overdue.html", page=page, f=f, choices=filter_choices(engine(), scope), units=units,
                           show_unit=len(units) > 1, show_applicant=scope.sees_personal_data,
                           active_filters=active)


# ----- dossier -------------------------------------------------------------------------------------


@bp.get("/dossier/<path:code>")
@login_required
def dossier(code: str):  # noqa: ANN201
    from tracker.explain import explain_row
    from tracker.limits import ProcedureLimits
    from web.i18n import lang

    with engine().connect() as conn:
        r = dossier_row(conn, code, current_user.scope.unit_ids)
        if r is None:
            abort(404)
        history = conn.execute(select(StatusChange.previous_status, StatusChange.status, StatusChange.seen_at)
                               .where(StatusChange.dossier_id == r["id"]).order_by(StatusChange.seen_at)).all()
        limits = ProcedureLimits.load(conn)
    cal, rules = settings().work_calendar(), settings().rule_settings()
    now = current_now()
    explained = explain_row(r, now, cal, rules, limits, lang())  # the same facts as `tthc dossier`
    c, steps = explained.classification, explained.due_steps
    events = [(r[k], label("ev", name)) for k, name in (
        ("submitted_at", "submitted"), ("received_at", "received"),
        ("supplement_requested_at", "supplement_requested"), ("resubmitted_at", "resubmitted"),
        ("apology_at", "apology"), ("due_at", "due"), ("finished_at", "finished"), ("returned_at", "returned"))
        if r[k] is not None]
    def status(code: int | None) -> str:
        return "—" if code is None else f"{code} {label('status', code)}"

    # a change with no previous status is the import that first saw the dossier: not an event of its own
    events += [(h.seen_at, _("Trạng thái %(a)s → %(b)s", a=status(h.previous_status),
                             b=status(h.status))) for h in history if h.previous_status is not None]
    events.sort(key=lambda e: e[0])
    mode = label("mode", rules.comparison)
    due = fmt_dt(c.due_used)
    hours = None if c.working_hours_left is None else fmt_num(c.working_hours_left, 1)
    why = {
        "not_received": _("Hồ sơ chưa được tiếp nhận tại thời điểm này."),
        "paused": _("Đang chờ bổ sung hoặc nghĩa vụ tài chính: thời hạn tạm dừng, tính là trong hạn."),
        "overdue": _("Đã qua hạn %(d)s (%(mode)s). Hẹn trả mới không làm thay đổi phân loại.", d=due, mode=mode),
        "at_risk": _("Còn %(h)s giờ làm việc đến hạn %(d)s, không quá %(r)s giờ.", h=hours, d=due,
                     r=fmt_num(rules.at_risk_hours, 0)),
        "within": (_("Còn %(h)s giờ làm việc đến hạn %(d)s.", h=hours, d=due) if c.due_used
                   else _("Không có ngày hẹn trả: tính là trong hạn / đúng hạn.")),
    }.get(c.cls, _("Kết thúc lúc %(f)s, so với hạn %(d)s (%(mode)s).", f=fmt_dt(c.finish_moment), d=due, mode=mode))
    flags = [label("flag", fl, h=fmt_num(c.excess_hours or 0, 1)) for fl in c.flags]
    late = None
    if c.cls in ("overdue", "at_risk") and c.due_used:
        late = lateness(cal, c.due_used, now, rules.comparison)
    sees = current_user.scope.sees_personal_data
    applicant = {"name": r["applicant_name"] if sees else mask_name(r["applicant_name"] or ""),
                 "phone": r["applicant_phone"] if sees else mask_phone(r["applicant_phone"] or "")}
    return render_template("dossier.html", r=r, c=c, steps=steps, events=events, why=why, flags=flags,
                           late=late, limit=_limit_used(r, limits), applicant=applicant, now=now,
                           path=[u for u in unit_tree(engine()).path(r["unit_id"])
                                 if current_user.scope.allows(u.id)],
                           outlook=outlook_for(r, c.cls, now))


def _limit_used(r, limits) -> str | None:  # noqa: ANN001
    """Which limit the dossier is held to: its own, or its procedure's version in force on its receipt date."""
    from tracker.derive import limit_of
    from web.i18n import lang

    own = limit_of(r, None)
    if own is not None:
        return _("Thời hạn %(limit)s (ghi trên hồ sơ)", limit=own.describe(lang()))
    version = limits.version_at(r["procedure_id"], r["received_at"])
    if version is None:
        return None
    if version.effective_from is None:
        return _("Thời hạn %(limit)s", limit=version.limit.describe(lang()))
    return _("Thời hạn %(limit)s, áp dụng từ %(date)s", limit=version.limit.describe(lang()),
             date=f"{version.effective_from:%d/%m/%Y}")


# ----- unit ----------------------------------------------------------------------------------------


@bp.get("/units")
@login_required
def units():  # noqa: ANN201
    scope = current_user.scope
    tree = unit_tree(engine())
    now = current_now()
    counts = open_counts_by_unit(engine(), settings(), now, scope.units())
    month = _report(now.date().replace(day=1), now.date(), now) or _empty_report()
    rates = {r.key: r.on_time_rate for r in month.rows}
    return render_template("units.html", units=tree.ordered(None if scope.all_units else set(scope.unit_ids)),
                           counts=counts, rates=rates, now=now)


@bp.get("/unit/<code>")
@login_required
def unit(code: str):  # noqa: ANN201
    scope = current_user.scope
    tree = unit_tree(engine())
    node = tree.by_code.get(code)
    if node is None or not scope.allows(node.id):
        abort(404)
    ids = tree.subtree(node.id)
    if not scope.all_units:
        ids &= set(scope.unit_ids)
    now = current_now()
    counts = open_counts(engine(), settings(), now, scope.units(ids))
    report = _report(now.date().replace(month=1, day=1), now.date(), now) or _empty_report()
    figures = ReportRow(key=code, name=node.name)
    for row in report.rows:
        u = tree.by_code.get(row.key)
        if u is not None and u.id in ids:
            figures.add(row)
    c = _open_conditions(now)
    d = Dossier.__table__.c
    ranked_q = (select(Procedure.code, Procedure.name,
                       func.sum(case((c["overdue"], 1), else_=0)).label("overdue"),
                       func.sum(case((c["at_risk"], 1), else_=0)).label("at_risk"), func.count().label("open"))
                .select_from(Dossier.__table__.join(Procedure, Procedure.id == d.procedure_id))
                .where(c["unfinished"], d.unit_id.in_(sorted(ids)))
                .group_by(Procedure.code, Procedure.name)
                .order_by(func.sum(case((c["overdue"], 1), else_=0)).desc(), Procedure.name).limit(20))
    with engine().connect() as conn:
        ranked = conn.execute(ranked_q).mappings().all()
    page = overdue_list(engine(), settings(), now, scope, ListFilters(unit=code), page_size=20)
    children = [u for u in tree.children.get(node.id, []) if scope.allows(u.id)]
    path = [u for u in tree.path(node.id) if scope.allows(u.id)]
    from tracker.portal766 import average_times

    times = average_times(engine(), settings(), now.date().replace(month=1, day=1), now.date(), as_of=now,
                          unit_ids=ids)  # 766 criterion 2.2, year to date
    return render_template("unit.html", node=node, counts=counts, figures=figures, ranked=ranked, page=page,
                           children=children, path=path, now=now, times=times, show_unit=bool(children),
                           show_applicant=scope.sees_personal_data)


# ----- imports -------------------------------------------------------------------------------------


@bp.route("/imports", methods=["GET", "POST"])
@page_access
def imports():  # noqa: ANN201
    if request.method == "POST":
        return _upload()
    now = current_now()
    with engine().connect() as conn:
        runs = conn.execute(select(ImportRun).order_by(ImportRun.id.desc()).limit(50)).mappings().all()
        latest = conn.execute(select(ImportRun.source, func.max(ImportRun.finished_at).label("last"))
                              .where(ImportRun.status.in_(["done", "partial"]))
                              .group_by(ImportRun.source)).all()
    declared = {s.name: s for s in source_specs(settings())}
    fresh = []
    seen = {s for s, _ in latest}
    for source, last in latest:
        fresh.append({"source": source, "last": last, "stale": last is None or now - last > timedelta(
            hours=_stale_hours())})
    for name in declared:
        if name not in seen:
            fresh.append({"source": name, "last": None, "stale": True})
    from web import quality

    panel = quality.panel(quality.choice_of(now.date().replace(month=1, day=1), now.date(), now), None)
    return render_template("imports.html", runs=runs, fresh=fresh, stale_hours=_stale_hours(), qp=panel)


def _stale_hours() -> int:
    """check.import_max_age_hours: the same limit as `tthc check` and /healthz (default STALE_HOURS)."""
    return settings().get("check.import_max_age_hours")


def _upload():  # noqa: ANN202
    import tempfile
    from pathlib import Path

    from tracker.ingest.isolated import import_isolated

    upload = request.files.get("file")
    if upload is None or not upload.filename:
        flash(_("Chưa chọn tệp."))
        return redirect(url_for("views.imports"))
    name = upload_name(upload.filename)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / name
        upload.save(path)
        res = import_isolated(engine(), settings(), path, source="upload")  # a child with memory and time limits
    flash(_("Đã nhập %(name)s: %(n)s dòng, %(r)s dòng bị loại.", name=name, n=res.rows_read,
            r=res.rejected) + (f" {res.message}" if res.status ==
                                                                             "failed" else ""))
    return redirect(url_for("views.imports"))


def upload_name(filename: str) -> str:
    """The uploaded file's own name (no folders), as the run records it; 400 when there is none
    ('..', '.', 'a/..') or it carries control characters (a NUL, a newline)."""
    name = filename.replace("\\", "/").rsplit("/", 1)[-1].strip()
    if any(ord(ch) < 0x20 or 0x7F <= ord(ch) < 0xA0 for ch in filename):
        abort(400, description=_("Tên tệp chứa ký tự điều khiển: hãy đổi tên tệp rồi tải lên lại."))
    if name in ("", ".", ".."):
        abort(400, description=_("Tên tệp không hợp lệ: '%(n)s'.", n=filename[:200]))
    suffix = Path(name).suffix if len(Path(name).suffix) <= 12 else ""  # what tells a reader the kind
    stem = name[:len(name) - len(suffix)]
    while len((stem + suffix).encode()) > 200:  # a file system's limit is 255 bytes, not characters
        stem = stem[:-1]
    return stem + suffix


@bp.get("/imports/<int:run_id>/rejected.csv")
@page_access
def rejected(run_id: int):  # noqa: ANN201
    from tracker.export import UnknownRun, rejected_rows

    try:
        header, rows = rejected_rows(engine(), run_id)
    except UnknownRun:
        abort(404)
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(header)
    for row in rows:
        w.writerow([safe_cell("" if v is None else v) for v in row])
    return Response("\ufeff" + buf.getvalue(), mimetype="text/csv",
                    headers={"Content-Disposition": f"attachment; filename=rejected-{run_id}.csv"})


# ----- calendar ------------------------------------------------------------------------------------


@bp.get("/calendar")
@login_required
def calendar():  # noqa: ANN201
    try:
        year = int(request.args.get("year", current_now().year))
    except ValueError:
        year = current_now().year
    year = max(1990, min(year, 2100))
    days = settings().work_calendar().year_days(year)
    return render_template("calendar.html", year=year, days=days)
