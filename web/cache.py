"""The dashboard's one cache: answers that cost a query over many dossiers (list pages, counts,
period reports, data-quality counts) or are read by every request (the unit tree), kept in memory
per app (one per process in production, one per test's app in tests).

An entry is keyed on what it was computed from (the database, the settings, the user's units, the
filters, the period) and stamped with the data version it was read at (tracker.data_version: it
changes in the transaction of every import run's end, units import, refresh and unit edit). An
entry of another version is never served by `get`, so no page built with it shows data older
than the last committed import, whichever process committed it.

`max_age` is about something else: answers that depend on the moment they are computed at (what
is overdue "as of" now, a running month's report) are recomputed when that moment is older than
`max_age` seconds.

`get_in_background` is for answers too slow to wait for (the overview's reports over a million
dossiers, the data-quality counts): stale-while-revalidate. It serves the last value while a
thread computes the next — after an import too, for the seconds the recount takes: the one place
an older data version is still served (issue 17 would show "being computed" there instead).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any, TypeVar

from flask import current_app, g
from sqlalchemy import Engine

from tracker import data_version as versions

T = TypeVar("T")
log = logging.getLogger("web.cache")


@dataclass(frozen=True)
class _Entry:
    stamp: float  # time.monotonic() when its computation started
    version: Hashable
    value: Any


class Cache:
    def __init__(self, max_items: int = 1000) -> None:
        self._items: dict[Hashable, _Entry] = {}
        self._busy: set[Hashable] = set()  # keys a thread is computing
        self._lock = threading.Lock()
        self.max_items = max_items

    def _usable(self, key: Hashable, version: Hashable, fresh: Callable[[Any], bool] | None) -> _Entry | None:
        with self._lock:
            hit = self._items.get(key)
        if hit is None or hit.version != version or (fresh is not None and not fresh(hit.value)):
            return None
        return hit

    def _store(self, key: Hashable, entry: _Entry) -> None:
        with self._lock:
            if key not in self._items and len(self._items) >= self.max_items:
                self._items.clear()
            self._items[key] = entry
            self._busy.discard(key)

    def get(self, key: Hashable, compute: Callable[[], T], *, version: Hashable, max_age: float | None = None,
            fresh: Callable[[T], bool] | None = None) -> T:
        """compute()'s value, reused while the data version is `version`, it is younger than `max_age`
        seconds (None: any age; 0 or less: never reused) and `fresh(value)` holds."""
        if max_age is not None and max_age <= 0:
            return compute()
        now = time.monotonic()
        hit = self._usable(key, version, fresh)
        if hit is not None and (max_age is None or now - hit.stamp < max_age):
            return hit.value
        value = compute()
        self._store(key, _Entry(now, version, value))
        return value

    def get_in_background(self, key: Hashable, compute: Callable[[], T], *, version: Hashable,
                          max_age: float | None = None, fresh: Callable[[T], bool] | None = None,
                          default: Any = None) -> Any:
        """Like `get`, but the computation runs in a thread and the page never waits: while it runs,
        the last value is served (of this data version or an older one, whatever its age); `default`
        when there is none yet. `compute` must not need the request."""
        now = time.monotonic()
        with self._lock:
            hit = self._items.get(key)
        if hit is not None and fresh is not None and not fresh(hit.value):
            hit = None
        if hit is not None and hit.version == version and (max_age is None or now - hit.stamp < max_age):
            return hit.value
        with self._lock:
            start = key not in self._busy
            self._busy.add(key)
        if start:
            threading.Thread(target=self._compute, args=(key, compute, version, now), daemon=True).start()
        return default if hit is None else hit.value

    def _compute(self, key: Hashable, compute: Callable[[], Any], version: Hashable, stamp: float) -> None:
        try:
            value = compute()
        except Exception:  # noqa: BLE001  (logged; the next request tries again)
            log.exception("cached value %r could not be computed", key[:1] if isinstance(key, tuple) else key)
            with self._lock:
                self._busy.discard(key)
            return
        self._store(key, _Entry(stamp, version, value))

    @property
    def computing(self) -> bool:
        """Whether a thread is computing a value (get_in_background)."""
        with self._lock:
            return bool(self._busy)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


def init_app(app) -> None:  # noqa: ANN001
    app.extensions["tthc_cache"] = Cache()


def cache() -> Cache:
    """The current app's cache."""
    return current_app.extensions["tthc_cache"]


def data_version(engine: Engine) -> Hashable:
    """The data version of `engine`'s database, read once per request."""
    seen = g.setdefault("tthc_data_versions", {})
    key = str(engine.url)
    if key not in seen:
        seen[key] = versions.current(engine)
    return seen[key]
