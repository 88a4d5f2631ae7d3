"""The CCHC office's pages: "Báo cáo" (the period report of RULES §6, its downloads and a chart),
"Chấm điểm" (the 766 score and the [[scoring.rules]], each with its inputs) and "Kiểm tra" (the
audits of tracker.audits, listable and exportable).

Thin, like web.views: tracker.reports, tracker.scoring and tracker.audits give the answers; this
module reads the period from the query string, scopes to the user's units on the server, caches
the heavy queries and formats. Scoping: the report is counted over the user's units only
(period_report's `unit_ids`), so every grouping (field, procedure, channel …) holds just their
dossiers; audit rows are kept by unit. A `unit` parameter narrows to that unit's subtree; one
outside the user's scope is a 404, as everywhere.
"""

from __future__ import annotations

import calendar as _calendar
import csv
import io
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from flask import Blueprint, Response, abort, current_app, render_template, request
from flask_babel import gettext as _
from flask_babel import pgettext

from tracker.collation import name_key
from tracker.reports import BY, END_OF_DAY, Report, ReportInvariantError, ReportRow, evaluation_moment
from web import current_now
from web.access import page_access
from web.auth import current_user, engine, login_required
from web.cache import cache, data_version
from web.i18n import fmt_dt, fmt_num, lang
from web.scope import unit_tree

bp = Blueprint("reports", __name__)
AUDITS = ("beyond-limit", "no-apology", "no-due")
PAGE_SIZE = 50
CHART_MAX = 80  # bars; the table has every row
YEARS = (1990, 2100)
DATE_FORMATS = ("%d/%m/%Y", "%Y-%m-%d", "%d-%m-%Y")
FULL_MONTH_DAY = 10  # before this day of a month, the pages open on the last complete month
RUNNING_BUCKET = 300  # seconds: a running period's report is reused within one such slice of the clock
FILE_BY = {"unit": "don-vi", "field": "linh-vuc", "procedure": "thu-tuc", "channel": "kenh", "level": "cap"}
FILE_AUDIT = {"beyond-limit": "hen-tra-vuot-quy-dinh", "no-apology": "qua-han-khong-xin-loi",
              "no-due": "thieu-ngay-hen-tra"}


def settings():  # noqa: ANN201
    return current_app.config["TTHC_SETTINGS"]


# ----- the period picker ---------------------------------------------------------------------------


def period_options() -> list[str]:
    """The choices of the period select: months, quarters, halves, the year, a custom range."""
    return ([f"m{i}" for i in range(1, 13)] + [f"q{i}" for i in range(1, 5)] + ["h1", "h2", "y", "range"])


def period_bounds(kind: str, year: int) -> tuple[date, date]:
    """[first day, last day] of a month (m1..m12), quarter (q1..q4), half-year (h1, h2) or year (y)."""
    n = int(kind[1:]) if len(kind) > 1 else 0
    first, last = {"m": (n, n), "q": (3 * n - 2, 3 * n), "h": (6 * n - 5, 6 * n), "y": (1, 12)}[kind[0]]
    return date(year, first, 1), date(year, last, _calendar.monthrange(year, last)[1])


def parse_day(text: str) -> date | None:
    for fmt in DATE_FORMATS:
        try:
            return datetime.strptime(text.strip(), fmt).date()
        except ValueError:
            continue
    return None


def parse_as_of(text: str, now: datetime) -> datetime | None:
    """'dd/mm/yyyy [HH:MM[:SS]]', 'yyyy-mm-dd[ HH:MM]' or an <input type=datetime-local> value. A bare
    date means the end of that day (today: now). None when it cannot be read."""
    from tracker.ingest.values import ValueProblem, parse_datetime

    s = text.strip()
    day = parse_day(s)
    if day is not None:
        return min(datetime.combine(day, END_OF_DAY), now) if day == now.date() else datetime.combine(day, END_OF_DAY)
    try:
        return parse_datetime(s.replace("T", " ", 1) if len(s) > 10 and s[10:11] == "T" else s)
    except ValueProblem:
        return None


