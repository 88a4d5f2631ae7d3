"""Every supplement pair is kept: the portal's DanhSachHoSoBoSung and the product's own CSV
(`supplements` column) land in the supplement table, replaced when a dossier's row changes; the
dossier keeps the count and the summary tracker.portal766 counts with."""

from __future__ import annotations

import io
import json
from datetime import datetime

from sqlalchemy import select

from tracker.export import write_dossiers
from tracker.ingest import import_file
from tracker.models import Dossier, Supplement


def _record(code, *pairs, status=10, finished="20261014100000"):
    rec = {"MaHoSo": code, "MaTTHC": "1.000001", "TenTTHC": "Cấp phiếu lý lịch tư pháp", "DonViXuLy": "Sở Tư pháp",
           "KenhThucHien": 2, "NgayTiepNhan": "20261005090000", "NgayHenTra": "20261008170000",
           "TrangThaiHoSo": status, "NgayKetThucXuLy": finished}
    if pairs:
        rec["DanhSachHoSoBoSung"] = [
            {"NgayBoSung": req, "NgayTiepNhanBoSung": res, "NgayHenTraTruoc": "20261008170000",
             "NgayHenTraMoi": new} for req, res, new in pairs]
    return rec


def _write(path, records):
    path.write_text(json.dumps({"data": records}, ensure_ascii=False), encoding="utf-8")
    return path


TWO = (("20261006090000", "20261007090000", "20261009170000"), ("20261008090000", "20261013090000", "20261015170000"))
OPEN = (("20261007150000", "", ""),)


def _pairs(engine, code):
    with engine.connect() as conn:
        did = conn.execute(select(Dossier.id).where(Dossier.code == code)).scalar_one()
        return conn.execute(select(Supplement.seq, Supplement.requested_at, Supplement.resubmitted_at,
                                   Supplement.previous_due_at, Supplement.new_due_at)
                            .where(Supplement.dossier_id == did).order_by(Supplement.seq)).all()


def _dossier(engine, code):
    from types import SimpleNamespace

    with engine.connect() as conn:
        return SimpleNamespace(**conn.execute(select(Dossier.__table__).where(Dossier.code == code)).mappings().one())


def test_portal_json_keeps_every_pair(engine, settings, tmp_path):
    path = _write(tmp_path / "hoso.json", [_record("HS-2", *TWO), _record("HS-OPEN", *OPEN, status=5, finished=""),
                                           _record("HS-NONE")])
    res = import_file(engine, settings, path)
    assert (res.status, res.inserted, res.rejected) == ("done", 3, 0), res.rejections
    assert _pairs(engine, "HS-2") == [
        (1, datetime(2026, 10, 6, 9), datetime(2026, 10, 7, 9), datetime(2026, 10, 8, 17), datetime(2026, 10, 9, 17)),
        (2, datetime(2026, 10, 8, 9), datetime(2026, 10, 13, 9), datetime(2026, 10, 8, 17),
         datetime(2026, 10, 15, 17))]
    d = _dossier(engine, "HS-2")
    assert d.supplement_count == 2
    assert d.supplement_seconds == 6 * 86400  # 1 day + 5 days
    # the last pair's columns keep their meaning
    assert (d.supplement_requested_at, d.resubmitted_at) == (datetime(2026, 10, 8, 9), datetime(2026, 10, 13, 9))
    assert d.supplement_last_at == datetime(2026, 10, 13, 9) and d.supplement_open_at is None
    # finished 14/10 10:00 minus 6 days: 08/10 10:00, on time by the portal
    assert (d.portal_end_at, d.portal_late) == (datetime(2026, 10, 8, 10), False)
    o = _dossier(engine, "HS-OPEN")
    assert (o.supplement_count, o.supplement_open_at, o.portal_waiting_late) == (1, datetime(2026, 10, 7, 15), False)
    assert _pairs(engine, "HS-NONE") == [] and _dossier(engine, "HS-NONE").supplement_count == 0


