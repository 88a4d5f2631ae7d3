"""What an old .xls (BIFF in an OLE2 compound file) claims, read before calamine sees it.

calamine sizes a sheet's grid from its DIMENSIONS record and trusts the shared string table's
count: a 5 KB file claiming 8,815,137 rows x 62,972 columns made it allocate 475 TB and abort.
`check_xls` walks the compound file (header, FAT, directory, mini stream) to the Workbook stream
and its records, every step bounded by the file's size, and rejects a claim beyond the format
(65,536 x 256) or the import's limits. A file it cannot walk is rejected: calamine would be
reading the same broken structure.
"""

from __future__ import annotations

import struct
from pathlib import Path

from tracker.ingest.base import FileRejected, ReadLimits

OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_END, _FREE = 0xFFFFFFFE, 0xFFFFFFFF
_DIMENSIONS, _SST, _BOF = 0x0200, 0x00FC, 0x0809
BIFF8_ROWS, BIFF8_COLUMNS = 65_536, 256


class _Broken(ValueError):
    pass


def check_xls(path: Path, limits: ReadLimits) -> None:
    """FileRejected if the workbook's structure is broken or what it declares is beyond the format
    or `limits`."""
    data = path.read_bytes()
    try:
        stream = _workbook_stream(data)
    except _Broken as exc:
        raise FileRejected(f"{path.name}: not a readable Excel workbook ({exc})") from None
    if stream is None:
        return  # an OLE file without a workbook stream: calamine says what it is not
    _check_records(stream, path.name, limits)


