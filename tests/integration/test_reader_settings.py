"""Readers tame the flow, end to end: editions, follows, quiet hours, caps, digests, breaking
news and /settings, through the real Application polling the fake Bot API, on each database,
with the bot's clock moved by hand."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from bot.newsroom.ingest import store_sources
from bot.ops.runtime import Runtime, running_bot
from bot.sandbox.botapi.server import FakeBotApi
from bot.sandbox.botapi.state import BotMessage
from bot.settings import Settings
from bot.telegram.callbacks import OpenStory, SetDigest, SetEdition, ShowFollows
from content.sources import ParsedSource
from content.text_parser import parse_text
from db.migrate import upgrade
from db.models import BroadcastRow, ChatRow, DeliveryRow, DigestItemRow, FollowRow
from tests.integration.bot_fixtures import OPERATOR, TOKEN, BotHarness

START = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)  # a Monday, noon UTC


class Clock:
    """The bot's clock, moved only by the test."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@dataclass
class World:
    """The running bot with its clock, and the harness to talk to it."""

    bot: BotHarness
    runtime: Runtime
    clock: Clock

    async def say(self, chat_id: int, words: str, *, language: str = "en") -> BotMessage:
        (reply,) = await self.bot.say(chat_id, words, language_code=language)
        return reply

    async def story(self, text: str, topics: Sequence[str] = ("misc",)) -> int:
        """Store an article written as plain text (title, blank line, body); its id."""
        async with self.runtime.unit_of_work() as session:
            (stored,) = await store_sources(
                session=session,
                sources=[ParsedSource("test", "text", [parse_text(text)])],
                topics=list(topics),
                target=1200,
                now=self.clock(),
            )
        return stored.article_id

    async def sample(self, name: str, topics: Sequence[str] = ()) -> int:
        (stored,) = await self.bot.ingest(name, topics=topics)
        return stored.article_id

    async def publish(self, article_id: int, *, command: str = "publish") -> int:
        """Publish as the operator; the broadcast's id once it has fanned out."""
        reply = await self.say(OPERATOR, f"/{command} {article_id}")
        assert "#" in reply.text, reply.text
        broadcast_id = int(reply.text.split("#")[1].split()[0])

        async def fanned_out() -> bool:
            async with self.runtime.unit_of_work() as session:
                row = await session.get(BroadcastRow, broadcast_id)
                return row is not None and row.status != "scheduled"

        # The answer leaves before the fan-out: wait for the broadcast to start.
        await self.bot.eventually(fanned_out, f"broadcast {broadcast_id} starts")
        return broadcast_id

    async def rows(self, broadcast_id: int) -> dict[int, DeliveryRow]:
        async with self.runtime.unit_of_work() as session:
            found = await session.scalars(
                select(DeliveryRow).where(DeliveryRow.broadcast_id == broadcast_id)
            )
            return {row.chat_id: row for row in found}

    async def digest_items(self, chat_id: int) -> list[int]:
        async with self.runtime.unit_of_work() as session:
            found = await session.scalars(
                select(DigestItemRow.article_id)
                .where(DigestItemRow.chat_id == chat_id)
                .order_by(DigestItemRow.added_at, DigestItemRow.broadcast_id)
            )
            return list(found)

    async def chat(self, chat_id: int) -> ChatRow:
        async with self.runtime.unit_of_work() as session:
            row = await session.get(ChatRow, chat_id)
        assert row is not None
        return row

    async def sent_all(self, broadcast_id: int, chats: Sequence[int]) -> None:
        """Wait until every listed chat's copy is recorded as sent."""

        async def done() -> bool:
            rows = await self.rows(broadcast_id)
            return all(c in rows and rows[c].status == "sent" for c in chats)

        await self.bot.eventually(done, f"broadcast {broadcast_id} sent to {chats}", within=15)

    def stories(self, chat_id: int) -> list[str]:
        """The first line of every message the bot sent the chat."""
        return [m.text.split("\n")[0] for m in self.bot.api.messages(chat_id)]


@pytest.fixture
async def world(fake_api: FakeBotApi, database_url: str) -> AsyncIterator[World]:
    """The bot polling the fake API with a hand-moved clock, readers' zone UTC."""
    await asyncio.to_thread(upgrade, database_url)
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        token=TOKEN,
        api_url=fake_api.url,
        database_url=database_url,
        language="ar",
        operators=frozenset({OPERATOR}),
        timezone="UTC",
    )
    clock = Clock(START)
    async with running_bot(settings, clock=clock) as runtime:
        await runtime.poll(poll_timeout=1)
        yield World(BotHarness(runtime.app, fake_api, settings), runtime, clock)


