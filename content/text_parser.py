"""Plain-text and Markdown articles: title line, byline, lead, sub-headings, paragraphs."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from content.article import Article
from content.assemble import Chunk, assemble
from content.errors import ContentError
from content.images import resolve_image

_MD_LIST_ITEM = re.compile(r"^(?:[-*+•]|\d{1,3}[.)])\s+\S")
_MD_QUOTE = re.compile(r"^\s*>\s?")
# One character class repeated and nothing after it: a regex that cannot backtrack.
_LINK_TARGET = re.compile(r"[^)\s]*")
_MAX_HEADING_LEVEL = 6
_STRONG_MARKS = ("**", "__")
_FRONT_MATTER_KEYS = {
    "title": "title",
    "byline": "byline",
    "author": "byline",
    "lead": "lead",
    "topics": "topics",
    "topic": "topics",
    "tags": "topics",
    "url": "url",
    "published": "published",
    "date": "published",
    "language": "language",
    "image": "image",
}
_LANGUAGES = {"ar", "en"}


def parse_text(text: str) -> Article:
    """Parse a plain-text or Markdown article, with optional `---` front matter."""
    meta, body = _split_front_matter(text)
    chunks = list(_chunks(body))
    title = meta.get("title")
    if title is None and chunks and chunks[0].kind == "heading":
        title = chunks.pop(0).text  # a Markdown "# Title"
    topics = [t for t in re.split(r"[,،]", meta.get("topics", "").strip("[]")) if t.strip()]
    language = meta.get("language")
    if language is not None and language not in _LANGUAGES:
        raise ContentError(f"front matter: language must be one of ar, en (got {language!r})")
    return assemble(
        chunks,
        title=title,
        byline=meta.get("byline"),
        lead=meta.get("lead"),
        topics=[t.strip().strip("'\"") for t in topics],
        url=meta.get("url"),
        published=_parse_time(meta["published"]) if "published" in meta else None,
        language=language,
        image=_image(meta),
    )


def _image(meta: dict[str, str]) -> str | None:
    """Front matter `image:`, read against the article's `url:`; refused when it is no URL."""
    value = meta.get("image")
    if not value:
        return None
    image = resolve_image(value, meta.get("url"))
    if image is None:
        raise ContentError(
            f"front matter: image {value[:80]!r} is not an http(s) URL"
            + ("" if meta.get("url") else " (a relative one needs url:)")
        )
    return image


def _split_front_matter(text: str) -> tuple[dict[str, str], str]:
    """Read `key: value` lines between two `---` lines at the very top."""
    stripped = text.lstrip("\ufeff\n")
    if not stripped.startswith("---\n"):
        return {}, text
    lines = stripped.split("\n")
    try:
        end = lines.index("---", 1)
    except ValueError:
        raise ContentError("front matter: the opening '---' has no closing '---' line") from None
    meta: dict[str, str] = {}
    for number, line in enumerate(lines[1:end], start=2):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        key, colon, value = line.partition(":")
        field = _FRONT_MATTER_KEYS.get(key.strip().lower())
        if not colon or field is None:
            known = ", ".join(sorted(set(_FRONT_MATTER_KEYS.values())))
            raise ContentError(
                f"front matter line {number}: expected one of {known} as 'key: value'"
            )
        meta[field] = value.strip().strip("'\"") if field != "topics" else value.strip()
    return meta, "\n".join(lines[end + 1 :])


def _parse_time(value: str) -> datetime:
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise ContentError(f"front matter: published {value!r} is not an ISO 8601 time") from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _chunks(body: str) -> list[Chunk]:
    """Blank lines separate paragraphs; Markdown headings and list items stand alone."""
    chunks: list[Chunk] = []
    lines: list[str] = []

    def flush() -> None:
        if lines:
            chunks.append(Chunk(" ".join(lines)))
            lines.clear()

    for raw in body.split("\n"):
        line = _inline_markdown(_MD_QUOTE.sub("", raw)).strip()
        heading = _heading(line)
        item = _MD_LIST_ITEM.match(line)
        if not line:
            flush()
        elif heading is not None:
            flush()
            chunks.append(Chunk(heading, "heading"))
        elif item:
            flush()
            chunks.append(Chunk(line, "paragraph"))
        else:
            lines.append(line)
    flush()
    return chunks


