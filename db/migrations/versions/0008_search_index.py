"""The search index (tsvector with GIN on PostgreSQL, FTS5 on SQLite) and remembered searches.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30
"""

import math
from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from content.normalise import normalise

revision: str = "0008"
down_revision: str | Sequence[str] | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# As in db.search (a migration keeps its own copy: it must not change when that module does).
MAX_INDEXED_CHARS = 100_000
TITLE_KEY_CHARS = 200
BATCH = 500

# FTS5 reads the words from article_search (external content); the triggers keep its index in
# step with that table's rows, including rows removed by ON DELETE CASCADE. The tokenizer keeps
# letters and digits as they are: content.normalise has folded them already.
_SQLITE_FTS = (
    "CREATE VIRTUAL TABLE article_search_fts USING fts5(title, document, "
    "content='article_search', content_rowid='rank', "
    "tokenize='unicode61 remove_diacritics 0')",
    "CREATE TRIGGER article_search_fts_insert AFTER INSERT ON article_search BEGIN "
    "INSERT INTO article_search_fts(rowid, title, document) "
    "VALUES (new.rank, new.title, new.document); END",
    "CREATE TRIGGER article_search_fts_delete AFTER DELETE ON article_search BEGIN "
    "INSERT INTO article_search_fts(article_search_fts, rowid, title, document) "
    "VALUES ('delete', old.rank, old.title, old.document); END",
    "CREATE TRIGGER article_search_fts_update AFTER UPDATE ON article_search BEGIN "
    "INSERT INTO article_search_fts(article_search_fts, rowid, title, document) "
    "VALUES ('delete', old.rank, old.title, old.document); "
    "INSERT INTO article_search_fts(rowid, title, document) "
    "VALUES (new.rank, new.title, new.document); END",
)


def _words_type() -> sa.types.TypeEngine[str]:
    return postgresql.TSVECTOR().with_variant(sa.Text(), "sqlite")


def upgrade() -> None:
    """Create article_search (and its FTS5 index on SQLite), search_queries; index the articles."""
    op.create_table(
        "article_search",
        sa.Column("article_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("rank", sa.BigInteger(), nullable=False),
        sa.Column("title_key", sa.Text(), nullable=False),
        sa.Column("title", _words_type(), nullable=False),
        sa.Column("document", _words_type(), nullable=False),
        sa.ForeignKeyConstraint(
            ["article_id"],
            ["articles.id"],
            name=op.f("fk_article_search_article_id_articles"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("article_id", name=op.f("pk_article_search")),
        sa.UniqueConstraint("rank", name=op.f("uq_article_search_rank")),
    )
    op.create_index(op.f("ix_article_search_title_key"), "article_search", ["title_key"])
    op.create_table(
        "search_queries",
        sa.Column("key", sa.String(length=16), nullable=False),
        sa.Column("words", sa.Text(), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_search_queries")),
    )
    op.create_index(op.f("ix_search_queries_used_at"), "search_queries", ["used_at"])
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        for column in ("title", "document"):
            op.create_index(
                f"ix_article_search_{column}",
                "article_search",
                [column],
                postgresql_using="gin",
            )
    else:
        for statement in _SQLITE_FTS:
            op.execute(statement)
    _index_existing(bind)


# The columns read back, typed, so that SQLite's stored text comes back as a datetime.
_ARTICLES = sa.table(
    "articles",
    sa.column("id", sa.Integer()),
    sa.column("title", sa.Text()),
    sa.column("lead", sa.Text()),
    sa.column("sort_at", sa.DateTime(timezone=True)),
)
RANK_EPOCH = datetime(2020, 1, 1, tzinfo=UTC)


def _rank(sort_at: datetime, article_id: int) -> int:
    """As db.search.rank_of: seconds since 2020 (clamped to ±2^31) times 2^31, plus the id."""
    if sort_at.tzinfo is None:  # SQLite keeps UTC without a zone
        sort_at = sort_at.replace(tzinfo=UTC)
    seconds = math.floor((sort_at - RANK_EPOCH).total_seconds())
    seconds = min(max(seconds, -(2**31)), 2**31 - 1)
    return (seconds << 31) | article_id


def _cut(folded: str, limit: int) -> str:
    if len(folded) <= limit:
        return folded
    cut = folded[: limit + 1]
    return cut[: cut.rfind(" ")] if " " in cut else cut[:limit]


def _index_existing(bind: sa.Connection) -> None:
    """Index the articles stored before this revision, a batch at a time."""
    if bind.dialect.name == "postgresql":
        insert = sa.text(
            "INSERT INTO article_search (article_id, rank, title_key, title, document) "
            "VALUES (:article_id, :rank, :title_key, to_tsvector('simple', :title), "
            "to_tsvector('simple', :document))"
        )
    else:
        insert = sa.text(
            "INSERT INTO article_search (article_id, rank, title_key, title, document) "
            "VALUES (:article_id, :rank, :title_key, :title, :document)"
        )
    last = 0
    while True:
        articles = bind.execute(
            sa.select(_ARTICLES.c.id, _ARTICLES.c.title, _ARTICLES.c.lead, _ARTICLES.c.sort_at)
            .where(_ARTICLES.c.id > last)
            .order_by(_ARTICLES.c.id)
            .limit(BATCH)
        ).all()
        if not articles:
            return
        ids = [row.id for row in articles]
        texts: dict[int, list[str]] = {}
        sections = bind.execute(
            sa.text(
                'SELECT article_id, text FROM sections WHERE article_id IN :ids ORDER BY "index"'
            ).bindparams(sa.bindparam("ids", expanding=True)),
            {"ids": ids},
        )
        for article_id, section_text in sections:
            texts.setdefault(article_id, []).append(section_text)
        rows = []
        for row in articles:
            title = normalise(row.title)
            body = normalise("\n".join([row.title, row.lead or "", *texts.get(row.id, [])]))
            rows.append(
                {
                    "article_id": row.id,
                    "title_key": title[:TITLE_KEY_CHARS],
                    "title": title,
                    "document": _cut(body, MAX_INDEXED_CHARS),
                    "rank": _rank(row.sort_at, row.id),
                }
            )
        bind.execute(insert, rows)
        last = ids[-1]


def downgrade() -> None:
    """Drop the search index and the remembered searches."""
    if op.get_bind().dialect.name == "sqlite":
        for name in ("insert", "delete", "update"):
            op.execute(f"DROP TRIGGER IF EXISTS article_search_fts_{name}")
        op.execute("DROP TABLE IF EXISTS article_search_fts")
    else:
        op.drop_index("ix_article_search_document", table_name="article_search")
        op.drop_index("ix_article_search_title", table_name="article_search")
    op.drop_index(op.f("ix_search_queries_used_at"), table_name="search_queries")
    op.drop_table("search_queries")
    op.drop_index(op.f("ix_article_search_title_key"), table_name="article_search")
    op.drop_table("article_search")
