"""The synthetic demo province: catalogue files and the one-stop export (tracker/demo.py)."""

from __future__ import annotations

import csv
import hashlib
import re
import unicodedata
from collections import Counter
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest

from tracker.calendar import WorkCalendar
from tracker.demo import (
    BAD_DATES,
    CHANNEL_WORDS,
    DEMO_NOW_TIME,
    DOSSIERS_HEADER,
    FORMULA_NAMES,
    PROCEDURES_HEADER,
    STATUS_WORDS,
    UNITS_HEADER,
    DemoFiles,
    build_demo_files,
)
from tracker.rules import compute_due, parse_limit

TODAY = date(2026, 11, 16)  # a Monday; 13 months back covers Tết Bính Ngọ (16–20 Feb 2026 off)
PER_MONTH = 300
NOW = datetime.combine(TODAY, DEMO_NOW_TIME)
FMT = "%d/%m/%Y %H:%M:%S"
WORDS_STATUS = {w: c for c, w in STATUS_WORDS.items()}
ONLINE, POST = CHANNEL_WORDS[2], CHANNEL_WORDS[3]
FINISHED = {STATUS_WORDS[9], STATUS_WORDS[10]}


def _read(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as fh:
        return list(csv.DictReader(fh, delimiter=";"))


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _dt(text: str) -> datetime | None:
    return datetime.strptime(text, FMT) if text else None


@pytest.fixture(scope="module")
def cal() -> WorkCalendar:
    return WorkCalendar()


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> DemoFiles:
    return build_demo_files(tmp_path_factory.mktemp("demo"), today=TODAY, per_month=PER_MONTH)


@pytest.fixture(scope="module")
def units(demo) -> list[dict[str, str]]:
    return _read(demo.units)


@pytest.fixture(scope="module")
def procedures(demo) -> list[dict[str, str]]:
    return _read(demo.procedures)


@pytest.fixture(scope="module")
def rows(demo) -> list[dict[str, str]]:
    return _read(demo.dossiers)


@pytest.fixture(scope="module")
def parsed(rows) -> list[tuple[dict[str, str], datetime]]:
    """Rows whose received date parses, with that date (the others are the rows to reject)."""
    out = []
    for r in rows:
        try:
            out.append((r, datetime.strptime(r["Ngày tiếp nhận"], FMT)))
        except ValueError:
            continue
    return out


# ----- files -------------------------------------------------------------------------------------


def test_same_seed_and_day_give_identical_files(demo, tmp_path):
    again = build_demo_files(tmp_path / "again", today=TODAY, per_month=PER_MONTH)
    for a, b in ((demo.units, again.units), (demo.procedures, again.procedures),
                 (demo.dossiers, again.dossiers)):
        assert _sha(a) == _sha(b), a.name
    assert again.dossier_count == demo.dossier_count


def test_a_later_day_moves_the_same_dossiers_forward(demo, rows, tmp_path):
    """Re-building on the next day keeps every dossier (code, procedure, applicant, dates already
    known) and only adds what happened since: the import of a new day updates what changed."""
    later = build_demo_files(tmp_path / "later", today=TODAY + timedelta(days=1),
                             per_month=PER_MONTH)
    after = {r["Mã hồ sơ"]: r for r in _read(later.dossiers)}
    kept = changed = 0
    for r in rows:
        if r["Mã hồ sơ"] not in after:  # only the first day leaves the 13-month window
            assert r["Mã hồ sơ"].split("-")[1] == "251016"  # 16/10/2025, 13 months before TODAY
            continue
        a = after[r["Mã hồ sơ"]]
        for col in ("Mã TTHC", "Đơn vị tiếp nhận", "Chủ hồ sơ", "Số điện thoại", "Kênh nộp",
                    "Ngày tiếp nhận", "Ngày yêu cầu bổ sung", "Ngày xin lỗi"):
            assert r[col] == a[col] or not r[col], (col, r["Mã hồ sơ"])
        if r["Trạng thái"] in FINISHED | {STATUS_WORDS[7], STATUS_WORDS[8]}:
            assert a["Trạng thái"] in FINISHED | {STATUS_WORDS[7], STATUS_WORDS[8]}
            assert a["Ngày kết thúc xử lý"] == r["Ngày kết thúc xử lý"]
        kept += 1
        changed += any(a[k] != r[k] for k in r if k != "STT")
    assert kept > 0.95 * len(rows)
    assert 0 < changed < 0.05 * len(rows)
    assert len(after) > kept  # the new day's arrivals


def test_another_seed_or_day_gives_other_dossiers(demo, tmp_path):
    other_seed = build_demo_files(tmp_path / "s", today=TODAY, seed=7, per_month=PER_MONTH)
    other_day = build_demo_files(tmp_path / "d", today=TODAY - timedelta(days=1),
                                 per_month=PER_MONTH)
    assert _sha(other_seed.dossiers) != _sha(demo.dossiers)
    assert _sha(other_day.dossiers) != _sha(demo.dossiers)


def test_files_are_excel_vietnamese_csv(demo):
    for path, header in ((demo.units, UNITS_HEADER), (demo.procedures, PROCEDURES_HEADER),
                         (demo.dossiers, DOSSIERS_HEADER)):
        raw = path.read_bytes()
        assert raw.startswith(b"\xef\xbb\xbf"), f"{path.name}: no UTF-8 BOM"
        text = raw.decode("utf-8-sig")
        assert text.splitlines()[0] == ";".join(header)
        assert unicodedata.normalize("NFC", text) == text, f"{path.name}: not NFC"
    first_line = demo.dossiers.read_bytes().decode("utf-8-sig").splitlines()[0]
    assert first_line == (
        "STT;Mã hồ sơ;Mã TTHC;Tên thủ tục hành chính;Lĩnh vực;Đơn vị tiếp nhận;Chủ hồ sơ;"
        "Số điện thoại;Kênh nộp;Ngày tiếp nhận;Ngày hẹn trả;Ngày yêu cầu bổ sung;Ngày bổ sung;"
        "Ngày xin lỗi;Ngày hẹn trả mới;Ngày kết thúc xử lý;Ngày trả kết quả;Trạng thái")


def test_dossier_count_and_volume(demo, rows):
    assert demo.dossier_count == len(rows)
    assert [int(r["STT"]) for r in rows] == list(range(1, len(rows) + 1))
    assert 0.85 * 13 * PER_MONTH <= len(rows) <= 1.1 * 13 * PER_MONTH


# ----- catalogues --------------------------------------------------------------------------------


def test_units_two_levels_under_one_root(units):
    assert 35 <= len(units) <= 45
    codes = [u["Mã đơn vị"] for u in units]
    assert len(set(codes)) == len(codes)
    roots = [u for u in units if not u["Mã đơn vị cha"]]
    assert len(roots) == 1 and roots[0]["Cấp"] == "tinh"
    root = roots[0]["Mã đơn vị"]
    assert all(u["Mã đơn vị cha"] == root for u in units if u is not roots[0])
    levels = Counter(u["Cấp"] for u in units)
    assert set(levels) == {"tinh", "xa"}
    assert levels["tinh"] >= 15 and levels["xa"] >= 18
    assert all(re.fullmatch(r"000\.\d\d\.\d\d\.H48", c) for c in codes)
    names = {u["Tên đơn vị"] for u in units}
    assert {"Sở Tư pháp", "Sở Nông nghiệp và Môi trường", "Công an tỉnh"} <= names
    assert all(n.startswith(("UBND phường ", "UBND xã ")) for n in
               (u["Tên đơn vị"] for u in units if u["Cấp"] == "xa"))
    for u in units:
        mails = u["Email nhận báo cáo"].split(",")
        assert 1 <= len(mails) <= 2
        assert all(re.fullmatch(r"[a-z0-9.]+@sonha\.gov\.vn", m) for m in mails), mails


def test_procedures_catalogue(procedures):
    assert 50 <= len(procedures) <= 70
    codes = [p["Mã TTHC"] for p in procedures]
    assert len(set(codes)) == len(codes)
    assert all(re.fullmatch(r"[123]\.\d{6}", c) for c in codes)
    limits = {p["Thời hạn giải quyết"] for p in procedures}
    assert {"Trong ngày", "0,5 ngày làm việc", "3 ngày làm việc", "5 ngày làm việc",
            "8 giờ làm việc", "15 ngày", "20 ngày làm việc", "30 ngày làm việc"} <= limits
    parsed = [parse_limit(t) for t in limits]
    assert any(lim.same_day for lim in parsed)
    assert max(lim.value for lim in parsed if lim.unit == "working_days") == 30
    field_codes: dict[str, set[str]] = {}
    for p in procedures:
        field_codes.setdefault(p["Lĩnh vực"], set()).add(p["Mã lĩnh vực"])
    assert all(len(c) == 1 for c in field_codes.values()), "one code per field"
    assert {"Hộ tịch", "Chứng thực", "Xây dựng", "Đất đai", "Lý lịch tư pháp",
            "Đăng ký kinh doanh"} <= set(field_codes)


def test_each_procedure_is_handled_at_one_level(units, procedures, rows):
    level = {u["Tên đơn vị"]: u["Cấp"] for u in units}
    levels: dict[str, set[str]] = {}
    for r in rows:
        levels.setdefault(r["Mã TTHC"], set()).add(level[r["Đơn vị tiếp nhận"]])
    assert all(len(v) == 1 for v in levels.values())
    catalogue = {p["Mã TTHC"]: p for p in procedures}
    assert set(levels) <= set(catalogue)
    for r in rows[:500]:
        p = catalogue[r["Mã TTHC"]]
        assert r["Tên thủ tục hành chính"] == p["Tên thủ tục hành chính"]
        assert r["Lĩnh vực"] == p["Lĩnh vực"]
    assert levels["2.000815"] == {"xa"}  # chứng thực bản sao at communes
    assert levels["1.000201"] == {"tinh"}  # lý lịch tư pháp at Sở Tư pháp


# ----- dossiers ----------------------------------------------------------------------------------


def test_codes_unique_and_national_style(units, rows, parsed):
    codes = [r["Mã hồ sơ"] for r in rows]
    assert len(set(codes)) == len(codes)
    unit_code = {u["Tên đơn vị"]: u["Mã đơn vị"] for u in units}
    for r, received in parsed:
        assert r["Mã hồ sơ"].startswith(f"{unit_code[r['Đơn vị tiếp nhận']]}-{received:%y%m%d}-")
        assert re.fullmatch(r"\d{4}", r["Mã hồ sơ"].rsplit("-", 1)[1])
    assert all(re.fullmatch(r"09\d{8}", r["Số điện thoại"]) for r in rows)


def test_received_on_working_days_except_saturday_online(cal, rows, parsed):
    assert 5 <= len(rows) - len(parsed) <= 15  # the rows to reject
    off = [(r, t) for r, t in parsed if not cal.is_working_day(t.date())]
    assert off, "some online dossiers are accepted on Saturday mornings"
    for r, t in off:
        assert t.weekday() == 5 and r["Kênh nộp"] == ONLINE and t.hour < 12, r["Mã hồ sơ"]
    clocks = [t.time() for _, t in parsed]
    assert any(c.hour < 7 for c in clocks) and any(c.hour >= 17 for c in clocks)
    office = sum(1 for c in clocks if 7 <= c.hour < 17)
    assert office / len(clocks) > 0.9
    if cal.is_working_day(TODAY):
        assert any(t.date() == TODAY for _, t in parsed)
    assert max(t for _, t in parsed) <= NOW


def test_tet_weeks_receive_fewer(cal, parsed):
    tet_week = date(2026, 2, 16)
    assert not any(cal.is_working_day(tet_week + timedelta(days=i)) for i in range(7))
    weekly = Counter(t.date() - timedelta(days=t.weekday()) for _, t in parsed)
    around = [weekly[tet_week + timedelta(weeks=k)] for k in (-1, 0, 1)]
    neighbours = [weekly[tet_week + timedelta(weeks=k)] for k in (-4, -3, 2, 3)]
    assert max(around) < 0.75 * min(neighbours), (around, neighbours)
    # the weeks after Tết catch up
    assert weekly[tet_week + timedelta(weeks=2)] > weekly[tet_week - timedelta(weeks=4)]


def test_channels(rows):
    channels = Counter(r["Kênh nộp"] for r in rows)
    assert set(channels) == set(CHANNEL_WORDS.values())
    assert 0.30 <= channels[ONLINE] / len(rows) <= 0.50
    assert 0 < channels[POST] / len(rows) < 0.06


def test_statuses_use_the_vietnamese_words(rows):
    statuses = Counter(r["Trạng thái"] for r in rows)
    assert set(statuses) <= set(STATUS_WORDS.values())
    for code in (4, 5, 7, 8, 9, 10):  # 2 (received, never passed on) is too rare in so small a demo
        assert statuses[STATUS_WORDS[code]] > 0, STATUS_WORDS[code]
    assert 0.005 < statuses[STATUS_WORDS[7]] / len(rows) < 0.02
    assert statuses[STATUS_WORDS[10]] > statuses[STATUS_WORDS[9]]


def test_appointments_follow_the_legal_limit(cal, procedures, parsed):
    """Ngày hẹn trả = compute_due (from the resubmission after a supplement), except the rows
    deliberately missing it or promising more than the law allows."""
    limit = {p["Mã TTHC"]: parse_limit(p["Thời hạn giải quyết"]) for p in procedures}
    missing = beyond = 0
    for r, received in parsed:
        due = _dt(r["Ngày hẹn trả"])
        if due is None:
            missing += 1
            continue
        legal = compute_due(cal, received, limit[r["Mã TTHC"]],
                            resubmitted_at=_dt(r["Ngày bổ sung"]))
        if due != legal:
            assert due.date() > legal.date(), r["Mã hồ sơ"]
            assert 2 * 8 <= cal.working_hours_between(legal, due) <= 5 * 8
            beyond += 1
    assert 1 <= missing <= 0.01 * len(parsed)
    assert 1 <= beyond <= 0.02 * len(parsed)


def test_data_quality_problems_are_present(rows, parsed):
    finished_no_date = [r for r in rows if r["Trạng thái"] in FINISHED
                        and not r["Ngày kết thúc xử lý"] and not r["Ngày trả kết quả"]]
    assert 1 <= len(finished_no_date) <= 0.01 * len(rows)
    unparsable = []
    for r in rows:
        try:
            datetime.strptime(r["Ngày tiếp nhận"], FMT)
        except ValueError:
            unparsable.append(r["Ngày tiếp nhận"])
    assert len(unparsable) == len(rows) - len(parsed)
    assert 5 <= len(unparsable) <= 15
    variants = {t for t in BAD_DATES for u in unparsable
                if u == t or t[:6] in ("31/02/", "30/02/") and u.startswith(t[:6])}
    assert len(variants) >= 3
    formulas = [r["Chủ hồ sơ"] for r in rows if r["Chủ hồ sơ"][:1] in ("=", "+", "-", "@")]
    assert 2 <= len(formulas) <= 3
    assert set(formulas) <= set(FORMULA_NAMES)  # e.g. '=HYPERLINK("…";"…")', stored as text
    assert any(f.startswith("=") for f in formulas)


def test_dates_are_consistent(parsed):
    supplements = apologies = 0
    for r, received in parsed:
        due = _dt(r["Ngày hẹn trả"])
        asked, back = _dt(r["Ngày yêu cầu bổ sung"]), _dt(r["Ngày bổ sung"])
        sorry, new_due = _dt(r["Ngày xin lỗi"]), _dt(r["Ngày hẹn trả mới"])
        finished, returned = _dt(r["Ngày kết thúc xử lý"]), _dt(r["Ngày trả kết quả"])
        status = WORDS_STATUS[r["Trạng thái"]]
        for t in (asked, back, sorry, finished, returned):
            assert t is None or received <= t <= NOW, r["Mã hồ sơ"]
        if asked:
            supplements += 1
            assert back is None if status == 5 else back is not None and asked < back
        if status == 5:
            assert asked is not None and back is None
        if sorry:
            apologies += 1
            assert due is not None and sorry < due < new_due
        if status == 10 and finished:
            assert returned is not None and returned > finished
        if status in (4, 5, 6):
            assert finished is None and returned is None
        if status in (7, 8):
            assert finished is not None and returned is None
    assert 0.05 < supplements / len(parsed) < 0.11
    assert apologies > 0


def test_lateness_differs_by_unit(parsed):
    finished: Counter[str] = Counter()
    late: Counter[str] = Counter()
    late_rows: list[dict[str, str]] = []
    for r, _ in parsed:
        due, end = _dt(r["Ngày hẹn trả"]), _dt(r["Ngày kết thúc xử lý"])
        if r["Trạng thái"] in FINISHED and due and end:
            finished[r["Đơn vị tiếp nhận"]] += 1
            if end.date() > due.date():
                late[r["Đơn vị tiếp nhận"]] += 1
                late_rows.append(r)
    rates = {u: late[u] / n for u, n in finished.items() if n >= 40}
    assert len(rates) >= 20
    assert max(rates.values()) >= 0.10
    assert sum(1 for v in rates.values() if v <= 0.01) >= 3
    with_apology = sum(1 for r in late_rows if r["Ngày xin lỗi"])
    assert 0.3 < with_apology / len(late_rows) < 0.7  # about half apologise (Mẫu 04)


def test_the_dashboard_has_something_to_show(cal, parsed):
    open_ = [(r, _dt(r["Ngày hẹn trả"])) for r, _ in parsed if r["Trạng thái"] == STATUS_WORDS[4]]
    overdue = [r for r, due in open_ if due and due.date() < TODAY]
    at_risk = [r for r, due in open_
               if due and due >= NOW and cal.working_seconds_between(NOW, due) <= 8 * 3600]
    assert overdue and at_risk
    last_week = [r for r, t in parsed if (TODAY - t.date()).days < 7]
    unfinished = [r for r in last_week if WORDS_STATUS[r["Trạng thái"]] in (2, 4, 5, 6)]
    assert len(unfinished) / len(last_week) > 0.3
