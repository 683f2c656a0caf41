"""The sandbox's web chat in a real browser: headless Chromium driven by Playwright.

A reader subscribes, an editor pushes stories from the newsroom panel, the reader pages through
one to its end; the Arabic reader's messages are laid out right to left, and an article that
contains a script tag shows it as text. Screenshots are kept in artifacts/browser/.
"""

from __future__ import annotations

import os
import re
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from bot.newsroom.clock import utcnow
from bot.newsroom.ingest import store_sources
from bot.newsroom.sources import load_sources
from bot.sandbox.runner import READERS, Sandbox, SandboxOptions
from bot.settings import Settings
from bot.telegram.texts import text
from tests.texts import REPO, SAMPLES

playwright_api = pytest.importorskip("playwright.async_api")

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = REPO / "artifacts" / "browser"
ARABIC, ENGLISH, EDITOR = (reader.id for reader in (READERS[0], READERS[1], READERS[3]))

MARKET = "سوق الخضار الجديد"  # the sample page with a lead image
SCRIPT_TITLE = "The web desk tests its comment box with <script>alert(1)</script>"
SCRIPT_ARTICLE = f"""{SCRIPT_TITLE}

By Sandbox Desk

Readers who type <script>alert(1)</script> into the new comment box should see those very
characters, and nothing should pop up.

The web desk ran the check in every browser in the newsroom before the box opened to everyone.
"""

# A newcomer's machine may have no Chromium: skip there. CI installs it and says it is required,
# so that a failed install cannot pass as a skipped test.
RICH_HTML = (
    "<b>bold and <i>both</i></b>, a <a href='https://example.org/x'>link</a>, "
    "<code>/not_a_command</code>, <tg-spoiler>hidden</tg-spoiler>, send /latest\n"
    "<blockquote>a quote</blockquote>"
)

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists() and os.environ.get("NEWSBOT_TEST_BROWSER") != "required",
    reason=f"{CHROMIUM} is absent: install Debian's chromium and chromium-driver (.ci/run does)",
)


@pytest.fixture
async def sandbox(tmp_path: Path) -> AsyncIterator[Sandbox]:
    """The whole sandbox on free ports, a fresh SQLite store, the samples and a script article."""
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'sandbox.db'}",
        section_target=400,  # several sections, so "Next" is pressed more than once
    )
    options = SandboxOptions(host="127.0.0.1", port=0, api_port=0, samples=SAMPLES)
    async with Sandbox(settings, options) as running:
        assert running.app is not None and running.settings is not None
        source = tmp_path / "script.txt"
        source.write_text(SCRIPT_ARTICLE, encoding="utf-8")
        async with running.app.bot_data.unit_of_work() as session:
            await store_sources(
                session=session,
                sources=load_sources([str(source)]),
                target=running.settings.section_target,
                now=utcnow(),
            )
        yield running