SOLAR = "ar-solar-station.txt"  # Arabic: "محطة شمسية جديدة على أطراف المدينة…"
BUSES = "en-night-buses.md"  # English: "City approves a night bus network…"


async def test_editions(world: World) -> None:
    english, arabic, both = 3001, 3002, 3003
    await world.say(english, "/start", language="en")
    await world.say(arabic, "/start", language="ar")
    await world.say(both, "/start", language="en")
    # A new chat starts with its interface language's edition; /edition alone offers buttons.
    choose = await world.say(both, "/edition")
    assert "English stories" in choose.text
    assert choose.callback_data() == [SetEdition(e).encode() for e in ("ar", "en", "all")]
    await world.bot.press(both, choose, SetEdition("all").encode(), count=0)
    await world.bot.eventually(
        lambda: _edition_is(world, both, "all"), "the edition changes to all"
    )
    bad = await world.say(arabic, "/edition fr", language="ar")
    assert bad.text == "الاستخدام: /edition ar أو en أو all"

    buses, solar = await world.sample(BUSES), await world.sample(SOLAR)
    first = await world.publish(buses)
    second = await world.publish(solar)
    await world.sent_all(first, [english, both])
    await world.sent_all(second, [arabic, both])
    assert arabic not in await world.rows(first)
    assert english not in await world.rows(second)
    assert world.stories(english)[-1].startswith("City approves a night bus")
    assert world.stories(arabic)[-1].startswith("محطة شمسية جديدة")
    got = world.stories(both)
    assert any(s.startswith("City approves") for s in got)
    assert any(s.startswith("محطة شمسية") for s in got)


async def _edition_is(world: World, chat_id: int, edition: str) -> bool:
    return (await world.chat(chat_id)).edition == edition


async def test_follows_match_spelling_variants_once_and_bad_input_changes_nothing(
    world: World,
) -> None:
    arabic_follower, english_follower, subscriber_and_follower, nobody = 3101, 3102, 3103, 3104
    for chat_id, language in (
        (arabic_follower, "ar"),
        (english_follower, "en"),
        (subscriber_and_follower, "ar"),
        (nobody, "ar"),
    ):
        await world.say(chat_id, "/start", language=language)
        await world.say(chat_id, "/edition all", language=language)
    # Three of them subscribe to nothing: only what they follow can reach them.
    for chat_id in (arabic_follower, english_follower, nobody):
        await world.say(chat_id, "/unsubscribe")
    # Diacritics, ta marbuta written as ha, a hamza on the alef: all fold to the story's words.
    added = await world.say(arabic_follower, "/follow مَحطّه شمسيّة", language="ar")
    assert added.text == "أنت تتابع الآن «مَحطّه شمسيّة»."
    again = await world.say(arabic_follower, "/follow محطة شمسية", language="ar")
    assert again.text == "أنت تتابع «محطة شمسية» بالفعل."
    await world.say(subscriber_and_follower, "/follow أطراف المدينه", language="ar")
    # Case and accents in Latin script.
    await world.say(english_follower, "/follow NÍGHT Bús")
    await world.say(nobody, "/follow شمس")  # a word inside another is not a match

    solar, buses = await world.sample(SOLAR, ["energy"]), await world.sample(BUSES)
    first = await world.publish(solar)
    second = await world.publish(buses)
    await world.sent_all(first, [arabic_follower, subscriber_and_follower])
    await world.sent_all(second, [english_follower, subscriber_and_follower])
    assert nobody not in await world.rows(first)
    assert arabic_follower not in await world.rows(second)
    # Subscribed to everything and following a phrase of the story: one copy.
    copies = [s for s in world.stories(subscriber_and_follower) if s.startswith("محطة شمسية")]
    assert len(copies) == 1
    assert sum(1 for _, chat, _ in world.bot.api.timeline if chat == arabic_follower) == len(
        world.bot.api.messages(arabic_follower)
    )

    # Bad input: one short reason each, nothing stored.
    before = await _follows(world, english_follower)
    too_long = await world.say(english_follower, "/follow " + "x" * 65)
    assert too_long.text == "That is too long to follow (at most 64 characters)."
    empty = await world.say(english_follower, "/follow !!! ...")
    assert empty.text == "There is nothing to follow in that: write a word or a phrase."
    usage = await world.say(english_follower, "/follow")
    assert usage.text.startswith("Usage: /follow WORDS")
    assert await _follows(world, english_follower) == before
    for index in range(49):
        await world.say(english_follower, f"/follow word{index}")
    assert len(await _follows(world, english_follower)) == 50
    refused = await world.say(english_follower, "/follow one more")
    assert refused.text.startswith("You already follow 50 words or phrases")
    assert len(await _follows(world, english_follower)) == 50


