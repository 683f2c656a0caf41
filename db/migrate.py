"""Upgrade or downgrade a database with the Alembic migrations shipped inside this package.

Both functions are synchronous: Alembic's command API runs the async migration environment with
`asyncio.run`, which cannot run inside an event loop that is already running. From async code:

    await asyncio.to_thread(upgrade, url)
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


def alembic_config(url: str) -> Config:
    """Build the Alembic Config in code: no ini file, so it works from an installed package."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    # The Config is a ConfigParser: a percent-encoded password ("%40") must be escaped as "%%".
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(url: str, revision: str = "head") -> None:
    """Upgrade the database at url to revision (default: the newest)."""
    command.upgrade(alembic_config(url), revision)


def downgrade(url: str, revision: str) -> None:
    """Downgrade the database at url to revision ("base" removes every table)."""
    command.downgrade(alembic_config(url), revision)
