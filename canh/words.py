"""Words of a text field, cut as Elasticsearch's ``standard`` analyser cuts them.

Both stores must agree on what a word is: Elasticsearch indexes text fields with its standard
analyser (Unicode word boundaries, UAX #29, then lower case), and the SQLite store cuts the same
words here at query time. The rules that decide most log text are reproduced exactly: letters and
digits join (``v2``, ``sys32``); ``_`` joins anything (``a_1_b``); ``.``, ``'``, ``’`` join letters
to letters and digits to digits (``auth.log``, ``10.0.0.1``, ``don't``) but not letters to digits
(``out.7z`` is ``out`` + ``7z``); ``:`` and ``·`` join letters (``a:b``), ``,`` and ``;`` digits
(``1,000``); combining marks and format characters stay inside a word; each Han ideograph and
each hiragana is a word of its own, a katakana run is one word, a Thai, Lao, Khmer or Myanmar run
is one word; words over 255 characters are cut into 255-character pieces. Emoji, letters beyond
the Basic Multilingual Plane, ``_`` next to katakana, Hebrew punctuation and the rarer word-break
classes are approximations (docs/hunting.md).
"""

from __future__ import annotations

import re
import unicodedata
from functools import cache

MAX_WORD = 255  # the standard analyser's max_token_length

# Word-break classes from UAX #29 (WordBreakProperty), listed by code point.
_MID_LETTER = ":\u00b7\u0387\u055f\u05f4\u2027\ufe13\ufe55\uff1a"
_MID_NUM = ",;\u037e\u0589\u060c\u060d\u066c\u07f8\u2044\ufe10\ufe14\ufe50\ufe54\uff0c\uff1b"
_MID_NUM_LET = ".\u2018\u2019\u2024\ufe52\uff07\uff0e'"  # with Single_Quote, which acts alike here
_EXTEND_NUM_LET = "_\u202f\u203f\u2040\u2054\ufe33\ufe34\ufe4d\ufe4e\ufe4f\uff3f"

# Scripts the standard tokenizer emits character by character or run by run, apart from letters.
_HAN = ((0x3400, 0x4DBF), (0x4E00, 0x9FFF), (0xF900, 0xFAFF), (0x20000, 0x3FFFF))
_HIRAGANA = ((0x3041, 0x309F), (0x1B001, 0x1B11F))
_KATAKANA = ((0x30A0, 0x30FF), (0x31F0, 0x31FF), (0x32D0, 0x32FE), (0x3300, 0x3357), (0xFF66, 0xFF9D))
_SOUTHEAST_ASIAN = (
    (0x0E00, 0x0EFF), (0x1000, 0x109F), (0x1780, 0x17FF), (0x1950, 0x1AAF), (0x19E0, 0x19FF),
    (0xAA60, 0xAAFF),
)  # fmt: skip
_EMOJI = ((0x1F300, 0x1F5FF), (0x1F600, 0x1F64F), (0x1F680, 0x1F6FF), (0x1F900, 0x1F9FF), (0x1FA70, 0x1FAFF))
_EMOJI_JOIN = "\u200d\ufe0f\U0001f3fb-\U0001f3ff"

# Java lower-cases code point by code point; Python's str.lower() has two context rules of its own.
_JAVA_LOWER = str.maketrans({"\u0130": "i", "\u03a3": "\u03c3"})


def _char_class(points: list[int]) -> str:
    """A regex character class body for the code points (sorted), as ranges."""
    out: list[str] = []
    i = 0
    while i < len(points):
        j = i
        while j + 1 < len(points) and points[j + 1] == points[j] + 1:
            j += 1
        lo, hi = re.escape(chr(points[i])), re.escape(chr(points[j]))
        out.append(lo if i == j else f"{lo}-{hi}")
        i = j + 1
    return "".join(out)