async def _follows(world: World, chat_id: int) -> list[str]:
    async with world.runtime.unit_of_work() as session:
        rows = await session.scalars(
            select(FollowRow.phrase).where(FollowRow.chat_id == chat_id).order_by(FollowRow.phrase)
        )
        return list(rows)


async def test_follows_list_removes_with_a_button(world: World) -> None:
    reader = 3201
    await world.say(reader, "/start")
    await world.say(reader, "/follow solar power")
    world.clock.now += timedelta(seconds=1)  # listed oldest first
    await world.say(reader, "/follow Night buses")
    listing = await world.say(reader, "/follows")
    assert listing.text == "What you follow (press to remove):"
    labels = [b["text"] for b in listing.buttons()]
    assert labels[:2] == ["✖ solar power", "✖ Night buses"]
    assert all(len(data.encode()) <= 64 for data in listing.callback_data())
    await world.bot.press(reader, listing, listing.callback_data()[0], count=0)
    await world.bot.api.wait_for(
        lambda: len(world.bot.api.messages(reader)[-1].buttons()) == 2,
        description="the list redrawn without the removed follow",
    )
    assert await _follows(world, reader) == ["night buses"]
    gone = await world.say(reader, "/unfollow NIGHT BUSES")
    assert gone.text == "You no longer follow “NIGHT BUSES”."
    none = await world.say(reader, "/follows")
    assert none.text == "You follow nothing yet. Send /follow WORDS"


async def test_quiet_hours_hold_until_they_end_or_arrive_silently(world: World) -> None:
    quiet, silent, awake = 3301, 3302, 3303
    for chat_id in (quiet, silent, awake):
        await world.say(chat_id, "/start")
    # Readers in Riyadh (UTC+3, no DST): 23:00-07:00 local is 20:00-04:00 UTC.
    reply = await world.say(quiet, "/timezone Asia/Riyadh")
    assert reply.text == "Your times are now in Asia/Riyadh."
    await world.say(silent, "/timezone Asia/Riyadh")
    reply = await world.say(quiet, "/quiet 23:00-07:00")
    assert reply.text == "Quiet hours 23:00-07:00 (Asia/Riyadh): stories wait until they end."
    await world.say(silent, "/quiet 23:00-07:00 silent")

    world.clock.now = datetime(2026, 6, 1, 21, 30, tzinfo=UTC)  # 00:30 in Riyadh
    broadcast = await world.publish(await world.sample(BUSES))
    await world.sent_all(broadcast, [awake, silent])
    rows = await world.rows(broadcast)
    assert rows[quiet].status == "queued"
    assert rows[quiet].not_before == datetime(2026, 6, 2, 4, 0, tzinfo=UTC)  # 07:00 Riyadh
    sends = {call["chat_id"]: call for call in world.bot.api.calls("sendMessage")}
    assert sends[silent].get("disable_notification") is True
    assert not sends[awake].get("disable_notification")
    assert not world.stories(quiet)[-1].startswith("City approves")

    world.clock.now = datetime(2026, 6, 2, 4, 0, 1, tzinfo=UTC)  # quiet hours are over
    await world.sent_all(broadcast, [quiet])
    assert world.stories(quiet)[-1].startswith("City approves a night bus")
    assert [c for c in world.bot.api.calls("sendMessage") if c["chat_id"] == quiet][-1].get(
        "disable_notification"
    ) in (None, False)

    # Bad input changes nothing.
    for words, answer in (
        ("/quiet 25:00-07:00", "Usage: /quiet 23:00-07:00 [silent] or /quiet off"),
        ("/quiet 07:00-07:00", "Usage: /quiet"),
        ("/timezone Mars/Olympus", "“Mars/Olympus” is not a time zone I know."),
    ):
        reply = await world.say(quiet, words)
        assert reply.text.startswith(answer), reply.text
    chat = await world.chat(quiet)
    assert (chat.quiet_start, chat.quiet_end, chat.timezone) == (23 * 60, 7 * 60, "Asia/Riyadh")
    off = await world.say(quiet, "/quiet off")
    assert off.text == "Quiet hours are off."


