"""Finding and sharing stories in the chat, end to end: PTB polling the fake Bot API over HTTP,
on each database. `/search` and its pages, inline mode, cross-links at a story's end, Share."""

from __future__ import annotations

import re
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

from bot.newsroom.clock import utcnow
from bot.newsroom.ingest import store_sources
from bot.sandbox.botapi.state import BotMessage, InlineAnswer
from bot.telegram.callbacks import ShowLatest
from content.article import Article, Block, Section
from content.sources import ParsedSource
from content.text_parser import parse_text
from db import store
from tests.integration.bot_fixtures import BotHarness

READER = 1001
GROUP = -100_500
BOT_NAME = "newsbot_test_bot"  # the fake API's bot username

# A seed-shaped Arabic story (title, byline, lead, body with sub-headings), written for this
# test, whose body cross-links two stories with "اقرأ أيضًا|": one we store (spelt there with
# diacritics and hamza), one we never do.
TREES = "\n\n".join(
    (
        "البلديةُ تُطلق خطة لزراعة عشرة آلاف شجرة في الأحياء الجديدة",
        "مكتب الأخبار المحلية",
        "تبدأ فرق البلدية الأسبوع المقبل زراعة أشجار الظل على جانبي الشوارع الجديدة.",
        "قال مسؤول في البلدية إن الخطة تشمل أشجار الزيتون والسرو والكينا، "
        "وإن المتطوعين سيشاركون في سقايتها خلال الصيف الأول.",
    )
)

MARKET = "\n\n".join(
    (
        "سوق المزارعين يعود إلى الساحة القديمة كل جمعة",
        "رنا الخطيب",
        "عاد سوق المزارعين الأسبوعي إلى الساحة القديمة بعد أعمال ترميم استمرت ستة أشهر.",
        "يعرض المزارعون في السوق خضارًا وفواكه من القرى المجاورة، إلى جانب الأجبان والعسل "
        "والخبز المنزلي. ويقول الباعة إن الإقبال في الأسبوع الأول فاق توقعاتهم، وإن بعضهم "
        "باع كل ما حمله قبل الظهر.",
        "اقرأ أيضًا| البلدية تطلق خطة لزراعة عشرة الاف شجرة في الاحياء الجديدة",
        "ماذا تغير في الساحة؟",
        "رُصفت الساحة بحجارة جديدة، وأُضيفت مظلات ومقاعد خشبية ونافورة صغيرة في وسطها. "
        "كما خُصص موقف للدراجات عند المدخل الشمالي، وزُرعت أحواض من الورد على أطرافها.",
        "اقرأ أيضًا| مهرجان الخريف يفتتح أبوابه في الحديقة العامة",
        "ويأمل أصحاب المحلات المحيطة بالساحة أن يعيد السوق الحركة إلى شوارع الحي القديم بعد "
        "سنوات من الركود، وأن يجذب الزوار من الأحياء الأخرى في عطلة نهاية الأسبوع.",
        "من يدير السوق؟",
        "تتولى جمعية المزارعين تنظيم السوق بالتعاون مع البلدية، وتحدد مواقع البسطات بالقرعة "
        "كل شهر حتى لا يحتكر أحد الأماكن القريبة من المدخل.",
        "وتقول الجمعية إنها تدرس فتح السوق يوم الثلاثاء أيضًا إذا استمر الإقبال على حاله "
        "حتى نهاية الموسم.",
    )
)


def button(message: BotMessage, label_pattern: str) -> dict[str, str]:
    """The button whose label matches."""
    for candidate in message.buttons():
        if re.search(label_pattern, candidate["text"]):
            return candidate
    raise AssertionError(f"no button {label_pattern!r} in {message.buttons()!r}")


async def store_texts(bot: BotHarness, *texts: str) -> list[int]:
    """Store plain-text articles as `newsbot ingest` would; their ids."""
    sources = [ParsedSource(f"story{n}", "text", [parse_text(t)]) for n, t in enumerate(texts)]
    async with bot.app.bot_data.unit_of_work() as session:
        stored = await store_sources(
            session=session, sources=sources, target=bot.settings.section_target, now=utcnow()
        )
    return [item.article_id for item in stored]


async def store_many(bot: BotHarness, title: str, count: int) -> None:
    """Store `count` small articles titled "<title> <n>", the higher n the newer."""
    start = utcnow() - timedelta(days=count)
    async with bot.app.bot_data.unit_of_work() as session:
        for n in range(count):
            article = Article(
                title=f"{title} {n}",
                blocks=(Block("paragraph", f"Report number {n}."),),
                language="en",
                url=f"https://news.example/{title.replace(' ', '-')}/{n}",
                published=start + timedelta(days=n),
            )
            section = Section(1, None, article.body_text, article.body_text)
            await store.add_article(
                session=session, article=article, sections=[section], summary="S", now=start
            )


