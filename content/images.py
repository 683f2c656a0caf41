"""The lead image of an article: a page's og:image or first real picture, a feed entry's media.

Only absolute http(s) URLs come out: a relative one is resolved against the page's address, and
one that cannot be (no address known, another scheme, a data: URL) is no image at all.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import urljoin, urlsplit

import lxml.html
from lxml import etree

MAX_URL_LENGTH = 2048
# Below this many pixels on a side an <img> is an icon, a spacer or a tracking pixel.
MIN_SIDE = 100
_META_IMAGE_KEYS = (
    "og:image:secure_url",
    "og:image:url",
    "og:image",
    "twitter:image",
    "twitter:image:src",
)
# Attributes lazy-loading scripts keep the real address in, before `src` (often a placeholder).
_LAZY_SOURCES = ("data-src", "data-lazy-src", "data-original", "data-url")
# Words in a file name that mark page furniture rather than the story's picture.
_FURNITURE = re.compile(
    r"(?i)(?:^|[/_.-])(?:pixel|spacer|blank|tracking|tracker|beacon|logo|icon|favicon|avatar"
    r"|sprite|badge|emoji|placeholder|loader|loading)(?:[/_.-]|\d|$)"
)
# Where a page keeps its navigation and its other stories: not the article's picture.
_NOT_ARTICLE = {"nav", "header", "footer", "aside", "noscript", "form"}
_NUMBER = re.compile(r"\s*(\d+)")


def resolve_image(value: str | None, base: str | None) -> str | None:
    """An absolute http(s) URL for an image reference, or None when it cannot be one."""
    if value is None:
        return None
    value = value.strip()
    if not value or value.lower().startswith("data:") or len(value) > MAX_URL_LENGTH:
        return None
    if value.startswith("//"):
        value = f"https:{value}"  # a scheme-relative address; Telegram fetches https
    if base:
        value = urljoin(base, value)
    parts = urlsplit(value)
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return None
    if any(character.isspace() for character in value):
        value = value.replace(" ", "%20")
        if any(character.isspace() for character in value):
            return None
    return value if len(value) <= MAX_URL_LENGTH else None


def _is_svg(url: str) -> bool:
    return urlsplit(url).path.lower().endswith((".svg", ".svgz"))


def _side(value: str | None) -> int | None:
    match = _NUMBER.match(value or "")
    return int(match.group(1)) if match else None


def page_base(page: lxml.html.HtmlElement, url: str | None) -> str | None:
    """The address relative links of a page are read against: <base href>, else the page's."""
    bases = page.xpath("//base/@href")
    found = str(bases[0]).strip() if isinstance(bases, list) and bases else ""
    own = url or _first(
        page, "//link[@rel='canonical']/@href", "//meta[@property='og:url']/@content"
    )
    if found:
        return urljoin(own, found) if own else found
    return own


def _first(page: lxml.html.HtmlElement, *xpaths: str) -> str | None:
    for xpath in xpaths:
        result = page.xpath(xpath)
        for value in result if isinstance(result, list) else []:
            if str(value).strip():
                return str(value).strip()
    return None


def html_image(page: lxml.html.HtmlElement, *, url: str | None = None) -> str | None:
    """The lead image of a parsed page: og:image / twitter:image, else its first real <img>."""
    base = page_base(page, url)
    for node in page.iter("meta"):
        key = (node.get("property") or node.get("name") or "").strip().lower()
        if key in _META_IMAGE_KEYS:
            found = resolve_image(node.get("content"), base)
            if found is not None and not _is_svg(found):
                return found
    linked = _first(page, "//link[@rel='image_src']/@href")
    if (found := resolve_image(linked, base)) is not None and not _is_svg(found):
        return found
    return first_picture(page, base)


def first_picture(root: etree._Element, base: str | None) -> str | None:
    """The first <img> of the article (or the page) that is a picture, not furniture."""
    scopes = [
        *root.iter("article"),
        *root.iter("main"),
        *(node for node in root.iter() if node.get("role") == "main"),
    ]
    for scope in [*scopes, root]:
        found = _picture_in(scope, base)
        if found is not None:
            return found
    return None


def _picture_in(scope: etree._Element, base: str | None) -> str | None:
    for image in scope.iter("img"):
        if any(
            isinstance(parent.tag, str) and parent.tag.lower() in _NOT_ARTICLE
            for parent in image.iterancestors()
        ):
            continue
        width, height = _side(image.get("width")), _side(image.get("height"))
        if (width is not None and width < MIN_SIDE) or (height is not None and height < MIN_SIDE):
            continue
        for attribute in (*_LAZY_SOURCES, "src"):
            found = resolve_image(image.get(attribute), base)
            if found is None:
                continue
            if _is_svg(found) or _FURNITURE.search(urlsplit(found).path):
                break
            return found
    return None


def fragment_image(fragment: str, base: str | None) -> str | None:
    """The first real <img> of an HTML fragment (a feed entry's content)."""
    if "<img" not in fragment.lower():
        return None
    try:
        root = lxml.html.fragment_fromstring(fragment, create_parent="div")
    except (etree.ParserError, ValueError):
        return None
    return first_picture(root, base)


def feed_image(entry: Mapping[str, Any], *, base: str | None, body: str = "") -> str | None:
    """A feed entry's image: media:content or :thumbnail, an image enclosure, its first <img>."""
    media = [item for item in _dicts(entry.get("media_content")) if _is_image_media(item)]
    media.sort(key=lambda item: -(_side(str(item.get("width") or "")) or 0))
    candidates = [item.get("url") for item in media]
    candidates += [item.get("url") for item in _dicts(entry.get("media_thumbnail"))]
    candidates += [
        item.get("href") or item.get("url")
        for item in _dicts(entry.get("enclosures"))
        if str(item.get("type") or "").lower().startswith("image/")
    ]
    image = entry.get("image")
    if isinstance(image, Mapping):
        candidates.append(image.get("href") or image.get("url"))
    for candidate in candidates:
        found = resolve_image(str(candidate) if candidate else None, base)
        if found is not None and not _is_svg(found):
            return found
    return fragment_image(body, base) if body else None


def _dicts(value: Any) -> Iterable[Mapping[str, Any]]:
    if not isinstance(value, list):
        return []
    return [item for item in value if isinstance(item, Mapping)]


def _is_image_media(item: Mapping[str, Any]) -> bool:
    """media:content names its kind by medium or type; without either, it may be a picture."""
    medium = str(item.get("medium") or "").lower()
    kind = str(item.get("type") or "").lower()
    if medium:
        return medium == "image"
    return not kind or kind.startswith("image/")