async def test_cap_overflow_goes_to_the_next_morning_digest(world: World) -> None:
    capped = 3401
    await world.say(capped, "/start")
    reply = await world.say(capped, "/cap 1")
    assert reply.text == "At most 1 stories a day; the rest go into your next digest."
    for bad in ("/cap -1", "/cap 0", "/cap many", "/cap"):
        refused = await world.say(capped, bad)
        assert refused.text.startswith("Write a whole number from 1 to 1000")
    assert (await world.chat(capped)).cap == 1

    first_id = await world.story("Harbour reopens after storm\n\nThe harbour reopened today.")
    second_id = await world.story("Library extends opening hours\n\nThe library stays open.")
    first = await world.publish(first_id)
    await world.sent_all(first, [capped])
    second = await world.publish(second_id)
    assert capped not in await world.rows(second)
    assert await world.digest_items(capped) == [second_id]
    due = (await world.chat(capped)).digest_due_at
    assert due == datetime(2026, 6, 2, 8, 0, tzinfo=UTC)  # the next morning, 08:00 local

    messages = len(world.bot.api.messages(capped))
    assert world.runtime.digests is not None
    world.clock.now = due + timedelta(seconds=1)
    await world.runtime.digests.run()
    (digest,) = (await world.bot.api.wait_for_messages(capped, messages + 1))[messages:]
    assert digest.text.split("\n") == [
        "Your digest: 1 stories",
        "1. Library extends opening hours",
    ]
    assert digest.callback_data() == [OpenStory(second_id).encode()]
    (card,) = await world.bot.press(capped, digest, OpenStory(second_id).encode())
    assert card.text.startswith("Library extends opening hours")
    # The next day's first push goes out again: the cap counts per local day.
    third = await world.publish(await world.story("Bridge repainted\n\nIn blue."))
    await world.sent_all(third, [capped])


async def test_hourly_digest_lists_ten_and_counts_the_rest_once(world: World) -> None:
    reader, other = 3501, 3502
    await world.say(reader, "/start")
    await world.say(other, "/start")
    reply = await world.say(reader, "/digest hourly")
    assert reply.text == "You will get one digest an hour with that hour's stories."
    for bad in ("/digest weekly", "/digest daily 25:00", "/digest"):
        refused = await world.say(reader, bad)
        assert refused.text.startswith("Usage: /digest off")
    assert refused.callback_data() == [SetDigest("off").encode(), SetDigest("hourly").encode()]
    assert (await world.chat(reader)).digest == "hourly"
    titles = [f"Council story number {index}" for index in range(1, 13)]
    for title in titles:
        broadcast = await world.publish(await world.story(f"{title}\n\nBody of {title}."))
        await world.sent_all(broadcast, [other])
        assert reader not in await world.rows(broadcast)
    before = len(world.bot.api.messages(reader))
    assert world.runtime.digests is not None
    world.clock.now = datetime(2026, 6, 1, 13, 0, 1, tzinfo=UTC)
    await world.runtime.digests.run()
    await world.runtime.digests.run()  # a second run builds and sends nothing more
    (digest,) = (await world.bot.api.wait_for_messages(reader, before + 1))[before:]
    lines = digest.text.split("\n")
    assert lines[0] == "Your digest: 12 stories"
    assert lines[1:11] == [f"{i}. {t}" for i, t in enumerate(titles[:10], start=1)]
    assert lines[11] == "…and 2 more"
    assert [b["text"] for b in digest.buttons()] == titles[:10]
    assert all(len(data.encode()) <= 64 for data in digest.callback_data())
    # Nothing new: the next hour sends nothing.
    world.clock.now = datetime(2026, 6, 1, 14, 0, 1, tzinfo=UTC)
    await world.runtime.digests.run()
    assert len(world.bot.api.messages(reader)) == before + 1
    assert (await world.chat(reader)).digest_due_at == datetime(2026, 6, 1, 15, 0, tzinfo=UTC)


async def test_breaking_goes_through_quiet_hours_digests_and_caps(world: World) -> None:
    quiet, digest, capped = 3601, 3602, 3603
    for chat_id in (quiet, digest, capped):
        await world.say(chat_id, "/start")
    await world.say(quiet, "/quiet 11:00-13:00")
    await world.say(digest, "/digest daily 20:00")
    await world.say(capped, "/cap 1")
    warm_up = await world.publish(await world.story("Market day\n\nStalls open."))
    await world.sent_all(warm_up, [capped])
    assert (await world.rows(warm_up))[quiet].not_before is not None  # held: quiet now
    article = await world.story("Earthquake felt across the region\n\nNo damage reported.")
    broadcast = await world.publish(article, command="breaking")
    await world.sent_all(broadcast, [quiet, digest, capped])
    rows = await world.rows(broadcast)
    assert all(row.not_before is None and not row.silent for row in rows.values())
    for chat_id in (quiet, digest, capped):
        assert world.stories(chat_id)[-1].startswith("Earthquake felt across the region")
    assert article not in await world.digest_items(digest)