def _workbook_stream(data: bytes) -> bytes | None:
    if len(data) < 512 or not data.startswith(OLE_MAGIC):
        raise _Broken("not an OLE2 compound file")
    shift, mini_shift = struct.unpack_from("<HH", data, 0x1E)
    if shift not in (9, 12) or mini_shift != 6:
        raise _Broken(f"sector size 2^{shift}")
    size = 1 << shift
    n_sectors = max(0, len(data) // size - 1)  # whole sectors after the header (which fills sector -1)
    dir_start, = struct.unpack_from("<I", data, 0x30)
    cutoff, minifat_start, n_minifat, difat_start, n_difat = struct.unpack_from("<IIIII", data, 0x38)

    def sector(n: int) -> bytes:
        # whole or not at all: a sector cut by the end of the file is a truncated file (calamine
        # panics on a short directory sector, and struct.unpack needs the whole FAT sector)
        if n >= n_sectors:
            end = (n + 2) * size
            raise _Broken(f"sector {n} (bytes {end - size}–{end}) is beyond the end of the file "
                          f"({len(data)} bytes): the file is cut short or damaged")
        return data[(n + 1) * size:(n + 2) * size]

    fat_sectors = [s for s in struct.unpack_from("<109I", data, 0x4C) if s not in (_END, _FREE)]
    next_difat, seen = difat_start, 0
    while next_difat not in (_END, _FREE) and seen <= n_sectors:
        words = struct.unpack(f"<{size // 4}I", sector(next_difat))
        fat_sectors += [s for s in words[:-1] if s not in (_END, _FREE)]
        next_difat, seen = words[-1], seen + 1
    if len(fat_sectors) > n_sectors:
        raise _Broken(f"its header lists {len(fat_sectors)} FAT sectors, the file holds {n_sectors} sectors: "
                      "the file is cut short or damaged")
    fat = []
    for s in fat_sectors:
        fat.extend(struct.unpack(f"<{size // 4}I", sector(s)))

    def chain(start: int, table: list[int], limit: int) -> list[int]:
        out = []
        while start not in (_END, _FREE):
            if start >= len(table) or len(out) > limit:
                raise _Broken("a broken sector chain")
            out.append(start)
            start = table[start]
        return out

    directory = b"".join(sector(s) for s in chain(dir_start, fat, n_sectors))
    entries = [directory[i:i + 128] for i in range(0, len(directory) - 127, 128)]
    if not entries:
        raise _Broken("no directory")
    root_start, root_size = struct.unpack_from("<IQ", entries[0], 116)
    for entry in entries[1:]:
        length, kind = struct.unpack_from("<HB", entry, 64)
        name = entry[:max(0, min(length, 64) - 2)].decode("utf-16-le", "replace")
        if kind != 2 or name not in ("Workbook", "Book"):
            continue
        start, stream_size = struct.unpack_from("<IQ", entry, 116)
        if shift == 9:  # version 3: the size's high half is undefined
            stream_size &= 0xFFFFFFFF
        if stream_size > len(data):
            raise _Broken(f"its {name} stream declares {stream_size} bytes, the file holds {len(data)}: the file is "
                          "cut short or damaged")
        if stream_size >= cutoff:
            return b"".join(sector(s) for s in chain(start, fat, n_sectors))[:stream_size]
        mini_fat: list[int] = []
        for s in chain(minifat_start, fat, n_sectors)[:n_minifat or n_sectors]:
            mini_fat.extend(struct.unpack(f"<{size // 4}I", sector(s)))
        mini_stream = b"".join(sector(s) for s in chain(root_start, fat, n_sectors))
        mini = chain(start, mini_fat, len(mini_stream) // 64 + 1)
        return b"".join(mini_stream[m * 64:(m + 1) * 64] for m in mini)[:stream_size]
    return None


_CELLS = {0x0203, 0x0204, 0x00FD, 0x027E, 0x0205, 0x0006, 0x00D6, 0x0201}  # NUMBER … BLANK: row, column first
_MULTI = {0x00BD, 0x00BE}  # MULRK, MULBLANK: a row, a first column, …, a last column


def _check_records(stream: bytes, name: str, limits: ReadLimits) -> None:
    """Every DIMENSIONS claim (each sheet has one), the extent of the cells each sheet really holds
    (calamine allocates its grid from the first to the last), the shared string table's counts."""
    at, end = 0, len(stream)
    rows = columns = 0
    while at + 4 <= end:
        kind, length = struct.unpack_from("<HH", stream, at)
        body = stream[at + 4:at + 4 + length]
        at += 4 + length
        if kind in _CELLS and len(body) >= 4:
            row, col = struct.unpack_from("<HH", body)
            rows, columns = max(rows, row + 1), max(columns, col + 1)
        elif kind in _MULTI and len(body) >= 6:
            row, = struct.unpack_from("<H", body)
            last, = struct.unpack_from("<H", body, len(body) - 2)
            rows, columns = max(rows, row + 1), max(columns, last + 1)
        elif kind == _BOF or kind == 0x000A:  # a sheet (or the globals) begins or ends
            limits.check_grid(name, rows, columns)
            rows = columns = 0
        elif kind == _DIMENSIONS:
            _check_dimensions(body, name, limits)
        elif kind == _SST and length >= 8:
            _, unique = struct.unpack_from("<II", body)
            if unique > end:  # each string takes at least 3 bytes of the stream
                raise FileRejected(f"{name}: its shared string table declares {unique} strings in a stream of "
                                   f"{end} bytes: a damaged or forged file")
    limits.check_grid(name, rows, columns)


def _check_dimensions(body: bytes, name: str, limits: ReadLimits) -> None:
    if len(body) >= 14:
        first_row, rows, first_col, columns = struct.unpack_from("<IIHH", body)
    elif len(body) >= 8:
        first_row, rows, first_col, columns = struct.unpack_from("<HHHH", body)
    else:
        return
    if rows > BIFF8_ROWS or columns > BIFF8_COLUMNS or first_row > rows or first_col > columns:
        raise FileRejected(f"{name}: a sheet declares rows {first_row}–{rows}, columns {first_col}–{columns}: "
                           f"not a grid an .xls can hold ({BIFF8_ROWS} x {BIFF8_COLUMNS}); a damaged or "
                           "forged file")
    limits.check_grid(name, rows, columns, " (its declared dimension)")
