"""Readers: turn an export file into (line number, cells) records, after finding its header row.

`open_export` is the one entry point. The format is told by the caller (`--format`) or guessed
from the file's first bytes, never from its name (an ".xls" that is really an HTML table is
common):

    PK\\x03\\x04 (a zip)             xlsx   tracker.ingest.workbook, python-calamine
    D0 CF 11 E0 (OLE)               xls    tracker.ingest.workbook
    '<' after a BOM and blanks      html   tracker.ingest.html_table (also Excel 2003 XML)
    '{' or '['                      json   tracker.ingest.json_exports: portal-json or igate-json
    anything else                   csv    below; "tthc-csv" when its header is our own field names

Every reader decodes and checks the whole file before it yields a row (so nothing is written
from a file that is rejected later) and hashes its bytes. CSV streams in constant memory; the
other formats load the file (a sheet, a document) first. Whatever is wrong with a file comes out
as FileRejected, with the file name and what was found.
"""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Iterator
from pathlib import Path
from unicodedata import normalize

from tracker.export import DOSSIER_COLUMNS
from tracker.ingest.base import (
    DEFAULT_LIMITS,
    HEADER_SCAN_ROWS,
    FileRejected,
    ReadLimits,
    Rows,
    Source,
    TextEncoding,
    is_totals_row,
    open_binary,
    open_table,
    read_head,
    sniff_text_encoding,
)
from tracker.ingest.columns import ALIASES, ColumnMap, score
from tracker.ingest.html_table import read_html
from tracker.ingest.json_exports import read_json
from tracker.ingest.text import fold
from tracker.ingest.workbook import read_workbook

__all__ = ["FORMATS", "FileRejected", "ReadLimits", "Source", "detect_format", "is_totals_row", "open_export",
           "open_text", "read_csv", "sniff_delimiter", "sniff_encoding"]

# The import formats: what `open_export`, a declared source's `format` and `tthc import --format` take
# ("json": either JSON flavour, told from the records).
FORMATS = ("csv", "xlsx", "xls", "html", "portal-json", "igate-json", "tthc-csv", "json")
csv.field_size_limit(1 << 28)  # a runaway quote swallows the rest of the file into one field


def detect_format(path: Path) -> str:
    """csv, xlsx, xls, html or json, from the first bytes of the file."""
    head = read_head(path, 4096)
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        return "xlsx"
    if head.startswith(b"\xd0\xcf\x11\xe0"):
        return "xls"
    if head.startswith(codecs.BOM_UTF8):
        text = head[3:].decode("utf-8", errors="ignore")
    elif head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        text = head.decode("utf-16", errors="ignore")
    else:
        text = head.decode("latin-1")
    text = text.lstrip(" \t\r\n\f\v\x00\ufeff")
    if text.startswith("<"):
        return "html"
    if text.startswith(("{", "[")):
        return "json"
    return "csv"


def open_export(path: Path, fmt: str | None = None, overrides: dict[str, str] | None = None,
                limits: ReadLimits = DEFAULT_LIMITS) -> tuple[Source, ColumnMap, Rows]:
    """(source, header map, rows) of one export file; FileRejected if it cannot be imported.

    `fmt`: one of FORMATS, or None to tell from the content. `overrides`: source label ->
    canonical field, for headers our aliases do not know. `limits`: how big a file may be
    (rows, columns, cells, bytes), checked before anything is read into memory."""
    path = Path(path)
    name = _format_name(fmt) if fmt is not None else detect_format(path)
    if name in ("csv", "tthc-csv"):
        return read_csv(path, overrides, limits)
    if name in ("xlsx", "xls"):
        return read_workbook(path, name, overrides, limits)
    if name == "html":
        return read_html(path, overrides, limits)
    return read_json(path, None if name == "json" else name, overrides, limits)


def _format_name(fmt: str) -> str:
    name = fmt.strip().lower().replace("_", "-")
    if name not in FORMATS:
        raise FileRejected(f"unknown format '{fmt}': known formats are {', '.join(FORMATS)}")
    return name


# ----- CSV ---------------------------------------------------------------------------------------

def sniff_delimiter(sample: str) -> str:
    """The delimiter that splits a line into known column labels (a header); else the one a line
    holds most of. Labels first: a value with many semicolons (a name, our own export's text) must
    not outvote the header's commas."""
    lines = [ln for ln in sample.splitlines()[:HEADER_SCAN_ROWS] if ln.strip()]
    labelled = {d: max((score(ln.split(d)) for ln in lines), default=0) for d in (";", "\t", ",")}
    top = max(labelled.values())
    if top >= 3:  # what find_header takes for a header
        return next(d for d, n in labelled.items() if n == top)
    best, best_score = ",", -1
    for d in (";", "\t", ","):
        counts = [ln.count(d) for ln in lines]
        if not counts or max(counts) == 0:
            continue
        s = max(counts)
        if s > best_score:
            best, best_score = d, s
    return best