@dataclass
class Choice:
    """What the form asked for (echoed back as typed) and what it means."""

    period: str
    year: str
    start_text: str = ""
    end_text: str = ""
    as_of_text: str = ""
    by: str = "unit"
    rollup: bool = False
    unit: str = ""
    errors: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    start: date | None = None
    end: date | None = None  # the last day, cut at the moment's day ("month to date")
    moment: datetime | None = None  # the explicit "as of", else now
    as_of: datetime | None = None  # the explicit "as of" only
    month_to_date: dict[str, str] | None = None  # opened on last month (early in this one): the way back

    def query(self, **change: Any) -> dict[str, str]:
        """The query string that asks for this choice again (downloads, pages, other tabs)."""
        q = {"period": self.period, "year": self.year, "from": self.start_text, "to": self.end_text,
             "as_of": self.as_of_text, "by": self.by, "rollup": "1" if self.rollup else "", "unit": self.unit}
        q.update({k: str(v) for k, v in change.items()})
        return {k: v for k, v in q.items() if v}


def read_choice(args, now: datetime, *, grouping: bool = True) -> Choice:  # noqa: ANN001
    """The period, as-of moment, grouping (unless `grouping` is off: pages with no grouping ignore
    it) and unit from the query string; every problem is a message naming the field and the value,
    in `errors`."""
    period = args.get("period", "").strip()
    year = args.get("year", "").strip()
    early = None
    if not period:
        period = "range" if args.get("from") or args.get("to") else f"m{now.month}"
        if period != "range" and not year and now.day < FULL_MONTH_DAY:
            # early in a month its figures are a few days' worth: open on the last complete month
            last = now.date().replace(day=1) - timedelta(days=1)
            period, year = f"m{last.month}", str(last.year)
            early = {"period": f"m{now.month}", "year": str(now.year)}
    c = Choice(period=period, year=year or str(now.year),
               start_text=args.get("from", "").strip()[:40], end_text=args.get("to", "").strip()[:40],
               as_of_text=args.get("as_of", "").strip()[:40], unit=args.get("unit", "").strip()[:100])
    c.month_to_date = early
    if grouping:
        c.by = args.get("by", "unit").strip() or "unit"
        c.rollup = args.get("rollup", "") in ("1", "on", "true")
    if c.by not in BY:
        c.errors.append(_("Nhóm theo: '%(v)s' không phải lựa chọn hợp lệ (đơn vị, cấp, lĩnh vực, thủ tục, kênh).",
                          v=c.by[:40]))
    if c.rollup and c.by != "unit":
        c.rollup = False
    c.moment = now
    if c.as_of_text:
        c.as_of = parse_as_of(c.as_of_text, now)
        if c.as_of is None:
            c.errors.append(_("Tính đến: '%(v)s' không phải thời điểm hợp lệ (dd/mm/yyyy hoặc dd/mm/yyyy hh:mm).",
                              v=c.as_of_text))
        elif c.as_of > now:
            c.errors.append(_("Tính đến: %(v)s là thời điểm trong tương lai.", v=fmt_dt(c.as_of)))
        else:
            c.moment = c.as_of
    if period == "range":
        c.start, c.end = _read_range(c)
    elif period in period_options():
        if not c.year.isdigit() or not YEARS[0] <= int(c.year) <= YEARS[1]:
            c.errors.append(_("Năm: '%(v)s' không phải năm hợp lệ (từ %(a)s đến %(b)s).", v=c.year[:40], a=YEARS[0],
                              b=YEARS[1]))
        else:
            c.start, c.end = period_bounds(period, int(c.year))
        if c.start_text or c.end_text:
            c.notes.append(_("Từ ngày / Đến ngày chỉ dùng khi Kỳ báo cáo là «Tùy chọn»."))
    else:
        c.errors.append(_("Kỳ báo cáo: '%(v)s' không phải lựa chọn hợp lệ.", v=period[:40]))
    if c.start is not None and c.end is not None and not c.errors:
        if c.start > c.moment.date():
            c.errors.append(_("Kỳ báo cáo bắt đầu ngày %(a)s, chưa đến vào thời điểm tính %(b)s.",
                              a=c.start.strftime("%d/%m/%Y"), b=fmt_dt(c.moment)))
        else:
            c.end = min(c.end, c.moment.date())
    return c


def _read_range(c: Choice) -> tuple[date | None, date | None]:
    days: list[date | None] = []
    for label, text in ((_("Từ ngày"), c.start_text), (_("Đến ngày"), c.end_text)):
        day = parse_day(text) if text else None
        if not text:
            c.errors.append(_("%(f)s: cần nhập ngày khi chọn kỳ tùy chọn.", f=label))
        elif day is None or not YEARS[0] <= day.year <= YEARS[1]:
            c.errors.append(_("%(f)s: '%(v)s' không phải ngày hợp lệ (dd/mm/yyyy hoặc yyyy-mm-dd).", f=label, v=text))
            day = None
        days.append(day)
    start, end = days
    if start is not None and end is not None and end < start:
        c.errors.append(_("Đến ngày %(b)s trước Từ ngày %(a)s.", a=start.strftime("%d/%m/%Y"),
                          b=end.strftime("%d/%m/%Y")))
    return start, end


