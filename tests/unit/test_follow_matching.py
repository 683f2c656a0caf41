"""Follows: the fan-out's matcher agrees with content.normalise.contains_phrase, and a reader's
schedule (hourly digests around quiet hours, daily ones across a DST change)."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.newsroom.readers import follow_phrase, next_digest
from content.normalise import contains_phrase, normalise
from db.audience import edition_of, phrases_in
from db.models import ChatRow

# Words in both scripts, with the variants readers type: hamza forms, ta marbuta, diacritics,
# tatweel, Arabic-Indic digits, Latin case and accents.
WORDS = [
    "محطة", "محطه", "مَحطّة", "شمسية", "شمسيه", "أحمد", "احمد", "إسلام", "مستشفى", "مستشفي",
    "الـكهرباء", "الكهرباء", "٢٠٢٦", "2026", "Night", "night", "NÍGHT", "bus", "Bús", "café",
    "cafe", "city", "City", "solar", "power",
]  # fmt: skip

texts = st.lists(st.sampled_from(WORDS), min_size=0, max_size=30).map(" ".join)
phrases = st.lists(st.sampled_from(WORDS), min_size=1, max_size=3).map(" ".join)


@settings(max_examples=300, deadline=None)
@given(text=texts, typed=st.lists(phrases, min_size=1, max_size=5))
def test_the_matcher_agrees_with_contains_phrase(text: str, typed: list[str]) -> None:
    stored = {normalise(words): words for words in typed}
    found = phrases_in(normalise(text), stored)
    assert found == {p for p, words in stored.items() if contains_phrase(text, words)}


def test_spelling_variants_match_and_parts_of_words_do_not() -> None:
    story = normalise("افتُتحت مَحطّةُ الطاقة الشمسيّة في المدينة عام ٢٠٢٦ — City's NIGHT-bus café")
    assert phrases_in(story, {normalise("محطه"), normalise("الشمسية")}) == {"محطه", "الشمسيه"}
    assert phrases_in(story, {normalise("2026"), normalise("night bus"), normalise("cafe")}) == {
        "2026",
        "night bus",
        "cafe",
    }
    assert phrases_in(story, {normalise("شمس"), normalise("bus café city")}) == set()
    assert follow_phrase("  Night   BÚS ") == "night bus"


def test_editions_of_story_languages() -> None:
    assert [edition_of(x) for x in ("ar", "ar-EG", "EN", "en-GB", "fr")] == [
        "ar",
        "ar",
        "en",
        "en",
        "fr",
    ]


def _chat(**values: object) -> ChatRow:
    chat = ChatRow(chat_id=1, kind="private", active=True, digest="off")
    for name, value in values.items():
        setattr(chat, name, value)
    return chat


def test_an_hourly_digest_waits_for_quiet_hours_to_end() -> None:
    chat = _chat(digest="hourly", quiet_start=23 * 60, quiet_end=7 * 60 + 30)
    assert next_digest(chat, now=datetime(2026, 6, 1, 21, 10, tzinfo=UTC), default_zone="UTC") == (
        datetime(2026, 6, 1, 22, 0, tzinfo=UTC)
    )
    assert next_digest(chat, now=datetime(2026, 6, 1, 22, 10, tzinfo=UTC), default_zone="UTC") == (
        datetime(2026, 6, 2, 7, 30, tzinfo=UTC)
    )


def test_a_daily_digest_keeps_its_local_time_across_a_dst_change() -> None:
    chat = _chat(digest="daily", digest_at=8 * 60, timezone="Europe/Berlin")
    before = next_digest(chat, now=datetime(2026, 3, 28, 12, 0, tzinfo=UTC), default_zone="UTC")
    after = next_digest(chat, now=datetime(2026, 3, 29, 12, 0, tzinfo=UTC), default_zone="UTC")
    assert before == datetime(2026, 3, 29, 6, 0, tzinfo=UTC)  # 08:00 CEST (the day it starts)
    assert after == datetime(2026, 3, 30, 6, 0, tzinfo=UTC)
    assert next_digest(_chat(), now=before, default_zone="UTC") is None
