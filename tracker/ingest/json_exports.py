"""JSON exports: the national portal's dossier sync and VNPT-iGate's REST API.

Both are a list of records, bare or under a key ({"data": [...]}, {"content": [...],
"totalPages": 3}, {"DanhSachHoSo": [...]}...). Each record becomes one row: nested objects are
flattened to dotted labels ("procedure.code", "agency.name"), which the header aliases know, and
a few values are reshaped so that the row reads like a CSV export:

portal-json (DongBoHoSoMC): MaHoSo, NgayTiepNhan (yyyyMMddHHmmss), TrangThaiHoSo (1-10) … and
  from the LAST entry of DanhSachHoSoBoSung, NgayBoSung (the supplement request) and
  NgayTiepNhanBoSung (the resubmission received), as the columns
  "DanhSachHoSoBoSung.NgayBoSung" and "DanhSachHoSoBoSung.NgayTiepNhanBoSung"; and EVERY entry, as
  one JSON cell "DanhSachHoSoBoSung" (tracker.ingest.supplements reads it).
igate-json: code, procedure{code,name,sector}, agency{code,name}, dates in ISO 8601 UTC (or epoch
  milliseconds), dossierStatus / applyMethod as a number, a word or an object {id|code, name}
  (the name is used when it is a status / channel we know, else the code or id),
  processingTime + processingTimeUnit as one limit text ("3 ngày làm việc") in "processingTime";
  appointmentDate is the due date, dueDate stands in when it is missing.

The line number of a row is the record's position in the list (1-based).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable
from datetime import datetime
from pathlib import Path
from typing import Any

from tracker.clock import LOCAL_TZ
from tracker.ingest.base import (
    DEFAULT_LIMITS,
    FileRejected,
    ReadLimits,
    Rows,
    Source,
    file_size,
    open_binary,
    require,
    sniff_text_encoding,
)
from tracker.ingest.columns import ColumnMap, match_header
from tracker.ingest.text import fold
from tracker.ingest.values import ValueProblem, parse_channel, parse_status

LIST_KEYS = ("data", "danhsachhoso", "items", "content", "records", "result", "results", "dossiers",
             "list", "rows", "hoso")
PORTAL_KEYS = ("MaHoSo", "NgayTiepNhan", "TrangThaiHoSo", "NgayHenTra", "MaTTHC")
IGATE_KEYS = ("acceptedDate", "appointmentDate", "dossierStatus", "appliedDate", "applyMethod")
SUPPLEMENTS = "DanhSachHoSoBoSung"
PORTAL_ORDER = ("MaHoSo", "MaTTHC", "TenTTHC", "MaLinhVuc", "TenLinhVuc", "MaDonVi", "DonViXuLy",
                "KenhThucHien", "ChuHoSo", "SoDienThoai", "NgayNopHoSo", "NgayTiepNhan", "NgayHenTra",
                "TrangThaiHoSo", "NgayKetThucXuLy", "NgayTra", f"{SUPPLEMENTS}.NgayBoSung",
                f"{SUPPLEMENTS}.NgayTiepNhanBoSung", SUPPLEMENTS)
SUPPLEMENT_KEYS = ("NgayBoSung", "NgayTiepNhanBoSung", "NgayHenTraTruoc", "NgayHenTraMoi")
IGATE_ORDER = ("code", "procedure.code", "procedure.name", "procedure.sector.code", "procedure.sector.name",
               "procedure.sector", "agency.code", "agency.name", "applyMethod", "appliedDate",
               "acceptedDate", "appointmentDate", "completedDate", "returnedDate", "dossierStatus",
               "processingTime", "applicant.data.fullname", "applicant.data.phoneNumber")
IGATE_DATES = ("appliedDate", "acceptedDate", "appointmentDate", "dueDate", "completedDate", "returnedDate")
_EPOCH_RANGE = (631152000, 4102444800)  # 1990-01-01 to 2100-01-01, in seconds
MAX_DEPTH = 4
MAX_COLUMNS = 500

_UNITS = {"d": "ngày làm việc", "day": "ngày làm việc", "days": "ngày làm việc", "ngay": "ngày làm việc",
          "ngaylamviec": "ngày làm việc", "wd": "ngày làm việc", "workingday": "ngày làm việc",
          "workingdays": "ngày làm việc",
          "h": "giờ làm việc", "hour": "giờ làm việc", "hours": "giờ làm việc", "gio": "giờ làm việc",
          "giolamviec": "giờ làm việc", "workinghour": "giờ làm việc", "workinghours": "giờ làm việc",
          "cd": "ngày", "calendarday": "ngày", "calendardays": "ngày", "ngaylich": "ngày"}


def scalar_text(value: Any) -> str:
    """A JSON scalar as CSV text: 3.0 -> '3', null -> ''."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            return ""
        return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)
    if isinstance(value, str):
        return value
    return ""


