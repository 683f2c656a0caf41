"""One spelling per word, so that a follow or a search finds a story however it was typed.

Arabic is written with optional diacritics, stretched with tatweel, and with several letters that
readers use interchangeably (the hamza forms of alef, alef maqsura and ya, ta marbuta and ha);
digits come as Arabic-Indic or Latin. Latin text varies in case and accents. Matching folds all of
these to one form, on both sides: the stored text and what the reader typed.
"""

from __future__ import annotations

import re
import unicodedata

# Harakat, tanween, shadda, sukun, superscript alef, Quranic marks; and tatweel (kashida).
_ARABIC_MARKS = re.compile(r"[\u0610-\u061A\u064B-\u065F\u0670\u06D6-\u06ED\u0640]")

_LETTERS = str.maketrans(
    {
        "\u0622": "\u0627",  # alef with madda -> alef
        "\u0623": "\u0627",  # alef with hamza above -> alef
        "\u0625": "\u0627",  # alef with hamza below -> alef
        "\u0671": "\u0627",  # alef wasla -> alef
        "\u0649": "\u064a",  # alef maqsura -> ya
        "\u0629": "\u0647",  # ta marbuta -> ha
        "\u06cc": "\u064a",  # Farsi ya -> ya
        "\u06a9": "\u0643",  # keheh -> kaf
        **{chr(0x0660 + d): str(d) for d in range(10)},  # Arabic-Indic digits
        **{chr(0x06F0 + d): str(d) for d in range(10)},  # extended (Persian) digits
    }
)

# A word: letters, digits and combining marks (so that accents survive until they are folded).
_WORD = re.compile(r"[^\W_]+", re.UNICODE)


def fold(text: str) -> str:
    """The text with Arabic letter variants, diacritics, case and Latin accents folded away."""
    # NFKC first: presentation forms (lam-alef ligatures) and full-width digits become plain.
    text = unicodedata.normalize("NFKC", text)
    text = _ARABIC_MARKS.sub("", text).translate(_LETTERS)
    # Latin accents: decompose, drop the combining marks (é -> e); Arabic marks are gone already.
    decomposed = unicodedata.normalize("NFD", text)
    text = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return unicodedata.normalize("NFC", text).casefold()


def words(text: str) -> list[str]:
    """The folded words of a text, in order."""
    return _WORD.findall(fold(text))


def normalise(text: str) -> str:
    """The folded words joined by single spaces: the form stored for matching and indexing."""
    return " ".join(words(text))


def contains_phrase(haystack: str, phrase: str) -> bool:
    """Whether the folded phrase occurs in the folded text on word boundaries."""
    wanted = normalise(phrase)
    if not wanted:
        return False
    return f" {wanted} " in f" {normalise(haystack)} "
