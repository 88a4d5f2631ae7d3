"""HTML tables saved with an .xls name, the "Excel" lists many one-stop systems export.

Parsed with the standard library's html.parser. The first <table> with a recognisable header in
its first rows is read, after a title block inside the table (or any text above it). A cell's text
has its entities unescaped, tags stripped, <br> and block tags as spaces, runs of blanks as one
space; colspan repeats empty cells so the columns stay aligned.

Line numbers are the row's position in its table (1-based: the first <tr> is row 1), which is
the row number Excel shows when it opens the file.

Excel 2003 XML spreadsheets (<Workbook><Worksheet><Table><Row><Cell><Data>) read the same way.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

from tracker.ingest.base import (
    DEFAULT_LIMITS,
    HEADER_SCAN_ROWS,
    FileRejected,
    ReadLimits,
    Rows,
    Source,
    data_rows,
    file_size,
    find_header,
    open_binary,
    read_head,
    require,
    sniff_text_encoding,
)
from tracker.ingest.columns import ColumnMap

_ROW_TAGS = {"tr", "row"}
_CELL_TAGS = {"td", "th", "cell"}
_BREAKS = {"br", "p", "div", "li", "hr"}
_SKIP = {"script", "style", "title"}
MAX_SPAN = 256  # colspan beyond this is a broken file, not a wider table
MAX_COLUMNS = 4096
_CHARSET = re.compile(rb"""<meta[^>]*?charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.IGNORECASE)


def _int_attr(attrs: dict[str, str | None], *names: str) -> int | None:
    for name in names:
        value = (attrs.get(name) or "").strip()
        if value.isdigit() and len(value) <= 6:
            return int(value)
    return None