def test_a_changed_pair_replaces_the_stored_ones(engine, settings, tmp_path):
    import_file(engine, settings, _write(tmp_path / "a.json", [_record("HS-2", *TWO), _record("HS-OPEN", *OPEN,
                                                                                              status=5, finished="")]))
    both = [_record("HS-2", *TWO), _record("HS-OPEN", *OPEN, status=5, finished="")]
    again = import_file(engine, settings, _write(tmp_path / "b.json", both))
    assert (again.unchanged, again.updated) == (2, 0)
    # the applicant came back, and the officer asked a second time: the open pair closes, a new one opens
    more = (("20261007150000", "20261009090000", ""), ("20261012090000", "", ""))
    res = import_file(engine, settings, _write(tmp_path / "c.json", [_record("HS-2", *TWO),
                                                                     _record("HS-OPEN", *more, status=5, finished="")]))
    assert (res.unchanged, res.updated) == (1, 1)
    assert [p[1:3] for p in _pairs(engine, "HS-OPEN")] == [
        (datetime(2026, 10, 7, 15), datetime(2026, 10, 9, 9)), (datetime(2026, 10, 12, 9), None)]
    o = _dossier(engine, "HS-OPEN")
    assert (o.supplement_count, o.supplement_open_at, o.portal_waiting_late) == (2, datetime(2026, 10, 12, 9), True)
    # only a pair's new appointment changes: still a change of the data
    changed = ((TWO[0][0], TWO[0][1], "20261010170000"), TWO[1])
    res = import_file(engine, settings, _write(tmp_path / "d.json", [_record("HS-2", *changed)]))
    assert res.updated == 1
    assert _pairs(engine, "HS-2")[0][4] == datetime(2026, 10, 10, 17)
    # the list gone: the stored pairs go too
    res = import_file(engine, settings, _write(tmp_path / "e.json", [_record("HS-2")]))
    assert res.updated == 1 and _pairs(engine, "HS-2") == []
    assert _dossier(engine, "HS-2").supplement_count == 0


def test_the_product_csv_carries_the_pairs_and_reads_back_unchanged(engine, settings, tmp_path):
    import_file(engine, settings, _write(tmp_path / "a.json", [_record("HS-2", *TWO), _record("HS-NONE"),
                                                               _record("HS-OPEN", *OPEN, status=5, finished="")]))
    first = io.StringIO()
    write_dossiers(engine, first)
    text = first.getvalue()
    assert '"[{""requested_at"":""2026-10-06 09:00:00"",""resubmitted_at"":""2026-10-07 09:00:00""' in text
    csv_path = tmp_path / "backup.csv"
    csv_path.write_text(text, encoding="utf-8")
    with engine.begin() as conn:  # an empty database of the same schema
        for t in ("supplement", "status_change", "dossier"):
            conn.exec_driver_sql(f"DELETE FROM {t}")
    res = import_file(engine, settings, csv_path)
    assert (res.inserted, res.rejected) == (3, 0), res.rejections
    second = io.StringIO()
    write_dossiers(engine, second)
    # the supplements column reads back unchanged (the whole file's round trip, first seen finished
    # included, is tested with the export)
    assert _column(second.getvalue(), "supplements") == _column(text, "supplements")
    assert _column(text, "supplements")["HS-NONE"] == ""
    assert len(_pairs(engine, "HS-2")) == 2
    # and a re-import of the backup changes nothing
    assert import_file(engine, settings, csv_path).unchanged == 3
    # one unit's export carries its pairs too
    from tracker.models import Unit

    with engine.connect() as conn:
        unit_code = conn.execute(select(Unit.code)).scalar_one()
    one = io.StringIO()
    write_dossiers(engine, one, unit_code=unit_code)
    assert _column(one.getvalue(), "supplements") == _column(text, "supplements")


def _column(text: str, name: str) -> dict[str, str]:
    import csv

    return {r["code"]: r[name] for r in csv.DictReader(io.StringIO(text))}


