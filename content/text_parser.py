"""Plain-text and Markdown articles: title line, byline, lead, sub-headings, paragraphs."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from content.article import Article
from content.assemble import Chunk, assemble
from content.errors import ContentError

_MD_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_MD_LIST_ITEM = re.compile(r"^(?:[-*+•]|\d{1,3}[.)])\s+\S")
_MD_QUOTE = re.compile(r"^\s*>\s?")
_MD_LINK = re.compile(r"\[([^\]\n]+)\]\((?:[^)\s]+)\)")
_MD_STRONG = re.compile(r"(\*\*|__)(?=\S)(.+?)(?<=\S)\1")
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
    )


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
        heading = _MD_HEADING.match(line)
        item = _MD_LIST_ITEM.match(line)
        if not line:
            flush()
        elif heading:
            flush()
            chunks.append(Chunk(heading.group(2), "heading"))
        elif item:
            flush()
            chunks.append(Chunk(line, "paragraph"))
        else:
            lines.append(line)
    flush()
    return chunks


def _inline_markdown(line: str) -> str:
    """Drop Markdown emphasis and link syntax, keeping the words a reader sees."""
    return _MD_STRONG.sub(r"\2", _MD_LINK.sub(r"\1", line))
