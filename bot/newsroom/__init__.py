"""Use cases with no Telegram in them: ingest, feeds, publish, cancel, list, stats, the clock.

The chat handlers, the CLI, the sandbox's newsroom panel and the feed poller call these.
"""