async def test_read_a_pushed_story_to_the_end_in_both_directions(sandbox: Sandbox) -> None:
    pw = playwright_api
    pw.expect.set_options(timeout=15_000)
    assert sandbox.web is not None
    url = sandbox.web.url
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    dialogs: list[str] = []

    async with pw.async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        try:
            context = await browser.new_context(viewport={"width": 1280, "height": 860})

            async def open_reader(reader_id: int) -> playwright_api.Page:
                page = await context.new_page()
                page.on("dialog", lambda dialog: dialogs.append(dialog.message))
                await page.goto(f"{url}/?reader={reader_id}")
                await pw.expect(page.locator("#status")).to_have_text("online")
                return page

            async def say(page: playwright_api.Page, words: str) -> None:
                await page.locator("#text").fill(words)
                await page.locator("#text").press("Enter")

            # Two readers subscribe.
            english = await open_reader(ENGLISH)
            await say(english, "/start")
            await pw.expect(bot_messages(english).first).to_contain_text(
                first_line("en", "greeting")
            )
            arabic = await open_reader(ARABIC)
            await say(arabic, "/start")
            await pw.expect(bot_messages(arabic).first).to_contain_text(
                first_line("ar", "greeting")
            )

            # The editor pushes three stories from the newsroom panel.
            editor = await open_reader(EDITOR)
            await pw.expect(editor.locator("#newsroom")).to_be_visible()
            stories = ("City approves a night bus network", "محطة شمسية", SCRIPT_TITLE, MARKET)
            for title in stories:
                row = editor.locator("#articles tr", has_text=title)
                await row.get_by_role("button", name="Publish").click()
            await pw.expect(editor.locator("#broadcasts li")).to_have_count(len(stories))
            # Each reader's edition is their interface language: one copy of each story.
            for broadcast in range(1, len(stories) + 1):
                item = editor.locator(f"#broadcasts li[data-broadcast='{broadcast}']")
                await pw.expect(item).to_contain_text("1/1 sent")
            await pw.expect(editor.locator("#broadcasts li.status-done")).to_have_count(
                len(stories)
            )

            # The English reader got the push without reloading, and reads it to the end.
            card = bot_messages(english).filter(has_text="City approves a night bus network")
            await pw.expect(card).to_have_count(1)
            section = await press(english, card, text("en", "read_more"))
            sections = 1
            next_button = re.compile(r"^Next \(\d+.\d+\)$")  # Playwright cannot take a "/" here
            while await section.get_by_role("button", name=next_button).count():
                section = await press(english, section, next_button)
                sections += 1
            assert sections >= 2
            await pw.expect(section).to_contain_text(text("en", "end_of_story"))
            await pw.expect(section.get_by_role("button", name="Latest stories")).to_be_visible()

            # The article with a script tag shows it as text and runs nothing.
            script_card = bot_messages(english).filter(has_text="<script>alert(1)</script>")
            await pw.expect(script_card).to_have_count(1)
            await pw.expect(script_card.locator(".text b")).to_have_text(SCRIPT_TITLE)
            assert await english.locator("#messages script").count() == 0
            assert await english.evaluate("document.scripts.length") == 1  # app.js only
            assert await direction(script_card) == "ltr"

            # Telegram's formatting becomes elements; a /command in plain text can be tapped.
            await send_as_bot(sandbox, ENGLISH, RICH_HTML)
            rich = bot_messages(english).filter(has_text="both")
            await pw.expect(rich.locator(".text b > i")).to_have_text("both")
            link = rich.locator(".text a")
            await pw.expect(link).to_have_attribute("href", "https://example.org/x")
            await pw.expect(rich.locator(".text code")).to_have_text("/not_a_command")
            assert await rich.locator(".text code .command").count() == 0
            await pw.expect(rich.locator(".text blockquote")).to_have_text("a quote")
            await pw.expect(rich.locator(".text .spoiler")).to_have_text("hidden")
            users = english.locator("#messages li.from-user")
            before = await users.count()
            await rich.locator(".text .command", has_text="/latest").click()
            await pw.expect(users).to_have_count(before + 1)
            await pw.expect(users.last).to_have_text(re.compile("^/latest"))
            await english.screenshot(path=ARTIFACTS / "sandbox-en.png")

            # A story with a lead image arrives as a photo card: the picture above the caption.
            market = bot_messages(arabic).filter(has_text=MARKET)
            await pw.expect(market).to_have_count(1)
            picture = market.locator(".bubble .photo img")
            await pw.expect(picture).to_be_visible()
            width = await picture.evaluate("image => image.complete && image.naturalWidth")
            assert width == 640
            above = await market.evaluate(
                "m => m.querySelector('.photo').getBoundingClientRect().bottom"
                " <= m.querySelector('.text').getBoundingClientRect().top"
            )
            assert above is True
            await market.scroll_into_view_if_needed()
            await arabic.screenshot(path=ARTIFACTS / "sandbox-photo.png")

            # The Arabic reader's story reads right to left, card and sections alike.
            solar = bot_messages(arabic).filter(has_text="محطة شمسية")
            await pw.expect(solar).to_have_count(1)
            assert await direction(solar) == "rtl"
            first = await press(arabic, solar, text("ar", "read_more"))
            assert await direction(first) == "rtl"
            await pw.expect(
                first.get_by_role("button", name=re.compile("^التالي"))
            ).to_be_visible()
            await arabic.screenshot(path=ARTIFACTS / "sandbox.png")
            await editor.screenshot(path=ARTIFACTS / "sandbox-newsroom.png")
            assert dialogs == []
            await context.close()
        finally:
            await browser.close()


async def send_as_bot(sandbox: Sandbox, chat_id: int, html: str) -> None:
    """Send a message through the fake Bot API as the bot would."""
    url = f"{sandbox.api.url}/bot{sandbox.api.token}/sendMessage"
    async with (
        aiohttp.ClientSession() as http,
        http.post(url, json={"chat_id": chat_id, "text": html, "parse_mode": "HTML"}) as answer,
    ):
        assert (await answer.json())["ok"]


