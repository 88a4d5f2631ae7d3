"""Legacy Vietnamese font encodings: TCVN3 (ABC) and VNI, to Unicode.

Files that went through old Excel sheets typed with .VnTime (TCVN3) or VNI-Times fonts carry
Vietnamese text as Windows-1252 characters: "Së Tµi nguyªn" (TCVN3) and "Sôû Taøi nguyeân" (VNI)
are both "Sở Tài nguyên". The text reaches us two ways: as the raw font bytes (a CSV saved by old
Excel: decode it as Latin-1, then convert), or already turned into those Windows-1252 characters
inside a UTF-8 file. Both conversions below accept either.

TCVN3 is one byte per letter: TCVN 5712:1993, whose VN3 subset (ABC) has the lower-case letters
with tones at 0xB5-0xFE and ă â ê ô ơ ư đ / Ă Â Ê Ô Ơ Ư Đ at 0xA1-0xAE; the full VN1 table adds
upper-case letters with tones at 0x80-0x9F and in gaps of the upper half, and we read those too
(the VN1 letters in control positions 0x01-0x17 are not: they would clash with control bytes).

VNI writes a base letter followed by a mark character: tone marks ù ø û õ ï (sắc huyền hỏi ngã
nặng), circumflex + tone â á à å ã ä, breve + tone ê é è ú ü ë; ô is ơ, ö is ư, ñ is đ, and the
i family and ỵ are single characters (í ì æ ó ò, î).

Nothing tells the encoding in the file, so `detect` compares readings: each candidate is scored by
how many of its non-ASCII words are well-formed Vietnamese syllables (onset, vowel cluster, coda,
at most one tone). Real Vietnamese text read correctly scores every word; the wrong reading of
any of the three produces words like "Sừề" or "Taứi" that no syllable matches.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

# ----- TCVN3 -------------------------------------------------------------------------------------

# byte -> letter, TCVN 5712:1993 VN1 from 0x80 up (VN3/ABC is the subset 0xA1-0xAE, 0xB5-0xFE)
_TCVN3_HIGH = (
    # 0x80
    "ÀẢÃÁẠẶẬÈẺẼÉẸỆÌỈĨ"
    # 0x90
    "ÍỊÒỎÕÓỌỘỜỞỠỚỢÙỦŨ"
    # 0xA0 (0xA0 stays a no-break space)
    "\u00a0ĂÂÊÔƠƯĐăâêôơưđẰ"
    # 0xB0: five combining tones, then à ả ã á ạ, Ẳ ằ ẳ ẵ ắ Ẵ
    "\u0300\u0309\u0303\u0301\u0323àảãáạẲằẳẵắẴ"
    # 0xC0
    "ẮẦẨẪẤỀặầẩẫấậèỂẻẽ"
    # 0xD0
    "éẹềểễếệìỉỄẾỒĩíịò"
    # 0xE0
    "Ổỏõóọồổỗốộờởỡớợù"
    # 0xF0
    "Ỗủũúụừửữứựỳỷỹýỵ" "Ố"
)
if len(_TCVN3_HIGH) != 128:  # a typo in the table must fail at import, not corrupt data
    raise RuntimeError("TCVN3 table must have 128 entries")

_TCVN3_TABLE = {0x80 + i: ch for i, ch in enumerate(_TCVN3_HIGH)}
# keys: the Latin-1 character (raw bytes decoded as Latin-1) and the Windows-1252 character
# (the same byte shown by Windows, then saved as UTF-8)
_TCVN3_DECODE: dict[int, str] = {}
for _byte, _ch in _TCVN3_TABLE.items():
    if _byte == 0xA0:
        continue
    _TCVN3_DECODE[_byte] = _ch
    _shown = bytes([_byte]).decode("cp1252", errors="ignore")  # 0x81, 0x8D… show as nothing
    if _shown:
        _TCVN3_DECODE[ord(_shown)] = _ch
_TCVN3_ENCODE = {ch: b for b, ch in _TCVN3_TABLE.items() if b != 0xA0 and not unicodedata.combining(ch)}


def tcvn3_to_unicode(text: str) -> str:
    return unicodedata.normalize("NFC", text.translate(_TCVN3_DECODE))


def unicode_to_tcvn3(text: str) -> bytes:
    """The bytes an ABC/.VnTime sheet holds for `text` (for tests and fixtures).

    Raises ValueError for a character TCVN3 cannot write (the few VN1 upper-case letters in
    control positions, such as Ú, Ứ, Ý)."""
    out = bytearray()
    for ch in unicodedata.normalize("NFC", text):
        if ord(ch) < 0x80:
            out.append(ord(ch))
        elif ch in _TCVN3_ENCODE:
            out.append(_TCVN3_ENCODE[ch])
        else:
            raise ValueError(f"{ch!r} has no TCVN3 code")
    return bytes(out)


# ----- VNI ---------------------------------------------------------------------------------------

_TONES = ("", "\u0301", "\u0300", "\u0309", "\u0303", "\u0323")  # none sắc huyền hỏi ngã nặng
_VNI_TONE = ("", "ù", "ø", "û", "õ", "ï")
_VNI_CIRCUMFLEX = ("â", "á", "à", "å", "ã", "ä")  # â ấ ầ ẩ ẫ ậ on a, e, o
_VNI_BREVE = ("ê", "é", "è", "ú", "ü", "ë")  # ă ắ ằ ẳ ẵ ặ
_VNI_I = ("i", "í", "ì", "æ", "ó", "ò")


def _vni_pairs() -> dict[str, str]:
    """Unicode lower-case letter -> its VNI spelling."""
    table: dict[str, str] = {"đ": "ñ"}
    for t, tone in enumerate(_TONES):
        def put(letter: str, vni: str, tone: str = tone) -> None:
            table[unicodedata.normalize("NFC", letter + tone)] = vni
        for base in "aeouy":
            put(base, base + _VNI_TONE[t])
        for base in "aeo":
            put(base + "\u0302", base + _VNI_CIRCUMFLEX[t])
        put("a\u0306", "a" + _VNI_BREVE[t])
        put("o\u031b", "ô" + _VNI_TONE[t])
        put("u\u031b", "ö" + _VNI_TONE[t])
        put("i", _VNI_I[t])
    table["ỵ"] = "î"
    return {k: v for k, v in table.items() if k != v}


_VNI_ENCODE: dict[str, str] = {}
for _uni, _vni in _vni_pairs().items():
    _VNI_ENCODE[_uni] = _vni
    _VNI_ENCODE[_uni.upper()] = _vni.upper()
_VNI_DECODE: dict[str, str] = {}
for _uni, _vni in _VNI_ENCODE.items():
    _VNI_DECODE[_vni] = _uni
    if len(_vni) == 2:  # a stray mix of cases: the base letter decides
        base_upper = _vni[0].isupper()
        for mark in (_vni[1].lower(), _vni[1].upper()):
            _VNI_DECODE.setdefault(_vni[0] + mark, _uni.upper() if base_upper else _uni.lower())
_VNI_RE = re.compile("|".join(re.escape(k) for k in sorted(_VNI_DECODE, key=len, reverse=True)))


def vni_to_unicode(text: str) -> str:
    return unicodedata.normalize("NFC", _VNI_RE.sub(lambda m: _VNI_DECODE[m.group()], text))


def unicode_to_vni(text: str) -> bytes:
    """The bytes a VNI-Times sheet holds for `text` (for tests and fixtures)."""
    out = "".join(_VNI_ENCODE.get(ch, ch) for ch in unicodedata.normalize("NFC", text))
    return out.encode("cp1252")


# ----- telling them apart ------------------------------------------------------------------------

_ONSET = r"(?:ngh|ng|gh|gi|kh|nh|ph|qu|th|tr|ch|[bcdđghklmnpqrstvx])?"
_NUCLEI = ("a", "ai", "ao", "au", "ay", "ă", "â", "âu", "ây", "e", "eo", "ê", "êu", "i", "ia", "iu", "iê",
           "iêu", "o", "oa", "oai", "oao", "oay", "oă", "oe", "oeo", "oi", "oo", "ô", "ôi", "ơ", "ơi", "u",
           "ua", "uâ", "uây", "uê", "ui", "uô", "uôi", "uơ", "uy", "uya", "uyê", "uyu", "ư", "ưa", "ưi",
           "ưu", "ươ", "ươi", "ươu", "y", "yê", "yêu")
_CODA = r"(?:ch|nh|ng|[cmnpt])?"
_SYLLABLE = re.compile(f"^{_ONSET}(?:{'|'.join(sorted(_NUCLEI, key=len, reverse=True))}){_CODA}$")
_WORD = re.compile(r"[^\W\d_](?:[^\W\d_]|[\u0300-\u036f])*")  # a word, with any combining marks
_TONE_MARKS = frozenset(_TONES[1:])
_VOWEL_MARKS = frozenset("\u0302\u0306\u031b")  # circumflex, breve, horn
MAX_WORDS = 4000


@lru_cache(maxsize=16384)  # a sample repeats its words (names, units): the encoding guess reads every file
def is_syllable(word: str) -> bool:
    """A well-formed Vietnamese syllable (lower-case, NFC or not): 'trường' yes, 'taứi' no."""
    parts = unicodedata.normalize("NFD", word.lower())
    tones = sum(1 for c in parts if c in _TONE_MARKS)
    if tones > 1 or any(unicodedata.combining(c) and c not in _TONE_MARKS | _VOWEL_MARKS for c in parts):
        return False
    base = unicodedata.normalize("NFC", "".join(c for c in parts if c not in _TONE_MARKS))
    return bool(_SYLLABLE.match(base))


@dataclass(frozen=True)
class Score:
    valid: int
    invalid: int

    @property
    def net(self) -> int:
        return self.valid - self.invalid


def score(text: str) -> Score:
    """How Vietnamese the non-ASCII words of `text` look (ASCII words tell nothing)."""
    valid = invalid = 0
    for m in _WORD.finditer(text):
        word = unicodedata.normalize("NFC", m.group())
        if word.isascii():
            continue
        if is_syllable(word):
            valid += 1
        else:
            invalid += 1
        if valid + invalid >= MAX_WORDS:
            break
    return Score(valid, invalid)


CONVERTERS = {"tcvn3": tcvn3_to_unicode, "vni": vni_to_unicode}
# Latin-1's upper half and the characters Windows-1252 shows for 0x80-0x9F
_HIGH = re.compile("[\u0080-\u00ff\u0152\u0153\u0160\u0161\u0178\u017d\u017e\u0192\u02c6\u02dc"
                   "\u2013-\u203a\u20ac\u2122]")


def detect(text: str, baseline: str | None = None) -> str | None:
    """'tcvn3', 'vni' or None: which legacy reading of `text` is clearly better Vietnamese.

    `text` is what we have (raw bytes decoded as Latin-1, or a decoded UTF-8 file); `baseline`
    the ordinary reading to beat (the Windows-1258 reading of the same bytes), `text` itself
    when None. A legacy reading wins only with at least 3 more good words than the baseline and
    more good words than bad ones, so ordinary Vietnamese, ASCII and Windows-1258 stay as they are."""
    if not _HIGH.search(text):
        return None
    base = score(text if baseline is None else baseline)
    scores = {name: score(convert(text)) for name, convert in CONVERTERS.items()}
    name = max(scores, key=lambda n: scores[n].net)
    best = scores[name]
    if best.net >= base.net + 3 and best.valid > 2 * best.invalid:
        return name
    return None
