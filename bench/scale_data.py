"""The province-scale benchmark's data: a PostgreSQL database of 10,000,000 dossiers generated in SQL,
and a SQLite database of 1,000,000 copied from it (bench/scale.py runs both; see its docstring).

A province after the 2025 merger: the provincial People's Committee, 34 departments (some with
sub-departments: a unit head of a department sees its subtree) and 120 communes; 623 procedures
in 49 fields, each with a legal time limit (16 kinds, from "trong ngày" to 45 calendar days; 21
procedures have none, 40 had their limit cut from 1 July 2025), volumes in a Zipf mix, commune
procedures (civil status, certification) over half of them; five years of receptions (fewer on
days off, volume and the online share growing), up to yesterday. Of the dossiers: about 2.4% open
at NOW (recent ones, and one in fifty never finished), 4–8% late, 5% with supplement requests,
a quarter carrying their own limit, a few with no appointment or one beyond the limit, three in ten
late ones with an apology; 1.75 status changes a dossier.

Time limits and classes are the product's. Every due a dossier can hold is computed by
tracker.rules.compute_due in Python, once per (receipt day, 15-minute slot, limit) — receptions
and resubmissions fall on that grid — and joined in; working time between two moments
(portal_work_seconds, the excess of an appointment beyond the limit) comes from the calendar's own
positions (WorkCalendar.position, per day) and its office sessions. The rest of tracker.derive
(classes, finish moments, the portal's 766 columns) is a few comparisons, written in SQL below.
`verify` checks a random sample against tracker.derive.derive and tracker.rules.classify and
stops the build at the first difference.

What an import would have left: a history import on 1 July 2024 (06:00), then one a day at 06:00
(table import_run); status_change holds what each import saw change (first seen, processing,
waiting for a supplement and back, ended), first_seen_finished_at the import that first saw an
ended status of a dossier it had seen open. The database holds what the import at LAST_IMPORT
saw: NOW (four hours later) is the benchmark's present moment.

Randomness: PostgreSQL's random() after setseed(), one seed per chunk of days, so the same
chunk always gets the same rows whichever connection generates it (same PostgreSQL version).
"""

from __future__ import annotations

import math
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from multiprocessing import get_context

SEED = 17
GENERATOR = "scale-1"  # bump when the generated data changes: stored databases are then rebuilt
NOW = datetime(2026, 11, 26, 10, 0)  # a Thursday: the benchmark's present moment
LAST_IMPORT = datetime(2026, 11, 26, 6, 0)  # what the database holds: this import's view
FIRST_DAY = date(2021, 11, 26)  # receptions: five years, FIRST_DAY .. LAST_DAY
LAST_DAY = date(2026, 11, 25)
DEPLOY = datetime(2024, 7, 1, 6, 0)  # the history import; then one import a day at 06:00
CUT_DAY = date(2025, 7, 1)  # limits cut after the merger take effect
NDAYS = (LAST_DAY - FIRST_DAY).days + 1
SLOT_MINUTES = [360 + 15 * k for k in range(56)] + [20 * 60 + 30, 21 * 60 + 30, 22 * 60 + 30]  # 06:00 .. 22:30
NSLOT = len(SLOT_MINUTES)
CHUNK_ROWS = 250_000  # rows per generated chunk (one transaction, one seed)
PROVINCE = "H48"

# (value, unit): the limits procedures have. The recorded appointment "beyond the limit" of a
# dossier is the due of the next longer limit of the same kind, a "shorter" one the next shorter.
LIMITS = [(0, "working_days"), (0.5, "working_days"), (1, "working_days"), (2, "working_days"),
          (3, "working_days"), (5, "working_days"), (7, "working_days"), (10, "working_days"),
          (15, "working_days"), (20, "working_days"), (30, "working_days"), (8, "working_hours"),
          (16, "working_hours"), (15, "calendar_days"), (30, "calendar_days"), (45, "calendar_days")]
NLIM = len(LIMITS)

# name, index of the parent department (None: the provincial People's Committee)
DEPARTMENTS = [
    ("Văn phòng UBND tỉnh", None), ("Sở Nội vụ", None), ("Sở Tư pháp", None), ("Sở Tài chính", None),
    ("Sở Công Thương", None), ("Sở Nông nghiệp và Môi trường", None), ("Sở Xây dựng", None),
    ("Sở Giáo dục và Đào tạo", None), ("Sở Y tế", None), ("Sở Văn hóa, Thể thao và Du lịch", None),
    ("Sở Khoa học và Công nghệ", None), ("Sở Dân tộc và Tôn giáo", None), ("Sở Ngoại vụ", None),
    ("Thanh tra tỉnh", None), ("Ban Quản lý các khu công nghiệp", None), ("Trung tâm Phục vụ hành chính công", None),
    ("Công an tỉnh", None), ("Bảo hiểm xã hội tỉnh", None), ("Thuế tỉnh", None), ("Kho bạc Nhà nước khu vực", None),
    ("Chi cục Kiểm lâm", 5), ("Chi cục Chăn nuôi và Thú y", 5), ("Chi cục Thủy lợi", 5),
    ("Văn phòng Đăng ký đất đai", 5),
    ("Chi cục Bảo vệ môi trường", 5), ("Chi cục Tiêu chuẩn Đo lường Chất lượng", 10),
    ("Chi cục Quản lý thị trường", 4), ("Chi cục Dân số", 8), ("Chi cục An toàn vệ sinh thực phẩm", 8),
    ("Trung tâm Kiểm soát bệnh tật", 8), ("Trung tâm Trợ giúp pháp lý nhà nước", 2), ("Phòng Công chứng số 1", 2),
    ("Trung tâm Dịch vụ việc làm", 1), ("Ban Quản lý Khu kinh tế", None),
]
HEAD_DEPARTMENT = 5  # the unit head's department: Sở Nông nghiệp và Môi trường and its five sub-departments
XA = -1  # a field handled by the communes
# code, name, handled by (department index or XA), share of dossiers (%), limits (indexes into LIMITS)
FIELDS = [
    ("HT", "Hộ tịch", XA, 18, [1, 2, 4, 11, 0]), ("CT", "Chứng thực", XA, 20, [0]),
    ("DDX", "Đất đai (cấp xã)", XA, 5, [7, 13, 14]), ("XDX", "Xây dựng (cấp xã)", XA, 3, [6, 8, 9]),
    ("BTXH", "Bảo trợ xã hội", XA, 3, [5, 6, 7]), ("HKD", "Hộ kinh doanh", XA, 3, [4]),
    ("NCC", "Người có công", XA, 1.5, [5, 7, 8]), ("TDX", "Thi đua, khen thưởng (cấp xã)", XA, 0.5, [7, 9]),
    ("NCN", "Nuôi con nuôi", XA, 0.3, [9, 10]), ("GDX", "Giáo dục (cấp xã)", XA, 0.7, [5, 7]),
    ("DKKD", "Thành lập và hoạt động doanh nghiệp", 3, 5, [4]), ("DTU", "Đầu tư", 3, 1, [8, 14]),
    ("DD", "Đất đai", 23, 8, [7, 8, 14, 15]), ("MT", "Môi trường", 24, 1, [9, 10]),
    ("TY", "Thú y", 21, 1.2, [4, 5, 12]), ("KL", "Lâm nghiệp", 20, 0.5, [5, 7]), ("TL", "Thủy lợi", 22, 0.3, [7, 9]),
    ("NN", "Trồng trọt và bảo vệ thực vật", 5, 0.8, [5, 7]), ("XD", "Hoạt động xây dựng", 6, 2.5, [7, 8, 9, 14]),
    ("GT", "Đường bộ", 6, 4.0, [2, 4, 5, 11]), ("GD", "Giáo dục và Đào tạo", 7, 1.2, [5, 7, 8]),
    ("YT", "Khám bệnh, chữa bệnh", 8, 1.3, [7, 9, 10]), ("DUOC", "Dược", 8, 1.2, [5, 8, 14]),
    ("ATTP", "An toàn thực phẩm", 28, 0.7, [6, 8]), ("VH", "Văn hóa", 9, 0.6, [5, 6]),
    ("DL", "Du lịch", 9, 0.4, [5, 7]),
    ("LLTP", "Lý lịch tư pháp", 2, 2.5, [7, 8]), ("CCH", "Công chứng", 31, 2.0, [0, 3, 7]),
    ("TGPL", "Trợ giúp pháp lý", 30, 0.3, [3, 6]), ("LD", "Lao động, việc làm", 32, 3.0, [4, 5, 8, 9]),
    ("NV", "Công chức, viên chức", 1, 0.5, [7, 10]), ("TG", "Tín ngưỡng, tôn giáo", 11, 0.3, [9, 10, 15]),
    ("LTHH", "Lưu thông hàng hóa", 4, 1.5, [5, 6, 8]), ("QLTT", "Quản lý thị trường", 26, 0.3, [6]),
    ("KHCN", "Khoa học và Công nghệ", 10, 0.3, [7, 8]), ("TCDL", "Tiêu chuẩn đo lường chất lượng", 25, 0.5, [4, 6]),
    ("KCN", "Khu công nghiệp", 14, 0.4, [5, 8, 13]), ("KKT", "Khu kinh tế", 33, 0.3, [8, 14]),
    ("BHXH", "Bảo hiểm xã hội", 17, 2.5, [4, 5, 7]), ("THUE", "Thuế", 18, 1.0, [4, 7]),
    ("XNC", "Quản lý xuất nhập cảnh", 16, 2.0, [5, 11]), ("NGV", "Ngoại vụ", 12, 0.1, [5, 7]),
    ("DS", "Dân số", 27, 0.2, [5]), ("DT", "Công tác dân tộc", 11, 0.1, [7]),
    ("KNTC", "Tiếp công dân, khiếu nại, tố cáo", 13, 0.2, [14, 15, 10]), ("VP", "Văn phòng UBND tỉnh", 0, 0.3, [7, 8]),
    ("HCC", "Phục vụ hành chính công", 15, 0.5, [2, 4]), ("KB", "Kho bạc", 19, 0.3, [2, 3]),
    ("YTDP", "Y tế dự phòng", 29, 0.3, [5, 7]),
]
COMMUNE_WORDS = ["An", "Bình", "Tân", "Phú", "Hòa", "Thạnh", "Long", "Mỹ", "Phước", "Thuận", "Hưng", "Lợi",
                 "Đông", "Tây", "Nam", "Bắc", "Sơn", "Hải", "Vĩnh", "Quang", "Thịnh", "Xuân", "Trung", "Đức"]
