"""Import sources declared in settings: drop folders and URLs (placeholder until implemented)."""

from __future__ import annotations

from typing import Any


def parse_sources(value: Any) -> list:
    if value in ([], None):
        return []
    raise ValueError("import sources are not implemented yet")
