"""Prometheus metrics: updates and their handling time, broadcast sends, 429s, the outbox.

Counters are kept as things happen; what the database knows (queue depth, each running
broadcast's progress) is read when /metrics is scraped, so every replica reports the truth.
Each Application has its own registry: tests build several in one process.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from telegram import Update

from bot.ops import logs
from bot.telegram.ordering import ChatOrderedUpdates
from db.broadcasts import Outcome
from db.models import DELIVERY_STATUSES

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
_UPDATE_KINDS = ("message", "callback_query", "edited_message", "my_chat_member")


@dataclass
class Snapshot:
    """What was read at the last scrape."""

    database_up: bool = False
    lock_held: bool = False
    retry_afters: int = 0
    running: dict[int, dict[str, int]] = field(default_factory=dict)


class Metrics:
    """The bot's metrics and the registry /metrics renders."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.updates = Counter(
            "newsbot_updates", "Updates handled, by kind.", ["kind"], registry=self.registry
        )
        self.update_errors = Counter(
            "newsbot_update_errors", "Updates whose handler failed.", registry=self.registry
        )
        self.handling = Histogram(
            "newsbot_update_handling_seconds",
            "Time from taking an update to the end of its handlers.",
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
            registry=self.registry,
        )
        self.messages = Counter(
            "newsbot_broadcast_messages",
            "Broadcast messages by recorded outcome (queued: to be retried).",
            ["outcome"],
            registry=self.registry,
        )
        self.snapshot = Snapshot()
        self.registry.register(_SnapshotCollector(self.snapshot))

    def count_update(self, update: object, seconds: float) -> None:
        """One update handled in `seconds`."""
        self.updates.labels(kind=_kind(update)).inc()
        self.handling.observe(seconds)

    def count_outcomes(self, outcomes: Sequence[Outcome]) -> None:
        """Broadcast outcomes just written to the database."""
        for outcome in outcomes:
            self.messages.labels(outcome=outcome.status).inc()

    def render(self) -> bytes:
        """The exposition text Prometheus scrapes."""
        return generate_latest(self.registry)


class _SnapshotCollector(Collector):
    def __init__(self, snapshot: Snapshot) -> None:
        self.snapshot = snapshot

    def collect(self) -> Iterable[Metric]:
        snapshot = self.snapshot
        yield GaugeMetricFamily(
            "newsbot_database_up", "1 if the database answered.", value=int(snapshot.database_up)
        )
        yield GaugeMetricFamily(
            "newsbot_delivery_lock_held",
            "1 in the process that runs the scheduler and delivery.",
            value=int(snapshot.lock_held),
        )
        yield CounterMetricFamily(
            "newsbot_telegram_429",
            "Too Many Requests answers from Telegram (every send paused for retry_after).",
            value=snapshot.retry_afters,
        )
        waiting = sum(
            counts.get("queued", 0) + counts.get("sending", 0)
            for counts in snapshot.running.values()
        )
        yield GaugeMetricFamily(
            "newsbot_queue_depth",
            "Deliveries of running broadcasts not yet sent (queued or being sent).",
            value=waiting,
        )
        progress = GaugeMetricFamily(
            "newsbot_broadcast_deliveries",
            "Deliveries of each running broadcast, by status.",
            labels=["broadcast", "status"],
        )
        for broadcast_id, counts in sorted(snapshot.running.items()):
            for status in DELIVERY_STATUSES:
                progress.add_metric([str(broadcast_id), status], counts.get(status, 0))
        yield progress


class MeasuredUpdates(ChatOrderedUpdates):
    """Handles updates in order within each chat, timing and tagging each."""

    def __init__(self, metrics: Metrics, max_concurrent_updates: int = 1) -> None:
        super().__init__(max_concurrent_updates=max_concurrent_updates)
        self.metrics = metrics

    async def handle(self, update: object, coroutine: Awaitable[Any]) -> None:
        """Run the handlers with the update id in every log line, then count the update."""
        token = logs.update_id.set(update.update_id if isinstance(update, Update) else None)
        started = time.perf_counter()
        try:
            # PTB hands handler errors to the error handler, which counts them.
            await coroutine
        finally:
            self.metrics.count_update(update, time.perf_counter() - started)
            logs.update_id.reset(token)


def _kind(update: object) -> str:
    if not isinstance(update, Update):
        return "other"
    return next((kind for kind in _UPDATE_KINDS if getattr(update, kind) is not None), "other")
