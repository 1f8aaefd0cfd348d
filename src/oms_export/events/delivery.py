"""One delivery attempt of one event: a signed HTTP request, bounded in time and in what it reads.

Any 2xx is delivered. Everything else is a failed attempt with a short reason: another status
(a 3xx too, since redirects are never followed: a receiver could otherwise point the service at
an address the URL check refused), no answer within ``OMS_EXPORT_EVENT_TIMEOUT_SECONDS``, a
refused or dropped connection, a URL that no longer passes ``urls.check_url``. Only the first
``ANSWER_LIMIT`` bytes of an answer are read; they are kept for the operator.

The URL is checked again here and the connection goes to the address that passed (see
``urls.CheckedUrl.pinned``). Proxies from the environment are ignored: a proxy would resolve
the host itself, after the check.

Example::

    with Sender(timeout=10, allow_private=False) as sender:
        attempt = sender.send(Outgoing("evt_1", "status_callback", url, body, secret), now_unix)
        attempt.delivered, attempt.status_code, attempt.error  # (True, 200, None)
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import NamedTuple, Self

import httpx

from oms_export import __version__
from oms_export.errors import InvalidRequest
from oms_export.events.signing import signature
from oms_export.events.urls import Resolver, check_url

ANSWER_LIMIT = 1024
"""Bytes of an answer read and kept (API.md §7: "not stored beyond 1 KiB")."""

METHODS = {"status_callback": "PUT", "order_push": "POST"}
"""The HTTP method of each kind of event."""


@dataclass(frozen=True)
class Outgoing:
    """What one attempt sends: the event as stored, and its receiver's secret."""

    event_id: str
    kind: str
    url: str
    body: str
    secret: str


class Attempt(NamedTuple):
    """What came of one attempt; ``error`` is None exactly when it was delivered."""

    status_code: int | None
    error: str | None
    answer: str
    seconds: float

    @property
    def delivered(self) -> bool:
        return self.error is None


class Sender:
    """Sends attempts, up to ``concurrency`` at once from as many threads, keeping a connection
    pool for each of the last ``receivers`` receivers.

    One pool per (host, checked address), not per address: connections are made with the
    host's name in TLS, so one to ``a.example`` must never carry a request for ``b.example``
    that resolved to the same address.
    """

    def __init__(
        self,
        *,
        timeout: float,
        allow_private: bool,
        resolve: Resolver | None = None,
        concurrency: int = 1,
        receivers: int = 32,
    ) -> None:
        self.timeout = timeout
        self.allow_private = allow_private
        self._resolve = resolve
        self._keep = max(receivers, 2 * concurrency)
        # As many connections (kept alive, too) as attempts may be sent at once, so a request
        # never queues for one and the pool never closes a connection to make room: httpcore's
        # sync pool can close one it has just handed to a waiting thread (encode/httpcore#1110).
        self._limits = httpx.Limits(
            max_connections=concurrency, max_keepalive_connections=concurrency
        )
        self._clients: OrderedDict[tuple[str, ...], httpx.Client] = OrderedDict()
        self._lock = threading.Lock()  # ``send`` runs in several threads at once

    def send(self, event: Outgoing, timestamp: int) -> Attempt:
        """Deliver ``event`` once, signed at ``timestamp`` (Unix seconds)."""
        started = time.perf_counter()

        def failed(error: str, status_code: int | None = None, answer: str = "") -> Attempt:
            return Attempt(status_code, error, answer, time.perf_counter() - started)

        method = METHODS.get(event.kind)
        if method is None:
            return failed(f"unknown event kind {event.kind!r}")
        try:
            checked = check_url(event.url, allow_private=self.allow_private, resolve=self._resolve)
        except InvalidRequest as exc:
            return failed(f"refused: {exc.description.removeprefix('url: ')}")
        url, headers, extensions = checked.pinned()
        headers.update(
            {
                "Content-Type": "application/json",
                "OMS-Signature": signature(event.secret, timestamp, event.body),
                "OMS-Event-Id": event.event_id,
                "User-Agent": f"oms-export/{__version__}",
            }
        )
        client = self._client((url.scheme, checked.host, str(url.port), checked.addresses[0]))
        request = client.build_request(
            method, url, content=event.body.encode(), headers=headers, extensions=extensions
        )
        try:
            response = client.send(request, stream=True)
        except httpx.TimeoutException as exc:
            return failed(f"timeout: {_what_timed_out(exc)} within {self.timeout:g} s")
        except httpx.RemoteProtocolError as exc:
            return failed(f"connection closed without an answer ({exc})")
        except httpx.ConnectError as exc:
            return failed(f"cannot connect ({exc})")
        except httpx.HTTPError as exc:
            return failed(f"{type(exc).__name__}: {exc}")
        try:
            answer = self._read_answer(response, started)
        except httpx.HTTPError as exc:
            answer = f"[answer cut off: {type(exc).__name__}]"
        finally:
            response.close()
        code = response.status_code
        if 200 <= code < 300:
            return Attempt(code, None, answer, time.perf_counter() - started)
        if response.is_redirect:
            where = response.headers.get("location", "")[:200]
            return failed(f"redirect to {where} not followed", code, answer)
        return failed(f"answered {code}, not 2xx", code, answer)

    def _read_answer(self, response: httpx.Response, started: float) -> str:
        # Each read waits at most ``timeout``; the whole attempt stops once past it, so a
        # receiver trickling bytes cannot hold a worker for long either.
        taken = bytearray()
        for chunk in response.iter_bytes():
            taken += chunk
            if len(taken) >= ANSWER_LIMIT or time.perf_counter() - started > self.timeout:
                break
        return bytes(taken[:ANSWER_LIMIT]).decode("utf-8", errors="replace")

    def _client(self, key: tuple[str, ...]) -> httpx.Client:
        # The least recently used pool is closed past ``receivers``, at least twice as many as
        # are sent to at once, so none in use is ever closed.
        with self._lock:
            client = self._clients.pop(key, None)
            if client is None:
                client = httpx.Client(
                    timeout=self.timeout,
                    follow_redirects=False,
                    trust_env=False,
                    limits=self._limits,
                )
            self._clients[key] = client
            while len(self._clients) > self._keep:
                _key, oldest = self._clients.popitem(last=False)
                oldest.close()
            return client

    def close(self) -> None:
        with self._lock:
            while self._clients:
                _key, client = self._clients.popitem()
                client.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


def _what_timed_out(exc: httpx.TimeoutException) -> str:
    if isinstance(exc, httpx.ConnectTimeout):
        return "no connection"
    if isinstance(exc, httpx.WriteTimeout):
        return "request not sent"
    return "no answer"
