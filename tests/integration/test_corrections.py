"""Revisions, corrections and retractions of pushed stories, end to end through the fake API.

The real Application polls the emulator over HTTP; the deliverer edits and deletes the cards
with the same engine and pacer that pushed them. Each test runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

from sqlalchemy import select, update

from bot.newsroom.clock import utcnow
from bot.newsroom.ingest import Stored, store_sources
from bot.newsroom.sources import load_sources
from bot.sandbox.botapi.state import BotMessage
from bot.telegram.callbacks import ReadSection
from db import broadcasts, store
from db.models import BroadcastRow, DeliveryRow, SectionRow
from tests.integration.bot_fixtures import OPERATOR, BotHarness
from tests.texts import SAMPLES

READERS = (3001, 3002, 3003)
ORIGINAL = (SAMPLES / "en-night-buses.md").read_text(encoding="utf-8")
OLD_TITLE = "City approves a night bus network after a year of debate"
NEW_TITLE = "City approves a night bus network after two years of debate"


def revised_text() -> str:
    """The sample with its title corrected and a paragraph added before the first heading."""
    added = (
        "The mayor said the first buses would carry passengers free of charge for a week, "
        "and that the timetable would be printed at every stop along the eight routes."
    )
    return ORIGINAL.replace(OLD_TITLE, NEW_TITLE).replace(
        "## What it will cost", f"{added}\n\n## What it will cost"
    )


async def ingest_file(bot: BotHarness, path: Path) -> Stored:
    """Store a file through the same path as `newsbot ingest`."""
    async with bot.app.bot_data.unit_of_work() as session:
        (stored,) = await store_sources(
            session=session,
            sources=load_sources([str(path)]),
            target=bot.settings.section_target,
            now=utcnow(),
        )
    return stored


async def job_status(bot: BotHarness, broadcast_id: int) -> str | None:
    async with bot.app.bot_data.unit_of_work() as session:
        row = await broadcasts.get_broadcast(session=session, broadcast_id=broadcast_id)
        return None if row is None else row.status


async def finished(bot: BotHarness, broadcast_id: int) -> None:
    async def done() -> bool:
        return await job_status(bot, broadcast_id) == "done"

    await bot.eventually(done, f"job {broadcast_id} finishes", within=15)


async def pushed(bot: BotHarness, readers: tuple[int, ...] = READERS) -> int:
    """Readers subscribe, the sample is stored and published; its id once every card is in."""
    for reader in readers:
        await bot.say(reader, "/start", language_code="ar" if reader == readers[-1] else "en")
    # The Arabic reader reads the English story too: its "updated" line is in Arabic.
    await bot.say(readers[-1], "/edition all", language_code="ar")
    (stored,) = await bot.ingest("en-night-buses.md")
    (reply,) = await bot.say(OPERATOR, f"/publish {stored.article_id}")
    assert reply.text.startswith("Broadcast #1 of article")
    await finished(bot, 1)
    return stored.article_id


def card(bot: BotHarness, reader: int) -> BotMessage:
    # The first message with buttons: before it come only the greeting and settings replies.
    return next(m for m in bot.api.messages(reader) if m.inline_keyboard is not None)


async def test_reingest_updates_the_article_in_place(bot: BotHarness, tmp_path: Path) -> None:
    source = tmp_path / "night-buses.md"
    source.write_text(ORIGINAL, encoding="utf-8")
    first = await ingest_file(bot, source)
    assert first.created and not first.updated

    again = await ingest_file(bot, source)
    assert (again.created, again.updated) == (False, False)  # already stored

    source.write_text(revised_text(), encoding="utf-8")
    revised = await ingest_file(bot, source)
    assert (revised.article_id, revised.created, revised.updated) == (
        first.article_id,
        False,
        True,
    )
    assert revised.title == NEW_TITLE
    async with bot.app.bot_data.unit_of_work() as session:
        row = await store.get_article(session=session, article_id=first.article_id)
        assert row is not None
        assert (row.revision, row.title) == (1, NEW_TITLE)
        assert row.revised_at is not None
        count = len(
            list(
                await session.scalars(
                    select(SectionRow.index).where(SectionRow.article_id == first.article_id)
                )
            )
        )
        assert count == row.section_count
    same = await ingest_file(bot, source)
    assert (same.article_id, same.created, same.updated) == (first.article_id, False, False)


async def test_a_reader_mid_story_goes_on_after_the_same_heading(
    bot: BotHarness, tmp_path: Path
) -> None:
    source = tmp_path / "night-buses.md"
    source.write_text(ORIGINAL, encoding="utf-8")
    stored = await ingest_file(bot, source)
    reader = READERS[0]
    await bot.say(reader, "/start")
    (story,) = await bot.say(reader, f"/summary {stored.article_id}")
    # Read until the section headed "What it will cost".
    (section,) = await bot.press(reader, story, ReadSection(stored.article_id, 1).encode())
    while "What it will cost" not in section.text:
        (section,) = await bot.press(reader, section, section.callback_data()[0])

    source.write_text(revised_text(), encoding="utf-8")
    assert (await ingest_file(bot, source)).updated
    async with bot.app.bot_data.unit_of_work() as session:
        sections = list(
            await session.scalars(
                select(SectionRow)
                .where(SectionRow.article_id == stored.article_id)
                .order_by(SectionRow.index)
            )
        )
    at = next(s.index for s in sections if s.heading == "What it will cost")
    (following,) = await bot.say(reader, "/more")
    assert following.text.startswith(sections[at].text[:40])  # section at + 1 (1-based)


async def test_correct_edits_every_card_keeping_its_buttons(
    bot: BotHarness, tmp_path: Path
) -> None:
    article_id = await pushed(bot)
    before = {reader: card(bot, reader) for reader in READERS}
    keyboards = {reader: before[reader].reply_markup for reader in READERS}
    source = tmp_path / "night-buses.md"
    source.write_text(revised_text(), encoding="utf-8")
    assert (await ingest_file(bot, source)).article_id == article_id

    (reply,) = await bot.say(OPERATOR, f"/correct {article_id}")
    assert reply.text == f"Correction #2 of article {article_id}: 3 messages to edit."
    await finished(bot, 2)
    for reader in READERS:
        edited = card(bot, reader)
        assert edited.message_id == before[reader].message_id
        assert edited.text.startswith(NEW_TITLE)
        # The same buttons; only the Share link carries the corrected title.
        kept, now = keyboards[reader], edited.reply_markup
        assert kept is not None and now is not None
        (old_row,), (new_row,) = kept["inline_keyboard"], now["inline_keyboard"]
        assert [b["text"] for b in new_row] == [b["text"] for b in old_row]
        assert new_row[:-1] == old_row[:-1]
        assert quote(NEW_TITLE) in new_row[-1]["url"]
        assert edited.text_edits == 1
    assert "\n\nupdated " in card(bot, READERS[0]).text
    assert "\n\nحُدّثت " in card(bot, READERS[-1]).text
    (stats,) = await bot.say(OPERATOR, "/stats 2")
    assert "#2 · correction · done · article" in stats.text
    assert "sent 3 of 3" in stats.text


async def test_a_photo_card_has_its_caption_edited(bot: BotHarness, tmp_path: Path) -> None:
    article_id = await pushed(bot, READERS[:1])
    photo = card(bot, READERS[0])
    photo.photo = [{"file_id": "p", "file_unique_id": "p", "width": 800, "height": 600}]
    source = tmp_path / "night-buses.md"
    source.write_text(revised_text(), encoding="utf-8")
    await ingest_file(bot, source)

    await bot.say(OPERATOR, f"/correct {article_id}")
    await finished(bot, 2)
    (call,) = bot.api.calls("editMessageCaption")
    assert call["message_id"] == photo.message_id
    edited = card(bot, READERS[0])
    assert edited.text.startswith(NEW_TITLE) and edited.text_edits == 1
    assert len(edited.text) <= 1024


async def test_a_correction_done_again_after_a_crash_edits_nothing_twice(
    bot: BotHarness, tmp_path: Path
) -> None:
    article_id = await pushed(bot)
    source = tmp_path / "night-buses.md"
    source.write_text(revised_text(), encoding="utf-8")
    await ingest_file(bot, source)
    # One reader deleted the card meanwhile: that row is skipped, not failed.
    gone = READERS[1]
    bot.api.chat(gone).messages[card(bot, gone).message_id].deleted = True

    await bot.say(OPERATOR, f"/correct {article_id}")
    await finished(bot, 2)
    edits = len(bot.api.calls("editMessageText"))
    # A deliverer that died after its requests left and before their outcomes were written
    # leaves its rows claimed; the next one (after requeue_claimed) does them again.
    async with bot.app.bot_data.unit_of_work() as session:
        await session.execute(
            update(DeliveryRow).where(DeliveryRow.broadcast_id == 2).values(status="sending")
        )
        await session.execute(
            update(BroadcastRow).where(BroadcastRow.id == 2).values(status="running")
        )
        assert await broadcasts.requeue_claimed(session=session) == 3
    bot.app.bot_data.scheduler.deliverer.wake()
    await finished(bot, 2)
    assert len(bot.api.calls("editMessageText")) == edits + 3  # asked again …
    for reader in (READERS[0], READERS[2]):
        assert card(bot, reader).text_edits == 1  # … and "not modified": edited once
    async with bot.app.bot_data.unit_of_work() as session:
        progress = await broadcasts.broadcast_progress(session=session, broadcast_id=2)
    assert progress is not None
    assert (progress.sent, progress.skipped, progress.failed) == (2, 1, 0)


async def test_retract_deletes_cards_and_notes_those_too_old_to_delete(
    bot: BotHarness,
) -> None:
    article_id = await pushed(bot)
    old = READERS[2]
    old_card = card(bot, old)
    bot.api.age_messages(old, 49 * 3600, old_card.message_id)

    (reply,) = await bot.say(OPERATOR, f"/retract {article_id}")
    assert reply.text.startswith(f"Retraction #2 of article {article_id}: 3 messages")
    await finished(bot, 2)
    for reader in READERS[:2]:
        assert [m.text for m in bot.api.messages(reader)][1:] == []  # only the greeting is left
    (note,) = [m for m in bot.api.messages(old) if m.message_id == old_card.message_id]
    assert note.message_id == old_card.message_id
    assert "سحبت غرفة الأخبار هذه القصة." in note.text
    assert note.buttons() == []

    (latest,) = await bot.say(READERS[0], "/latest")
    assert OLD_TITLE not in latest.text
    (summary,) = await bot.say(READERS[0], f"/summary {article_id}")
    assert summary.text == "This story was withdrawn."
    query = bot.api.press_button(
        old, note.message_id, ReadSection(article_id, 1).encode(), forge=True, language_code="ar"
    )
    assert await bot.answered(query) == "سُحبت هذه القصة."

    for command in ("/retract", "/correct", "/publish"):
        (again,) = await bot.say(OPERATOR, f"{command} {article_id}")
        assert again.text == f"Article {article_id} has been withdrawn.", command


async def test_retract_stops_a_scheduled_broadcast(bot: BotHarness) -> None:
    (stored,) = await bot.ingest("en-night-buses.md")
    await bot.say(OPERATOR, f"/schedule {stored.article_id} in 2h")
    (reply,) = await bot.say(OPERATOR, f"/retract {stored.article_id}")
    assert reply.text == (
        f"Retraction #2 of article {stored.article_id}: 0 messages to delete; "
        "1 broadcasts stopped."
    )
    assert await job_status(bot, 1) == "cancelled"
    await finished(bot, 2)


async def test_bad_requests_get_one_line_and_change_nothing(bot: BotHarness) -> None:
    (stored,) = await bot.ingest("en-night-buses.md")
    article = stored.article_id
    answers = {
        "/correct 999": "There is no article 999.",
        "/retract 99999999999": "There is no article 99999999999.",
        "/correct": "Usage: /correct ARTICLE-ID",
        "/retract one": "Usage: /retract ARTICLE-ID",
        f"/correct {article}": f"Article {article} has not been pushed to anyone; "
        "there is nothing to correct.",
    }
    for command, expected in answers.items():
        (reply,) = await bot.say(OPERATOR, command)
        assert reply.text == expected, command
    for command in (f"/correct {article}", f"/retract {article}"):
        (reply,) = await bot.say(READERS[0], command)
        assert reply.text == "Sorry, this command is for editors only."
    async with bot.app.bot_data.unit_of_work() as session:
        assert await broadcasts.list_broadcasts(session=session) == []
        row = await store.get_article(session=session, article_id=article)
        assert row is not None and row.retracted_at is None


async def test_a_second_correction_while_one_runs_is_refused(
    bot: BotHarness, tmp_path: Path
) -> None:
    article_id = await pushed(bot, READERS[:1])
    source = tmp_path / "night-buses.md"
    source.write_text(revised_text(), encoding="utf-8")
    await ingest_file(bot, source)
    bot.api.delay_next("editMessageText", 1, 3.0)
    await bot.say(OPERATOR, f"/correct {article_id}")
    (second,) = await bot.say(OPERATOR, f"/correct {article_id}")
    assert second.text == (
        f"Job #2 on article {article_id} is still running; wait for it to finish."
    )
    await finished(bot, 2)
    assert card(bot, READERS[0]).text_edits == 1


async def test_a_correction_racing_a_running_broadcast_leaves_every_card_corrected(
    bot: BotHarness, tmp_path: Path
) -> None:
    readers = range(5001, 5151)  # 5 s of sending at 30 a second
    async with bot.app.bot_data.unit_of_work() as session:
        for reader in readers:
            await store.ensure_chat(
                session=session,
                chat_id=reader,
                kind="private",
                telegram_language="en",
                now=utcnow(),
            )
            await store.subscribe(session=session, chat_id=reader, topic=None)
    source = tmp_path / "night-buses.md"
    source.write_text(ORIGINAL, encoding="utf-8")
    article_id = (await ingest_file(bot, source)).article_id
    await bot.say(OPERATOR, f"/publish {article_id}")
    await bot.api.wait_for(
        lambda: sum(1 for r in readers if bot.api.messages(r)) >= 10, timeout=10
    )

    source.write_text(revised_text(), encoding="utf-8")
    await ingest_file(bot, source)
    (reply,) = await bot.say(OPERATOR, f"/correct {article_id}")
    assert reply.text.startswith("Correction #2")
    await finished(bot, 1)
    await finished(bot, 2)
    for reader in readers:
        (story,) = bot.api.messages(reader)
        assert story.text.startswith(NEW_TITLE), reader
        assert story.text_edits <= 1
    async with bot.app.bot_data.unit_of_work() as session:
        job = await broadcasts.broadcast_progress(session=session, broadcast_id=2)
    assert job is not None and job.failed == 0
    assert 10 <= job.broadcast.target_count < len(readers)  # the rest got the new card


async def test_a_retraction_stops_a_running_correction(bot: BotHarness, tmp_path: Path) -> None:
    article_id = await pushed(bot, READERS[:1])
    source = tmp_path / "night-buses.md"
    source.write_text(revised_text(), encoding="utf-8")
    await ingest_file(bot, source)
    bot.api.delay_next("editMessageText", 1, 2.0)
    await bot.say(OPERATOR, f"/correct {article_id}")
    await bot.api.wait_for(lambda: bot.api.calls("editMessageText"))
    (reply,) = await bot.say(OPERATOR, f"/retract {article_id}")
    assert reply.text.endswith("1 messages to delete; 1 broadcasts stopped.")
    assert await job_status(bot, 2) == "cancelled"
    await finished(bot, 3)
    # Only the replies to /start and /edition are left: the card is gone.
    assert [m for m in bot.api.messages(READERS[0]) if m.inline_keyboard is not None] == []
    assert len(bot.api.messages(READERS[0])) == 2