def test_a_bad_supplement_cell_is_rejected_saying_where(engine, settings, tmp_path):
    bad = _record("HS-BAD", ("20261006090000", "20261005090000", ""))
    res = import_file(engine, settings, _write(tmp_path / "bad.json", [bad, _record("HS-OK")]))
    assert (res.inserted, res.rejected) == (1, 1)
    rej = res.rejections[0]
    assert rej.column == "DanhSachHoSoBoSung"
    assert "supplement 1" in rej.reason and "before the request" in rej.reason
    # a bad first pair (the last pair's own columns are fine)
    res = import_file(engine, settings, _write(tmp_path / "bad2.json", [_record("HS-BAD2", ("2026-13-45", "", ""),
                                                                                TWO[1])]))
    assert res.rejected == 1
    assert "supplement 1: NgayBoSung: '2026-13-45' is not a valid date" in res.rejections[0].reason


def test_last_pair_columns_alone_make_one_pair(engine, settings, tmp_path):
    """A CSV with only 'Ngày yêu cầu bổ sung' / 'Ngày bổ sung': one known pair, counted."""
    path = tmp_path / "x.csv"
    path.write_text("Mã hồ sơ;Đơn vị;Ngày tiếp nhận;Ngày hẹn trả;Trạng thái;Ngày yêu cầu bổ sung;Ngày bổ sung;"
                    "Ngày kết thúc xử lý\n"
                    "HS-L;Sở Tư pháp;05/10/2026 09:00:00;08/10/2026 17:00:00;10;06/10/2026 09:00:00;"
                    "13/10/2026 09:00:00;14/10/2026 10:00:00\n", encoding="utf-8")
    res = import_file(engine, settings, path)
    assert res.inserted == 1, res.rejections
    d = _dossier(engine, "HS-L")
    assert (d.supplement_count, d.supplement_seconds, d.portal_late) == (1, 7 * 86400, False)
    assert _pairs(engine, "HS-L") == []  # nothing invented in the table: the source gave no list


def test_the_migration_summarises_the_last_pair_of_existing_rows(tmp_path):
    """A database from before 0007: its dossiers with the last pair's columns get that pair's
    summary, and every row is re-derived by the next refresh."""
    from sqlalchemy import text

    from tracker.config import load_settings
    from tracker.db import make_engine, upgrade
    from tracker.derive import refresh_derived, stale_count

    url = f"sqlite:///{tmp_path / 'old.db'}"
    engine = make_engine(url)
    try:
        upgrade(engine, "0005")
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO unit (code, name, name_key, level, digest_recipients, created_at) "
                              "VALUES ('U', 'U', 'u', '', '', '2026-10-01 00:00:00')"))
            for code, req, res in (("A", "2026-10-06 09:00:00.000000", "2026-10-13 09:00:00.000000"),
                                   ("B", "2026-10-07 15:00:00.000000", None), ("C", None, None)):
                conn.execute(text(
                    "INSERT INTO dossier (code, unit_id, status, received_at, due_at, finished_at, "
                    "supplement_requested_at, resubmitted_at, applicant_name, applicant_phone, apology_before_due, "
                    "no_finished_at, derived_fp, row_hash, data_hash, created_at, updated_at) VALUES (:c, 1, 10, "
                    "'2026-10-05 09:00:00.000000', '2026-10-08 17:00:00.000000', '2026-10-14 10:00:00.000000', "
                    ":req, :res, '', '', 0, 0, 'x', '', '', '2026-10-01 00:00:00', '2026-10-01 00:00:00')"),
                    {"c": code, "req": req, "res": res})
        upgrade(engine)
        settings = load_settings(env={}, overrides={"database.url": url})
        assert stale_count(engine, settings.fingerprint()) == 3
        refresh_derived(engine, settings.work_calendar(), settings.rule_settings(), settings.fingerprint())
        a, b, c = (_dossier(engine, x) for x in "ABC")
        assert (a.supplement_count, a.supplement_seconds, a.supplement_last_at, a.supplement_open_at) == (
            1, 7 * 86400, datetime(2026, 10, 13, 9), None)
        assert (a.portal_end_at, a.portal_late) == (datetime(2026, 10, 7, 10), False)
        assert (b.supplement_count, b.supplement_seconds, b.supplement_open_at) == (1, 0, datetime(2026, 10, 7, 15))
        assert (c.supplement_count, c.supplement_last_at, c.portal_late) == (0, None, True)
    finally:
        engine.dispose()