class _Tables(HTMLParser):
    """Collects every table as a list of rows of cell texts."""

    def __init__(self, limits: ReadLimits = DEFAULT_LIMITS, where: str = "") -> None:
        super().__init__(convert_charrefs=True)
        self.limits, self.where = limits, where
        self.max_columns = min(MAX_COLUMNS, limits.columns)
        self.rows = self.cells = 0  # in all tables: what the file makes us hold
        self.tables: list[list[list[str]]] = []
        self._open: list[int] = []  # indices of the open tables, innermost last
        self._row: dict[int, list[str] | None] = {}
        self._cell: dict[int, list[str] | None] = {}
        self._span: dict[int, int] = {}
        self._skip = 0
        self.text_outside: list[str] = []

    # the innermost open table's state
    def _t(self) -> int | None:
        return self._open[-1] if self._open else None

    def _close_cell(self, t: int) -> None:
        cell = self._cell.get(t)
        row = self._row.get(t)
        if cell is None or row is None:
            self._cell[t] = None
            return
        text = " ".join("".join(cell).split())
        if len(row) < self.max_columns:
            before = len(row)
            row.append(text)
            row.extend([""] * min(self._span.get(t, 1) - 1, self.max_columns - len(row)))
            self._count(0, len(row) - before)
        self._cell[t] = None

    def _count(self, rows: int, cells: int) -> None:
        """Rows and cells held so far, against the limits: colspan and ss:Index make a few bytes
        of tags into thousands of cells and rows."""
        self.rows += rows
        self.cells += cells
        if self.rows > self.limits.rows + HEADER_SCAN_ROWS:
            self.limits.check_rows(self.where, self.rows, "table rows")
        if self.cells > self.limits.cells:
            raise FileRejected(f"{self.where}: more than {self.limits.cells} table cells, the most an import "
                               "reads (setting import.max_cells)")

    def _close_row(self, t: int) -> None:
        self._close_cell(t)
        row = self._row.get(t)
        if row is not None:
            self.tables[t].append(row)
            self._count(1, 0)
        self._row[t] = None

    def _start_row(self, t: int) -> None:
        self._close_row(t)
        self._row[t] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIP:
            self._skip += 1
            return
        if tag == "table":
            self.tables.append([])
            self._open.append(len(self.tables) - 1)
            return
        t = self._t()
        if t is None:
            return
        a = dict(attrs)
        if tag in _ROW_TAGS:
            self._start_row(t)
            index = _int_attr(a, "ss:index")  # Excel XML: a row number after skipped rows
            if index is not None:
                rows = self.tables[t]
                skipped = max(0, min(index - 1, len(rows) + 1000) - len(rows))
                self._count(skipped, 0)
                rows.extend([] for _ in range(skipped))
        elif tag in _CELL_TAGS:
            if self._row.get(t) is None:
                self._start_row(t)
            self._close_cell(t)
            row = self._row[t]
            index = _int_attr(a, "ss:index")  # Excel XML: a column number after skipped cells
            if index is not None and row is not None:
                skipped = max(0, min(index, self.max_columns) - 1 - len(row))
                self._count(0, skipped)
                row.extend([""] * skipped)
            span = _int_attr(a, "colspan")
            merge = _int_attr(a, "ss:mergeacross")
            self._span[t] = max(1, min(span or (merge + 1 if merge is not None else 1), MAX_SPAN))
            self._cell[t] = []
        elif tag in _BREAKS:
            self._text(" ")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIP:
            return
        self.handle_starttag(tag, attrs)
        if tag not in _BREAKS:
            self.handle_endtag(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP:
            self._skip = max(0, self._skip - 1)
            return
        t = self._t()
        if t is None:
            return
        if tag in _CELL_TAGS:
            self._close_cell(t)
        elif tag in _ROW_TAGS:
            self._close_row(t)
        elif tag == "table":
            self._close_row(t)
            self._open.pop()
        elif tag in _BREAKS:
            self._text(" ")

    def _text(self, data: str) -> None:
        if self._skip:
            return
        t = self._t()
        cell = self._cell.get(t) if t is not None else None
        if cell is not None:
            cell.append(data)
        elif t is None and data.strip() and len(self.text_outside) < 5:
            self.text_outside.append(" ".join(data.split())[:80])

    def handle_data(self, data: str) -> None:
        self._text(data)

    def parse_marked_section(self, i: int, report: int = 1) -> int:
        """'<![CDATA[…]]>' is text, '<![if !supportLists]>' (Word and Excel HTML) is nothing.

        The standard library's version raises AssertionError on a keyword it does not know
        ('<![foo]>'); a broken export must not stop the reader, so any section is skipped."""
        rawdata = self.rawdata
        j = rawdata.find("]>", i + 3)
        if j < 0:
            return -1  # not complete yet: wait for more text (at the end: read as text)
        if rawdata.startswith("<![CDATA[", i):
            self._text(rawdata[i + 9: j - 1 if rawdata[j - 1] == "]" and j - 1 >= i + 9 else j])
        return j + 2

    def finish(self) -> list[list[list[str]]]:
        self.close()
        while self._open:
            self._close_row(self._open.pop())
        return self.tables


def _parse(text: str, limits: ReadLimits = DEFAULT_LIMITS, where: str = "") -> _Tables:
    parser = _Tables(limits, where)
    parser.feed(text)
    parser.finish()
    return parser


def read_html(path: Path, overrides: dict[str, str] | None = None, limits: ReadLimits = DEFAULT_LIMITS
              ) -> tuple[Source, ColumnMap, Rows]:
    path = Path(path)
    limits.check_size(path.name, file_size(path))  # read whole, as text (up to four times its bytes)
    m = _CHARSET.search(read_head(path, 8192))
    enc = sniff_text_encoding(path, declared=m.group(1).decode("ascii") if m else None)
    with open_binary(path) as fh:
        text = fh.read().decode(enc.codec)
    convert = enc.converter()
    parser = _parse(text, limits, path.name)
    src = Source(path, enc.sha256, enc.label, "", format="html")
    notes = []
    for number, table in enumerate(parser.tables, 1):
        rows = ((i, [convert(c) for c in cells]) for i, cells in enumerate(table, 1))
        search = find_header(rows, overrides, "row")
        if search.cmap is None:
            if len(notes) < 3:
                notes.append(f"table {number}: {search.found()}")
            continue
        require(search.cmap, f"{path.name} table {number} row {search.line}")
        src.skipped.extend(f"table {number} {t}" for t in search.titles)
        return src, search.cmap, data_rows(rows, search.cmap, src, "row")
    if not parser.tables:
        text_found = "; ".join(f"'{t}'" for t in parser.text_outside) or "no text"
        raise FileRejected(f"{path.name}: no <table> in this HTML file; found {text_found}")
    raise FileRejected(f"{path.name}: none of its {len(parser.tables)} table(s) has a recognisable header "
                       f"row in its first {HEADER_SCAN_ROWS} rows (expected columns such as 'Mã hồ sơ', "
                       f"'Ngày tiếp nhận', 'Trạng thái'); found {'; '.join(notes)}")
