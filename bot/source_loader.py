"""Read the sources an operator names (files, directories, URLs) and parse them."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import httpx

from content.errors import ContentError
from content.sources import ParsedSource, parse_source

ARTICLE_SUFFIXES = (".txt", ".md", ".markdown", ".html", ".htm", ".xhtml", ".xml", ".rss", ".atom")
MAX_SOURCE_BYTES = 20 * 1024 * 1024
FETCH_TIMEOUT_SECONDS = 20.0


def load_sources(sources: Iterable[str]) -> list[ParsedSource]:
    """Parse every source; the first bad one raises ContentError naming it, so none is stored."""
    parsed: list[ParsedSource] = []
    for source in sources:
        for name, data, url in _read(source):
            try:
                parsed.append(parse_source(data, name=name, url=url))
            except ContentError as error:
                raise ContentError(f"{name}: {error}") from None
    return parsed


def _read(source: str) -> list[tuple[str, bytes, str | None]]:
    if source.startswith(("http://", "https://")):
        return [(source, fetch(source), source)]
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
            raise ContentError(f"{source}: no article files ({', '.join(ARTICLE_SUFFIXES)}) in it")
        return [(str(p), _read_file(p), None) for p in files]
    return [(source, _read_file(path), None)]


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


def fetch(url: str) -> bytes:
    """Download a page or feed, refusing errors and oversized answers."""
    try:
        with httpx.Client(timeout=FETCH_TIMEOUT_SECONDS, follow_redirects=True) as client:
            response = client.get(url, headers={"User-Agent": "newsbot (+feed reader)"})
    except httpx.HTTPError as error:
        raise ContentError(f"{url}: cannot be fetched ({type(error).__name__})") from None
    if response.status_code >= 400:
        raise ContentError(f"{url}: the server answered HTTP {response.status_code}")
    if len(response.content) > MAX_SOURCE_BYTES:
        raise ContentError(f"{url}: larger than {MAX_SOURCE_BYTES // 2**20} MiB")
    return response.content
