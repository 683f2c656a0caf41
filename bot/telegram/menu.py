"""The command menu Telegram shows next to the text box, per language."""

from __future__ import annotations

from telegram import BotCommand

from bot.telegram.texts import text

_READER_COMMANDS = (
    ("latest", "menu_latest"),
    ("summary", "menu_summary"),
    ("more", "menu_more"),
    ("search", "menu_search"),
    ("topics", "menu_topics"),
    ("subscribe", "menu_subscribe"),
    ("unsubscribe", "menu_unsubscribe"),
    ("language", "menu_language"),
    ("settings", "menu_settings"),
    ("help", "menu_help"),
)


def menu_commands(language: str) -> list[BotCommand]:
    """The reader commands with descriptions in `language`."""
    return [BotCommand(name, text(language, key)) for name, key in _READER_COMMANDS]
