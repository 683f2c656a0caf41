"""Why a use case declined to act: one small hierarchy that every surface words in its own way.

A refusal carries the facts (which id, which status), never a sentence: the chat says it in the
reader's language, the command line in one line on stderr, each with its own texts.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.newsroom.when import WhenError


# Not frozen: contextlib sets __traceback__ on an exception leaving an (async) context manager.
@dataclass(eq=False)
class Refusal(Exception):
    """A use case declined to act because of what was asked; nothing was changed."""

    def __str__(self) -> str:
        return repr(self)


@dataclass(eq=False)
class NoArticle(Refusal):
    """No stored article has this id."""

    article_id: int


@dataclass(eq=False)
class NoBroadcast(Refusal):
    """No broadcast has this id."""

    broadcast_id: int


@dataclass(eq=False)
class NotOpen(Refusal):
    """The broadcast is no longer scheduled or running (done, cancelled, missed)."""

    broadcast_id: int
    status: str


@dataclass(eq=False)
class NoBroadcastsYet(Refusal):
    """The newest broadcast was asked for, and there is none."""


@dataclass(eq=False)
class BadWhen(Refusal):
    """The words for a time cannot be used; the error says why, in either language."""

    error: WhenError


@dataclass(eq=False)
class BadTopic(Refusal):
    """The topic as typed names no topic (nothing left once '#' and spaces are taken away)."""

    topic: str


@dataclass(eq=False)
class UnknownTopic(Refusal):
    """No stored article has this topic and no chat follows it (most likely a typo)."""

    topic: str
    known: tuple[str, ...]


@dataclass(eq=False)
class NeverPushed(Refusal):
    """The article's card reached no chat: there is nothing to correct."""

    article_id: int


@dataclass(eq=False)
class JobStillRunning(Refusal):
    """A correction or retraction of the article is still running."""

    article_id: int
    broadcast_id: int


@dataclass(eq=False)
class Withdrawn(Refusal):
    """The article has been retracted."""

    article_id: int


@dataclass(eq=False)
class BadChannel(Refusal):
    """Not a channel's @username nor a channel id."""

    name: str


@dataclass(eq=False)
class NoChannel(Refusal):
    """Not one of the channels publishes go to."""

    name: str
