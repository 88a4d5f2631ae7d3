"""The scheduler's refresh job stores the outlook of every open dossier, every time it runs."""

from __future__ import annotations

from sqlalchemy import select

from jobs.scheduler import refresh_job
from tests.jobs.conftest import DOSSIERS, load_province
from tracker.models import Dossier, DossierOutlook


def test_the_refresh_job_stores_the_outlook_even_when_nothing_is_stale(sqlite_db):
    settings = sqlite_db.settings()
    load_province(sqlite_db.engine, settings, sqlite_db.dir)
    assert refresh_job(sqlite_db.engine, settings) == 0  # derived columns were fresh after the import
    with sqlite_db.engine.connect() as conn:
        stored = set(conn.execute(select(Dossier.code).join(DossierOutlook,
                                                            DossierOutlook.dossier_id == Dossier.id)).scalars())
    open_codes = {d[0] for d in DOSSIERS if d[4] in ("Đang xử lý", "Chờ bổ sung")}
    assert stored == open_codes
