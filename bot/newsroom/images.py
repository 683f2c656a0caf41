"""Lead images fetched by newsbot itself, for hosts that refuse Telegram's fetcher."""

from __future__ import annotations

from bot.newsroom.fetch import Fetcher, FetchError

# Telegram takes uploaded photos of at most 10 MB.
MAX_IMAGE_BYTES = 10 * 2**20
IMAGE_TYPES = ("image/jpeg", "image/png", "image/gif", "image/webp")


async def download_image(url: str, *, fetcher: Fetcher) -> bytes:
    """The image at url, within the fetcher's bounds; FetchError when it is not a photo."""
    fetched = await fetcher.get(url)
    kind = (fetched.content_type or "").lower()
    if kind not in IMAGE_TYPES:
        raise FetchError(f"not an image ({kind or 'no content type'})")
    if len(fetched.data) > MAX_IMAGE_BYTES:
        raise FetchError(f"larger than {MAX_IMAGE_BYTES / 2**20:g} MiB")
    return fetched.data
