"""Two imports at once (issue 12): two sources carrying the same dossiers record each status change
once, new units and procedures are made once, and a login is never kept waiting for an import."""

from __future__ import annotations

import threading

from sqlalchemy import func, insert, select, text

from tests.conftest import write_export
from tracker.config import load_settings
from tracker.db import make_engine, upgrade
from tracker.ingest import import_file
from tracker.models import Dossier, StatusChange, Unit

HEADER_A = ["Mã hồ sơ", "Đơn vị tiếp nhận", "Ngày tiếp nhận", "Trạng thái", "Thời hạn giải quyết"]
HEADER_B = ["Trạng thái", "Ngày tiếp nhận", "Mã hồ sơ", "Đơn vị tiếp nhận", "Ghi chú"]
N, NEW = 1500, 300


def _file(path, header, codes, status, unit="Sở Tư pháp"):  # noqa: ANN001, ANN202
    rows = []
    for i in codes:
        values = {"Mã hồ sơ": f"HS-{i:05d}", "Đơn vị tiếp nhận": unit, "Ngày tiếp nhận": "02/03/2026 08:00:00",
                  "Trạng thái": status, "Thời hạn giải quyết": "10 ngày làm việc", "Ghi chú": path.stem}
        rows.append([values[h] for h in header])
    return write_export(path, rows, header=header, delimiter=";" if header is HEADER_A else "\t")


def test_two_sources_at_once_record_each_change_once(engine, settings, tmp_path):
    assert import_file(engine, settings, _file(tmp_path / "base.csv", HEADER_A, range(N), "Đang xử lý"),
                       source="a").status == "done"
    # the same change, and new dossiers of a new unit, in two exports of different shapes
    a = _file(tmp_path / "a.csv", HEADER_A, range(N + NEW), "Yêu cầu bổ sung", unit="UBND xã Mới")
    b = _file(tmp_path / "b.txt", HEADER_B, reversed(range(N + NEW)), "Yêu cầu bổ sung", unit="UBND xã Mới")
    start = threading.Barrier(2)
    results = {}

    def run(name, path):  # noqa: ANN001, ANN202
        start.wait()
        results[name] = import_file(engine, settings, path, source=name, batch_size=100)

    threads = [threading.Thread(target=run, args=(n, p)) for n, p in (("a", a), ("b", b))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert {n: r.status for n, r in results.items()} == {"a": "done", "b": "done"}, \
        {n: r.message for n, r in results.items()}
    with engine.connect() as conn:
        per_dossier = dict(conn.execute(select(StatusChange.dossier_id, func.count()).group_by(
            StatusChange.dossier_id)).all())
        seqs = conn.execute(select(StatusChange.dossier_id, StatusChange.seq, StatusChange.previous_status,
                                   StatusChange.status).order_by(StatusChange.dossier_id, StatusChange.seq)).all()
        units = conn.execute(select(func.count()).select_from(Unit).where(Unit.name == "UBND xã Mới")).scalar()
        dossiers = conn.execute(select(func.count()).select_from(Dossier)).scalar()
    assert dossiers == N + NEW and units == 1
    assert sorted(set(per_dossier.values())) == [1, 2]  # new: (none -> 5); old: (none -> 4), (4 -> 5)
    assert sum(per_dossier.values()) == 2 * N + NEW
    by_dossier: dict[int, list] = {}
    for dossier, seq, prev, status in seqs:
        by_dossier.setdefault(dossier, []).append((seq, prev, status))
    assert {tuple(h) for h in by_dossier.values()} == {((0, None, 5),), ((0, None, 4), (1, 4, 5))}


def test_the_migration_removes_duplicate_history_and_numbers_it(db_url, tmp_path):
    engine = make_engine(db_url)
    with engine.begin() as conn:  # back to the schema before 0009 (the session's database is at head)
        conn.execute(text("DELETE FROM status_change"))
    from alembic import command
    from alembic.script import ScriptDirectory

    from tracker.db import MIGRATIONS, alembic_config

    before = ScriptDirectory(str(MIGRATIONS)).get_revision("0009").down_revision  # the schema before 0009
    command.downgrade(alembic_config(engine), before)
    settings = load_settings(env={}, overrides={"database.url": db_url, "paths.var_dir": str(tmp_path / "var")})
    try:
        with engine.begin() as conn:
            unit = conn.execute(insert(Unit).values(code="U1", name="U", name_key="u", level="",
                                                    digest_recipients="")).inserted_primary_key[0]
            ids = [conn.execute(text(
                "INSERT INTO dossier (code, unit_id, status, row_hash, data_hash, derived_fp, no_finished_at, "
                "applicant_name, applicant_phone, apology_before_due, created_at, updated_at) VALUES (:c, :u, 5, '', "
                "'', '', false, '', '', false, '2026-03-02 08:00:00', '2026-03-02 08:00:00') RETURNING id"),
                {"c": c, "u": unit}).scalar_one()
                for c in ("HS-1", "HS-2")]
            history = [(ids[0], None, 4), (ids[0], 4, 5), (ids[0], 4, 5), (ids[1], None, 5), (ids[1], None, 5),
                       (ids[0], 5, 4), (ids[1], 5, 6)]
            for dossier, prev, status in history:
                conn.execute(text("INSERT INTO status_change (dossier_id, previous_status, status, seen_at) "
                                  "VALUES (:d, :p, :s, '2026-03-02 08:00:00')"), {"d": dossier, "p": prev, "s": status})
        upgrade(engine)
        with engine.connect() as conn:
            left = conn.execute(select(StatusChange.dossier_id, StatusChange.seq, StatusChange.previous_status,
                                       StatusChange.status).order_by(StatusChange.id)).all()
        assert [tuple(r) for r in left] == [(ids[0], 0, None, 4), (ids[0], 1, 4, 5), (ids[1], 0, None, 5),
                                            (ids[0], 2, 5, 4), (ids[1], 1, 5, 6)]
        assert settings.get("import.batch_size")  # the settings still load against the new schema
    finally:
        with engine.begin() as conn:
            conn.execute(text("DELETE FROM status_change"))
            conn.execute(text("DELETE FROM dossier"))
            conn.execute(text("DELETE FROM unit"))
        upgrade(engine)
        engine.dispose()
