"""Listening addresses: "HOST:PORT" settings, and the URL a local client uses to reach a server."""

from __future__ import annotations

# A server bound to one of these listens everywhere; a client on the same machine uses loopback.
ANY_ADDRESSES = frozenset({"0.0.0.0", "::", ""})


def split_address(address: str) -> tuple[str, int]:
    """ "host:port" (or "[::1]:port") as a host and a port number."""
    host, sep, port = address.strip().rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f"{address!r} is not HOST:PORT")
    return host.strip("[]") or "0.0.0.0", int(port)


def reachable_host(host: str) -> str:
    """The host a local client connects to for a server bound to `host`."""
    return "127.0.0.1" if host in ANY_ADDRESSES else host


def http_url(host: str, port: int) -> str:
    """http://host:port, with an IPv6 host in brackets."""
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"
