"""The one fetcher of sources (`ingest URL` and feeds) against a hostile server on 127.0.0.1."""

from __future__ import annotations

import ipaddress
import socket
import time
from typing import ClassVar

import pytest
from aiohttp.abc import AbstractResolver, ResolveResult

import bot.newsroom.fetch
from bot.newsroom.fetch import MAX_BYTES, PRIVATE_HINT, Fetcher, FetchError, refusal
from tests.integration.hostile_http import FEED, MIB, HostileServer, gzip_bomb


async def fetch_error(fetcher: Fetcher, url: str) -> str:
    """The one-line reason the fetch fails with."""
    with pytest.raises(FetchError) as caught:
        await fetcher.get(url)
    return str(caught.value)


def test_the_bomb_is_valid_gzip_of_the_stated_size() -> None:
    import gzip

    body = gzip_bomb(3)
    assert len(body) < 4096
    assert gzip.decompress(body) == bytes(3 * MIB)


# Size


async def test_a_gzip_bomb_stops_at_the_cap_counted_after_decompression(
    hostile: HostileServer,
) -> None:
    async with Fetcher(allow_private=True) as fetcher:
        reason = await fetch_error(fetcher, hostile.url("/bomb?mib=64"))
    assert reason == "larger than 20 MiB"
    assert len(gzip_bomb(64)) < MAX_BYTES // 100  # the wire carried a few kilobytes


async def test_a_compressed_answer_within_the_cap_is_read_decompressed(
    hostile: HostileServer,
) -> None:
    async with Fetcher(allow_private=True, max_bytes=2 * MIB) as fetcher:
        answer = await fetcher.get(hostile.url("/bomb?mib=2"))
        assert answer.data == bytes(2 * MIB)
        # The cap counts decoded bytes: one byte under what it expands to is too much.
    async with Fetcher(allow_private=True, max_bytes=2 * MIB - 1) as fetcher:
        assert await fetch_error(fetcher, hostile.url("/bomb?mib=2")) == "larger than 2 MiB"


# Time


async def test_a_server_that_drips_is_given_up_at_the_deadline(hostile: HostileServer) -> None:
    started = time.monotonic()
    async with Fetcher(allow_private=True, deadline=2) as fetcher:
        reason = await fetch_error(fetcher, hostile.url("/drip"))
    elapsed = time.monotonic() - started
    assert reason == "no answer within 2 s"
    assert 1.5 < elapsed < 15  # the whole download, not each read (a byte comes every second)


# Redirects


async def test_five_redirects_are_followed_and_a_sixth_is_refused(
    hostile: HostileServer,
) -> None:
    async with Fetcher(allow_private=True) as fetcher:
        answer = await fetcher.get(hostile.url("/redirect/5"))
        assert answer.data == FEED
        assert answer.url == hostile.url("/feed.xml")
        assert hostile.hits["/redirect"] == 5

        reason = await fetch_error(fetcher, hostile.url("/redirect/6"))
    assert reason == "more than 5 redirects"
    assert hostile.hits["/redirect"] == 5 + 6  # the sixth redirect is never followed
    assert hostile.hits["/feed.xml"] == 1


async def test_a_redirect_to_another_scheme_is_refused(hostile: HostileServer) -> None:
    async with Fetcher(allow_private=True) as fetcher:
        reason = await fetch_error(fetcher, hostile.url("/to?url=file:///etc/passwd"))
    assert reason == "redirected to a file URL, not http or https"


# Addresses


@pytest.mark.parametrize(
    ("address", "kind"),
    [
        ("8.8.8.8", None),
        ("2001:4860:4860::8888", None),
        ("127.0.0.1", "a loopback address"),
        ("127.8.9.10", "a loopback address"),
        ("::1", "a loopback address"),
        ("10.1.2.3", "a private address"),
        ("172.16.0.1", "a private address"),
        ("192.168.1.1", "a private address"),
        ("fc00::1", "a private address"),
        ("169.254.169.254", "a cloud metadata address"),
        ("fd00:ec2::254", "a cloud metadata address"),
        ("169.254.1.1", "a link-local address"),
        ("fe80::1", "a link-local address"),
        ("100.64.0.1", "a shared (carrier-grade NAT) address"),
        ("0.0.0.0", "an unspecified address"),
        ("::", "an unspecified address"),
        ("224.0.0.1", "a multicast address"),
        ("ff02::1", "a multicast address"),
        ("240.0.0.1", "a reserved address"),
        ("192.0.2.1", "a private address"),  # documentation: Python counts it as private
        ("::ffff:127.0.0.1", "a loopback address"),  # IPv4-mapped
        ("64:ff9b::a01:203", "a private address"),  # NAT64 of 10.1.2.3
        ("2002:7f00:1::", "a loopback address"),  # 6to4 of 127.0.0.1
    ],
)
def test_refusal_names_each_kind_of_inner_address(address: str, kind: str | None) -> None:
    assert refusal(ipaddress.ip_address(address)) == kind


async def test_loopback_is_refused_before_any_connection(hostile: HostileServer) -> None:
    async with Fetcher() as fetcher:
        reason = await fetch_error(fetcher, hostile.url("/feed.xml"))
    assert reason == f"refused: 127.0.0.1 is a loopback address; {PRIVATE_HINT}"
    assert not hostile.hits  # refused before connecting: the server saw nothing


