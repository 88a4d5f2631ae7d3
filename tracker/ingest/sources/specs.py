"""Import sources as declared in settings (`[[import.sources]]`): each table validated into a
SourceSpec, with an error that names the table, the key and what was expected.

A token never belongs in settings: a key that looks like a secret is refused with a pointer to
`token_env` (the name of the environment variable that holds it), and a URL is shown without its
query string or user info (`display_url`).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from tracker.config import Settings, table_list
from tracker.ingest.readers import FORMATS

KINDS = ("folder", "url")
COMMON_KEYS = ("name", "kind", "format", "every_minutes")
FOLDER_KEYS = ("path", "archive")
URL_KEYS = ("url", "auth_header", "auth_scheme", "token_env", "headers", "page_param", "page_size_param",
            "page_size", "first_page", "max_pages", "items_key")
ALL_KEYS = COMMON_KEYS + FOLDER_KEYS + URL_KEYS
PAGING_KEYS = ("page_size_param", "page_size", "first_page", "max_pages")
SECRET_KEYS = ("token", "password", "api_key", "apikey", "secret", "bearer")

_NAME = re.compile(r"^[a-z0-9_-]+$")
_HEADER = re.compile(r"^[A-Za-z0-9!#$%&'*+.^_`|~-]+$")
_ENV = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class SourceError(RuntimeError):
    """A source cannot be run or fetched. The message names the source and, for URLs, the URL
    without its query string (where secrets may live) and never the token."""


@dataclass(frozen=True)
class SourceSpec:
    """One `[[import.sources]]` table, validated."""

    name: str
    kind: str  # folder | url
    path: Path | None = None  # folder
    url: str | None = field(default=None, repr=False)  # url; its query string may hold a secret
    format: str | None = None
    every_minutes: int = 15
    archive: bool = True  # folder: move imported files to archive/ and failed/ (false: leave them)
    auth_header: str = "Authorization"
    auth_scheme: str = "Bearer"  # "" sends the bare token
    token_env: str | None = None
    headers: tuple[tuple[str, str], ...] = field(default=(), repr=False)
    page_param: str | None = None
    page_size_param: str | None = None
    page_size: int | None = None
    first_page: int = 0
    max_pages: int = 10_000
    items_key: str | None = None

    @property
    def where(self) -> str:
        """How messages name the source: folder path, or URL without its query string."""
        return str(self.path) if self.kind == "folder" else display_url(self.url or "")


def display_url(url: str) -> str:
    """The URL without user info, query string or fragment: safe to show and log."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    try:
        port = parts.port
    except ValueError:
        port = None
    netloc = f"{host}:{port}" if port else host
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def _suggest(key: str) -> str:
    if key.lower() in SECRET_KEYS:
        return (" (secrets do not belong in settings: put the token in an environment variable and "
                "name that variable with token_env)")
    close = difflib.get_close_matches(key, ALL_KEYS, n=1)
    return f" (did you mean {close[0]}?)" if close else ""


def _int_in(where: str, key: str, v: Any, lo: int, hi: int) -> int:
    if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
        raise ValueError(f"{where}: {key} '{v}' is not a whole number from {lo} to {hi}")
    return v


def _text(where: str, key: str, v: Any) -> str:
    if not isinstance(v, str) or not v.strip():
        raise ValueError(f"{where}: {key} '{v}' is not a non-empty text")
    return v.strip()


