"""Finding stories on every configured database: normalisation, ranking, paging, bad input,
cross-links, and the index kept in step with the articles."""

from __future__ import annotations

import asyncio
import itertools
from datetime import UTC, datetime, timedelta

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.newsroom import search as newsroom
from bot.newsroom.search import PAGE_SIZE, Refusal, Results
from content.article import Article, Block, Section
from db import search, store
from db.migrate import alembic_config, downgrade, upgrade
from db.session import create_engine, create_sessionmaker, unit_of_work
from tests.integration import store_helpers

pytest_plugins = ["tests.integration.db_fixtures"]

Sessionmaker = async_sessionmaker[AsyncSession]

DAY = datetime(2026, 11, 1, 8, 0, tzinfo=UTC)
_URLS = itertools.count(1)


def article(
    title: str,
    body: str = "Nothing else to say.",
    *,
    lead: str | None = None,
    days: int = 0,
    language: str = "en",
    related: tuple[str, ...] = (),
) -> Article:
    """A one-paragraph article published `days` after DAY, with its own URL."""
    return Article(
        title=title,
        blocks=(Block("paragraph", body),),
        language=language,
        lead=lead,
        url=f"https://news.example/{next(_URLS)}",
        related=related,
        published=DAY + timedelta(days=days),
    )


async def add(session: AsyncSession, item: Article) -> int:
    """Store an article (one section, its body) through the store; its id."""
    sections = [Section(1, None, item.body_text, item.body_text)]
    row, created = await store.add_article(
        session=session, article=item, sections=sections, summary=item.title, now=DAY
    )
    assert created
    return row.id


async def titles(sessionmaker: Sessionmaker, words: str) -> list[str]:
    """The titles of the first page of a search, best first."""
    async with unit_of_work(sessionmaker) as session:
        found = await newsroom.search_stories(session=session, text=words, now=DAY)
    assert isinstance(found, Results), found
    return [a.title for a in found.articles]


async def test_title_matches_come_first_then_newer(sessionmaker: Sessionmaker) -> None:
    """Every word in the title ranks above words only in the body; newer above older."""
    async with unit_of_work(sessionmaker) as session:
        await add(session, article("Solar farm opens", "Panels everywhere.", days=1))
        await add(session, article("Council meets", "The solar farm was discussed.", days=5))
        await add(session, article("New solar farm planned", "More panels.", days=3))
        await add(session, article("Farm news", "Only the farm, no sun.", days=9))
        await add(session, article("Solar eclipse", "Dark at noon.", days=7))
    assert await titles(sessionmaker, "solar farm") == [
        "New solar farm planned",  # title, day 3
        "Solar farm opens",  # title, day 1
        "Council meets",  # body only, though newest of the matches
    ]


async def test_lead_and_body_are_searched(sessionmaker: Sessionmaker) -> None:
    """Words of the lead and of the sections match, as well as the title's."""
    async with unit_of_work(sessionmaker) as session:
        await add(session, article("Market day", "Oranges and lemons.", lead="Cheap figs."))
    assert await titles(sessionmaker, "figs") == ["Market day"]
    assert await titles(sessionmaker, "lemons") == ["Market day"]
    assert await titles(sessionmaker, "pears") == []


async def test_arabic_spelling_variants_match(sessionmaker: Sessionmaker) -> None:
    """Diacritics, tatweel, hamza forms of alef, ta marbuta and alef maqsura fold away."""
    async with unit_of_work(sessionmaker) as session:
        await add(
            session,
            article(
                "افتتاحُ محطّةٍ للطاقةِ الشمسيّة في إربد",
                "قال مدير المستشفى إن إنتاج الكهرباء سيرتفع مع بداية الصيف.",
                language="ar",
            ),
        )
    expected = ["افتتاحُ محطّةٍ للطاقةِ الشمسيّة في إربد"]
    assert await titles(sessionmaker, "محطه الشمسيه") == expected  # ta marbuta as ha
    assert await titles(sessionmaker, "ﺍﺭﺑﺪ") == expected  # presentation forms, alef
    assert await titles(sessionmaker, "انتاج") == expected  # alef with hamza below
    assert await titles(sessionmaker, "المستشفي") == expected  # alef maqsura as ya
    assert await titles(sessionmaker, "الشـــمسية") == expected  # tatweel
    assert await titles(sessionmaker, "القمر") == []


