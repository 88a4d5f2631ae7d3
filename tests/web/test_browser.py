"""Real-browser tests: Playwright driving Debian's chromium against the app on a real socket.

Skipped with a reason when /usr/bin/chromium or the playwright package is missing; CI sets
TRACKER_TEST_REQUIRE_BROWSER=1, which turns the skip into a failure. Screenshots go to
test-artifacts/. The browser and the server (`browser`, `live_url`) are shared by every browser
test of the session: tests/web/conftest.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.web.conftest import NOW, PASSWORD, _served, login, shot


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


# ----- admin pages (issue 4) -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def admin_live_url(browser, tmp_path_factory):
    """A small office of its own (the admin's changes stay out of the shared demo world)."""
    from tracker.config import load_settings
    from tracker.db import make_engine, upgrade
    from tracker.ingest import import_units
    from tracker.users import create_user
    from web import create_app

    tmp = tmp_path_factory.mktemp("admin-browser")
    url = f"sqlite:///{tmp / 'tthc.db'}"
    engine = make_engine(url)
    upgrade(engine)
    units = tmp / "units.csv"
    units.write_text("Mã đơn vị;Tên đơn vị;Mã đơn vị cha;Cấp\nU1;Sở A;;tinh\nU2;UBND xã B;U1;xa\n", encoding="utf-8")
    import_units(engine, units)
    create_user(engine, "root", "admin", PASSWORD)
    engine.dispose()
    settings = load_settings(env={}, overrides={"database.url": url, "paths.var_dir": str(tmp / "var")})
    app = create_app(settings, testing=True, now=lambda: NOW)
    yield from _served(app)


def test_admin_adds_a_user_and_edits_a_unit(browser, admin_live_url):
    base = admin_live_url
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    login(page, base, "root")
    page.click("nav >> text=Quản trị")
    page.wait_for_url(f"{base}/admin")
    page.click("#add-user")
    page.fill("input[name=username]", "thu")
    page.fill("input[name=display_name]", "Trần Thu")
    page.select_option("select[name=role]", "unit_head")
    page.fill("input[name=password]", "mật khẩu của Thu")
    page.fill("input[name=password2]", "mật khẩu của Thu")
    page.click("#save-user")
    assert "cần ít nhất một đơn vị" in page.locator("#form-errors").inner_text()
    assert page.input_value("input[name=username]") == "thu"  # the form is kept, the password is not
    assert page.input_value("input[name=password]") == ""
    shot(page, "20-admin-user-refused")
    page.select_option("select[name=units]", ["U1"])
    page.fill("input[name=password]", "mật khẩu của Thu")
    page.fill("input[name=password2]", "mật khẩu của Thu")
    page.click("#save-user")
    page.wait_for_url(f"{base}/admin")
    assert "Đã thêm người dùng thu." in page.locator(".flash").inner_text()
    assert "thu" in page.locator("#users-table").inner_text()
    page.click("#units-table >> tr:has-text('U2') >> text=Sửa")
    page.wait_for_url(f"{base}/admin/units/U2")
    page.fill("textarea[name=recipients]", "xa-b@example.vn; khong-phai-email")
    page.click("#save-unit")
    assert "'khong-phai-email' không phải địa chỉ email hợp lệ." in page.locator("#form-errors").inner_text()
    page.fill("textarea[name=recipients]", "xa-b@example.vn; chu-tich@example.vn")
    page.click("#save-unit")
    page.wait_for_url(f"{base}/admin")
    log = page.locator("#events-table").inner_text()
    assert "Thêm người dùng" in log and "Sửa đơn vị" in log and "0 → 2" in log
    shot(page, "21-admin-log")
    assert not [e for e in errors if "Content Security Policy" in e]
    context.close()


# ----- Báo cáo, Kiểm tra (issue 6) ----------------------------------------------------------------


def test_cchc_officer_reports_a_quarter(browser, live_url):
    """Open Báo cáo, pick a quarter and a grouping, download the Biểu 06 XLSX and check it holds the
    table's total; a bad date is refused on the page; the audits list links to dossiers."""
    import io

    from openpyxl import load_workbook

    from tracker.report_xlsx import FIRST_DATA

    context = browser.new_context(accept_downloads=True, viewport={"width": 1280, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    login(page, live_url, "cchc")
    page.click("#nav-reports")
    page.wait_for_url(f"{live_url}/reports")
    assert "01/11/2026" in page.locator("#report-period").inner_text()  # this month to date
    page.select_option("#period", "q3")
    page.fill("#year", "2026")
    page.select_option("#by", "field")
    page.click("#show")
    page.wait_for_url("**by=field**")
    assert "từ 01/07/2026 đến 30/09/2026" in page.locator("#report-period").inner_text()
    rows = page.locator("#report-table tbody tr")
    assert rows.count() >= 2
    total = page.locator("#total-row td").nth(2).inner_text()
    assert page.locator("#rate-chart rect").count() == rows.count()
    shot(page, "10-reports-quarter-by-field")
    with page.expect_download() as dl:
        page.click("#download-xlsx")
    assert dl.value.suggested_filename == "bao-cao-linh-vuc-20260701-20260930.xlsx"
    ws = load_workbook(io.BytesIO(Path(dl.value.path()).read_bytes())).active
    assert ws.cell(FIRST_DATA + rows.count(), 2).value == "Tổng cộng"
    assert f"{ws.cell(FIRST_DATA + rows.count(), 3).value:,}".replace(",", ".") == total
    page.select_option("#period", "range")
    page.fill("#from", "31/02/2026")
    page.fill("#to", "2026-03-31")
    page.click("#show")
    assert "Từ ngày: '31/02/2026' không phải ngày hợp lệ" in page.locator("#errors").inner_text()
    shot(page, "11-reports-bad-date")
    page.click("#nav-audits")
    page.click("#tab-no-apology")
    code = page.locator("#audit-table tbody tr a").first.inner_text()
    shot(page, "12-audits-no-apology")
    page.locator("#audit-table tbody tr a").first.click()
    page.wait_for_url(f"**/dossier/{code}")
    assert not [e for e in errors if "Content Security Policy" in e]
    context.close()
