"""The outbox engine: the deliverer, the broadcast scheduler, pacing, the Bot API request layer."""
