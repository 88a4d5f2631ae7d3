"""Readers: turn a file into (line number, cells) records, after finding its header row.

Reading is streaming. Before any row is yielded the whole file has been checked to decode in the
detected encoding (and hashed), so a file with undecodable bytes is rejected before anything is
written.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from tracker.ingest.columns import ColumnMap, HeaderError, check_required, match_header, score
from tracker.ingest.text import fold, nfc

HEADER_SCAN_ROWS = 30
csv.field_size_limit(1 << 20)


class FileRejected(ValueError):
    """The whole file cannot be imported; nothing was written."""


@dataclass
class Source:
    path: Path
    sha256: str
    encoding: str
    delimiter: str = ","
    skipped: list[str] = field(default_factory=list)  # title block, totals row: what was skipped


def sniff_encoding(path: Path) -> tuple[str, str]:
    """(encoding, sha256), checking that the whole file decodes."""
    with path.open("rb") as fh:
        head = fh.read(4)
    if head.startswith(codecs.BOM_UTF8):
        candidates = ["utf-8-sig"]
    elif head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        candidates = ["utf-16"]
    else:
        candidates = ["utf-8", "cp1258"]
    last_error = ""
    for enc in candidates:
        digest = hashlib.sha256()
        decoder = codecs.getincrementaldecoder(enc)("strict")
        offset = 0
        try:
            with path.open("rb") as fh:
                while chunk := fh.read(1 << 20):
                    digest.update(chunk)
                    decoder.decode(chunk)
                    offset += len(chunk)
                decoder.decode(b"", final=True)
            return enc, digest.hexdigest()
        except UnicodeDecodeError as exc:
            last_error = f"byte {offset + exc.start}: {exc.reason} in {enc}"
    raise FileRejected(f"{path.name}: cannot be decoded ({last_error})")


def sniff_delimiter(sample: str) -> str:
    lines = [ln for ln in sample.splitlines()[:HEADER_SCAN_ROWS] if ln.strip()]
    best, best_score = ",", -1
    for d in (";", "\t", ","):
        counts = [ln.count(d) for ln in lines]
        if not counts or max(counts) == 0:
            continue
        s = max(counts)
        if s > best_score:
            best, best_score = d, s
    return best


def is_totals_row(cells: list[str], cmap: ColumnMap) -> bool:
    """'Tổng cộng', 'Cộng', 'Tổng số' in the first cells and no dossier code."""
    code_i = cmap.fields.get("code")
    if code_i is not None and code_i < len(cells) and cells[code_i].strip():
        first = fold(cells[code_i])
        return first.startswith(("tong", "cong"))
    firsts = [fold(c) for c in cells[:3] if c.strip()]
    return any(f.startswith(("tongcong", "tongso", "tong", "cong")) for f in firsts)


def read_csv(path: Path, overrides: dict[str, str] | None = None
             ) -> tuple[Source, ColumnMap, Iterator[tuple[int, list[str]]]]:
    encoding, sha = sniff_encoding(path)
    with path.open("r", encoding=encoding, newline="") as fh:
        sample = fh.read(64 * 1024)
    delimiter = sniff_delimiter(sample)
    src = Source(path, sha, encoding, delimiter)

    fh = path.open("r", encoding=encoding, newline="")
    reader = csv.reader(fh, delimiter=delimiter)
    cmap = None
    header_line = 0
    for row in reader:
        cells = [nfc(c).strip() for c in row]
        if score(cells) >= 3 or (overrides and match_header(cells, overrides).fields.get("code") is not None
                                 and len(match_header(cells, overrides).fields) >= 3):
            cmap = match_header(cells, overrides)
            header_line = reader.line_num
            break
        if any(cells):
            src.skipped.append(f"line {reader.line_num}: title '{' '.join(c for c in cells if c)[:80]}'")
        if reader.line_num > HEADER_SCAN_ROWS:
            break
    if cmap is None:
        fh.close()
        raise FileRejected(f"{path.name}: no recognisable header row in the first {HEADER_SCAN_ROWS} "
                           "lines (expected columns such as 'Mã hồ sơ', 'Ngày tiếp nhận', 'Trạng thái')")
    try:
        check_required(cmap, f"{path.name} line {header_line}")
    except HeaderError as exc:
        fh.close()
        raise FileRejected(str(exc)) from None

    def rows() -> Iterator[tuple[int, list[str]]]:
        with fh:
            for row in reader:
                cells = [nfc(c).strip() for c in row]
                if not any(cells):
                    continue
                if is_totals_row(cells, cmap):
                    src.skipped.append(f"line {reader.line_num}: totals row")
                    continue
                yield reader.line_num, cells

    return src, cmap, rows()


def open_text(path: Path) -> io.TextIOBase:
    encoding, _ = sniff_encoding(path)
    return path.open("r", encoding=encoding, newline="")
