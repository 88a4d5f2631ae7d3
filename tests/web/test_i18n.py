"""The gettext catalogue is the specification of the English interface: every string the code marks for
translation has its English, nothing in the catalogue is dead, placeholders agree; the compiled catalogue
is what the app serves; numbers follow the language (decimal comma in Vietnamese)."""

from __future__ import annotations

import re
import time
from decimal import Decimal
from pathlib import Path

import pytest
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.pofile import read_po
from flask import Flask, session
from flask_babel import refresh

from tests.web.conftest import csrf
from web import i18n

ROOT = Path(__file__).resolve().parents[2]
PO = ROOT / "web" / "translations" / "en" / "LC_MESSAGES" / "messages.po"
KEYWORDS = {**DEFAULT_KEYWORDS, "lazy_gettext": None, "lazy_pgettext": ((1, "c"), 2)}
METHODS = [("web/**.py", "python"), ("templates/**.html", "jinja2")]


def marked_strings() -> dict[tuple[str | None, str], str]:
    """(context, msgid) -> where, for every string marked in the web code and the page templates."""
    found = {}
    for fname, lineno, message, _comments, context in extract_from_dir(
            str(ROOT), METHODS, {"templates/**.html": {"extensions": "jinja2.ext.i18n"}}, KEYWORDS):
        msgid = message if isinstance(message, str) else message[0]
        found.setdefault((context, msgid), f"{fname}:{lineno}")
    return found


def catalogue():  # noqa: ANN201
    with PO.open("rb") as f:
        return read_po(f, abort_invalid=True)


def test_every_marked_string_has_english_and_no_entry_is_dead():
    marked = marked_strings()
    entries = {(m.context, m.id): m.string for m in catalogue() if m.id}
    assert len(marked) > 100  # the extractor really looked at the code
    missing = [f"{where}: {key}" for key, where in marked.items() if not entries.get(key)]
    dead = [key for key in entries if key not in marked]
    assert not missing, "strings without English (add them to messages.po):\n" + "\n".join(missing)
    assert not dead, f"catalogue entries nothing uses: {dead}"


def test_placeholders_agree_between_languages():
    for m in catalogue():
        if m.id:
            assert sorted(re.findall(r"%\((\w+)\)s", m.id)) == sorted(re.findall(r"%\((\w+)\)s", m.string)), m.id


def test_the_catalogue_is_compiled_once_and_again_when_it_changes(tmp_path):
    src = tmp_path / "src" / "en" / "LC_MESSAGES"
    src.mkdir(parents=True)
    po = src / "messages.po"
    po.write_bytes(PO.read_bytes())
    out = tmp_path / "out"
    i18n.compile_catalogues(tmp_path / "src", out)
    mo = out / "en" / "LC_MESSAGES" / "messages.mo"
    first = mo.stat().st_mtime_ns
    i18n.compile_catalogues(tmp_path / "src", out)
    assert mo.stat().st_mtime_ns == first  # up to date: left alone
    time.sleep(0.01)
    po.write_text(po.read_text(encoding="utf-8").replace('msgstr "Overview"', 'msgstr "Summary"'), encoding="utf-8")
    i18n.compile_catalogues(tmp_path / "src", out)
    assert b"Summary" in mo.read_bytes()


def test_a_broken_catalogue_stops_the_app_with_a_clear_error(tmp_path):
    src = tmp_path / "src" / "en" / "LC_MESSAGES"
    src.mkdir(parents=True)
    (src / "messages.po").write_text('msgid "a"\nmsgstr "b"\nfoo bar\n', encoding="utf-8")
    with pytest.raises(RuntimeError, match=r"messages\.po, line 3: broken translation catalogue: 'foo bar'"):
        i18n.compile_catalogues(tmp_path / "src", tmp_path / "out")


@pytest.fixture
def bare_app(tmp_path) -> Flask:
    app = Flask(__name__)
    app.config["SECRET_KEY"] = "x"
    i18n.init_app(app, tmp_path / "translations")
    return app


@pytest.mark.parametrize(("lang", "expected"), [
    ("vi", ["1.234,5", "98,3", "0,1", "1.234.567", "—", "98,3%"]),
    ("en", ["1,234.5", "98.3", "0.1", "1,234,567", "—", "98.3%"]),
])
def test_numbers_follow_the_language_and_halves_round_up(bare_app, lang, expected):
    with bare_app.test_request_context("/"):
        session["lang"] = lang
        got = [i18n.fmt_num(1234.5), i18n.fmt_num(Decimal("98.25")), i18n.fmt_num(0.05), i18n.fmt_num(1234567),
               i18n.fmt_num(None), i18n.fmt_rate(Decimal("98.25"))]
    assert got == expected


def test_labels_by_code_in_both_languages(bare_app):
    with bare_app.test_request_context("/"):
        assert i18n.lang() == "vi"
        assert i18n.label("status", 5) == "Yêu cầu bổ sung giấy tờ"
        assert i18n.label("class", "late") == "Quá hạn"
        session["lang"] = "en"
        refresh()  # the locale is chosen once per request; a new request would choose again
        assert i18n.lang() == "en"
        assert i18n.label("status", 5) == "Waiting for a supplement"
        assert i18n.label("class", "late") == "Late"  # same Vietnamese word, told apart by context
        assert i18n.label("class", "overdue") == "Overdue"
        assert (i18n.label("flag", "due_exceeds_limit", h="2.5")
                == "Appointment beyond the legal limit (2.5 working hours)")
        assert i18n.label("status", 99) == "99"  # a code with no label shows itself


def test_an_unknown_language_in_the_session_falls_back_to_vietnamese(bare_app):
    with bare_app.test_request_context("/"):
        session["lang"] = "fr"
        assert i18n.lang() == "vi"


def test_every_page_speaks_english_after_the_switch(client_for):
    c = client_for("admin")
    c.post("/lang", data={"lang": "en", "next": "/", "csrf_token": csrf(c)})
    for path in ("/", "/overdue", "/units", "/imports", "/calendar", "/admin", "/reports", "/scores", "/audits"):
        html = c.get(path).text
        assert 'lang="en"' in html, path
        for vi in ("Tổng quan", "Đăng xuất", "Lịch làm việc", "Báo cáo"):  # the navigation, everywhere
            assert vi not in html, (path, vi)


def test_english_works_with_a_relative_var_dir_from_another_directory(world, tmp_path, monkeypatch):
    """The default `paths.var_dir` is relative ("var"): the compiled catalogue lands under the working
    directory, and Flask-Babel must look there, not under the web package (issue 14)."""
    from tracker.config import load_settings
    from web import create_app

    monkeypatch.chdir(tmp_path)
    settings = load_settings(env={}, overrides={"database.url": world["url"], "paths.var_dir": "var"})
    app = create_app(settings, testing=True)
    c = app.test_client()
    c.post("/lang", data={"lang": "en", "next": "/login", "csrf_token": csrf(c)})
    html = c.get("/login").text
    assert 'lang="en"' in html
    assert "Log in" in html and "Đăng nhập" not in html
    app.extensions["tthc_engine"].dispose()
