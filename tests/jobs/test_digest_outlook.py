"""The unit head's digest warns days ahead: a 'likely late' section above the dossiers due soon,
and the dossiers standing still, each with since when and in which status (both databases)."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from jobs.digest import build_digests, digest_moment
from tests.jobs.conftest import DIGEST_DAY, load_province, make_settings
from tracker.outlook import refresh_outlook


def _history() -> list[tuple]:
    """40 dossiers of Sở Xây dựng's procedure, all finished two days late: its history says 'late'."""
    rows = []
    day = date(2026, 9, 1)
    for n in range(40):
        d = day + timedelta(days=n)
        rows.append((f"SXD-H{n:02d}", "SXD", f"{d:%d/%m/%Y} 08:00", f"{d + timedelta(days=5):%d/%m/%Y} 08:00",
                     "Đã trả kết quả", f"{d + timedelta(days=7):%d/%m/%Y} 10:00"))
    return rows


DOSSIERS = [
    *_history(),
    ("SXD-50", "SXD", "23/11/2026 09:00", "01/12/2026 09:00", "Đang xử lý", ""),  # likely late, due next week
    ("SXD-51", "SXD", "16/11/2026 09:00", "10/12/2026 09:00", "Đã tiếp nhận", ""),  # received, never moved
    ("SXD-52", "SXD", "20/11/2026 09:00", "25/11/2026 16:00", "Đang xử lý", ""),  # due today, likely late too
    ("XAB-01", "XAB", "23/11/2026 09:00", "25/11/2026 16:00", "Đang xử lý", ""),  # due today
]


def test_likely_late_comes_above_due_soon_and_stuck_says_since_when(engine, db_url, tmp_path, clean_deliveries):
    settings = make_settings(db_url, tmp_path, check__import_max_age_hours=24 * 365)
    load_province(engine, settings, tmp_path, dossiers=DOSSIERS)
    refresh_outlook(engine, settings, digest_moment(settings, DIGEST_DAY))
    run = build_digests(engine, settings, DIGEST_DAY)
    sxd = next(d for d in run.digests if d.scope == "SXD")
    text = sxd.rendered.text
    sections = text.split("\n\n")
    likely = next(s for s in sections if s.startswith("CÓ NGUY CƠ TRỄ (DỰ BÁO TỪ LỊCH SỬ HỒ SƠ) (3)"))
    # every open one of the unit's procedure is likely late: its history (40 finished, 3 open) is all late
    assert "SXD-50" in likely and "Hạn 01/12/2026 09:00" in likely
    assert "xác suất trễ 100% · 43 hồ sơ cùng thủ tục tại đơn vị, 12 tháng" in likely
    stuck = next(s for s in sections if s.startswith("ĐỨNG YÊN (1)"))
    # received Monday 16/11 09:00; by Wednesday 25/11 07:30 (Tuesday 24/11 a holiday): 46.5 working hours
    assert "SXD-51" in stuck and "Đã tiếp nhận, chưa chuyển xử lý từ 16/11/2026 09:00, 5,8 ngày làm việc" in stuck
    assert "Có nguy cơ trễ: 3" in text and "Đứng yên: 1" in text
    assert text.index("CÓ NGUY CƠ TRỄ") < text.index("ĐẾN HẠN HÔM NAY") < text.index("ĐỨNG YÊN")
    assert "color:#c2410c" in sxd.rendered.html and "SXD-50" in sxd.rendered.html
    xab = next(d for d in run.digests if d.scope == "XAB").rendered.text
    assert "CÓ NGUY CƠ TRỄ" not in xab  # too little history to say anything


def test_a_stale_source_is_said_instead_of_stuck_dossiers(engine, db_url, tmp_path, clean_deliveries):
    settings = make_settings(db_url, tmp_path)  # the import ran today (the clock), after the digest day
    load_province(engine, settings, tmp_path, dossiers=DOSSIERS)
    later = datetime.now() + timedelta(days=30)
    refresh_outlook(engine, settings, later)
    from tracker.stuck import stuck_dossiers

    assert stuck_dossiers(engine, settings, later).rows == []
    assert [s.source for s in stuck_dossiers(engine, settings, later).stale] == ["file"]
