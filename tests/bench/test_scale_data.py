"""bench/scale_data.verify, what stops a province-scale bench build whose generated rows are not what the
product would have stored: rows the product's importer wrote pass it, and each kind of difference is
caught and named (a derived column, the status history, the outlook's status_since)."""

from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy import select, update

from bench.scale_data import verify
from tests.conftest import write_export
from tracker.ingest import import_file
from tracker.models import Dossier, DossierOutlook, StatusChange
from tracker.outlook import refresh_outlook


def _row(code, received, due, status="Đang xử lý", finished="", limit="3 ngày làm việc"):
    return ["1", code, "1.000001", "Cấp phiếu lý lịch tư pháp", "Lý lịch tư pháp", "Sở Tư pháp", "Nguyễn Văn An",
            "0912345678", "Trực tuyến", received, due, finished, "", status, limit]


def _imported(engine, settings, tmp_path) -> dict[str, int]:
    """Dossiers stored by the importer (open, early, late, no appointment, not received), two imports apart
    so that one has a status history; their outlook from the product's refresh. code -> id."""
    rows = [_row("OPEN", "02/03/2026 08:00:00", "05/03/2026 08:00:00"),
            _row("EARLY", "02/03/2026 09:00:00", "05/03/2026 09:00:00", "Đã trả kết quả", "03/03/2026 10:00:00"),
            _row("NODUE", "03/03/2026 14:00:00", ""),
            _row("NEW", "03/03/2026 14:00:00", "", "Mới đăng ký")]
    import_file(engine, settings, write_export(tmp_path / "a.csv", rows))
    rows.append(_row("LATE", "02/03/2026 10:00:00", "05/03/2026 10:00:00"))
    import_file(engine, settings, write_export(tmp_path / "b.csv", rows))
    rows[-1] = _row("LATE", "02/03/2026 10:00:00", "05/03/2026 10:00:00", "Đã trả kết quả", "09/03/2026 15:00:00")
    import_file(engine, settings, write_export(tmp_path / "c.csv", rows))
    refresh_outlook(engine, settings, datetime(2026, 3, 10, 9))
    with engine.connect() as conn:
        return dict(conn.execute(select(Dossier.code, Dossier.id)).all())


def test_rows_the_importer_stored_pass(engine, settings, tmp_path):
    ids = _imported(engine, settings, tmp_path)
    assert verify(engine, settings, list(ids.values()), log=lambda _: None) == 5


@pytest.mark.parametrize(("code", "column", "value"), [
    ("OPEN", "due_used_at", datetime(2026, 3, 6, 8)),
    ("LATE", "result_class", "on_time"),
    ("EARLY", "portal_work_seconds", 1),
    ("NODUE", "computed_due_at", None),
    ("LATE", "no_finished_at", True),
])
def test_a_derived_column_that_differs_is_named(engine, settings, tmp_path, code, column, value):
    ids = _imported(engine, settings, tmp_path)
    with engine.begin() as conn:
        conn.execute(update(Dossier).where(Dossier.id == ids[code]).values({column: value}))
    with pytest.raises(SystemExit, match=f"dossier {code} .*{column} is"):
        verify(engine, settings, list(ids.values()), log=lambda _: None)


def test_a_status_history_that_does_not_end_in_the_status_is_caught(engine, settings, tmp_path):
    ids = _imported(engine, settings, tmp_path)
    with engine.begin() as conn:
        conn.execute(update(StatusChange).where(StatusChange.dossier_id == ids["LATE"], StatusChange.seq == 1)
                     .values(status=4, previous_status=4))
    with pytest.raises(SystemExit, match="dossier LATE: status 10, history ends with 4"):
        verify(engine, settings, list(ids.values()), log=lambda _: None)


def test_an_outlook_that_differs_from_status_since_is_caught(engine, settings, tmp_path):
    ids = _imported(engine, settings, tmp_path)
    with engine.begin() as conn:
        conn.execute(update(DossierOutlook).where(DossierOutlook.dossier_id == ids["OPEN"])
                     .values(status_since=datetime(2026, 3, 9, 6)))
    with pytest.raises(SystemExit, match="dossier OPEN: outlook says status 4 since"):
        verify(engine, settings, list(ids.values()), log=lambda _: None)
