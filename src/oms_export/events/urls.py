"""Which callback and push URLs the service may call (API.md §7, "Safety").

Anyone who may set a URL could otherwise make the service send requests inside its own network
(server-side request forgery): to a database admin page on loopback, to a cloud's metadata
service, which hands out credentials. So a URL must be ``https://`` and every address its host
resolves to must be public. It is checked when the URL is set, and again at each delivery,
since DNS may answer differently later (DNS rebinding). At delivery the attempt then connects
to the very address checked (``CheckedUrl.pinned``), so no second lookup can slip in between.

``allow_private`` (``OMS_EXPORT_CALLBACK_ALLOW_PRIVATE=1``) lifts both rules, for tests and
private networks.

Example::

    check_url("https://hooks.example.com/oms", allow_private=False, parameter="push_url")
    check_url("http://127.0.0.1:9000/cb", allow_private=False)   # InvalidRequest: not https://
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from oms_export.errors import InvalidRequest

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], Sequence[str]]

MAX_URL_LENGTH = 2048

METADATA_ADDRESSES = frozenset(
    {ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254")}
)
"""Cloud instance metadata services (AWS, GCP, Azure; AWS's IPv6 one): credentials live there."""

SHARED = ipaddress.ip_network("100.64.0.0/10")
"""Carrier-grade NAT space (RFC 6598): not routable on the internet, often a provider's own."""


@dataclass(frozen=True)
class CheckedUrl:
    """A URL that passed, and the addresses its host resolved to when it did."""

    url: httpx.URL
    addresses: tuple[str, ...]

    @property
    def host(self) -> str:
        return self.url.host

    def pinned(self) -> tuple[httpx.URL, dict[str, str], dict[str, Any]]:
        """(URL naming the first checked address, headers, request extensions) for httpx:
        the connection goes to that address while ``Host`` and TLS (SNI and the certificate
        check) still name the URL's host."""
        address = self.addresses[0]
        host_header = self.url.netloc.decode("ascii")
        extensions: dict[str, Any] = {}
        if self.url.scheme == "https" and not _is_literal(self.url.host):
            extensions["sni_hostname"] = self.url.host
        return self.url.copy_with(host=address), {"Host": host_header}, extensions


def check_url(
    url: str,
    *,
    allow_private: bool,
    parameter: str = "url",
    resolve: Resolver | None = None,
) -> CheckedUrl:
    """``url`` resolved and checked; ``InvalidRequest`` naming ``parameter`` with the reason.

    ``resolve`` (host, port) → addresses stands in for DNS in tests.
    """

    def refuse(reason: str) -> InvalidRequest:
        return InvalidRequest(f"{parameter}: {reason}", parameter=parameter)

    if len(url) > MAX_URL_LENGTH:
        raise refuse(f"a URL of at most {MAX_URL_LENGTH} characters is needed")
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL as exc:
        raise refuse(f"not a URL ({exc})") from None
    schemes = ("https", "http") if allow_private else ("https",)
    if parsed.scheme not in schemes:
        wanted = "https:// or http://" if allow_private else "https://"
        given = f" (not {parsed.scheme}://)" if parsed.scheme else ""
        hint = "" if allow_private else "; plain http:// needs OMS_EXPORT_CALLBACK_ALLOW_PRIVATE=1"
        raise refuse(f"the URL must start with {wanted}{given}{hint}")
    if not parsed.host:
        raise refuse("the URL names no host")
    if parsed.userinfo:
        raise refuse("the URL may not carry a user name or password")
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    try:
        addresses = tuple((resolve or _resolve)(parsed.host, port))
    except OSError as exc:
        raise refuse(f"host {parsed.host} does not resolve ({exc})") from None
    if not addresses:
        raise refuse(f"host {parsed.host} does not resolve")
    if not allow_private:
        for address in addresses:
            why = refused_because(ipaddress.ip_address(address))
            if why is not None:
                named = parsed.host if address == parsed.host else f"{parsed.host} ({address})"
                raise refuse(
                    f"{named} is {why}, not a public address; the service calls public "
                    "addresses only (OMS_EXPORT_CALLBACK_ALLOW_PRIVATE=1 allows it)"
                )
    return CheckedUrl(parsed, addresses)


def refused_because(address: IPAddress) -> str | None:
    """Why ``address`` may not be called (``"a loopback address"``), or None when public."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return refused_because(address.ipv4_mapped)  # ::ffff:127.0.0.1 is 127.0.0.1
    if address in METADATA_ADDRESSES:
        return "a cloud metadata address"
    checks = (
        (address.is_loopback, "a loopback address"),
        (address.is_unspecified, "the unspecified address"),
        (address.is_link_local, "a link-local address"),
        (address.is_multicast, "a multicast address"),
        (isinstance(address, ipaddress.IPv4Address) and address in SHARED, "a shared address"),
        (address.is_reserved, "a reserved address"),
        (address.is_private, "a private address"),
        (not address.is_global, "an address the internet does not route"),
    )
    return next((why for failed, why in checks if failed), None)


def _resolve(host: str, port: int) -> list[str]:
    found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    # Every address is checked, so none can be the one a connection lands on unseen.
    return list(dict.fromkeys(str(info[4][0]) for info in found))


def _is_literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True
