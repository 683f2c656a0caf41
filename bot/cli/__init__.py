"""The `newsbot` command line: thin commands that parse, call the newsroom and print.

One module per group of commands (articles, search, broadcasts, service, sandbox); `common`
holds the exit statuses, refusals in one line and the way from a command to the database,
`views` the terminal's tables and panels. Every command is listed here, in the order `--help`
shows them.
"""

from __future__ import annotations

import typer

from bot.cli import articles, broadcasts, sandbox, search, service

app = typer.Typer(
    help="newsbot: a Telegram news bot for Arabic and English articles.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.command()(articles.preview)
app.command()(articles.ingest)
app.command()(broadcasts.publish)
app.command("broadcasts")(broadcasts.list_broadcasts)
app.command()(broadcasts.cancel)
app.command()(broadcasts.stats)
app.command()(articles.articles)
app.command()(search.search)
app.add_typer(service.db_app, name="db")
app.command()(service.run)
app.command()(service.healthcheck)
app.command()(sandbox.sandbox)


def main() -> None:
    """Console-script entry point."""
    app()


__all__ = ["app", "main"]