FAMILY = ["Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Huỳnh", "Phan", "Vũ", "Võ", "Đặng", "Bùi", "Đỗ", "Hồ",
          "Ngô", "Dương", "Lý"]
MIDDLE = ["Văn", "Thị", "Hữu", "Đức", "Minh", "Thanh", "Ngọc", "Quốc"]
GIVEN = ["An", "Bình", "Cường", "Dũng", "Hà", "Hải", "Hạnh", "Hoa", "Hùng", "Lan", "Linh", "Long", "Mai",
         "Nam", "Nga", "Phong", "Phương", "Quân", "Sơn", "Tâm", "Thảo", "Trang", "Tuấn", "Vân", "Yến"]


# ----- the catalogue: units, procedures, limits, volumes ---------------------------------------------


@dataclass
class Catalogue:
    units: list[tuple]  # (id, code, name, parent_id, level)
    procedures: list[tuple]  # (id, code, name, field_code, field_name)
    versions: list[tuple]  # (procedure_id, effective_from, limit index)
    # (pidx, procedure_id, unit_id or None, commune, lim_old, lim_new, switch day index, days a no-limit one takes)
    proc_rows: list[tuple]
    proc_weights: list[float]  # by pidx
    commune_ids: list[int]
    commune_weights: list[float]
    head_unit_code: str = ""


def catalogue() -> Catalogue:
    rng = random.Random(SEED)
    units = [(1, f"000.00.00.{PROVINCE}", "UBND tỉnh Sơn Hà", None, "tinh")]
    dept_ids = []
    for k, (name, parent) in enumerate(DEPARTMENTS):
        uid = 2 + k
        dept_ids.append(uid)
        units.append((uid, f"000.00.{k + 1:02d}.{PROVINCE}", name, 1 if parent is None else 2 + parent, "tinh"))
    commune_ids, commune_weights = [], []
    names = set()
    for j in range(120):
        while True:
            name = f"{rng.choice(('Xã', 'Xã', 'Phường'))} {rng.choice(COMMUNE_WORDS)} {rng.choice(COMMUNE_WORDS)}"
            if name not in names and len(set(name.split()[1:])) == 2:
                names.add(name)
                break
        uid = 2 + len(DEPARTMENTS) + j
        units.append((uid, f"000.{20 + j // 60:02d}.{10 + j % 60:02d}.{PROVINCE}", f"UBND {name[0].lower()}{name[1:]}",
                      1, "xa"))
        commune_ids.append(uid)
        commune_weights.append(math.exp(rng.gauss(0, 0.6)))
    total_share = sum(f[3] for f in FIELDS)
    procedures, versions, proc_rows, weights = [], [], [], []
    n_target = 600
    for fcode, fname, owner, share, limits in FIELDS:
        n = max(3, round(n_target * share / total_share))
        zipf = [1 / (r + 1) ** 1.2 for r in range(n)]
        zsum = sum(zipf)
        for r in range(n):
            pid = len(procedures) + 1
            procedures.append((pid, f"1.{pid:06d}", f"{fname}: thủ tục số {r + 1}", fcode, fname))
            lim_old = rng.choice(limits) if rng.random() > 0.03 else None
            lim_new = switch = None
            if lim_old is not None:
                versions.append((pid, None, lim_old))
                shorter = _shorter(lim_old)
                if shorter is not None and rng.random() < 0.12:
                    lim_new, switch = shorter, (CUT_DAY - FIRST_DAY).days
                    versions.append((pid, CUT_DAY, lim_new))
            proc_rows.append((pid, pid, None if owner == XA else dept_ids[owner], owner == XA, lim_old,
                              lim_new if lim_new is not None else lim_old, switch, rng.choice((5, 10, 15, 30))))
            weights.append(share / total_share * zipf[r] / zsum)
    return Catalogue(units, procedures, versions, proc_rows, weights, commune_ids, commune_weights,
                     head_unit_code=units[1 + HEAD_DEPARTMENT][1])


def _longer(k: int) -> int | None:
    """The next longer limit of the same kind (a same-day procedure's: one working day)."""
    value, unit = LIMITS[k]
    same = sorted((v, i) for i, (v, u) in enumerate(LIMITS) if u == unit and v > value and not (value == 0 and v < 1))
    return same[0][1] if same else None


def _shorter(k: int) -> int | None:
    value, unit = LIMITS[k]
    same = sorted((v, i) for i, (v, u) in enumerate(LIMITS) if u == unit and 0 < v < value)
    return same[-1][1] if same else None


def day_volumes(n: int, cal) -> list[tuple[int, date, int, int]]:  # noqa: ANN001
    """(day index, day, first id, dossiers) for each reception day: working days weigh 1, days off
    0.04 (online dossiers only), volume growing from 0.8 to 1.2 over the five years."""
    weights = []
    for k in range(NDAYS):
        d = FIRST_DAY + timedelta(days=k)
        weights.append((1.0 if cal.is_working_day(d) else 0.04) * (0.8 + 0.4 * k / NDAYS))
    total = sum(weights)
    exact = [n * w / total for w in weights]
    counts = [int(x) for x in exact]
    for k in sorted(range(NDAYS), key=lambda k: counts[k] - exact[k])[: n - sum(counts)]:
        counts[k] += 1
    out, first = [], 1
    for k, c in enumerate(counts):
        out.append((k, FIRST_DAY + timedelta(days=k), first, c))
        first += c
    return out


def day_span(cal) -> list[tuple]:  # noqa: ANN001
    """Every day a moment of the data can fall on, from FIRST_DAY: (index, day, -, -, position of its
    midnight, whether it is a working day)."""
    span = []
    d = FIRST_DAY
    while d <= NOW.date() + timedelta(days=1):
        span.append((len(span), d, 0, 0, cal.position(datetime(d.year, d.month, d.day)), cal.is_working_day(d)))
        d += timedelta(days=1)
    return span


def buckets(weights: list[float], size: int) -> list[int]:
    """`size` buckets, each naming an item, in proportion to the weights (largest remainder; every
    item with a weight gets at least one): a uniform draw picks bucket floor(u * size)."""
    total = sum(weights)
    exact = [size * w / total for w in weights]
    counts = [max(1, int(x)) for x in exact]
    while sum(counts) > size:
        k = max(range(len(counts)), key=lambda k: counts[k] - exact[k])
        counts[k] -= 1
    for k in sorted(range(len(counts)), key=lambda k: counts[k] - exact[k])[: size - sum(counts)]:
        counts[k] += 1
    out = []
    for k, c in enumerate(counts):
        out += [k] * c
    return out


SLOT_WEIGHTS = [0.3 if m < 420 else 12 if m < 600 else 8 if m < 690 else 0.5 if m < 810 else 8 if m < 1020
                else 0.4 if m < 1200 else 0.1 for m in SLOT_MINUTES]


# ----- the product's due dates, on the grid ------------------------------------------------------------


def bench_settings(url: str):  # noqa: ANN201
    """The product's default settings (what the figures are measured with) on `url`."""
    from tracker.config import load_settings

    s = load_settings(env={}, overrides={"database.url": url})
    rules = s.rule_settings()
    if rules.comparison != "date" or rules.online_last_hour_next_day:
        raise SystemExit("bench/scale_data.py writes derived columns for date comparison without the online "
                         "last-hour rule (the defaults); these settings differ")
    return s


