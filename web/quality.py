"""The data-quality panel and its lists, and the reconciliation with what the portal published.

- "Chất lượng dữ liệu" (/quality): the counts of tracker.quality for a period, each linking to its
  list (/quality/<kind>, paged, CSV). Every logged-in role may open them, scoped to its units: the
  desks are the ones who correct the data. The panel itself sits on the overview (CCHC, admin; the
  year to date) and on the imports page.
- The warning on a period's figures (the overview's month, the report page): shown when the
  panel's counts over that period are not all zero, with a link to the panel of that period.
- "Đối chiếu" (/scores/reconcile, CCHC and admin): tracker.portal_figures.reconcile, per unit and
  published period.

Thin, like web.reports: tracker answers, this module reads the query string, scopes and caches.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from flask import Blueprint, abort, current_app, render_template, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext
from werkzeug.datastructures import MultiDict

from tracker.quality import COLUMNS, KINDS
from web import current_now
from web.access import page_access
from web.auth import current_user, engine, login_required
from web.cache import cache, data_version
from web.i18n import fmt_dt, fmt_num, label
from web.reports import Choice, attachment, bad_download, base_key, cached, read_choice, settings
from web.reports import audit_csv as list_csv

bp = Blueprint("quality", __name__)
PANEL_ROLES = ("admin", "cchc")
PAGE_SIZE = 50

KIND_LABELS = {
    "no_finished_at": lazy_gettext("Đã kết thúc nhưng không có ngày kết thúc"),
    "contradictions": lazy_gettext("Trạng thái và ngày tháng mâu thuẫn"),
    "no_due": lazy_gettext("Không có ngày hẹn trả"),
    "beyond_limit": lazy_gettext("Ngày hẹn trả vượt thời hạn quy định"),
    "no_limit": lazy_gettext("Thủ tục chưa có thời hạn giải quyết"),
    "import_units": lazy_gettext("Đơn vị do lần nhập dữ liệu tự tạo"),
    "disagreements": lazy_gettext("Hồ sơ hai cách tính 766 cho kết quả khác nhau"),
}
KIND_HELP = {
    "no_finished_at": lazy_gettext("Trạng thái đã kết thúc mà không có ngày kết thúc xử lý hay ngày trả kết quả: "
                                   "thời điểm kết thúc là giả định của hệ thống."),
    "contradictions": lazy_gettext("Trạng thái đang xử lý (2, 4, 5, 6) mà có ngày kết thúc hoặc ngày trả; hoặc "
                                   "trạng thái đã xong (9, 10) mà kết thúc trước ngày tiếp nhận."),
    "no_due": lazy_gettext("Hồ sơ đã tiếp nhận không có ngày hẹn trả: hệ thống dùng hạn tính theo thời hạn "
                           "giải quyết."),
    "beyond_limit": lazy_gettext("Ngày hẹn trả ghi trên phiếu muộn hơn hạn theo thời hạn giải quyết của thủ tục."),
    "no_limit": lazy_gettext("Thủ tục có hồ sơ trong kỳ mà danh mục chưa có thời hạn giải quyết."),
    "import_units": lazy_gettext("Đơn vị không có trong danh mục, được tạo khi nhập hồ sơ; có hồ sơ trong kỳ."),
    "disagreements": lazy_gettext("Hồ sơ mà cách tính của Cổng Dịch vụ công quốc gia và Biểu 06 phân loại khác "
                                  "nhau (đúng hạn / quá hạn)."),
}
# the kinds whose count is of procedures or units, not dossiers
COUNTED_AS = {"no_limit": lazy_gettext("%(n)s thủ tục"), "import_units": lazy_gettext("%(n)s đơn vị")}
NUMERIC = frozenset({"dossiers", "due_excess_hours", "run_id"})


def column_labels() -> dict[str, str]:
    from web.reports import column_labels as report_labels

    out = report_labels()
    out.update({
        "status": _("Trạng thái"), "due_at": _("Hẹn trả (ghi nhận)"), "finished_at": _("Ngày kết thúc xử lý"),
        "returned_at": _("Ngày trả kết quả"), "finish_at": _("Thời điểm kết thúc dùng để tính"),
        "due_excess_hours": _("Số giờ làm việc vượt"), "field_name": _("Lĩnh vực"), "dossiers": _("Số hồ sơ"),
        "run_id": _("Lần nhập"), "file_name": _("Tệp"), "run_started_at": _("Thời điểm nhập"),
        "portal": _("Cách tính của Cổng"), "bieu06": _("Cách tính Biểu 06"), "end_at": _("Thời điểm kết thúc"),
        "reason": _("Lý do"),
    })
    return out


def _verdict(value: str) -> str:
    return {"on_time": _("Đúng hạn"), "late": label("class", "late")}.get(value, value or "—")


# ----- counts, cached --------------------------------------------------------------------------------


SWR_TTL = 300.0  # seconds before a running period's counts are recomputed (in the background)


def counts_for(c: Choice, ids: frozenset[int] | None) -> dict[str, int] | None:
    """tracker.quality.counts for the choice's period over the units `ids` (None: all), computed in
    the background as the overview's reports (web.views._report): a page never waits for a scan of
    every dossier. None while the first value of this data is being computed, or when counting
    failed (logged: the page shows no panel rather than failing). Tests (app.testing) count at once."""
    from tracker.quality import counts
    from tracker.reports import END_OF_DAY

    eng, sets, log = engine(), settings(), current_app.logger
    running = c.as_of is None and c.moment < datetime.combine(c.end, END_OF_DAY)
    moment = c.moment
    key = ("quality", str(eng.url), sets.fingerprint(), c.start, c.end, None if running else moment,
           None if ids is None else tuple(sorted(ids)))

    def compute() -> dict[str, int] | None:
        try:
            return counts(eng, sets, c.start, c.end, as_of=moment, unit_ids=ids)
        except Exception:  # noqa: BLE001
            log.exception("data-quality counts %s failed", key[-3:])
            return None

    if current_app.testing:
        return compute()
    return cache().get_in_background(key, compute, version=data_version(eng), max_age=SWR_TTL if running else None)


def choice_of(start: date, end: date, now: datetime) -> Choice:
    """A Choice for [start, end] at `now` (the overview's periods), for the links and the cache."""
    return read_choice(MultiDict({"period": "range", "from": start.isoformat(), "to": end.isoformat()}), now,
                       grouping=False)


def panel(c: Choice, ids: frozenset[int] | None, *, wait: bool = False) -> dict[str, Any]:
    """What the panel and the warning templates show; `counts` None: still being computed. `wait`:
    count now (the panel's own page), cached like the reports."""
    if wait:
        from tracker.quality import counts as count

        key = ("quality", *base_key(c), None if ids is None else tuple(sorted(ids)))
        counts = cached(key, lambda: count(engine(), settings(), c.start, c.end, as_of=c.moment, unit_ids=ids))
    else:
        counts = counts_for(c, ids)
    return {"counts": counts, "touched": bool(counts) and any(counts.values()), "query": c.query(),
            "start": c.start, "end": c.end, "labels": KIND_LABELS, "counted_as": COUNTED_AS}


def warning(c: Choice, ids: frozenset[int] | None) -> dict[str, Any] | None:
    """The panel of a period when its counts touch it or are still being counted (then `counts` is
    None and the page says so: no warning is not the same as clean figures); else None."""
    if c.errors or c.start is None:
        return None
    p = panel(c, ids)
    return p if p["touched"] or p["counts"] is None else None


# ----- pages -----------------------------------------------------------------------------------------


def _scope_ids() -> frozenset[int] | None:
    return current_user.scope.unit_ids


def _choice() -> Choice:
    args = request.args
    if not args.get("period") and not args.get("from") and not args.get("to"):
        args = MultiDict({**args.to_dict(), "period": "y"})  # the panel's default: the year to date
    return read_choice(args, current_now(), grouping=False)


@bp.get("/quality")
@login_required
def index():  # noqa: ANN201
    c = _choice()
    if c.errors:
        return render_template("quality.html", c=c, qp=None, help=KIND_HELP), 400
    return render_template("quality.html", c=c, qp=panel(c, _scope_ids(), wait=True), help=KIND_HELP)


def _cell(key: str, value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return fmt_dt(value)
    if key == "status":
        return f"{value} {label('status', value)}"
    if key in ("portal", "bieu06"):
        return _verdict(value)
    if isinstance(value, float):
        return fmt_num(value, 2)
    if isinstance(value, int):
        return fmt_num(value)
    return str(value)


@bp.get("/quality/<kind>")
@bp.get("/quality/<kind>.<fmt>")
@login_required
def listing(kind: str, fmt: str | None = None):  # noqa: ANN201
    from tracker.quality import rows as quality_rows

    if kind not in KINDS or fmt not in (None, "csv"):
        abort(404)
    c = _choice()
    if c.errors:
        if fmt:
            return bad_download(c.errors)
        return render_template("quality_list.html", c=c, kind=kind, rows=None, labels=column_labels(),
                               kinds=KIND_LABELS, help=KIND_HELP), 400
    ids = _scope_ids()
    key = ("quality-list", *base_key(c), kind, None if ids is None else tuple(sorted(ids)))
    rows = cached(key, lambda: quality_rows(engine(), settings(), kind, c.start, c.end, as_of=c.moment, unit_ids=ids))
    columns = COLUMNS[kind]
    if fmt == "csv":
        name = f"chat-luong-{kind.replace('_', '-')}-{c.start:%Y%m%d}-{c.end:%Y%m%d}.csv"
        return attachment(list_csv(rows, columns, column_labels()), name, "text/csv")
    try:
        page = max(1, int(request.args.get("page", "1")))
    except ValueError:
        page = 1
    pages = max(1, -(-len(rows) // PAGE_SIZE))
    page = min(page, pages)
    shown = [{k: _cell(k, r.get(k)) for k in columns} for r in rows[(page - 1) * PAGE_SIZE: page * PAGE_SIZE]]
    return render_template("quality_list.html", c=c, kind=kind, rows=shown, columns=columns, total=len(rows),
                           page=page, pages=pages, labels=column_labels(), kinds=KIND_LABELS, help=KIND_HELP,
                           numeric=NUMERIC)


# ----- Đối chiếu -------------------------------------------------------------------------------------


def _status_text(status: str) -> str:
    return {"match": _("Khớp"), "explained": _("Giải thích được"), "unexplained": _("Chưa giải thích được"),
            "not_published": _("Chưa có số liệu công bố")}[status]


def _asked_end(c: Choice) -> date:
    """The period's last day as asked, not cut at today: a published period that has not ended is
    still set beside ours, counted now (tracker.portal_figures.reconcile)."""
    from web.reports import parse_day, period_bounds

    if c.period == "range":
        return parse_day(c.end_text) or c.end
    return period_bounds(c.period, int(c.year))[1]


def _latest_published() -> Choice | None:
    """With no period asked for: the latest period the portal's figures were imported for (each
    period costs two reports over every dossier; a whole year of months is twelve)."""
    from sqlalchemy import select

    from tracker.models import PortalFigure

    if request.args.get("period") or request.args.get("from") or request.args.get("to"):
        return None
    t = PortalFigure.__table__.c
    with engine().connect() as conn:
        latest = conn.execute(select(t.period_start, t.period_end).order_by(t.period_end.desc(), t.period_start.desc())
                              .limit(1)).first()
    if latest is None:
        return None
    start, end = latest
    return read_choice(MultiDict({**request.args.to_dict(), "period": "range", "from": start.isoformat(),
                                  "to": end.isoformat()}), current_now(), grouping=False)


@bp.get("/scores/reconcile")
@page_access
def reconcile():  # noqa: ANN201
    from tracker.portal_figures import reconcile as compute
    from tracker.portal_figures import status_counts

    c = _latest_published() or _choice()
    c.unit = ""
    if c.errors:
        return render_template("reconcile.html", c=c, rec=None), 400
    last = _asked_end(c)
    key = ("reconcile", *base_key(c), last)
    rec = cached(key, lambda: compute(engine(), settings(), c.start, last, as_of=c.moment))
    order = {"unexplained": 0, "explained": 1, "not_published": 2, "match": 3}
    rows = sorted(rec.rows, key=lambda r: (r.start, r.end, order[r.status], r.unit))
    return render_template("reconcile.html", c=c, rec=rec, rows=rows, summary=status_counts(rec.rows),
                           status_text=_status_text, verdict=_verdict)
