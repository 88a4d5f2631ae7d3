"""What the morning digests say: lists, order, links, rates, ranks, the summary, and who gets one."""

from __future__ import annotations

from datetime import date, datetime

import pytest
from sqlalchemy import func, select

from jobs.digest import DigestError, build_digests, run_digests
from jobs.scheduler import digest_job
from tests.jobs.conftest import (
    APPLICANT,
    CCHC_OFFICER,
    CHAIR_AN_BINH,
    DIGEST_DAY,
    DOSSIERS,
    HEAD_SXD,
    PHONE,
    PROCEDURES,
    STP_CLERK,
    STP_DIRECTOR,
    load_province,
    make_settings,
)
from tracker.derive import get_meta
from tracker.models import DigestDelivery


def _by_scope(run):  # noqa: ANN001, ANN202
    return {d.scope: d for d in run.digests}


def test_the_head_of_a_late_unit_reads_what_is_late_first(province, db_url, tmp_path):
    run = build_digests(province, make_settings(db_url, tmp_path), DIGEST_DAY)
    sxd = _by_scope(run)["SXD"]
    assert sxd.recipients == [HEAD_SXD]
    assert sxd.rendered.subject == "[TTHC] Sở Xây dựng — 3 quá hạn, 2 sắp đến hạn — 25/11/2026"
    text = sxd.rendered.text
    # most late first: 10 working days, then 2, then 1 (Tuesday 24/11 is a holiday)
    assert text.index("SXD-01") < text.index("SXD-02") < text.index("SXD-03") < text.index("SXD-04")
    assert "Hạn 10/11/2026 08:00 · trễ 10 ngày làm việc" in text
    assert "Hạn 23/11/2026 16:00 · trễ 1 ngày làm việc" in text
    sections = text.split("\n\n")
    due_today = next(s for s in sections if s.startswith("ĐẾN HẠN HÔM NAY, 25/11/2026 (1)"))
    assert "SXD-04" in due_today and "SXD-05" not in due_today
    due_next = next(s for s in sections if s.startswith("ĐẾN HẠN NGÀY LÀM VIỆC TIẾP THEO, THỨ NĂM 26/11/2026 (1)"))
    assert "SXD-05" in due_next
    paused = next(s for s in sections if s.startswith("ĐANG TẠM DỪNG (1)"))
    assert "SXD-07" in paused and "Chờ bổ sung hồ sơ" in paused
    # finished late since Monday (the previous working day): SXD-08, not Friday's SXD-12
    late = next(s for s in sections if s.startswith("HOÀN THÀNH TRỄ HẠN TỪ 23/11/2026 (1)"))
    assert "SXD-08" in late and "hoàn thành 23/11/2026 09:00" in late
    assert "SXD-12" not in text and "SXD-06" not in text  # finished earlier; due far ahead
    # each dossier linked to its page, in both parts
    assert "https://tthc.sonha.gov.vn/dossier/SXD-01" in text
    assert 'href="https://tthc.sonha.gov.vn/dossier/SXD-01"' in sxd.rendered.html
    assert "Tất cả hồ sơ của đơn vị: https://tthc.sonha.gov.vn/unit/SXD" in text  # the unit's page
    # month to date 1/3 on time (SXD-09 early; SXD-08, SXD-12 late); October 1/2; 2nd of 2 provincial units
    assert "Tỷ lệ đúng hạn từ đầu tháng: 33,3% (3 hồ sơ đã giải quyết), giảm 16,7 điểm % so với tháng " \
           "10/2026 (50,0%)." in text
    assert "Xếp hạng 2/2 trong các đơn vị cấp tỉnh." in text
    assert "Xếp hạng <strong>2/2</strong> trong các đơn vị cấp tỉnh." in sxd.rendered.html


def test_no_applicant_data_unless_the_setting_allows_it(shared_province):
    db = shared_province
    run = build_digests(db.engine, db.settings(), DIGEST_DAY)
    for d in run.digests:
        for part in (d.rendered.subject, d.rendered.text, d.rendered.html):
            assert APPLICANT not in part and PHONE not in part
    allowed = build_digests(db.engine, db.settings(digest__include_applicant=True), DIGEST_DAY)
    sxd = _by_scope(allowed)["SXD"]
    assert f"SXD-01 — Cấp giấy phép xây dựng mới đối với nhà ở riêng lẻ — {APPLICANT}" in sxd.rendered.text
    assert APPLICANT in sxd.rendered.html
    assert PHONE not in sxd.rendered.text  # the name is enough to recognise a file


