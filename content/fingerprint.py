"""A stable fingerprint of an article's words, so the same story is stored only once."""

import hashlib
import re

from content.article import Article

_SPACE = re.compile(r"\s+")


def content_hash(article: Article) -> str:
    """SHA-256 (hex) of the title and body with whitespace folded and case ignored."""
    words = _SPACE.sub(" ", f"{article.title}\n{article.body_text}").strip().casefold()
    return hashlib.sha256(words.encode("utf-8")).hexdigest()
