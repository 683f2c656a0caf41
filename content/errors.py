"""The one exception the content package raises for bad input."""


class ContentError(ValueError):
    """Input that cannot become an article; the message is one line a user can act on."""