def test_a_unit_with_nothing_to_report_gets_no_email_unless_all_clear(shared_province):
    db = shared_province
    run = build_digests(db.engine, db.settings(), DIGEST_DAY)
    assert set(_by_scope(run)) == {"SXD", "STP", "XAB", "all"}
    assert run.quiet == ["TINH", "XPL"]  # Phú Lộc: one dossier, due in December

    clear = build_digests(db.engine, db.settings(digest__all_clear=True), DIGEST_DAY)
    xpl = _by_scope(clear)["XPL"]
    assert xpl.all_clear and xpl.rendered.subject == "[TTHC] UBND xã Phú Lộc — không có hồ sơ cần chú ý — 25/11/2026"
    assert "Không có hồ sơ quá hạn, đến hạn, tạm dừng hay hoàn thành trễ hạn." in xpl.rendered.text
    assert not _by_scope(clear)["TINH"].recipients and clear.no_recipients == []  # an all clear to nobody: no alarm


def test_the_cchc_summary_ranks_every_unit_within_its_level_and_names_the_movers(shared_province):
    db = shared_province
    run = build_digests(db.engine, db.settings(), DIGEST_DAY)
    summary = _by_scope(run)["all"]
    assert summary.kind == "cchc" and summary.recipients == [CCHC_OFFICER]
    assert summary.rendered.subject == ("[TTHC] Tổng hợp tiến độ giải quyết — 2 đơn vị có hồ sơ quá hạn, "
                                        "tỷ lệ đúng hạn 50,0% — 25/11/2026")
    text = summary.rendered.text
    province_block = text.split("CẤP TỈNH")[1].split("CẤP XÃ")[0]
    commune_block = text.split("CẤP XÃ")[1].split("THAY ĐỔI")[0]
    assert province_block.index("1. Sở Tư pháp (STP): 100,0%") < province_block.index("2. Sở Xây dựng (SXD): 33,3%")
    assert "3 đang quá hạn" in province_block
    assert commune_block.index("1. UBND xã An Bình") < commune_block.index("2. UBND xã Phú Lộc (XPL): 0,0%")
    # a week ago (18/11) Sở Xây dựng had 1 of 1 on time and ranked first
    movers = text.split("THAY ĐỔI LỚN NHẤT SO VỚI BẢN TỔNG HỢP NGÀY 18/11/2026")[1]
    assert "- Sở Xây dựng (cấp tỉnh): 100,0% → 33,3%, giảm 66,7 điểm %; hạng 1 → 2" in movers
    assert "Phú Lộc" not in movers  # 0 % then and now: not a mover
    assert "<td style=\"padding:6px; border-bottom:1px solid #e5e7eb;\">Sở Xây dựng" in summary.rendered.html
    # with --unit, a unit's digest alone
    assert [d.scope for d in build_digests(db.engine, db.settings(), DIGEST_DAY, unit="XAB").digests] == ["XAB"]


def test_html_is_escaped_text_is_not(sqlite_db):
    odd = {**PROCEDURES, "SXD": ("1.009999", "Thủ tục <b>đặc biệt</b> & khác", "Xây dựng")}
    load_province(sqlite_db.engine, sqlite_db.settings(), sqlite_db.dir, dossiers=DOSSIERS[:1], procedures=odd)
    sxd = _by_scope(build_digests(sqlite_db.engine, sqlite_db.settings(), DIGEST_DAY))["SXD"]
    assert "Thủ tục <b>đặc biệt</b> & khác" in sxd.rendered.text
    assert "Thủ tục &lt;b&gt;đặc biệt&lt;/b&gt; &amp; khác" in sxd.rendered.html
    assert "<b>đặc biệt</b>" not in sxd.rendered.html


