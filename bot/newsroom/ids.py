"""Ids typed by people or carried by buttons and links: one parser for all of them.

Article and broadcast ids are 32-bit integer columns on PostgreSQL, and `int()` and
`str.isdigit()` accept far more than ASCII digits ("²", "٣"), so every id read from user input
goes through `parse_id`: anything it refuses is an id that names nothing.
"""

from __future__ import annotations

import re
from typing import Final

MAX_ID: Final = 2**31 - 1  # the largest value of PostgreSQL's integer (int4) column
_DIGITS = re.compile(r"[0-9]+", re.ASCII)
_MAX_DIGITS = len(str(MAX_ID))


def parse_id(text: str) -> int | None:
    """The id written as ASCII digits, between 1 and 2^31-1; None for anything else."""
    if not _DIGITS.fullmatch(text):
        return None
    digits = text.lstrip("0")
    # Compared as text first, so a 5,000-digit string is never converted to an int.
    if not digits or len(digits) > _MAX_DIGITS:
        return None
    value = int(digits)
    return value if value <= MAX_ID else None


def meant_as_id(text: str) -> bool:
    """Whether the text is a number in any script: an id that cannot exist, not a typo."""
    return text.isnumeric()
