"""Excel workbooks, .xlsx and the old binary .xls, read with python-calamine.

Before calamine sees an .xlsx, its zip is checked (`check_xlsx`): the parts' uncompressed sizes,
each sheet's declared <dimension> and the cells it really holds (calamine allocates a dense grid
from the first cell to the last: one cell at XFD1048576 is 512 GB), the shared strings it is told
to make room for. An .xls (BIFF) cannot grow past 65,536 x 256 cells; its compound file and
records are walked first (tracker.ingest.biff) and its grid checked once loaded. Which checks
apply goes by the file's bytes, as calamine's own choice of reader does, not by its name or
--format. The checks read XML with patterns, for speed, and say what is wrong and where; what
they miss (a reference written in a way they do not read) calamine meets in a child process with
a memory cap (tracker.ingest.forked), so that it costs a rejected file, not the process. Rows
are streamed from there, not converted into one list.

The first sheet with a recognisable header is read. Line numbers are the spreadsheet's row
numbers (1-based), so a rejected row can be found in Excel. Date cells become the strings the
date parser reads ("02/03/2026 08:00:00", a date alone "05/03/2026"); whole numbers lose their
".0" ("12"); an Excel serial number left in a date column ("45678.5") is read by
values.parse_datetime.
"""

from __future__ import annotations

import errno
import lzma
import math
import re
import zipfile
import zlib
from collections.abc import Callable, Iterable, Iterator
from datetime import date, datetime, time, timedelta
from operator import methodcaller
from pathlib import Path
from typing import TypeVar

from python_calamine import CalamineError, CalamineWorkbook

from tracker.ingest.base import (
    DEFAULT_LIMITS,
    HEADER_SCAN_ROWS,
    FileRejected,
    ReadLimits,
    Rows,
    Source,
    clean,
    data_rows,
    file_sha256,
    file_size,
    find_header,
    open_binary,
    read_head,
    require,
)
from tracker.ingest.biff import OLE_MAGIC, check_xls
from tracker.ingest.columns import ColumnMap
from tracker.ingest.forked import run_forked

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


def _rows(sheet_rows: Iterable[list[Cell]]) -> Rows:
    for i, row in enumerate(sheet_rows, 1):
        if row.count("") == len(row):  # an empty row (a sparse sheet has thousands): not cell by cell
            yield i, []
            continue
        yield i, [cell_text(v) for v in row]


def _is_panic(exc: BaseException) -> bool:
    """A Rust panic inside calamine (pyo3's PanicException, a BaseException): a damaged file
    made the parser give up. It is not importable by name, hence the check by name."""
    return type(exc).__name__ == "PanicException"


def calamine_or_reject(where: str, call: Callable[[], T]) -> T:
    """Run one calamine call; whatever it cannot read becomes FileRejected."""
    try:
        return call()
    except CalamineError as exc:
        raise FileRejected(f"{where}: not a readable Excel workbook ({_one_line(exc)})") from None
    except BaseException as exc:
        if not _is_panic(exc):
            raise
        # the panic's text is the Rust source's ("range end index 64 out of range …"): kept, as
        # the one clue to what broke, after what the desk needs to know
        raise FileRejected(f"{where}: not a readable Excel workbook (the file is damaged: the reader stopped "
                           f"at {_one_line(exc) or 'an unexpected structure'})") from None


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return " ".join(text.split()) if text else ""


def read_workbook(path: Path, fmt: str, overrides: dict[str, str] | None = None,
                  limits: ReadLimits = DEFAULT_LIMITS) -> tuple[Source, ColumnMap, Rows]:
    """The first sheet with a recognisable header: checked here, read by calamine in a child
    process (tracker.ingest.forked), its rows streamed from there."""
    path = Path(path)
    check_workbook(path, fmt, limits)
    sha = file_sha256(path)

    def produce() -> tuple[ColumnMap, Rows, list[str]]:
        src, cmap, rows = _read_book(path, fmt, overrides, limits, sha)
        return cmap, rows, src.skipped

    cmap, rows, skipped = run_forked(path.name, limits, produce)
    src = Source(path, sha, "binary", "", skipped=skipped, format=fmt)
    return src, cmap, rows


