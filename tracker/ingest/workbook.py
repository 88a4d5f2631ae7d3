"""Excel workbooks, .xlsx and the old binary .xls, read with python-calamine.

The first sheet with a recognisable header is read. Line numbers are the spreadsheet's row
numbers (1-based), so a rejected row can be found in Excel. Date cells become the strings the
date parser reads ("02/03/2026 08:00:00", a date alone "05/03/2026"); whole numbers lose their
".0" ("12"); an Excel serial number left in a date column ("45678.5") is read by
values.parse_datetime.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import TypeVar

from python_calamine import CalamineError, CalamineWorkbook

from tracker.ingest.base import (
    HEADER_SCAN_ROWS,
    FileRejected,
    Rows,
    Source,
    clean,
    data_rows,
    file_sha256,
    find_header,
    open_binary,
    require,
)
from tracker.ingest.columns import ColumnMap

T = TypeVar("T")
Cell = str | int | float | bool | datetime | date | time | timedelta


def cell_text(value: Cell) -> str:
    """A cell as the text a CSV export would have held."""
    if isinstance(value, str):
        return clean(value)
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            return ""
        if value.is_integer() and abs(value) < 1e15:
            return str(int(value))
        return repr(value)
    if isinstance(value, datetime):
        return (f"{value.day:02d}/{value.month:02d}/{value.year:04d} "
                f"{value.hour:02d}:{value.minute:02d}:{value.second:02d}")
    if isinstance(value, date):
        return f"{value.day:02d}/{value.month:02d}/{value.year:04d}"
    if isinstance(value, time):
        return f"{value.hour:02d}:{value.minute:02d}:{value.second:02d}"
    if isinstance(value, timedelta):
        seconds = int(value.total_seconds())
        return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"
    return clean(str(value))


def _rows(sheet_rows: list[list[Cell]]) -> Rows:
    for i, row in enumerate(sheet_rows, 1):
        yield i, [cell_text(v) for v in row]


def _is_panic(exc: BaseException) -> bool:
    """A Rust panic inside calamine (pyo3's PanicException, a BaseException): a damaged file
    made the parser give up. It is not importable by name, hence the check by name."""
    return type(exc).__name__ == "PanicException"


def _calamine(where: str, call: Callable[[], T]) -> T:
    """Run one calamine call; whatever it cannot read becomes FileRejected."""
    try:
        return call()
    except CalamineError as exc:
        raise FileRejected(f"{where}: not a readable Excel workbook ({exc})") from None
    except BaseException as exc:
        if not _is_panic(exc):
            raise
        reason = str(exc).splitlines()[0] if str(exc) else "damaged file"
        raise FileRejected(f"{where}: not a readable Excel workbook (damaged: {reason})") from None


def read_workbook(path: Path, fmt: str, overrides: dict[str, str] | None = None
                  ) -> tuple[Source, ColumnMap, Rows]:
    path = Path(path)
    sha = file_sha256(path)
    with open_binary(path) as fh:
        book = _calamine(path.name, lambda: CalamineWorkbook.from_filelike(fh))
    with book:
        src = Source(path, sha, "binary", "", format=fmt)
        notes = []
        for index, name in enumerate(book.sheet_names):
            where = f"{path.name} sheet '{name}'"
            try:
                sheet = _calamine(where, lambda i=index: book.get_sheet_by_index(i))
                head = _calamine(where, lambda s=sheet: s.to_python(skip_empty_area=False, nrows=HEADER_SCAN_ROWS))
            except FileRejected as exc:
                notes.append(f"sheet '{name}': {str(exc).split(': ', 1)[-1]}")
                continue
            search = find_header(_rows(head), overrides, "row")
            if search.cmap is None:
                notes.append(f"sheet '{name}': {search.found()}")
                continue
            require(search.cmap, f"{where} row {search.line}")
            everything = _calamine(where, lambda s=sheet: s.to_python(skip_empty_area=False))
            src.skipped.extend(f"sheet '{name}' {t}" for t in search.titles)
            rows = _rows(everything[search.line:])
            return src, search.cmap, data_rows(_renumber(rows, search.line), search.cmap, src, "row")
    found = "; ".join(notes) if notes else "no sheets"
    raise FileRejected(f"{path.name}: no sheet has a recognisable header row in its first "
                       f"{HEADER_SCAN_ROWS} rows (expected columns such as 'Mã hồ sơ', 'Ngày tiếp nhận', "
                       f"'Trạng thái'); found {found}")


def _renumber(rows: Rows, offset: int) -> Rows:
    for i, cells in rows:
        yield i + offset, cells
