"""Log lines: plain text, or one JSON object a line when `log.format = "json"` (for journald, Loki, ELK).

A JSON line has `time` (ISO 8601 with the offset), `level`, `logger`, `event` (the message) and the ids
in force: those passed as `extra=` (run_id, source, job, request_id, user_id, endpoint, status, ms …) and
those set for a block with `log_context(job="digest")`. An exception adds `error` (its type and first
line: SQL parameters, which may hold applicants' data, come on later lines and are left out) and
`trace` (file, line and function of each frame; no values). The product never logs applicants' names
or phones; this format does not add any.
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import logging
import sys
import traceback
from collections.abc import Iterator
from datetime import datetime
from typing import IO, Any

IDS = ("request_id", "user_id", "endpoint", "method", "status", "ms", "job", "run_id", "source", "unit",
       "digest_date", "rows")
PLAIN = "%(asctime)s %(levelname)s %(name)s: %(message)s"
_CONTEXT: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar("tthc_log_context", default=None)


@contextlib.contextmanager
def log_context(**ids: Any) -> Iterator[None]:
    """Ids every line logged inside the block carries (JSON format)."""
    token = set_context(**ids)
    try:
        yield
    finally:
        _CONTEXT.reset(token)


def set_context(**ids: Any) -> contextvars.Token:
    """The same as log_context, for code that cannot wrap a block (a request's before/teardown hooks)."""
    return _CONTEXT.set({**(_CONTEXT.get() or {}), **ids})


def reset_context(token: contextvars.Token) -> None:
    _CONTEXT.reset(token)


def _safe_error(exc: BaseException) -> str:
    orig = getattr(exc, "orig", None)  # a SQLAlchemy StatementError: the driver's error, without parameters
    if orig is not None:
        exc = orig
    first = (str(exc).strip().splitlines() or [""])[0]
    return f"{type(exc).__name__}: {first}"[:500]


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created).astimezone().isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "event": record.getMessage(),
        }
        for key, value in (_CONTEXT.get() or {}).items():
            out.setdefault(key, value)
        for key in IDS:
            if key in record.__dict__:
                out[key] = record.__dict__[key]
        if record.exc_info and record.exc_info[1] is not None:
            exc = record.exc_info[1]
            out["error"] = _safe_error(exc)
            out["trace"] = [f"{f.filename}:{f.lineno} in {f.name}" for f in traceback.extract_tb(exc.__traceback__)]
        return json.dumps(out, ensure_ascii=False, default=str)


class _Stderr(logging.StreamHandler):
    """Writes to whatever sys.stderr is when a line is logged (not the stream of the moment it was made)."""

    @property
    def stream(self) -> IO[str]:  # type: ignore[override]
        return sys.stderr

    @stream.setter
    def stream(self, _value: IO[str]) -> None:
        pass


def configure(fmt: str, level: int = logging.INFO, stream: IO[str] | None = None,
              loggers: tuple[str, ...] = ("tracker", "jobs", "web")) -> logging.Handler:
    """One handler on the root logger (warnings from every library), the product's loggers at `level`.
    Replaces what an earlier call installed, so calling it twice does not double the lines."""
    handler = logging.StreamHandler(stream) if stream is not None else _Stderr()
    handler.setFormatter(JsonFormatter() if fmt == "json" else logging.Formatter(PLAIN))
    handler.set_name("tthc")
    root = logging.getLogger()
    for h in list(root.handlers):
        if h.get_name() == "tthc":
            root.removeHandler(h)
    root.addHandler(handler)
    if root.level == logging.NOTSET or root.level > logging.WARNING:
        root.setLevel(logging.WARNING)
    for name in loggers:
        logging.getLogger(name).setLevel(level)
    return handler
