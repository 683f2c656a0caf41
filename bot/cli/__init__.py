"""The `newsbot` command line: thin commands that parse, call the newsroom and print.

One module per group of commands (articles, search, broadcasts, service, sandbox); `common`
holds the exit statuses, refusals in one line and the way from a command to the database,
`views` the terminal's tables and panels. Every command is listed here, in the order `--help`
shows them.
"""

from __future__ import annotations

from typing import Annotated

import typer

from bot.cli import articles, broadcasts, corrections, sandbox, search, service

app = typer.Typer(
    help="newsbot: a Telegram news bot for Arabic and English articles.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


def _show_version(wanted: bool) -> None:
    if wanted:
        # Here rather than at the top: every command's start-up would pay for it.
        from importlib.metadata import PackageNotFoundError, version

        try:
            print(f"newsbot {version('newsbot')}")
        except PackageNotFoundError:  # run from a checkout that was never installed
            print("newsbot (not installed)")
        raise typer.Exit()


@app.callback()
def _options(
    _version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_show_version, is_eager=True, help="print the version and exit"
        ),
    ] = False,
) -> None:
    """newsbot: a Telegram news bot for Arabic and English articles."""


app.command()(articles.preview)
app.command()(articles.ingest)
app.command()(broadcasts.publish)
app.command("broadcasts")(broadcasts.list_broadcasts)
app.command()(broadcasts.cancel)
app.command()(broadcasts.stats)
app.command()(corrections.correct)
app.command()(corrections.retract)
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
