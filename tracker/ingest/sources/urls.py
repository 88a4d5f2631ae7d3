"""URL sources: download an export (one GET) or follow a paged JSON API page by page, then import
what was fetched.

Requests time out (`import.url_timeout`) and are retried (`import.url_retries`) with exponential
backoff on connection errors, timeouts, 5xx and 429. The token comes from the environment
variable named by `token_env`; it is never in settings, messages or logs, and never follows a
redirect to another host.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
import time
from collections.abc import Iterator, Mapping
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from tracker.ingest.sources.base import free_name, import_source_file, record_source_failure
from tracker.ingest.sources.specs import SourceError, SourceSpec, display_url

if TYPE_CHECKING:
    import requests
    from sqlalchemy import Engine

    from tracker.config import Settings
    from tracker.ingest.runs import ImportResult

log = logging.getLogger("tracker.sources")

ITEMS_KEYS = ("content", "data", "items", "records")
MAX_RETRY_AFTER = 60.0  # a longer Retry-After is not waited for: the next scheduled run retries
_FORMAT_EXT = {"csv": ".csv", "tthc-csv": ".csv", "xlsx": ".xlsx", "xls": ".xls", "html": ".html",
               "portal-json": ".json", "igate-json": ".json", "json": ".json"}
_TYPE_EXT = {"text/csv": ".csv", "application/csv": ".csv", "text/comma-separated-values": ".csv",
             "text/plain": ".csv", "application/json": ".json", "text/json": ".json",
             "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": ".xlsx",
             "application/vnd.ms-excel": ".xls", "text/html": ".html", "application/xhtml+xml": ".html"}
_KNOWN_EXT = (".csv", ".json", ".xlsx", ".xls", ".html", ".htm", ".txt")


def _session_class() -> type[requests.Session]:
    import requests

    class _Session(requests.Session):
        """Drops the custom auth header too when a redirect leaves the host (requests only drops
        `Authorization`), so a token never follows a redirect elsewhere."""

        secret_header: str = "Authorization"

        def rebuild_auth(self, prepared_request, response):  # noqa: ANN001, ANN201
            super().rebuild_auth(prepared_request, response)
            if self.should_strip_auth(response.request.url, prepared_request.url):
                prepared_request.headers.pop(self.secret_header, None)

    return _Session


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, moment.timestamp() - time.time())


def _clean(message: str) -> str:
    """A requests/urllib3 error message without query strings (which may carry secrets)."""
    return re.sub(r"\?[^\s'\")]*", "", message)


class _Fetcher:
    def __init__(self, spec: SourceSpec, settings: Settings, backoff: float) -> None:
        self.spec = spec
        self.timeout = settings.get("import.url_timeout")
        self.retries = settings.get("import.url_retries")
        self.backoff = backoff
        self.max_bytes = settings.get("import.max_megabytes") << 20  # a response is a file: the same cap
        self.url = display_url(spec.url or "")
        self.headers = {"User-Agent": "tthc-monitor", **dict(spec.headers)}
        if spec.token_env:
            token = os.environ.get(spec.token_env, "").strip()
            if not token:
                raise SourceError(f"import source '{spec.name}': environment variable {spec.token_env} "
                                  f"is not set (it should hold the token sent in {spec.auth_header})")
            self.headers[spec.auth_header] = f"{spec.auth_scheme} {token}" if spec.auth_scheme else token

    def body(self, r: requests.Response, params: Mapping[str, Any] | None) -> Iterator[bytes]:
        """The response's bytes, chunk by chunk, up to import.max_megabytes: a server that sends
        without end fills neither the disk nor the memory."""
        size = 0
        for chunk in r.iter_content(1 << 16):
            size += len(chunk)
            if size > self.max_bytes:
                raise SourceError(f"{self.where(params)}: the response is more than the "
                                  f"{self.max_bytes >> 20} MB an import reads (setting import.max_megabytes)")
            yield chunk

    def where(self, params: Mapping[str, Any] | None) -> str:
        page = f" (page {params[self.spec.page_param]})" if params and self.spec.page_param in params else ""
        return f"import source '{self.spec.name}': GET {self.url}{page}"

    def get(self, session: requests.Session, params: Mapping[str, Any] | None, consume):  # noqa: ANN001, ANN201
        """GET and consume(response) with retries; consume reads the body (inside the retry, so a
        connection lost mid-body is retried too)."""
        import requests

        attempts = self.retries + 1
        for attempt in range(attempts):
            delay = self.backoff * (2 ** attempt)
            try:
                with session.get(self.spec.url, params=params, timeout=self.timeout, stream=True) as r:
                    if r.status_code == 429 or r.status_code >= 500:
                        problem = f"HTTP {r.status_code} {r.reason or ''}".strip()
                        wait = _retry_after(r.headers.get("Retry-After"))
                        if wait is not None:
                            if wait > MAX_RETRY_AFTER:
                                raise SourceError(f"{self.where(params)}: {problem}, and the server asks to "
                                                  f"retry after {wait:.0f} s; left for the next run")
                            delay = max(delay, wait)
                    elif r.status_code >= 400:
                        hint = ""
                        if r.status_code in (401, 403):
                            hint = (f"; check the token in {self.spec.token_env}" if self.spec.token_env
                                    else "; the server wants a token: set token_env")
                        raise SourceError(f"{self.where(params)}: HTTP {r.status_code} "
                                          f"{r.reason or ''}".rstrip() + f" (not retried){hint}")
                    else:
                        return consume(r)
            except requests.Timeout:
                problem = f"timed out after {self.timeout} s"
            except (requests.ConnectionError, requests.exceptions.ChunkedEncodingError) as exc:
                problem = f"connection failed: {_clean(str(exc))[:300]}"
            except requests.RequestException as exc:
                raise SourceError(f"{self.where(params)}: {_clean(str(exc))[:300]}") from None
            if attempt + 1 < attempts:
                log.warning("%s: %s; retrying in %.2f s (%d of %d)", self.where(params), problem, delay,
                            attempt + 1, self.retries)
                time.sleep(delay)
        tries = f" (after {attempts} attempts)" if attempts > 1 else ""
        raise SourceError(f"{self.where(params)}: {problem}{tries}")


def _extension(spec: SourceSpec, r: requests.Response) -> str:
    if spec.format:
        return _FORMAT_EXT[spec.format]
    disposition = r.headers.get("Content-Disposition", "")
    m = re.search(r"filename\*?=(?:UTF-8'')?\"?([^\";]+)", disposition, re.I)
    if m and Path(m.group(1)).suffix.lower() in _KNOWN_EXT:
        return Path(m.group(1)).suffix.lower()
    ctype = r.headers.get("Content-Type", "").split(";")[0].strip().lower()
    if ctype in _TYPE_EXT:
        return _TYPE_EXT[ctype]
    if ctype.endswith("+json"):
        return ".json"
    suffix = Path(urlsplit(spec.url or "").path).suffix.lower()
    return suffix if suffix in _KNOWN_EXT else ".dat"


def _items(body: Any, key: str | None) -> tuple[list | None, list[Mapping]]:
    """The records of a page and the objects that may say whether it is the last."""
    if isinstance(body, list):
        return body, []
    if not isinstance(body, Mapping):
        return None, []
    holders = [body]
    if key:
        node: Any = body
        for part in key.split("."):
            if not isinstance(node, Mapping) or part not in node:
                return None, holders
            holders.append(node)
            node = node[part]
        return (node if isinstance(node, list) else None), holders
    for k in ITEMS_KEYS:
        v = body.get(k)
        if isinstance(v, list):
            return v, holders
    for k in ITEMS_KEYS:  # {"data": {"content": [...], "totalPages": 3}}
        v = body.get(k)
        if isinstance(v, Mapping):
            for k2 in ITEMS_KEYS:
                if isinstance(v.get(k2), list):
                    return v[k2], [body, v]
    return None, holders


def _is_last(holders: list[Mapping], pages_done: int) -> bool:
    for h in holders:
        if h.get("last") is True:
            return True
        for k in ("totalPages", "total_pages", "pageCount", "page_count"):
            total = h.get(k)
            if isinstance(total, int) and not isinstance(total, bool) and pages_done >= total:
                return True
    return False


def fetch_url_source(spec: SourceSpec, settings: Settings, dest_dir: str | Path, *,
                     backoff: float = 1.0) -> list[Path]:
    """Download what the source serves into dest_dir; the files written, in order.

    Without page_param (and items_key): one GET streamed to one file whose extension comes from
    `format`, else the response's file name or Content-Type. With page_param: pages
    first_page, first_page+1 … until a page has no records, says `last: true`, or reaches
    totalPages; each page's records are written as a JSON array to page-0001.json, page-0002.json …
    (one page in memory at a time). Retries with backoff * 1, 2, 4 … seconds between attempts.
    """
    if spec.kind != "url" or not spec.url:
        raise SourceError(f"import source '{spec.name}' is not a url source")
    dest = Path(dest_dir)
    dest.mkdir(parents=True, exist_ok=True)
    fetcher = _Fetcher(spec, settings, backoff)
    with _session_class()() as session:
        session.secret_header = spec.auth_header
        session.headers.update(fetcher.headers)
        if spec.page_param or spec.items_key:
            return _fetch_pages(spec, fetcher, session, dest)
        target: list[Path] = []

        def save(r: requests.Response) -> Path:
            path = dest / f"{spec.name}{_extension(spec, r)}"
            with path.open("wb") as fh:
                for chunk in fetcher.body(r, None):
                    fh.write(chunk)
            return path

        target.append(fetcher.get(session, None, save))
        return target


def _fetch_pages(spec: SourceSpec, fetcher: _Fetcher, session: requests.Session, dest: Path) -> list[Path]:
    def load(r: requests.Response) -> Any:
        data = b"".join(fetcher.body(r, params))
        try:
            return json.loads(data)
        except (json.JSONDecodeError, UnicodeDecodeError):
            ctype = r.headers.get("Content-Type", "?")
            raise SourceError(f"{fetcher.where(params)}: the response is not JSON ({ctype})") from None
        except (RecursionError, ValueError) as exc:  # nested too deeply; an integer of 5,000 digits
            raise SourceError(f"{fetcher.where(params)}: the response is not readable JSON "
                              f"({'nested too deeply' if isinstance(exc, RecursionError) else exc})") from None

    files: list[Path] = []
    previous = ""
    page = spec.first_page
    while True:
        params: dict[str, Any] | None = None
        if spec.page_param:
            params = {spec.page_param: page}
            if spec.page_size_param and spec.page_size:
                params[spec.page_size_param] = spec.page_size
        body = fetcher.get(session, params, load)
        items, holders = _items(body, spec.items_key)
        if items is None:
            looked = spec.items_key or ", ".join(ITEMS_KEYS)
            raise SourceError(f"{fetcher.where(params)}: no list of records under {looked} "
                              "(set items_key to the key that holds them)")
        if not items:
            break
        data = json.dumps(items, ensure_ascii=False).encode("utf-8")
        digest = hashlib.sha256(data).hexdigest()
        if digest == previous:
            raise SourceError(f"{fetcher.where(params)}: the same records as the previous page; does the "
                              f"API take '{spec.page_param}' as its page parameter?")
        previous = digest
        path = dest / f"page-{len(files) + 1:04d}.json"
        path.write_bytes(data)
        files.append(path)
        del body, items, data
        if not spec.page_param or _is_last(holders, len(files)):
            break
        if len(files) >= spec.max_pages:
            raise SourceError(f"{fetcher.where(params)}: more than max_pages = {spec.max_pages} pages; "
                              "raise max_pages if the API really has that many")
        page += 1
    return files


def run_url_source(engine: Engine, settings: Settings, spec: SourceSpec, *, workdir: str | Path,
                   backoff: float = 1.0, keep_files: bool = False) -> list[ImportResult]:
    """Fetch the source into a fresh folder under workdir, import each file with
    source=spec.name, then remove the folder (unless keep_files). A fetch that fails records a
    failed import run and raises SourceError; nothing fetched by it is imported."""
    from tracker.clock import now_local

    dest = free_name(Path(workdir), f"{spec.name}-{now_local():%Y%m%d-%H%M%S}")
    try:
        try:
            files = fetch_url_source(spec, settings, dest, backoff=backoff)
        except SourceError as exc:
            record_source_failure(engine, spec, spec.where, str(exc))
            raise
        results = []
        for path in files:
            result = import_source_file(engine, settings, path, spec)
            log.info("import source %s: %s %s (%d read, %d rejected)", spec.name, path.name, result.status,
                     result.rows_read, result.rejected)
            results.append(result)
        return results
    finally:
        if not keep_files:
            shutil.rmtree(dest, ignore_errors=True)
