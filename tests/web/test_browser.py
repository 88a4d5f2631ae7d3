"""Real-browser tests: Playwright driving Debian's chromium against the app on a real socket.

Skipped with a reason when /usr/bin/chromium or the playwright package is missing; CI sets
TRACKER_TEST_REQUIRE_BROWSER=1, which turns the skip into a failure. Screenshots go to
test-artifacts/.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from tests.web.conftest import NOW, PASSWORD

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]


def _unavailable() -> str | None:
    if not Path(CHROMIUM).exists():
        return f"{CHROMIUM} not installed (apt-get install -y chromium)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright package is not installed (pip install -e '.[test]')"
    return None


@pytest.fixture(scope="module")
def live_url(world):
    reason = _unavailable()
    if reason:
        if os.environ.get("TRACKER_TEST_REQUIRE_BROWSER"):
            pytest.fail(f"browser tests required: {reason}")
        pytest.skip(reason)
    from werkzeug.serving import make_server

    from web import create_app

    # testing=True: reports computed in the request, not in background threads outliving the test
    app = create_app(world["settings"], testing=True, now=lambda: NOW)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(5)
    server.server_close()
    app.extensions["tthc_engine"].dispose()


@pytest.fixture(scope="module")
def browser(live_url):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


def shot(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def login(page, base: str, username: str) -> None:
    page.goto(f"{base}/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/")


def test_reception_desk_day(browser, live_url):
    """Log in, filter the overdue list, open a dossier, export, switch language."""
    context = browser.new_context(accept_downloads=True, viewport={"width": 1280, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    login(page, live_url, "reception")
    shot(page, "01-overview")
    page.click("text=Quá hạn và sắp đến hạn")
    page.select_option("select[name=how_late]", "overdue")
    page.click("#apply-filters")
    page.wait_for_url("**how_late=overdue**")
    rows = page.locator("#overdue-table tbody tr")
    assert rows.count() >= 1 and "Quá hạn" in rows.first.inner_text()
    shot(page, "02-overdue-filtered")
    code = page.locator("#overdue-table tbody tr a").first.inner_text()
    with page.expect_download() as dl:
        page.click("#export-csv")
    data = Path(dl.value.path()).read_text(encoding="utf-8-sig")
    assert code in data
    with page.expect_download() as dl:
        page.click("#export-xlsx")
    assert dl.value.suggested_filename.endswith(".xlsx")
    page.locator("#overdue-table tbody tr a").first.click()
    page.wait_for_url(f"**/dossier/{code}")
    assert page.locator("#class").inner_text() == "Quá hạn"
    shot(page, "03-dossier")
    page.click("#lang-switch")
    page.wait_for_url(f"**/dossier/{code}")
    assert page.locator("#class").inner_text() == "Overdue"
    assert page.locator("html").get_attribute("lang") == "en"
    shot(page, "04-dossier-en")
    assert not [e for e in errors if "Content Security Policy" in e]
    context.close()


def test_phone_layout(browser, live_url):
    context = browser.new_context(viewport={"width": 375, "height": 740}, is_mobile=True)
    page = context.new_page()
    login(page, live_url, "head")
    page.goto(f"{live_url}/overdue")
    assert page.evaluate("document.documentElement.scrollWidth") <= 380  # tables scroll inside their box
    shot(page, "05-phone-overdue")
    page.emulate_media(media="print")
    assert page.locator("header.top").is_hidden()
    context.close()
