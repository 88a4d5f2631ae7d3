"""Rows of an export in batches, keyed by what the importer looks up first: the dossier code and
the row hash. A big file is read by a second process while this one writes (two cores: reading,
splitting and keying a row costs about as much as looking it up and sorting it), a small one here.

The row hash is of the raw cells of the mapped columns (NFC, stripped), so a re-import
recognises an unchanged row before parsing anything; it is stored, so it must not change.

The reader process (`forked`) is a fork made after the header was read: it carries on with the
same row iterator and sends, per batch, the lines, the codes, what each row hash is taken over
(the mapped cells joined by a control character) and the header's other cells: the hashes are
taken here, where there is time, and the cells are split again only for the rows that are
parsed or rejected. It dies with the importing process (PR_SET_PDEATHSIG), never touches the
database, and ends with os._exit, so nothing inherited is cleaned up twice. Used on Linux, from
a process with one thread (fork and threads do not mix), for files of READ_AHEAD_BYTES or more.
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import hashlib
import os
import pickle
import queue
import signal
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import islice
from operator import itemgetter
from pathlib import Path

from tracker.ingest.base import Rows, Source
from tracker.ingest.columns import ColumnMap

READ_AHEAD_BYTES = 8 << 20  # below this, a second process does not pay for itself
_CELL = "\x1f"  # the unit separator: what the mapped cells are joined by for the row hash
_PR_SET_PDEATHSIG = 1
_PIPE_BYTES = 1 << 20  # Linux's limit for an unprivileged process (/proc/sys/fs/pipe-max-size)


@dataclass
class Batch:
    """Rows of an export: physical line, dossier code and row hash of each, and the cells."""

    lines: list[int]
    codes: list[str]
    hashes: list[str]
    rows: list[list[str]] | None  # the cells; None from a forked reader, which sends them packed:
    packed: tuple[Keyer, list[str], list[str] | None] | None = None  # (layout, hashed, other columns)

    def cells(self, i: int) -> list[str]:
        """Row i's cells. Unpacked ones are as long as the header (a short row padded with "",
        cells beyond the header left out): what parse_row and raw_of read is the same."""
        if self.rows is not None:
            return self.rows[i]
        layout, hashed, others = self.packed
        return layout.unpack(hashed[i], others[i] if others is not None else None)

    def __len__(self) -> int:
        return len(self.lines)


class Keyer:
    """Code and row hash of rows laid out as the file's header says."""

    def __init__(self, cmap: ColumnMap) -> None:
        self.code_i = cmap.fields["code"]
        self.hash_idx = tuple(sorted(cmap.fields.values()))
        self.width = self.hash_idx[-1] + 1
        self.pick = itemgetter(*self.hash_idx)  # the required columns alone are three
        # the header's other columns: a rejected row is written back whole (tthc import --errors)
        self.other_idx = tuple(i for i in range(len(cmap.labels)) if i not in set(self.hash_idx))
        self.blank = [""] * max(self.width, len(cmap.labels))

    def batch(self, items: list[tuple[int, list[str]]]) -> Batch:
        lines, codes, hashed = self.keys(items)
        return Batch(lines, codes, row_hashes(hashed), [cells for _, cells in items])

    def keys(self, items: list[tuple[int, list[str]]]) -> tuple[list[int], list[str], list[str]]:
        """Lines, codes, and what each row hash is taken over: the mapped cells, joined."""
        code_i, width, pick, idx = self.code_i, self.width, self.pick, self.hash_idx
        lines, codes, hashed = [], [], []
        for line, cells in items:
            if len(cells) >= width:
                hashed.append(_CELL.join(pick(cells)))
                codes.append(cells[code_i].strip())
            else:
                n = len(cells)
                hashed.append(_CELL.join(cells[i] if i < n else "" for i in idx))
                codes.append(cells[code_i].strip() if code_i < n else "")
            lines.append(line)
        return lines, codes, hashed

    def others(self, items: list[tuple[int, list[str]]]) -> list[str] | None:
        """The cells of the header's other columns, joined, row by row (None: there are none)."""
        idx = self.other_idx
        if not idx:
            return None
        if len(idx) == 1:
            i = idx[0]
            return [cells[i] if i < len(cells) else "" for _, cells in items]
        return [_CELL.join(cells[i] if i < len(cells) else "" for i in idx) for _, cells in items]

    def unpack(self, hashed: str, others: str | None) -> list[str]:
        cells = self.blank.copy()
        for i, value in zip(self.hash_idx, hashed.split(_CELL), strict=True):
            cells[i] = value
        if others is not None:
            for i, value in zip(self.other_idx, others.split(_CELL), strict=True):
                cells[i] = value
        return cells

    def packable(self, hashed: list[str], others: list[str] | None) -> bool:
        """No cell holds a separator, so joined cells split back into the same cells."""
        n, sep = len(hashed), [_CELL] * len(hashed)
        if sum(map(str.count, hashed, sep)) != n * (len(self.hash_idx) - 1):
            return False
        return others is None or sum(map(str.count, others, sep)) == n * (len(self.other_idx) - 1)


def row_hashes(hashed: list[str]) -> list[str]:
    """surrogatepass: a JSON export can carry a lone surrogate ("\\ud800"), which UTF-8 cannot
    encode; every other text encodes to the same bytes as before, so stored hashes still match."""
    blake2b = hashlib.blake2b
    return [blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).hexdigest() for text in hashed]


def batches(path: Path, src: Source, rows: Rows, keyer: Keyer, size: int) -> Iterator[Batch]:
    """The rows in batches of `size`: read by a second process when that pays."""
    if _can_fork() and file_size(path) >= READ_AHEAD_BYTES:
        return forked(src, rows, keyer, size)
    return local(rows, keyer, size)


