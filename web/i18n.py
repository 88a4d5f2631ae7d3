"""Vietnamese by default, English by a switch: gettext catalogues through Flask-Babel.

The source strings (msgid) are the Vietnamese texts, written where they are used: `{{ _('Tổng quan') }}`
in templates, `_("…")` (flask_babel.gettext) in Python. English lives in
`web/translations/en/LC_MESSAGES/messages.po`. Where one Vietnamese word has two English meanings
("Quá hạn": overdue / late), the call carries a context: `pgettext('late', 'Quá hạn')`.

The .po catalogue is compiled to .mo when the app starts (into `<var_dir>/translations`, only when the
.po is newer), so a fresh clone needs no build step and no compiled file is committed.
tests/web/test_i18n.py extracts every marked string from the code and fails when one has no English
translation, when the catalogue keeps an entry nothing uses, or when placeholders differ.

Labels looked up by a code at run time (a status, a role, a class) are declared once in `LABELS` with
lazy strings, so extraction sees them; `label('status', 4)` renders one in the request's language.

To add or change strings:
    pybabel extract -F babel.cfg -k lazy_gettext -k lazy_pgettext:1c,2 -o /tmp/messages.pot .
    pybabel update -i /tmp/messages.pot -d web/translations --no-fuzzy-matching
then write the English in the .po file.
"""

from __future__ import annotations

import os
import tempfile
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import PoFileError, read_po
from flask import Flask, session
from flask_babel import Babel, LazyString, format_decimal, get_locale, lazy_gettext, lazy_pgettext

from tracker.files import private_dir

LANGS = ("vi", "en")
CATALOGUES = Path(__file__).parent / "translations"


def init_app(app: Flask, compiled_dir: Path) -> None:
    # absolute: Flask-Babel reads a relative translation folder against the app's package
    # directory (web/var/translations), not the working directory the catalogue was compiled in
    compiled_dir = Path(compiled_dir).resolve()
    compile_catalogues(CATALOGUES, compiled_dir)
    app.config["BABEL_DEFAULT_LOCALE"] = "vi"
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = str(compiled_dir)
    Babel(app, locale_selector=_select_locale)
    app.jinja_env.globals.update(lang=lang, label=label)
    app.jinja_env.filters.update(d=fmt_date, dt=fmt_dt, num=fmt_num, rate=fmt_rate)


def _select_locale() -> str:
    value = session.get("lang")
    return value if value in LANGS else "vi"