def test_no_digest_on_a_holiday(shared_province):
    db, settings = shared_province, shared_province.settings()
    national_day = date(2026, 9, 2)
    run = run_digests(db.engine, settings, national_day, send=True)
    assert run.skipped == "2026-09-02 is not a working day (Quốc khánh): no digest"
    assert run.digests == [] and run.delivery is None
    assert digest_job(db.engine, settings, now=datetime(2026, 9, 2, 7, 30)) is None
    assert digest_job(db.engine, settings, now=datetime(2026, 11, 28, 7, 30)) is None  # an ordinary Saturday
    with db.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(DigestDelivery)).scalar_one() == 0
    assert not (db.dir / "var" / "outbox").exists()


def test_a_make_up_saturday_has_a_digest(sqlite_db):
    engine, tmp_path = sqlite_db.engine, sqlite_db.dir
    load_province(engine, sqlite_db.settings(), tmp_path, dossiers=[
        ("SXD-A1", "SXD", "10/08/2026 08:00", "14/08/2026 10:00", "Đang xử lý", ""),
        ("SXD-A2", "SXD", "17/08/2026 08:00", "24/08/2026 10:00", "Đang xử lý", ""),
    ])
    settings = sqlite_db.settings(digest__cchc_recipients=[])
    run = digest_job(engine, settings, now=datetime(2026, 8, 22, 7, 30), backoff=0)  # Sat 22/08: worked
    assert run is not None and not run.skipped
    assert [(o.scope, o.recipient) for o in run.delivery.sent] == [("SXD", HEAD_SXD)]
    sxd = run.digests[0]
    assert sxd.rendered.subject == "[TTHC] Sở Xây dựng — 1 quá hạn, 1 sắp đến hạn — 22/08/2026"
    assert "Thứ Bảy, 22/08/2026" in sxd.rendered.text
    assert "ĐẾN HẠN NGÀY LÀM VIỆC TIẾP THEO, THỨ HAI 24/08/2026 (1)" in sxd.rendered.text
    eml = tmp_path / "var" / "outbox" / "2026-08-22" / f"SXD-{HEAD_SXD}.eml"
    assert eml.is_file()  # no SMTP configured: the outbox
    assert get_meta(engine, "digest_done") == "2026-08-22"
    assert digest_job(engine, settings, now=datetime(2026, 8, 22, 8, 0)) is None  # done for the day


def test_the_scheduled_job_waits_for_the_time_and_runs_once_a_day(sqlite_db):
    load_province(sqlite_db.engine, sqlite_db.settings(), sqlite_db.dir)
    province, settings = sqlite_db.engine, sqlite_db.settings()
    assert digest_job(province, settings, now=datetime(2026, 11, 25, 7, 29)) is None  # too early
    run = digest_job(province, settings, now=datetime(2026, 11, 25, 7, 30), backoff=0)
    assert len(run.delivery.sent) == 5  # SXD, 2 × STP, XAB, CCHC
    assert digest_job(province, settings, now=datetime(2026, 11, 25, 10, 0)) is None
    assert digest_job(province, settings, now=datetime(2026, 11, 26, 17, 0)) is None  # the office day ended


def test_an_unknown_unit_is_an_error(shared_province):
    with pytest.raises(DigestError, match="unit 'NOPE': not found"):
        build_digests(shared_province.engine, shared_province.settings(), DIGEST_DAY, unit="NOPE")


def test_preview_prints_what_send_would_send(shared_province, capsys):
    import argparse

    from cli.scheduler import cmd_digest

    province, settings = shared_province.engine, shared_province.settings()
    args = argparse.Namespace(preview=True, send=False, date=DIGEST_DAY, unit="STP", html=False, retry_unknown=False)
    assert cmd_digest(args, settings) == 0
    out = capsys.readouterr().out
    assert f"To: {STP_DIRECTOR}, {STP_CLERK}" in out
    assert "Subject: [TTHC] Sở Tư pháp — 1 quá hạn, 0 sắp đến hạn — 25/11/2026" in out
    assert "STP-01 — Cấp Phiếu lý lịch tư pháp" in out
    assert CHAIR_AN_BINH not in out
    with province.connect() as conn:  # a preview sends nothing and records nothing
        assert conn.execute(select(func.count()).select_from(DigestDelivery)).scalar_one() == 0


