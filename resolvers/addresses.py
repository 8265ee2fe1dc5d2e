"""IP addresses for REST Hook targets: how a numeric host is read, and which addresses are public.

The address half of ``resolvers/targets.py`` (the SSRF check): no I/O and no
error types of its own. :func:`parse_legacy_ipv4` reads a numeric host the way
browsers and ``inet_aton`` do (``127.1``, ``0x7f.0.0.1``, ``2130706433``), and
:func:`classify` says why an address is no place to deliver events to, or
``None`` for a global unicast one.
"""

from __future__ import annotations

from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network

IPAddress = IPv4Address | IPv6Address

# --- which addresses are public -----------------------------------------------------

_PRIVATE = "a private address"
LOOPBACK = "a loopback address"
_LINK_LOCAL = "a link-local address (which includes cloud metadata services)"
_DOCUMENTATION = "a documentation-only address"
_RESERVED = "a reserved address"

_V4: tuple[tuple[IPv4Network, str], ...] = tuple(
    (IPv4Network(net), why)
    for net, why in (
        ("0.0.0.0/8", "an unspecified ('this network') address"),
        ("127.0.0.0/8", LOOPBACK),
        ("10.0.0.0/8", _PRIVATE),
        ("172.16.0.0/12", _PRIVATE),
        ("192.168.0.0/16", _PRIVATE),
        ("100.64.0.0/10", "a shared (carrier-grade NAT) address"),
        ("169.254.0.0/16", _LINK_LOCAL),
        ("192.0.0.0/24", "an IETF protocol assignment"),
        ("192.0.2.0/24", _DOCUMENTATION),
        ("198.51.100.0/24", _DOCUMENTATION),
        ("203.0.113.0/24", _DOCUMENTATION),
        ("198.18.0.0/15", "a benchmarking address"),
        ("192.88.99.0/24", "a deprecated 6to4 relay address"),
        ("224.0.0.0/4", "a multicast address"),
        # Before 240/4, which contains it, so the message names it.
        ("255.255.255.255/32", "the broadcast address"),
        ("240.0.0.0/4", _RESERVED),
    )
)

_V6: tuple[tuple[IPv6Network, str], ...] = tuple(
    (IPv6Network(net), why)
    for net, why in (
        ("::/128", "the unspecified address"),
        ("::1/128", LOOPBACK),
        ("64:ff9b:1::/48", "a local-use NAT64 address"),
        ("100::/64", "a discard-only address"),
        ("2001:db8::/32", _DOCUMENTATION),
        ("3fff::/20", _DOCUMENTATION),
        ("2001:2::/48", "a benchmarking address"),
        # Teredo, ORCHID, AMT and friends: infrastructure, never a webhook receiver.
        ("2001::/23", "an IETF protocol assignment"),
        ("fc00::/7", "a unique local (private) address"),
        ("fe80::/10", _LINK_LOCAL),
        ("fec0::/10", "a deprecated site-local (private) address"),
        ("ff00::/8", "a multicast address"),
    )
)

# Only this block holds global unicast; Python 3.11's ``is_global`` calls much
# of the rest (``4000::/3``, NAT64 ``64:ff9b::/96``) global, so it is not relied on.
_V6_GLOBAL_UNICAST = IPv6Network("2000::/3")
_V6_COMPATIBLE = IPv6Network("::/96")
_V6_NAT64 = IPv6Network("64:ff9b::/96")


@dataclass(frozen=True, slots=True)
class Verdict:
    """Why an address is not a safe target; ``loopback`` if the dev setting may allow it."""

    reason: str
    loopback: bool = False


def classify(address: IPAddress) -> Verdict | None:
    """``None`` for a public address, else why it is refused."""
    if isinstance(address, IPv4Address):
        for net, why in _V4:
            if address in net:
                return Verdict(why, loopback=why == LOOPBACK)
        if not address.is_global:
            return Verdict(_RESERVED)
        return None
    mapped = address.ipv4_mapped
    if mapped is not None:
        # The OS connects ``::ffff:a.b.c.d`` to a.b.c.d itself: judge that address.
        return classify(mapped)
    embedded = _embedded_v4(address)
    if embedded is not None:
        inner = classify(embedded)
        if inner is not None:
            return Verdict(f"an address embedding {embedded}, {inner.reason}")
    for net6, why in _V6:
        if address in net6:
            return Verdict(why, loopback=why == LOOPBACK)
    if address not in _V6_GLOBAL_UNICAST:
        return Verdict(_RESERVED)
    return None


def _embedded_v4(address: IPv6Address) -> IPv4Address | None:
    """The IPv4 address an IPv4-compatible, NAT64 or 6to4 address carries."""
    # ``::`` and ``::1`` lie in the compatible block but are themselves, not embeddings.
    if (address in _V6_COMPATIBLE and int(address) > 1) or address in _V6_NAT64:
        return IPv4Address(int(address) & 0xFFFFFFFF)
    return address.sixtofour


# --- numeric hosts ------------------------------------------------------------------


def _ipv4_number(part: str) -> int | None:
    """One dotted part as ``inet_aton`` reads it: ``0x`` hex, leading-zero octal, else decimal."""
    if part.startswith("0x"):
        digits, base = part[2:], 16
        if not digits:
            return 0  # WHATWG reads a bare ``0x`` as zero
    elif len(part) > 1 and part.startswith("0"):
        digits, base = part[1:], 8
    else:
        digits, base = part, 10
    if not digits or any(c not in "0123456789abcdef"[:base] for c in digits):
        return None
    return int(digits, base)


def _ends_in_number(labels: list[str]) -> bool:
    last = labels[-1]
    return last.isascii() and (last.isdigit() or _ipv4_number(last) is not None)


def parse_legacy_ipv4(host: str) -> IPv4Address | None:
    """The address a numeric host means in any legacy spelling, per WHATWG's IPv4 parser.

    ``127.1``, ``0x7f.0.0.1``, ``0177.0.0.1``, ``2130706433`` all mean 127.0.0.1.
    ``None`` when ``host`` is a name; ``ValueError`` when it ends in a number yet
    is no address (``1.2.3.4.5``, ``09.1``): browsers refuse those, and a
    resolver might not, so the facade refuses them too.
    """
    labels = host.split(".")
    if len(labels) > 1 and labels[-1] == "":
        labels.pop()
    if not _ends_in_number(labels):
        return None
    if len(labels) > 4:
        raise ValueError(f"{host!r} has too many parts for an IPv4 address")
    numbers = [_ipv4_number(label) for label in labels]
    parts = [n for n in numbers if n is not None]
    if len(parts) != len(labels):
        raise ValueError(f"{host!r} is neither a host name nor an IPv4 address")
    if any(n > 255 for n in parts[:-1]) or parts[-1] >= 256 ** (5 - len(parts)):
        raise ValueError(f"{host!r} is out of range for an IPv4 address")
    value = parts[-1]
    for i, n in enumerate(parts[:-1]):
        value += n << (8 * (3 - i))
    return IPv4Address(value)


__all__ = ["LOOPBACK", "IPAddress", "Verdict", "classify", "parse_legacy_ipv4"]