def local(rows: Rows, keyer: Keyer, size: int) -> Iterator[Batch]:
    while items := list(islice(rows, size)):
        yield keyer.batch(items)


def file_size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _can_fork() -> bool:
    return sys.platform == "linux" and hasattr(os, "fork") and threading.active_count() == 1


def forked(src: Source, rows: Rows, keyer: Keyer, size: int) -> Iterator[Batch]:
    """Batches read, split and keyed by a forked process. `src.skipped` gets what it skipped."""
    parent = os.getpid()
    r, w = os.pipe()
    with contextlib.suppress(OSError):  # fewer, bigger reads for the drain thread: it needs the GIL after each
        fcntl.fcntl(w, fcntl.F_SETPIPE_SZ, _PIPE_BYTES)
    pid = os.fork()  # at the first batch asked for: a reader nobody iterates is never started
    if pid == 0:  # pragma: no cover - the child process (coverage does not follow it)
        os.close(r)
        _child(parent, w, src, rows, keyer, size)
    os.close(w)
    yield from _receive(pid, r, src, keyer)


def _receive(pid: int, r: int, src: Source, keyer: Keyer) -> Iterator[Batch]:
    drain = _Drain(r)
    drain.start()
    try:
        while True:
            frame = drain.frames.get()
            if isinstance(frame, BaseException):
                raise RuntimeError(f"the process reading the file stopped before its end ({frame})")
            kind, *body = pickle.loads(frame)
            if kind == "batch":  # the hashes are taken here: the reader has more to do than the writer
                lines, codes, hashed, others = body
                yield Batch(lines, codes, row_hashes(hashed), None, (keyer, hashed, others))
            elif kind == "rows":  # a batch with a separator in a cell: the cells as they are
                lines, codes, hashed, rows = body
                yield Batch(lines, codes, row_hashes(hashed), rows)
            elif kind == "end":
                src.skipped.extend(body[0])
                return
            else:
                raise body[0]
    finally:  # done, or the importer stopped early: the reader goes too
        drain.stop.set()
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        drain.join()


class _Drain(threading.Thread):
    """Empties the pipe into a short queue of frames while the importer writes to the database:
    a pipe holds 64 KiB to 1 MiB, a batch about a megabyte; without this the reader would wait
    for the writer at every batch. Reading from the pipe releases the GIL."""

    def __init__(self, fd: int) -> None:
        super().__init__(name="tthc-import-reader", daemon=True)
        self.fd, self.frames, self.stop = fd, queue.Queue(maxsize=4), threading.Event()

    def run(self) -> None:
        with os.fdopen(self.fd, "rb", buffering=1 << 20) as pipe:
            while not self.stop.is_set():
                head = pipe.read(8)
                payload = pipe.read(int.from_bytes(head, "little")) if len(head) == 8 else b""
                if not payload:
                    self._put(EOFError("end of the pipe"))
                    return
                self._put(payload)

    def _put(self, item: bytes | BaseException) -> None:
        while not self.stop.is_set():
            try:
                self.frames.put(item, timeout=0.1)
                return
            except queue.Full:
                continue


def _send(out, message: tuple) -> None:  # noqa: ANN001
    payload = pickle.dumps(message, protocol=5)
    out.write(len(payload).to_bytes(8, "little"))
    out.write(payload)
    out.flush()


def _child(parent: int, w: int, src: Source, rows: Rows, keyer: Keyer, size: int) -> None:  # pragma: no cover
    status = 1
    try:
        _die_with(parent)
        _close_inherited(keep={0, 1, 2, w}, path=src.path)
        _keep_freed_memory()
        skipped = len(src.skipped)
        with os.fdopen(w, "wb", buffering=1 << 20) as out:
            try:
                while items := list(islice(rows, size)):
                    lines, codes, hashed = keyer.keys(items)
                    others = keyer.others(items)
                    if keyer.packable(hashed, others):
                        _send(out, ("batch", lines, codes, hashed, others))
                    else:
                        _send(out, ("rows", lines, codes, hashed, [cells for _, cells in items]))
                _send(out, ("end", src.skipped[skipped:]))
            except BrokenPipeError:
                raise
            except Exception as exc:  # noqa: BLE001 - handed to the importer, which raises it
                _send(out, ("error", _picklable(exc)))
        status = 0
    finally:
        os._exit(status)


def _picklable(exc: Exception) -> Exception:
    try:
        pickle.loads(pickle.dumps(exc))
    except Exception:  # noqa: BLE001
        return RuntimeError(f"{type(exc).__name__}: {exc}")
    return exc


def _close_inherited(keep: set[int], path: Path) -> None:  # pragma: no cover
    """Close what the fork copied but the reader does not use: above all the import's source lock
    (a flock lives as long as any copy of its descriptor), and the database's files and sockets."""
    target = str(Path(path).resolve())
    for name in os.listdir("/proc/self/fd"):
        fd = int(name)
        if fd in keep:
            continue
        try:
            if os.readlink(f"/proc/self/fd/{fd}") == target:
                continue  # the export being read
            os.close(fd)
        except OSError:  # the listing's own descriptor, gone already
            continue


def _die_with(parent: int) -> None:  # pragma: no cover
    """SIGKILL this process when its parent dies, so a killed import leaves no reader behind."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
        os._exit(1)
    if os.getppid() != parent:  # it died before the line above
        os._exit(1)


def _keep_freed_memory() -> None:  # pragma: no cover
    """Reuse freed memory for the next batch rather than map it afresh from the kernel: page
    faults made the reader a third slower (M_MMAP_THRESHOLD, M_TRIM_THRESHOLD)."""
    libc = ctypes.CDLL(None)
    libc.mallopt(-3, 64 << 20)
    libc.mallopt(-1, 256 << 20)
