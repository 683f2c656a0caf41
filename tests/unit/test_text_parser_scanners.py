"""The Markdown scanners of the text parser: the old regexes' results, in linear time."""

from __future__ import annotations

import re
import time

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from content import text_parser
from content.text_parser import parse_text

# The patterns the scanners replace, kept as the oracle: same answers on every line.
OLD_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
OLD_LINK = re.compile(r"\[([^\]\n]+)\]\((?:[^)\s]+)\)")
OLD_STRONG = re.compile(r"(\*\*|__)(?=\S)(.+?)(?<=\S)\1")

# Lines made of the characters the syntax is built from, so that most draws are near misses.
MARKDOWN_LINES = st.text(alphabet=st.sampled_from("*_[]()# \tab\u00a0\u2003x"), max_size=40)
ANY_LINES = st.text(st.characters(exclude_characters="\n"), max_size=40)


def old_inline(line: str) -> str:
    return OLD_STRONG.sub(r"\2", OLD_LINK.sub(r"\1", line))


def old_heading(line: str) -> str | None:
    match = OLD_HEADING.match(line)
    return None if match is None else match.group(2)


@settings(max_examples=2000)
@given(st.one_of(MARKDOWN_LINES, ANY_LINES))
@example("**a** and __b__ with [a link](https://x.y) and [x] (y)")
@example("***a** [[a](b)](c) [](x) [a]( b) [a]() __ a__ **a **b**")
def test_inline_markdown_matches_the_old_regexes(line: str) -> None:
    assert text_parser._inline_markdown(line) == old_inline(line)


@settings(max_examples=2000)
@given(st.one_of(MARKDOWN_LINES, ANY_LINES))
@example("## Part one ##")
@example("####### seven")
@example("#\tTab # # ")
@example("# ##")
@example("#x")
def test_heading_matches_the_old_regex(line: str) -> None:
    assert text_parser._heading(line) == old_heading(line)


HOSTILE_LINES = {
    "emphasis": " **a" * 40_000,
    "links": "[" * 160_000,
    "open links": "[a](" * 40_000,
    "heading": "# a" + " " * 160_000 + "b",
    "mixed": "[a](b **c __d " * 12_000,
}


@pytest.mark.parametrize("name", HOSTILE_LINES)
def test_a_hostile_160_kb_line_parses_without_blowing_up(name: str) -> None:
    # The regexes took from a minute (emphasis) to hours (the heading) on these lines; the
    # generous bound only proves that the time no longer grows with the square of the line.
    line = HOSTILE_LINES[name]
    started = time.monotonic()
    article = parse_text(f"Title\n\n{line}\n")
    assert time.monotonic() - started < 5
    assert article.title == "Title"