def warm_calendar(settings):  # noqa: ANN001, ANN201
    """The settings' calendar with every year the data touches loaded first: positions count from the
    first loaded year, so loading an earlier one later would shift them."""
    cal = settings.work_calendar()
    cal.is_working_day(date(FIRST_DAY.year - 1, 1, 1))
    cal.is_working_day(date(NOW.year + 3, 12, 31))
    return cal


def _due_rows(args: tuple[str, int, int]) -> list[tuple[int, list[datetime], list[int], int]]:
    """(moment key, the due of each limit, their working-time positions, calendar origin) for the grid's
    moments on days [lo, hi): the moment key is day index x NSLOT + slot."""
    from tracker.rules import TimeLimit, compute_due

    url, lo, hi = args
    settings = bench_settings(url)
    cal, rules = warm_calendar(settings), settings.rule_settings()
    origin = cal._ord0
    limits = [TimeLimit(float(v), u) for v, u in LIMITS]
    out = []
    for day_idx in range(lo, hi):
        d = FIRST_DAY + timedelta(days=day_idx)
        midnight = datetime(d.year, d.month, d.day)
        for slot, minutes in enumerate(SLOT_MINUTES):
            t = midnight + timedelta(minutes=minutes)
            dues = [compute_due(cal, t, limit, rules=rules) for limit in limits]
            out.append((day_idx * NSLOT + slot, dues, [cal.position(due) for due in dues], origin))
    if cal._ord0 != origin:
        raise SystemExit("the working calendar was rebuilt from an earlier year while computing dues")
    return out


