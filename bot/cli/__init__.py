"""The `newsbot` command line: thin commands that parse, call the newsroom and print."""

from bot.cli.main import app, main

__all__ = ["app", "main"]