def flatten(record: dict, prefix: str = "", depth: int = 0, out: dict[str, str] | None = None) -> dict[str, str]:
    """{'procedure': {'code': 'X'}} -> {'procedure.code': 'X'}; lists are left out."""
    out = {} if out is None else out
    for key, value in record.items():
        label = f"{prefix}{key}"
        if isinstance(value, dict):
            if depth < MAX_DEPTH:
                flatten(value, f"{label}.", depth + 1, out)
        elif not isinstance(value, list):
            out[label] = scalar_text(value)
    return out


# ----- portal ------------------------------------------------------------------------------------

def portal_row(record: dict) -> dict[str, str]:
    row = flatten(record)
    supplements = record.get(SUPPLEMENTS)
    if isinstance(supplements, list):
        last = next((s for s in reversed(supplements) if isinstance(s, dict)), None)
        if last is not None:
            for key, value in last.items():
                if not isinstance(value, dict | list):
                    row[f"{SUPPLEMENTS}.{key}"] = scalar_text(value)
        pairs = [{k: scalar_text(s.get(k)) for k in SUPPLEMENT_KEYS} if isinstance(s, dict) else s
                 for s in supplements]
        if pairs:  # a non-object entry stays as it is: the importer rejects the row and says why
            row[SUPPLEMENTS] = json.dumps(pairs, ensure_ascii=False, separators=(",", ":"))
    return row


# ----- iGate -------------------------------------------------------------------------------------

def _pick(value: Any, reads: Callable[[str], object]) -> str:
    """A status / channel given as a number, a word or an object {id|code, name}."""
    if not isinstance(value, dict):
        return scalar_text(value)
    candidates = [scalar_text(value.get(k)).strip() for k in ("name", "code", "id")]
    candidates = [c for c in candidates if c]
    for c in candidates:
        try:
            if reads(c) is not None:
                return c
        except ValueProblem:
            continue
    return candidates[0] if candidates else ""


def _epoch(value: Any) -> str:
    """iGate sometimes sends epoch milliseconds instead of ISO text."""
    if isinstance(value, bool) or not isinstance(value, int | float) or abs(value) > 1e16 or not math.isfinite(value):
        return scalar_text(value)  # 1e16: beyond any epoch in milliseconds (and a 400-digit int overflows a float)
    seconds = value / 1000 if abs(value) >= 1e11 else value
    if not _EPOCH_RANGE[0] <= seconds < _EPOCH_RANGE[1]:
        return scalar_text(value)  # not an epoch (20260302080000 is yyyyMMddHHmmss): the date parser decides
    moment = datetime.fromtimestamp(seconds, LOCAL_TZ)
    return moment.strftime("%d/%m/%Y %H:%M:%S")


def limit_text(time: Any, unit: Any) -> str:
    """processingTime 3 + processingTimeUnit 'd' -> '3 ngày làm việc'."""
    amount = scalar_text(time).strip()
    if not amount:
        return ""
    word = scalar_text(unit.get("name") or unit.get("code") if isinstance(unit, dict) else unit).strip()
    if not word:
        return f"{amount} ngày làm việc"
    return f"{amount} {_UNITS.get(fold(word), word)}"


def igate_row(record: dict) -> dict[str, str]:
    row = flatten(record)
    for key in IGATE_DATES:
        if key in record:
            row[key] = _epoch(record[key])
    if not row.get("appointmentDate") and row.get("dueDate"):
        row["appointmentDate"] = row["dueDate"]
    if "dossierStatus" in record:
        row = {k: v for k, v in row.items() if not k.startswith("dossierStatus.")}
        row["dossierStatus"] = _pick(record["dossierStatus"], parse_status)
    if "applyMethod" in record:
        row = {k: v for k, v in row.items() if not k.startswith("applyMethod.")}
        row["applyMethod"] = _pick(record["applyMethod"], parse_channel)
    if "processingTime" in record:
        row["processingTime"] = limit_text(record["processingTime"], record.get("processingTimeUnit"))
    return row


