"""tracker.explain: one dossier, its class and how its due was counted, at a moment."""

from __future__ import annotations

from datetime import datetime

from tests.conftest import write_export
from tracker.explain import explain_dossier
from tracker.ingest import import_file

UNIT = "UBND phường Bình Minh"


def test_a_dossier_explained_and_one_that_does_not_exist(engine, settings, tmp_path):
    path = write_export(tmp_path / "x.csv", [
        # received Wed 4 Mar 2026 09:00, 3 working days, no recorded appointment: computed due Mon 9 Mar 09:00
        ["1", "HS-3", "1.1", "Đăng ký khai sinh", "Hộ tịch", UNIT, "Phạm D", "", "Trực tuyến",
         "04/03/2026 09:00:00", "", "", "", "Đang xử lý", "3 ngày làm việc"],
        # no limit at all: nothing to count a due from
        ["2", "HS-9", "", "", "", UNIT, "", "", "Trực tuyến", "04/03/2026 09:00:00", "", "", "", "Đang xử lý", ""],
    ])
    assert import_file(engine, settings, path).exit_code == 0

    ex = explain_dossier(engine, settings, "HS-3", datetime(2026, 3, 6, 8, 0), "en")
    assert ex is not None and ex.row["code"] == "HS-3" and ex.as_of == datetime(2026, 3, 6, 8, 0)
    assert ex.classification.cls == "within" and ex.classification.computed_due == datetime(2026, 3, 9, 9, 0)
    assert ex.limit is not None and ex.limit.value == 3 and ex.limit_text == "3 working days (recorded on the dossier)"
    assert ex.due_steps[-1] == "Due: 2026-03-09 09:00"
    # at noon on Friday, 5.5 working hours before its due (Fri 13:30–17:00, Mon 07:00–09:00): at risk
    assert explain_dossier(engine, settings, "HS-3", datetime(2026, 3, 6, 12, 0)).classification.cls == "at_risk"

    bare = explain_dossier(engine, settings, "HS-9", datetime(2026, 3, 6, 8, 0))
    assert bare is not None and bare.limit is None and bare.limit_text is None and bare.due_steps == []
    assert explain_dossier(engine, settings, "HS-404", datetime(2026, 3, 6, 8, 0)) is None
