"""Photos as the fake Bot API keeps them: uploads, image URLs it can "fetch", file ids.

Telegram takes a photo three ways: a URL it fetches itself (at most 5 MB), a file_id of a photo
it already has, or an upload (at most 10 MB). It answers with the photo's sizes, each with a
file_id that can be sent again. The emulator never goes to the network: a test (or the sandbox)
hosts images at URLs with ``host``, marks URLs unreachable with ``refuse``, and any other http(s)
URL is taken as a picture of a default size, with no bytes behind it.
"""

from __future__ import annotations

import hashlib
import itertools
import struct
from collections import Counter
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from bot.sandbox.botapi.state import JsonDict

MAX_URL_PHOTO_BYTES = 5 * 2**20
MAX_UPLOAD_PHOTO_BYTES = 10 * 2**20
# Telegram's rule for photos: width + height at most 10000, sides at most 20 to 1.
MAX_DIMENSIONS_SUM = 10_000
MAX_RATIO = 20
DEFAULT_SIZE = (1280, 720)  # what an unhosted URL is taken to show
_THUMB_SIDES = (90, 320, 800, 1280)

WRONG_FILE = "wrong file identifier/HTTP URL specified"
URL_FAILED = "failed to get HTTP URL content"
WRONG_TYPE = "wrong type of the web page content"
BAD_DIMENSIONS = "PHOTO_INVALID_DIMENSIONS"
PROCESS_FAILED = "IMAGE_PROCESS_FAILED"


class PhotoRefused(Exception):
    """Telegram's 400 for a photo it will not take (the description without "Bad Request: ")."""


class UploadTooLarge(Exception):
    """An upload over 10 MB: the Bot API's front answers 413 before Telegram sees it."""


@dataclass(frozen=True, slots=True)
class Upload:
    """A file sent in a multipart request."""

    filename: str | None
    content_type: str | None
    data: bytes


@dataclass(frozen=True, slots=True)
class HostedImage:
    """What a URL answers when Telegram fetches it."""

    data: bytes
    content_type: str


@dataclass
class Photo:
    """One photo Telegram stores, in all its sizes."""

    unique: str
    sizes: list[JsonDict]
    data: bytes | None
    content_type: str | None


def image_size(data: bytes) -> tuple[int, int] | None:
    """Width and height of a PNG, GIF or JPEG, or None when the bytes are none of those."""
    if data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) >= 24:
        width, height = struct.unpack(">II", data[16:24])
        return int(width), int(height)
    if data[:6] in (b"GIF87a", b"GIF89a") and len(data) >= 10:
        width, height = struct.unpack("<HH", data[6:10])
        return int(width), int(height)
    if data.startswith(b"\xff\xd8"):
        return _jpeg_size(data)
    return None


def _jpeg_size(data: bytes) -> tuple[int, int] | None:
    position = 2
    while position + 9 < len(data):
        if data[position] != 0xFF:
            return None
        marker = data[position + 1]
        length = struct.unpack(">H", data[position + 2 : position + 4])[0]
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            height, width = struct.unpack(">HH", data[position + 5 : position + 9])
            return int(width), int(height)
        position += 2 + length
    return None


def image_type(data: bytes) -> str | None:
    """The MIME type the bytes' signature says, for the kinds Telegram takes as photos."""
    if data.startswith(b"\x89PNG"):
        return "image/png"
    if data.startswith(b"\xff\xd8"):
        return "image/jpeg"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


