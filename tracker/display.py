"""Text safe to show and to store: the one place that says which characters are not.

Unsafe: the C0 controls other than tab and line breaks (NUL, ESC …), DEL and the C1 controls,
the bidirectional embeddings, overrides and isolates (U+202A–U+202E, U+2066–U+2069: 'abc\u202edcba'
shows reversed), lone surrogates (JSON can carry them; no encoder can write them) and the two
non-characters U+FFFE/U+FFFF. PostgreSQL refuses NUL in text, openpyxl refuses most C0 controls,
a terminal obeys ESC sequences and a mail client obeys overrides: every export, terminal line and
digest goes through `safe_text`, and imports remove them from cells on the way in.
"""

from __future__ import annotations

import re

UNSAFE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff\ufffe\uffff]")
_BREAKS = re.compile("[\t\n\r\u2028\u2029]+")


def safe_text(text: str, *, one_line: bool = False) -> str:
    """`text` without unsafe characters; `one_line`: tabs and line breaks as one space too
    (a terminal table, a mail subject). Anything not a str (numbers, dates, None) is returned as is."""
    if not isinstance(text, str):
        return text
    if UNSAFE.search(text):
        text = UNSAFE.sub("", text)
    if one_line and _BREAKS.search(text):
        text = _BREAKS.sub(" ", text)
    return text


def shown(text: str) -> str:
    """`text` with each unsafe character written as an escape ('\\x00', '\\u202e'): where a value
    is quoted back to whoever must fix it (a rejected row), so they can see what was there."""
    if not isinstance(text, str) or not UNSAFE.search(text):
        return text
    return UNSAFE.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), text)


def is_safe(text: str) -> bool:
    return UNSAFE.search(text) is None