def first_line(language: str, key: str) -> str:
    """The first line of one of the bot's texts."""
    return text(language, key).splitlines()[0]


def bot_messages(page: playwright_api.Page) -> playwright_api.Locator:
    """The bot's messages on the page, oldest first."""
    return page.locator("#messages li.from-bot")


async def press(
    page: playwright_api.Page, message: playwright_api.Locator, label: str | re.Pattern[str]
) -> playwright_api.Locator:
    """Press a button of a bot message; the bot's next message, once it has arrived."""
    messages = bot_messages(page)
    before = await messages.count()
    await message.get_by_role("button", name=label).click()
    await playwright_api.expect(messages).to_have_count(before + 1)
    return messages.last


async def direction(message: playwright_api.Locator) -> str:
    """The computed text direction of a message's text."""
    value = await message.locator(".text").evaluate("node => getComputedStyle(node).direction")
    assert isinstance(value, str)
    return value


@pytest.mark.parametrize(("width", "height"), [(390, 760), (768, 1000)])
async def test_a_phone_or_tablet_keeps_the_header_and_composer_in_view(
    sandbox: Sandbox, width: int, height: int
) -> None:
    pw = playwright_api
    pw.expect.set_options(timeout=15_000)
    assert sandbox.web is not None
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    async with pw.async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        try:
            context = await browser.new_context(viewport={"width": width, "height": height})
            editor = await context.new_page()
            await editor.goto(f"{sandbox.web.url}/?reader={EDITOR}")
            await pw.expect(editor.locator("#status")).to_have_text("online")
            await pw.expect(editor.locator("#newsroom")).to_be_visible()

            # A long chat: the list scrolls, the page does not, the newest message is in view.
            for number in range(1, 31):
                await send_as_bot(sandbox, EDITOR, f"Message number {number}\nsecond line")
            newest = bot_messages(editor).filter(has_text="Message number 30")
            await pw.expect(newest).to_be_in_viewport()
            for always in ("#reader", "#text", "#composer button"):
                await pw.expect(editor.locator(always)).to_be_in_viewport()
            page_scrolls = "document.scrollingElement.scrollHeight > window.innerHeight"
            assert await editor.evaluate(page_scrolls) is False
            box = await editor.locator("#newsroom").bounding_box()
            assert box is not None and box["height"] > 150  # not squeezed to a sliver

            # Scrolled up to read: a new message does not move the list, a pill says it came.
            await editor.locator("#messages").evaluate("list => { list.scrollTop = 0; }")
            await send_as_bot(sandbox, EDITOR, "A message below the fold")
            pill = editor.locator("#new-pill")
            await pw.expect(pill).to_be_visible()
            below = bot_messages(editor).filter(has_text="A message below the fold")
            await pw.expect(below).not_to_be_in_viewport()
            await pill.click()
            await pw.expect(below).to_be_in_viewport()
            await pw.expect(pill).to_be_hidden()

            # The newsroom works at this width: schedule, see the audience, cancel.
            await editor.locator("#when").fill("in 2h")
            row = editor.locator("#articles tr", has_text="City approves a night bus network")
            await row.get_by_role("button", name="Publish").click()
            item = editor.locator("#broadcasts li[data-broadcast='1']")
            await pw.expect(item).to_contain_text("City approves a night bus network")
            await pw.expect(item).to_contain_text("not started · would reach 0 readers now")
            await pw.expect(item).not_to_contain_text("0/0")
            await pw.expect(editor.locator("#when")).to_have_value("")
            await item.get_by_role("button", name="Cancel").click()
            await pw.expect(item.locator(".state")).to_have_text("cancelled")
            await pw.expect(item.get_by_role("button", name="Cancel")).to_have_count(0)
            await pw.expect(item).to_contain_text("cancelled before it started: nothing sent")
            await editor.screenshot(path=ARTIFACTS / f"sandbox-{width}.png")

            # On a phone the newsroom is a drawer: closed, the chat has the whole height.
            if width < 800:
                await editor.locator("#newsroom-toggle").click()
                await pw.expect(editor.locator("#newsroom")).to_be_hidden()
                await pw.expect(editor.locator("#text")).to_be_in_viewport()
                await editor.locator("#newsroom-toggle").click()
                await pw.expect(editor.locator("#newsroom")).to_be_visible()
            await context.close()
        finally:
            await browser.close()
