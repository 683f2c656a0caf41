"""/search at 100,000 stored articles: the bot's side of one search, p50 and p99.

What is timed is what the bot does for `/search WORDS` between taking the update and sending
the answer: one unit of work running the newsroom's `search_stories` (reading the words,
remembering the search for its "More" button, querying the full-text index, loading the page's
articles) and rendering the page with `search_results`. Telegram and the network are not in it.

The articles are synthetic: half English-like, half Arabic-like words drawn from two
vocabularies of 20,000 words with Zipf frequencies (a few very common words, a long tail),
a title of 8 words, a lead of 20 and a body of 250 (about 2 KB), indexed through the same
db.search code as `newsbot ingest`. The searches mix frequent, middling and rare words, two
and three words, a prefix being typed, words that match nothing, and pages 2-5 (a press of
"More", timed alone: its search is made first).

SQLite runs in a temporary file (or --sqlite PATH, kept and reused when it already holds the
articles). PostgreSQL runs when --database-url or NEWSBOT_TEST_DATABASE_URL is given: that
database is WIPED (schema public dropped), as the tests do with it, unless --reuse finds the
bench's articles there already (then only the searches run).

Run: .venv/bin/python bench/search.py [--articles 100000] [--searches 400]
     [--database-url postgresql+asyncpg://postgres@127.0.0.1:5432/DB [--reuse]]
     [--sqlite PATH] [--skip-sqlite]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import random
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import func, insert, select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.pool import NullPool

from bot.newsroom.search import Results, search_page, search_stories
from bot.telegram.messages import search_results
from db import search
from db.migrate import upgrade
from db.models import ArticleRow, SectionRow
from db.session import create_engine, create_sessionmaker, unit_of_work

VOCABULARY = 20_000
BATCH = 1_000
START = datetime(2024, 1, 1, tzinfo=UTC)
LATIN = "bcdfghjklmnprstvwz"
VOWELS = "aeiou"
ARABIC = "ابتثجحخدذرزسشصضطظعغفقكلمنهوي"


def vocabulary(rng: random.Random, letters: str, vowels: str) -> list[str]:
    """VOCABULARY distinct made-up words of 2-5 syllables."""
    found: dict[str, None] = {}
    while len(found) < VOCABULARY:
        syllables = rng.randint(2, 5)
        word = "".join(rng.choice(letters) + rng.choice(vowels) for _ in range(syllables))
        found[word] = None
    return list(found)


class Words:
    """Draws words of one language with Zipf frequencies."""

    def __init__(self, words: list[str]) -> None:
        self.words = words
        self.cumulative = list(itertools.accumulate(1 / rank for rank in range(1, len(words) + 1)))

    def draw(self, rng: random.Random, count: int) -> list[str]:
        return rng.choices(self.words, cum_weights=self.cumulative, k=count)


def languages(seed: int) -> dict[str, Words]:
    rng = random.Random(seed)
    return {
        "en": Words(vocabulary(rng, LATIN, VOWELS)),
        # Arabic-like: consonants with long vowels, some with ta marbuta at the end.
        "ar": Words(
            [w + ("ة" if n % 5 == 0 else "") for n, w in enumerate(vocabulary(rng, ARABIC, "اوي"))]
        ),
    }


async def fill(sessionmaker: async_sessionmaker[AsyncSession], count: int, seed: int) -> None:
    """Store `count` synthetic articles (ids 1..count) with their index entries."""
    rng = random.Random(seed)
    vocab = languages(seed)
    started = time.perf_counter()
    for first in range(1, count + 1, BATCH):
        articles, sections, entries = [], [], []
        for article_id in range(first, min(first + BATCH, count + 1)):
            language = "ar" if article_id % 2 else "en"
            words = vocab[language]
            title = " ".join(words.draw(rng, 8)).capitalize()
            lead = " ".join(words.draw(rng, 20)) + "."
            body = " ".join(words.draw(rng, 250)) + "."
            sort_at = START + timedelta(minutes=10 * article_id)
            articles.append(
                {
                    "id": article_id,
                    "title": title,
                    "byline": None,
                    "lead": lead,
                    "summary": lead,
                    "language": language,
                    "url": None,
                    "guid": None,
                    "content_hash": f"{article_id:064d}",
                    "published_at": sort_at,
                    "created_at": sort_at,
                    "sort_at": sort_at,
                    "related": [],
                    "section_count": 1,
                }
            )
            sections.append(
                {"article_id": article_id, "index": 1, "heading": None, "html": body, "text": body}
            )
            entries.append(
                search.IndexEntry.of(
                    article_id=article_id, title=title, lead=lead, texts=[body], sort_at=sort_at
                )
            )
        async with unit_of_work(sessionmaker) as session:
            await session.execute(insert(ArticleRow), articles)
            await session.execute(insert(SectionRow), sections)
            await search.index_articles(session=session, entries=entries)
        done = min(first + BATCH - 1, count)
        if done % 10_000 == 0 or done == count:
            elapsed = time.perf_counter() - started
            print(f"  stored {done:,} articles ({elapsed:.0f} s)", flush=True)


def searches(seed: int, count: int) -> list[tuple[str, str, int]]:
    """(kind, words, page) for `count` searches of several kinds, shuffled."""
    rng = random.Random(seed + 1)
    vocab = languages(seed)
    kinds: list[tuple[str, str, int]] = []
    for n in range(count):
        words = vocab["ar" if n % 2 else "en"].words
        kind = n % 8
        if kind == 0:
            kinds.append(("frequent word", words[rng.randrange(0, 20)], 1))
        elif kind == 1:
            kinds.append(("middling word", words[rng.randrange(200, 2_000)], 1))
        elif kind == 2:
            kinds.append(("rare word", words[rng.randrange(10_000, VOCABULARY)], 1))
        elif kind == 3:
            picked = [words[rng.randrange(0, 500)] for _ in range(2)]
            kinds.append(("two words", " ".join(picked), 1))
        elif kind == 4:
            picked = [words[rng.randrange(0, 3_000)] for _ in range(3)]
            kinds.append(("three words", " ".join(picked), 1))
        elif kind == 5:
            kinds.append(("prefix typed", words[rng.randrange(0, 2_000)][:3], 1))
        elif kind == 6:
            kinds.append(("no match", "zzzqqq" + words[rng.randrange(0, 100)], 1))
        else:
            kinds.append(("More: page 2-5", words[rng.randrange(0, 50)], rng.randint(2, 5)))
    rng.shuffle(kinds)
    return kinds


async def one_search(
    sessionmaker: async_sessionmaker[AsyncSession], words: str, page: int, now: datetime
) -> tuple[float, int]:
    """What the bot does for /search (page 1) or for a press of "More" (pages 2-5): its time
    in milliseconds and the stories on the page. A "More" needs its search first (untimed)."""
    key = None
    if page > 1:
        async with unit_of_work(sessionmaker) as session:
            first = await search_stories(session=session, text=words, now=now)
        assert isinstance(first, Results)
        key = first.key
    started = time.perf_counter()
    async with unit_of_work(sessionmaker) as session:
        if key is None:
            found = await search_stories(session=session, text=words, now=now)
        else:
            found = await search_page(session=session, key=key, page=page, now=now)
    if not isinstance(found, Results):
        raise RuntimeError(f"search {words!r} was refused: {found}")
    search_results(found, "en")
    return (time.perf_counter() - started) * 1000, len(found.articles)


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


async def measure(name: str, url: str, articles: int, count: int, seed: int) -> None:
    print(f"{name}: {url}", flush=True)
    await asyncio.to_thread(upgrade, url)
    engine = create_engine(url)
    sessionmaker = create_sessionmaker(engine)
    try:
        async with unit_of_work(sessionmaker) as session:
            stored = await session.scalar(select(func.count()).select_from(ArticleRow))
        if stored == 0:
            await fill(sessionmaker, articles, seed)
            if url.startswith("postgresql"):
                async with engine.connect() as connection:
                    autocommit = await connection.execution_options(isolation_level="AUTOCOMMIT")
                    await autocommit.execute(text("VACUUM ANALYZE"))
        elif stored != articles:
            raise SystemExit(f"{url} holds {stored:,} articles, not {articles:,}: use another")
        else:
            print(f"  reusing the {stored:,} stored articles")
        plan = searches(seed, count)
        now = datetime.now(UTC)
        for _, words, page in plan[:20]:  # warm the caches and the connection pool
            await one_search(sessionmaker, words, page, now)
        timings: dict[str, list[float]] = {}
        found: dict[str, list[int]] = {}
        for kind, words, page in plan:
            elapsed, shown = await one_search(sessionmaker, words, page, now)
            timings.setdefault(kind, []).append(elapsed)
            found.setdefault(kind, []).append(shown)
    finally:
        await engine.dispose()
    every = [t for values in timings.values() for t in values]
    print(f"  {'searches':<18}{'n':>5}{'p50 ms':>9}{'p99 ms':>9}{'max ms':>9}  stories/page")
    for kind, values in sorted(timings.items()):
        shown = statistics.mean(found[kind])
        print(
            f"  {kind:<18}{len(values):>5}{percentile(values, 0.5):>9.1f}"
            f"{percentile(values, 0.99):>9.1f}{max(values):>9.1f}  {shown:.1f}"
        )
    print(
        f"  {'all':<18}{len(every):>5}{percentile(every, 0.5):>9.1f}"
        f"{percentile(every, 0.99):>9.1f}{max(every):>9.1f}",
        flush=True,
    )


async def reset_postgresql(url: str) -> None:
    engine = create_async_engine(url, poolclass=NullPool)
    try:
        async with engine.begin() as connection:
            await connection.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
            await connection.execute(text("CREATE SCHEMA public"))
    finally:
        await engine.dispose()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--articles", type=int, default=100_000)
    parser.add_argument("--searches", type=int, default=400)
    parser.add_argument("--seed", type=int, default=15)
    parser.add_argument("--sqlite", type=Path, help="SQLite file to use (kept)")
    parser.add_argument(
        "--database-url",
        default=os.environ.get("NEWSBOT_TEST_DATABASE_URL"),
        help="PostgreSQL URL (WIPED first); default NEWSBOT_TEST_DATABASE_URL",
    )
    parser.add_argument("--skip-sqlite", action="store_true")
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="keep the PostgreSQL database if it holds this bench's articles already",
    )
    options = parser.parse_args()
    print(
        f"/search, bot side, at {options.articles:,} articles; {options.searches} searches "
        "(p50/p99 in milliseconds)"
    )
    if not options.skip_sqlite:
        with tempfile.TemporaryDirectory() as folder:
            path = options.sqlite or Path(folder) / "search.db"
            await measure(
                "SQLite",
                f"sqlite+aiosqlite:///{path}",
                options.articles,
                options.searches,
                options.seed,
            )
    if options.database_url:
        if not options.reuse:
            await reset_postgresql(options.database_url)
        await measure(
            "PostgreSQL", options.database_url, options.articles, options.searches, options.seed
        )
    else:
        print("PostgreSQL: skipped (give --database-url or NEWSBOT_TEST_DATABASE_URL)")


if __name__ == "__main__":
    asyncio.run(main())