def first_sheet(path: Path, fmt: str, limits: ReadLimits = DEFAULT_LIMITS) -> Rows:
    """(row number, cell texts) of every row of a workbook's first sheet, for a small table read
    whole (published figures): checked and read like read_workbook."""
    path = Path(path)
    check_workbook(path, fmt, limits)

    def produce() -> tuple[None, Rows, list[str]]:
        with open_binary(path) as fh:
            book = calamine_or_reject(path.name, lambda: CalamineWorkbook.from_filelike(fh))
        with book:
            sheet = calamine_or_reject(path.name, lambda: book.get_sheet_by_index(0))
            limits.check_grid(path.name, sheet.end[0] + 1 if sheet.height else 0,
                              sheet.end[1] + 1 if sheet.width else 0)
            rows = calamine_or_reject(path.name, lambda: sheet.to_python(skip_empty_area=False))
        return None, ((i, [cell_text(v) for v in row]) for i, row in enumerate(rows, 1)), []

    return run_forked(path.name, limits, produce)[1]


def _read_book(path: Path, fmt: str, overrides: dict[str, str] | None, limits: ReadLimits,
               sha: str) -> tuple[Source, ColumnMap, Rows]:
    with open_binary(path) as fh:
        book = calamine_or_reject(path.name, lambda: CalamineWorkbook.from_filelike(fh))
    with book:
        src = Source(path, sha, "binary", "", format=fmt)
        notes, unreadable = [], []
        for index, name in enumerate(book.sheet_names):
            where = f"{path.name} sheet '{name}'"
            try:
                sheet = calamine_or_reject(where, lambda i=index: book.get_sheet_by_index(i))
                limits.check_grid(where, sheet.end[0] + 1 if sheet.height else 0,
                                  sheet.end[1] + 1 if sheet.width else 0)
                head = calamine_or_reject(
                    where, lambda s=sheet: s.to_python(skip_empty_area=False, nrows=HEADER_SCAN_ROWS))
            except FileRejected as exc:
                if "setting import.max_" in str(exc):
                    raise
                notes.append(f"sheet '{name}': {str(exc).split(': ', 1)[-1]}")
                unreadable.append(notes[-1])
                continue
            search = find_header(_rows(head), overrides, "row")
            if search.cmap is None:
                notes.append(f"sheet '{name}': {search.found()}")
                continue
            require(search.cmap, f"{where} row {search.line}")
            src.skipped.extend(f"sheet '{name}' {t}" for t in search.titles)
            rows = _rows(_stream(sheet, where, search.line))
            return src, search.cmap, data_rows(_renumber(rows, search.line), search.cmap, src, "row")
    if notes and len(unreadable) == len(notes):  # not a matter of headers: no sheet could be read at all
        raise FileRejected(f"{path.name}: " + "; ".join(unreadable))
    found = "; ".join(notes) if notes else "no sheets"
    raise FileRejected(f"{path.name}: no sheet has a recognisable header row in its first "
                       f"{HEADER_SCAN_ROWS} rows (expected columns such as 'Mã hồ sơ', 'Ngày tiếp nhận', "
                       f"'Trạng thái'); found {found}")


def check_workbook(path: Path, fmt: str, limits: ReadLimits = DEFAULT_LIMITS) -> None:
    """FileRejected unless calamine may open `path`: what every caller of calamine runs first.

    By what the file is, not by `fmt`: calamine tells a zip from an OLE file itself, so an .xlsx
    imported with --format xls is still read as one, and must be checked as one."""
    head = read_head(path, 8)
    if head.startswith(_ZIP_MAGIC) or zipfile.is_zipfile(path):
        check_xlsx(path, limits)
    else:
        limits.check_size(path.name, file_size(path))
    if head == OLE_MAGIC:
        check_xls(path, limits)


def _stream(sheet, where: str, skip: int) -> Iterator[list[Cell]]:  # noqa: ANN001 - a CalamineSheet
    """The sheet's rows after the first `skip`, one at a time, as to_python(skip_empty_area=False)
    has them: iter_rows starts at the first row but at the first used column, so each row is padded."""
    pad = [""] * sheet.start[1] if sheet.height else []
    rows = calamine_or_reject(where, sheet.iter_rows)
    for i, row in enumerate(rows):
        if i >= skip:
            yield pad + row if pad else row


# ----- checking an .xlsx before calamine reads it ---------------------------------------------------

