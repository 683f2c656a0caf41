"""Update handlers; each module exposes `register(app)`, called in order by bot.telegram.app."""
