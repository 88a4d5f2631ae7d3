"""Units and procedures catalogues: upsert by code, the tree, limits, bad rows named."""

from __future__ import annotations

from sqlalchemy import select

from tests.conftest import write_export
from tracker.ingest import import_procedures, import_units
from tracker.models import Procedure, Unit

UNIT_HEADER = ["Mã đơn vị", "Tên đơn vị", "Mã đơn vị cha", "Cấp", "Email nhận báo cáo"]
PROC_HEADER = ["Mã TTHC", "Tên thủ tục hành chính", "Mã lĩnh vực", "Lĩnh vực", "Thời hạn giải quyết"]


def test_units_tree_and_reimport(engine, tmp_path):
    rows = [["T", "UBND tỉnh Sơn Hà", "", "tinh", ""],
            ["S1", "Sở Tư pháp", "T", "tinh", "a@sonha.gov.vn; b@sonha.gov.vn"],
            ["X1", "UBND xã Phù Vân", "T", "xa", ""],
            ["", "Không mã", "T", "xa", ""],
            ["X2", "UBND xã Lạc", "NOPE", "xa", ""]]
    res = import_units(engine, write_export(tmp_path / "u.csv", rows, header=UNIT_HEADER))
    assert (res.rows_read, res.inserted, res.unchanged) == (5, 4, 0)
    assert res.rejected == ["line 5: missing unit code or name",
                            "unit X2: parent 'NOPE' is not a known unit code"]
    with engine.connect() as conn:
        units = {u["code"]: u for u in conn.execute(select(Unit)).mappings()}
    assert units["S1"]["parent_id"] == units["T"]["id"] and units["T"]["parent_id"] is None
    assert units["S1"]["digest_recipients"] == "a@sonha.gov.vn,b@sonha.gov.vn"
    rows[2][1] = "UBND xã Phù Vân Mới"
    again = import_units(engine, write_export(tmp_path / "u.csv", rows[:3], header=UNIT_HEADER))
    assert (again.inserted, again.updated, again.unchanged) == (0, 1, 2)


def test_procedures_with_limits(engine, tmp_path):
    rows = [["1.001", "Đăng ký khai sinh", "HT", "Hộ tịch", "Trong ngày"],
            ["1.002", "Cấp giấy phép xây dựng", "XD", "Xây dựng", "15 ngày làm việc kể từ ngày nhận đủ hồ sơ"],
            ["1.003", "Thủ tục lạ", "", "", "ba tuần"]]
    res = import_procedures(engine, write_export(tmp_path / "p.csv", rows, header=PROC_HEADER))
    assert (res.rows_read, res.inserted) == (3, 2)
    assert len(res.rejected) == 1 and res.rejected[0].startswith("line 4, column 'Thời hạn giải quyết': 'ba tuần'")
    with engine.connect() as conn:
        limits = dict(conn.execute(select(Procedure.code, Procedure.limit_value)).all())
    assert limits == {"1.001": 0, "1.002": 15}
    again = import_procedures(engine, write_export(tmp_path / "p.csv", rows[:2], header=PROC_HEADER))
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 2)
