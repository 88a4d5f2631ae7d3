"""The outlook on the dashboard, on both databases: the apology form (Mẫu 04) offered, filled in,
opened with python-docx, and refused outside the reader's units; applicant data masked by role.
On the demo world: the 'likely late' and 'stuck' filters and the overview's counts."""

from __future__ import annotations

import io
import re
from datetime import datetime

import pytest
from docx import Document
from sqlalchemy import select

from tests.conftest import write_export
from tests.web.conftest import PASSWORD, csrf
from tracker.ingest import import_file
from tracker.models import Unit
from tracker.outlook import refresh_outlook
from tracker.users import create_user
from web import create_app

UNIT_A = "UBND phường Bình Minh"
UNIT_B = "UBND xã Tam Hưng"
NOW = datetime(2026, 3, 10, 9, 0)  # a Tuesday


def _docx_text(data: bytes) -> str:
    doc = Document(io.BytesIO(data))
    parts = [p.text for p in doc.paragraphs]
    for table in doc.tables:
        parts += [c.text for row in table.rows for c in row.cells]
    return "\n".join(parts)


@pytest.fixture
def app_world(settings, engine, no_users, tmp_path):
    path = write_export(tmp_path / "x.csv", [
        ["1", "HS-1", "1.1", "Đăng ký khai sinh", "Hộ tịch", UNIT_A, "Trần Thị B", "0912000000", "Trực tiếp",
         "02/03/2026 08:00:00", "05/03/2026 08:00:00", "", "", "Đang xử lý", "3 ngày làm việc"],
        ["2", "HS-2", "1.1", "Đăng ký khai sinh", "Hộ tịch", UNIT_B, "Lê Văn C", "0913000000", "Trực tiếp",
         "02/03/2026 08:00:00", "05/03/2026 08:00:00", "", "", "Đang xử lý", "3 ngày làm việc"],
        ["3", "HS-3", "1.1", "Đăng ký khai sinh", "Hộ tịch", UNIT_A, "Phạm Thị D", "0914000000", "Trực tiếp",
         "10/03/2026 08:00:00", "13/03/2026 08:00:00", "", "", "Đang xử lý", "3 ngày làm việc"],
        ["4", "HS-4", "1.1", "Đăng ký khai sinh", "Hộ tịch", UNIT_A, "Vũ Văn E", "0915000000", "Trực tiếp",
         "05/03/2026 14:00:00", "12/03/2026 14:00:00", "", "", "Đã tiếp nhận", "5 ngày làm việc"],
    ])
    assert import_file(engine, settings, path, source="upload").status == "done"
    refresh_outlook(engine, settings, NOW)
    with engine.connect() as conn:
        codes = dict(conn.execute(select(Unit.name, Unit.code)).all())
    create_user(engine, "desk", "reception", PASSWORD, unit_codes=[codes[UNIT_A]])
    create_user(engine, "head_a", "unit_head", PASSWORD, unit_codes=[codes[UNIT_A]])
    create_user(engine, "head_b", "unit_head", PASSWORD, unit_codes=[codes[UNIT_B]])
    app = create_app(settings, testing=True, now=lambda: NOW)
    yield app
    app.extensions["tthc_engine"].dispose()


def _client(app, name):
    c = app.test_client()
    if name:
        resp = c.post("/login", data={"username": name, "password": PASSWORD, "csrf_token": csrf(c)})
        assert resp.status_code == 302
    return c


def test_the_desk_gets_the_form_filled_in_with_the_applicant(app_world):
    c = _client(app_world, "desk")
    page = c.get("/dossier/HS-1").text
    assert "/mau-04/docx/HS-1" in page and "/mau-04/pdf/HS-1" in page
    resp = c.get("/mau-04/docx/HS-1")
    assert resp.status_code == 200 and "attachment; filename=mau-04-HS-1.docx" in resp.headers["Content-Disposition"]
    text = _docx_text(resp.data)
    for filled in ("PHIẾU XIN LỖI VÀ HẸN LẠI NGÀY TRẢ KẾT QUẢ", "Kính gửi: Trần Thị B", "0912000000", "HS-1",
                   UNIT_A.upper(), f"{UNIT_A} tiếp nhận", "Đăng ký khai sinh", "Ngày 02/03/2026",
                   "08 giờ 00 phút, ngày 05 tháng 03 năm 2026",  # the due
                   "09 giờ 00 phút, ngày 17 tháng 03 năm 2026",  # now + 5 working days
                   "Lý do:", "Số: ……/PXL", "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", "THỦ TRƯỞNG CƠ QUAN"):
        assert filled in text, filled
    pdf = c.get("/mau-04/pdf/HS-1")
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF") and pdf.mimetype == "application/pdf"