def _unit_ids(c: Choice) -> frozenset[int] | None:
    """The units the page counts: the user's scope, narrowed to the `unit` parameter's subtree.
    None: every unit. A unit that does not exist or is outside the scope: 404."""
    scope = current_user.scope
    ids = scope.unit_ids
    if c.unit:
        tree = unit_tree(engine())
        node = tree.by_code.get(c.unit)
        if node is None or not scope.allows(node.id):
            abort(404)
        sub = tree.subtree(node.id)
        ids = frozenset(sub if ids is None else sub & ids)
    return ids


# ----- the cache -----------------------------------------------------------------------------------


def cached(key: tuple, compute: Callable[[], Any]) -> Any:
    """compute()'s value from the dashboard's cache (web.cache), for the current data version. Keys
    carry the settings fingerprint and the evaluation moment, or for a running period evaluated
    now, the RUNNING_BUCKET slice of the clock it falls in (`base_key`)."""
    return cache().get(key, compute, version=data_version(engine()))


def _moment_key(c: Choice) -> tuple:
    """How the cache tells evaluation moments apart (see `cached`)."""
    t_ = evaluation_moment(c.start, c.end, c.moment)
    if c.as_of is not None or t_ == datetime.combine(c.end, END_OF_DAY):
        return ("at", t_)
    if current_app.testing:  # tests freeze the clock: the exact moment
        return ("now", t_)
    stamp = int(t_.timestamp()) // RUNNING_BUCKET
    return ("now", stamp)


def base_key(c: Choice) -> tuple:
    return (str(engine().url), settings().fingerprint(), c.start, c.end, _moment_key(c))


def build_report(c: Choice, ids: frozenset[int] | None, *, by: str | None = None, rollup: bool | None = None) -> Report:
    """tracker.reports.period_report over the units `ids` (None: all), cached. With a roll-up, the
    rows of units above the scope are dropped and depths start at 0 for the scope's top."""
    from tracker.reports import period_report

    by = c.by if by is None else by
    rollup = c.rollup if rollup is None else rollup
    key = ("report", *base_key(c), by, rollup, None if ids is None else tuple(sorted(ids)))

    def compute() -> Report:
        report = period_report(engine(), settings(), c.start, c.end, as_of=c.moment, by=by, rollup=rollup,
                               unit_ids=ids)
        if ids is not None and by == "unit":
            tree = unit_tree(engine())
            report.rows = [r for r in report.rows if (u := tree.by_code.get(r.key)) is not None and u.id in ids]
            top = min((r.depth for r in report.rows), default=0)
            for r in report.rows:
                r.depth -= top
        return report

    return cached(key, compute)


# ----- Báo cáo -------------------------------------------------------------------------------------


def _broken_report() -> str:
    return _("Báo cáo không qua được kiểm tra số liệu (tổng số ≠ đã giải quyết + đang giải quyết); "
             "xem nhật ký máy chủ.")


def _by_label(by: str) -> str:
    return {"unit": pgettext("by_unit", "Đơn vị"), "level": _("Cấp"), "field": _("Lĩnh vực"),
            "procedure": _("Thủ tục hành chính"),
            "channel": _("Kênh tiếp nhận")}[by]


def _reporting_unit(c: Choice, ids: frozenset[int] | None) -> str:
    """Who the report is of, for the XLSX title block: the chosen unit, else the top units of the
    user's scope; empty for the whole province."""
    if ids is None:
        return ""
    tree = unit_tree(engine())
    if c.unit and c.unit in tree.by_code:
        return tree.by_code[c.unit].name
    tops = [u for u, depth in tree.ordered(set(ids)) if u.parent_id not in ids]
    return ", ".join(u.name for u in tops[:5]) + (" …" if len(tops) > 5 else "")


