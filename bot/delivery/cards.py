"""Sending a story card: a photo with the card as its caption when the article has a lead image,
else text with the source page's preview.

The first photo Telegram takes gives a file_id; every later send of that article's card (to any
reader, in any broadcast) names the file_id instead of making Telegram fetch the URL again. Until
there is one, one send at a time tries the photo and the others wait for its answer, so a
broadcast to 100,000 readers makes Telegram fetch the image once. When Telegram refuses the photo
(an unreachable URL, a page instead of an image, bad dimensions), that send goes out as text at
once and the article is marked, so every later card of it is text without trying again; the
reason is kept for /stats. A file_id Telegram no longer knows is dropped the same way.

Any other error is the caller's to record: it is raised as it came.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from telegram import InlineKeyboardMarkup, InputFile, LinkPreviewOptions, Message
from telegram.constants import ParseMode
from telegram.error import BadRequest, NetworkError
from telegram.ext import ExtBot

from bot.delivery.pacing import Pace
from bot.newsroom.fetch import Fetcher, FetchError
from bot.newsroom.images import MAX_IMAGE_BYTES, download_image
from bot.newsroom.links import button_url
from bot.settings import Settings
from db import store
from db.models import ArticleRow
from db.session import unit_of_work

log = logging.getLogger(__name__)

PreviewMode = Literal["off", "small", "large"]
UploadMode = Literal["url", "upload"]
Card = tuple[str, InlineKeyboardMarkup | None]

NO_PREVIEW = LinkPreviewOptions(is_disabled=True)
REASON_LIMIT = 300

# Telegram's words for a photo it will not take, whatever the chat: the card goes out as text.
_PHOTO_REFUSALS = (
    "wrong file identifier",
    "wrong remote file identifier",
    "failed to get http url content",
    "wrong type of the web page content",
    "photo_invalid_dimensions",
    "photo_invalid",
    "photo_ext_invalid",
    "photo_save_file_invalid",
    "image_process_failed",
    "file is too big",
    "there is no photo in the request",
    "type of file mismatch",
    "wrong padding",
    "webpage_curl_failed",
    "webpage_media_empty",
)
# A chat where the bot may not post photos: text for that chat, the photo stays for the others.
_CHAT_REFUSALS = ("not enough rights to send photos", "chat_send_photos_forbidden")


def photo_refusal(error: NetworkError) -> str | None:
    """Telegram's reason when it refuses the photo itself (a 400, or a 413 for an upload too
    large), else None."""
    words = error.message.lower()
    if isinstance(error, BadRequest) and any(marker in words for marker in _PHOTO_REFUSALS):
        return error.message[:REASON_LIMIT]
    if "request entity too large" in words:
        return error.message[:REASON_LIMIT]
    return None


def refuses_photos_here(error: BadRequest) -> bool:
    """Whether a 400 says this chat takes no photos from the bot."""
    words = error.message.lower()
    return any(marker in words for marker in _CHAT_REFUSALS)


@dataclass
class ArticlePhoto:
    """What this process knows of one article's photo; shared by every send of its card."""

    article_id: int
    url: str | None
    file_id: str | None = None
    refused: str | None = None
    # Held by the one send that tries a photo without a file_id; the others wait for it.
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    # Upload mode: the image, downloaded once, kept until Telegram has given a file_id.
    data: bytes | None = None

    @classmethod
    def of(cls, article: ArticleRow, *, try_again: bool = False) -> ArticlePhoto | None:
        """The article's photo as stored, or None when its card is text.

        `try_again`: a photo refused before is tried once more (a new broadcast: the host may
        be back); otherwise its cards stay text.
        """
        if article.image_url is None and article.photo_file_id is None:
            return None
        refused = None if try_again and article.image_url else article.photo_refused
        return cls(article.id, article.image_url, article.photo_file_id, refused)

    @property
    def wanted(self) -> bool:
        """Whether the card should still try to go out as a photo."""
        return self.refused is None and (self.file_id is not None or self.url is not None)


def largest_file_id(message: object) -> str | None:
    """The file_id of the largest size of a sent photo, if the answer shows one."""
    if isinstance(message, Message) and message.photo:
        return message.photo[-1].file_id
    return None


def preview_options(mode: PreviewMode, url: str | None) -> LinkPreviewOptions:
    """The source page's preview for a card without a photo, as NEWSBOT_LINK_PREVIEW says."""
    link = button_url(url)
    if mode == "off" or link is None:
        return NO_PREVIEW
    if mode == "small":
        return LinkPreviewOptions(url=link, prefer_small_media=True)
    return LinkPreviewOptions(url=link, prefer_large_media=True, show_above_text=True)


class _Fallback(Exception):
    """This send goes out as text (the photo was refused, here or everywhere)."""


