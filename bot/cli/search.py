"""`newsbot search WORDS`: the stored stories a reader's `/search` would find, in its order."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from bot.cli.common import UsageError, console, guarded, read_store
from bot.cli.views import ARTICLE_KEYS, article_record, articles_table, print_records
from bot.newsroom.search import MAX_PAGES, MAX_QUERY_CHARS, PAGE_SIZE, Refusal, find, read_terms
from bot.settings import Settings


def search(
    words: Annotated[list[str], typer.Argument(help="the words to look for")],
    page: Annotated[
        int, typer.Option("--page", min=1, max=MAX_PAGES, help="which ten (1: the best)")
    ] = 1,
    as_json: Annotated[bool, typer.Option("--json", help="print one JSON object")] = False,
) -> None:
    """Find stored stories holding every word, best first (titles first, then newest)."""

    def run() -> None:
        terms = read_terms(" ".join(words))
        if terms is Refusal.EMPTY:
            raise UsageError("give words to look for (punctuation alone finds nothing)")
        if terms is Refusal.TOO_LONG:
            raise UsageError(f"a search holds at most {MAX_QUERY_CHARS} characters")
        assert not isinstance(terms, Refusal)
        rows, more = read_store(
            Settings(),
            lambda session: find(
                session=session, terms=terms, offset=(page - 1) * PAGE_SIZE, limit=PAGE_SIZE
            ),
        )
        if as_json:
            found = {
                "words": list(terms.words),
                "page": page,
                "more": more and page < MAX_PAGES,
                "articles": [
                    {
                        "id": row.id,
                        "title": row.title,
                        "language": row.language,
                        "published": row.sort_at.isoformat(),
                    }
                    for row in rows
                ],
            }
            print(json.dumps(found, ensure_ascii=False))
            return
        records = [article_record(row) for row in rows]
        print_records(console, records, ARTICLE_KEYS, as_json=False, table=articles_table(records))

    guarded(run)