def due_table(url: str, processes: int = 2) -> tuple[list[tuple[int, list[datetime], list[int]]], int]:
    """Every receipt moment of the grid -> the due of each limit and its position, by
    tracker.rules.compute_due; and the calendar origin the positions count from."""
    step = -(-NDAYS // (processes * 4))
    parts = [(url, lo, min(NDAYS, lo + step)) for lo in range(0, NDAYS, step)]
    with get_context("fork").Pool(processes) as pool:
        chunks = pool.map(_due_rows, parts)
    origins = {r[3] for c in chunks for r in c}
    if len(origins) != 1:
        raise SystemExit(f"the calendar's positions differ between processes: {origins}")
    return [r[:3] for c in chunks for r in c], origins.pop()


# ----- PostgreSQL ------------------------------------------------------------------------------------


def _m_sql(t: str) -> str:
    """SQL: the first import at or after moment t (the history import, then 06:00 each day)."""
    return (f"(CASE WHEN {t} <= TIMESTAMP '{DEPLOY}' THEN TIMESTAMP '{DEPLOY}' "
            f"WHEN ({t})::time <= TIME '06:00' THEN ({t})::date + TIME '06:00' "
            f"ELSE ({t})::date + 1 + TIME '06:00' END)")


def _slot_ts(day_idx: str, slot: str) -> str:
    """SQL: the moment of grid slot `slot` (one of the first 56: 06:00 + 15 minutes x slot) on day `day_idx`."""
    return f"(DATE '{FIRST_DAY}' + ({day_idx}) + make_interval(mins => 360 + 15 * ({slot})))"


def _grid(sslot: str, offset: int) -> str:
    """SQL: a grid slot between 07:00 and 15:45 (index 4 .. 39), `offset` slots round from `sslot` (0 .. 35)."""
    return f"(4 + mod({sslot} + {offset}, 36))"


def _run_id(m: str) -> str:
    """SQL: the import_run id of import moment m (1: the history import, then one a day)."""
    return f"(({m})::date - DATE '{DEPLOY.date()}' + 1)"


def _array(values, kind: str) -> str:
    """A SQL array constant (subscripts are 1-based; no NULLs: a NULL bitmap makes each lookup walk the array)."""
    return f"('{{{','.join(str(v) for v in values)}}}'::{kind}[])"


def chunk_sql(fp: str, spans, cat: Catalogue, days: list[tuple]) -> str:  # noqa: ANN001
    """One INSERT statement (three, through data-modifying CTEs) generating the dossiers of days
    %(lo)s..%(hi)s with their supplement pairs and status history.

    Each CTE but the last is referenced once and fenced by OFFSET 0: PostgreSQL runs the stages as one
    pipeline and never substitutes a stage's expressions into the next (which multiplies them)."""
    last = NDAYS - 1
    L = f"TIMESTAMP '{LAST_IMPORT}'"  # noqa: N806
    pick_slot = _array(buckets(SLOT_WEIGHTS, 1000), "int")
    slot_min = _array(SLOT_MINUTES, "int")
    pick_proc = _array([cat.proc_rows[k][0] for k in buckets(cat.proc_weights, 100_000)], "int")
    by_pid = sorted(cat.proc_rows, key=lambda r: r[1])
    if [r[1] for r in by_pid] != list(range(1, len(by_pid) + 1)):
        raise SystemExit("procedure ids are not 1..n")
    p_unit = _array([r[2] or 0 for r in by_pid], "int")
    p_commune = _array(["t" if r[3] else "f" for r in by_pid], "bool")
    p_old = _array([-1 if r[4] is None else r[4] for r in by_pid], "int")
    p_new = _array([-1 if r[5] is None else r[5] for r in by_pid], "int")
    p_switch = _array([-1 if r[6] is None else r[6] for r in by_pid], "int")
    p_nolim = _array([r[7] for r in by_pid], "int")
    pick_commune = _array([cat.commune_ids[k] for k in buckets(cat.commune_weights, 10_000)], "int")
    l_longer = _array([-1 if _longer(k) is None else _longer(k) for k in range(NLIM)], "int")
    l_shorter = _array([-1 if _shorter(k) is None else _shorter(k) for k in range(NLIM)], "int")
    l_value = _array([float(v) for v, _ in LIMITS], "float8")
    l_unit = _array([u for _, u in LIMITS], "text")
    by_uid = sorted(cat.units)
    if [u[0] for u in by_uid] != list(range(1, len(by_uid) + 1)):
        raise SystemExit("unit ids are not 1..n")
    unit_code = _array([u[1] for u in by_uid], "text")
    day_pos0 = _array([d[4] for d in days], "bigint")
    day_work = _array(["t" if d[5] else "f" for d in days], "bool")
    fam, mid, giv = (_array(x, "text") for x in (FAMILY, MIDDLE, GIVEN))
    ended = "(7, 8, 9, 10)"

    def w_sql(t: str) -> str:
        """WorkCalendar.position(t): its day's midnight position, plus on a working day the office
        seconds before t's time of day (the calendar's sessions)."""
        s = f"floor(extract(epoch from ({t})::time))::int"
        k = f"(({t})::date - DATE '{FIRST_DAY}' + 1)"
        parts = " + ".join(f"least(greatest({s} - {a}, 0), {b - a})" for a, b, _ in spans)
        return f"({day_pos0}[{k}] + CASE WHEN {day_work}[{k}] THEN {parts} ELSE 0 END)"

    status_at = ("(CASE WHEN x.fin IS NOT NULL AND x.fin <= {t} THEN x.final "
                 "WHEN x.req2 IS NOT NULL AND x.req2 <= {t} AND (x.res2 IS NULL OR {t} < x.res2) THEN 5 "
                 "WHEN x.req1 IS NOT NULL AND x.req1 <= {t} AND (x.res1 IS NULL OR {t} < x.res1) THEN 5 "
                 "WHEN x.received + interval '1 day' <= {t} THEN x.proc_status ELSE 2 END)")
    mf = "x.mf"  # the import that first saw it ended (infinity: none did)
    next_day = "(x.received + interval '1 day')"
    taus = [_m_sql("x.received"), f"least({_m_sql(next_day)}, {mf})",
            f"least({_m_sql('x.req1')}, {mf})", f"least({_m_sql('x.res1')}, {mf})",
            f"least({_m_sql('x.req2')}, {mf})", f"least({_m_sql('x.res2')}, {mf})", mf]
    conds = ["true", "x.status0 IS NULL", "x.req1 IS NOT NULL", "x.res1 IS NOT NULL", "x.req2 IS NOT NULL",
             "x.res2 IS NOT NULL", "x.fin IS NOT NULL"]
    taus_sql = ", ".join(f"{t} AS t{k}" for k, t in enumerate(taus))
    # y: the status each import saw (NULL: no such import by LAST_IMPORT); the first one always exists
    hist = ["coalesce(x.status0, " + status_at.format(t="x.t0") + ") AS s0"]
    hist += [f"CASE WHEN {conds[k]} AND x.t{k} <= {L} THEN {status_at.format(t=f'x.t{k}')} END AS s{k}"
             for k in range(1, 7)]
    prevs = ["NULL::int"] + [f"coalesce({', '.join(f's{j}' for j in range(k - 1, -1, -1))})" for k in range(1, 7)]
    incs = ["true"] + [f"(s{k} IS NOT NULL AND s{k} <> {prevs[k]})" for k in range(1, 7)]
    seqs = ["0"] + [" + ".join(f"({incs[j]})::int" for j in range(k)) for k in range(1, 7)]
    latest = ", ".join(["z.t0"] + [f"CASE WHEN z.i{k} THEN z.t{k} END" for k in range(1, 7)])
    return f"""
WITH g AS (
  SELECT i, d.day_idx, d.first_i,
         random() AS u_slot, random() AS u_proc, random() AS u_commune, random() AS u_chan, random() AS u_own,
         random() AS u_alt, random() AS u_supp, random() AS u_two, random() AS u_s1, random() AS u_s2,
         random() AS u_s3, random() AS u_s4, random() AS u_ss, random() AS u_due, random() AS u_notrec,
         random() AS u_out, random() AS u_frac, random() AS u_late, random() AS u_stuck, random() AS u_final,
         random() AS u_dates, random() AS u_ret, random() AS u_pstat, random() AS u_apol, random() AS u_name,
         random() AS u_phone, random() AS u_sub
  FROM (SELECT day_idx, first_i, n FROM bench_gen.day WHERE day_idx BETWEEN %(lo)s AND %(hi)s AND n > 0
        ORDER BY day_idx OFFSET 0) d
  CROSS JOIN LATERAL generate_series(d.first_i, d.first_i + d.n - 1) AS i
),
a0 AS (
  SELECT g.*, {pick_slot}[1 + floor(g.u_slot * 1000)::int] AS slot,
         {pick_proc}[1 + floor(g.u_proc * 100000)::int] AS pid
  FROM g OFFSET 0
),
a AS (  -- the unit, channel, the limit in force on the receipt day, the first supplement request's day
  SELECT a0.*,
         CASE WHEN {p_commune}[a0.pid] THEN {pick_commune}[1 + floor(a0.u_commune * 10000)::int]
              ELSE {p_unit}[a0.pid] END AS unit_id,
         CASE WHEN a0.u_chan < 0.35 + 0.35 * a0.day_idx / {NDAYS}.0 THEN 2 WHEN a0.u_chan < 0.95 THEN 1
              WHEN a0.u_chan < 0.99 THEN 3 END AS channel,
         a0.u_notrec < 0.01 AS not_received,
         CASE WHEN a0.u_notrec < 0.01 THEN CASE WHEN a0.u_notrec < 0.006 THEN 1 ELSE 3 END END AS status0,
         nullif(CASE WHEN {p_switch}[a0.pid] >= 0 AND a0.day_idx >= {p_switch}[a0.pid] THEN {p_new}[a0.pid]
                     ELSE {p_old}[a0.pid] END, -1) AS lim_force,
         CASE WHEN a0.u_supp < 0.05 AND a0.u_notrec >= 0.01 AND a0.day_idx + 2 + floor(a0.u_s1 * 4)::int <= {last}
              THEN a0.day_idx + 2 + floor(a0.u_s1 * 4)::int END AS r1d,
         floor(a0.u_ss * 36)::int AS sslot
  FROM a0 OFFSET 0
),
b AS (  -- the dossier's own limit (one in four exports carry one), the days of the other supplement moments
  SELECT a.*,
         CASE WHEN a.lim_force IS NOT NULL AND a.u_own < 0.25
              THEN CASE WHEN a.u_alt < 0.04 AND {l_longer}[a.lim_force + 1] >= 0 THEN {l_longer}[a.lim_force + 1]
                        ELSE a.lim_force END END AS own_lim,
         CASE WHEN a.r1d + 1 + floor(a.u_s2 * 10)::int <= {last} THEN a.r1d + 1 + floor(a.u_s2 * 10)::int END AS s1d
  FROM a OFFSET 0
),
c AS (
  SELECT b.*, coalesce(b.own_lim, b.lim_force) AS lim,
         CASE WHEN b.u_two < 0.15 AND b.s1d + 1 + floor(b.u_s3 * 4)::int <= {last}
              THEN b.s1d + 1 + floor(b.u_s3 * 4)::int END AS r2d
  FROM b OFFSET 0
),
e AS (  -- the moments: receipt (a weighted slot), supplement requests and resubmissions (07:00 .. 15:45)
  SELECT c.*,
         CASE WHEN c.r2d + 1 + floor(c.u_s4 * 8)::int <= {last} THEN c.r2d + 1 + floor(c.u_s4 * 8)::int END AS s2d,
         DATE '{FIRST_DAY}' + c.day_idx + make_interval(mins => {slot_min}[c.slot + 1]) AS received,
         c.day_idx * {NSLOT} + c.slot AS recv_key
  FROM c OFFSET 0
),
f AS (
  SELECT e.*,
         {_slot_ts('e.r1d', _grid('e.sslot', 0))} AS req1, {_slot_ts('e.s1d', _grid('e.sslot', 7))} AS res1,
         {_slot_ts('e.r2d', _grid('e.sslot', 13))} AS req2, {_slot_ts('e.s2d', _grid('e.sslot', 23))} AS res2,
         CASE WHEN e.s2d IS NOT NULL THEN e.s2d * {NSLOT} + {_grid('e.sslot', 23)}
              WHEN e.r2d IS NULL AND e.s1d IS NOT NULL THEN e.s1d * {NSLOT} + {_grid('e.sslot', 7)}
              ELSE e.recv_key END AS start_key
  FROM e OFFSET 0
),
f2 AS (
  SELECT f.*, CASE WHEN f.r2d IS NULL THEN f.res1 ELSE f.res2 END AS resub,
         CASE WHEN f.r2d IS NULL THEN f.req1 ELSE f.req2 END AS last_req
  FROM f OFFSET 0
),
h AS (  -- the dues tracker.rules.compute_due gave for the clock's start (receipt or last resubmission)
  SELECT f2.*, coalesce(f2.resub, f2.received) AS start_ts,
         dc.due[f2.lim + 1] AS comp, dc.pos[f2.lim + 1] AS comp_pos,
         dc.due[{l_longer}[f2.lim + 1] + 1] AS due_beyond, dc.pos[{l_longer}[f2.lim + 1] + 1] AS pos_beyond,
         dc.due[{l_shorter}[f2.lim + 1] + 1] AS due_short, dc.pos[{l_shorter}[f2.lim + 1] + 1] AS pos_short,
         CASE WHEN f2.resub IS NULL OR f2.lim IS NULL THEN dc.due[f2.lim + 1]
              ELSE (SELECT d2.due[f2.lim + 1] FROM bench_gen.due d2 WHERE d2.mk = f2.recv_key) END AS pdue_comp
  FROM f2 LEFT JOIN (SELECT * FROM bench_gen.due WHERE mk >= %(lo)s * {NSLOT} AND mk < (%(hi)s + 33) * {NSLOT}) dc
    ON dc.mk = f2.start_key
  OFFSET 0
),
j AS (  -- the recorded appointment: mostly the legal due; missing, beyond the limit, or shorter now and then
  SELECT h.*,
         CASE WHEN h.not_received THEN NULL
              WHEN h.lim IS NULL
                THEN CASE WHEN h.u_due >= 0.06 THEN h.received::date + {p_nolim}[h.pid] + TIME '17:00' END
              WHEN h.u_due < 0.02 THEN NULL
              WHEN h.u_due < 0.045 AND h.due_beyond IS NOT NULL THEN h.due_beyond
              WHEN h.u_due < 0.055 AND h.due_short IS NOT NULL THEN h.due_short
              ELSE h.comp END AS due_at,
         h.u_stuck < 0.02 OR (h.last_req IS NOT NULL AND h.resub IS NULL) AS never,
         CASE WHEN h.u_final < 0.01 THEN 7 WHEN h.u_final < 0.025 THEN 8 WHEN h.u_final < 0.085 THEN 9
              ELSE 10 END AS final,
         CASE WHEN h.u_pstat < 0.03 THEN 6 ELSE 4 END AS proc_status
  FROM h OFFSET 0
),
k AS (  -- when it ends (if it does by LAST_IMPORT): within its due mostly, late less often as years pass
  SELECT j.*, coalesce(j.due_at, j.comp) AS due_used,
         CASE WHEN j.due_at IS NULL OR j.comp IS NULL OR j.due_at::date <= j.comp::date THEN NULL
              WHEN j.due_at = j.due_beyond THEN j.pos_beyond
              WHEN j.due_at = j.due_short THEN j.pos_short END AS due_pos,
         CASE WHEN j.not_received OR j.never THEN NULL
              WHEN coalesce(j.due_at, j.comp) IS NULL
                THEN date_trunc('second', j.start_ts + interval '1 day' * (1 + 20 * j.u_frac))
              WHEN j.u_out < 0.08 - 0.05 * j.day_idx / {NDAYS}.0
                THEN date_trunc('second', greatest(coalesce(j.due_at, j.comp), j.start_ts)
                                          + interval '1 hour' * (4 - 72 * ln(1 - j.u_late)))
              ELSE date_trunc('second', j.start_ts
                              + (greatest(coalesce(j.due_at, j.comp), j.start_ts + interval '1 minute') - j.start_ts)
                                * (0.15 + 0.85 * j.u_frac)) END AS fin_raw
  FROM j OFFSET 0
),
x AS (
  SELECT k.*, CASE WHEN k.fin_raw <= {L} THEN k.fin_raw END AS fin
  FROM k OFFSET 0
),
xm AS (
  SELECT x.*, coalesce({_m_sql('x.fin')}, 'infinity'::timestamp) AS mf
  FROM x OFFSET 0
),
xt AS (  -- the imports that saw something: first sight, processing begun, supplement requested, resubmitted, ended
  SELECT x.*, {taus_sql}
  FROM xm AS x OFFSET 0
),
y AS (  -- what each of them saw
  SELECT x.*, {", ".join(hist)}
  FROM xt AS x OFFSET 0
),
z AS (
  SELECT y.*, coalesce(s6, s5, s4, s3, s2, s1, s0) AS status,
         {", ".join(f"{prevs[k]} AS p{k}" for k in range(1, 7))},
         {", ".join(f"{incs[k]} AS i{k}" for k in range(1, 7))},
         {", ".join(f"{seqs[k]} AS q{k}" for k in range(1, 7))}
  FROM y OFFSET 0
),
z1 AS (
  SELECT z.*, greatest({latest}) AS updated,
         CASE WHEN z.fin IS NOT NULL AND (z.u_dates < 0.93 OR (z.u_dates < 0.98 AND z.final <> 10))
              THEN z.fin END AS finished_at,
         CASE WHEN z.fin IS NOT NULL AND z.final = 10 AND z.u_dates < 0.93
                THEN least(z.fin + interval '1 hour' * (1 + 40 * z.u_ret), {L})
              WHEN z.fin IS NOT NULL AND z.final = 10 AND z.u_dates < 0.98 THEN z.fin END AS returned_at,
         CASE WHEN z.fin IS NOT NULL AND z.status IN {ended} AND z.t0 < z.t6 THEN z.t6 END AS first_seen,
         CASE WHEN z.r1d IS NULL THEN 0 WHEN z.r2d IS NULL THEN 1 ELSE 2 END AS supp_count,
         (coalesce(extract(epoch from z.res1 - z.req1), 0)
          + coalesce(extract(epoch from z.res2 - z.req2), 0))::float8 AS supp_secs,
         greatest(z.req1, z.res1, z.req2, z.res2) AS supp_last,
         CASE WHEN z.last_req IS NOT NULL AND z.resub IS NULL THEN z.last_req END AS supp_open,
         (z.fin IS NOT NULL AND z.due_used IS NOT NULL AND z.fin::date > z.due_used::date)
           OR (z.fin IS NULL AND NOT z.not_received AND z.due_used IS NOT NULL
               AND z.due_used::date < DATE '{NOW.date()}') AS went_late
  FROM z OFFSET 0
),
z2 AS (  -- an apology (Mẫu 04) for three in ten late ones, mostly before the due; then tracker.derive's columns
  SELECT z1.*,
         CASE WHEN z1.went_late AND z1.u_apol < 0.3 AND z1.due_used - interval '1 day' > z1.received
                THEN z1.due_used - interval '1 day'
              WHEN z1.went_late AND z1.u_apol >= 0.3 AND z1.u_apol < 0.35 AND z1.due_used + interval '1 day' <= {L}
                THEN z1.due_used + interval '1 day' END AS apology_at,
         coalesce(z1.finished_at, z1.returned_at,
                  CASE WHEN z1.status IN {ended} THEN coalesce(z1.first_seen, z1.received) END) AS finish_at,
         CASE WHEN z1.finished_at IS NOT NULL THEN 'finished' WHEN z1.returned_at IS NOT NULL THEN 'returned'
              WHEN z1.status IN {ended} THEN CASE WHEN z1.first_seen IS NOT NULL THEN 'first_seen' ELSE 'unknown' END
         END AS source,
         coalesce(z1.due_at, z1.pdue_comp) AS p_due
  FROM z1 OFFSET 0
),
z3 AS (
  SELECT z2.*, z2.finish_at - make_interval(secs => z2.supp_secs) AS p_end
  FROM z2 OFFSET 0
),
gen AS MATERIALIZED (
  SELECT z3.i AS id,
    {unit_code}[z3.unit_id] || '-' || to_char(DATE '{FIRST_DAY}' + z3.day_idx, 'YYMMDD') || '-'
      || lpad((z3.i - z3.first_i + 1)::text, 5, '0') AS code,
    z3.unit_id, z3.pid AS procedure_id, z3.channel, z3.status,
    CASE WHEN z3.channel = 2 THEN date_trunc('second', z3.received - interval '1 hour' * 20 * z3.u_sub)
         ELSE z3.received END AS submitted_at,
    z3.received AS received_at, z3.due_at, z3.last_req AS supplement_requested_at, z3.resub AS resubmitted_at,
    z3.apology_at,
    CASE WHEN z3.apology_at IS NOT NULL
         THEN greatest(z3.due_used, z3.apology_at) + interval '7 days' END AS rescheduled_due_at,
    z3.finished_at, z3.returned_at, z3.first_seen AS first_seen_finished_at,
    CASE WHEN z3.own_lim IS NOT NULL THEN {l_value}[z3.own_lim + 1] END AS limit_value,
    CASE WHEN z3.own_lim IS NOT NULL THEN {l_unit}[z3.own_lim + 1] END AS limit_unit,
    {fam}[1 + floor(z3.u_name * 16)::int] || ' ' || {mid}[1 + mod(floor(z3.u_name * 128)::int, 8)] || ' '
      || {giv}[1 + mod(floor(z3.u_name * 3200)::int, 25)] AS applicant_name,
    '09' || lpad(floor(z3.u_phone * 100000000)::bigint::text, 8, '0') AS applicant_phone,
    z3.comp AS computed_due_at, z3.due_used AS due_used_at, z3.finish_at,
    CASE WHEN z3.finish_at IS NULL THEN NULL
         WHEN z3.status IN (7, 8) OR z3.due_used IS NULL OR z3.source = 'unknown' THEN 'on_time'
         WHEN z3.finish_at::date < z3.due_used::date THEN 'early'
         WHEN z3.finish_at::date > z3.due_used::date THEN 'late' ELSE 'on_time' END AS result_class,
    (z3.due_pos - z3.comp_pos)::float8 / 3600 AS due_excess_hours,
    z3.apology_at IS NOT NULL AND z3.due_used IS NOT NULL AND z3.apology_at < z3.due_used AS apology_before_due,
    coalesce(z3.source IN ('first_seen', 'unknown'), false) AS no_finished_at,
    {_run_id('z3.updated')} AS import_run_id, z3.t0 AS created_at, z3.updated AS updated_at,
    z3.supp_count AS supplement_count, z3.supp_secs AS supplement_seconds, z3.supp_last AS supplement_last_at,
    z3.supp_open AS supplement_open_at, z3.p_due AS portal_due_at, z3.finish_at AS portal_finish_at,
    z3.p_end AS portal_end_at,
    CASE WHEN z3.p_due IS NOT NULL THEN (z3.p_due::date + 1)::timestamp + make_interval(secs => z3.supp_secs)
                                        - interval '1 microsecond' END AS portal_late_after,
    coalesce(z3.p_end IS NOT NULL AND z3.p_due IS NOT NULL AND z3.p_end::date > z3.p_due::date, false) AS portal_late,
    coalesce(z3.supp_count > 1 OR (z3.supp_open IS NOT NULL AND z3.p_due IS NOT NULL
                                   AND z3.supp_open::date > z3.p_due::date), false) AS portal_waiting_late,
    CASE WHEN z3.status IN (9, 10) AND z3.p_end IS NOT NULL
              AND (z3.finished_at IS NOT NULL OR z3.returned_at IS NOT NULL)
         THEN greatest(0, {w_sql('greatest(z3.p_end, z3.received)')} - {w_sql('z3.received')})
         END AS portal_work_seconds,
    z3.req1, z3.res1, z3.req2, z3.res2,
    z3.s0, z3.t0, {", ".join(f"z3.p{k}, z3.s{k}, z3.q{k}, z3.t{k}, z3.i{k}" for k in range(1, 7))}
  FROM z3
),
ins_dossier AS (
  INSERT INTO dossier ({", ".join(DOSSIER_COLUMNS)})
  SELECT {", ".join("'" + fp + "'" if c == "derived_fp" else "md5(r.id::text || 'row')" if c == "row_hash"
                    else "md5(r.id::text || 'data')" if c == "data_hash" else "r." + c for c in DOSSIER_COLUMNS)}
  FROM gen r
  RETURNING id, unit_id, procedure_id, import_run_id
),
ins_supplement AS (
  INSERT INTO supplement (dossier_id, seq, requested_at, resubmitted_at, previous_due_at, new_due_at)
  SELECT r.id, p.seq, p.req, p.res, NULL, NULL
  FROM gen r CROSS JOIN LATERAL (VALUES (1, r.req1, r.res1), (2, r.req2, r.res2)) AS p(seq, req, res)
  WHERE p.req IS NOT NULL
  RETURNING dossier_id
),
ins_history AS (
  INSERT INTO status_change (dossier_id, previous_status, status, seq, seen_at, import_run_id)
  SELECT r.id, hv.prev, hv.st, hv.seq, hv.t, {_run_id('hv.t')}
  FROM gen r CROSS JOIN LATERAL (VALUES
    (true, NULL::int, r.s0, 0, r.t0), (r.i1, r.p1, r.s1, r.q1, r.t1), (r.i2, r.p2, r.s2, r.q2, r.t2),
    (r.i3, r.p3, r.s3, r.q3, r.t3), (r.i4, r.p4, r.s4, r.q4, r.t4), (r.i5, r.p5, r.s5, r.q5, r.t5),
    (r.i6, r.p6, r.s6, r.q6, r.t6)) AS hv(inc, prev, st, seq, t)
  WHERE hv.inc
  RETURNING dossier_id, seq, import_run_id
)
-- what the foreign keys would have checked (they are not, during the load: session_replication_role),
-- as ranges: the referenced ids are 1 .. n; and what each import run saw, for import_run's counts
SELECT h.import_run_id, h.first_seen, h.changed, refs.*
FROM (SELECT import_run_id, count(*) FILTER (WHERE seq = 0) AS first_seen, count(*) FILTER (WHERE seq > 0) AS changed
      FROM ins_history GROUP BY import_run_id) h,
     (SELECT * FROM (SELECT min(id) AS d_lo, max(id) AS d_hi, count(*) AS d_n, min(unit_id) AS u_lo,
                            max(unit_id) AS u_hi, min(procedure_id) AS p_lo, max(procedure_id) AS p_hi,
                            min(import_run_id) AS r_lo, max(import_run_id) AS r_hi FROM ins_dossier) d,
                    (SELECT min(dossier_id) AS h_lo, max(dossier_id) AS h_hi, min(import_run_id) AS hr_lo,
                            max(import_run_id) AS hr_hi FROM ins_history) hh,
                    (SELECT min(dossier_id) AS s_lo, max(dossier_id) AS s_hi FROM ins_supplement) ss) refs
"""


DOSSIER_COLUMNS = (
    "id", "code", "unit_id", "procedure_id", "channel", "status", "submitted_at", "received_at", "due_at",
    "supplement_requested_at", "resubmitted_at", "apology_at", "rescheduled_due_at", "finished_at", "returned_at",
    "first_seen_finished_at", "limit_value", "limit_unit", "applicant_name", "applicant_phone", "computed_due_at",
    "due_used_at", "finish_at", "result_class", "due_excess_hours", "apology_before_due", "no_finished_at",
    "derived_fp", "import_run_id", "row_hash", "data_hash", "created_at", "updated_at", "supplement_count",
    "supplement_seconds", "supplement_last_at", "supplement_open_at", "portal_due_at", "portal_finish_at",
    "portal_end_at", "portal_late_after", "portal_late", "portal_waiting_late", "portal_work_seconds")


@dataclass
class BuildReport:
    rows: int = 0
    seconds: dict[str, float] = field(default_factory=dict)

    def step(self, name: str, t0: float) -> None:
        self.seconds[name] = time.perf_counter() - t0
        print(f"  {name}: {self.seconds[name]:.1f} s", flush=True)


def _pg(url: str):  # noqa: ANN202
    import psycopg

    return psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://"), autocommit=True)


def _copy(cur, table: str, columns: str, rows) -> None:  # noqa: ANN001
    with cur.copy(f"COPY {table} ({columns}) FROM STDIN") as cp:
        for r in rows:
            cp.write_row(r)


# The generating connections: foreign keys not checked row by row (session_replication_role: each chunk
# checks its references as ranges instead, _check_chunk); hash joins (the planner's row estimates of
# the generated rows are meaningless); no parallel plan (random() is drawn in one order).
SESSION = ("SET session_replication_role = replica", "SET enable_mergejoin = off", "SET work_mem = '128MB'",
           "SET synchronous_commit = off", "SET max_parallel_workers_per_gather = 0", "SET jit = off")
# what the bulk load drops and builds again at its end (keeping them up to date cost 40% more CPU per
# chunk, measured on an empty table); primary keys and foreign keys stay
_LOADED = ("dossier", "status_change", "supplement")


def _secondary(cur) -> list[tuple[str, str, str]]:  # noqa: ANN001
    """(table, name, SQL to create it again) of the loaded tables' unique constraints and indexes."""
    out = []
    for table in _LOADED:
        cur.execute("SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = %s::regclass "
                    "AND contype = 'u'", (table,))
        cons = cur.fetchall()
        out += [(table, name, f"ALTER TABLE {table} ADD CONSTRAINT {name} {d}") for name, d in cons]
        cur.execute("SELECT indexname, indexdef FROM pg_indexes WHERE tablename = %s AND indexname NOT IN "
                    "(SELECT conname FROM pg_constraint WHERE conrelid = %s::regclass)", (table, table))
        out += [(table, name, d) for name, d in cur.fetchall()]
    return out


def build_pg(url: str, n: int, log: Callable[[str], None] = print, *, prepare_only: bool = False) -> BuildReport:
    """Create the bench database's content in the (empty, migrated) database at `url`. `prepare_only`:
    stop after the helper tables (schema bench_gen) and the catalogue, to study the generating query."""
    from tracker.rules import TimeLimit

    rep = BuildReport(rows=n)
    settings = bench_settings(url)
    cal = warm_calendar(settings)
    fp = settings.fingerprint()
    cat = catalogue()
    t0 = time.perf_counter()
    dues, origin = due_table(url)
    if origin != cal._ord0:
        raise SystemExit("the calendar's positions differ between this process and the due computation")
    rep.step(f"due dates by tracker.rules.compute_due ({len(dues) * NLIM:,}: receipt moments x limits)", t0)

    t0 = time.perf_counter()
    days = day_volumes(n, cal)
    span = day_span(cal)
    with _pg(url) as conn, conn.cursor() as cur:
        cur.execute("DROP SCHEMA IF EXISTS bench_gen CASCADE")
        cur.execute("CREATE SCHEMA bench_gen")
        cur.execute("CREATE UNLOGGED TABLE bench_gen.due (mk int PRIMARY KEY, due timestamp[], pos bigint[])")
        with cur.copy("COPY bench_gen.due (mk, due, pos) FROM STDIN") as cp:
            for mk, due, pos in dues:  # text by hand: psycopg adapting 3.5 million list items is slow
                cp.write(f"{mk}\t{{{','.join(map(str, due))}}}\t{{{','.join(map(str, pos))}}}\n")
        cur.execute("CREATE UNLOGGED TABLE bench_gen.day (day_idx int PRIMARY KEY, first_i bigint, n int)")
        _copy(cur, "bench_gen.day", "day_idx, first_i, n", [(k, first, c) for k, _, first, c in days])
        cur.execute("CREATE UNLOGGED TABLE bench_gen.runs (id int, ins int, upd int)")
        cur.execute("ANALYZE bench_gen.due, bench_gen.day")

        # the catalogue, as `tthc units import` and `tthc procedures import` would have stored it
        cur.execute("INSERT INTO import_run (id, source, file_name, sha256, format, started_at, finished_at, status, "
                    "rows_read, inserted, updated, unchanged, rejected, message) "
                    "SELECT k, 'motcua', 'motcua-' || to_char(m, 'YYYYMMDD') || '.csv', md5(k::text), 'csv', m, "
                    "m + interval '3 minutes', 'done', 0, 0, 0, 0, 0, '' "
                    f"FROM generate_series(1, DATE '{LAST_IMPORT.date()}' - DATE '{DEPLOY.date()}' + 1) AS k, "
                    f"LATERAL (SELECT TIMESTAMP '{DEPLOY}' + (k - 1) * interval '1 day' AS m) AS mm")
        created = DEPLOY - timedelta(days=2)
        _copy(cur, "unit", "id, code, name, name_key, parent_id, level, digest_recipients, created_at",
              [(uid, code, name, _name_key(name), parent, level, "", created) for uid, code, name, parent, level
               in cat.units])
        _copy(cur, "procedure", "id, code, name, name_key, field_code, field_name",
              [(pid, code, name, _name_key(name), fc, fn) for pid, code, name, fc, fn in cat.procedures])
        _copy(cur, "procedure_limit", "procedure_id, effective_from, limit_value, limit_unit, limit_text",
              [(pid, eff, float(LIMITS[k][0]), LIMITS[k][1],
                TimeLimit(float(LIMITS[k][0]), LIMITS[k][1]).describe("vi")) for pid, eff, k in cat.versions])
        if prepare_only:
            return rep
        secondary = _secondary(cur)
        for table, name, _ in secondary:
            if name in {c for c in _constraint_names(cur, table)}:
                cur.execute(f"ALTER TABLE {table} DROP CONSTRAINT {name}")
            else:
                cur.execute(f"DROP INDEX {name}")
    rep.step("helper tables and catalogue", t0)

    t0 = time.perf_counter()
    sql = chunk_sql(fp, cal._spans, cat, span)
    chunks = _chunks(days)
    errors: list[BaseException] = []
    done = [0]
    cpu = [0.0]
    runs: dict[int, list[int]] = {}  # import run -> [dossiers it saw first, status changes it saw]
    limits = {"u": len(cat.units), "p": len(cat.procedures), "r": (LAST_IMPORT.date() - DEPLOY.date()).days + 1}
    lock = threading.Lock()
    todo = list(enumerate(chunks))

    def worker() -> None:
        try:
            with _pg(url) as conn, conn.cursor() as cur:
                for s in SESSION:
                    cur.execute(s)
                while True:
                    with lock:
                        if not todo or errors:
                            cpu[0] += _backend_cpu(conn.info.backend_pid)
                            return
                        number, (lo, hi, rows) = todo.pop(0)
                    with conn.transaction():
                        cur.execute("SELECT setseed(%s)", (_seed(number),))
                        cur.execute(sql, {"lo": lo, "hi": hi})
                        result = cur.fetchall()
                        _check_chunk(result, days[lo][2], days[hi][2] + days[hi][3] - 1, rows, limits)
                    with lock:
                        for run, first_seen, changed, *_ in result:
                            seen = runs.setdefault(run, [0, 0])
                            seen[0] += first_seen
                            seen[1] += changed
                    with lock:
                        done[0] += rows
                        log(f"\r  dossiers generated: {done[0]:>11,} / {n:,} ({time.perf_counter() - t0:.0f} s)")
        except BaseException as exc:  # noqa: BLE001  (raised again below, in the main thread)
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    print(flush=True)
    if errors:
        raise errors[0]
    rep.step("dossiers, supplement pairs and status history (INSERT … SELECT, 2 connections)", t0)
    rep.seconds["generating backends' CPU"] = cpu[0]
    log(f"  the two generating backends used {cpu[0]:.0f} s of CPU ({cpu[0] * 1e6 / n:.0f} µs a dossier)\n")

    t0 = time.perf_counter()
    with _pg(url) as conn, conn.cursor() as cur:
        cur.execute("SET maintenance_work_mem = '1GB'")
        for _table, _name, create in secondary:
            cur.execute(create)
        rep.step("unique constraints and indexes built again", t0)
        t0 = time.perf_counter()
        for table in ("dossier", "status_change", "supplement", "import_run", "unit", "procedure", "procedure_limit"):
            cur.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), coalesce(max(id), 1)) FROM {table}")
        with cur.copy("COPY bench_gen.runs (id, ins, upd) FROM STDIN") as cp:
            for run, (first_seen, changed) in runs.items():
                cp.write_row((run, first_seen, changed))
        cur.execute("UPDATE import_run r SET inserted = s.ins, updated = s.upd, rows_read = s.ins + s.upd "
                    "FROM bench_gen.runs s WHERE r.id = s.id")
        cur.execute("DROP SCHEMA bench_gen CASCADE")
        rep.step("sequences, import runs' counts", t0)
        t0 = time.perf_counter()
        cur.execute("SELECT setseed(%s)", (_seed(10_000),))
        cur.execute(OUTLOOK_SQL, {"now": NOW, "threshold": settings.get("predict.threshold"),
                                  "months": settings.get("predict.history_months")})
        rep.step(f"outlook of {cur.rowcount:,} open dossiers", t0)
    return rep


