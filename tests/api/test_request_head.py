"""The request head is bounded in size and in time, over real sockets: a huge header or a
trickled request line costs the server one small buffer for a few seconds, then nothing."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy import Engine

from oms_export.api.http_protocol import BoundedHttpToolsProtocol
from oms_export.auth.clients import create_client
from oms_export.settings import Settings
from tests.factories import company
from tests.live import LiveServer, bearer


class QuickHead(BoundedHttpToolsProtocol):
    HEAD_SECONDS = 1.0


@pytest.fixture
def server(settings: Settings, engine: Engine) -> Iterator[LiveServer]:
    with LiveServer(settings, engine, http=QuickHead) as live:
        yield live


def connect(server: LiveServer) -> socket.socket:
    host, port = server.url.removeprefix("http://").split(":")
    return socket.create_connection((host, int(port)), timeout=10)


def closed_within(sock: socket.socket, seconds: float) -> bytes:
    """What the server sent before closing, failing if it keeps the connection open."""
    sock.settimeout(seconds)
    received = b""
    with sock:
        while chunk := sock.recv(65536):
            received += chunk
    return received


def refused(sock: socket.socket, head: bytes) -> bool:
    """Send ``head``; True when the server answers 400 and closes, or resets the connection
    (it closes with the rest of the head unread, and the kernel then resets)."""
    try:
        sock.sendall(head)
        return closed_within(sock, 5).startswith(b"HTTP/1.1 400 ")
    except (ConnectionResetError, BrokenPipeError):
        sock.close()
        return True


def test_a_head_over_64_kib_is_refused_and_the_connection_closed(server: LiveServer) -> None:
    for size in (70_000, 5_000_000):
        sock = connect(server)
        assert refused(sock, b"GET /health HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * size)
    assert httpx.get(server.url + "/health").status_code == 200, "others are served"


def test_many_small_headers_count_against_the_same_bound(server: LiveServer) -> None:
    headers = b"".join(b"X-%d: %s\r\n" % (n, b"v" * 60) for n in range(2000))
    assert refused(connect(server), b"GET /health HTTP/1.1\r\nHost: x\r\n" + headers)


def test_a_head_just_under_the_bound_is_served(server: LiveServer) -> None:
    sock = connect(server)
    filler = b"a" * (BoundedHttpToolsProtocol.MAX_HEAD_BYTES - 1000)
    sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nX-Big: " + filler + b"\r\n")
    sock.sendall(b"Connection: close\r\n\r\n")
    assert closed_within(sock, 5).startswith(b"HTTP/1.1 200 ")


def test_a_trickled_request_line_is_closed_after_the_head_time(server: LiveServer) -> None:
    sock = connect(server)
    started = time.monotonic()

    def trickle() -> None:
        for _ in range(50):  # a byte every 0.2 s: 10 s of head if the server let it
            sock.sendall(b"G")
            time.sleep(0.2)

    with sock, pytest.raises((BrokenPipeError, ConnectionResetError)):
        trickle()
    assert time.monotonic() - started < 3, "closed about the head time after connecting"


def test_a_connection_that_sends_nothing_is_closed_after_the_head_time(
    server: LiveServer,
) -> None:
    sock = connect(server)
    started = time.monotonic()
    assert closed_within(sock, 5) == b""
    assert 0.8 < time.monotonic() - started < 3


def test_a_kept_alive_connection_gets_a_new_head_time_per_request(server: LiveServer) -> None:
    with httpx.Client(base_url=server.url) as client:
        for _ in range(3):  # 3 requests on one connection over more than the head time
            assert client.get("/health").status_code == 200
            time.sleep(0.6)


def test_a_small_head_sent_with_a_large_body_in_one_write_is_not_taken_for_a_large_head(
    server: LiveServer, engine: Engine, settings: Settings
) -> None:
    """Head and body often arrive in one read; only the head counts against the bound, so a
    900 KiB order body reaches the route, which reads it whole and answers for it."""
    company(engine, 1001)
    client = create_client(
        engine, settings, name="w", company_ref_ids=[1001], scopes=["orders.write"]
    )
    with httpx.Client(base_url=server.url) as http:
        token = bearer(http, client)
    body = b'{"company_ref_id": 1001, "external_ref": "' + b"x" * 900_000 + b'"}'
    head = (
        b"POST /orders HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Authorization: Bearer " + token.encode() + b"\r\n"
        b"Content-Length: " + str(len(body)).encode() + b"\r\nConnection: close\r\n\r\n"
    )
    sock = connect(server)
    sock.sendall(head + body)
    answer = closed_within(sock, 5)
    assert answer.startswith(b"HTTP/1.1 400 "), answer[:200]
    assert b'"parameter":"external_ref"' in answer