FLAVOURS: dict[str, tuple[Callable[[dict], dict[str, str]], tuple[str, ...]]] = {
    "portal-json": (portal_row, PORTAL_ORDER),
    "igate-json": (igate_row, IGATE_ORDER),
}


# ----- the file ----------------------------------------------------------------------------------

def _keyed(obj: dict, names: Iterable[str]) -> Any:
    lower = {k.lower(): k for k in obj if isinstance(k, str)}
    for name in names:
        if name in lower:
            return obj[lower[name]]
    return None


def find_records(doc: Any) -> list | None:
    """The list of dossier records in a document, or None."""
    if isinstance(doc, list):
        return doc
    if not isinstance(doc, dict):
        return None
    for holder in (doc, _keyed(doc, LIST_KEYS)):
        if isinstance(holder, list):
            return holder
        if isinstance(holder, dict):
            inner = _keyed(holder, LIST_KEYS)
            if isinstance(inner, list):
                return inner
    if any(k in doc for k in PORTAL_KEYS + IGATE_KEYS):
        return [doc]  # a single record
    return None


def guess_flavour(records: list) -> str | None:
    portal = igate = 0
    for rec in records[:50]:
        if isinstance(rec, dict):
            portal += sum(1 for k in PORTAL_KEYS if k in rec)
            igate += sum(1 for k in IGATE_KEYS if k in rec)
    if portal == igate == 0:
        return None
    return "portal-json" if portal >= igate else "igate-json"


def _keys_found(records: list) -> str:
    keys: dict[str, None] = {}
    for rec in records[:20]:
        if isinstance(rec, dict):
            keys.update(dict.fromkeys(str(k) for k in rec))
    text = ", ".join(f"'{k}'" for k in list(keys)[:30])
    return text or "no keys (the records are not objects)"


def read_json(path: Path, flavour: str | None = None, overrides: dict[str, str] | None = None,
              limits: ReadLimits = DEFAULT_LIMITS) -> tuple[Source, ColumnMap, Rows]:
    path = Path(path)
    limits.check_size(path.name, file_size(path))  # read whole: a document in memory is several times its bytes
    enc = sniff_text_encoding(path)
    with open_binary(path) as fh:
        text = fh.read().decode(enc.codec)
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise FileRejected(f"{path.name}: not valid JSON: {exc.msg} at line {exc.lineno}, "
                           f"column {exc.colno}") from None
    except RecursionError:
        raise FileRejected(f"{path.name}: not readable JSON: nested too deeply") from None
    except ValueError as exc:  # e.g. an integer of more than 4300 digits
        raise FileRejected(f"{path.name}: not readable JSON: {exc}") from None
    records = find_records(doc)
    if records is None:
        top = ", ".join(f"'{k}'" for k in list(doc)[:20]) if isinstance(doc, dict) else type(doc).__name__
        raise FileRejected(f"{path.name}: no list of dossiers in this JSON (expected a list, or one under "
                           f"'data', 'DanhSachHoSo', 'items' or 'content'); found {top}")
    limits.check_rows(path.name, len(records), "records")
    flavour = flavour or guess_flavour(records) or ("portal-json" if not records else None)
    if flavour is None:
        raise FileRejected(f"{path.name}: JSON records have neither national-portal keys (MaHoSo, "
                           f"NgayTiepNhan, TrangThaiHoSo…) nor iGate keys (code, acceptedDate, "
                           f"dossierStatus…); found {_keys_found(records)}")
    to_row, order = FLAVOURS[flavour]
    seen: dict[str, None] = {}
    for rec in records:
        if isinstance(rec, dict):
            seen.update(dict.fromkeys(to_row(rec)))
    labels = [k for k in order if k in seen or not records]
    labels += [k for k in seen if k not in labels][: max(0, MAX_COLUMNS - len(labels))]
    cmap = match_header(labels, overrides)
    require(cmap, f"{path.name} ({flavour})")
    src = Source(path, enc.sha256, enc.label, "", format=flavour)
    convert = enc.converter()

    def rows() -> Rows:
        for number, rec in enumerate(records, 1):
            values = to_row(rec) if isinstance(rec, dict) else {}
            yield number, [convert(values.get(label, "")) for label in labels]

    return src, cmap, rows()
