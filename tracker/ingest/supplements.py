"""Supplement pairs in one cell: the product's CSV column `supplements` and the national portal's
list DanhSachHoSoBoSung (tracker.ingest.json_exports writes it as that cell).

A JSON list of objects, one per supplement request, in the source's order. Keys are the
product's (requested_at, resubmitted_at, previous_due_at, new_due_at) or the portal's
(NgayBoSung, NgayTiepNhanBoSung, NgayHenTraTruoc, NgayHenTraMoi); values are dates in any
format of FORMATS.md §3, or null / "" when unknown. Other keys are ignored.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from tracker.calendar import WorkCalendar
from tracker.ingest.values import ValueProblem, parse_datetime
from tracker.portal766 import PAIR_KEYS, SupplementPair

PORTAL_KEYS = {"NgayBoSung": "requested_at", "NgayTiepNhanBoSung": "resubmitted_at",
               "NgayHenTraTruoc": "previous_due_at", "NgayHenTraMoi": "new_due_at"}
_DUE_KEYS = ("previous_due_at", "new_due_at")  # promised days: a bare date is that day's closing time
MAX_PAIRS = 100


def _moment(value: Any, where: str, key: str, cal: WorkCalendar | None) -> datetime | None:  # noqa: ANN401
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)  # yyyyMMddHHmmss written as a number
    if not isinstance(value, str):
        raise ValueProblem(f"{where}: {key} must be a date as text, not {json.dumps(value)[:40]}")
    try:
        moment = parse_datetime(value)
    except ValueProblem as exc:
        raise ValueProblem(f"{where}: {key}: {exc}") from None
    if moment is not None and cal is not None and key in _DUE_KEYS and len(value.strip()) <= 10:
        moment = cal.day_end(moment.date())
    return moment


def parse_supplements(text: str, cal: WorkCalendar | None = None) -> tuple[SupplementPair, ...]:
    """The pairs of a cell ('' -> none). Raises ValueProblem naming the pair and the key."""
    if not text or not text.strip():
        return ()
    try:
        doc = json.loads(text)
    except (json.JSONDecodeError, RecursionError, ValueError) as exc:
        raise ValueProblem(f"not a JSON list of supplements: {getattr(exc, 'msg', exc)}") from None
    if not isinstance(doc, list):
        raise ValueProblem("not a JSON list of supplements (expected [{\"requested_at\": …}, …])")
    if len(doc) > MAX_PAIRS:
        raise ValueProblem(f"{len(doc)} supplements: at most {MAX_PAIRS} per dossier")
    pairs = []
    for n, item in enumerate(doc, 1):
        where = f"supplement {n}"
        if not isinstance(item, dict):
            raise ValueProblem(f"{where}: expected an object with requested_at, resubmitted_at …")
        values: dict[str, datetime | None] = dict.fromkeys(PAIR_KEYS)
        for key, value in item.items():
            name = key if key in PAIR_KEYS else PORTAL_KEYS.get(key)
            if name is not None and value not in ("", None):
                values[name] = _moment(value, where, key, cal)
        if values["requested_at"] and values["resubmitted_at"] and values["resubmitted_at"] < values["requested_at"]:
            raise ValueProblem(f"{where}: resubmitted {values['resubmitted_at']:%d/%m/%Y %H:%M} is before the "
                               f"request {values['requested_at']:%d/%m/%Y %H:%M}")
        pairs.append(SupplementPair(**values))
    return tuple(pairs)