_SHEET_PART = re.compile(r"^xl/(?:worksheets|dialogsheets|macrosheets)/[^/]+\.xml$", re.IGNORECASE)
_TAG = rb"<(?:[A-Za-z_][\w.-]*:)?"
_DIMENSION = re.compile(_TAG + rb"dimension\s[^>]*?\bref=\"([A-Z]{0,3})(\d*)(?::([A-Z]{0,3})(\d*))?\"")
_ROW_REF = re.compile(_TAG + rb"row\s[^>]*?\br=\"(\d{1,12})\"")
# a cell with content (not a self-closing, style-only <c r="XFD1" s="3"/>: calamine skips those)
_REF = re.compile(rb' r="([A-Z]{0,4})(\d{1,12})"')  # of a row (no letters) or a cell
_CELL_REF = re.compile(_TAG + rb"c\s[^>]*?\br=\"([A-Z]{1,4})(\d{1,12})\"[^>]*?(?<!/)>")
_SHEET_DATA = re.compile(rb"<([A-Za-z_][\w.-]*:)?sheetData[\s>/]")
_SCAN = 4 << 20


def column_number(letters: bytes | str) -> int:
    """'A' -> 1, 'XFD' -> 16384."""
    n = 0
    for ch in letters.decode("ascii") if isinstance(letters, bytes) else letters:
        n = n * 26 + ord(ch) - 64
    return n


def check_xlsx(path: Path, limits: ReadLimits) -> None:
    """FileRejected unless the workbook's parts, uncompressed, and every sheet's declared and real
    extent are within `limits`. Reads each sheet's XML once, streamed (no more than a few MB held).
    A damaged zip is named as such, with the part where it is found."""
    try:
        with zipfile.ZipFile(path) as z:
            infos = z.infolist()
            limits.check_size(path.name, sum(i.file_size for i in infos), " uncompressed")
            for info in infos:
                where = f"{path.name} ({info.filename})"
                if info.flag_bits & 0x1:  # zipfile would raise RuntimeError asking for a password
                    raise FileRejected(f"{where}: not a readable Excel workbook (this part is encrypted; "
                                       "a workbook with a password must be saved again without it)")
                try:
                    if _SHEET_PART.match(info.filename):
                        _check_sheet(z, info, where, limits)
                    elif info.filename.lower() == "xl/sharedstrings.xml":
                        _check_shared_strings(z, info, where, limits)
                except (*_ZIP_DAMAGE, OSError) as exc:
                    raise _damaged(where, exc, "this part is damaged") from None
    except (*_ZIP_DAMAGE, OSError) as exc:
        raise _damaged(path.name, exc, "its zip structure is damaged") from None


_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")
# what zipfile raises on damaged bytes, besides BadZipFile: a deflate, bzip2 or LZMA stream that
# breaks (zlib.error, LZMAError) or ends early (EOFError), a method or feature it does not read
# (NotImplementedError), a name it cannot decode or an offset before the file's start (ValueError)
_ZIP_DAMAGE = (zipfile.BadZipFile, zlib.error, lzma.LZMAError, EOFError, NotImplementedError, ValueError)


def _damaged(where: str, exc: BaseException, what: str) -> FileRejected:
    """The rejection for what zipfile raised (a FileRejected, a ValueError too, as it is)."""
    if isinstance(exc, FileRejected):
        return exc
    if isinstance(exc, OSError) and exc.errno == errno.EINVAL:  # a seek before the start of the file
        reason = "an offset before the start of the file"
    elif isinstance(exc, OSError) and exc.errno is not None:  # the disk, not the bytes (bzip2's errors have none)
        return FileRejected(f"{where}: cannot be read ({exc.strerror or exc})")
    else:
        reason = _one_line(exc) or {EOFError: "it ends too early"}.get(type(exc), type(exc).__name__)
    return FileRejected(f"{where}: not a readable Excel workbook ({what}: {reason})")


_UNIQUE_COUNT = re.compile(rb"""\buniqueCount\s*=\s*["']\s*\+?(\d{1,30})""")


def _check_shared_strings(z: zipfile.ZipFile, info: zipfile.ZipInfo, where: str, limits: ReadLimits) -> None:
    """calamine reserves room for the strings the table's uniqueCount declares before it reads
    one: uniqueCount="2000000000" in a 1 KB file was a 48 GB allocation and an abort. A table may
    hold no more strings than a sheet may hold cells."""
    with z.open(info) as fh:
        head = fh.read(4096)
    if found := _UNIQUE_COUNT.search(head):
        declared = int(found.group(1))
        if declared > limits.cells:
            raise FileRejected(f"{where}: declares {declared} shared strings, more than the {limits.cells} cells an "
                               "import reads (setting import.max_cells): a damaged or forged file")


