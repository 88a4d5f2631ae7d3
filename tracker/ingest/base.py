"""What every reader shares: the Source record, FileRejected, text decoding, the header hunt.

A reader turns a file into rows of strings; `find_header` then walks the first rows for the
header (skipping a title block above it, as printed reports have), and `data_rows` drops empty
rows and the totals row at the end.
"""

from __future__ import annotations

import codecs
import hashlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from tracker.ingest import legacy
from tracker.ingest.columns import ColumnMap, HeaderError, check_required, match_header, score
from tracker.ingest.text import fold, nfc

HEADER_SCAN_ROWS = 30
SAMPLE_BYTES = 256 << 10  # what the encoding guess looks at: thousands of words
CHUNK = 256 << 10  # hashing and the decode check read this much at a time
Rows = Iterator[tuple[int, list[str]]]


class FileRejected(ValueError):
    """The whole file cannot be imported; nothing was written."""


@dataclass(frozen=True)
class ReadLimits:
    """What a file may hold before it is rejected whole, unread (settings import.max_*): a sheet
    that claims a cell at XFD1048576 would make the workbook reader allocate 512 GB, a 464 KB zip
    can hold two million rows. Defaults: Excel's own row limit, far more columns than any export
    has, and cells and bytes that a one-stop export of a province's year stays well within."""

    rows: int = 1_048_576
    columns: int = 1024
    cells: int = 30_000_000
    megabytes: int = 2048  # uncompressed: an xlsx's parts, the text of an HTML or JSON file

    @property
    def bytes(self) -> int:
        return self.megabytes << 20

    def check_rows(self, where: str, rows: int, what: str = "rows") -> None:
        if rows > self.rows:
            raise FileRejected(f"{where}: {rows} {what}, more than the {self.rows} an import reads "
                               "(setting import.max_rows)")

    def check_size(self, where: str, size: int, what: str = "") -> None:
        if size > self.bytes:
            raise FileRejected(f"{where}: {_mb(size)}{what}, more than the {self.megabytes} MB an import reads "
                               "(setting import.max_megabytes)")

    def check_grid(self, where: str, rows: int, columns: int, what: str = "") -> None:
        """Rows, columns and cells (rows x columns: what a workbook reader allocates) of a sheet."""
        for name, n, most in (("rows", rows, self.rows), ("columns", columns, self.columns),
                              ("cells", rows * columns, self.cells)):
            if n > most:
                raise FileRejected(f"{where}: {rows} rows x {columns} columns{what}, more than the {most} {name} "
                                   f"an import reads (setting import.max_{name})")


DEFAULT_LIMITS = ReadLimits()


def _mb(size: int) -> str:
    return f"{size / (1 << 20):.0f} MB" if size >= 1 << 20 else f"{size} bytes"


@dataclass
class Source:
    path: Path
    sha256: str
    encoding: str  # utf-8, utf-8-sig, utf-16, cp1258, tcvn3, vni, utf-8+vni …; "binary" for workbooks
    delimiter: str = ","
    skipped: list[str] = field(default_factory=list)  # title block, totals row: what was skipped
    format: str = "csv"  # csv, tthc-csv, xlsx, xls, html, portal-json, igate-json


def clean(text: str) -> str:
    return nfc(text).strip()


# ----- bytes and text ----------------------------------------------------------------------------

def open_binary(path: Path):  # noqa: ANN201 - a file object
    try:
        return path.open("rb")
    except OSError as exc:
        raise FileRejected(f"{path.name}: cannot be read ({exc.strerror or exc})") from None


def read_head(path: Path, size: int = 4096) -> bytes:
    with open_binary(path) as fh:
        try:
            return fh.read(size)
        except OSError as exc:
            raise FileRejected(f"{path.name}: cannot be read ({exc.strerror or exc})") from None


def file_size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError as exc:
        raise FileRejected(f"{path.name}: cannot be read ({exc.strerror or exc})") from None


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open_binary(path) as fh:
        while chunk := fh.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