# dossier_outlook, as `tthc refresh` leaves it: since when each open dossier has stood in its status, exactly
# as tracker.stuck.status_since says from the status history; its probability of finishing late is drawn
# (tracker.outlook.refresh_outlook estimates it from a year of history in Python: 28 s for 300,000
# dossiers here, far too slow for this build at 10,000,000), likely late above predict.threshold.
OUTLOOK_SQL = """
INSERT INTO dossier_outlook (dossier_id, probability, likely_late, basis_kind, basis_count, basis_months, status,
                             status_since, computed_at)
SELECT o.id, o.p, coalesce(o.p >= %(threshold)s, false),
       CASE WHEN o.p IS NULL THEN '' WHEN o.u < 0.7 THEN 'unit_procedure' WHEN o.u < 0.9 THEN 'procedure'
            WHEN o.u < 0.97 THEN 'field' ELSE 'unit' END,
       CASE WHEN o.p IS NULL THEN 0 ELSE 30 + mod(floor(o.u * 977)::int, 400) END, %(months)s, o.status,
       CASE o.status WHEN 1 THEN coalesce(o.submitted_at, o.entered, o.first, o.received_at)
                     WHEN 2 THEN coalesce(o.received_at, o.entered, o.first)
                     WHEN 5 THEN coalesce(o.supplement_requested_at, o.entered, o.first, o.received_at)
                     ELSE coalesce(o.entered, o.first, greatest(o.received_at, o.resubmitted_at)) END,
       %(now)s
FROM (SELECT d.id, d.status, d.submitted_at, d.received_at, d.supplement_requested_at, d.resubmitted_at,
             h.entered, h.first, u, CASE WHEN u < 0.05 THEN NULL ELSE power(random(), 2.5) END AS p
      FROM (SELECT *, random() AS u FROM dossier WHERE finish_at IS NULL AND status IN (1, 2, 4, 5, 6)
            ORDER BY id OFFSET 0) d
      CROSS JOIN LATERAL (SELECT max(s.seen_at) FILTER (WHERE s.status = d.status AND s.previous_status IS NOT NULL)
                                   AS entered, min(s.seen_at) AS first
                          FROM status_change s WHERE s.dossier_id = d.id) h
      ORDER BY d.id) o
"""