def compile_catalogues(source: Path, target: Path) -> None:
    """Each <lang>/LC_MESSAGES/*.po under `source` to the same path under `target` as .mo, when the .po is
    newer. Written to a temporary file and renamed, so workers starting together never read half a file."""
    for po in source.glob("*/LC_MESSAGES/*.po"):
        mo = target / po.relative_to(source).with_suffix(".mo")
        if mo.exists() and mo.stat().st_mtime >= po.stat().st_mtime:
            continue
        private_dir(mo.parent)  # under var/: if it creates var/, then 0700
        try:
            with po.open("rb") as f:
                catalog = read_po(f, abort_invalid=True)
        except PoFileError as exc:
            raise RuntimeError(f"{po}, line {exc.lineno + 1}: broken translation catalogue: {exc.line!r}") from exc
        fd, tmp = tempfile.mkstemp(dir=mo.parent, suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as out:
                write_mo(out, catalog)
            os.replace(tmp, mo)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


def lang() -> str:
    locale = get_locale()  # None outside a request
    return locale.language if locale is not None and locale.language in LANGS else "vi"


def label(family: str, code: object, **kw: object) -> str:
    """The label of a code in the request's language; the code itself when it has no label."""
    text = LABELS.get(family, {}).get(str(code))
    if text is None:
        return str(code)
    return str(text) % kw if kw else str(text)


def fmt_date(value: date | datetime | None) -> str:
    return value.strftime("%d/%m/%Y") if value else ""


def fmt_dt(value: datetime | None) -> str:
    return value.strftime("%d/%m/%Y %H:%M") if value else ""


def fmt_num(value: float | int | Decimal | None, places: int = 1) -> str:
    """1234.5 -> '1.234,5' in Vietnamese, '1,234.5' in English (Babel's locale data); halves round up,
    as the reports do."""
    if value is None:
        return "—"
    if isinstance(value, int):
        return format_decimal(value, format="#,##0")
    exact = Decimal(str(value)).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
    return format_decimal(exact, format="#,##0." + "0" * places if places else "#,##0")


def fmt_rate(value: Decimal | float | None) -> str:
    return "—" if value is None else fmt_num(value, 1) + "%"


LABELS: dict[str, dict[str, LazyString]] = {
    "role": {
        "admin": lazy_gettext("Quản trị"),
        "cchc": lazy_gettext("Cán bộ CCHC"),
        "unit_head": lazy_gettext("Lãnh đạo đơn vị"),
        "reception": lazy_gettext("Cán bộ Một cửa"),
    },
    "channel": {
        "1": lazy_gettext("Trực tiếp"),
        "2": lazy_gettext("Trực tuyến"),
        "3": lazy_gettext("Bưu chính"),
    },
    "status": {
        "1": lazy_gettext("Mới đăng ký"),
        "2": lazy_gettext("Được tiếp nhận"),
        "3": lazy_gettext("Không được tiếp nhận"),
        "4": lazy_pgettext("status_4", "Đang xử lý"),
        "5": lazy_gettext("Yêu cầu bổ sung giấy tờ"),
        "6": lazy_gettext("Yêu cầu thực hiện nghĩa vụ tài chính"),
        "7": lazy_gettext("Rút hồ sơ"),
        "8": lazy_gettext("Dừng xử lý"),
        "9": lazy_gettext("Đã xử lý xong"),
        "10": lazy_gettext("Đã trả kết quả"),
    },
    "kind": {
        "off": lazy_gettext("Nghỉ"),
        "work": lazy_gettext("Làm bù"),
    },
    "late": {
        "any": lazy_gettext("Quá hạn và sắp đến hạn"),
        "overdue": lazy_gettext("Chỉ quá hạn"),
        "at_risk": lazy_gettext("Chỉ sắp đến hạn"),
        "past_new": lazy_gettext("Quá cả hẹn trả mới"),
        "gt3": lazy_gettext("Quá hạn trên 3 ngày"),
        "gt7": lazy_gettext("Quá hạn trên 7 ngày"),
        "gt30": lazy_gettext("Quá hạn trên 30 ngày"),
        "gt_working_days": lazy_gettext("Quá hạn trên %(n)s ngày làm việc"),
    },
    "ev": {
        "submitted": lazy_gettext("Nộp hồ sơ"),
        "received": lazy_gettext("Tiếp nhận"),
        "supplement_requested": lazy_gettext("Yêu cầu bổ sung"),
        "resubmitted": lazy_gettext("Nhận hồ sơ bổ sung"),
        "apology": lazy_gettext("Phiếu xin lỗi, hẹn lại"),
        "due": lazy_gettext("Hẹn trả"),
        "finished": lazy_gettext("Kết thúc xử lý"),
        "returned": lazy_gettext("Trả kết quả"),
        "status": lazy_gettext("Trạng thái %(a)s → %(b)s"),
    },
    "mode": {
        "date": lazy_gettext("so sánh theo ngày"),
        "datetime": lazy_gettext("so sánh theo thời điểm"),
    },
    "flag": {
        "no_due": lazy_pgettext("flag_no_due", "Thiếu ngày hẹn trả"),
        "no_finished_at": lazy_gettext("Thiếu ngày kết thúc: lấy lúc hệ thống thấy trạng thái kết thúc"),
        "due_exceeds_limit": lazy_gettext("Hẹn trả vượt thời hạn quy định (%(h)s giờ làm việc)"),
        "late_without_apology": lazy_gettext("Quá hạn không xin lỗi"),
        "past_rescheduled_due": lazy_gettext("Quá cả ngày hẹn trả mới"),
    },
    "class": {
        "not_received": lazy_gettext("Chưa tiếp nhận"),
        "paused": lazy_gettext("Tạm dừng"),
        "within": lazy_gettext("Trong hạn"),
        "at_risk": lazy_gettext("Sắp đến hạn"),
        "overdue": lazy_pgettext("overdue", "Quá hạn"),
        "early": lazy_gettext("Trước hạn"),
        "on_time": lazy_gettext("Đúng hạn"),
        "late": lazy_pgettext("late", "Quá hạn"),
    },
    "level": {
        "tinh": lazy_gettext("Cấp tỉnh"),
        "huyen": lazy_gettext("Cấp huyện"),
        "xa": lazy_gettext("Cấp xã"),
    },
    "import": {
        "running": lazy_gettext("Đang nhập"),
        "done": lazy_gettext("Hoàn tất"),
        "partial": lazy_gettext("Có dòng bị loại"),
        "failed": lazy_gettext("Thất bại"),
        "busy": lazy_gettext("Nguồn đang bận"),
        "dry-run": lazy_gettext("Chạy thử"),
    },
    "period": {
        "month_to_date": lazy_gettext("Tháng này"),
        "quarter_to_date": lazy_gettext("Quý này"),
        "year_to_date": lazy_gettext("Từ đầu năm"),
    },
}
