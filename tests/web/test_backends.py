"""The web layer on both databases (SQLite and PostgreSQL): upload a file as a CCHC officer, see
the run and its rejected rows, the list, the dossier and the API."""

from __future__ import annotations

import io
from datetime import datetime

from sqlalchemy import select

from tests.conftest import write_export
from tests.web.conftest import PASSWORD, csrf
from tracker.models import Unit
from tracker.users import create_token, create_user
from web import create_app

UNIT = "UBND phường Bình Minh"
NOW = datetime(2026, 3, 10, 9, 0)


def test_upload_list_dossier_and_api(settings, engine, no_users, tmp_path):
    create_user(engine, "cchc", "cchc", PASSWORD)
    path = write_export(tmp_path / "x.csv", [
        ["1", "HS-1", "1.1", "Đăng ký khai sinh", "Hộ tịch", UNIT, "Trần Thị B", "0912000000", "Trực tiếp",
         "02/03/2026 08:00:00", "05/03/2026 08:00:00", "", "", "Đang xử lý", "3 ngày làm việc"],
        ["2", "HS-2", "1.1", "Đăng ký khai sinh", "Hộ tịch", UNIT, "=cmd()", "", "Trực tuyến",
         "09/03/2026 09:00:00", "", "", "", "Đang xử lý", "1 ngày làm việc"],
        ["3", "HS-3", "1.1", "Đăng ký khai sinh", "Hộ tịch", UNIT, "X", "", "Trực tuyến",
         "not a date", "", "", "", "Đang xử lý", "1 ngày làm việc"],
    ])
    app = create_app(settings, testing=True, now=lambda: NOW)
    c = app.test_client()
    c.post("/login", data={"username": "cchc", "password": PASSWORD, "csrf_token": csrf(c)})
    resp = c.post("/imports", data={"csrf_token": csrf(c), "file": (io.BytesIO(path.read_bytes()), "x.csv")},
                  content_type="multipart/form-data", follow_redirects=True)
    assert resp.status_code == 200 and "x.csv" in resp.text
    runs = c.get("/imports").text
    assert "/rejected.csv" in runs and "upload" in runs
    run_id = runs.split("/imports/")[1].split("/")[0]
    rejected = c.get(f"/imports/{run_id}/rejected.csv").text
    assert "not a date" in rejected
    listing = c.get("/overdue").text
    assert "HS-1" in listing and "HS-2" in listing  # overdue since 5 Mar; due 10 Mar 09:00: at risk
    assert "T*** B**" not in listing and "Chủ hồ sơ" not in listing  # CCHC sees names masked: no such column
    listed = c.get("/overdue.csv").text
    assert "***" not in listed and "=cmd" not in listed and "Chủ hồ sơ" not in listed.splitlines()[0]
    page = c.get("/dossier/HS-1").text
    assert "Trần T*** B**" in page and "T*** T** B**" not in page  # masked there, the NFC name whole
    assert "Quá hạn" in page and "05/03/2026 08:00" in page
    with engine.connect() as conn:
        unit = conn.execute(select(Unit.code).where(Unit.name == UNIT)).scalar_one()
    assert c.get(f"/unit/{unit}").status_code == 200
    from sqlalchemy import select as sel

    from tracker.users import User

    with engine.connect() as conn:
        uid = conn.execute(sel(User.id).where(User.username == "cchc")).scalar_one()
    token = create_token(engine, uid)
    api = app.test_client().get("/api/v1/overdue", headers={"Authorization": f"Bearer {token}"}).get_json()
    assert [(i["code"], i["class"]) for i in api["items"]] == [("HS-1", "overdue"), ("HS-2", "at_risk")]
    app.extensions["tthc_engine"].dispose()
