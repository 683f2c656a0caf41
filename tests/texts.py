"""Sample article texts for tests, written for this project, plus helpers to read sections."""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SAMPLES = REPO / "samples"
CORPUS = REPO.parent / "shared" / "corpus"

LONG_WORDS = " ".join(f"word{n}" for n in range(900))  # about 6,000 characters, no full stop
LONG_URL = "https://example.org/" + "a1b2c3d4e5" * 500  # 5,020 characters, no space
EMOJI_RUN = "📰🇸🇦👩🏽‍💻" * 400  # flags, skin tones and joiners: cut only between code points

TRICKY_EN = f"""Markup & emoji test

By Test Desk

A lead that mentions <b>bold</b>, &amp; and <script>alert(1)</script> as plain text.

Ordinary paragraph with <script>alert("x")</script> and &amp; and <b>not bold</b> 😀.

A heading with <i>tags</i>?

{LONG_WORDS}

{LONG_URL}

{EMOJI_RUN}

Closing paragraph. It ends here!
"""


class TelegramHtmlCheck(HTMLParser):
    """Fails on any tag but <b>, unbalanced tags or unknown entities; collects visible text."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=False)
        self.open: list[str] = []
        self.visible: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        assert tag == "b" and not attrs, f"unexpected tag <{tag}>"
        assert not self.open, "nested <b>"
        self.open.append(tag)

    def handle_endtag(self, tag: str) -> None:
        assert self.open and self.open[-1] == tag, f"unbalanced </{tag}>"
        self.open.pop()

    def handle_data(self, data: str) -> None:
        assert "<" not in data and ">" not in data, f"unescaped markup in {data[:40]!r}"
        assert not re.search(r"&(?!amp;|lt;|gt;|quot;)", data), "bare ampersand"
        self.visible.append(data)

    def handle_entityref(self, name: str) -> None:
        assert name in {"amp", "lt", "gt", "quot"}, f"entity &{name};"
        self.visible.append(html.unescape(f"&{name};"))

    def handle_charref(self, name: str) -> None:
        self.visible.append(html.unescape(f"&#{name};"))


def visible_text(markup: str) -> str:
    """The text Telegram shows for markup, after checking the markup is valid and balanced."""
    checker = TelegramHtmlCheck()
    checker.feed(markup)
    checker.close()
    assert not checker.open, "unclosed <b>"
    assert not checker.rawdata, f"unparsed markup {checker.rawdata[:40]!r}"
    return "".join(checker.visible)


def assert_pieces_of(body: str, pieces: list[str]) -> None:
    """Each piece follows the previous one in body, separated only by whitespace."""
    position = 0
    for number, piece in enumerate(pieces, start=1):
        assert piece, f"section {number} is empty"
        found = body.find(piece, position)
        assert found >= 0, f"section {number} is not the next part of the body"
        assert body[position:found].strip() == "", f"text lost before section {number}"
        position = found + len(piece)
    assert body[position:].strip() == "", "text lost after the last section"