def _backend_cpu(pid: int) -> float:
    """CPU seconds a PostgreSQL backend on this machine has used (0 when it is elsewhere)."""
    import os

    try:
        f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()  # noqa: SIM115, PTH123
    except OSError:
        return 0.0
    return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")


def _constraint_names(cur, table: str) -> list[str]:  # noqa: ANN001
    cur.execute("SELECT conname FROM pg_constraint WHERE conrelid = %s::regclass", (table,))
    return [r[0] for r in cur.fetchall()]


def _check_chunk(result: list[tuple], first: int, last: int, rows: int, limits: dict[str, int]) -> None:
    """What the foreign keys would have checked for a chunk: every reference within the ids that exist
    (units, procedures and import runs are numbered 1 .. n; the chunk's dossiers first .. last)."""
    _, _, _, d_lo, d_hi, d_n, u_lo, u_hi, p_lo, p_hi, r_lo, r_hi, h_lo, h_hi, hr_lo, hr_hi, s_lo, s_hi = result[0]
    bad = [what for what, ok in (
        ("dossier ids", (d_lo, d_hi, d_n) == (first, last, rows)),
        ("dossier.unit_id", u_lo >= 1 and u_hi <= limits["u"]),
        ("dossier.procedure_id", p_lo is None or (p_lo >= 1 and p_hi <= limits["p"])),
        ("dossier.import_run_id", r_lo is None or (r_lo >= 1 and r_hi <= limits["r"])),
        ("status_change.dossier_id", first <= h_lo and h_hi <= last),
        ("status_change.import_run_id", hr_lo is None or (hr_lo >= 1 and hr_hi <= limits["r"])),
        ("supplement.dossier_id", s_lo is None or (first <= s_lo and s_hi <= last))) if not ok]
    if bad:
        raise SystemExit(f"bench data: dossiers {first}..{last}: {', '.join(bad)} out of range: {result[0]}")