class CardSender:
    """Sends story cards as photos or text; see the module's description."""

    def __init__(
        self,
        *,
        bot: ExtBot[Pace],
        sessionmaker: async_sessionmaker[AsyncSession],
        link_preview: PreviewMode = "large",
        photo_upload: UploadMode = "url",
        open_fetcher: Callable[[], Fetcher] | None = None,
    ) -> None:
        self.bot = bot
        self.sessionmaker = sessionmaker
        self.link_preview = link_preview
        self.photo_upload = photo_upload
        self._open_fetcher = open_fetcher or (lambda: Fetcher(max_bytes=MAX_IMAGE_BYTES))
        self._fetcher: Fetcher | None = None

    @classmethod
    def for_settings(
        cls,
        settings: Settings,
        *,
        bot: ExtBot[Pace],
        sessionmaker: async_sessionmaker[AsyncSession],
    ) -> CardSender:
        """The sender NEWSBOT_LINK_PREVIEW and NEWSBOT_PHOTO_UPLOAD call for; upload mode
        fetches within the source fetcher's bounds (NEWSBOT_FETCH_PRIVATE, _TIMEOUT)."""
        return cls(
            bot=bot,
            sessionmaker=sessionmaker,
            link_preview=settings.link_preview,
            photo_upload=settings.photo_upload,
            open_fetcher=lambda: Fetcher(
                allow_private=settings.fetch_private,
                deadline=settings.fetch_timeout,
                max_bytes=MAX_IMAGE_BYTES,
            ),
        )

    async def close(self) -> None:
        """Close the image fetcher, if upload mode opened one."""
        fetcher, self._fetcher = self._fetcher, None
        if fetcher is not None:
            await fetcher.close()

    async def send(
        self,
        chat_id: int,
        *,
        text: Card,
        caption: Callable[[], Card],
        url: str | None,
        photo: ArticlePhoto | None,
        **extra: Any,
    ) -> Any:
        """Send one card; the answer of the send that carried it (a Message, normally)."""
        if photo is not None and photo.wanted:
            try:
                return await self._send_photo(chat_id, photo, caption(), extra)
            except _Fallback:
                pass
        body, keyboard = text
        return await self.bot.send_message(
            chat_id,
            body,
            # Explicit, not from the Application's Defaults: this works on any Bot.
            parse_mode=ParseMode.HTML,
            link_preview_options=preview_options(self.link_preview, url),
            reply_markup=keyboard,
            **extra,
        )

    async def _send_photo(
        self, chat_id: int, photo: ArticlePhoto, caption: Card, extra: dict[str, Any]
    ) -> Any:
        # At most twice round: the second time with the file_id another send got meanwhile.
        while True:
            file_id = photo.file_id
            if file_id is not None:
                return await self._by_file_id(chat_id, photo, file_id, caption, extra)
            async with photo.lock:
                if not photo.wanted:  # refused, or no URL left to try
                    raise _Fallback
                if photo.file_id is not None:
                    continue
                return await self._first(chat_id, photo, caption, extra)

    async def _by_file_id(
        self,
        chat_id: int,
        photo: ArticlePhoto,
        file_id: str,
        caption: Card,
        extra: dict[str, Any],
    ) -> Any:
        try:
            return await self._post(chat_id, file_id, caption, extra)
        except BadRequest as error:
            if photo_refusal(error) is None:
                raise self._chat_refusal(chat_id, error) from None
            # Telegram no longer knows it: the next send tries the URL again, once.
            log.warning(
                "the stored photo of article %s was refused (%s); dropped",
                photo.article_id,
                error.message,
            )
            if photo.file_id == file_id:
                photo.file_id = None
            await self._write(store.forget_photo, photo.article_id, file_id=file_id)
            raise _Fallback from None

    async def _first(
        self, chat_id: int, photo: ArticlePhoto, caption: Card, extra: dict[str, Any]
    ) -> Any:
        """The send that gets the file_id: by URL, or the downloaded image in upload mode."""
        source: str | InputFile
        if self.photo_upload == "upload":
            try:
                source = InputFile(await self._download(photo), filename="photo")
            except FetchError as error:
                await self._refuse(photo, f"could not fetch the image: {error}")
                raise _Fallback from None
        else:
            assert photo.url is not None  # wanted, and no file_id
            source = photo.url
        try:
            message = await self._post(chat_id, source, caption, extra)
        except NetworkError as error:  # BadRequest among them
            reason = photo_refusal(error)
            if reason is None:
                if isinstance(error, BadRequest):
                    raise self._chat_refusal(chat_id, error) from None
                raise
            await self._refuse(photo, reason)
            raise _Fallback from None
        file_id = largest_file_id(message)
        if file_id is not None:
            photo.file_id, photo.data = file_id, None
            await self._write(store.remember_photo, photo.article_id, file_id=file_id)
        return message

    def _chat_refusal(self, chat_id: int, error: BadRequest) -> Exception:
        """_Fallback when only this chat takes no photos; otherwise the error itself."""
        if refuses_photos_here(error):
            log.info("chat %s takes no photos (%s); the card goes as text", chat_id, error)
            return _Fallback()
        return error

    async def _download(self, photo: ArticlePhoto) -> bytes:
        if photo.data is None:
            if photo.url is None:
                raise FetchError("the article has no image URL")
            if self._fetcher is None:
                self._fetcher = self._open_fetcher()
            photo.data = await download_image(photo.url, fetcher=self._fetcher)
        return photo.data

    async def _post(
        self, chat_id: int, source: str | InputFile, caption: Card, extra: dict[str, Any]
    ) -> Message:
        body, keyboard = caption
        return await self.bot.send_photo(
            chat_id,
            source,
            caption=body,
            parse_mode=ParseMode.HTML,
            reply_markup=keyboard,
            **extra,
        )

    async def _refuse(self, photo: ArticlePhoto, reason: str) -> None:
        photo.refused, photo.data = reason[:REASON_LIMIT], None
        log.warning(
            "photo of article %s refused: %s; its cards go out as text",
            photo.article_id,
            reason,
        )
        await self._write(store.refuse_photo, photo.article_id, reason=photo.refused)

    async def _write(
        self, change: Callable[..., Awaitable[None]], article_id: int, **values: str
    ) -> None:
        """Store what was learnt of the photo; a failure costs only a repeated try later."""
        try:
            async with unit_of_work(self.sessionmaker) as session:
                await change(session=session, article_id=article_id, **values)
        except Exception as error:
            log.warning("could not store the photo state of article %s: %r", article_id, error)
