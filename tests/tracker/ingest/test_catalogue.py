"""Units and procedures catalogues: upsert by code, the tree, limits, bad rows named."""

from __future__ import annotations

from sqlalchemy import select

from tests.conftest import write_export
from tracker.ingest import import_procedures, import_units
from tracker.models import Procedure, ProcedureLimit, Unit

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
        limits = dict(conn.execute(select(Procedure.code, ProcedureLimit.limit_value)
                                   .join(ProcedureLimit, ProcedureLimit.procedure_id == Procedure.id)).all())
    assert limits == {"1.001": 0, "1.002": 15}
    again = import_procedures(engine, write_export(tmp_path / "p.csv", rows[:2], header=PROC_HEADER))
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 2)


def test_a_units_file_without_some_columns_keeps_what_is_stored_in_them(engine, tmp_path):
    """A names-only file (say, a rename list) must not wipe the digest recipients an admin entered,
    nor the tree or the levels: only the columns a file has are written."""
    full = [["T", "UBND tỉnh Sơn Hà", "", "tinh", ""],
            ["S1", "Sở Tư pháp", "T", "tinh", "a@sonha.gov.vn"]]
    import_units(engine, write_export(tmp_path / "u.csv", full, header=UNIT_HEADER))
    names_only = import_units(engine, write_export(tmp_path / "n.csv", [["S1", "Sở Tư pháp tỉnh Sơn Hà"],
                                                                        ["S2", "Sở Nội vụ"]],
                                                   header=["Mã đơn vị", "Tên đơn vị"]))
    assert (names_only.updated, names_only.inserted, names_only.rejected) == (1, 1, [])
    with engine.connect() as conn:
        units = {u["code"]: u for u in conn.execute(select(Unit)).mappings()}
    s1 = units["S1"]
    assert s1["name"] == "Sở Tư pháp tỉnh Sơn Hà"
    assert (s1["digest_recipients"], s1["level"], s1["parent_id"]) == ("a@sonha.gov.vn", "tinh", units["T"]["id"])
    assert (units["S2"]["digest_recipients"], units["S2"]["level"], units["S2"]["parent_id"]) == ("", "", None)
    # an explicit empty cell in a column the file has does clear it
    cleared = [["S1", "Sở Tư pháp tỉnh Sơn Hà", "T", "tinh", ""]]
    import_units(engine, write_export(tmp_path / "c.csv", cleared, header=UNIT_HEADER))
    with engine.connect() as conn:
        assert conn.execute(select(Unit.digest_recipients).where(Unit.code == "S1")).scalar_one() == ""
