"""HTML fragments (extracted page bodies, feed entries) to text chunks, keeping sub-headings."""

from __future__ import annotations

import lxml.html
from lxml import etree

from content.assemble import Chunk, ChunkKind

_HEADINGS = {"h1", "h2", "h3", "h4", "h5", "h6"}
_BLOCKS = _HEADINGS | {
    "p", "div", "li", "ul", "ol", "blockquote", "pre", "section", "article", "main", "header",
    "footer", "figure", "figcaption", "table", "tr", "dl", "dt", "dd", "body", "html", "aside",
}  # fmt: skip
_INVISIBLE = {"script", "style", "noscript", "template", "head", "title", "meta", "link"}


def chunks_from_html(fragment: str) -> list[Chunk]:
    """Text chunks of an HTML fragment: h1–h6 become headings, other blocks paragraphs."""
    if not fragment.strip():
        return []
    try:
        root = lxml.html.fragment_fromstring(fragment, create_parent="div")
    except (etree.ParserError, ValueError):
        return []
    return _Walker().walk(root)


def chunks_from_element(root: lxml.html.HtmlElement) -> list[Chunk]:
    """Text chunks of an already parsed element."""
    return _Walker().walk(root)


class _Walker:
    def __init__(self) -> None:
        self.chunks: list[Chunk] = []
        self.words: list[str] = []

    def walk(self, root: lxml.html.HtmlElement) -> list[Chunk]:
        self._visit(root, "paragraph")
        self._flush("paragraph")
        return self.chunks

    def _flush(self, kind: ChunkKind) -> None:
        text = "".join(self.words).strip()
        self.words.clear()
        if text:
            self.chunks.append(Chunk(text, kind))

    def _visit(self, element: etree._Element, kind: ChunkKind) -> None:
        tag = element.tag if isinstance(element.tag, str) else ""
        if tag.lower() in _INVISIBLE or not tag:  # comments and processing instructions
            return
        tag = tag.lower()
        block = tag in _BLOCKS
        own_kind: ChunkKind = "heading" if tag in _HEADINGS else kind
        if block:
            self._flush(kind)
        if tag == "br":
            self._flush(kind)
        elif element.text:
            self.words.append(element.text)
        for child in element:
            self._visit(child, own_kind)
            if child.tail:
                self.words.append(child.tail)
        if block:
            self._flush(own_kind)