@dataclass(frozen=True)
class TextEncoding:
    codec: str  # what decodes the bytes: never fails on this file
    legacy: str | None  # 'tcvn3' / 'vni': a font encoding to convert afterwards
    sha256: str
    lines: int = 0  # line feed bytes in the file (UTF-16: an upper bound)

    @property
    def label(self) -> str:
        if self.legacy is None:
            return self.codec
        return self.legacy if self.codec == "latin-1" else f"{self.codec}+{self.legacy}"

    def converter(self) -> Callable[[str], str]:
        convert = legacy.CONVERTERS.get(self.legacy or "")
        return (lambda s: clean(convert(s))) if convert else clean


def _check(path: Path, codec: str) -> tuple[str, str | None, int]:
    """(sha256, None, lines) if the whole file decodes in `codec`, else (sha256, where it failed,
    lines). Lines: line feed bytes, at least the lines of any text encoding but UTF-16's."""
    digest = hashlib.sha256()
    decoder = codecs.getincrementaldecoder(codec)("strict")
    offset, error, lines = 0, None, 0
    with open_binary(path) as fh:
        while chunk := fh.read(CHUNK):
            digest.update(chunk)
            lines += chunk.count(b"\n")
            if error is None:
                try:
                    decoder.decode(chunk)
                except UnicodeDecodeError as exc:
                    bom = 3 if codec == "utf-8-sig" and offset == 0 else 0  # counted after the BOM
                    error = f"byte {offset + bom + max(exc.start, 0)}: {exc.reason} in {codec}"
            offset += len(chunk)
        if error is None:
            try:
                decoder.decode(b"", final=True)
            except UnicodeDecodeError as exc:
                error = f"byte {offset}: {exc.reason} in {codec} at the end of the file"
    return digest.hexdigest(), error, lines


# what a <meta charset> may choose; anything else (utf-16 without a BOM, a typo) is not trusted
_DECLARABLE = {"utf-8", "cp1258", "cp1252", "iso8859-1", "ascii"}


def _known_codec(name: str | None) -> str | None:
    if not name:
        return None
    try:
        info = codecs.lookup(name.strip().lower())
    except (LookupError, ValueError):
        return None
    return info.name if info.name in _DECLARABLE else None


def sniff_text_encoding(path: Path, declared: str | None = None) -> TextEncoding:
    """How to decode a text file, checked over the whole file before anything is read from it.

    A BOM decides (UTF-8, UTF-16); then a declared charset (an HTML <meta>); then UTF-8; then
    Windows-1258. Text in the legacy TCVN3 / VNI font encodings is recognised in either form: raw
    font bytes (not UTF-8) or their Windows-1252 characters saved inside a UTF-8 file."""
    head = read_head(path, SAMPLE_BYTES)
    if head.startswith(codecs.BOM_UTF8):
        primary = "utf-8-sig"
    elif head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        primary = "utf-16"
    else:
        primary = _known_codec(declared) or "utf-8"
    sha, error, lines = _check(path, primary)
    if error is None:
        sample = head.decode(primary, errors="ignore")
        return TextEncoding(primary, legacy.detect(sample), sha, lines)
    errors = [error]
    if primary.startswith("utf-16") or head.startswith(codecs.BOM_UTF8):
        raise FileRejected(f"{path.name}: cannot be decoded ({error})")
    # not UTF-8: legacy font bytes, or Windows-1258
    found = legacy.detect(head.decode("latin-1"), baseline=head.decode("cp1258", errors="replace"))
    if found:
        return TextEncoding("latin-1", found, sha, lines)
    for codec in ("utf-8", "cp1258"):
        if codec == primary:
            continue
        sha, error, lines = _check(path, codec)
        if error is None:
            return TextEncoding(codec, None, sha, lines)
        errors.append(error)
    raise FileRejected(f"{path.name}: cannot be decoded ({'; '.join(errors)})")


# ----- header and rows ---------------------------------------------------------------------------

def is_header(cells: list[str], overrides: dict[str, str] | None) -> bool:
    if score(cells) >= 3:
        return True
    if overrides:
        cmap = match_header(cells, overrides)
        return "code" in cmap.fields and len(cmap.fields) >= 3
    return False


