"""Where a REST Hook may deliver events: refuse targets inside a network (SSRF).

Once a resource subscription exists, the upstream POSTs every matching event
to its ``target_url``. Forwarding any URL a caller sends would let them aim
that delivery at internal services: loopback admin ports, RFC 1918 hosts,
cloud metadata at 169.254.169.254. So the facade accepts only absolute
``https`` URLs whose host is, and resolves only to, global unicast addresses.

Attackers spell internal hosts in ways naive checks miss (``0x7f.1``,
``2130706433``, ``[::ffff:7f00:1]``, ``127%2E0%2E0%2E1``, full-width digits),
and URL parsers disagree with each other about odd input. Two defences
follow from that: the host is parsed here the way browsers and ``inet_aton``
read it (WHATWG's IPv4 rules, IDNA mapping, percent-decoding), and the URL
sent upstream is the normalised one that was checked, never the raw input.

The check cannot stop DNS rebinding: the upstream resolves the name again
when it delivers. Refusing names that resolve inward *now* still stops the
plain attacks and every literal spelling.

This module parses the URL and runs the check; which addresses are public, and
how a numeric host is read, is ``resolvers/addresses.py`` (re-exported here).
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
import socket
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from ipaddress import IPv6Address
from urllib.parse import quote, unquote_to_bytes, urlsplit

from resolvers.addresses import LOOPBACK, IPAddress, classify, parse_legacy_ipv4
from resolvers.errors import BadUserInput, UserErrorCode

HostResolver = Callable[[str], Awaitable[Sequence[IPAddress]]]
"""Maps a host name to every address it resolves to; raises ``OSError`` when it does not."""

MAX_URL_LENGTH = 2048
UNSAFE = UserErrorCode.UNSAFE_TARGET
INVALID = UserErrorCode.INVALID


class TargetRefused(BadUserInput):
    """A ``targetUrl`` the facade will not hand to the upstream.

    ``user_code`` is the ``UserError.code`` a mutation reports: ``INVALID`` for
    what is not an absolute URL at all, ``UNSAFE_TARGET`` for the rest.
    """

    def __init__(self, message: str, *, user_code: UserErrorCode = UNSAFE) -> None:
        super().__init__(message, argument="targetUrl")
        self.user_code = user_code


async def system_resolver(host: str) -> list[IPAddress]:
    """Every A and AAAA address of ``host``, through the event loop's ``getaddrinfo``."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, None, type=socket.SOCK_STREAM)
    out: list[IPAddress] = []
    for family, _type, _proto, _name, sockaddr in infos:
        if family in (socket.AF_INET, socket.AF_INET6):
            # A scope suffix (``fe80::1%eth0``) would make ``ip_address`` refuse to parse.
            out.append(ipaddress.ip_address(str(sockaddr[0]).partition("%")[0]))
    return out


@dataclass(frozen=True, slots=True)
class TargetPolicy:
    """What the check allows and how it resolves names (injectable for tests)."""

    resolve: HostResolver = system_resolver
    #: Development only: loopback targets (over http or https) for local receivers.
    allow_loopback: bool = False
    resolve_timeout: float = 5.0


# --- host parsing -------------------------------------------------------------------


_LABEL = re.compile(r"^[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?$")
# Names that only mean something inside a network (RFC 6761/6762/8375, common habits).
_INTERNAL_SUFFIXES = (
    "local", "localdomain", "internal", "intranet", "lan", "home", "corp", "private",
    "home.arpa", "arpa", "test", "invalid", "onion", "example",
)  # fmt: skip
# Bytes never legal in a URL we accept: they make parsers disagree about the host.
_FORBIDDEN = re.compile(r"[\x00-\x20\x7f\\]")


def _is_localhost(name: str) -> bool:
    return name == "localhost" or name.endswith(".localhost")


def _normalise_name(raw: str) -> str:
    """The ASCII (IDNA) form of a host name: lower case, no trailing dot.

    Percent-decoding and IDNA mapping come first because resolvers and
    browsers apply them: ``%6c%6f…`` and full-width letters both spell ``localhost``.
    """
    try:
        host = unquote_to_bytes(raw).decode("utf-8")
    except UnicodeDecodeError:
        raise TargetRefused("targetUrl's host is not valid UTF-8", user_code=INVALID) from None
    if not host.isascii():
        try:
            # Python's IDNA 2003 codec maps full-width letters, digits and dots (NFKC).
            host = host.encode("idna").decode("ascii")
        except UnicodeError:
            raise TargetRefused(
                "targetUrl's host is not a valid internationalised name", user_code=INVALID
            ) from None
    host = host.lower()
    if host.endswith(".") and not host.endswith(".."):
        host = host[:-1]
    return host


@dataclass(frozen=True, slots=True)
class ParsedTarget:
    """A ``targetUrl`` split and normalised: ``address`` set for IP literals."""

    scheme: str
    host: str
    address: IPAddress | None
    port: int | None
    rest: str

    def url(self) -> str:
        """The URL that goes upstream: exactly the host that was checked."""
        if isinstance(self.address, IPv6Address):
            host = f"[{self.address.compressed}]"
        elif self.address is not None:
            host = str(self.address)
        else:
            host = self.host
        port = "" if self.port is None else f":{self.port}"
        return f"{self.scheme}://{host}{port}{self.rest}"


def _split_authority(netloc: str) -> tuple[str, str, bool]:
    """(host, port text, bracketed) from ``host[:port]`` or ``[v6][:port]``."""
    if netloc.startswith("["):
        inside, sep, after = netloc[1:].partition("]")
        if not sep or (after and not after.startswith(":")):
            raise TargetRefused("targetUrl has a malformed IPv6 host", user_code=INVALID)
        return inside, after[1:], True
    host, _, port = netloc.partition(":")
    if ":" in port:
        raise TargetRefused("targetUrl's host is malformed", user_code=INVALID)
    return host, port, False


