"""The admin's calendar page: decreed days off and make-up working days (tracker.calendar_days).

Each change is logged in admin_event and recomputes the dossiers derived with the old calendar; the
page says how many of them moved (due or result class changed)."""

from __future__ import annotations

from datetime import date

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from tracker.calendar_days import CalendarDayError, add_day, coverage, entered_days, recompute, remove_day
from web import current_now
from web.auth import current_user, engine, roles_required

bp = Blueprint("calendar_admin", __name__, url_prefix="/admin/calendar")


def _settings():  # noqa: ANN202
    return current_app.config["TTHC_SETTINGS"]


def _message(exc: CalendarDayError) -> str:
    return {
        "bad_kind": _("Loại ngày không hợp lệ: %(v)s.", v=exc.value),
        "no_reference": _("Cần ghi số, ký hiệu văn bản quyết định."),
        "too_long": _("Số hiệu văn bản tối đa 200 ký tự, ghi chú tối đa 500 ký tự."),
        "off_weekend": _("%(v)s là ngày cuối tuần: ngày nghỉ phải là ngày trong tuần.", v=exc.value),
        "work_weekday": _("%(v)s là ngày trong tuần: ngày làm bù phải là thứ Bảy hoặc Chủ nhật.", v=exc.value),
        "duplicate": _("Ngày %(v)s đã được nhập; xoá ngày đó trước.", v=exc.value),
    }.get(exc.reason, str(exc))


def _recomputed(what: str, day: date) -> None:
    n, moved = recompute(engine(), _settings(), [day])
    flash(_("%(what)s Đã tính lại %(n)s hồ sơ; %(m)s hồ sơ thay đổi hạn xử lý hoặc kết quả.", what=what, n=n, m=moved))


@bp.get("")
@roles_required("admin")
def index():  # noqa: ANN201
    today = current_now().date()
    return render_template("admin_calendar.html", days=entered_days(engine()), form={}, errors=[],
                           coverage=coverage(engine(), _settings(), today))


@bp.post("")
@roles_required("admin")
def add():  # noqa: ANN201
    form = {k: request.form.get(k, "").strip() for k in ("day", "kind", "reference", "note")}
    try:
        day = date.fromisoformat(form["day"])
    except ValueError:
        errors = [_("Ngày không hợp lệ: %(v)s (cần YYYY-MM-DD).", v=form["day"])]
    else:
        try:
            add_day(engine(), day, form["kind"], form["reference"], note=form["note"], actor=current_user.username)
        except CalendarDayError as exc:
            errors = [_message(exc)]
        else:
            _recomputed(_("Đã thêm ngày %(d)s.", d=day.strftime("%d/%m/%Y")), day)
            return redirect(url_for("calendar_admin.index"))
    today = current_now().date()
    return render_template("admin_calendar.html", days=entered_days(engine()), form=form, errors=errors,
                           coverage=coverage(engine(), _settings(), today)), 400


@bp.post("/<day>/delete")
@roles_required("admin")
def delete(day: str):  # noqa: ANN201
    try:
        d = date.fromisoformat(day)
    except ValueError:
        d = None
    if d is None or not remove_day(engine(), d, actor=current_user.username):
        flash(_("Không có ngày %(v)s trong danh sách.", v=day))
        return redirect(url_for("calendar_admin.index"))
    _recomputed(_("Đã xoá ngày %(d)s.", d=d.strftime("%d/%m/%Y")), d)
    return redirect(url_for("calendar_admin.index"))
