"""Download a page or feed over HTTP within bounds: size, time, redirects and addresses.

One fetcher serves `newsbot ingest URL` and the feed poller. An answer is read in chunks after
aiohttp has decompressed them, so a small gzip bomb stops at the cap like a plain answer; one
deadline covers the whole download, redirects and a server that drips a byte at a time
included; redirects are followed by hand, at most a few, so that every hop is checked.

Addresses: a URL of a public name must not reach the machine itself or its private network
(an internal admin page, a cloud metadata service) unless the operator allows it. The check
sits in the resolver the connector uses, so the address checked is the address connected to:
a name that resolves to a public address for a check and to 127.0.0.1 for the connection
(DNS rebinding) has no second resolution to exploit. IP literals never reach a resolver, and
are checked before each request.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from types import TracebackType

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver
from yarl import URL

from content.errors import ContentError

MAX_BYTES = 20 * 2**20
DEADLINE = 30.0  # seconds for one source, from the first request to the last byte
MAX_REDIRECTS = 5
# newsbot's one name on the web, for pages and feeds alike. Bot API requests are another client's:
# they carry python-telegram-bot's own User-Agent (bot.delivery.request), as its HTTPX layer does.
USER_AGENT = "newsbot (+feed reader)"
PRIVATE_HINT = "set NEWSBOT_FETCH_PRIVATE=true to allow"

_READ_CHUNK = 64 * 1024
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_SCHEMES = frozenset({"http", "https"})

Address = ipaddress.IPv4Address | ipaddress.IPv6Address

_METADATA = frozenset(
    {
        ipaddress.ip_address("169.254.169.254"),  # AWS, GCP, Azure, OpenStack…
        ipaddress.ip_address("fd00:ec2::254"),  # AWS over IPv6
    }
)
_SHARED = ipaddress.ip_network("100.64.0.0/10")  # carrier-grade NAT: inside someone's network
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


class FetchError(ContentError):
    """A source could not be fetched within bounds; the message is one line."""


class _Refused(OSError):
    """Raised by the resolver: no address of the name may be connected to."""


def refusal(address: Address) -> str | None:
    """What the address is when fetching from it is refused (e.g. "a loopback address")."""
    if address in _METADATA:
        return "a cloud metadata address"
    if isinstance(address, ipaddress.IPv6Address):
        # An IPv4 address inside an IPv6 one reaches that IPv4 address.
        embedded = address.ipv4_mapped or address.sixtofour
        if embedded is None and address in _NAT64:
            embedded = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if embedded is not None:
            return refusal(embedded)
    if address.is_loopback:
        return "a loopback address"
    if address.is_link_local:
        return "a link-local address"
    if address.is_unspecified:
        return "an unspecified address"
    if address.is_multicast:
        return "a multicast address"
    if address in _SHARED:
        return "a shared (carrier-grade NAT) address"
    if address.is_reserved:
        return "a reserved address"
    if address.is_private:
        return "a private address"
    if not address.is_global:
        return "a reserved address"
    return None


@dataclass(frozen=True, slots=True)
class _Policy:
    """Which addresses may be connected to."""

    allow_private: bool
    exempt: frozenset[Address]

    def refused(self, host: str) -> str | None:
        """Why an address may not be connected to, or None when it may."""
        if self.allow_private:
            return None
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            return "not a readable address"
        if address in self.exempt:
            return None
        return refusal(address)


class _GuardedResolver(AbstractResolver):
    """The default resolver, keeping only the addresses the policy allows."""

    def __init__(self, policy: _Policy) -> None:
        self._policy = policy
        self._inner = DefaultResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        """Resolve host; only allowed addresses reach the connector."""
        results = await self._inner.resolve(host, port, family)
        allowed = [result for result in results if self._policy.refused(result["host"]) is None]
        if results and not allowed:
            address = results[0]["host"]
            kind = self._policy.refused(address)
            raise _Refused(f"refused: {host} resolves to {address}, {kind}; {PRIVATE_HINT}")
        return allowed

    async def close(self) -> None:
        """Close the wrapped resolver."""
        await self._inner.close()


@dataclass(frozen=True, slots=True)
class Fetched:
    """A successful answer (200) or a 304 to a conditional request (then no data)."""

    status: int
    data: bytes
    url: str
    etag: str | None = None
    last_modified: str | None = None
    content_type: str | None = None


class Fetcher:
    """GETs sources within the size, time, redirect and address bounds; reuses connections."""

    def __init__(
        self,
        *,
        allow_private: bool = False,
        deadline: float = DEADLINE,
        max_bytes: int = MAX_BYTES,
        max_redirects: int = MAX_REDIRECTS,
        exempt: Collection[str] = (),
    ) -> None:
        if deadline <= 0:
            raise ValueError("the fetch deadline must be positive")
        self.deadline = deadline
        self.max_bytes = max_bytes
        self.max_redirects = max_redirects
        # `exempt`: addresses allowed whatever the policy (a test's own server, say).
        self._policy = _Policy(
            allow_private, frozenset(ipaddress.ip_address(address) for address in exempt)
        )
        self._session: aiohttp.ClientSession | None = None
        self._resolver: _GuardedResolver | None = None

    async def __aenter__(self) -> Fetcher:
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        """Close the connections; the fetcher opens new ones if used again."""
        session, resolver = self._session, self._resolver
        self._session = self._resolver = None
        if session is not None:
            await session.close()
        if resolver is not None:
            await resolver.close()

    async def get(self, url: str, headers: Mapping[str, str] | None = None) -> Fetched:
        """The body at url after at most `max_redirects` redirects; FetchError says why not."""
        try:
            async with asyncio.timeout(self.deadline):
                return await self._get(url, headers or {})
        except TimeoutError:
            raise FetchError(f"no answer within {self.deadline:g} s") from None
        except aiohttp.ClientConnectorError as error:
            if isinstance(error.os_error, _Refused):
                raise FetchError(str(error.os_error)) from None
            raise FetchError(f"cannot be fetched ({type(error).__name__})") from None
        except aiohttp.ClientError as error:
            # The type only: aiohttp's messages can hold the whole URL, keys and all.
            raise FetchError(f"cannot be fetched ({type(error).__name__})") from None

    def _open(self) -> aiohttp.ClientSession:
        # Opened on first use, inside the running event loop, as aiohttp wants.
        if self._session is None:
            self._resolver = _GuardedResolver(self._policy)
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(resolver=self._resolver),
                # The deadline above bounds everything; aiohttp's own 5 minutes would not.
                timeout=aiohttp.ClientTimeout(total=None),
            )
        return self._session

    async def _get(self, url: str, headers: Mapping[str, str]) -> Fetched:
        current = _http_url(url)
        request_headers = {"User-Agent": USER_AGENT, **headers}
        for _ in range(self.max_redirects + 1):
            self._check_literal(current)
            async with self._open().get(
                current, headers=request_headers, allow_redirects=False
            ) as response:
                if response.status in _REDIRECTS:
                    current = _redirect_target(current, response)
                    continue
                if response.status == 304:
                    return Fetched(304, b"", str(current))
                if not 200 <= response.status < 300:
                    raise FetchError(f"the server answered HTTP {response.status}")
                data = await self._read(response)
                return Fetched(
                    response.status,
                    data,
                    str(current),
                    etag=response.headers.get("ETag"),
                    last_modified=response.headers.get("Last-Modified"),
                    content_type=response.content_type,
                )
        raise FetchError(f"more than {self.max_redirects} redirects")

    def _check_literal(self, url: URL) -> None:
        host = url.host or ""
        try:
            ipaddress.ip_address(host)
        except ValueError:
            return  # a name: the resolver checks what it resolves to
        kind = self._policy.refused(host)
        if kind is not None:
            raise FetchError(f"refused: {host} is {kind}; {PRIVATE_HINT}")

    async def _read(self, response: aiohttp.ClientResponse) -> bytes:
        too_large = f"larger than {self.max_bytes / 2**20:g} MiB"
        length = response.content_length
        if length is not None and length > self.max_bytes:
            raise FetchError(too_large)
        data = bytearray()
        # Counted after decompression, chunk by chunk: a lying Content-Length or a compressed
        # answer must not fill the memory.
        async for chunk in response.content.iter_chunked(_READ_CHUNK):
            data += chunk
            if len(data) > self.max_bytes:
                response.close()  # drop the connection rather than drain the rest
                raise FetchError(too_large)
        return bytes(data)


async def fetch(url: str, *, allow_private: bool = False, deadline: float = DEADLINE) -> bytes:
    """Download one source within bounds (a fetcher of its own, closed afterwards)."""
    async with Fetcher(allow_private=allow_private, deadline=deadline) as fetcher:
        return (await fetcher.get(url)).data


def _http_url(url: str) -> URL:
    try:
        parsed = URL(url)
    except ValueError:
        raise FetchError("not a readable URL") from None
    if parsed.scheme not in _SCHEMES or not parsed.host:
        raise FetchError("not an http or https URL")
    return parsed


def _redirect_target(current: URL, response: aiohttp.ClientResponse) -> URL:
    location = response.headers.get("Location")
    if not location:
        raise FetchError(f"the server answered HTTP {response.status} without a Location")
    try:
        target = current.join(URL(location))
    except ValueError:
        raise FetchError("redirected to an unreadable URL") from None
    if target.scheme not in _SCHEMES or not target.host:
        raise FetchError(f"redirected to a {target.scheme or 'relative'} URL, not http or https")
    return target
