"""`newsbot ingest URL` against a hostile server: exit 2 with one line, in bounded time and memory.

Each command runs as a user runs it, in a process of its own, measured by its parent.
"""

from __future__ import annotations

from pathlib import Path

from bot.newsroom.fetch import PRIVATE_HINT
from bot.newsroom.ingest import MAX_SECTIONS
from tests.integration.hostile_http import HostileServer, Measured, measure_newsbot

PEAK_MB = 300
BOMB_MIB = 1024  # what the old fetcher read whole: well over the memory bound


async def ingest(tmp_path: Path, *args: str, **env: str) -> Measured:
    """`newsbot ingest ARGS` on a SQLite file in tmp_path, with these NEWSBOT_ settings."""
    settings = {
        "NEWSBOT_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'newsbot.db'}",
        **{f"NEWSBOT_{key.upper()}": value for key, value in env.items()},
    }
    return await measure_newsbot("ingest", *args, env=settings, cwd=tmp_path)


def one_line(result: Measured) -> str:
    """The command's only line on stderr."""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


async def test_a_gzip_bomb_exits_2_within_the_memory_bound(
    hostile: HostileServer, tmp_path: Path
) -> None:
    url = hostile.url(f"/bomb?mib={BOMB_MIB}")

    result = await ingest(tmp_path, url, fetch_private="true")

    assert result.status == 2
    assert one_line(result) == f"newsbot: {url}: larger than 20 MiB"
    assert result.peak_mb < PEAK_MB, f"peak {result.peak_mb:.0f} MB"
    assert result.stdout == ""
    assert not (tmp_path / "newsbot.db").exists()  # nothing stored, not even a schema


async def test_a_dripping_server_exits_2_at_the_deadline(
    hostile: HostileServer, tmp_path: Path
) -> None:
    url = hostile.url("/drip")

    result = await ingest(tmp_path, url, fetch_private="true", fetch_timeout="2")

    assert result.status == 2
    assert one_line(result) == f"newsbot: {url}: no answer within 2 s"
    # Start-up, two seconds of dripping, exit: generous, it only proves the command gives up.
    assert result.seconds < 30
    assert hostile.hits["/drip"] == 1


async def test_a_loopback_url_is_refused_before_connecting_unless_allowed(
    hostile: HostileServer, tmp_path: Path
) -> None:
    url = hostile.url("/feed.xml")

    result = await ingest(tmp_path, url)

    assert result.status == 2
    assert one_line(result) == (
        f"newsbot: {url}: refused: 127.0.0.1 is a loopback address; {PRIVATE_HINT}"
    )
    assert not hostile.hits


async def test_more_than_five_redirects_exit_2_and_five_are_followed(
    hostile: HostileServer, tmp_path: Path
) -> None:
    too_many = hostile.url("/redirect/6")
    refused = await ingest(tmp_path, too_many, fetch_private="true")
    assert refused.status == 2
    assert one_line(refused) == f"newsbot: {too_many}: more than 5 redirects"
    assert hostile.hits["/feed.xml"] == 0

    stored = await ingest(tmp_path, hostile.url("/redirect/5"), fetch_private="true")
    assert stored.status == 0, stored.stderr
    [line] = stored.stdout.splitlines()
    assert line.endswith("\tThe harbour opens a new ferry line")
    assert hostile.hits["/feed.xml"] == 1


async def test_an_article_over_the_section_cap_exits_2_and_stores_nothing(
    tmp_path: Path,
) -> None:
    paragraph = "One more paragraph of the very long report, about a hundred characters long. "
    source = tmp_path / "endless.txt"
    source.write_text(
        "An endless report\n\n" + "\n\n".join(paragraph * 2 for _ in range(MAX_SECTIONS + 20)),
        encoding="utf-8",
    )

    result = await ingest(tmp_path, str(source), section_target="100")

    assert result.status == 2
    line = one_line(result)
    assert line.startswith(f"newsbot: {source}: 'An endless report' would be ")
    assert line.endswith(f" sections; an article may have at most {MAX_SECTIONS}")
    # Every article is split before the database is opened: refused, it never was.
    assert not (tmp_path / "newsbot.db").exists()