# The Markdown below is read by scanners, not regexes: the patterns that say it in one line
# ("(.*?)\s*#*\s*$", "\[([^\]]+)\]\(…\)", "(\*\*|__)(?=\S)(.+?)(?<=\S)\1") backtrack, and took
# minutes on one hostile line of a few kilobytes. Each scanner returns what those regexes did
# (tests hold them side by side) in time linear in the line.


def _heading(line: str) -> str | None:
    """The text of a Markdown heading line (`## Text ##`), or None when it is not one."""
    level = len(line) - len(line.lstrip("#"))
    if not 1 <= level <= _MAX_HEADING_LEVEL or level == len(line) or not line[level].isspace():
        return None
    start = len(line) - len(line[level:].lstrip())
    end = len(line.rstrip())
    end = len(line[:end].rstrip("#"))  # an optional closing run of "#"
    end = len(line[:end].rstrip())
    return line[start : max(start, end)]


def _inline_markdown(line: str) -> str:
    """Drop Markdown emphasis and link syntax, keeping the words a reader sees."""
    return _drop_strong(_drop_links(line))


def _drop_links(line: str) -> str:
    """Every `[text](target)` becomes its text, scanning left to right."""
    out: list[str] = []
    done = 0  # line[:done] is in out
    target_stop = -1  # where the last scan of a target stopped (")", a space or the end)
    i = line.find("[")
    while i != -1:
        close = line.find("]", i + 1)
        if close == -1:
            break
        start = close + 2  # the target's first character, after "]("
        if close > i + 1 and line.startswith("(", close + 1):
            # A later scan that starts inside the last one stops where it did: no rescans.
            if start > target_stop:
                target_stop = _LINK_TARGET.match(line, start).end()  # type: ignore[union-attr]
            if target_stop > start and line.startswith(")", target_stop):
                out.append(line[done:i])
                out.append(line[i + 1 : close])
                done = target_stop + 1
                i = line.find("[", done)
                continue
        # Every "[" before this "]" shares it and its target, so none of them opens a link.
        i = line.find("[", close + 1)
    out.append(line[done:])
    return "".join(out)


def _drop_strong(line: str) -> str:
    """Every `**text**` or `__text__` becomes its text, scanning left to right."""
    out: list[str] = []
    done = 0
    closer = _Closers(line)
    opener = _Openers(line)
    i = opener.next(0)
    while i != -1:
        mark = line[i : i + 2]
        end = -1
        if i + 2 < len(line) and not line[i + 2].isspace():
            end = closer.first(mark, i + 3)
        if end == -1:
            i = opener.next(i + 1)
            continue
        out.append(line[done:i])
        out.append(line[i + 2 : end])
        done = end + 2
        i = opener.next(done)
    out.append(line[done:])
    return "".join(out)


class _Openers:
    """The next `**` or `__` at or after a position that only moves forward."""

    def __init__(self, line: str) -> None:
        self.line = line
        self.found = {mark: -2 for mark in _STRONG_MARKS}  # -2: not looked for yet

    def next(self, start: int) -> int:
        """The first position >= start where a mark begins, or -1."""
        positions = []
        for mark in _STRONG_MARKS:
            found = self.found[mark]
            if found != -1 and found < start:
                found = self.found[mark] = self.line.find(mark, start)
            if found != -1:
                positions.append(found)
        return min(positions, default=-1)


class _Closers:
    """The first closing mark at or after a position, remembered while queries move forward."""

    def __init__(self, line: str) -> None:
        self.line = line
        # Per mark: the last query's start and its answer. The answer holds for any later start
        # up to it, so each stretch of the line is searched once.
        self.known: dict[str, tuple[int, int]] = {}

    def first(self, mark: str, start: int) -> int:
        """The first `mark` at or after `start` that follows a non-space character, or -1."""
        asked, answer = self.known.get(mark, (-1, -2))
        if asked != -1 and asked <= start and (answer == -1 or start <= answer):
            return answer
        found = self.line.find(mark, start)
        while found != -1 and self.line[found - 1].isspace():
            found = self.line.find(mark, found + 1)
        self.known[mark] = (start, found)
        return found
