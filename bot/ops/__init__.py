"""Running the bot: the runtime, `newsbot run`, the web server, health, metrics and logs."""
