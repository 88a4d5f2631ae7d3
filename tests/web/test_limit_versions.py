"""The dossier page says which time limit a dossier is held to: its procedure's version in force
on its receipt date, with that version's date."""

from __future__ import annotations

from tests.conftest import write_export
from tests.web.conftest import NOW, PASSWORD, csrf
from tracker.ingest import import_file, import_procedures
from tracker.users import create_user

HEADER = ["Mã TTHC", "Tên thủ tục hành chính", "Thời hạn giải quyết", "Ngày áp dụng"]


def test_the_dossier_page_names_the_version_used(engine, settings, tmp_path, no_users):
    from web import create_app

    import_procedures(engine, write_export(tmp_path / "p.csv", [["1.1", "Đăng ký khai sinh", "15 ngày làm việc", ""],
                                                                ["1.1", "Đăng ký khai sinh", "10 ngày làm việc",
                                                                 "01/11/2026"]], header=HEADER))
    rows = [[str(i), code, "1.1", "Đăng ký khai sinh", "Hộ tịch", "Sở Tư pháp", "", "", "Trực tiếp", received, "",
             "", "", "Đang xử lý", limit]
            for i, (code, received, limit) in enumerate((("OCT", "12/10/2026 09:00:00", ""),
                                                         ("NOV", "02/11/2026 09:00:00", ""),
                                                         ("OWN", "02/11/2026 09:00:00", "20 ngày làm việc")), 1)]
    import_file(engine, settings, write_export(tmp_path / "d.csv", rows))
    create_user(engine, "cchc", "cchc", PASSWORD)
    app = create_app(settings, testing=True, now=lambda: NOW)
    try:
        c = app.test_client()
        c.post("/login", data={"username": "cchc", "password": PASSWORD, "csrf_token": csrf(c)})
        assert "Thời hạn 10 ngày làm việc, áp dụng từ 01/11/2026" in c.get("/dossier/NOV").text
        assert "Thời hạn 15 ngày làm việc<" in c.get("/dossier/OCT").text
        assert "Thời hạn 20 ngày làm việc (ghi trên hồ sơ)" in c.get("/dossier/OWN").text
        c.post("/lang", data={"lang": "en", "csrf_token": csrf(c)})
        assert "Time limit 10 working days, in force from 01/11/2026" in c.get("/dossier/NOV").text
    finally:
        app.extensions["tthc_engine"].dispose()
