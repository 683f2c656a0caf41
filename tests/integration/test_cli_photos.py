"""The command line and lead images: `preview` shows the image of a source and of a stored
article; `stats` says when Telegram refused a broadcast's photo."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from db import store
from db.session import create_engine, create_sessionmaker, unit_of_work
from tests.integration.test_cli_broadcasts import database, newsbot  # noqa: F401
from tests.texts import SAMPLES

MARKET_IMAGE = "https://example.org/images/vegetable-market.png"


async def refuse(path: Path, article_id: int, reason: str) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{path}")
    try:
        async with unit_of_work(create_sessionmaker(engine)) as session:
            await store.refuse_photo(session=session, article_id=article_id, reason=reason)
    finally:
        await engine.dispose()


def test_preview_and_stats_show_the_lead_image(database: Path) -> None:  # noqa: F811
    page = str(SAMPLES / "ar-market-page.html")
    source = newsbot(database, "preview", page, "--json")
    assert source.returncode == 0, source.stderr
    assert json.loads(source.stdout)["image"] == MARKET_IMAGE
    assert f"image: {MARKET_IMAGE}" in newsbot(database, "preview", page).stdout

    assert newsbot(database, "ingest", page, "--publish").returncode == 0
    stored = newsbot(database, "preview", "1", "--json")
    assert json.loads(stored.stdout)["image"] == MARKET_IMAGE
    assert json.loads(newsbot(database, "stats", "1", "--json").stdout)["photo_refused"] is None

    asyncio.run(refuse(database, 1, "Failed to get http url content"))
    stats = newsbot(database, "stats", "1", "--json")
    assert stats.returncode == 0, stats.stderr
    assert json.loads(stats.stdout)["photo_refused"] == "Failed to get http url content"
    # Piped, it is the last tab-separated field.
    piped = newsbot(database, "stats", "1").stdout
    assert piped.rstrip("\n").split("\t")[-1] == "Failed to get http url content"