async def test_breaking_is_for_operators(world: World) -> None:
    reader = 3701
    await world.say(reader, "/start")
    refused = await world.say(reader, "/breaking 1")
    assert refused.text == "Sorry, this command is for editors only."
    usage = await world.say(OPERATOR, "/breaking")
    assert usage.text == "Usage: /breaking ARTICLE-ID"


async def test_settings_show_everything_and_buttons_change_it(world: World) -> None:
    reader = 3801
    await world.say(reader, "/start")
    await world.say(reader, "/quiet 22:00-06:30 silent")
    await world.say(reader, "/cap 5")
    await world.say(reader, "/follow rain")
    shown = await world.say(reader, "/settings")
    assert shown.text.split("\n") == [
        "Your settings:",
        "Edition: English stories",
        "Time zone: UTC",
        "Quiet hours: 22:00-06:30, silent",
        "Digest: off",
        "Daily cap: 5 stories",
        "Following: rain",
    ]
    assert all(len(data.encode()) <= 64 for data in shown.callback_data())
    await world.bot.press(reader, shown, SetEdition("ar").encode(), count=0)
    await world.bot.api.wait_for(
        lambda: "Edition: Arabic stories" in world.bot.api.messages(reader)[-1].text,
        description="the settings redrawn with the Arabic edition",
    )
    await world.bot.press(reader, shown, SetDigest("hourly").encode(), count=0)
    await world.bot.api.wait_for(
        lambda: "Digest: hourly" in world.bot.api.messages(reader)[-1].text,
        description="the settings redrawn with an hourly digest",
    )
    for data in ("o:quiet", "o:cap"):
        await world.bot.press(reader, shown, data, count=0)
    await world.bot.api.wait_for(
        lambda: "Daily cap: off" in world.bot.api.messages(reader)[-1].text,
        description="quiet hours and cap turned off",
    )
    assert "Quiet hours: off" in world.bot.api.messages(reader)[-1].text
    chat = await world.chat(reader)
    assert (chat.edition, chat.digest, chat.quiet_start, chat.cap) == ("ar", "hourly", None, None)
    await world.bot.press(reader, shown, ShowFollows().encode(), count=0)
    await world.bot.api.wait_for(
        lambda: world.bot.api.messages(reader)[-1].text == "What you follow (press to remove):",
        description="the follows list in place of the settings",
    )
    # In Arabic too.
    arabic = await world.say(reader + 1, "/settings", language="ar")
    assert arabic.text.startswith("إعداداتك:")


async def test_four_readers_each_get_exactly_what_they_chose(world: World) -> None:
    quiet, digest, follow_only, arabic_edition = 3901, 3902, 3903, 3904
    for chat_id in (quiet, digest, follow_only, arabic_edition):
        await world.say(chat_id, "/start")  # English clients: the English edition
    await world.say(quiet, "/edition all")
    await world.say(quiet, "/quiet 11:00-13:00")  # the clock says 12:00 UTC
    await world.say(digest, "/digest hourly")
    await world.say(follow_only, "/unsubscribe")
    await world.say(follow_only, "/follow night bus")
    await world.say(arabic_edition, "/edition ar")
    greeted = {
        c: len(world.bot.api.messages(c)) for c in (quiet, digest, follow_only, arabic_edition)
    }

    buses = await world.publish(await world.sample(BUSES))
    solar = await world.publish(await world.sample(SOLAR))
    await world.sent_all(buses, [follow_only])
    await world.sent_all(solar, [arabic_edition])
    assert set(await world.rows(buses)) == {quiet, follow_only}
    assert set(await world.rows(solar)) == {quiet, arabic_edition}
    assert len(await world.digest_items(digest)) == 1

    world.clock.now = datetime(2026, 6, 1, 13, 0, 1, tzinfo=UTC)
    await world.sent_all(buses, [quiet])
    await world.sent_all(solar, [quiet])
    assert world.runtime.digests is not None
    await world.runtime.digests.run()
    await world.bot.api.wait_for_messages(digest, greeted[digest] + 1)

    def new(chat_id: int) -> list[str]:
        return world.stories(chat_id)[greeted[chat_id] :]

    assert sorted(new(quiet)) == sorted(
        [
            "City approves a night bus network after a year of debate",
            world.stories(arabic_edition)[-1],
        ]
    )
    assert new(digest) == ["Your digest: 1 stories"]
    assert new(follow_only) == ["City approves a night bus network after a year of debate"]
    assert len(new(arabic_edition)) == 1 and new(arabic_edition)[0].startswith("محطة شمسية")