def hbar_chart(rows: list[ReportRow], total: ReportRow, *, label_w: int = 250, bar_w: int = 330,
               name_max: int = 38) -> dict:
    """On-time rate per row as horizontal bars, best first, server-rendered SVG (no script, no style
    attribute: the CSP stays strict). A dashed line marks the total's rate. The phone's copy is
    narrower (label_w=130, bar_w=170), so its 11-unit labels stay 11 px or more on a 360 px screen."""
    row_h, top = 18, 22
    ranked = sorted(rows, key=lambda r: (r.on_time_rate is None, -(r.on_time_rate or 0), name_key(r.name)))
    shown = ranked[:CHART_MAX]
    bars = []
    for i, r in enumerate(shown):
        rate = r.on_time_rate
        y = top + i * row_h
        width = 0 if rate is None else round(bar_w * float(rate) / 100, 1)
        name = r.name if len(r.name) <= name_max else r.name[:name_max - 1] + "…"
        bars.append({"y": y, "w": width, "h": row_h - 5, "ty": y + row_h - 8, "label": name, "title": r.name,
                     "value": "—" if rate is None else fmt_num(rate, 1) + "%", "vx": label_w + width + 4})
    h = top + len(shown) * row_h + 8
    ticks = [{"x": round(label_w + bar_w * p / 100, 1), "label": f"{p}%"} for p in (0, 25, 50, 75, 100)]
    avg = total.on_time_rate
    return {"w": label_w + bar_w + 50, "h": h, "x0": label_w, "bar_w": bar_w, "bars": bars, "ticks": ticks,
            "top": top, "more": len(ranked) - len(shown),
            "avg_x": None if avg is None else round(label_w + bar_w * float(avg) / 100, 1),
            "avg": "—" if avg is None else fmt_num(avg, 1) + "%"}


def bad_download(errors: list[str]) -> Response:
    return Response("\n".join(errors) + "\n", status=400, mimetype="text/plain")


def attachment(body: bytes | str, filename: str, mimetype: str) -> Response:
    return Response(body, mimetype=mimetype, headers={"Content-Disposition": f"attachment; filename={filename}"})


def _report_or_refusal(c: Choice, ids: frozenset[int] | None) -> tuple[Report | None, str | None]:
    try:
        return build_report(c, ids), None
    except ReportInvariantError:
        current_app.logger.exception("period report %s..%s by %s refused", c.start, c.end, c.by)
        return None, _broken_report()
    except ValueError as exc:  # the choice was checked; evaluation_moment says what is still wrong
        return None, str(exc)


