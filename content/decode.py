"""Turn the bytes of a source into text, refusing binary and unreadable input with a reason.

A byte-order mark decides the encoding (UTF-8, UTF-16 or UTF-32: Notepad's "Unicode" is UTF-16
with a mark). Without one the text must be UTF-8, or read with confidence as one of the legacy
encodings editors still meet: windows-1256 for Arabic, Latin-1 / windows-1252 for Western text.
The encoding used is reported, so that a guess never passes silently.
"""

from __future__ import annotations

import codecs
from dataclasses import dataclass

from charset_normalizer import from_bytes

from content.errors import ContentError

# Control characters other than tab, newline, carriage return and form feed never occur in an
# article; a few of them mean the file is not text at all.
_TEXT_CONTROLS = {9, 10, 12, 13}

# Longest first: UTF-32 LE's mark begins with UTF-16 LE's.
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le", "UTF-32"),
    (codecs.BOM_UTF32_BE, "utf-32-be", "UTF-32"),
    (codecs.BOM_UTF8, "utf-8", "UTF-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le", "UTF-16"),
    (codecs.BOM_UTF16_BE, "utf-16-be", "UTF-16"),
)
# The legacy encodings a detection may choose, and the name a reader knows them by.
_LEGACY = {"cp1256": "windows-1256", "cp1252": "windows-1252", "latin_1": "Latin-1"}
# How much "chaos" (unlikely character sequences) a guess may show and still be trusted.
_MAX_CHAOS = 0.1
_SAMPLE_BYTES = 64 * 1024


@dataclass(frozen=True, slots=True)
class Decoded:
    """A source's text and the encoding it was read in ("UTF-8", "windows-1256", …)."""

    text: str
    encoding: str
    guessed: bool = False


def decode_text(data: bytes) -> str:
    """Decode a source's text (see `decode_source`); raise ContentError for empty or binary."""
    return decode_source(data).text


def decode_source(data: bytes) -> Decoded:
    """The text of a source and its encoding: a BOM's, else UTF-8, else a confident guess."""
    for bom, codec, name in _BOMS:
        if data.startswith(bom):
            return _checked(_decode(data[len(bom) :], codec, name), name)
    if not data.strip():
        raise ContentError("the source is empty")
    if b"\x00" in data[:8192]:
        raise ContentError("the source is binary, not text (it contains NUL bytes)")
    try:
        return _checked(data.decode("utf-8"), "UTF-8")
    except UnicodeDecodeError as error:
        guess = _guess(data)
        if guess is None:
            raise ContentError(
                f"the source is not UTF-8 text (byte 0x{data[error.start]:02x} at offset "
                f"{error.start}) and reads as no other known encoding; convert it to UTF-8"
            ) from None
        return guess


def _decode(data: bytes, codec: str, name: str) -> str:
    try:
        return data.decode(codec)
    except UnicodeDecodeError as error:
        raise ContentError(
            f"the source starts with a {name} byte-order mark but is not {name} "
            f"(offset {error.start})"
        ) from None


def _guess(data: bytes) -> Decoded | None:
    """A legacy encoding the bytes read as with confidence, or None."""
    # The detection reads a sample (it takes seconds over megabytes); the codec reads it all.
    best = from_bytes(data[:_SAMPLE_BYTES], cp_isolation=list(_LEGACY)).best()
    if best is None or best.encoding not in _LEGACY or best.chaos > _MAX_CHAOS:
        return None
    try:
        text = data.decode(best.encoding)
    except UnicodeDecodeError:
        return None  # a byte the sample did not have is not in that encoding
    if best.encoding == "cp1256" and not _mostly_arabic(text[:_SAMPLE_BYTES]):
        return None  # windows-1256 for text without Arabic letters is a wrong guess
    return _checked(text, _LEGACY[best.encoding], guessed=True)


def _mostly_arabic(text: str) -> bool:
    letters = [char for char in text if char.isalpha()]
    arabic = sum(1 for char in letters if "\u0600" <= char <= "\u06ff")
    return bool(letters) and arabic * 2 >= len(letters)


def _checked(text: str, encoding: str, *, guessed: bool = False) -> Decoded:
    if not text.strip():
        raise ContentError("the source is empty")
    sample = text[:8192]
    controls = sum(1 for char in sample if ord(char) < 32 and ord(char) not in _TEXT_CONTROLS)
    if "\x00" in sample or controls > max(2, len(sample) // 100):
        raise ContentError("the source is binary, not text (it contains control characters)")
    return Decoded(text.replace("\r\n", "\n").replace("\r", "\n"), encoding, guessed)