def _check_sheet(z: zipfile.ZipFile, info: zipfile.ZipInfo, where: str, limits: ReadLimits) -> None:
    """Counted with bytes.count and one regex that starts with a literal (r="…": both row and cell
    references), at hundreds of MB a second; a chunk whose references reach further than the
    cells with content seen so far is read again cell by cell, as a style-only cell at XFD9 or an
    empty formatted row far down must not reject a file (calamine leaves them out)."""
    max_row = max_col = rows = unnumbered = 0
    widest = current = 0  # cells in a row: counted once some cell carries no reference
    unreferenced = False
    row_tag, cell_tag = b"<row", b"<c"
    size, carry, first = 0, b"", True
    with z.open(info) as fh:
        while chunk := fh.read(_SCAN):
            size += len(chunk)
            limits.check_size(where, size, " uncompressed")
            text = carry + chunk
            cut = text.rfind(b"<")  # a tag cut by the chunk's end is read with the next chunk
            if cut > text.rfind(b">"):
                text, carry = text[:cut], text[cut:]
            else:
                carry = b""
            if first:
                if dim := _DIMENSION.search(text):
                    _check_dimension(dim, where, limits)
                if tag := _SHEET_DATA.search(text):
                    prefix = b"<" + (tag.group(1) or b"")
                    row_tag, cell_tag = prefix + b"row", prefix + b"c"
                first = False
            tags = text.count(row_tag + b" ") + text.count(row_tag + b">")
            cells = text.count(cell_tag + b" ") + text.count(cell_tag + b">") + text.count(cell_tag + b"/")
            refs = _REF.findall(text)
            rows += tags
            # r first among the attributes, as every writer puts it; where not, the count errs high
            unnumbered += max(0, tags - text.count(row_tag + b' r="'))
            if refs:
                far_col = max(map(column_number, {c for c, _ in refs if c}), default=0)
                far_row = max(map(int, {r for _, r in refs}))
                if far_col > max_col or far_row > max_row:  # only cells with content count
                    content = _CELL_REF.findall(text)
                    rows_seen = [int(r) for r in _ROW_REF.findall(text)]
                    max_col = max(max_col, max(map(column_number, {c for c, _ in content}), default=0))
                    max_row = max(max_row, max((int(r) for _, r in content), default=0),
                                  min(max(rows_seen, default=0), max_row + len(rows_seen)))
            if not unreferenced and cells > text.count(cell_tag + b' r="'):
                unreferenced = True
            if unreferenced:
                widest, current = _widest_row(text, row_tag, cell_tag, widest, current)
            if rows > limits.rows:  # no need to read on
                break
    limits.check_grid(where, max(max_row + unnumbered, rows if unnumbered else 0), max(max_col, widest))


def _check_dimension(dim: re.Match, where: str, limits: ReadLimits) -> None:
    """The sheet's own <dimension ref="A1:XFD1048576">: what it claims is checked as if true."""
    last_col, last_row = (dim.group(3), dim.group(4)) if dim.group(3) is not None else (dim.group(1), dim.group(2))
    rows = int(last_row) if last_row else 0
    columns = column_number(last_col) if last_col else 0
    limits.check_grid(where, rows, columns, " (its declared dimension)")


def _widest_row(text: bytes, row_tag: bytes, cell_tag: bytes, widest: int, current: int) -> tuple[int, int]:
    """The most cells in one row so far; `current`: cells in the row still open at the last chunk.
    Counted by the bytes of the cell tag (a few `<col`, `<cfRule` outside the rows count too: an
    upper bound), at the speed of bytes.count, not of a Python loop over two million rows."""
    parts = text.split(row_tag)
    current += parts[0].count(cell_tag)
    widest = max(widest, current)
    if len(parts) > 1:
        counts = list(map(methodcaller("count", cell_tag), parts[1:]))
        widest, current = max(widest, max(counts)), counts[-1]
    return widest, current


def _renumber(rows: Rows, offset: int) -> Rows:
    for i, cells in rows:
        yield i + offset, cells