# the canonical field names, and the columns `tthc export dossiers` adds for reading
_OWN_LABELS = {fold(f) for f in ALIASES if not f.startswith("_")} | {fold(c) for c in DOSSIER_COLUMNS}


def read_csv(path: Path, overrides: dict[str, str] | None = None, limits: ReadLimits = DEFAULT_LIMITS
             ) -> tuple[Source, ColumnMap, Rows]:
    """A CSV / tab-separated export, streamed (so no cap on bytes or columns: a row is never more
    than its line). Line numbers are physical lines (1-based)."""
    path = Path(path)
    enc = sniff_text_encoding(path)
    if enc.lines > limits.rows + HEADER_SCAN_ROWS:  # room for a title block and the header
        limits.check_rows(path.name, enc.lines, "lines")
    with _open_decoded(path, enc) as fh:
        sample = fh.read(64 * 1024)
    src = Source(path, enc.sha256, enc.label, sniff_delimiter(sample), format="csv")
    fh = _open_decoded(path, enc)
    try:
        cmap, rows = open_table(_csv_rows(fh, src.delimiter, enc, path), src, overrides, path.name)
    except FileRejected:
        fh.close()
        raise
    if all(fold(label) in _OWN_LABELS for label in cmap.labels if label):
        src.format = "tthc-csv"
    return src, cmap, rows


def _open_decoded(path: Path, enc: TextEncoding) -> io.TextIOWrapper:
    return io.TextIOWrapper(open_binary(path), encoding=enc.codec, newline="")


def _csv_rows(fh: io.TextIOWrapper, delimiter: str, enc: TextEncoding, path: Path) -> Rows:
    if enc.legacy:
        convert = enc.converter()
        reader = csv.reader(fh, delimiter=delimiter)
        with fh:
            try:
                for row in reader:
                    yield reader.line_num, [convert(c) for c in row]
            except csv.Error as exc:  # only a field over 256 MB: a quote left open in a huge file
                raise FileRejected(f"{path.name} line {reader.line_num}: {exc}") from None
        return
    with fh:
        yield from split_lines(fh, delimiter, path.name)


class _Feed:
    """The lines csv.reader reads: the one handed over first, then the file's next ones (a quoted
    field may span lines), each in NFC; counts them for the physical line number."""

    def __init__(self, lines: Iterator[str]) -> None:
        self.lines, self.first, self.count = lines, None, 0

    def __iter__(self) -> _Feed:
        return self

    def __next__(self) -> str:
        line, self.first = self.first, None
        if line is None:
            line = normalize("NFC", next(self.lines))
        self.count += 1
        return line


def split_lines(lines: Iterator[str], delimiter: str, where: str = "") -> Rows:
    """(physical line number of the record's last line, stripped NFC cells), as csv.reader gives.

    NFC line by line (delimiters and quotes are ASCII and never combine, so this equals NFC per
    cell). A line without a quote character is split on the delimiter, which is what csv.reader
    does with it (lines end only at \\r, \\n, \\r\\n here: the file is opened with newline="");
    a line with one goes through csv.reader, which reads on while a quoted field spans lines.
    This is the hot loop of a million-row file: str.split is three times as fast."""
    feed = _Feed(lines)
    reader = csv.reader(feed, delimiter=delimiter)
    limit = csv.field_size_limit()
    strip = str.strip
    count = 0
    for raw in lines:
        line = normalize("NFC", raw)
        if '"' in line or len(line) > limit:
            feed.first, feed.count = line, count
            try:
                row = next(reader)
            except csv.Error as exc:  # only a field over 256 MB: a quote left open in a huge file
                raise FileRejected(f"{where} line {feed.count}: {exc}") from None
            count = feed.count
            yield count, [c.strip() for c in row]
            continue
        count += 1
        body = line.rstrip("\r\n")
        yield count, list(map(strip, body.split(delimiter))) if body else []


# ----- kept for the catalogue importer and older callers -----------------------------------------

def sniff_encoding(path: Path) -> tuple[str, str]:
    """(codec, sha256) of a text file, checking that the whole file decodes."""
    enc = sniff_text_encoding(Path(path))
    return enc.codec, enc.sha256


def open_text(path: Path) -> io.TextIOBase:
    return _open_decoded(Path(path), sniff_text_encoding(Path(path)))