def parse_target(raw: str) -> ParsedTarget:
    """Split and normalise ``raw``, refusing every shape that is not a plain absolute URL."""
    if not raw:
        raise TargetRefused("targetUrl must not be empty", user_code=INVALID)
    if len(raw) > MAX_URL_LENGTH:
        raise TargetRefused(
            f"targetUrl is longer than {MAX_URL_LENGTH} characters", user_code=INVALID
        )
    if _FORBIDDEN.search(raw):
        raise TargetRefused(
            "targetUrl must not contain spaces, control characters or backslashes",
            user_code=INVALID,
        )
    try:
        parts = urlsplit(raw)
    except ValueError:
        raise TargetRefused("targetUrl is not a URL", user_code=INVALID) from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        if not scheme:
            raise TargetRefused("targetUrl must be an absolute https:// URL", user_code=INVALID)
        raise TargetRefused(f"targetUrl must use https, not {scheme}:")
    # ``https:host`` and ``https:///host`` name a host to browsers but not to urlsplit.
    if not raw[len(parts.scheme) + 1 :].startswith("//") or not parts.netloc:
        raise TargetRefused(
            "targetUrl must be an absolute https:// URL with a host", user_code=INVALID
        )
    if "@" in parts.netloc:
        raise TargetRefused("targetUrl must not carry credentials (user:password@)")
    host_text, port_text, bracketed = _split_authority(parts.netloc)
    port: int | None = None
    if port_text:
        if not port_text.isascii() or not port_text.isdigit() or not 0 < int(port_text) < 65536:
            raise TargetRefused("targetUrl has an invalid port", user_code=INVALID)
        port = int(port_text)
    address: IPAddress | None
    if bracketed:
        if "%" in host_text:
            raise TargetRefused("targetUrl must not use an IPv6 zone (link-local scope)")
        try:
            address = IPv6Address(host_text)
        except ValueError:
            raise TargetRefused("targetUrl has a malformed IPv6 host", user_code=INVALID) from None
        host = address.compressed
    else:
        host = _normalise_name(host_text)
        try:
            address = parse_legacy_ipv4(host)
        except ValueError as exc:
            raise TargetRefused(
                f"targetUrl's host is not valid: {exc}", user_code=INVALID
            ) from None
        if address is None:
            labels = host.split(".")
            if len(host) > 253 or not all(_LABEL.match(label) for label in labels):
                raise TargetRefused("targetUrl's host is not a valid host name", user_code=INVALID)
    rest = parts.path + (f"?{parts.query}" if parts.query else "")
    rest += f"#{parts.fragment}" if parts.fragment else ""
    # Non-ASCII in the path is sent percent-encoded so every parser reads the same bytes.
    rest = quote(rest, safe="/?#[]@!$&'()*+,;=:%-._~")
    return ParsedTarget(scheme, host, address, port, rest)


# --- the check ----------------------------------------------------------------------


async def _addresses(target: ParsedTarget, policy: TargetPolicy) -> list[IPAddress] | None:
    """Where the target points; ``None`` for the ``localhost`` names (loopback by RFC 6761)."""
    if target.address is not None:
        return [target.address]
    name = target.host
    if _is_localhost(name):
        return None
    if "." not in name:
        # A single label resolves through search domains (``metadata`` on a cloud VM).
        raise TargetRefused(f"targetUrl's host {name!r} is not a fully qualified domain name")
    if any(name == s or name.endswith("." + s) for s in _INTERNAL_SUFFIXES):
        raise TargetRefused(f"targetUrl's host {name!r} is a name for internal networks only")
    try:
        found = list(await asyncio.wait_for(policy.resolve(name), policy.resolve_timeout))
    except (OSError, UnicodeError, TimeoutError):
        found = []
    if not found:
        raise TargetRefused(
            f"targetUrl's host {name!r} does not resolve; a REST Hook needs a public address"
        )
    return found


async def check_target_url(raw: str, policy: TargetPolicy) -> str:
    """The normalised ``raw`` if it is safe to deliver to; else :class:`TargetRefused`.

    Every address a name resolves to must be public: one internal answer is
    enough for a resolver (or an attacker's DNS) to deliver inward.
    """
    target = parse_target(raw)
    if target.scheme == "http" and not policy.allow_loopback:
        raise TargetRefused("targetUrl must use https")
    addresses = await _addresses(target, policy)
    if addresses is None:
        if not policy.allow_loopback:
            raise TargetRefused(f"targetUrl's host {target.host!r} is {LOOPBACK}")
        return target.url()
    all_loopback = True
    for address in addresses:
        verdict = classify(address)
        if verdict is None:
            all_loopback = False
            continue
        if verdict.loopback and policy.allow_loopback:
            continue
        if target.address is None:
            raise TargetRefused(
                f"targetUrl's host {target.host!r} resolves to {address}, {verdict.reason}"
            )
        raise TargetRefused(f"targetUrl points at {address}, {verdict.reason}")
    if target.scheme == "http" and not all_loopback:
        raise TargetRefused("targetUrl must use https (plain http is allowed for loopback only)")
    return target.url()


__all__ = [
    "HostResolver",
    "IPAddress",
    "ParsedTarget",
    "TargetPolicy",
    "TargetRefused",
    "check_target_url",
    "classify",
    "parse_legacy_ipv4",
    "parse_target",
    "system_resolver",
]
