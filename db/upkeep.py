"""The query planner's statistics, refreshed after a large fan-out (PostgreSQL).

A broadcast's delivery rows all carry a broadcast id the statistics have never seen, so until
autovacuum's next ANALYZE (a minute or more away, never if it is off) PostgreSQL takes a new
broadcast for a handful of rows and claims by sorting every queued row: 0.3-0.4 s a claim at a
million. Analyzing once the rows are committed lets it read them from the queued-rows index.
SQLite's planner needs no statistics for that.
"""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

# Below this many new rows a sorted claim costs little, and the statistics are left to autovacuum.
LARGE_FAN_OUT = 10_000


def needs_analyze(dialect: str, queued: int) -> bool:
    """Whether a fan-out of `queued` rows calls for fresh statistics."""
    return dialect == "postgresql" and queued >= LARGE_FAN_OUT


async def analyze_deliveries(*, session: AsyncSession) -> None:
    """Refresh the planner's statistics of the deliveries table (PostgreSQL only)."""
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(text("ANALYZE deliveries"))
