"""Render an article body as Telegram HTML, split into message-sized sections.

Every section is a contiguous slice of the body's visible text (blocks joined by a blank line),
so the sections, read in order, are the body: nothing lost, repeated or reordered.
"""

from __future__ import annotations

import bisect
import html
import itertools
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

from content.article import BLOCK_SEPARATOR, Article, Block, Section

MAX_SECTION_UTF16 = 4096  # Telegram's MessageLimit.MAX_TEXT_LENGTH, counted in UTF-16 units
DEFAULT_TARGET = 1200

# Break preferences, best first. A break is the end offset of a section.
_LEVELS = ("heading", "paragraph", "sentence", "word")
_SENTENCE_MARKS = frozenset(".!?؟؛…")
_CLOSERS = frozenset("\"'»”’)]")
_JOINERS = {"\u200d", "\u200c", "\ufe0f", "\ufe0e"}


@dataclass(frozen=True, slots=True)
class _Span:
    start: int
    end: int
    block: Block


def split_article(
    article: Article, *, target: int = DEFAULT_TARGET, cap: int = MAX_SECTION_UTF16
) -> list[Section]:
    """Split the body into sections of about `target` characters, never over `cap` UTF-16 units."""
    return _Splitter(article.blocks, target=target, cap=cap).sections()


class _Splitter:
    def __init__(self, blocks: Sequence[Block], *, target: int, cap: int) -> None:
        self.cap = max(cap, 2)  # one astral character needs two units
        self.target = min(max(target, 1), self.cap)
        self.text = BLOCK_SEPARATOR.join(block.text for block in blocks)
        self.spans = _spans(blocks)
        self.span_starts = [span.start for span in self.spans]
        # utf16[i] is the UTF-16 length of text[:i]: section lengths in O(1), hard ends by bisect.
        self.utf16 = [0, *itertools.accumulate(2 if ord(c) > 0xFFFF else 1 for c in self.text)]
        self.breaks = _break_points(self.spans)

    def sections(self) -> list[Section]:
        ranges: list[tuple[int, int]] = []
        start, size = 0, len(self.text)
        while True:
            while start < size and self.text[start].isspace():
                start += 1
            if start >= size:
                break
            end = self._section_end(start)
            ranges.append((start, end))
            start = end
        return [self._render(index, a, b) for index, (a, b) in enumerate(ranges, start=1)]

    def _section_end(self, start: int) -> int:
        size = len(self.text)
        # The furthest end whose visible text still fits under the cap.
        hard = bisect.bisect_right(self.utf16, self.utf16[start] + self.cap, lo=start) - 1
        if hard >= size and size - start <= self.target * 5 // 4:
            return size
        low, high = start + self.target // 2, min(hard, start + self.target * 5 // 4)
        aim = start + self.target
        for level in _LEVELS:
            candidates = self._between(level, max(low, start + 1), high)
            if candidates:
                return min(candidates, key=lambda end: abs(end - aim))
        # No comfortable break: the longest section that ends on the best break available.
        for level in _LEVELS:
            candidates = self._between(level, start + 1, hard)
            if candidates:
                return candidates[-1]
        return self._code_point_cut(start, hard)

    def _between(self, level: str, low: int, high: int) -> Sequence[int]:
        points = self.breaks[level]
        return points[bisect.bisect_left(points, low) : bisect.bisect_right(points, high)]

    def _code_point_cut(self, start: int, hard: int) -> int:
        """Cut an unbreakable run, keeping combining marks and joiners with their base."""
        cut = hard
        for _ in range(16):
            if cut - 1 <= start or not _attaches(self.text, cut):
                break
            cut -= 1
        if _attaches(self.text, cut):
            cut = hard
        # A cut inside the blank line between blocks must not leave it dangling in the section.
        while cut - 1 > start and self.text[cut - 1].isspace():
            cut -= 1
        return cut

    def _render(self, index: int, start: int, end: int) -> Section:
        first = bisect.bisect_right(self.span_starts, start) - 1
        parts: list[str] = []
        heading: str | None = None
        for span in self.spans[: first + 1][::-1]:
            if span.block.kind == "heading":
                heading = span.block.text
                break
        for span in self.spans[first:]:
            if span.start >= end:
                break
            piece = html.escape(
                self.text[max(start, span.start) : min(end, span.end)], quote=False
            )
            parts.append(f"<b>{piece}</b>" if span.block.kind == "heading" else piece)
        return Section(
            index=index,
            heading=heading,
            html=BLOCK_SEPARATOR.join(parts),
            text=self.text[start:end],
        )


def _spans(blocks: Sequence[Block]) -> list[_Span]:
    spans: list[_Span] = []
    position = 0
    for block in blocks:
        spans.append(_Span(position, position + len(block.text), block))
        position += len(block.text) + len(BLOCK_SEPARATOR)
    return spans


def _break_points(spans: Sequence[_Span]) -> dict[str, list[int]]:
    """Where a section may end, by preference; never right after a sub-heading."""
    points: dict[str, list[int]] = {level: [] for level in _LEVELS}
    for position, span in enumerate(spans):
        following = spans[position + 1] if position + 1 < len(spans) else None
        if following is not None and span.block.kind != "heading":
            level = "heading" if following.block.kind == "heading" else "paragraph"
            points[level].append(span.end)
        if span.block.kind == "heading":
            continue
        text = span.block.text
        for offset, char in enumerate(text):
            if char == " " and offset > 0:
                kind = "sentence" if _ends_sentence(text, offset) else "word"
                points[kind].append(span.start + offset)
    return points


def _ends_sentence(text: str, offset: int) -> bool:
    """Whether text[:offset] ends with sentence punctuation, then any closing quotes/brackets."""
    # A scan back over the closers before one space: the stretches between spaces never overlap,
    # so a paragraph costs linear time. The regex this replaces was quadratic on a run of dots.
    index = offset - 1
    while index >= 0 and text[index] in _CLOSERS:
        index -= 1
    return index >= 0 and text[index] in _SENTENCE_MARKS


def _attaches(text: str, cut: int) -> bool:
    """Whether cutting before text[cut] would split a character from its marks or joiners."""
    if cut <= 0 or cut >= len(text):
        return False
    following, previous = text[cut], text[cut - 1]
    return (
        unicodedata.combining(following) != 0
        or following in _JOINERS
        or previous in _JOINERS
        or 0x1F3FB <= ord(following) <= 0x1F3FF  # skin-tone modifiers
    )
