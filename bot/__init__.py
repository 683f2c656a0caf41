"""The Telegram side of newsbot: settings, application wiring, handlers, delivery and the CLI."""
