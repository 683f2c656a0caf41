"""Pure text: parse articles from text, HTML and feeds, split them into sections, summarise.

Nothing in this package performs I/O or knows about Telegram or the database.
"""
