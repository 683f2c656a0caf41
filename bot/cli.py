"""The `newsbot` command line."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import Annotated, NoReturn, TypeVar

import typer
from pydantic import ValidationError
from rich.console import Console

from bot.preview import preview_dict, render_preview
from bot.settings import Settings
from bot.source_loader import load_sources
from content.errors import ContentError
from content.split import split_article
from content.summary import summarize

app = typer.Typer(
    help="newsbot: a Telegram news bot for Arabic and English articles.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
console = Console()
T = TypeVar("T")

EXIT_BAD_INPUT = 2


def fail(reason: str, status: int = EXIT_BAD_INPUT) -> NoReturn:
    """Print a one-line reason on stderr and exit (2: bad input or usage, 1: anything else)."""
    print(f"newsbot: {reason}", file=sys.stderr)
    raise typer.Exit(status)


def guarded(action: Callable[[], T]) -> T:
    """Run a command body, turning bad input into exit 2 and anything else into exit 1."""
    try:
        return action()
    except ContentError as error:
        fail(str(error))
    except ValidationError as error:
        first = error.errors()[0]
        fail(f"bad setting {'.'.join(str(p) for p in first['loc'])}: {first['msg']}")
    except (typer.Exit, typer.Abort, KeyboardInterrupt):
        raise
    except Exception as error:
        fail(f"{type(error).__name__}: {error}", status=1)


@app.command()
def preview(
    source: Annotated[str, typer.Argument(help="a file, directory, feed or URL")],
    as_json: Annotated[bool, typer.Option("--json", help="print JSON, one object a line")] = False,
) -> None:
    """Show how an article will look: card, summary, language, topics and every section."""

    def run() -> None:
        settings = Settings()
        for parsed in load_sources([source]):
            for skipped in parsed.skipped:
                print(f"newsbot: {parsed.name}: skipped {skipped}", file=sys.stderr)
            for article in parsed.articles:
                sections = split_article(article, target=settings.section_target)
                data = preview_dict(article, sections, summarize(article))
                if as_json:
                    print(json.dumps(data, ensure_ascii=False))
                else:
                    render_preview(console, data)

    guarded(run)


@app.command()
def ingest(
    sources: Annotated[list[str], typer.Argument(help="files, directories, feeds or URLs")],
    topic: Annotated[list[str] | None, typer.Option("--topic", help="add a topic")] = None,
) -> None:
    """Read articles from text, Markdown, HTML and RSS/Atom sources (all or nothing)."""

    def run() -> None:
        settings = Settings()
        for parsed in load_sources(sources):
            for article in parsed.articles:
                sections = split_article(article, target=settings.section_target)
                print(f"-\t{len(sections)}\t{article.title}")
        fail("parsed only: the content store is not available yet", status=1)

    guarded(run)


def main() -> None:
    """Console-script entry point."""
    app()