async def test_english_case_and_accents_fold(sessionmaker: Sessionmaker) -> None:
    """Case and Latin accents do not matter, on either side."""
    async with unit_of_work(sessionmaker) as session:
        await add(session, article("Café owners protest", "A RÉSUMÉ of the complaints."))
        await add(session, article("Naive questions", "An answer for the naïve."))
    assert await titles(sessionmaker, "CAFE") == ["Café owners protest"]
    assert await titles(sessionmaker, "résumé complaints") == ["Café owners protest"]
    assert await titles(sessionmaker, "Naïve") == ["Naive questions"]


async def test_every_word_is_required_and_the_last_may_be_a_prefix(
    sessionmaker: Sessionmaker,
) -> None:
    """All words must occur; the last one also matches longer words (from 3 letters on)."""
    async with unit_of_work(sessionmaker) as session:
        await add(session, article("Night buses return", "Routes resume on Monday."))
        await add(session, article("Night trains", "Buses are not affected."))
    assert await titles(sessionmaker, "night bus") == ["Night buses return", "Night trains"]
    assert await titles(sessionmaker, "bus night") == []  # only the last word is a prefix
    assert await titles(sessionmaker, "night bu") == []  # two letters: an exact word only
    assert await titles(sessionmaker, "return night") == ["Night buses return"]


@pytest.mark.parametrize(
    "words",
    [
        '"solar',
        'solar"',
        "solar*",
        "*",
        "-solar",
        "solar -farm",
        "title:solar",
        "title : solar",
        "document: solar",
        "solar NEAR farm",
        "NEAR(solar farm)",
        "solar AND farm",
        "solar OR farm",
        "NOT solar",
        "solar & farm | !x",
        "'solar':*",
        "solar\\",
        "(solar",
        "^solar",
        "{title} : solar",
    ],
)
async def test_search_syntax_is_read_literally(sessionmaker: Sessionmaker, words: str) -> None:
    """FTS5 and tsquery syntax in a search is punctuation or words, never an error."""
    async with unit_of_work(sessionmaker) as session:
        await add(session, article("Solar farm opens", "and or not near title document x"))
        await add(session, article("Farm gate", "Closed."))
    async with unit_of_work(sessionmaker) as session:
        found = await newsroom.search_stories(session=session, text=words, now=DAY)
    if found is not Refusal.EMPTY:  # "*" alone holds no word
        assert isinstance(found, Results)
        assert [a.title for a in found.articles] in ([], ["Solar farm opens"]), found
    # Operator words are words: this story holds "and", "or", "not" and "near".
    assert await titles(sessionmaker, "AND OR NOT NEAR") == ["Solar farm opens"]


@pytest.mark.parametrize(
    ("words", "refusal"),
    [
        ("", Refusal.EMPTY),
        ("   ", Refusal.EMPTY),
        ('" * - : ( ) ^', Refusal.EMPTY),
        ("x" * 1000, Refusal.TOO_LONG),
        ("solar " * 170, Refusal.TOO_LONG),
    ],
)
async def test_empty_and_overlong_searches_are_refused(
    sessionmaker: Sessionmaker, words: str, refusal: Refusal
) -> None:
    """No words, or more than 256 characters: a refusal the chat turns into a short answer."""
    async with unit_of_work(sessionmaker) as session:
        found = await newsroom.search_stories(session=session, text=words, now=DAY)
    assert found is refusal


async def test_a_long_search_uses_its_first_ten_words(sessionmaker: Sessionmaker) -> None:
    """Within 256 characters any number of words is accepted; the first ten count."""
    async with unit_of_work(sessionmaker) as session:
        await add(session, article("One two three", "four five six seven eight nine ten"))
    assert await titles(sessionmaker, "one two three four five six seven eight nine ten nope") == [
        "One two three"
    ]


