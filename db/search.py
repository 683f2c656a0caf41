"""The search index: every article's words folded by content.normalise, and the searches.

Both sides of a match go through `content.normalise`: the stored title, lead and body here,
and the reader's words in the newsroom. The index is a real full-text index on each database:

- PostgreSQL: `article_search.title` and `.document` are tsvectors made with the 'simple'
  configuration (no stemming, no stop words: the text is already folded), each with a GIN
  index; a search is a tsquery of the words, all required.
- SQLite: the same table holds the normalised text, and the FTS5 table `article_search_fts`
  indexes it (external content, its rowid the row's `rank`). Triggers made by the migration
  keep it in step with the rows written here, deletions by ON DELETE CASCADE included.

Ranking is the same on both: stories whose title holds every word first, then the others;
newer before older within each. `rank` encodes "newer" as a unique integer, so each database
reads a page of matches in index order (the FTS5 rowid; a btree on PostgreSQL) rather than
sorting all of them: a word found in half of 100,000 stories costs no more than a rare one.
The reader's words never reach either database's query syntax unquoted: each is a quoted
term, so `AND`, `NEAR`, `"`, `*`, `-` and `:` are only words.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import (
    BigInteger,
    ColumnClause,
    Text,
    and_,
    bindparam,
    delete,
    func,
    literal_column,
    select,
    text,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from content.normalise import normalise, words
from db.models import SEARCH_FTS_TABLE, ArticleRow, ArticleSearchRow, SearchQueryRow, SectionRow

# A document's words beyond this many characters are not indexed: a news story is far
# shorter, and PostgreSQL refuses a tsvector over 1 MB.
MAX_INDEXED_CHARS = 100_000
TITLE_KEY_CHARS = 200  # enough to tell titles apart; a btree entry must stay small
PREFIX_MIN_CHARS = 3  # the last word also matches longer words from this length on
SEARCH_KEY_CHARS = 16


@dataclass(frozen=True, slots=True)
class Terms:
    """What a search looks for: every word (folded), the last one also as a prefix if asked."""

    words: tuple[str, ...]
    prefix: bool = False

    @property
    def key(self) -> str:
        """A short stable name for these terms (a button's data carries it)."""
        digest = hashlib.sha256(f"{int(self.prefix)} {' '.join(self.words)}".encode())
        return digest.hexdigest()[:SEARCH_KEY_CHARS]

    @property
    def prefix_applies(self) -> bool:
        """Whether the last word also matches longer words (too short a stem matches all)."""
        return self.prefix and bool(self.words) and len(self.words[-1]) >= PREFIX_MIN_CHARS


RANK_EPOCH = datetime(2020, 1, 1, tzinfo=UTC)
ID_BITS = 31  # article ids are PostgreSQL integers: below 2^31
_SECONDS_LIMIT = 2**31  # ±68 years around 2020; rank stays within a signed 64-bit integer


def rank_of(sort_at: datetime, article_id: int) -> int:
    """The index order of an article: newer is higher, and the id breaks ties (unique)."""
    seconds = math.floor((sort_at - RANK_EPOCH).total_seconds())
    seconds = min(max(seconds, -_SECONDS_LIMIT), _SECONDS_LIMIT - 1)
    return (seconds << ID_BITS) | article_id


def article_id_of(rank: int) -> int:
    """The article id a rank was made from."""
    return rank & ((1 << ID_BITS) - 1)


def _cut(folded: str, limit: int) -> str:
    """At most `limit` characters of normalised text, ending on a whole word."""
    if len(folded) <= limit:
        return folded
    cut = folded[: limit + 1]
    return cut[: cut.rfind(" ")] if " " in cut else cut[:limit]


@dataclass(frozen=True, slots=True)
class IndexEntry:
    """One article's row of the index, already normalised."""

    article_id: int
    title: str
    document: str
    sort_at: datetime

    @classmethod
    def of(
        cls,
        *,
        article_id: int,
        title: str,
        lead: str | None,
        texts: Iterable[str],
        sort_at: datetime,
    ) -> IndexEntry:
        """Fold an article's title, lead and section texts into its index entry."""
        folded_title = normalise(title)
        parts, size = [title, lead or ""], 0
        for part in texts:  # folding never lengthens a text much: twice the limit is plenty
            if size > 2 * MAX_INDEXED_CHARS:
                break
            parts.append(part)
            size += len(part)
        body = normalise("\n".join(parts))
        return cls(article_id, folded_title, _cut(body, MAX_INDEXED_CHARS), sort_at)


def _is_postgresql(session: AsyncSession) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def _insert(
    session: AsyncSession, entity: type[ArticleSearchRow] | type[SearchQueryRow]
) -> postgresql.Insert | sqlite.Insert:
    """The dialect's INSERT (db.store imports this module, so not db.store.dialect_insert)."""
    return postgresql.insert(entity) if _is_postgresql(session) else sqlite.insert(entity)


async def index_articles(*, session: AsyncSession, entries: Sequence[IndexEntry]) -> None:
    """Write (or rewrite) the index entries of these articles."""
    if not entries:
        return
    ids = [entry.article_id for entry in entries]
    # A rewrite is a delete and an insert: on SQLite the delete trigger takes the old words
    # out of the FTS5 index, which needs them to be exactly what it was given.
    await session.execute(delete(ArticleSearchRow).where(ArticleSearchRow.article_id.in_(ids)))
    rows = [
        {
            "article_id": entry.article_id,
            "title_key": entry.title[:TITLE_KEY_CHARS],
            "title": entry.title,
            "document": entry.document,
            "rank": rank_of(entry.sort_at, entry.article_id),
        }
        for entry in entries
    ]
    stmt = _insert(session, ArticleSearchRow)
    if _is_postgresql(session):
        stmt = stmt.values(
            article_id=bindparam("article_id"),
            title_key=bindparam("title_key"),
            title=func.to_tsvector("simple", bindparam("title", type_=Text)),
            document=func.to_tsvector("simple", bindparam("document", type_=Text)),
            rank=bindparam("rank", type_=BigInteger),
        )
    await session.execute(stmt, rows)


async def unindex_article(*, session: AsyncSession, article_id: int) -> None:
    """Take an article out of the index (a withdrawn story is found by no search)."""
    await session.execute(
        delete(ArticleSearchRow).where(ArticleSearchRow.article_id == article_id)
    )


async def index_article(*, session: AsyncSession, article: ArticleRow) -> None:
    """Index one stored article from its rows (title, lead and sections as stored)."""
    texts = await session.scalars(
        select(SectionRow.text)
        .where(SectionRow.article_id == article.id)
        .order_by(SectionRow.index)
    )
    entry = IndexEntry.of(
        article_id=article.id,
        title=article.title,
        lead=article.lead,
        texts=list(texts),
        sort_at=article.sort_at,
    )
    await index_articles(session=session, entries=[entry])


def _fts_query(terms: Terms, column: str | None = None) -> str:
    """An FTS5 query: every word a quoted phrase (so never an operator), all required."""
    scope = f"{column} : " if column else ""
    parts = [f'{scope}"{word.replace(chr(34), chr(34) * 2)}"' for word in terms.words]
    if terms.prefix_applies:
        parts[-1] += "*"
    return " ".join(parts)


def _tsquery(terms: Terms) -> str:
    """A tsquery: every word a quoted lexeme, joined by AND."""
    parts = ["'" + word.replace("\\", "\\\\").replace("'", "''") + "'" for word in terms.words]
    if terms.prefix_applies:
        parts[-1] += ":*"
    return " & ".join(parts)


# PostgreSQL: up to this many matches are fetched through the GIN index and ordered by rank
# here; beyond it a word is frequent, and walking the rank index finds a page at once.
PROBE_LIMIT = 2_000
# Both planner settings in one round trip, for the rest of the transaction (SET LOCAL).
_PLANNER_SETTINGS = text(
    "SELECT set_config('enable_indexscan', :scans, true), "
    "set_config('enable_seqscan', :scans, true)"
)


async def _tier(
    session: AsyncSession, terms: Terms, *, in_title: bool, offset: int, limit: int
) -> list[int]:
    """Ranks of the matches whose title holds every word (or of the others), highest first.

    SQLite walks the FTS5 index in rowid (rank) order and stops at the page. PostgreSQL's
    planner cannot know how many stories hold a word it has no statistics for, and may walk
    the rank index through every row for a word found nowhere; so the GIN index is asked
    first, and the rank index walked only for a word it finds everywhere.
    """
    if not _is_postgresql(session):
        title_query = _fts_query(terms, "title")
        match = title_query if in_title else f"({_fts_query(terms)}) NOT ({title_query})"
        fts: ColumnClause[str] = literal_column(SEARCH_FTS_TABLE)
        rowid: ColumnClause[int] = literal_column("rowid", BigInteger)
        stmt = (
            select(rowid)
            .select_from(text(SEARCH_FTS_TABLE))
            .where(fts.op("MATCH")(bindparam("q", match, type_=Text)))
            .order_by(rowid.desc())
        )
        return list(await session.scalars(stmt.offset(offset).limit(limit)))
    search = ArticleSearchRow.__table__.c
    # Written into the statement, not bound: a prepared statement's generic plan would take
    # every search for a frequent word.
    words = bindparam("q", _tsquery(terms), type_=Text, literal_execute=True)
    query = func.to_tsquery("simple", words)
    title_match = search.title.bool_op("@@")(query)
    where = title_match if in_title else and_(search.document.bool_op("@@")(query), ~title_match)
    # Only the GIN index (a bitmap scan) may answer the probe; the settings end with the
    # transaction, and are put back at once for the rest of it.
    await session.execute(_PLANNER_SETTINGS, {"scans": "off"})
    try:
        probed = list(await session.scalars(select(search.rank).where(where).limit(PROBE_LIMIT)))
    finally:
        await session.execute(_PLANNER_SETTINGS, {"scans": "on"})
    if len(probed) < PROBE_LIMIT:
        return sorted(probed, reverse=True)[offset : offset + limit]
    walk = select(search.rank).where(where).order_by(search.rank.desc())
    return list(await session.scalars(walk.offset(offset).limit(limit)))


async def find_article_ids(
    *, session: AsyncSession, terms: Terms, offset: int, limit: int
) -> list[int]:
    """Ids of the articles holding every word, best first: those whose title holds every
    word, then the others; newer before older within each."""
    if not terms.words or limit <= 0:
        return []
    # The title matches come first: as many as the page reaches into them, then the rest.
    titled = await _tier(session, terms, in_title=True, offset=0, limit=offset + limit)
    ranks = titled[offset:]
    if len(titled) < offset + limit:  # every title match is known: the others follow
        ranks += await _tier(
            session,
            terms,
            in_title=False,
            offset=max(0, offset - len(titled)),
            limit=limit - len(ranks),
        )
    return [article_id_of(rank) for rank in ranks]


async def load_articles(*, session: AsyncSession, ids: Sequence[int]) -> list[ArticleRow]:
    """The articles with these ids, in this order; ids with no article are left out."""
    if not ids:
        return []
    rows = await session.scalars(select(ArticleRow).where(ArticleRow.id.in_(list(ids))))
    by_id = {row.id: row for row in rows}
    return [by_id[article_id] for article_id in ids if article_id in by_id]


async def find_articles(
    *, session: AsyncSession, terms: Terms, offset: int, limit: int
) -> list[ArticleRow]:
    """The articles holding every word, best first (see find_article_ids)."""
    ids = await find_article_ids(session=session, terms=terms, offset=offset, limit=limit)
    return await load_articles(session=session, ids=ids)


async def articles_titled(
    *, session: AsyncSession, titles: Sequence[str], exclude: int | None = None
) -> list[ArticleRow]:
    """For each title (in order, once), the newest stored article with that title, normalised."""
    keys = list(dict.fromkeys(k for k in (normalise(t)[:TITLE_KEY_CHARS] for t in titles) if k))
    if not keys:
        return []
    stmt = select(ArticleSearchRow.title_key, ArticleSearchRow.article_id).where(
        ArticleSearchRow.title_key.in_(keys)
    )
    if exclude is not None:
        stmt = stmt.where(ArticleSearchRow.article_id != exclude)
    stmt = stmt.order_by(ArticleSearchRow.rank.desc())
    newest: dict[str, int] = {}
    for key, article_id in await session.execute(stmt):
        newest.setdefault(key, article_id)
    ids = list(dict.fromkeys(newest[key] for key in keys if key in newest))
    return await load_articles(session=session, ids=ids)


def terms_of(text_: str, *, prefix: bool = False) -> Terms:
    """The folded words of a reader's text as search terms."""
    return Terms(tuple(words(text_)), prefix)


# Searches remembered for their "More" buttons


async def remember_search(*, session: AsyncSession, terms: Terms, now: datetime) -> str:
    """Keep the terms under their key (refreshing its time); the key."""
    key = terms.key
    stmt = _insert(session, SearchQueryRow).values(
        key=key, words=f"{int(terms.prefix)} {' '.join(terms.words)}", used_at=now
    )
    stmt = stmt.on_conflict_do_update(
        index_elements=[SearchQueryRow.key], set_={"used_at": stmt.excluded.used_at}
    )
    await session.execute(stmt)
    return key


async def remembered_search(*, session: AsyncSession, key: str) -> Terms | None:
    """The terms kept under this key, or None when they were forgotten (or never kept)."""
    row = await session.get(SearchQueryRow, key)
    if row is None:
        return None
    prefix, _, joined = row.words.partition(" ")
    return Terms(tuple(joined.split()), prefix == "1")


async def forget_searches(*, session: AsyncSession, before: datetime) -> int:
    """Drop searches last used before this time; how many."""
    removed = await session.scalars(
        delete(SearchQueryRow).where(SearchQueryRow.used_at < before).returning(SearchQueryRow.key)
    )
    return len(removed.all())
