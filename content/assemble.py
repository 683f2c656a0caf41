"""The shape rules every parser shares: title, byline, lead, sub-headings, cross-links, footer."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from content.article import Article, Block
from content.errors import ContentError
from content.language import detect_language

ChunkKind = Literal["heading", "paragraph", "unknown"]

_SPACE = re.compile(r"\s+")
# "اقرأ أيضًا| …", "اقرأ أيضا: …", "Read also: …", "See also - …": a cross-link to another story.
_CROSS_LINK = re.compile(
    r"^(?:اقرأ|إقرأ|اقرا)\s+(?:أيضًا|أيضاً|أيضا|ايضا|ايضًا)\s*[|:：\-–—]\s*(?P<arabic>.+)$"
    r"|^(?:read\s+also|also\s+read|see\s+also|read\s+more)\s*[|:：\-–—]\s*(?P<latin>.+)$",
    re.IGNORECASE,
)
# The "more stories" block publishers append; it and everything after it is not the article.
_FOOTER = re.compile(
    r"^(?:ربما\s+(?:يعجبك|يعجبكم|تهمك)\s+(?:أيضًا|أيضاً|أيضا|ايضا)"
    r"|you\s+may\s+also\s+like|you\s+might\s+also\s+like|more\s+stories|related\s+stories)"
    r"\s*[:.…]?$",
    re.IGNORECASE,
)
_BYLINE_PREFIX = re.compile(r"^(?:by|بقلم|كتب|كتبت|تقرير)\s*[:\-–]?\s+", re.IGNORECASE)
_SENTENCE_END = tuple(".!,:;،؛…")
HEADING_MAX_CHARS = 80
HEADING_MAX_WORDS = 12
BYLINE_MAX_CHARS = 60
LEAD_MAX_CHARS = 600


@dataclass(frozen=True, slots=True)
class Chunk:
    """A raw piece of text a parser found; "unknown" lets the shape rules decide its role."""

    text: str
    kind: ChunkKind = "unknown"


def fold_space(text: str) -> str:
    """Collapse every run of whitespace to one space and trim the ends."""
    return _SPACE.sub(" ", text).strip()


def cross_link_text(text: str) -> str | None:
    """The linked story's title when the text is a cross-link line, else None."""
    match = _CROSS_LINK.match(text)
    if match is None:
        return None
    return fold_space(match.group("arabic") or match.group("latin"))


def is_footer(text: str) -> bool:
    """Whether the text opens the trailing "you may also like" block."""
    return _FOOTER.match(text) is not None


def looks_like_heading(text: str) -> bool:
    """A short line without closing punctuation (a question mark is fine) reads as a heading."""
    return (
        len(text) <= HEADING_MAX_CHARS
        and len(text.split()) <= HEADING_MAX_WORDS
        and not text.endswith(_SENTENCE_END)
        and cross_link_text(text) is None
    )


def _looks_like_byline(text: str) -> bool:
    if _BYLINE_PREFIX.match(text):
        return len(text) <= BYLINE_MAX_CHARS * 2
    return len(text) <= BYLINE_MAX_CHARS and len(text.split()) <= 7 and looks_like_heading(text)


def assemble(
    chunks: Iterable[Chunk],
    *,
    title: str | None = None,
    byline: str | None = None,
    lead: str | None = None,
    topics: Sequence[str] = (),
    url: str | None = None,
    published: datetime | None = None,
    guid: str | None = None,
    image: str | None = None,
    language: str | None = None,
    infer_byline: bool = True,
    infer_lead: bool = True,
) -> Article:
    """Build an Article from raw chunks, applying the shape rules; raise ContentError if empty."""
    pieces: list[Chunk] = []
    related: list[str] = []
    for chunk in chunks:
        text = fold_space(chunk.text)
        if not text:
            continue
        if is_footer(text):
            break
        link = cross_link_text(text)
        if link is not None:
            related.append(link)
            continue
        pieces.append(Chunk(text, chunk.kind))

    if title is None:
        if not pieces:
            raise ContentError("the source has no text")
        title = pieces.pop(0).text
    elif pieces and pieces[0].text.casefold() == title.casefold():
        pieces.pop(0)  # pages repeat their <title> as the first heading
    title = fold_space(title)
    if not title:
        raise ContentError("the article has no title")

    if (
        byline is None
        and infer_byline
        and pieces
        and pieces[0].kind != "heading"
        and _looks_like_byline(pieces[0].text)
        # A bare short line after the title could be the whole body; "By …" never is.
        and (len(pieces) > 1 or _BYLINE_PREFIX.match(pieces[0].text))
    ):
        byline = pieces.pop(0).text
    if (
        lead is None
        and infer_lead
        and len(pieces) > 1
        and pieces[0].kind != "heading"
        and not (pieces[0].kind == "unknown" and looks_like_heading(pieces[0].text))
        and len(pieces[0].text) <= LEAD_MAX_CHARS
    ):
        lead = pieces.pop(0).text

    blocks = _classify(pieces)
    if not blocks:
        raise ContentError(f"the article {title[:60]!r} has a title but no body text")
    clean_topics = tuple(dict.fromkeys(t for t in (normalize_topic(t) for t in topics) if t))
    return Article(
        title=title,
        blocks=blocks,
        language=language or detect_language(f"{title}\n{lead or ''}\n{blocks[0].text}"),
        byline=fold_space(byline) or None if byline is not None else None,
        lead=fold_space(lead) or None if lead is not None else None,
        topics=clean_topics,
        url=url.strip() or None if url else None,
        related=tuple(dict.fromkeys(related)),
        published=published,
        image=image,
        guid=guid,
    )


def normalize_topic(topic: str) -> str:
    """Topics compare case-insensitively and without surrounding space or a leading '#'."""
    return fold_space(topic).lstrip("#").casefold()


def _classify(pieces: Sequence[Chunk]) -> tuple[Block, ...]:
    """Decide heading or paragraph; a heading must be followed by a paragraph."""
    blocks: list[Block] = []
    for position, chunk in enumerate(pieces):
        following = pieces[position + 1] if position + 1 < len(pieces) else None
        if chunk.kind == "unknown":
            heading = (
                looks_like_heading(chunk.text)
                and following is not None
                and not (following.kind == "unknown" and looks_like_heading(following.text))
                and following.kind != "heading"
            )
        else:
            heading = chunk.kind == "heading" and following is not None
        blocks.append(Block("heading" if heading else "paragraph", chunk.text))
    return tuple(blocks)
