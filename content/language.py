"""Tell Arabic from English by the script the letters are written in."""

import re

_ARABIC = re.compile(r"[\u0600-\u06FF\u0750-\u077F\u08A0-\u08FF\uFB50-\uFDFF\uFE70-\uFEFF]")
_LATIN = re.compile(r"[A-Za-z\u00C0-\u024F]")


def detect_language(text: str) -> str:
    """Return "ar" when Arabic letters outnumber Latin ones, else "en"."""
    sample = text[:20000]
    return "ar" if len(_ARABIC.findall(sample)) > len(_LATIN.findall(sample)) else "en"
