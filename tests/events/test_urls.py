"""Which URLs the service calls: public ``https://`` only, checked when set and again at each
delivery, where the connection goes to the address that was checked."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from sqlalchemy import Engine

from oms_export.errors import InvalidRequest
from oms_export.events.urls import Resolver, check_url
from oms_export.settings import Settings
from tests.events.conftest import Workers
from tests.events.receivers import Receiver
from tests.events.support import (
    FakeClock,
    attempts_of,
    event_row,
    fast,
    insert_event,
    receiving_order,
)


def dns(answers: dict[str, Sequence[str]]) -> Resolver:
    """A resolver that knows only ``answers``, as ``check_url(resolve=…)`` takes one."""

    def resolve(host: str, _port: int) -> Sequence[str]:
        if host not in answers:
            raise OSError(f"unknown host {host}")
        return answers[host]

    return resolve


def refusal(url: str, resolve: Resolver | None = None) -> str:
    with pytest.raises(InvalidRequest) as caught:
        check_url(url, allow_private=False, parameter="status_callback_url", resolve=resolve)
    assert caught.value.parameter == "status_callback_url"
    return caught.value.description


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("https://127.0.0.1/cb", "127.0.0.1 is a loopback address"),
        ("https://127.8.9.10/cb", "127.8.9.10 is a loopback address"),
        ("https://[::1]/cb", "::1 is a loopback address"),
        ("https://localhost/cb", "localhost (127.0.0.1) is a loopback address"),
        ("https://10.1.2.3/cb", "10.1.2.3 is a private address"),
        ("https://172.16.0.9/cb", "172.16.0.9 is a private address"),
        ("https://192.168.1.1:8443/cb", "192.168.1.1 is a private address"),
        ("https://[fd12:3456::1]/cb", "fd12:3456::1 is a private address"),
        (
            "https://169.254.169.254/latest/meta-data/",
            "169.254.169.254 is a cloud metadata address",
        ),
        ("https://[fd00:ec2::254]/", "fd00:ec2::254 is a cloud metadata address"),
        ("https://169.254.10.20/", "169.254.10.20 is a link-local address"),
        ("https://[fe80::1]/", "fe80::1 is a link-local address"),
        ("https://100.64.0.1/", "100.64.0.1 is a shared address"),
        ("https://0.0.0.0/", "0.0.0.0 is the unspecified address"),
        ("https://[::]/", ":: is the unspecified address"),
        ("https://224.0.0.1/", "224.0.0.1 is a multicast address"),
        ("https://[ff02::1]/", "ff02::1 is a multicast address"),
        ("https://240.0.0.1/", "240.0.0.1 is a reserved address"),
        ("https://[::ffff:127.0.0.1]/", "::ffff:127.0.0.1 is a loopback address"),
        ("https://[::ffff:10.0.0.1]/", "::ffff:10.0.0.1 is a private address"),
    ],
)
def test_urls_to_non_public_addresses_are_refused(url: str, reason: str) -> None:
    description = refusal(url)
    assert description.startswith(f"status_callback_url: {reason}, not a public address")
    assert "OMS_EXPORT_CALLBACK_ALLOW_PRIVATE=1" in description


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://93.184.215.14/cb", "the URL must start with https:// (not http://)"),
        ("ftp://93.184.215.14/cb", "the URL must start with https:// (not ftp://)"),
        ("hooks.example.com/cb", "the URL must start with https://"),
        ("https:///cb", "the URL names no host"),
        ("https://user:pw@93.184.215.14/", "the URL may not carry a user name or password"),
        ("https://no-such-host.invalid/", "host no-such-host.invalid does not resolve"),
        ("https://" + "a" * 2050 + ".com/", "a URL of at most 2048 characters is needed"),
    ],
)
def test_urls_that_are_not_https_or_do_not_resolve_are_refused(url: str, reason: str) -> None:
    assert refusal(url).startswith(f"status_callback_url: {reason}")


def test_a_host_with_one_private_address_among_public_ones_is_refused() -> None:
    resolve = dns({"hooks.example.com": ["93.184.215.14", "10.0.0.7"]})
    assert refusal("https://hooks.example.com/", resolve=resolve).startswith(
        "status_callback_url: hooks.example.com (10.0.0.7) is a private address"
    )


def test_a_public_https_url_passes_with_the_addresses_it_resolved_to() -> None:
    resolve = dns(
        {"hooks.example.com": ["93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c"]}
    )
    checked = check_url("https://hooks.example.com/oms?x=1", allow_private=False, resolve=resolve)
    assert checked.addresses == ("93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c")
    url, headers, extensions = checked.pinned()
    assert str(url) == "https://93.184.215.14/oms?x=1"
    assert headers == {"Host": "hooks.example.com"}
    assert extensions == {"sni_hostname": "hooks.example.com"}  # TLS checks the host's name


def test_an_ipv6_address_is_pinned_in_brackets_with_its_port() -> None:
    resolve = dns({"v6.example.com": ["2606:4700::1"]})
    checked = check_url("https://v6.example.com:8443/cb", allow_private=False, resolve=resolve)
    url, headers, _ = checked.pinned()
    assert str(url) == "https://[2606:4700::1]:8443/cb"
    assert headers == {"Host": "v6.example.com:8443"}


@pytest.mark.parametrize(
    "url",
    ["http://127.0.0.1:8080/cb", "https://localhost/cb", "http://[::1]/cb", "http://10.0.0.1/",
     "http://169.254.169.254/"],
)  # fmt: skip
def test_the_setting_allows_plain_http_and_private_addresses(url: str) -> None:
    assert check_url(url, allow_private=True).addresses


def test_other_schemes_stay_refused_with_the_setting() -> None:
    with pytest.raises(InvalidRequest, match=r"must start with https:// or http:// \(not ftp://\)"):
        check_url("ftp://127.0.0.1/", allow_private=True)


# --- at delivery ------------------------------------------------------------------------------


def test_a_url_refused_at_delivery_is_a_failed_attempt_and_nothing_is_sent(
    engine: Engine, settings: Settings, receiver: Receiver, make_worker: Workers
) -> None:
    company_id, order_id = receiving_order(engine)
    event_id = insert_event(engine, company_id, order_id, receiver.url + "/ok")
    strict = fast(settings, callback_allow_private=False)

    make_worker(engine, strict, FakeClock()).run_once()

    assert receiver.requests == []
    (attempt,) = attempts_of(engine, event_id)
    assert attempt.status_code is None
    assert attempt.error == (
        "refused: the URL must start with https:// (not http://); plain http:// needs "
        "OMS_EXPORT_CALLBACK_ALLOW_PRIVATE=1"
    )
    assert event_row(engine, event_id).state == "pending"


def test_a_host_that_now_resolves_to_loopback_is_refused_at_delivery(
    engine: Engine, settings: Settings, receiver: Receiver, make_worker: Workers
) -> None:
    """DNS rebinding: the URL passed when it was set; its host points at loopback now."""
    check_url("https://hooks.example.com/cb", allow_private=False,
              resolve=dns({"hooks.example.com": ["93.184.215.14"]}))  # fmt: skip
    company_id, order_id = receiving_order(engine)
    event_id = insert_event(engine, company_id, order_id, "https://hooks.example.com/cb")
    rebound = dns({"hooks.example.com": ["127.0.0.1"]})
    strict = fast(settings, callback_allow_private=False)
    worker = make_worker(engine, strict, FakeClock(), resolve=rebound)

    worker.run_once()

    (attempt,) = attempts_of(engine, event_id)
    assert attempt.error.startswith(
        "refused: hooks.example.com (127.0.0.1) is a loopback address, not a public address"
    )


def test_delivery_connects_to_the_checked_address_with_the_urls_host(
    engine: Engine, settings: Settings, receiver: Receiver, make_worker: Workers
) -> None:
    """The host exists only in the checked answer, so the request can only have reached the
    receiver through the address the check saw: no second lookup happened."""
    port = receiver.url.rsplit(":", 1)[1]
    company_id, order_id = receiving_order(engine)
    event_id = insert_event(engine, company_id, order_id, f"http://hooks.test:{port}/ok")
    resolve = dns({"hooks.test": ["127.0.0.1"]})
    worker = make_worker(engine, fast(settings), FakeClock(), resolve=resolve)

    worker.run_once()

    (request,) = receiver.requests
    assert request.headers["host"] == f"hooks.test:{port}"
    assert event_row(engine, event_id).state == "delivered"
