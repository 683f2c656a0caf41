"""Reading a source's bytes: byte-order marks, UTF-8, and confident guesses of legacy encodings."""

from __future__ import annotations

import codecs

import pytest

from content.decode import decode_source
from content.errors import ContentError
from content.sources import parse_source

ARABIC = "محطة شمسية جديدة على أطراف المدينة\n\nأعلنت البلدية اليوم افتتاح محطة للطاقة الشمسية."
FRENCH = "Le café de la gare rouvre\n\nAprès deux ans de travaux, le café sert des crêpes."


@pytest.mark.parametrize(
    ("data", "encoding"),
    [
        (codecs.BOM_UTF16_LE + ARABIC.encode("utf-16-le"), "UTF-16"),
        (codecs.BOM_UTF16_BE + ARABIC.encode("utf-16-be"), "UTF-16"),
        (ARABIC.encode("utf-16"), "UTF-16"),  # Notepad's "Unicode"
        (codecs.BOM_UTF32_LE + ARABIC.encode("utf-32-le"), "UTF-32"),
        (codecs.BOM_UTF8 + ARABIC.encode(), "UTF-8"),
        (ARABIC.encode(), "UTF-8"),
    ],
)
def test_a_byte_order_mark_or_utf8_decides(data: bytes, encoding: str) -> None:
    decoded = decode_source(data)
    assert (decoded.text, decoded.encoding, decoded.guessed) == (ARABIC, encoding, False)


def test_windows_1256_is_read_when_it_reads_as_arabic() -> None:
    decoded = decode_source(ARABIC.encode("cp1256"))
    assert (decoded.text, decoded.encoding, decoded.guessed) == (ARABIC, "windows-1256", True)
    parsed = parse_source(ARABIC.replace("\n", "\r\n").encode("cp1256"), name="a.txt")
    assert parsed.guessed_encoding == "windows-1256"
    assert parsed.articles[0].title == "محطة شمسية جديدة على أطراف المدينة"
    assert parsed.articles[0].language == "ar"


def test_latin_1_is_read_and_named() -> None:
    decoded = decode_source(FRENCH.encode("latin-1"))
    assert decoded.text == FRENCH and decoded.guessed
    assert decoded.encoding in {"Latin-1", "windows-1252"}
    assert parse_source(FRENCH.encode(), name="a.txt").guessed_encoding is None


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (codecs.BOM_UTF16_LE + b"\x00\xd8", "UTF-16 byte-order mark but is not UTF-16"),
        (codecs.BOM_UTF16_LE, "empty"),
        (ARABIC.encode("utf-16-le"), "binary"),  # UTF-16 without its mark
        (b"Title\n\nBody \x81\x8d\x8f\x90\x9d\x81\x8d\x8f\x90 here", "not UTF-8"),
        (codecs.BOM_UTF16_LE + "Title\n\n\x01\x02\x03\x04\x05".encode("utf-16-le"), "binary"),
    ],
)
def test_what_cannot_be_read_is_refused_in_one_line(data: bytes, reason: str) -> None:
    with pytest.raises(ContentError, match=reason) as caught:
        decode_source(data)
    assert "\n" not in str(caught.value)
