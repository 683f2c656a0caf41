"""Links as Telegram accepts them on a URL button: checked at storing, used on story cards."""

from __future__ import annotations

import re
from urllib.parse import quote, urlsplit

# Telegram publishes no limit for a button's URL; links longer than this are not worth a button.
MAX_BUTTON_URL = 2048

_HOST = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9-]+)*\.?")
_STRAY_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})")
# What may stay as it is in a URL's path, query and fragment (RFC 3986), "%" for escapes.
_URL_SAFE = "/:@!$&'()*+,;=-._~%"
_URL_CHARS = re.compile(r"[!#-;=?-\[\]_a-z~]+")  # printable ASCII but space " < > \\ ^ ` { | }


def button_url(url: str | None) -> str | None:
    """The link as Telegram accepts it on a URL button, percent-encoded; None if it cannot be.

    Telegram refuses spaces, non-ASCII characters, schemes other than http(s) and links
    without a host ("Bad Request: BUTTON_URL_INVALID"): such characters are escaped, a
    non-ASCII host is written in IDNA, and what is still not a web link gets no button.
    """
    if not url:
        return None
    try:
        parts = urlsplit(url.strip())
        host, port = parts.hostname, parts.port
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not host or parts.username is not None:
        return None
    try:
        host = host.encode("idna").decode("ascii")
    except UnicodeError:
        return None
    if not _HOST.fullmatch(host):
        return None
    netloc = host if port is None else f"{host}:{port}"

    def escaped(piece: str, safe: str) -> str:
        return quote(_STRAY_PERCENT.sub("%25", piece), safe=safe)

    link = f"{parts.scheme.lower()}://{netloc}{escaped(parts.path, _URL_SAFE)}"
    if parts.query:
        link += "?" + escaped(parts.query, _URL_SAFE + "?")
    if parts.fragment:
        link += "#" + escaped(parts.fragment, _URL_SAFE + "?")
    if len(link) > MAX_BUTTON_URL or not _URL_CHARS.fullmatch(link):
        return None
    return link
