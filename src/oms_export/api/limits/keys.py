"""The key a request is limited under when it has no client yet: its source address.

Apart from the limiters because it is policy about keys, the same whichever flavour counts
them; the token route uses it for failed authentications.
"""

from __future__ import annotations

import ipaddress
from typing import Final

UNKNOWN_SOURCE: Final = "unknown"
"""The key of requests whose source address the server does not know (a Unix socket)."""


def source_key(host: str | None) -> str:
    """The rate-limit key of the source address ``host``: IPv4 as is, IPv6 by its /64.

    One IPv6 host owns a whole /64 (privacy addresses rotate inside it), so keying each address
    alone would let one machine spread its failures over endless keys. An IPv4-mapped IPv6
    address is its IPv4 address. Anything that is not an IP address (a test client's name) is
    used as given.

    Example::

        source_key("203.0.113.7")           # -> "203.0.113.7"
        source_key("2001:db8:1:2:a:b:c:d")  # -> "2001:db8:1:2::/64"
        source_key("::ffff:203.0.113.7")    # -> "203.0.113.7"
    """
    if not host:
        return UNKNOWN_SOURCE
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return str(address)