def _chunks(days) -> list[tuple[int, int, int]]:  # noqa: ANN001
    """(first day index, last day index, rows): consecutive days of about CHUNK_ROWS dossiers. Depends
    on the rows only, not on how many connections generate them: each chunk has its own seed."""
    out, lo, rows = [], 0, 0
    for k, _, _, c in days:
        rows += c
        if rows >= CHUNK_ROWS:
            out.append((lo, k, rows))
            lo, rows = k + 1, 0
    if rows:
        out.append((lo, NDAYS - 1, rows))
    return out


def _seed(chunk: int) -> float:
    return ((SEED * 1_000_003 + chunk * 7919) % 2_000_000) / 1_000_000 - 1


def _name_key(name: str) -> str:
    """As `tthc units import` and `tthc procedures import` store it."""
    from tracker.ingest.text import name_key

    return name_key(name)


# ----- verification against the product's rules ---------------------------------------------------------


def verify(engine, settings, ids: list[int], log: Callable[[str], None] = print) -> int:  # noqa: ANN001
    """Check dossiers `ids` against tracker.derive.derive (every derived column), tracker.rules.classify
    at NOW, tracker.portal766.supplement_summary (the pairs) and their status history; SystemExit
    naming the first dossier that differs. Returns how many were checked."""
    from sqlalchemy import select

    from tracker.derive import DERIVED_COLUMNS, facts_of, limit_of, procedure_limits
    from tracker.derive import derive as product_derive
    from tracker.models import Dossier, DossierOutlook, StatusChange, Supplement
    from tracker.portal766 import SupplementPair, supplement_summary
    from tracker.rules import classify
    from tracker.stuck import OPEN_STATUSES, status_since

    cal, rules, fp = settings.work_calendar(), settings.rule_settings(), settings.fingerprint()
    d, s, h = Dossier.__table__, Supplement.__table__, StatusChange.__table__
    checked = 0
    with engine.connect() as conn:
        limits = procedure_limits(conn)
        rows = conn.execute(select(d).where(d.c.id.in_(ids)).order_by(d.c.id)).mappings().all()
        pairs: dict[int, list] = {}
        for p in conn.execute(select(s).where(s.c.dossier_id.in_(ids)).order_by(s.c.dossier_id, s.c.seq)).mappings():
            pairs.setdefault(p["dossier_id"], []).append(p)
        history: dict[int, list] = {}
        for e in conn.execute(select(h).where(h.c.dossier_id.in_(ids)).order_by(h.c.dossier_id, h.c.seq)).mappings():
            history.setdefault(e["dossier_id"], []).append(e)
        o = DossierOutlook.__table__
        outlook = {r["dossier_id"]: r for r in conn.execute(select(o).where(o.c.dossier_id.in_(ids))).mappings()}
    for row in rows:
        limit = limit_of(row, limits.at(row["procedure_id"], row["received_at"]))
        want = product_derive(row, limit, cal, rules, fp)
        for col in DERIVED_COLUMNS:
            a, b = row[col], want[col]
            same = (a == b) if not isinstance(b, float) or a is None else abs(a - b) < 1e-6
            if not same:
                raise SystemExit(f"bench data: dossier {row['code']} (id {row['id']}): {col} is {a!r}, "
                                 f"tracker.derive says {b!r}")
        mine = pairs.get(row["id"], [])
        summary = supplement_summary([SupplementPair(p["requested_at"], p["resubmitted_at"]) for p in mine])
        for col, b in summary.items():
            if row[col] != b:
                raise SystemExit(f"bench data: dossier {row['code']}: {col} is {row[col]!r}, its pairs say {b!r}")
        if mine and (row["supplement_requested_at"], row["resubmitted_at"]) != (mine[-1]["requested_at"],
                                                                               mine[-1]["resubmitted_at"]):
            raise SystemExit(f"bench data: dossier {row['code']}: the last supplement pair is not on the dossier")
        c = classify(facts_of(row, limit), NOW, cal, rules)
        if c.due_used != row["due_used_at"] or c.computed_due != row["computed_due_at"]:
            raise SystemExit(f"bench data: dossier {row['code']}: classify's due {c.due_used} / {c.computed_due}, "
                             f"stored {row['due_used_at']} / {row['computed_due_at']}")
        if c.finish_moment is not None and c.cls != row["result_class"]:
            raise SystemExit(f"bench data: dossier {row['code']}: classify says {c.cls}, stored {row['result_class']}")
        if (c.cls == "not_received") != (row["status"] in (1, 3)):
            raise SystemExit(f"bench data: dossier {row['code']}: status {row['status']} classified {c.cls}")
        seen = history.get(row["id"], [])
        prev = None
        for k, e in enumerate(seen):
            if e["seq"] != k or e["previous_status"] != prev or (k and e["seen_at"] < seen[k - 1]["seen_at"]):
                raise SystemExit(f"bench data: dossier {row['code']}: status history entry {k} is {dict(e)}")
            prev = e["status"]
        if not seen or prev != row["status"]:
            raise SystemExit(f"bench data: dossier {row['code']}: status {row['status']}, history ends with {prev}")
        mine_o = outlook.get(row["id"])
        if (mine_o is not None) != (row["finish_at"] is None and row["status"] in OPEN_STATUSES):
            raise SystemExit(f"bench data: dossier {row['code']}: an outlook row {'without' if mine_o else 'missing'} "
                             "an open dossier")
        if mine_o is not None:
            entered = max((e["seen_at"] for e in seen if e["status"] == row["status"] and e["previous_status"]
                           is not None), default=None)
            since = status_since(row["status"], row, entered, seen[0]["seen_at"])
            if (mine_o["status"], mine_o["status_since"]) != (row["status"], since):
                raise SystemExit(f"bench data: dossier {row['code']}: outlook says status {mine_o['status']} since "
                                 f"{mine_o['status_since']}, tracker.stuck.status_since {since}")
        checked += 1
    if checked != len(ids):
        raise SystemExit(f"bench data: {len(ids) - checked} of the sampled dossiers are missing")
    log(f"  {checked:,} random dossiers checked against tracker.derive, tracker.rules.classify, their "
        "supplement pairs, status history and outlook (tracker.stuck.status_since): no difference")
    return checked


