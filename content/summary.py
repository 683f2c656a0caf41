"""Short summaries: the lead when there is one, else the first, most central sentences."""

from __future__ import annotations

import re
from collections import Counter

from content.article import Article

SUMMARY_LIMIT = 400
_CANDIDATES = 12  # only the opening of a news story is summary material
_MAX_SENTENCES = 3  # a summary is a glance, not a rewrite
_SENTENCE = re.compile(r"[^.!?؟؛…]+(?:[.!?؟؛…]+[\"'»”’)\]]*|$)")
_WORD = re.compile(r"\w+")
_ARABIC_MARKS = re.compile(r"[\u064B-\u0652\u0670\u0640]")  # harakat and tatweel
_STOPWORD_TEXT = """
the a an and or but of to in on at for with by from as is are was were be been it its this that
these those he she they we you i his her their our not no said says will would has have had
في من على إلى الى عن مع أن ان إن التي الذي الذين هذا هذه ذلك تلك كان كانت قد لم لن ما لا هو هي هم
و أو او ثم كما بعد قبل حتى عند بين كل أي وقال قال
"""
_STOPWORDS = frozenset(_STOPWORD_TEXT.split())


def summarize(article: Article, *, limit: int = SUMMARY_LIMIT) -> str:
    """The article's lead, or an extractive summary of its body; at most `limit` characters."""
    if article.lead:
        return shorten(article.lead, limit)
    found = (
        sentence
        for block in article.blocks
        if block.kind == "paragraph"
        for sentence in (m.group().strip() for m in _SENTENCE.finditer(block.text))
        if sentence
    )
    sentences = list(dict.fromkeys(found))[:_CANDIDATES]
    if not sentences:
        return shorten(article.title, limit)
    ranked = _most_central(sentences)
    chosen: list[int] = []
    length = -1  # the first sentence needs no joining space
    for position in ranked:
        if len(chosen) < _MAX_SENTENCES and length + 1 + len(sentences[position]) <= limit:
            chosen.append(position)
            length += 1 + len(sentences[position])
    if not chosen:
        return shorten(sentences[ranked[0]], limit)
    return " ".join(sentences[position] for position in sorted(chosen))


def shorten(text: str, limit: int = SUMMARY_LIMIT) -> str:
    """Cut text to at most `limit` characters at a word boundary, marking the cut with "…"."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    if " " in cut and not text[limit - 1].isspace():
        cut = cut[: cut.rindex(" ")]
    return cut.rstrip(" ,،;؛:") + "…"


def _most_central(sentences: list[str]) -> list[int]:
    """Sentence positions, best first: word overlap with the rest, favouring the opening."""
    bags = [Counter(_words(sentence)) for sentence in sentences]
    scores: list[tuple[float, int]] = []
    for position, bag in enumerate(bags):
        overlap = sum(
            sum((bag & other).values()) for index, other in enumerate(bags) if index != position
        )
        centrality = overlap / (1 + sum(bag.values()))
        scores.append((centrality + 1.0 / (1 + position), position))
    return [position for _, position in sorted(scores, key=lambda item: (-item[0], item[1]))]


def _words(sentence: str) -> list[str]:
    normalized = _ARABIC_MARKS.sub("", sentence.casefold())
    normalized = normalized.translate(str.maketrans("أإآ", "ااا"))
    return [w for w in _WORD.findall(normalized) if w not in _STOPWORDS and len(w) > 1]