@dataclass
class PhotoStore:
    """Every photo the fake server holds, and the URLs it may fetch."""

    hosted: dict[str, HostedImage] = field(default_factory=dict)
    unreachable: dict[str, str] = field(default_factory=dict)
    photos: dict[str, Photo] = field(default_factory=dict)  # by each size's file_id
    # How photos were given: "url" (Telegram fetched it), "file_id" or "upload".
    sent_by: Counter[str] = field(default_factory=Counter)
    url_fetches: Counter[str] = field(default_factory=Counter)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def host(self, url: str, data: bytes, content_type: str | None = None) -> None:
        """Serve ``data`` at ``url`` to the server's fetcher."""
        self.unreachable.pop(url, None)
        self.hosted[url] = HostedImage(data, content_type or image_type(data) or "text/html")

    def refuse(self, url: str, reason: str = URL_FAILED) -> None:
        """Make fetching ``url`` fail with ``reason`` (as when the host is down or blocks us)."""
        self.hosted.pop(url, None)
        self.unreachable[url] = reason

    def take(self, value: object) -> Photo:
        """The photo a sendPhoto names (URL, file_id or upload); PhotoRefused says why not."""
        if isinstance(value, Upload):
            if len(value.data) > MAX_UPLOAD_PHOTO_BYTES:
                raise UploadTooLarge
            self.sent_by["upload"] += 1
            return self._store(value.data, value.content_type, MAX_UPLOAD_PHOTO_BYTES)
        named = value.strip() if isinstance(value, str) else ""
        if not named:
            raise PhotoRefused("there is no photo in the request")
        if urlsplit(named).scheme.lower() in ("http", "https"):
            self.sent_by["url"] += 1
            self.url_fetches[named] += 1
            return self._fetch(named)
        photo = self.photos.get(named)
        if photo is None:
            raise PhotoRefused(WRONG_FILE)
        self.sent_by["file_id"] += 1
        return photo

    def _fetch(self, url: str) -> Photo:
        if url in self.unreachable:
            raise PhotoRefused(self.unreachable[url])
        parts = urlsplit(url)
        if not parts.hostname:
            raise PhotoRefused(WRONG_FILE)
        hosted = self.hosted.get(url)
        if hosted is None:
            return self._new(DEFAULT_SIZE, None, None)
        if not hosted.content_type.startswith("image/"):
            raise PhotoRefused(WRONG_TYPE)
        if len(hosted.data) > MAX_URL_PHOTO_BYTES:
            raise PhotoRefused(URL_FAILED)
        return self._store(hosted.data, hosted.content_type, MAX_URL_PHOTO_BYTES)

    def _store(self, data: bytes, content_type: str | None, limit: int) -> Photo:
        if len(data) > limit:
            raise PhotoRefused(URL_FAILED)
        size = image_size(data)
        kind = image_type(data)
        if size is None or kind is None:
            raise PhotoRefused(PROCESS_FAILED)
        width, height = size
        if (
            min(width, height) < 1
            or width + height > MAX_DIMENSIONS_SUM
            or max(width, height) > MAX_RATIO * min(width, height)
        ):
            raise PhotoRefused(BAD_DIMENSIONS)
        return self._new(size, data, kind)

    def _new(self, size: tuple[int, int], data: bytes | None, kind: str | None) -> Photo:
        number = next(self._ids)
        unique = "AQAD" + hashlib.sha256(f"photo-{number}".encode()).hexdigest()[:16]
        width, height = size
        sides = sorted({side for side in _THUMB_SIDES if side < max(width, height)})
        sizes: list[JsonDict] = []
        for index, side in enumerate([*sides, max(width, height)]):
            scale = side / max(width, height)
            sizes.append(
                {
                    "file_id": f"AgACAgIAAxkBAAI{number:06d}{index}{unique[4:]}",
                    "file_unique_id": f"{unique}{index}",
                    "width": max(1, round(width * scale)),
                    "height": max(1, round(height * scale)),
                    "file_size": max(1, round(len(data or b"x" * 60_000) * scale * scale)),
                }
            )
        photo = Photo(unique, sizes, data, kind)
        for item in sizes:
            self.photos[str(item["file_id"])] = photo
        return photo

    def by_file_unique_id(self, file_unique_id: str) -> Photo | None:
        """The photo one of whose sizes has this file_unique_id (for the web chat to show it)."""
        return next(
            (
                photo
                for photo in self.photos.values()
                if any(size["file_unique_id"] == file_unique_id for size in photo.sizes)
            ),
            None,
        )