# ----- SQLite: a tenth of the dossiers ----------------------------------------------------------------


COPY_TABLES = ("import_run", "unit", "procedure", "procedure_limit")


def build_sqlite(pg_url: str, path, every: int = 10, log: Callable[[str], None] = print) -> int:  # noqa: ANN001
    """Copy every `every`-th dossier (with its pairs and history) and the whole catalogue from the
    PostgreSQL bench database into a new SQLite database at `path`, migrated by Alembic, stored as the
    importer stores (datetimes as SQLAlchemy writes them, booleans 0/1). Returns dossiers copied."""
    from tracker.db import drop_indexes, make_engine, restore_indexes, upgrade

    path.unlink(missing_ok=True)
    for suffix in ("-wal", "-shm"):
        path.with_name(path.name + suffix).unlink(missing_ok=True)
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    with engine.begin() as conn:
        drop_indexes(conn)
    raw = engine.raw_connection()
    copied = 0
    try:
        cur = raw.cursor()
        with _pg(pg_url) as pg:
            for table in (*COPY_TABLES, "dossier", "supplement", "status_change", "dossier_outlook"):
                where = {"dossier": f"id % {every} = 0", "supplement": f"dossier_id % {every} = 0",
                         "status_change": f"dossier_id % {every} = 0",
                         "dossier_outlook": f"dossier_id % {every} = 0"}.get(table, "true")
                cols = pg.execute("SELECT column_name, data_type FROM information_schema.columns WHERE table_name = %s "
                                  "AND table_schema = 'public' ORDER BY ordinal_position", (table,)).fetchall()
                sql = f"INSERT INTO {table} ({', '.join(c for c, _ in cols)}) VALUES ({', '.join('?' * len(cols))})"
                with pg.transaction(), pg.cursor(name=f"copy_{table}") as src:
                    src.itersize = 20_000
                    src.execute(f"SELECT {', '.join(_sqlite_form(c, t) for c, t in cols)} FROM {table} "
                                f"WHERE {where} ORDER BY 1")
                    while True:
                        batch = src.fetchmany(20_000)
                        if not batch:
                            break
                        cur.executemany(sql, batch)
                        if table == "dossier":
                            copied += len(batch)
                            log(f"\r  SQLite: {copied:>9,} dossiers")
                raw.commit()
        print(flush=True)
        cur.close()
    finally:
        raw.close()
    with engine.begin() as conn:
        restore_indexes(conn)
    raw = engine.raw_connection()
    try:
        raw.execute("ANALYZE")
        raw.commit()
    finally:
        raw.close()
    engine.dispose()
    return copied


def _sqlite_form(column: str, kind: str) -> str:
    """SQL giving a PostgreSQL column as the product stores it in SQLite (SQLAlchemy's formats):
    moments as 'YYYY-MM-DD HH:MM:SS.ffffff', dates as 'YYYY-MM-DD', booleans as 0/1."""
    if kind == "timestamp without time zone":
        return f"to_char({column}, 'YYYY-MM-DD HH24:MI:SS.US')"
    if kind == "date":
        return f"{column}::text"
    if kind == "boolean":
        return f"{column}::int"
    return column
