"""Rows read in a forked child whose memory and processor time are capped: for calamine.

calamine allocates a sheet's whole grid up front, and believes counts a file declares. One forged
number (a cell reference written in a way the checks in tracker.ingest.workbook do not read, a
shared-string count) and it asks for hundreds of GB; a failed allocation in Rust is not an
exception but an abort, which would take the CLI, the scheduler or a web worker with it. So the
reading runs in a child: `produce` is called there, and what it returns is sent back through a
pipe, rows in batches, while the parent reads them. A child that dies, or runs out of its memory
or time, is a rejected file with the reason; the parent lives on.

Linux only (fork, /proc); elsewhere `produce` runs in the process itself.
"""

from __future__ import annotations

import contextlib
import faulthandler
import os
import pickle
import resource
import signal
import sys
import traceback
import weakref
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from tracker.ingest.base import FileRejected, ReadLimits

CPU_SECONDS = 900  # processor time a child may use: minutes beyond what the largest workbook takes
BATCH = 512  # rows a message
Produce = Callable[[], tuple[Any, Iterable[Any], list[str]]]


def memory_cap(limits: ReadLimits) -> int:
    """Bytes a reading child may add to its address space: calamine's grid (~32 bytes a cell) and
    the cells' text for a sheet of import.max_cells cells, twice over, and 512 MB besides."""
    return (512 << 20) + limits.cells * 96


def run_forked(where: str, limits: ReadLimits, produce: Produce,
               cpu_seconds: int = CPU_SECONDS) -> tuple[Any, Iterator[Any], list[str]]:
    """(head, rows, notes) as `produce` returns them, produced in a child process.

    `notes` is a list `produce` may append to while its rows are read (a totals row skipped): the
    parent's copy grows as the rows arrive. FileRejected raised in the child is raised here, at the
    same point (before the head, or among the rows); a child that dies is FileRejected naming
    `where` and the limit it ran into."""
    if sys.platform != "linux":  # pragma: no cover - no fork and no /proc: as it is
        return produce()
    child = _Child(where, *_allowed(memory_cap(limits)), cpu_seconds, produce)
    head, notes = child.receive_head()
    return head, child.rows(notes), notes


def _allowed(extra: int) -> tuple[int, bool]:
    """(`extra`, False), or (less, True) if this process's own address-space limit leaves less room
    (an upload is already read in a child with a limit: tracker.ingest.isolated)."""
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    room = extra if hard == resource.RLIM_INFINITY else max(0, hard - _address_space())
    return (extra, False) if room >= extra else (room, True)


def _address_space() -> int:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")