async def test_a_name_that_resolves_to_loopback_is_refused_before_connecting(
    hostile: HostileServer,
) -> None:
    url = hostile.url("/feed.xml").replace("127.0.0.1", "localhost")
    async with Fetcher() as fetcher:
        reason = await fetch_error(fetcher, url)
    assert reason.startswith("refused: localhost resolves to ")
    assert reason.endswith(f", a loopback address; {PRIVATE_HINT}")
    assert not hostile.hits


@pytest.mark.parametrize(
    "target",
    [
        "http://127.0.0.2:{port}/article.html",
        "http://[::1]:{port}/article.html",
        "http://10.0.0.1/",
        "http://169.254.169.254/latest/meta-data/",
        "http://[fd00:ec2::254]/latest/meta-data/",
        "http://100.64.0.1/",
        "http://0.0.0.0:{port}/article.html",
    ],
)
async def test_a_redirect_from_an_allowed_address_to_an_inner_one_is_refused(
    hostile: HostileServer, target: str
) -> None:
    # The test server stands for a public site: its own address is exempt; nothing else is.
    port = hostile.base.rsplit(":", 1)[1]
    target = target.format(port=port)
    async with Fetcher(exempt={"127.0.0.1"}) as fetcher:
        reason = await fetch_error(fetcher, hostile.url(f"/to?url={target}"))
    assert reason.startswith("refused: ") and reason.endswith(PRIVATE_HINT)
    assert hostile.hits == {"/to": 1}


async def test_with_fetch_private_inner_addresses_are_fetched(hostile: HostileServer) -> None:
    async with Fetcher(allow_private=True) as fetcher:
        answer = await fetcher.get(hostile.url("/feed.xml"))
    assert answer.status == 200 and answer.data == FEED


class NameServer(AbstractResolver):
    """A resolver that knows a few made-up names; counts what it is asked."""

    names: ClassVar[dict[str, list[str]]] = {}
    asked: ClassVar[list[str]] = []

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        self.asked.append(host)
        if host not in self.names:
            raise OSError(f"no such name {host}")
        return [
            {
                "hostname": host,
                "host": address,
                "port": port,
                "family": socket.AF_INET6 if ":" in address else socket.AF_INET,
                "proto": 0,
                "flags": 0,
            }
            for address in self.names[host]
        ]

    async def close(self) -> None:
        pass


@pytest.fixture
def name_server(monkeypatch: pytest.MonkeyPatch) -> type[NameServer]:
    """Made-up names for the fetcher's resolver, instead of the system's."""
    monkeypatch.setattr(NameServer, "names", {})
    monkeypatch.setattr(NameServer, "asked", [])
    monkeypatch.setattr(bot.newsroom.fetch, "DefaultResolver", NameServer)
    return NameServer


async def test_the_connection_goes_to_the_address_the_check_saw(
    hostile: HostileServer, name_server: type[NameServer]
) -> None:
    # A rebinding name answers a public address to a check and 127.0.0.1 to the connection.
    # The check is the resolution the connector uses, so there is no second answer to give.
    name_server.names["rebind.example"] = ["127.0.0.1"]
    url = hostile.url("/feed.xml").replace("127.0.0.1", "rebind.example")
    async with Fetcher() as fetcher:
        reason = await fetch_error(fetcher, url)
    assert reason == (
        f"refused: rebind.example resolves to 127.0.0.1, a loopback address; {PRIVATE_HINT}"
    )
    assert name_server.asked == ["rebind.example"]
    assert not hostile.hits

    # The same name, with that address exempt, is fetched through the same resolver: the
    # connector has no other way to find 127.0.0.1 for a made-up name.
    async with Fetcher(exempt={"127.0.0.1"}) as fetcher:
        answer = await fetcher.get(url)
    assert answer.data == FEED and hostile.hits["/feed.xml"] == 1


async def test_only_the_allowed_addresses_of_a_name_reach_the_connector(
    name_server: type[NameServer],
) -> None:
    name_server.names["mixed.example"] = ["127.0.0.1", "93.184.215.14", "10.0.0.7"]
    resolver = bot.newsroom.fetch._GuardedResolver(bot.newsroom.fetch._Policy(False, frozenset()))
    results = await resolver.resolve("mixed.example", 80)
    assert [result["host"] for result in results] == ["93.184.215.14"]


async def test_a_redirect_to_a_name_of_an_inner_address_is_refused(
    hostile: HostileServer, name_server: type[NameServer]
) -> None:
    name_server.names["intranet.example"] = ["10.20.30.40"]
    async with Fetcher(exempt={"127.0.0.1"}) as fetcher:
        reason = await fetch_error(fetcher, hostile.url("/to?url=http://intranet.example/"))
    assert reason == (
        f"refused: intranet.example resolves to 10.20.30.40, a private address; {PRIVATE_HINT}"
    )


# Other answers


async def test_an_error_status_is_one_line(hostile: HostileServer) -> None:
    async with Fetcher(allow_private=True) as fetcher:
        reason = await fetch_error(fetcher, hostile.url("/missing"))
    assert reason == "the server answered HTTP 404"