def _parse_one(i: int, entry: Any, used: dict[str, int]) -> SourceSpec:
    where = f"import.sources[{i}]"
    if not isinstance(entry, Mapping):
        raise ValueError(f"{where}: '{entry}' is not a table (write it as [[import.sources]])")
    name = entry.get("name")
    if isinstance(name, str):
        where += f" ('{name}')"
    for key in entry:
        if key not in ALL_KEYS:
            raise ValueError(f"{where}: unknown key '{key}'{_suggest(str(key))}")
    if name is None:
        raise ValueError(f"{where}: missing key 'name'")
    if not isinstance(name, str) or not _NAME.match(name) or len(name) > 100:
        raise ValueError(f"{where}: name '{name}' is not made of a-z, 0-9, '_' and '-'")
    if name in used:
        raise ValueError(f"{where}: name '{name}' is already used by import.sources[{used[name]}]")
    kind = entry.get("kind")
    if kind is None:
        raise ValueError(f"{where}: missing key 'kind' ('folder' or 'url')")
    if kind not in KINDS:
        raise ValueError(f"{where}: kind '{kind}' is not 'folder' or 'url'")
    own, other = (FOLDER_KEYS, URL_KEYS) if kind == "folder" else (URL_KEYS, FOLDER_KEYS)
    for key in entry:
        if key in other:
            raise ValueError(f"{where}: key '{key}' applies to {'url' if kind == 'folder' else 'folder'} "
                             f"sources, not to a {kind} source")
    values: dict[str, Any] = {"name": name, "kind": kind}

    fmt = entry.get("format")
    if fmt is not None:
        if fmt not in FORMATS:
            close = difflib.get_close_matches(str(fmt), FORMATS, n=1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            raise ValueError(f"{where}: format '{fmt}' is not one of {', '.join(FORMATS)}{hint}")
        values["format"] = fmt
    if "every_minutes" in entry:
        values["every_minutes"] = _int_in(where, "every_minutes", entry["every_minutes"], 1, 1440)

    if kind == "folder":
        if "path" not in entry:
            raise ValueError(f"{where}: missing key 'path' (the drop folder)")
        values["path"] = Path(_text(where, "path", entry["path"])).expanduser()
        if "archive" in entry:
            if not isinstance(entry["archive"], bool):
                raise ValueError(f"{where}: archive '{entry['archive']}' is not true or false")
            values["archive"] = entry["archive"]
        return SourceSpec(**values)

    if "url" not in entry:
        raise ValueError(f"{where}: missing key 'url'")
    url = _text(where, "url", entry["url"])
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https"):
        raise ValueError(f"{where}: url '{display_url(url)}' is not http(s)")
    if not parts.hostname:
        raise ValueError(f"{where}: url '{display_url(url)}' has no host")
    values["url"] = url
    if "auth_header" in entry:
        header = _text(where, "auth_header", entry["auth_header"])
        if not _HEADER.match(header):
            raise ValueError(f"{where}: auth_header '{header}' is not a header name")
        values["auth_header"] = header
    if "auth_scheme" in entry:
        scheme = entry["auth_scheme"]
        if not isinstance(scheme, str) or not re.match(r"^[A-Za-z0-9_-]*$", scheme):
            raise ValueError(f"{where}: auth_scheme '{scheme}' is not a word such as Bearer (or empty)")
        values["auth_scheme"] = scheme
    if "token_env" in entry:
        env = entry["token_env"]
        if not isinstance(env, str) or not _ENV.match(env):
            # the value is not shown: someone may have pasted the token itself here
            raise ValueError(f"{where}: token_env must be the name of an environment variable "
                             "(e.g. IGATE_TOKEN) that holds the token, not the token itself")
        values["token_env"] = env
    if "headers" in entry:
        headers = entry["headers"]
        if not isinstance(headers, Mapping):
            raise ValueError(f"{where}: headers must be a table of 'Header-Name' = 'value'")
        pairs = []
        for h, v in headers.items():
            if not isinstance(h, str) or not _HEADER.match(h):
                raise ValueError(f"{where}: headers: '{h}' is not a header name")
            if not isinstance(v, str) or "\n" in v or "\r" in v:
                raise ValueError(f"{where}: headers: the value of '{h}' is not one line of text")
            if h.lower() in ("authorization", values.get("auth_header", "Authorization").lower()):
                raise ValueError(f"{where}: headers: '{h}' carries the token: use token_env "
                                 "(and auth_header) instead, so the token stays out of settings")
            pairs.append((h, v))
        values["headers"] = tuple(pairs)
    for key in ("page_param", "page_size_param", "items_key"):
        if key in entry:
            values[key] = _text(where, key, entry[key])
    if "page_size" in entry:
        values["page_size"] = _int_in(where, "page_size", entry["page_size"], 1, 100_000)
    if "first_page" in entry:
        values["first_page"] = _int_in(where, "first_page", entry["first_page"], 0, 1_000_000)
    if "max_pages" in entry:
        values["max_pages"] = _int_in(where, "max_pages", entry["max_pages"], 1, 1_000_000)
    if "page_param" not in values:
        for key in PAGING_KEYS:
            if key in entry:
                raise ValueError(f"{where}: {key} needs page_param (the name of the page number parameter)")
    if ("page_size" in values) != ("page_size_param" in values):
        raise ValueError(f"{where}: page_size and page_size_param go together")
    return SourceSpec(**values)


def parse_sources(value: Any) -> list[SourceSpec]:
    """Validate the `import.sources` array of tables (or a JSON array, from the environment)."""
    value = table_list(value, "import.sources")
    if not value:
        return []
    if not isinstance(value, list):
        raise ValueError(f"'{value}' is not a list of [[import.sources]] tables")
    used: dict[str, int] = {}
    specs = []
    for i, entry in enumerate(value):
        spec = _parse_one(i, entry, used)
        used[spec.name] = i
        specs.append(spec)
    return specs


def source_specs(settings: Settings) -> list[SourceSpec]:
    """The declared sources, built once per value of the settings (checked at start-up by
    tracker.settings_check). Shared: not to be changed."""
    return settings.derived(parse_sources, "import.sources")


def find_source(settings: Settings, name: str) -> SourceSpec:
    specs = source_specs(settings)
    for spec in specs:
        if spec.name == name:
            return spec
    if not specs:
        raise SourceError(f"no import source named '{name}': no sources are declared "
                          "([[import.sources]] in the settings file)")
    close = difflib.get_close_matches(name, [s.name for s in specs], n=1)
    hint = f" (did you mean {close[0]}?)" if close else ""
    raise SourceError(f"no import source named '{name}'{hint}; declared: "
                      f"{', '.join(s.name for s in specs)}")