@bp.get("/reports")
@bp.get("/reports.<fmt>")
@login_required
def reports(fmt: str | None = None):  # noqa: ANN201
    if fmt not in (None, "csv", "xlsx"):
        abort(404)
    c = read_choice(request.args, current_now())
    ids = _unit_ids(c)
    if c.errors:
        if fmt:
            return bad_download(c.errors)
        return _render_report(c, None), 400
    report, refusal = _report_or_refusal(c, ids)
    if report is None:
        if fmt:
            return Response(refusal + "\n", status=503, mimetype="text/plain")
        c.errors.append(refusal)
        return _render_report(c, None), 503
    name = f"bao-cao-{FILE_BY[c.by]}-{c.start:%Y%m%d}-{c.end:%Y%m%d}"
    if fmt == "xlsx":
        return attachment(report_xlsx(report, _reporting_unit(c, ids)), f"{name}.xlsx",
                           "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    if fmt == "csv":
        return attachment(report_csv(report), f"{name}.csv", "text/csv")
    return _render_report(c, report)


def average_times(c: Choice, ids: frozenset[int] | None) -> list:
    """766 criterion 2.2 per procedure (tracker.portal766.average_times) over the units `ids`, cached."""
    from tracker.portal766 import average_times as compute

    key = ("avg-times", *base_key(c), None if ids is None else tuple(sorted(ids)))
    return cached(key, lambda: compute(engine(), settings(), c.start, c.end, as_of=c.moment, unit_ids=ids))


def _render_report(c: Choice, report: Report | None) -> str:
    from web.quality import warning

    times = average_times(c, _unit_ids(c)) if report is not None and c.by == "procedure" else None
    return render_template("reports.html", c=c, report=report, units=_unit_choices(), times=times,
                           qw=None if report is None else warning(c, _unit_ids(c)),
                           by_label=_by_label(c.by if c.by in BY else "unit"),
                           chart=None if report is None else hbar_chart(report.rows, report.total),
                           phone_chart=None if report is None else hbar_chart(report.rows, report.total, label_w=130,
                                                                              bar_w=170, name_max=20),
                           mode=None if report is None else _mode(report.comparison))


def _mode(comparison: str) -> str:
    return _("so sánh theo ngày") if comparison == "date" else _("so sánh theo thời điểm")


def _unit_choices() -> list:
    """(unit, depth) for the unit select: the user's units in tree order."""
    scope = current_user.scope
    return unit_tree(engine()).ordered(None if scope.all_units else set(scope.unit_ids))


def report_xlsx(report: Report, reporting_unit: str) -> bytes:
    """The Biểu 06 workbook, written by the function `tthc report --format xlsx` uses."""
    from tracker.report_xlsx import FormText, write_report_xlsx

    form = FormText.from_settings(settings(), signed_on=current_now().date())
    with tempfile.TemporaryDirectory() as tmp:
        path = write_report_xlsx(report, Path(tmp) / "report.xlsx", form=form, reporting_unit=reporting_unit)
        return path.read_bytes()


REPORT_COLUMNS = ("total", "carried_over", "received_online", "received_offline", "finished", "early", "on_time",
                  "late", "unfinished", "within", "overdue", "on_time_rate", "score_766")


def report_header(by: str) -> list[str]:
    return [_("STT"), _("Mã"), _by_label(by), _("Tổng"), _("Kỳ trước chuyển qua"), _("Mới tiếp nhận trực tuyến"),
            _("Mới tiếp nhận trực tiếp và dịch vụ bưu chính"), _("Đã giải quyết"), _("Trước hạn"), _("Đúng hạn"),
            pgettext("late", "Quá hạn"), pgettext("unfinished", "Đang giải quyết"),
            _("Trong hạn"), pgettext("overdue", "Quá hạn"), _("Tỷ lệ đúng hạn (%)"), _("Điểm tiến độ (766)")]


def report_csv(report: Report) -> str:
    """The table on screen as CSV: UTF-8 with a BOM for Excel, text cells made safe from formulas,
    counts as integers, the rate and the score with a decimal point."""
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(report_header(report.by))
    for no, r in [*enumerate(report.rows, start=1), ("", report.total)]:
        d = r.as_dict()
        name = _("Tổng cộng") if r is report.total else r.name
        w.writerow([no, _safe(r.key), _safe(name), *(("" if d[k] is None else d[k]) for k in REPORT_COLUMNS)])
    return "\ufeff" + buf.getvalue()


def _safe(value: str) -> str:
    from tracker.export import safe_cell

    return safe_cell(value)


# ----- Chấm điểm -----------------------------------------------------------------------------------


def _metric_label(metric: str) -> str:
    return {"766_progress": _("Tiến độ giải quyết (766)"),
            "share_units_full_on_time": _("Tỷ lệ đơn vị giải quyết 100% hồ sơ đúng hạn"),
            "overall_on_time_rate": _("Tỷ lệ hồ sơ giải quyết đúng hạn"),
            "share_late_with_apology": _("Tỷ lệ hồ sơ quá hạn có xin lỗi")}.get(metric, metric)


def _score_lines(c: Choice) -> tuple[Report, list, list, list, str | None]:
    """(the report, 766 overall, 766 per unit, rule lines, a problem with the rules or None)."""
    from tracker.scoring import line_766, rule_line, scoring_rules

    report = build_report(c, None, by="unit", rollup=False)
    overall = [line_766(report.total, "all", _("Tất cả đơn vị"))]
    units = [line_766(r, r.key, r.name) for r in report.rows]
    try:
        rules = scoring_rules(settings())
    except ValueError as exc:
        return report, overall, units, [], f"scoring.rules: {exc}"
    return report, overall, units, [rule_line(rule, report) for rule in rules], None


@bp.get("/scores")
@bp.get("/scores.<fmt>")
@page_access
def scores(fmt: str | None = None):  # noqa: ANN201
    if fmt not in (None, "csv"):
        abort(404)
    c = read_choice(request.args, current_now(), grouping=False)
    c.unit = ""
    if c.errors:
        if fmt:
            return bad_download(c.errors)
        return render_template("scores.html", c=c, lines=None), 400
    try:
        report, overall, units, rules, problem = _score_lines(c)
    except ReportInvariantError:
        current_app.logger.exception("period report %s..%s refused", c.start, c.end)
        if fmt:
            return Response(_broken_report() + "\n", status=503, mimetype="text/plain")
        c.errors.append(_broken_report())
        return render_template("scores.html", c=c, lines=None), 503
    if fmt == "csv":
        return attachment(scores_csv([*overall, *rules, *units]), f"cham-diem-{c.start:%Y%m%d}-{c.end:%Y%m%d}.csv",
                           "text/csv")
    units = sorted(units, key=lambda ln: (ln.points is None, -(ln.points or 0), name_key(ln.scope_name or "")))
    methods, methods_total = portal_rows(c, current_user.scope.unit_ids)
    return render_template("scores.html", c=c, lines=True, overall=overall[0], units=units, rules=rules,
                           problem=problem, metric_label=_metric_label, band_text=band_text, as_of=report.as_of,
                           methods=methods, methods_total=methods_total, score_gap=score_gap)


# ----- the two 766 methods side by side -------------------------------------------------------------


def portal_rows(c: Choice, ids: frozenset[int] | None) -> tuple[list, Any]:
    """tracker.portal766.portal_scores over the units `ids` (None: all), cached like the report:
    per unit, the portal's count beside the Biểu 06 count of the same dossiers."""
    from tracker.portal766 import portal_scores

    key = ("portal", *base_key(c), None if ids is None else tuple(sorted(ids)))
    return cached(key, lambda: portal_scores(engine(), settings(), c.start, c.end, as_of=c.moment, unit_ids=ids))


def score_gap(row) -> Decimal | None:  # noqa: ANN001
    """Portal score − Biểu 06 score, for the page."""
    if row.score is None or row.biểu06_score is None:
        return None
    return row.score - row.biểu06_score


def verdict_label(value: str) -> str:
    return {"on_time": _("Đúng hạn"), "late": pgettext("late", "Quá hạn"), "early": _("Trước hạn"),
            "within": _("Trong hạn"), "overdue": pgettext("overdue", "Quá hạn")}.get(value, value)


def reason_label(reason: str) -> str:
    return {"finished": _("Kết thúc xử lý"), "stopped": _("Dừng xử lý / rút hồ sơ"),
            "supplement_subtracted": _("Trừ thời gian bổ sung"),
            "waiting_supplement": _("Đang chờ bổ sung"),
            "supplement_requests": _("Yêu cầu bổ sung hơn 01 lần"),
            "no_due_limit": _("Không có ngày hẹn trả: so với thời hạn"),
            "no_due_no_limit": _("Không có ngày hẹn trả, không có thời hạn"),
            "no_end": _("Chưa kết thúc: ngày cuối kỳ")}.get(reason, reason)


@bp.get("/scores/disagreements")
@bp.get("/scores/disagreements.<fmt>")
@page_access
def disagreements(fmt: str | None = None):  # noqa: ANN201
    """The dossiers the two 766 methods classify differently, each with the portal's reason."""
    from tracker.portal766 import portal_disagreements

    if fmt not in (None, "csv"):
        abort(404)
    c = read_choice(request.args, current_now(), grouping=False)
    ids = _unit_ids(c)
    # exact=1: the unit's own dossiers, as its row on the Chấm điểm page counts them (not its subtree)
    exact = {"exact": "1"} if c.unit and request.args.get("exact") == "1" else {}
    if exact:
        ids = frozenset({unit_tree(engine()).by_code[c.unit].id})
    if c.errors:
        if fmt:
            return bad_download(c.errors)
        return render_template("score_disagreements.html", c=c, rows=None, units=_unit_choices(), exact=exact), 400
    if fmt == "csv":
        found = portal_disagreements(engine(), settings(), c.start, c.end, as_of=c.moment, unit_ids=ids, limit=None)
        return attachment(disagreements_csv(found), f"cham-diem-khac-nhau-{c.start:%Y%m%d}-{c.end:%Y%m%d}.csv",
                           "text/csv")
    _rows, total = portal_rows(c, ids)
    try:
        page = max(1, int(request.args.get("page", "1")))
    except ValueError:
        page = 1
    pages = max(1, -(-total.disagree // PAGE_SIZE))
    page = min(page, pages)
    found = portal_disagreements(engine(), settings(), c.start, c.end, as_of=c.moment, unit_ids=ids,
                                 limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE)
    return render_template("score_disagreements.html", c=c, rows=found, total=total.disagree, page=page, pages=pages,
                           units=_unit_choices(), exact=exact, verdict_label=verdict_label, reason_label=reason_label,
                           language=lang(), as_of=evaluation_moment(c.start, c.end, c.moment))


def disagreements_csv(rows: list) -> str:
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow([_("Mã hồ sơ"), _("Mã đơn vị"), pgettext("unit", "Đơn vị"), _("Tiếp nhận"), _("Theo Biểu 06"),
                _("Theo Cổng DVC quốc gia"), _("Kết thúc xử lý (Cổng)"), _("Hẹn trả"), _("Lý do"), _("Giải thích")])
    for d in rows:
        received = fmt_dt(d.received_at) if d.received_at else ""
        w.writerow([_safe(d.code), _safe(d.unit_code), _safe(d.unit_name), received, verdict_label(d.biểu06),
                    verdict_label(d.portal), fmt_dt(d.end_at), fmt_dt(d.due_at) if d.due_at else "",
                    reason_label(d.reason), _safe(d.explain(lang()))])
    return "\ufeff" + buf.getvalue()


def _decimal(value: Decimal) -> str:
    places = max(0, -int(value.normalize().as_tuple().exponent))
    return fmt_num(value, places)


def band_text(ln) -> str:  # noqa: ANN001
    """The band a rule's value hit, e.g. '≥ 80% → 0,5 × 2'; proportional points or none hit said so."""
    if ln.band is not None:
        threshold, fraction = ln.band
        return f"≥ {_decimal(threshold)}% → {_decimal(fraction)} × {_decimal(ln.max_points)}"
    if ln.denominator == 0:
        return _("không có dữ liệu để đo")
    return _("dưới mọi ngưỡng") if ln.banded else _("tỷ lệ thuận với giá trị")


def scores_csv(lines: list) -> str:
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow([_("Quy tắc"), _("Chỉ tiêu"), _("Cấp"), _("Mã"), _("Tên"), _("Tử số"),
                _("Mẫu số"), _("Giá trị (%)"), _("Ngưỡng đạt"), _("Điểm"), _("Điểm tối đa"), _("Cách tính"),
                _("Ghi chú")])
    for ln in lines:
        d = ln.as_dict()
        band = "" if ln.band is None else f">= {ln.band[0].normalize()}% -> {ln.band[1].normalize()}"
        w.writerow([_safe(ln.rule), ln.metric, ln.level or "", _safe(ln.scope), _safe(ln.scope_name),
                    ln.numerator, ln.denominator, "" if d["value"] is None else d["value"], band,
                    "" if d["points"] is None else d["points"], d["max_points"], _safe(ln.explain()),
                    _safe(ln.note)])
    return "\ufeff" + buf.getvalue()


# ----- Kiểm tra ------------------------------------------------------------------------------------


def audit_rows(name: str, c: Choice, ids: frozenset[int] | None, *, detail: bool = False) -> list[dict[str, Any]]:
    """The rows of one audit for the period, kept to the units `ids` (None: all). The unscoped
    rows are cached; the scoping is a filter on each row's unit."""
    from tracker.audits import run_audit

    key = ("audit", *base_key(c), name, detail)
    rows = cached(key, lambda: run_audit(name, engine(), settings(), as_of=c.moment, start=c.start, end=c.end,
                                         detail=detail))
    if ids is None:
        return rows
    tree = unit_tree(engine())
    codes = {tree.by_id[i].code for i in ids if i in tree.by_id}
    return [r for r in rows if r["unit_code"] in codes]


AUDIT_COLUMNS = {
    ("beyond-limit", False): ("unit_code", "unit_name", "procedure_code", "procedure_name", "received",
                              "beyond_limit", "share_percent", "max_excess_hours", "mean_excess_hours"),
    ("beyond-limit", True): ("code", "unit_code", "unit_name", "procedure_code", "procedure_name", "received_at",
                             "legal_due_at", "due_at", "excess_hours"),
    ("no-apology", False): ("code", "unit_code", "unit_name", "procedure_code", "procedure_name", "class",
                            "received_at", "due_at", "finish_at", "apology_at", "rescheduled_due_at"),
    ("no-due", False): ("code", "unit_code", "unit_name", "procedure_code", "procedure_name", "channel",
                        "received_at", "computed_due_at", "finish_at"),
}


NUMERIC = frozenset({"received", "beyond_limit", "share_percent", "max_excess_hours", "mean_excess_hours",
                     "excess_hours"})


def column_labels() -> dict[str, str]:
    return {"code": _("Mã hồ sơ"), "unit_code": _("Mã đơn vị"), "unit_name": pgettext("unit", "Đơn vị"),
            "procedure_code": _("Mã thủ tục"), "procedure_name": _("Thủ tục"), "received": _("Tiếp nhận"),
            "beyond_limit": _("Số hồ sơ hẹn vượt"), "share_percent": _("Tỷ lệ (%)"),
            "max_excess_hours": _("Vượt nhiều nhất (giờ làm việc)"),
            "mean_excess_hours": _("Vượt trung bình (giờ làm việc)"),
            "received_at": _("Tiếp nhận"), "legal_due_at": _("Hạn theo quy định"), "due_at": _("Hẹn trả (ghi nhận)"),
            "excess_hours": _("Số giờ làm việc vượt"), "class": _("Phân loại"), "finish_at": _("Kết thúc xử lý"),
            "apology_at": _("Phiếu xin lỗi, hẹn lại"), "rescheduled_due_at": _("Hẹn trả mới"), "channel": _("Kênh"),
            "computed_due_at": _("Hạn theo quy định")}


def _cell_text(key: str, value: Any) -> str:
    """An audit cell as the page shows it."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return fmt_dt(value)
    if key == "class":
        return {"late": pgettext("late", "Quá hạn"), "overdue": pgettext("overdue", "Quá hạn")}.get(value, str(value))
    if key == "channel":
        return {1: _("Trực tiếp"), 2: _("Trực tuyến"), 3: _("Bưu chính")}.get(value, str(value))
    if isinstance(value, float | Decimal):
        return fmt_num(value, 1 if key == "share_percent" else 2)
    if isinstance(value, int):
        return fmt_num(value)
    return str(value)


@dataclass
class AuditPage:
    name: str
    detail: bool
    columns: tuple[str, ...]
    rows: list[dict[str, Any]]
    total: int
    page: int
    pages: int


@bp.get("/audits")
@bp.get("/audits.<fmt>")
@page_access
def audits(fmt: str | None = None):  # noqa: ANN201
    if fmt not in (None, "csv"):
        abort(404)
    c = read_choice(request.args, current_now(), grouping=False)
    name = request.args.get("audit", "")
    if not name and not c.errors:  # open on the first list that has rows
        ids = _unit_ids(c)
        name = next((a for a in AUDITS if audit_rows(a, c, ids)), AUDITS[0])
    name = name or AUDITS[0]
    if name not in AUDITS:
        c.errors.append(_("Danh sách kiểm tra: '%(v)s' không có.", v=name[:40]))
        name = "beyond-limit"
    detail = name == "beyond-limit" and request.args.get("detail", "") in ("1", "on", "true")
    ids = _unit_ids(c)
    if c.errors:
        if fmt:
            return bad_download(c.errors)
        return render_template("audits.html", c=c, audit=None, counts=None, labels=column_labels(),
                               name=name, detail=detail, units=_unit_choices()), 400
    rows = audit_rows(name, c, ids, detail=detail)
    columns = AUDIT_COLUMNS[(name, detail)]
    if fmt == "csv":
        suffix = "-chi-tiet" if detail else ""
        return attachment(audit_csv(rows, columns), f"kiem-tra-{FILE_AUDIT[name]}{suffix}-{c.start:%Y%m%d}-"
                                                     f"{c.end:%Y%m%d}.csv", "text/csv")
    counts = {a: len(audit_rows(a, c, ids)) for a in AUDITS}
    counts["beyond-limit-dossiers"] = sum(r["beyond_limit"] for r in audit_rows("beyond-limit", c, ids))
    try:
        page = max(1, int(request.args.get("page", "1")))
    except ValueError:
        page = 1
    pages = max(1, -(-len(rows) // PAGE_SIZE))
    page = min(page, pages)
    shown = rows[(page - 1) * PAGE_SIZE: page * PAGE_SIZE]
    cells = [{k: _cell_text(k, r.get(k)) for k in columns} for r in shown]
    audit = AuditPage(name, detail, columns, cells, len(rows), page, pages)
    return render_template("audits.html", c=c, audit=audit, counts=counts, labels=column_labels(), name=name,
                           detail=detail, units=_unit_choices(), numeric=NUMERIC,
                           as_of=evaluation_moment(c.start, c.end, c.moment))


def audit_csv(rows: list[dict[str, Any]], columns: tuple[str, ...], labels: dict[str, str] | None = None) -> str:
    """A list (an audit, a data-quality list) as CSV (UTF-8 with a BOM); cells through
    tracker.audits.cell (safe text)."""
    from tracker.audits import cell

    labels = labels or column_labels()
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow([labels[k] for k in columns])
    for r in rows:
        w.writerow([cell(r.get(k)) for k in columns])
    return "\ufeff" + buf.getvalue()