class _Child:
    def __init__(self, where: str, memory: int, inherited: bool, cpu_seconds: int, produce: Produce) -> None:
        self.where, self.memory, self.inherited, self.cpu_seconds = where, memory, inherited, cpu_seconds
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child (coverage does not follow it)
            os.close(r)
            _child_main(w, memory, cpu_seconds, produce)
        os.close(w)
        self.pid, self.pipe = pid, os.fdopen(r, "rb", buffering=1 << 16)
        self.status: int | None = None
        # a reader dropped unread still has its child reaped (killed if it is waiting to write)
        self._finalizer = weakref.finalize(self, _reap, pid, self.pipe, os.getpid())

    def receive_head(self) -> tuple[Any, list[str]]:
        kind, head, notes = self._receive()
        if kind != "head":  # pragma: no cover - the child sends the head first
            raise RuntimeError(f"{self.where}: the reading child sent {kind!r} first")
        return head, list(notes)

    def rows(self, notes: list[str]) -> Iterator[Any]:
        try:
            while True:
                kind, batch, new = self._receive()
                notes.extend(new)
                if kind == "end":
                    self._ended()
                    return
                yield from batch
        finally:
            self.close()

    def close(self) -> None:
        """Kill the child if it is still running (its rows no longer wanted), and reap it."""
        if self._finalizer.alive:
            self.status = self._finalizer()

    def _ended(self) -> None:
        """The child said its last word or closed the pipe: wait for it to exit (not kill it, so
        that its exit status says how it ended)."""
        if self._finalizer.alive:
            self._finalizer.detach()
            self.pipe.close()
            self.status = os.waitpid(self.pid, 0)[1]

    def _receive(self) -> tuple[str, Any, list[str]]:
        try:
            kind, payload, notes = pickle.load(self.pipe)
        except (EOFError, pickle.UnpicklingError):  # the child died, perhaps in mid-message
            self._ended()
            raise FileRejected(self._death()) from None
        if kind in ("rejected", "memory", "error"):
            self._ended()
        if kind == "rejected":
            raise FileRejected(payload)
        if kind == "memory":
            raise FileRejected(self._out_of_memory())
        if kind == "error":  # a defect of ours in the child: shown as one, with its traceback
            raise RuntimeError(f"{self.where}: the reading child failed:\n{payload}")
        return kind, payload, notes

    def _death(self) -> str:
        status = self.status or 0
        if os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGXCPU:
            return (f"{self.where}: not a readable Excel workbook (reading it took more than the {self.cpu_seconds} s "
                    "of processor time a workbook may take: a damaged or forged file)")
        if os.WIFSIGNALED(status) and os.WTERMSIG(status) in (signal.SIGABRT, signal.SIGKILL):
            return self._out_of_memory()  # Rust aborts on a failed allocation; the kernel kills
        how = (f"signal {signal.Signals(os.WTERMSIG(status)).name}" if os.WIFSIGNALED(status)
               else f"exit status {os.WEXITSTATUS(status)}")
        return f"{self.where}: not a readable Excel workbook (the reader stopped on it, {how}: a damaged file)"

    def _out_of_memory(self) -> str:
        if self.inherited:  # this import's own limit was the tighter one
            return (f"{self.where}: not a readable Excel workbook (reading it needed more than the "
                    f"{self.memory >> 20} MB of memory left to this import; for an upload, setting "
                    "import.upload_memory_mb)")
        return (f"{self.where}: not a readable Excel workbook (reading it needed more than the "
                f"{self.memory >> 20} MB a workbook may use: a damaged or forged file, or a sheet "
                "beyond setting import.max_cells)")


def _reap(pid: int, pipe, owner: int) -> int | None:  # noqa: ANN001 - a file object
    """Kill the child if it is still there, wait for it: its exit status."""
    if os.getpid() != owner:  # pragma: no cover - a copy of this object in another child
        return None
    pipe.close()
    with contextlib.suppress(ChildProcessError):
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return status
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        return os.waitpid(pid, 0)[1]
    return None  # pragma: no cover - reaped elsewhere


def _child_main(w: int, memory: int, cpu_seconds: int, produce: Produce) -> None:  # pragma: no cover
    status = 0
    try:
        faulthandler.disable()  # an abort here is expected of a forged file, and reported by the parent
        _cap(memory, cpu_seconds)
        with os.fdopen(w, "wb", buffering=1 << 16) as out:
            def send(kind: str, payload: Any, notes: list[str]) -> None:
                pickle.dump((kind, payload, notes), out, protocol=pickle.HIGHEST_PROTOCOL)

            batch: list[Any] = []
            notes: list[str] = []
            sent = 0
            try:
                head, rows, notes = produce()
                sent = len(notes)
                send("head", head, notes[:sent])
                for row in rows:
                    batch.append(row)
                    if len(batch) >= BATCH:
                        send("rows", batch, notes[sent:])
                        sent, batch = len(notes), []
                send("rows", batch, notes[sent:])
                send("end", None, [])
            except FileRejected as exc:  # the rows read before it reach the parent first, as in-process
                if batch:
                    send("rows", batch, notes[sent:])
                send("rejected", str(exc), [])
            except MemoryError:
                send("memory", None, [])
            except Exception:  # noqa: BLE001 - sent to the parent, which raises it
                send("error", traceback.format_exc(), [])
    except BrokenPipeError:  # the parent stopped reading
        pass
    except BaseException:  # noqa: BLE001 - the parent sees the exit status
        status = 70
    finally:
        os._exit(status)


def _cap(extra: int, cpu_seconds: int) -> None:  # pragma: no cover - the child
    """This process's address space may grow by `extra` bytes; `cpu_seconds` of processor time."""
    for which, soft in ((resource.RLIMIT_AS, _address_space() + extra), (resource.RLIMIT_CPU, cpu_seconds)):
        _, hard = resource.getrlimit(which)
        if hard != resource.RLIM_INFINITY:
            soft = min(soft, hard)
        resource.setrlimit(which, (soft, hard))