def is_totals_row(cells: list[str], cmap: ColumnMap) -> bool:
    """'Tổng cộng', 'Cộng', 'Tổng số' in the first cells and no dossier code."""
    code_i = cmap.fields.get("code")
    if code_i is not None and code_i < len(cells) and cells[code_i].strip():
        # most codes do not start with t/c: skip folding them (fold caches what it sees)
        return cells[code_i][:1] in "TtCc" and fold(cells[code_i]).startswith(("tong", "cong"))
    firsts = [fold(c) for c in cells[:3] if c.strip()]
    return any(f.startswith(("tongcong", "tongso", "tong", "cong")) for f in firsts)


def _quote(cells: Iterable[str], limit: int = 120) -> str:
    text = ", ".join(f"'{c}'" for c in cells if c)
    return text if len(text) <= limit else text[: limit - 1] + "…"


@dataclass
class HeaderSearch:
    """The outcome of looking for a header in the first rows of one table."""

    cmap: ColumnMap | None = None
    line: int = 0
    titles: list[str] = field(default_factory=list)
    seen: list[str] = field(default_factory=list)  # the first non-empty rows, quoted

    def found(self) -> str:
        return "; ".join(self.seen) if self.seen else "nothing (no non-empty rows)"


def find_header(rows: Rows, overrides: dict[str, str] | None, unit: str = "line") -> HeaderSearch:
    """Consume rows up to the header (within HEADER_SCAN_ROWS rows)."""
    search = HeaderSearch()
    for n, (line, cells) in enumerate(rows, 1):
        if is_header(cells, overrides):
            search.cmap, search.line = match_header(cells, overrides), line
            return search
        if any(cells):
            quoted = _quote(cells)
            search.titles.append(f"{unit} {line}: title {quoted}")
            if len(search.seen) < 3:
                search.seen.append(f"{unit} {line}: {quoted}")
        if n >= HEADER_SCAN_ROWS:
            break
    return search


NO_HEADER = ("no recognisable header row in the first {n} {unit}s (expected columns such as "
             "'Mã hồ sơ', 'Ngày tiếp nhận', 'Trạng thái'); found {found}")


def no_header(where: str, search: HeaderSearch, unit: str = "line") -> FileRejected:
    return FileRejected(f"{where}: " + NO_HEADER.format(n=HEADER_SCAN_ROWS, unit=unit, found=search.found()))


def require(cmap: ColumnMap, where: str) -> None:
    try:
        check_required(cmap, where)
    except HeaderError as exc:
        raise FileRejected(str(exc)) from None


def data_rows(rows: Rows, cmap: ColumnMap, src: Source, unit: str = "line") -> Rows:
    """The rows after the header: empty rows dropped, totals rows and the header repeated on
    each printed page noted in src.skipped."""
    header = list(cmap.labels)
    code_i = cmap.fields.get("code", -1)
    for line, cells in rows:
        # the common row first: a dossier code that cannot start a totals label, not the header's
        code = cells[code_i] if 0 <= code_i < len(cells) else ""
        if code and code[0] not in "TtCc" and not code[0].isspace() and code != header[code_i]:
            yield line, cells
            continue
        if not any(cells):
            continue
        if cells == header:
            src.skipped.append(f"{unit} {line}: header repeated")
            continue
        # the product's own export has no totals row: a dossier coded 'Cộng 01' is a dossier
        if src.format != "tthc-csv" and is_totals_row(cells, cmap):
            src.skipped.append(f"{unit} {line}: totals row")
            continue
        yield line, cells


def open_table(rows: Rows, src: Source, overrides: dict[str, str] | None, where: str,
               unit: str = "line") -> tuple[ColumnMap, Rows]:
    """Header and data rows of one table, or FileRejected saying what was found instead."""
    search = find_header(rows, overrides, unit)
    if search.cmap is None:
        raise no_header(where, search, unit)
    require(search.cmap, f"{where} {unit} {search.line}")
    src.skipped.extend(search.titles)
    return search.cmap, data_rows(rows, search.cmap, src, unit)
