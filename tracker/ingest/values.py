"""Cell values: dates in every format of FORMATS.md §3, status and channel words."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from functools import lru_cache

from tracker.clock import LOCAL_TZ
from tracker.ingest.text import fold

_EXCEL_EPOCH = datetime(1899, 12, 30)
_SLASHED = re.compile(
    r"^(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})(?:[ T]+(\d{1,2})[:h](\d{2})(?::(\d{2}))?)?$")
_TIME_FIRST = re.compile(r"^(\d{1,2}):(\d{2})(?::(\d{2}))?\s+(\d{1,2})/(\d{1,2})/(\d{4})$")
_COMPACT = re.compile(r"^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})$")
_SERIAL = re.compile(r"^\d{5}(?:\.\d+)?$")


class ValueProblem(ValueError):
    """A cell that cannot be read; the message quotes the value and says what was expected."""


def parse_datetime(text: str) -> datetime | None:
    """A local naive datetime from any export format, or None for an empty cell.

    Slashed dates are day-first always (03/04/2026 is 3 April). Offsets are converted to local
    time (iGate's '…T17:00:00.000+0000' is local midnight)."""
    s = text.strip()
    if not s:
        return None
    # fast path: 'dd/MM/yyyy HH:mm:ss', by far the commonest shape in exports
    if len(s) == 19 and s[2] == "/" and s[5] == "/" and s[10] == " " and s[13] == ":" and s[16] == ":":
        try:
            return datetime(int(s[6:10]), int(s[3:5]), int(s[0:2]), int(s[11:13]), int(s[14:16]),
                            int(s[17:19]))
        except ValueError:
            pass  # the general path below explains what is wrong
    try:
        if m := _SLASHED.match(s):
            d, mo, y, hh, mm, ss = m.groups()
            return datetime(int(y), int(mo), int(d), int(hh or 0), int(mm or 0), int(ss or 0))
        if m := _TIME_FIRST.match(s):
            hh, mm, ss, d, mo, y = m.groups()
            return datetime(int(y), int(mo), int(d), int(hh), int(mm), int(ss or 0))
        if m := _COMPACT.match(s):
            return datetime(*(int(g) for g in m.groups()))
        if _SERIAL.match(s):
            return excel_serial(float(s))
        if s[:4].isdigit() and s[4:5] == "-":
            dt = datetime.fromisoformat(s.replace(" +", "+"))
            if dt.tzinfo is not None:
                dt = dt.astimezone(LOCAL_TZ).replace(tzinfo=None)
            return dt.replace(microsecond=0)
    except ValueError as exc:
        raise ValueProblem(f"'{text}' is not a valid date: {exc}") from None
    raise ValueProblem(f"'{text}' is not a date: expected dd/mm/yyyy [HH:MM[:SS]], "
                       "yyyyMMddHHmmss or ISO 8601")


def excel_serial(value: float) -> datetime:
    if not 1 <= value < 2958466:
        raise ValueProblem(f"'{value}' is not an Excel date serial")
    # to the nearest second: a serial is a binary fraction of a day, 10:00 may be 09:59:59.99998
    return _EXCEL_EPOCH + timedelta(seconds=round(value * 86400))


# ----- status (TrangThaiHoSo) --------------------------------------------------------------------

_STATUS_EXACT = {
    "moidangky": 1, "dangkymoi": 1, "chotiepnhan": 1, "new": 1,
    "duoctiepnhan": 2, "datiepnhan": 2, "tiepnhan": 2, "accepted": 2,
    "khongduoctiepnhan": 3, "tuchoitiepnhan": 3, "khongtiepnhan": 3, "refused": 3, "rejected": 3,
    "dangxuly": 4, "danggiaiquyet": 4, "inprogress": 4, "processing": 4,
    "yeucaubosung": 5, "yeucaubosunggiayto": 5, "chobosung": 5, "dangbosung": 5,
    "yeucaubosunghoso": 5, "supplement": 5,
    "yeucauthuchiennghiavutaichinh": 6, "chothuchiennghiavutaichinh": 6, "nghiavutaichinh": 6,
    "chonghiavutaichinh": 6,
    "congdanyeucauruthoso": 7, "ruthoso": 7, "xinrut": 7, "darut": 7, "withdrawn": 7,
    "congdanruthoso": 7,
    "dungxuly": 8, "stopped": 8, "tralai": 8, "khonggiaiquyet": 8,
    "daxulyxong": 9, "daxuly": 9, "coketqua": 9, "hoanthanh": 9, "daxulyxongchotra": 9,
    "finished": 9, "completed": 9,
    "datraketqua": 10, "datra": 10, "returned": 10,
}
# (word, status) tried in order on a folded value containing the word
_STATUS_CONTAINS = (("khongduoctiepnhan", 3), ("tuchoi", 3), ("nghiavutaichinh", 6),
                    ("bosung", 5), ("rut", 7), ("dungxuly", 8), ("datraketqua", 10),
                    ("daxulyxong", 9), ("dangxuly", 4), ("tiepnhan", 2))


@lru_cache(maxsize=4096)
def parse_status(text: str) -> int:
    s = text.strip()
    if s.isdigit() and 1 <= int(s) <= 10:
        return int(s)
    key = fold(s)
    if key in _STATUS_EXACT:
        return _STATUS_EXACT[key]
    for word, code in _STATUS_CONTAINS:
        if word in key:
            return code
    raise ValueProblem(f"'{text}' is not a known status: expected a code 1–10 or a word such as "
                       "'Đang xử lý', 'Đã trả kết quả'")


# ----- channel (KenhThucHien) --------------------------------------------------------------------

_CHANNEL = {"tructiep": 1, "taiquay": 1, "inperson": 1, "direct": 1, "motcua": 1,
            "tructuyen": 2, "online": 2, "dichvucong": 2, "dvctt": 2, "dvc": 2,
            "buuchinh": 3, "buuchinhcongich": 3, "buudien": 3, "post": 3, "postal": 3}


@lru_cache(maxsize=4096)
def parse_channel(text: str) -> int | None:
    s = text.strip()
    if not s:
        return None
    if s in ("1", "2", "3"):
        return int(s)
    key = fold(s)
    if key in _CHANNEL:
        return _CHANNEL[key]
    for word, code in (("tructuyen", 2), ("buuchinh", 3), ("tructiep", 1)):
        if word in key:
            return code
    raise ValueProblem(f"'{text}' is not a known channel: expected 1/2/3 or "
                       "'Trực tiếp', 'Trực tuyến', 'Bưu chính công ích'")
