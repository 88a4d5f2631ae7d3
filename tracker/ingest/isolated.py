"""An import in a child process with a memory and a time limit: for files handed over on the web.

Whatever a file makes the readers do (a workbook reader that aborts on a failed allocation, a
parse that runs away), it happens in a forked child whose address space may grow by
`import.upload_memory_mb` beyond the parent's and which is killed after `import.upload_seconds`.
The web worker lives on: a child that died or was stopped is a rejected file with the reason, and
a recorded failed run (the one the child started, or a new one if it died before starting one).
"""

from __future__ import annotations

import contextlib
import os
import pickle
import resource
import select
import signal
import sys
import time
from pathlib import Path

from sqlalchemy import Engine, update

from tracker.clock import now_local
from tracker.config import Settings
from tracker.ingest.loader import import_file
from tracker.ingest.runs import ImportResult, record_failed_run
from tracker.models import ImportRun


def import_isolated(engine: Engine, settings: Settings, path: str | Path, *, source: str = "upload",
                    memory_mb: int | None = None, seconds: float | None = None) -> ImportResult:
    """import_file(engine, settings, path, source=source), in a child process with limits."""
    path = Path(path)
    if sys.platform != "linux":  # pragma: no cover - no fork and no /proc: as it is
        return import_file(engine, settings, path, source=source)
    memory_mb = memory_mb or settings.get("import.upload_memory_mb")
    seconds = seconds or settings.get("import.upload_seconds")
    started_at = now_local()
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child (coverage does not follow it)
        os.close(r)
        _child(engine, settings, path, source, memory_mb, w)
    os.close(w)
    data, how = _wait(pid, r, seconds)
    if how is None:
        return pickle.loads(data)
    if how == "time":
        reason = f"{path.name}: rejected: reading it took longer than the {seconds:g} s an upload may take " \
                 "(setting import.upload_seconds)"
    else:
        reason = f"{path.name}: rejected: reading it needed more memory than the {memory_mb} MB an upload " \
                 f"may use (setting import.upload_memory_mb; the reading process ended by {how})"
    return _failed(engine, source, path, reason, started_at)


def _child(engine: Engine, settings: Settings, path: Path, source: str, memory_mb: int,
           w: int) -> None:  # pragma: no cover
    status = 1
    try:
        engine.dispose(close=False)  # the parent's pooled connections stay the parent's
        limit = _address_space() + (memory_mb << 20)
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
        result = import_file(engine, settings, path, source=source)
        with os.fdopen(w, "wb") as out:
            out.write(pickle.dumps(result))
        status = 0
    finally:
        os._exit(status)


def _wait(pid: int, r: int, seconds: float) -> tuple[bytes, str | None]:
    """(what the child sent, None) or (b"", how it ended: "time", a signal or an exit status)."""
    deadline = time.monotonic() + seconds
    chunks = []
    with os.fdopen(r, "rb", buffering=0) as pipe:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                return b"", "time"
            ready, _, _ = select.select([pipe], [], [], min(left, 1.0))
            if ready:
                chunk = pipe.read(1 << 16)
                if not chunk:
                    break
                chunks.append(chunk)
    _, status = os.waitpid(pid, 0)
    if os.WIFSIGNALED(status):
        return b"", signal.Signals(os.WTERMSIG(status)).name
    if os.WEXITSTATUS(status) != 0 or not chunks:
        return b"", f"exit status {os.WEXITSTATUS(status)}"
    return b"".join(chunks), None


def _failed(engine: Engine, source: str, path: Path, reason: str, started_at) -> ImportResult:  # noqa: ANN001
    """The run the child started marked failed; or, if it died before starting one, one recorded."""
    result = ImportResult(file=path.name, status="failed", message=reason)
    with engine.begin() as conn:
        changed = conn.execute(update(ImportRun).where(
            ImportRun.source == source, ImportRun.status == "running", ImportRun.started_at >= started_at)
            .values(status="failed", finished_at=now_local(), message=reason).returning(ImportRun.id)).scalars().all()
    if changed:
        result.run_id = changed[-1]
    else:
        result.run_id = record_failed_run(engine, source, path, result)
    return result


def _address_space() -> int:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
