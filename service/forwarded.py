"""Whose request is it: the client's address, with `X-Forwarded-For` believed only as far
as it was written by the reverse proxies listed in DIEMCAU_TRUSTED_PROXIES.

Anyone can send `X-Forwarded-For: 1.2.3.4`; only a proxy we trust appends the address
it saw. So the header is read from the right: each hop written by a trusted proxy is
passed over, and the first address a trusted proxy vouches for that is not itself a
trusted proxy is the client. From a peer that is not a trusted proxy the header is
ignored, and the peer is the client.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from typing import TypeAlias

Address: TypeAlias = ipaddress.IPv4Address | ipaddress.IPv6Address
Network: TypeAlias = ipaddress.IPv4Network | ipaddress.IPv6Network

# Some proxies write a port beside the address: `203.0.113.7:51234`, `[2001:db8::1]:443`.
_WITH_PORT = re.compile(r"^\[(?P<v6>[^\]]+)\](?::\d+)?$|^(?P<v4>[0-9.]+):\d+$")


def parse_address(text: str) -> Address | None:
    """An address as a peer or a proxy writes it, or None when it is none."""
    text = text.strip()
    found = _WITH_PORT.match(text)
    if found:
        text = found["v6"] or found["v4"]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped  # a dual-stack socket's view of an IPv4 client
    return address


def parse_networks(text: str) -> tuple[Network, ...]:
    """`10.0.0.0/8, 192.0.2.1, ::1`: addresses and CIDR blocks; ValueError names a bad one."""
    networks = []
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        try:
            networks.append(ipaddress.ip_network(part, strict=False))
        except ValueError:
            raise ValueError(part) from None
    return tuple(networks)


def _trusted(address: Address, trusted: tuple[Network, ...]) -> bool:
    return any(address.version == net.version and address in net for net in trusted)


def client_address(
    peer: str | None, forwarded_for: Iterable[str], trusted: tuple[Network, ...]
) -> str:
    """The client's address from the socket's peer and the X-Forwarded-For header(s)."""
    address = parse_address(peer or "")
    if address is None:
        return peer or "unknown"
    if not _trusted(address, trusted):
        return str(address)
    hops = [hop for value in forwarded_for for hop in value.split(",")]
    for hop in reversed(hops):
        found = parse_address(hop)
        if found is None:
            break  # a trusted proxy never writes this: what is left was the client's to say
        address = found
        if not _trusted(address, trusted):
            break
    return str(address)