async def test_search_finds_a_story_whatever_the_spelling(bot: BotHarness) -> None:
    await bot.ingest("ar-solar-station.txt", "en-night-buses.md")
    bot.language_code = "ar"
    (found,) = await bot.say(READER, "/search الطاقه الشمسيه")  # ha for ta marbuta
    assert found.text.startswith("نتائج البحث عن «الطاقه الشمسيه»:")
    assert "1. محطة شمسية جديدة" in found.text
    (card,) = await bot.press(READER, found, button(found, "محطة شمسية")["callback_data"])
    assert card.text.startswith("محطة شمسية جديدة")
    share = button(card, "مشاركة")["url"]
    shared = parse_qs(urlsplit(share).query)
    article_id = int(button(found, "محطة")["callback_data"].removeprefix("a:"))
    assert shared["url"] == [f"https://t.me/{BOT_NAME}?start=a{article_id}"]
    assert shared["text"][0].startswith("محطة شمسية جديدة")
    (english,) = await bot.say(READER, "/search NIGHT Buses", language_code="en")
    assert english.text.startswith("Stories with “night buses”:")
    (none,) = await bot.say(READER, "/search zebra crossing", language_code="en")
    assert none.text == "No stories found with “zebra crossing”."
    assert none.buttons() == []


async def test_bad_searches_get_a_short_answer(bot: BotHarness) -> None:
    await bot.ingest("en-night-buses.md")
    bot.language_code = "en"
    (usage,) = await bot.say(READER, "/search")
    assert usage.text.startswith("Write what to look for")
    (punctuation,) = await bot.say(READER, '/search " * - : ( )')
    assert punctuation.text == usage.text
    (too_long,) = await bot.say(READER, "/search " + "bus " * 250)
    assert too_long.text.startswith("That search is too long (at most 256 characters)")
    for syntax in ('"night', "night*", "-night", "title:night", "night NEAR buses", "OR"):
        (answer,) = await bot.say(READER, f"/search {syntax}")
        assert answer.text.startswith(("Stories with", "No stories found")), answer.text


async def test_more_pages_through_the_results(bot: BotHarness) -> None:
    await store_many(bot, "Harbour report", 13)
    bot.language_code = "en"
    (first,) = await bot.say(READER, "/search harbour")
    assert first.text.count("\n") == 10
    assert "1. Harbour report 12 ·" in first.text and "10. Harbour report 3 ·" in first.text
    more = button(first, r"^More \(2\)$")["callback_data"]
    assert len(more.encode()) <= 64
    (second,) = await bot.press(READER, first, more)
    assert second.text.splitlines()[1:] == [
        line for line in second.text.splitlines()[1:] if line.startswith(("11.", "12.", "13."))
    ]
    assert "13. Harbour report 0 ·" in second.text
    assert not [b for b in second.buttons() if b["text"].startswith("More")]
    # The pressed "More" goes (after the page is sent); the story buttons stay.
    await bot.api.wait_for(
        lambda: len(bot.api.messages(READER)[-2].buttons()) == 10,
        description="the pressed More button to be removed",
    )


async def test_an_expired_search_says_so(bot: BotHarness) -> None:
    await store_many(bot, "Harbour report", 11)
    (first,) = await bot.say(READER, "/search harbour", language_code="en")
    async with bot.app.bot_data.unit_of_work() as session:
        from db.search import forget_searches

        assert await forget_searches(session=session, before=utcnow() + timedelta(days=1))
    query_id = bot.api.press_button(
        READER, first.message_id, button(first, "More")["callback_data"]
    )
    assert await bot.answered(query_id) == "This search has expired; please search again."


async def test_the_end_of_a_story_links_the_stories_it_cross_links(bot: BotHarness) -> None:
    trees, market = await store_texts(bot, TREES, MARKET)
    bot.language_code = "ar"
    (card,) = await bot.say(READER, f"/summary {market}")
    async with bot.app.bot_data.unit_of_work() as session:
        row = await store.get_article(session=session, article_id=market)
    assert row is not None and len(row.related) == 2 and row.section_count >= 2
    (section,) = await bot.press(READER, card, button(card, "اقرأ المزيد")["callback_data"])
    while "نهاية القصة" not in section.text:
        assert next(b["text"] for b in section.buttons()).startswith("التالي")
        (section,) = await bot.press(READER, section, button(section, "التالي")["callback_data"])
    # The stored story, by its own title, then the latest; the other cross-link is not stored.
    assert [b["text"] for b in section.buttons()] == [
        "البلديةُ تُطلق خطة لزراعة عشرة آلاف شجرة في الأحياء الجديدة",
        "أحدث القصص",
    ]
    assert section.callback_data() == [f"a:{trees}", ShowLatest().encode()]
    (linked,) = await bot.press(READER, section, f"a:{trees}")
    assert linked.text.startswith("البلديةُ تُطلق خطة")


