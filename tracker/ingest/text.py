"""Text helpers shared by the readers: NFC, folding for matching headers and words (on
tracker.text.strip_accents)."""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

from tracker.text import strip_accents

_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_NON_ALNUM = re.compile(r"[^a-z0-9]+")


def nfc(text: str) -> str:
    """NFC: Windows-1258 decodes to base letters plus combining tones; 'Sở' must equal 'Sở'."""
    return unicodedata.normalize("NFC", text)


@lru_cache(maxsize=65536)
def fold(text: str) -> str:
    """A matching key: no accents, no case, no spacing or punctuation.

    'Ngày hẹn trả', 'NGAY HEN TRA', 'ngay_hen_tra', 'NgayHenTra' -> 'ngayhentra';
    'appointmentDate' -> 'appointmentdate'."""
    text = _CAMEL.sub(" ", strip_accents(text or ""))
    return _NON_ALNUM.sub("", text.lower())


@lru_cache(maxsize=65536)
def name_key(text: str) -> str:
    """A key for names of units and procedures: folded, but keeping word breaks readable."""
    return " ".join(_NON_ALNUM.sub(" ", strip_accents(text or "").lower()).split())
