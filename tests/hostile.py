"""Hostile files, built small in the tests: workbooks whose sheets claim or hold absurd extents,
zips that expand to millions of rows, and a way to run a reader in a child process under a memory
and time limit, so that a defect aborts the child, not the test session."""

from __future__ import annotations

import io
import os
import pickle
import resource
import signal
import time
import zipfile
from collections.abc import Callable
from pathlib import Path

_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_CT = ('<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
       '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
       '<Default Extension="xml" ContentType="application/xml"/>'
       '<Override PartName="/xl/workbook.xml" '
       'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
       '<Override PartName="/xl/worksheets/sheet1.xml" '
       'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/></Types>')
_RELS = ('<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
         f'<Relationship Id="rId1" Type="{_REL}/officeDocument" Target="xl/workbook.xml"/></Relationships>')
_WB = (f'<?xml version="1.0"?><workbook xmlns="{_NS}" xmlns:r="{_REL}"><sheets>'
       '<sheet name="Danh sách" sheetId="1" r:id="rId1"/></sheets></workbook>')
_WB_RELS = ('<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            f'<Relationship Id="rId1" Type="{_REL}/worksheet" Target="worksheets/sheet1.xml"/></Relationships>')

HEADER = ["Mã hồ sơ", "Đơn vị tiếp nhận", "Ngày tiếp nhận", "Trạng thái"]


def column_letters(n: int) -> str:
    """1 -> 'A', 16384 -> 'XFD'."""
    out = ""
    while n:
        n, r = divmod(n - 1, 26)
        out = chr(65 + r) + out
    return out


def _cell(ref: str, value: str | int) -> str:
    if isinstance(value, int):
        return f'<c r="{ref}"><v>{value}</v></c>'
    text = value.replace("&", "&amp;").replace("<", "&lt;")
    return f'<c r="{ref}" t="inlineStr"><is><t>{text}</t></is></c>'


def sheet_xml(rows: list[list[str | int]], *, dimension: str | None = None, extra: str = "") -> str:
    """A worksheet: the rows from A1 down, then `extra` XML inside <sheetData> (absurd cells)."""
    body = "".join(f'<row r="{i}">' + "".join(_cell(f"{column_letters(j)}{i}", v) for j, v in enumerate(r, 1))
                   + "</row>" for i, r in enumerate(rows, 1))
    dim = f'<dimension ref="{dimension}"/>' if dimension else ""
    return f'<?xml version="1.0"?><worksheet xmlns="{_NS}">{dim}<sheetData>{body}{extra}</sheetData></worksheet>'


def xlsx(path: Path, sheet: str | bytes, *, part: str = "xl/worksheets/sheet1.xml",
         shared_strings: str | bytes | None = None) -> Path:
    """A workbook of one sheet, its XML as given (deflated: a repetitive sheet becomes tiny), in
    the zip part `part`; with a shared string table if one is given."""
    content_types, rels = _CT, _WB_RELS
    if part != "xl/worksheets/sheet1.xml":
        content_types = content_types.replace("/xl/worksheets/sheet1.xml", "/" + part)
        rels = rels.replace('Target="worksheets/sheet1.xml"', f'Target="/{part}"')
    if shared_strings is not None:
        content_types = content_types.replace("</Types>", '<Override PartName="/xl/sharedStrings.xml" ContentType='
                                              '"application/vnd.openxmlformats-officedocument.spreadsheetml.'
                                              'sharedStrings+xml"/></Types>')
        rels = rels.replace("</Relationships>", f'<Relationship Id="rId2" Type="{_REL}/sharedStrings" '
                                                'Target="sharedStrings.xml"/></Relationships>')
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        z.writestr("[Content_Types].xml", content_types)
        z.writestr("_rels/.rels", _RELS)
        z.writestr("xl/workbook.xml", _WB)
        z.writestr("xl/_rels/workbook.xml.rels", rels)
        z.writestr(part, sheet)
        if shared_strings is not None:
            z.writestr("xl/sharedStrings.xml", shared_strings)
    path.write_bytes(buf.getvalue())
    return path


def declared_as(path: Path, part: str, declared: bytes) -> Path:
    """Rewrite the zip at `path` so that `part`'s headers (local and central) declare the size and
    CRC of `declared` while its deflate stream still holds what it held: a zip bomb's lie."""
    import struct

    data = bytearray(path.read_bytes())
    size, crc = len(declared), zipfile.crc32(declared)
    at = data.find(b"PK\x01\x02")
    while data[at:at + 4] == b"PK\x01\x02":
        name_len, extra_len, comment_len = struct.unpack_from("<HHH", data, at + 28)
        if data[at + 46:at + 46 + name_len] == part.encode():
            local, = struct.unpack_from("<I", data, at + 42)
            for header, crc_at in ((at, 16), (local, 14)):
                struct.pack_into("<I", data, header + crc_at, crc)
                struct.pack_into("<I", data, header + crc_at + 8, size)
        at += 46 + name_len + extra_len + comment_len
    path.write_bytes(bytes(data))
    return path


def good_rows(n: int = 3) -> list[list[str | int]]:
    return [HEADER] + [[f"HS-{i}", "Sở Tư pháp", "02/03/2026 08:00:00", "Đang xử lý"] for i in range(n)]


def many_rows_sheet(n: int) -> bytes:
    """A sheet of a header and `n` rows of one cell each, without references (each row and cell
    is the next one): megabytes of XML that deflate to a few hundred KB."""
    head = sheet_xml(good_rows(1)).encode()
    start, end = head.split(b"</sheetData>")
    return start + b"<row><c><v>1</v></c></row>" * n + b"</sheetData>" + end


# ----- a child process with limits ---------------------------------------------------------------

def in_child(call: Callable[[], object], *, memory_mb: int = 1024, seconds: float = 60) -> tuple[str, object]:
    """Run `call` in a forked child whose address space is `memory_mb` more than this process's
    now, for at most `seconds`. ("ok", what it returned) | ("raised", the exception as text) |
    ("died", how: a signal or exit status) | ("hung", seconds)."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        os.close(r)
        status = 0
        try:
            limit = _address_space() + (memory_mb << 20)
            resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
            try:
                outcome = ("ok", call())
            except BaseException as exc:  # noqa: BLE001 - reported to the parent
                outcome = ("raised", f"{type(exc).__name__}: {exc}")
            with os.fdopen(w, "wb") as out:
                pickle.dump(outcome, out)
        except BaseException:  # noqa: BLE001
            status = 70
        finally:
            os._exit(status)
    os.close(w)
    deadline = time.monotonic() + seconds
    with os.fdopen(r, "rb") as pipe:
        while True:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                break
            if time.monotonic() > deadline:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                return "hung", seconds
            time.sleep(0.01)
        data = pipe.read()
    if os.WIFSIGNALED(status):
        return "died", f"signal {signal.Signals(os.WTERMSIG(status)).name}"
    if os.WEXITSTATUS(status) != 0 or not data:
        return "died", f"exit status {os.WEXITSTATUS(status)}"
    return pickle.loads(data)


def _address_space() -> int:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")


def biff8(cells: list[tuple[int, int, str | float]], *, dimensions: tuple[int, int, int, int] | None = None,
          sheet: str = "Danh sách") -> bytes:
    """An .xls (OLE2 + BIFF8) whose cells sit where told (row, column: 0-based, up to 65535, 255) and
    whose DIMENSIONS record claims what it is told (first row, last row + 1, first column, last + 1)."""
    import struct

    from tests.fixtures_gen import _biff8, _compound_file, _record

    width = max((c for _, c, _ in cells), default=0) + 1
    height = max((r for r, _, _ in cells), default=0) + 1
    grid: list[list[str | float]] = [[""] * 1 for _ in range(1)]
    stream = _biff8(grid, sheet)
    head, _, _ = stream.rpartition(_record(0x000A))  # the sheet's EOF: cells go before it
    dims = dimensions or (0, height, 0, width)
    body = b"".join(
        _record(0x0203, struct.pack("<HHHd", r, c, 0, v)) if isinstance(v, float)
        else _record(0x0204, struct.pack("<HHHH", r, c, 0, len(v.encode("utf-16-le")) // 2) + b"\x01"
                     + v.encode("utf-16-le"))  # LABEL: an inline string
        for r, c, v in cells)
    old_dims = _record(0x0200, struct.pack("<IIHHH", 0, 1, 0, 1, 0))
    head = head.replace(old_dims, _record(0x0200, struct.pack("<IIHHH", dims[0], dims[1], dims[2], dims[3], 0)))
    stream = head + body + _record(0x000A)
    stream += b"" if len(stream) >= 4096 else b"\x00" * 0
    return _compound_file(stream)
