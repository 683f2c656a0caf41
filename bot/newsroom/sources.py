"""Read the sources an operator names (files, directories, URLs) and parse them."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from pathlib import Path

from bot.newsroom import fetch
from content.errors import ContentError
from content.sources import ParsedSource, parse_source

ARTICLE_SUFFIXES = (".txt", ".md", ".markdown", ".html", ".htm", ".xhtml", ".xml", ".rss", ".atom")
MAX_SOURCE_BYTES = fetch.MAX_BYTES


def load_sources(
    sources: Iterable[str], *, fetch_private: bool = False, fetch_deadline: float = fetch.DEADLINE
) -> list[ParsedSource]:
    """Parse every source; any bad one raises ContentError naming each bad one, so none is stored.

    Every source is read even after a bad one, so that one run lists all that need fixing: the
    error has one line per bad source, then a count when there are several. URLs are fetched
    with `bot.newsroom.fetch` (its own event loop: call this from a thread, not a coroutine);
    `fetch_private` and `fetch_deadline` are NEWSBOT_FETCH_PRIVATE and _TIMEOUT.
    """
    parsed: list[ParsedSource] = []
    bad: list[str] = []
    for source in sources:
        for name, data, url in _read(source, fetch_private, fetch_deadline, bad):
            try:
                parsed.append(parse_source(data, name=name, url=url))
            except ContentError as error:
                bad.append(f"{name}: {error}")
    if len(bad) == 1:
        raise ContentError(bad[0])
    if bad:
        raise ContentError("\n".join([*bad, f"{len(bad)} sources cannot be used"]))
    return parsed


def _read(
    source: str, private: bool, deadline: float, bad: list[str]
) -> list[tuple[str, bytes, str | None]]:
    """The bytes of a source (every file of a directory); why not goes into `bad`."""
    if source.startswith(("http://", "https://")):
        try:
            data = asyncio.run(fetch.fetch(source, allow_private=private, deadline=deadline))
        except fetch.FetchError as error:
            bad.append(f"{source}: {error}")
            return []
        return [(source, data, source)]
    path = Path(source)
    if path.is_dir():
        files = sorted(
            p
            for p in path.rglob("*")
            if p.is_file()
            and p.suffix.lower() in ARTICLE_SUFFIXES
            and not any(part.startswith(".") for part in p.relative_to(path).parts)
        )
        if not files:
            bad.append(f"{source}: no article files ({', '.join(ARTICLE_SUFFIXES)}) in it")
            return []
    else:
        files = [path]
    found: list[tuple[str, bytes, str | None]] = []
    for file in files:
        try:
            found.append((str(file) if path.is_dir() else source, _read_file(file), None))
        except ContentError as error:
            bad.append(str(error))
    return found


def _read_file(path: Path) -> bytes:
    try:
        if path.stat().st_size > MAX_SOURCE_BYTES:
            raise ContentError(f"{path}: larger than {MAX_SOURCE_BYTES // 2**20} MiB")
        return path.read_bytes()
    except FileNotFoundError:
        raise ContentError(f"{path}: no such file or directory") from None
    except IsADirectoryError:
        raise ContentError(f"{path}: is a directory") from None
    except PermissionError:
        raise ContentError(f"{path}: permission denied") from None
    except OSError as error:
        raise ContentError(f"{path}: cannot be read ({error.strerror})") from None
