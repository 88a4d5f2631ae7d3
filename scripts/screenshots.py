"""`make screenshots`: the README's screenshots, taken from the demo province in a real browser.

Builds the demo (the same files `tthc demo` imports, as of now, like `make demo`) in a temporary
directory; serves it; and photographs, with Debian's chromium
(/usr/bin/chromium) through Playwright: the overview, the desk's list on a phone, a dossier, the
report, and a morning digest on a phone. Writes docs/screenshots/*.png.
"""

from __future__ import annotations

import sys
import tempfile
import threading
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from cli.demo import DEMO_USERS, create_demo_users, demo_settings  # noqa: E402
from tracker.config import load_settings  # noqa: E402
from tracker.db import make_engine, upgrade  # noqa: E402
from tracker.demo import build_demo_files  # noqa: E402
from tracker.ingest import import_file, import_procedures, import_units  # noqa: E402

NOW = datetime.now().replace(second=0, microsecond=0)
OUT = ROOT / "docs" / "screenshots"
CHROMIUM = "/usr/bin/chromium"
WIDE, PHONE = {"width": 1366, "height": 768}, {"width": 390, "height": 844}
PASSWORDS = {username: password for username, _, password, _ in DEMO_USERS}


def build(tmp: Path):  # noqa: ANN201
    url = f"sqlite:///{tmp / 'demo.db'}"
    settings = demo_settings(load_settings(env={}, overrides={"database.url": url, "paths.var_dir": str(tmp / "var")}))
    engine = make_engine(url)
    upgrade(engine)
    files = build_demo_files(tmp / "demo", today=NOW.date(), now=NOW, per_month=1500, months=13)
    import_units(engine, files.units)
    import_procedures(engine, files.procedures)
    import_file(engine, settings, files.dossiers, source="demo")
    create_demo_users(engine)
    return engine, settings


def serve(settings):  # noqa: ANN001, ANN201
    import logging

    from werkzeug.serving import make_server

    from web import create_app

    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    app = create_app(settings, testing=True)  # the real clock: the import happened after NOW
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_port}"


def main() -> int:
    from playwright.sync_api import sync_playwright

    from jobs.digest import build_digests

    if not Path(CHROMIUM).exists():
        print(f"{CHROMIUM} not installed (apt-get install chromium)", file=sys.stderr)
        return 1
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        print("building the demo province …", flush=True)
        engine, settings = build(Path(tmp))
        server, base = serve(settings)
        digest = next(d for d in build_digests(engine, settings, NOW.date()).digests if d.name == "Sở Xây dựng")
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=["--headless", "--no-sandbox"])

            def page_for(user: str, viewport: dict):  # noqa: ANN202
                page = browser.new_context(viewport=viewport, is_mobile=viewport is PHONE).new_page()
                page.goto(f"{base}/login")
                page.fill("input[name=username]", user)
                page.fill("input[name=password]", PASSWORDS[user])
                page.click("button[type=submit]")
                page.wait_for_url(f"{base}/")
                return page

            cchc = page_for("cchc", WIDE)
            cchc.screenshot(path=str(OUT / "overview.png"))
            cchc.goto(f"{base}/reports?period=q3&year=2026")
            cchc.screenshot(path=str(OUT / "report.png"))
            desk = page_for("motcua", PHONE)
            desk.goto(f"{base}/overdue")
            desk.screenshot(path=str(OUT / "desk-list-phone.png"))
            code = desk.locator("#overdue-table tbody a").first.get_attribute("href")
            wide = page_for("motcua", WIDE)
            wide.goto(base + code)
            wide.screenshot(path=str(OUT / "dossier.png"))
            mail = browser.new_page(viewport=PHONE, is_mobile=True)
            mail.set_content(digest.rendered.html)
            mail.screenshot(path=str(OUT / "digest-phone.png"))
            browser.close()
        server.shutdown()
        engine.dispose()
    for png in sorted(OUT.glob("*.png")):
        print(f"{png.relative_to(ROOT)}: {png.stat().st_size // 1024} KB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
