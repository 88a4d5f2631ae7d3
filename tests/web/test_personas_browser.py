"""What each persona sees (issue 14's "done when"): every page it may open, at 1366×768 and 390×844,
in Vietnamese and in English, through the shared browser and server (tests/web/conftest.py, served
from a directory of its own with the default relative var dir). On every page:

- nothing scrolls sideways (tables scroll inside their own box); on a phone the header is one line
  and chart labels are at least 11 px;
- no label of the catalogue is left in the other language: in English no text equals a Vietnamese
  msgid, in Vietnamese none equals an English msgstr (data, marked translate="no", aside: a field
  may be called "Bưu chính"); headings, the menu and buttons are English;
- no link leads to a page that answers 403;
- lateness reads in working days (hours only under one working day).

Screenshots of each go to test-artifacts/personas/.
"""

from __future__ import annotations

import re
from urllib.parse import urljoin, urlsplit

import pytest

from tests.web.conftest import NOW, login, shot
from tests.web.test_i18n import catalogue
from web.access import may_open

PERSONAS = ("reception", "head", "cchc", "admin")
VIEWPORTS = {"wide": {"width": 1366, "height": 768}, "phone": {"width": 390, "height": 844}}
PAGES = (  # endpoint, path ("{unit}" and "{dossier}" are read from the persona's own pages)
    ("views.overview", "/"), ("views.overdue", "/overdue"), ("views.units", "/units"), ("views.unit", "/unit/{unit}"),
    ("views.dossier", "/dossier/{dossier}"), ("reports.reports", "/reports"), ("reports.scores", "/scores"),
    ("reports.audits", "/audits"), ("views.imports", "/imports"), ("views.calendar", "/calendar"),
    ("admin.index", "/admin"), ("calendar_admin.index", "/admin/calendar"), ("quality.index", "/quality"),
    ("quality.reconcile", "/scores/reconcile"),
)
VIETNAMESE_LABELS = ("Tổng quan", "Quá hạn và sắp đến hạn", "Báo cáo", "Lịch làm việc", "Đăng xuất", "Danh mục",
                     "Bộ lọc", "Lọc", "Xem", "Mã hồ sơ", "Thủ tục", "Phân loại", "Mức trễ", "Đơn vị")
ENGLISH_NAV = ("Overview", "Overdue and at risk", "Calendar")
LATE = {"vi": re.compile(r"^(trễ|còn) (\d+(?:,\d)?) (ngày|giờ) làm việc$|^đến hạn trong hôm nay$"),
        "en": re.compile(r"^(\d+(?:\.\d)?) working (days?|hours) (late|left)$|^due today$")}
TEXTS = """() => {
  const out = [];
  const walk = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  while (walk.nextNode()) {
    const n = walk.currentNode, el = n.parentElement;
    if (!el || el.closest('script,style,title,svg,[translate=no]')) continue;  // data: names of units, fields
    const t = n.textContent.trim();
    if (t) out.push(t);
  }
  document.querySelectorAll('input[placeholder]').forEach(i => out.push(i.placeholder.trim()));
  return out;
}"""


CHART_LABELS = """() => Math.min(99, ...[...document.querySelectorAll('svg')]
  .filter(s => s.getBoundingClientRect().width > 0)
  .flatMap(s => [...s.querySelectorAll('text')]
    .map(t => parseFloat(t.getAttribute('font-size')) * s.getScreenCTM().a)))"""


@pytest.fixture(scope="module")
def labels():
    """Catalogue labels without placeholders whose two languages differ: msgid -> msgstr."""
    out = {}
    for m in catalogue():
        if m.id and m.string and "%" not in m.id and m.id != m.string:
            out[m.id] = m.string
    return out


def _texts(page) -> list[str]:  # noqa: ANN001
    return page.evaluate(TEXTS)


def _check_links(page, base: str, seen: dict[str, int]) -> list[str]:  # noqa: ANN001
    bad = []
    for href in page.eval_on_selector_all("a[href]", "els => els.map(e => e.getAttribute('href'))"):
        url = urljoin(page.url, href)
        parts = urlsplit(url)
        if not url.startswith(base) or parts.path.startswith("/static/"):
            continue
        key = parts.path
        if key not in seen:
            seen[key] = page.request.get(url, max_redirects=0).status
        if seen[key] == 403:
            bad.append(href)
    return bad