async def answer_to(bot: BotHarness, query_id: str) -> InlineAnswer:
    return await bot.api.wait_for(
        lambda: bot.api.inline_answer(query_id), description=f"an answer to {query_id}"
    )


async def test_inline_mode_shares_a_story_into_a_group(bot: BotHarness) -> None:
    (solar,) = await bot.ingest("ar-solar-station.txt")
    await bot.ingest("en-night-buses.md")
    query_id = bot.api.send_inline_query(READER, "الطاقة الشمسية", chat_type="group")
    answer = await answer_to(bot, query_id)
    assert [r["id"] for r in answer.results] == [str(solar.article_id)]
    assert (answer.cache_time, answer.is_personal, answer.next_offset) == (30, False, "")
    result = answer.results[0]
    assert result["type"] == "article" and result["title"].startswith("محطة شمسية جديدة")
    message_id = bot.api.choose_inline_result(query_id, result["id"], GROUP)
    posted = bot.api.chat(GROUP).user_messages[message_id]
    assert posted["via_bot"]["username"] == BOT_NAME
    assert posted["text"].startswith("محطة شمسية جديدة")
    assert posted["entities"][0]["type"] == "bold"
    buttons = [b for row in posted["reply_markup"]["inline_keyboard"] for b in row]
    link = f"https://t.me/{BOT_NAME}?start=a{solar.article_id}"
    assert buttons[0] == {"text": "اقرأ في البوت", "url": link}
    # Anyone in the group who follows the link starts the bot with the story's payload.
    _, card = await bot.say(READER + 7, f"/start a{solar.article_id}", count=2)
    assert card.text.startswith("محطة شمسية جديدة")


async def test_an_empty_inline_query_lists_the_latest_stories(bot: BotHarness) -> None:
    await store_many(bot, "Harbour report", 25)
    answer = await answer_to(bot, bot.api.send_inline_query(READER, ""))
    assert [r["title"] for r in answer.results][:2] == ["Harbour report 24", "Harbour report 23"]
    assert len(answer.results) == 20 and answer.next_offset == "20"
    rest = await answer_to(bot, bot.api.send_inline_query(READER, "", offset="20"))
    assert [r["title"] for r in rest.results] == [f"Harbour report {n}" for n in range(4, -1, -1)]
    assert rest.next_offset == ""
    for offset in ("abc", "-1", "99999", "٣"):
        odd = await answer_to(bot, bot.api.send_inline_query(READER, "", offset=offset))
        assert odd.results == [] and odd.next_offset == ""


async def test_inline_queries_with_search_syntax_or_no_match(bot: BotHarness) -> None:
    await bot.ingest("en-night-buses.md")
    for words in ('"night', "night*", "NEAR(night buses)", "-", "x" * 256, "zebra"):
        answer = await answer_to(bot, bot.api.send_inline_query(READER, words))
        assert all(r["type"] == "article" for r in answer.results)
        if words in ("-", "x" * 256, "zebra"):
            assert answer.results == []


async def test_inline_queries_are_rate_limited_per_user(bot: BotHarness) -> None:
    await bot.ingest("en-night-buses.md")
    answers = [await answer_to(bot, bot.api.send_inline_query(READER, "night")) for _ in range(30)]
    assert all(len(a.results) == 1 and not a.is_personal for a in answers)
    limited = await answer_to(bot, bot.api.send_inline_query(READER, "night"))
    # Nothing looked up, and the empty answer is neither shared nor kept.
    assert (limited.results, limited.is_personal, limited.cache_time) == ([], True, 0)
    other = await answer_to(bot, bot.api.send_inline_query(READER + 1, "night"))
    assert len(other.results) == 1


async def test_a_refused_inline_answer_leaves_the_bot_serving(bot: BotHarness) -> None:
    await bot.ingest("en-night-buses.md")
    bot.api.fail_next("answerInlineQuery", status=400, description="Bad Request: QUERY_ID_INVALID")
    first = bot.api.send_inline_query(READER, "night")
    second = await answer_to(bot, bot.api.send_inline_query(READER, "night"))
    assert len(second.results) == 1
    assert bot.api.inline_answer(first) is None
    (help_text,) = await bot.say(READER, "/help", language_code="en")
    assert help_text.text.startswith("Commands:")


async def test_a_card_posted_via_the_bot_is_not_answered(bot: BotHarness) -> None:
    (stored,) = await bot.ingest("en-night-buses.md")
    query_id = bot.api.send_inline_query(READER, "night", chat_type="sender")
    await answer_to(bot, query_id)
    bot.api.choose_inline_result(query_id, str(stored.article_id), READER)
    (help_text,) = await bot.say(READER, "/help", language_code="en")
    assert help_text.text.startswith("Commands:")
    assert not [m for m in bot.api.messages(READER) if "did not understand" in m.text]