@cache
def _pattern() -> re.Pattern[str]:
    """The word regex for any text, built once from the Unicode database (lazily: ~0.1 s)."""
    special = {cp for lo, hi in _HAN + _HIRAGANA + _KATAKANA + _SOUTHEAST_ASIAN for cp in range(lo, hi + 1)}
    letters: list[int] = []
    digits: list[int] = []
    extend: list[int] = []
    category = unicodedata.category
    # The Basic Multilingual Plane only: a class reaching past it is matched range by range (10x
    # slower on Vietnamese text); the letters beyond are historic scripts and mathematical styles.
    for cp in range(0x10000):
        cat = category(chr(cp))
        if cat == "Nd" or cp == 0x066B:  # the Arabic decimal separator is Numeric
            digits.append(cp)
        elif (cat[0] == "L" or cat == "Nl") and cp not in special:
            letters.append(cp)
        elif cat in ("Mn", "Mc", "Me") or (cat == "Cf" and cp != 0x200B):
            extend.append(cp)
    sea = [cp for lo, hi in _SOUTHEAST_ASIAN for cp in range(lo, hi + 1) if category(chr(cp)) != "Nd"]

    def ranges(rs: tuple[tuple[int, int], ...]) -> str:
        return "".join(f"{re.escape(chr(lo))}-{re.escape(chr(hi))}" for lo, hi in rs)

    L, N, X = _char_class(letters), _char_class(digits), _char_class(extend)
    E, K = re.escape(_EXTEND_NUM_LET), ranges(_KATAKANA)
    H = "\u05d0-\u05ea\u05ef-\u05f2\ufb1d\ufb1f-\ufb28\ufb2a-\ufb4f"
    mid_l = re.escape(_MID_LETTER + _MID_NUM_LET)
    mid_n = re.escape(_MID_NUM + _MID_NUM_LET)
    # A letter (digit) takes a joining mark after it only when a letter (digit) follows; marks
    # and format characters after a character count as that character (UAX #29's rule WB4).
    letter = f"[{L}][{X}]*(?:[{mid_l}][{X}]*(?=[{L}]))?"
    # Hebrew letters also keep a following ' and join across " (WB7a-c).
    hebrew = f"[{H}][{X}]*(?:[{mid_l}][{X}]*(?=[{L}])|\"[{X}]*(?=[{H}])|')?"
    digit = f"[{N}][{X}]*(?:[{mid_n}][{X}]*(?=[{N}]))?"
    word = f"(?:[{E}][{X}]*)*(?:{hebrew}|{letter}|{digit})(?:[{E}][{X}]*|{hebrew}|{letter}|{digit})*"
    katakana = f"[{E}]*[{K}][{K}{E}{X}]*"
    single = f"[{ranges(_HAN + _HIRAGANA)}][{X}]*"
    southeast = f"[{_char_class(sea)}][{_char_class(sea)}{X}]*"
    emoji = f"[{ranges(_EMOJI)}][{_EMOJI_JOIN}]*(?:\u200d[{ranges(_EMOJI)}][{_EMOJI_JOIN}]*)*"
    return re.compile("|".join((katakana, word, single, southeast, emoji)))


# Most log text is ASCII: the same rules over ASCII alone, a far smaller automaton.
_ASCII_WORD = re.compile(r"\w+(?:(?:(?<=[a-z])[:.'](?=[a-z])|(?<=[0-9])[,;.'](?=[0-9]))\w+)*", re.ASCII)


def words(text: str) -> list[str]:
    """Lower-cased words of ``text``, as the standard analyser cuts them."""
    if text.isascii():
        found = _ASCII_WORD.findall(text.lower())
    else:
        found = _pattern().findall(text.translate(_JAVA_LOWER).lower())
    if "_" in text:
        found = [w for w in found if w.strip(_EXTEND_NUM_LET)]  # underscores alone are no word
    if max(map(len, found), default=0) <= MAX_WORD:
        return found
    return [w[i : i + MAX_WORD] for w in found for i in range(0, len(w), MAX_WORD)]
