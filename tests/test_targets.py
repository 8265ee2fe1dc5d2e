"""REST Hook targets (SSRF): hostile spellings refused before any upstream call."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import AsyncIterator, Sequence
from ipaddress import IPv4Address

import pytest

from resolvers.targets import (
    IPAddress,
    TargetPolicy,
    TargetRefused,
    check_target_url,
    classify,
    parse_legacy_ipv4,
    system_resolver,
)
from tests.support import Harness, harness

#: What the injected resolver answers (this machine has no DNS).
NAMES: dict[str, list[str]] = {
    "hooks.example.com": ["93.184.216.34"],
    "hooks.acme.io": ["2606:2800:220:1:248:1893:25c8:1946", "93.184.216.34"],
    "xn--bcher-kva.acme.io": ["93.184.216.34"],
    "internal.acme.io": ["10.1.2.3"],
    "metadata.acme.io": ["169.254.169.254"],
    "mixed.acme.io": ["93.184.216.34", "192.168.0.10"],
    "mapped.acme.io": ["::ffff:127.0.0.1"],
    "ula.acme.io": ["fd12:3456::1"],
    "cgnat.acme.io": ["100.64.1.1"],
    "loop.acme.io": ["127.0.0.1", "::1"],
}


async def fake_resolver(host: str) -> Sequence[IPAddress]:
    if host not in NAMES:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
    return [ipaddress.ip_address(a) for a in NAMES[host]]


def fullwidth(text: str) -> str:
    """Full-width forms of ASCII letters, digits and dots (IDNA maps them back)."""
    return "".join("\u3002" if c == "." else chr(ord(c) + 0xFEE0) for c in text)


UNSAFE = "UNSAFE_TARGET"
INVALID = "INVALID"

HOSTILE: list[tuple[str, str]] = [
    # loopback, every spelling
    ("https://127.0.0.1/hook", UNSAFE),
    ("https://127.0.0.1:8443/hook", UNSAFE),
    ("https://127.255.255.254/", UNSAFE),
    ("https://localhost/hook", UNSAFE),
    ("https://LOCALHOST./hook", UNSAFE),
    ("https://api.localhost/hook", UNSAFE),
    ("https://2130706433/", UNSAFE),
    ("https://0x7f000001/", UNSAFE),
    ("https://017700000001/", UNSAFE),
    ("https://0177.0.0.1/", UNSAFE),
    ("https://0x7f.0.0.1/", UNSAFE),
    ("https://0X7F.1/", UNSAFE),
    ("https://127.1/", UNSAFE),
    ("https://127.0.1/", UNSAFE),
    ("https://127.000.000.001/", UNSAFE),
    ("https://127.0.0.1./", UNSAFE),
    ("https://[::1]/", UNSAFE),
    ("https://[0:0:0:0:0:0:0:1]/", UNSAFE),
    ("https://[::ffff:127.0.0.1]/", UNSAFE),
    ("https://[::ffff:7f00:1]/", UNSAFE),
    ("https://[::127.0.0.1]/", UNSAFE),
    ("https://%31%32%37%2e%30%2e%30%2e%31/", UNSAFE),
    ("https://%6c%6f%63%61%6c%68%6f%73%74/", UNSAFE),
    (f"https://{fullwidth('127.0.0.1')}/", UNSAFE),
    (f"https://{fullwidth('localhost')}/", UNSAFE),
    # cloud metadata and link-local
    ("https://169.254.169.254/latest/meta-data/", UNSAFE),
    ("https://2852039166/", UNSAFE),
    ("https://0xa9.0xfe.0xa9.0xfe/", UNSAFE),
    ("https://0251.0376.0251.0376/", UNSAFE),
    ("https://[::ffff:a9fe:a9fe]/", UNSAFE),
    ("https://[64:ff9b::a9fe:a9fe]/", UNSAFE),
    ("https://[2002:a9fe:a9fe::1]/", UNSAFE),
    ("https://[fe80::1]/", UNSAFE),
    ("https://[fe80::1%25eth0]/", UNSAFE),
    ("https://metadata.google.internal/", UNSAFE),
    ("https://metadata/computeMetadata/v1/", UNSAFE),
    # private, shared, unspecified, multicast, broadcast, reserved, benchmark, documentation
    ("https://10.0.0.1/", UNSAFE),
    ("https://172.16.0.1/", UNSAFE),
    ("https://172.31.255.255/", UNSAFE),
    ("https://192.168.1.1/", UNSAFE),
    ("https://[fd00::1]/", UNSAFE),
    ("https://[fc00::1]/", UNSAFE),
    ("https://100.64.0.1/", UNSAFE),
    ("https://0.0.0.0/", UNSAFE),
    ("https://0/", UNSAFE),
    ("https://[::]/", UNSAFE),
    ("https://224.0.0.1/", UNSAFE),
    ("https://[ff02::1]/", UNSAFE),
    ("https://255.255.255.255/", UNSAFE),
    ("https://240.0.0.1/", UNSAFE),
    ("https://198.18.0.1/", UNSAFE),
    ("https://192.0.2.1/", UNSAFE),
    ("https://203.0.113.9/", UNSAFE),
    ("https://[2001:db8::1]/", UNSAFE),
    ("https://[4000::1]/", UNSAFE),
    ("https://printer.local/", UNSAFE),
    # names that resolve inward (any one internal address is enough), or not at all
    ("https://internal.acme.io/hook", UNSAFE),
    ("https://metadata.acme.io/", UNSAFE),
    ("https://mixed.acme.io/", UNSAFE),
    ("https://mapped.acme.io/", UNSAFE),
    ("https://ula.acme.io/", UNSAFE),
    ("https://cgnat.acme.io/", UNSAFE),
    ("https://loop.acme.io/", UNSAFE),
    ("https://nowhere.acme.io/", UNSAFE),
    # credentials, schemes, parser differentials
    ("https://user:pass@hooks.example.com/", UNSAFE),
    ("https://hooks.example.com@127.0.0.1/", UNSAFE),
    ("https://@hooks.example.com/", UNSAFE),
    ("http://hooks.example.com/", UNSAFE),
    ("ftp://hooks.example.com/", UNSAFE),
    ("file:///etc/passwd", UNSAFE),
    ("gopher://127.0.0.1:6379/_INFO", UNSAFE),
    ("https:hooks.example.com/", INVALID),
    ("https:///127.0.0.1/", INVALID),
    ("https://hooks.example.com\\@127.0.0.1/", INVALID),
    ("https://127.0.0.1\t/", INVALID),
    (" https://hooks.example.com/", INVALID),
    ("https://1.2.3.4.5/", INVALID),
    ("https://09.0.0.1/", INVALID),
    ("https://[127.0.0.1]/", INVALID),
    ("https://hooks.example.com:0/", INVALID),
    ("https://hooks.example.com:99999/", INVALID),
    ("https://evil.com%2F@127.0.0.1/", UNSAFE),
    ("https://evil.com%40127.0.0.1/", INVALID),
    ("//hooks.example.com/", INVALID),
    ("/relative/hook", INVALID),
    ("", INVALID),
]

PUBLIC: list[tuple[str, str]] = [
    ("https://hooks.example.com/spaces", "https://hooks.example.com/spaces"),
    ("https://hooks.acme.io:8443/in?x=1", "https://hooks.acme.io:8443/in?x=1"),
    ("https://HOOKS.example.com./a", "https://hooks.example.com/a"),
    ("https://bücher.acme.io/x", "https://xn--bcher-kva.acme.io/x"),
    ("https://8.8.8.8/hook", "https://8.8.8.8/hook"),
    ("https://134744072/hook", "https://8.8.8.8/hook"),
    ("https://[2606:4700:4700::1111]/hook", "https://[2606:4700:4700::1111]/hook"),
    ("https://[2002:808:808::1]/", "https://[2002:808:808::1]/"),
]

CREATE = """
mutation($url: String!) {
  createResourceSubscription(input: {event: INVOICE_PAID, targetUrl: $url}) {
    resourceSubscription { targetUrl }
    userErrors { field message code }
  }
}
"""


@pytest.fixture
async def hr() -> AsyncIterator[Harness]:
    async with harness(resolve_host=fake_resolver) as ready:
        yield ready


@pytest.fixture
async def hdev() -> AsyncIterator[Harness]:
    async with harness(resolve_host=fake_resolver, allow_loopback_targets=True) as ready:
        yield ready


@pytest.mark.parametrize(("url", "code"), HOSTILE, ids=[u or "<empty>" for u, _ in HOSTILE])
async def test_hostile_target_is_refused_without_upstream_call(
    hr: Harness, url: str, code: str
) -> None:
    data = await hr.data(CREATE, {"url": url})
    payload = data["createResourceSubscription"]
    assert payload["resourceSubscription"] is None
    assert len(payload["userErrors"]) == 1
    error = payload["userErrors"][0]
    assert (error["code"], error["field"]) == (code, ["input", "targetUrl"]), error
    assert error["message"]
    assert hr.upstream.calls == []


@pytest.mark.parametrize(("url", "sent"), PUBLIC)
async def test_public_target_is_accepted_and_sent_normalised(
    hr: Harness, url: str, sent: str
) -> None:
    data = await hr.data(CREATE, {"url": url})
    payload = data["createResourceSubscription"]
    assert payload["userErrors"] == []
    assert payload["resourceSubscription"]["targetUrl"] == sent
    assert hr.upstream.routes() == ["POST resource_subscriptions"]
    assert (await hr.rest("resource_subscriptions"))["data"][0]["target_url"] == sent


def test_hostile_table_is_large_enough() -> None:
    assert len(HOSTILE) >= 30
    assert len({u for u, _ in HOSTILE}) == len(HOSTILE)


# --- the development setting -------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:9000/hook",
        "https://127.0.0.1/hook",
        "http://localhost:9000/hook",
        "https://[::1]:9000/",
        "http://[::ffff:127.0.0.1]/",
        "http://0x7f.1:9000/",
        "http://loop.acme.io:9000/",
    ],
)
async def test_dev_setting_allows_loopback(hdev: Harness, url: str) -> None:
    data = await hdev.data(CREATE, {"url": url})
    assert data["createResourceSubscription"]["userErrors"] == []
    assert len(hdev.upstream.calls) == 1


@pytest.mark.parametrize(
    "url",
    [
        "https://10.0.0.1/",
        "http://10.0.0.1/",
        "https://169.254.169.254/",
        "https://0.0.0.0/",
        "https://[fe80::1]/",
        "https://internal.acme.io/",
        "http://hooks.example.com/",  # public, but plain http is for loopback only
        "http://8.8.8.8/",
        "https://[::127.0.0.1]/",  # compatible-embedded, not a loopback address itself
    ],
)
async def test_dev_setting_still_refuses_the_rest(hdev: Harness, url: str) -> None:
    data = await hdev.data(CREATE, {"url": url})
    error = data["createResourceSubscription"]["userErrors"][0]
    assert error["code"] == "UNSAFE_TARGET", error
    assert hdev.upstream.calls == []


# --- the pieces --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("host", "address"),
    [
        ("127.0.0.1", "127.0.0.1"),
        ("127.1", "127.0.0.1"),
        ("127.0.1", "127.0.0.1"),
        ("2130706433", "127.0.0.1"),
        ("0x7f000001", "127.0.0.1"),
        ("017700000001", "127.0.0.1"),
        ("0x7f.0x0.0x0.0x1", "127.0.0.1"),
        ("0177.0.0.01", "127.0.0.1"),
        ("0x", "0.0.0.0"),
        ("0", "0.0.0.0"),
        ("1.2.3.4.", "1.2.3.4"),
        ("10.1", "10.0.0.1"),
        ("192.168.257", "192.168.1.1"),
    ],
)
def test_legacy_ipv4_spellings(host: str, address: str) -> None:
    assert parse_legacy_ipv4(host) == IPv4Address(address)


@pytest.mark.parametrize("host", ["example.com", "0x7f.example.com", "1password.com", "a.b"])
def test_names_are_not_ipv4(host: str) -> None:
    assert parse_legacy_ipv4(host) is None


@pytest.mark.parametrize(
    "host", ["1.2.3.4.5", "256.1.1.1", "1.2.3.256", "1.16777216", "08", "0x1g.1", "a.1"]
)
def test_numeric_hosts_that_are_no_address_are_refused(host: str) -> None:
    with pytest.raises(ValueError):
        parse_legacy_ipv4(host)


@pytest.mark.parametrize(
    ("address", "words"),
    [
        ("127.0.0.1", "loopback"),
        ("::1", "loopback"),
        ("::ffff:10.0.0.1", "private"),
        ("169.254.169.254", "link-local"),
        ("100.64.0.1", "shared"),
        ("198.19.0.1", "benchmarking"),
        ("2001:2::1", "benchmarking"),
        ("3fff::1", "documentation"),
        ("64:ff9b::7f00:1", "embedding 127.0.0.1"),
        ("64:ff9b::808:808", "reserved"),
        ("2001::1", "IETF"),
        ("fec0::1", "site-local"),
        ("192.88.99.1", "6to4"),
    ],
)
def test_classify_names_why(address: str, words: str) -> None:
    verdict = classify(ipaddress.ip_address(address))
    assert verdict is not None and words in verdict.reason


@pytest.mark.parametrize("address", ["8.8.8.8", "93.184.216.34", "2606:4700:4700::1111"])
def test_classify_public(address: str) -> None:
    assert classify(ipaddress.ip_address(address)) is None


async def test_a_slow_resolver_is_refused() -> None:
    async def slow(host: str) -> Sequence[IPAddress]:
        await asyncio.sleep(10)
        return []

    policy = TargetPolicy(resolve=slow, resolve_timeout=0.01)
    with pytest.raises(TargetRefused, match="does not resolve"):
        await check_target_url("https://hooks.example.com/", policy)


async def test_system_resolver_reads_every_address_without_dns() -> None:
    # A numeric host needs no DNS: this exercises getaddrinfo's answer handling offline.
    assert await system_resolver("127.0.0.1") == [IPv4Address("127.0.0.1")]
    with pytest.raises(TargetRefused, match="loopback"):
        await check_target_url("https://127.0.0.1/", TargetPolicy())
