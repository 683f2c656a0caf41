"""The conversation: application wiring, handlers, buttons, message builders and texts."""