def test_an_overdue_dossier_past_its_new_appointment_too_is_marked_urgent(sqlite_db):
    from sqlalchemy import update

    from tracker.models import Dossier

    load_province(sqlite_db.engine, sqlite_db.settings(), sqlite_db.dir, dossiers=DOSSIERS[:3])
    with sqlite_db.engine.begin() as conn:  # apologies (Mẫu 04) with new appointments
        conn.execute(update(Dossier).where(Dossier.code == "SXD-02").values(
            apology_at=datetime(2026, 11, 19, 9, 0), rescheduled_due_at=datetime(2026, 11, 23, 9, 0)))
        conn.execute(update(Dossier).where(Dossier.code == "SXD-03").values(
            apology_at=datetime(2026, 11, 23, 9, 0), rescheduled_due_at=datetime(2026, 11, 27, 9, 0)))
    sxd = _by_scope(build_digests(sqlite_db.engine, sqlite_db.settings(), DIGEST_DAY))["SXD"]
    text = sxd.rendered.text
    assert "trễ 2 ngày làm việc · hẹn lại 23/11/2026 09:00, cũng đã quá hạn · KHẨN" in text
    assert "trễ 1 ngày làm việc · hẹn lại 27/11/2026 09:00\n" in text  # still within its new appointment
    assert text.index("SXD-01") < text.index("SXD-02") < text.index("SXD-03")  # still most late first
    assert ">KHẨN</span>" in sxd.rendered.html


def test_long_lists_are_cut_and_say_how_many_more(shared_province, monkeypatch):
    monkeypatch.setattr("jobs.digest.LIST_LIMIT", 1)
    sxd = _by_scope(build_digests(shared_province.engine, shared_province.settings(), DIGEST_DAY))["SXD"]
    assert sxd.rendered.subject == "[TTHC] Sở Xây dựng — 3 quá hạn, 2 sắp đến hạn — 25/11/2026"  # all counted
    assert "QUÁ HẠN (3)" in sxd.rendered.text and "SXD-02" not in sxd.rendered.text
    assert "… và 2 hồ sơ khác: https://tthc.sonha.gov.vn/overdue?unit=SXD&how_late=overdue" in sxd.rendered.text


def test_links_follow_the_dashboard_address_when_base_url_is_unset(shared_province):
    """The demo serves on web.host:web.port; unset digest.base_url links there, not to a fixed :5000."""
    db = shared_province
    settings = db.settings(digest__base_url="", web__port=8123)
    assert settings.base_url_warning() == (
        "warning: digest.base_url is not set: digest links will point to http://127.0.0.1:8123; set it "
        "(TTHC_DIGEST_BASE_URL) to the address your users open")
    sxd = _by_scope(build_digests(db.engine, settings, DIGEST_DAY))["SXD"]
    assert "http://127.0.0.1:8123/dossier/SXD-01" in sxd.rendered.text
    assert ":5000" not in sxd.rendered.text
    assert db.settings().base_url_warning() is None  # set: nothing to say



def test_preview_html_writes_only_the_html_document(shared_province, capsys):
    import argparse

    from cli.scheduler import cmd_digest

    args = argparse.Namespace(preview=True, send=False, date=DIGEST_DAY, unit="STP", html=True, retry_unknown=False)
    assert cmd_digest(args, shared_province.settings()) == 0
    captured = capsys.readouterr()
    assert captured.out.startswith("<!DOCTYPE html>") and captured.out.rstrip().endswith("</html>")
    assert "Subject: [TTHC] Sở Tư pháp" in captured.err and "Subject:" not in captured.out


def test_at_most_ten_per_list_and_the_rest_linked_to_the_filtered_list(shared_province, monkeypatch):
    from jobs import digest

    assert digest.LIST_LIMIT == 10
    monkeypatch.setattr("jobs.digest.LIST_LIMIT", 1)
    sxd = _by_scope(build_digests(shared_province.engine, shared_province.settings(), DIGEST_DAY))["SXD"]
    assert "… và 2 hồ sơ khác: https://tthc.sonha.gov.vn/overdue?unit=SXD&how_late=overdue" in sxd.rendered.text
    assert 'href="https://tthc.sonha.gov.vn/overdue?unit=SXD&amp;how_late=overdue"' in sxd.rendered.html
