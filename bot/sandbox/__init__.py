"""A fake Telegram Bot API server for tests and local sandboxes."""