@pytest.mark.parametrize("persona", PERSONAS)
def test_every_page_a_persona_may_open(browser, live_url, labels, persona):
    role = {"reception": "reception", "head": "unit_head", "cchc": "cchc", "admin": "admin"}[persona]
    english_of = labels
    vietnamese_of = {en: vi for vi, en in labels.items()}
    problems: list[str] = []
    links: dict[str, int] = {}
    for size, viewport in VIEWPORTS.items():
        context = browser.new_context(viewport=viewport, is_mobile=size == "phone")
        page = context.new_page()
        login(page, live_url, persona)
        page.goto(f"{live_url}/units")
        unit = page.locator("#units-table tbody a").first.get_attribute("href").rsplit("/", 1)[1]
        page.goto(f"{live_url}/overdue")
        dossier = page.locator("#overdue-table tbody a").first.get_attribute("href").split("/dossier/", 1)[1]
        for lang in ("vi", "en"):
            if lang == "en":
                page.click("#lang-switch")
                page.wait_for_load_state()
            for endpoint, path in PAGES:
                if not may_open(endpoint, role):
                    continue
                where = f"{persona} {size} {lang} {path}"
                resp = page.goto(live_url + path.format(unit=unit, dossier=dossier))
                assert resp.status == 200, where
                assert page.locator("html").get_attribute("lang") == lang, where
                width = page.evaluate("document.documentElement.scrollWidth")
                if width > viewport["width"]:
                    problems.append(f"{where}: scrolls sideways ({width} px)")
                if size == "phone" and page.locator("header.top").bounding_box()["height"] > 48:
                    problems.append(f"{where}: the header takes more than one line")
                if size == "phone" and (small := page.evaluate(CHART_LABELS)) < 11:
                    problems.append(f"{where}: chart labels of {small:.1f} px")
                texts = _texts(page)
                if lang == "en":
                    left = sorted({t for t in texts if t in english_of})
                    if left:
                        problems.append(f"{where}: untranslated {left}")
                    heading = page.locator("h1").first.inner_text()
                    if page.locator("h1[translate=no]").count():  # a unit's name
                        heading = "Unit"
                    if any(vi in heading for vi in VIETNAMESE_LABELS) or not re.search(r"[A-Za-z]{3}", heading):
                        problems.append(f"{where}: heading {heading!r}")
                    menu = " ".join(page.locator("header.top").all_text_contents())  # the phone's is folded
                    if not all(w in menu for w in ENGLISH_NAV) or "Log out" not in menu:
                        problems.append(f"{where}: menu {menu!r}")
                else:
                    english = sorted({t for t in texts if t in vietnamese_of and t not in english_of})
                    if english:
                        problems.append(f"{where}: English in the Vietnamese page {english}")
                for cell in page.locator("td.late, #lateness").all_inner_texts():
                    m = LATE[lang].match(cell.strip())
                    if not m:
                        problems.append(f"{where}: lateness {cell!r}")
                    elif ("giờ" in cell or "hours" in cell) and float(
                            re.search(r"\d+(?:[.,]\d)?", cell).group().replace(",", ".")) >= 8:
                        problems.append(f"{where}: {cell!r} is a working day or more: say it in days")
                if lang == "vi" and size == "wide":
                    problems += [f"{where}: links to a 403 page: {h}" for h in _check_links(page, live_url, links)]
                name = re.sub(r"[^a-z0-9]+", "-", path.split("{")[0].strip("/")) or "overview"
                shot(page, f"personas/{persona}-{size}-{lang}-{name}", full_page=False)  # what a person sees first
        context.close()
    assert not problems, "\n".join(problems)


def test_the_morning_digests_fit_a_phone(browser, world):
    """A unit's digest and the CCHC summary at 390 px: nothing sideways, at most 10 rows a section."""
    from jobs.digest import build_digests
    from tracker.config import load_settings
    from tracker.db import make_engine

    engine = make_engine(world["url"])
    settings = load_settings(env={}, overrides={"database.url": world["url"],
                                                "digest.cchc_recipients": ["ksthc@sonha.gov.vn"]})
    run = build_digests(engine, settings, NOW.date())
    engine.dispose()
    unit = max((d for d in run.digests if d.scope != "all"), key=lambda d: len(d.rendered.html))
    summary = next(d for d in run.digests if d.scope == "all")
    page = browser.new_page(viewport=VIEWPORTS["phone"], is_mobile=True)
    for name, dg in (("unit", unit), ("summary", summary)):
        page.set_content(dg.rendered.html)
        assert page.evaluate("document.documentElement.scrollWidth") <= 390, name
        shot(page, f"personas/digest-{name}-phone")
    page.close()
