"""Issue 17: no page shows data older than the last committed import, whichever process committed it.

The dashboard's caches (web.cache) key on the data version (tracker.data_version), bumped in the
transaction that ends an import run, a units import, a refresh or a unit's edit: the next request
reads what was committed, with the caches on (not only in tests, where the list cache is off).
"""

from __future__ import annotations

import re
from datetime import datetime

import pytest

from tests.conftest import write_export
from tests.web.conftest import PASSWORD, csrf
from tracker import data_version
from tracker.config import load_settings
from tracker.db import make_engine
from tracker.ingest import import_file, import_units
from tracker.users import create_user, update_unit

NOW = datetime(2026, 3, 13, 10, 0)  # a Friday


def _row(code: str, unit: str) -> list[str]:
    # received Mon 2 Mar 08:00, due Thu 5 Mar: overdue on the 13th
    return ["1", code, "1.1", "Đăng ký khai sinh", "Hộ tịch", unit, "Trần Thị B", "0912000000", "Trực tiếp",
            "02/03/2026 08:00:00", "05/03/2026 08:00:00", "", "", "Đang xử lý", "3 ngày làm việc"]


@pytest.fixture
def admin_client(db_url, tmp_path):
    from web import create_app

    settings = load_settings(env={}, overrides={"database.url": db_url, "paths.var_dir": str(tmp_path / "var")})
    engine = make_engine(db_url)
    create_user(engine, "admin", "admin", PASSWORD)
    import_file(engine, settings, write_export(tmp_path / "first.csv", [_row("HS-A", "UBND xã An Bình")]))
    app = create_app(settings, testing=True, now=lambda: NOW)
    app.config["TTHC_LIST_CACHE_SECONDS"] = 3600  # the caches on, as in production
    c = app.test_client()
    c.post("/login", data={"username": "admin", "password": PASSWORD, "csrf_token": csrf(c)})
    yield c, engine, settings
    app.extensions["tthc_engine"].dispose()
    engine.dispose()


def _overdue_count(page: str) -> int:
    return int(re.search(r'id="count-overdue">([\d.]+)<', page).group(1).replace(".", ""))


def test_a_page_shows_an_import_another_process_committed_at_once(admin_client, tmp_path):
    c, engine, settings = admin_client
    assert "UBND xã Cẩm Hà" not in c.get("/units").text
    first = _overdue_count(c.get("/").text)
    assert first == 1
    before = data_version.current(engine)
    # the scheduler's import, in another process: nothing tells this app but the database
    res = import_file(engine, settings, write_export(tmp_path / "more.csv", [_row("HS-B", "UBND xã Cẩm Hà")]))
    assert res.status == "done" and res.new_units
    assert data_version.current(engine) != before
    assert "UBND xã Cẩm Hà" in c.get("/units").text  # the unit tree was cached for a minute before
    assert _overdue_count(c.get("/").text) == 2
    assert "HS-B" in c.get("/overdue").text


def test_a_units_import_and_a_units_edit_show_at_once(admin_client, tmp_path):
    c, engine, _ = admin_client
    assert "UBND xã An Bình" in c.get("/units").text
    units = tmp_path / "units.csv"
    units.write_text("code,name\nHUYEN,UBND huyện Sơn Hà\n", encoding="utf-8")
    import_units(engine, units)
    assert "UBND huyện Sơn Hà" in c.get("/units").text
    update_unit(engine, "HUYEN", name="UBND huyện Sơn Hà Mới", recipients="", actor="admin")
    assert "UBND huyện Sơn Hà Mới" in c.get("/units").text


def test_a_failed_dry_run_or_a_rejected_file_leaves_the_version(admin_client, tmp_path):
    _, engine, settings = admin_client
    before = data_version.current(engine)
    assert import_file(engine, settings, write_export(tmp_path / "d.csv", [_row("HS-C", "X")]),
                       dry_run=True).status == "dry-run"
    assert import_file(engine, settings, tmp_path / "nowhere.csv").status == "failed"
    assert data_version.current(engine) == before
