"""The Telegram side of newsbot: settings, application wiring, handlers, delivery and the CLI."""

import os

# PTB 22 warns on every read of RetryAfter.retry_after as an int; the pacer reads timedeltas.
os.environ.setdefault("PTB_TIMEDELTA", "1")
