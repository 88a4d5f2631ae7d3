"""Vietnamese alphabetical order for names (units, procedures, fields): Đ after D, not after Z;
ă â after a, ê after e, ô ơ after o, ư after u; tones after the letter ("Tân" before "Thượng").

The weights come from vn-collate (standard library only, derived from ICU's Vietnamese collation;
PyICU would need the ICU C++ library, and pyuca's untailored DUCET puts "Đông" before "Dương").
Names are compared word by word, as ICU does with its space below every letter: "An Bình" before
"Anh Dũng" (vn-collate alone gives a space a weight above every letter).
"""

from __future__ import annotations

from functools import lru_cache

from vn_collate import collate_key


@lru_cache(maxsize=20_000)
def name_key(name: str) -> tuple[str, ...]:
    """Sort key: `sorted(names, key=name_key)`."""
    return tuple(collate_key(word) for word in name.split())
