"""Vietnamese text without its accents: the one accent folding every matcher builds on.

'Ngày làm việc' -> 'Ngay lam viec', 'Đơn vị' -> 'Don vi'. Used to read limits ('3 ngay lam viec'),
command-line words ('bieu06'), header labels of exports (tracker.ingest.text.fold) and the demo's
ASCII keys. Sorting names is another matter: tracker.collation.
"""

from __future__ import annotations

import unicodedata


def strip_accents(text: str) -> str:
    """The text with its tone and vowel marks removed and đ/Đ as d/D; case and spacing kept."""
    text = unicodedata.normalize("NFD", text).replace("đ", "d").replace("Đ", "D")
    return "".join(c for c in text if not unicodedata.combining(c))