@pytest.mark.parametrize("probe_limit", [search.PROBE_LIMIT, 2])
async def test_pages_of_ten_cover_every_match_once(
    sessionmaker: Sessionmaker, probe_limit: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """25 matches: pages of 10, 10 and 5, in ranking order, "more" on all but the last;
    on PostgreSQL both through the GIN index and, as for a frequent word, the rank index."""
    monkeypatch.setattr(search, "PROBE_LIMIT", probe_limit)
    async with unit_of_work(sessionmaker) as session:
        for day in range(25):
            # Every fifth title holds the word as well: they come first.
            body = "Ships and harbour." if day % 5 else "Ships."
            title = f"Harbour report {day}" if day % 5 == 0 else f"Port report {day}"
            await add(session, article(title, body, days=day))
        await add(session, article("Airport report", "Planes.", days=30))
        first = await newsroom.search_stories(session=session, text="harbour", now=DAY)
    assert isinstance(first, Results)
    pages = [first]
    while pages[-1].more:
        async with unit_of_work(sessionmaker) as session:
            following = await newsroom.search_page(
                session=session, key=first.key, page=pages[-1].page + 1, now=DAY
            )
        assert following is not None
        pages.append(following)
    assert [len(p.articles) for p in pages] == [PAGE_SIZE, PAGE_SIZE, 5]
    assert [p.first_number for p in pages] == [1, 11, 21]
    found = [a.title for p in pages for a in p.articles]
    assert found == [f"Harbour report {day}" for day in range(20, -1, -5)] + [
        f"Port report {day}" for day in range(24, -1, -1) if day % 5
    ]


async def test_a_forgotten_search_has_no_more_pages(sessionmaker: Sessionmaker) -> None:
    """Searches are kept for their "More" buttons for a week, then forgotten."""
    async with unit_of_work(sessionmaker) as session:
        first = await newsroom.search_stories(session=session, text="harbour", now=DAY)
        assert isinstance(first, Results)
        assert await newsroom.search_page(session=session, key=first.key, page=2, now=DAY)
        later = DAY + newsroom.REMEMBER_SEARCHES + timedelta(minutes=1)
        assert await newsroom.forget_old_searches(session=session, now=later) == 1
        assert await newsroom.search_page(session=session, key=first.key, page=2, now=DAY) is None
        assert await newsroom.search_page(session=session, key="0" * 16, page=2, now=DAY) is None


async def test_the_index_follows_rewrites_and_deletions(sessionmaker: Sessionmaker) -> None:
    """Re-indexing replaces the old words; a deleted article leaves nothing behind."""
    async with unit_of_work(sessionmaker) as session:
        first = await add(session, article("Bridge closed", "Repairs start today."))
        row = await store.get_article(session=session, article_id=first)
        assert row is not None
        row.title = "Tunnel closed"
        await session.flush()
        await search.index_article(session=session, article=row)
    assert await titles(sessionmaker, "bridge") == []
    assert await titles(sessionmaker, "tunnel repairs") == ["Tunnel closed"]
    async with unit_of_work(sessionmaker) as session:
        assert await store_helpers.delete_article(session=session, article_id=first)
    assert await titles(sessionmaker, "tunnel") == []
    async with unit_of_work(sessionmaker) as session:
        await add(session, article("Ferry timetable", "Boats at noon."))
    assert await titles(sessionmaker, "tunnel") == []
    assert await titles(sessionmaker, "ferry") == ["Ferry timetable"]


async def test_related_titles_are_matched_normalised(sessionmaker: Sessionmaker) -> None:
    """Cross-links name stories by title: found whatever the spelling, newest when repeated,
    in the order linked, never the story itself, and only those stored."""
    async with unit_of_work(sessionmaker) as session:
        trees = await add(
            session, article("البلديةُ تُطلِق خطة لزراعة ألف شجرة", language="ar", days=1)
        )
        await add(session, article("Water prices rise", days=1))
        newer_water = await add(session, article("Water prices rise", "Again.", days=4))
        main = await add(
            session,
            article(
                "Main story",
                related=(
                    "Water  PRICES rise",
                    "البلدية تطلق خطة لزراعة الف شجرة",
                    "A story we never stored",
                    "Main story",
                ),
            ),
        )
        row = await store.get_article(session=session, article_id=main)
        assert row is not None
        related = await newsroom.related_stories(session=session, article=row)
    assert [story.id for story in related] == [newer_water, trees]


async def test_existing_articles_are_indexed_by_the_migration(database_url: str) -> None:
    """Articles stored before the index existed are found once the migration has run."""
    before = ScriptDirectory.from_config(alembic_config(database_url)).get_revision("0008")
    assert before is not None and isinstance(before.down_revision, str)
    await asyncio.to_thread(upgrade, database_url)
    engine = create_engine(database_url)
    try:
        async with unit_of_work(create_sessionmaker(engine)) as session:
            await add(session, article("Lighthouse restored", "Paint and glass."))
    finally:
        await engine.dispose()
    await asyncio.to_thread(downgrade, database_url, before.down_revision)
    await asyncio.to_thread(upgrade, database_url)
    engine = create_engine(database_url)
    try:
        assert await titles(create_sessionmaker(engine), "lighthouse glass") == [
            "Lighthouse restored"
        ]
    finally:
        await engine.dispose()
