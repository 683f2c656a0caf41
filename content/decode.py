"""Turn the bytes of a source into text, refusing binary and non-UTF-8 input with a reason."""

import codecs

from content.errors import ContentError

# Control characters other than tab, newline, carriage return and form feed never occur in an
# article; a few of them mean the file is not text at all.
_TEXT_CONTROLS = {9, 10, 12, 13}


def decode_text(data: bytes) -> str:
    """Decode UTF-8 (with or without BOM) text; raise ContentError for empty or binary input."""
    if not data.strip():
        raise ContentError("the source is empty")
    if b"\x00" in data[:8192]:
        raise ContentError("the source is binary, not text (it contains NUL bytes)")
    if data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8) :]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ContentError(
            f"the source is not UTF-8 text (byte 0x{data[error.start]:02x} at offset "
            f"{error.start}); convert it to UTF-8 first"
        ) from None
    sample = text[:8192]
    controls = sum(1 for char in sample if ord(char) < 32 and ord(char) not in _TEXT_CONTROLS)
    if controls > max(2, len(sample) // 100):
        raise ContentError("the source is binary, not text (it contains control characters)")
    return text.replace("\r\n", "\n").replace("\r", "\n")