def test_a_unit_head_sees_the_applicant_masked_and_only_for_their_units(app_world):
    a = _client(app_world, "head_a")
    text = _docx_text(a.get("/mau-04/docx/HS-1").data)
    assert "Trần T*** B**" in text and "Trần Thị B" not in text and "0912000000" not in text
    b = _client(app_world, "head_b")
    assert b.get("/mau-04/docx/HS-1").status_code == 404
    assert b.get("/mau-04/pdf/HS-1").status_code == 404
    assert b.get("/mau-04/docx/HS-2").status_code == 200
    assert _client(app_world, "desk").get("/mau-04/docx/HS-2").status_code == 404


def test_the_dossier_page_says_since_when_a_dossier_stands_still(app_world):
    page = _client(app_world, "desk").get("/dossier/HS-4").text
    # received Thursday 05/03 14:00, never passed on: by Tuesday 10/03 09:00, 3 h + 16 h + 2 h
    assert re.search(r'id="stuck"[^>]*>Đứng yên ở trạng thái "Được tiếp nhận" từ 05/03/2026 14:00 '
                     r'\(21,0 giờ làm việc\)', page), page
    assert 'id="stuck"' not in _client(app_world, "desk").get("/dossier/HS-3").text


def test_no_form_for_a_dossier_neither_late_nor_likely_late_nor_for_strangers(app_world):
    desk = _client(app_world, "desk")
    assert desk.get("/mau-04/docx/HS-3").status_code == 404  # due 13/3: within, no history to predict from
    assert "/mau-04/" not in desk.get("/dossier/HS-3").text
    assert desk.get("/mau-04/odt/HS-1").status_code == 404
    anonymous = _client(app_world, None).get("/mau-04/docx/HS-1")
    assert anonymous.status_code == 302 and "/login" in anonymous.headers["Location"]


# ----- the demo world (SQLite) ------------------------------------------------------------------


def test_likely_late_and_stuck_filters_agree_with_the_overview(client_for):
    c = client_for("cchc")
    overview = c.get("/").text
    likely = int(re.search(r'id="count-likely-late">([\d.]+)<', overview).group(1).replace(".", ""))
    stuck = int(re.search(r'id="count-stuck">([\d.]+)<', overview).group(1).replace(".", ""))
    assert likely > 0
    page = c.get("/overdue?how_late=likely_late")
    assert page.status_code == 200
    n = int(re.search(r'id="result-count">([\d.]+) ', page.text).group(1).replace(".", ""))
    assert n == likely
    assert page.text.count('class="badge likely"') == min(likely, 50)
    code = re.search(r'<a href="/dossier/([^"]+)">', page.text).group(1)
    dossier = c.get(f"/dossier/{code}").text
    assert re.search(r'id="prediction" class="warn">\s*<strong>Có nguy cơ trễ</strong>: xác suất hoàn thành sau '
                     r'hạn \d+%\s*\(\d+ hồ sơ [^,]+, 12 tháng\)', dossier), dossier
    page = c.get("/overdue?how_late=stuck")
    assert page.status_code == 200
    assert int(re.search(r'id="result-count">([\d.]+) ', page.text).group(1).replace(".", "")) == stuck
    assert page.text.count('class="badge stuck"') == min(stuck, 50)


@pytest.mark.parametrize(("persona", "want"), [("reception", 200), ("head", 404), ("province_head", 200),
                                               ("cchc", 200), ("admin", 200), ("nobody", 404)])
def test_the_form_download_follows_each_personas_units(client_for, persona, want):
    from tests.web.conftest import DESK

    code = f"{DESK[0]}-261102-9000"  # planted: overdue since 10/11, no apology, at the desk's commune
    c = client_for(persona)
    for fmt in ("docx", "pdf"):
        assert c.get(f"/mau-04/{fmt}/{code}").status_code == want, (persona, fmt)
    assert (f"/mau-04/docx/{code}" in c.get(f"/dossier/{code}").text) == (want == 200)
