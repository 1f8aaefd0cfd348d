"""Stalled and slow readers and a full node, against a live server over real sockets.

A stalled reader is a raw socket that sends its request and never reads again; its receive
buffer and the server's send buffer are made small, so the server feels it after kilobytes.
A cut body and a complete one are told apart by parsing it.
"""

from __future__ import annotations

import select
import socket
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, QueuePool

from oms_export.admin.demo import DEMO_CLIENT_COMPANIES, load_demo
from oms_export.auth.clients import create_client
from oms_export.settings import Settings
from tests.live import LiveServer, bearer

PATH = "/export-api/order-item-details"
EVERY_OPTION = (
    "options[includeProductOwner]=1&options[includeProductPrice]=1"
    "&options[includeProductEcommerceInfo]=1&options[includeAttributes]=1"
)
SMALL_BUFFER = 16 * 1024


@pytest.fixture
def demo(engine: Engine, settings: Settings) -> dict[str, Any]:
    """2,000 demo orders: about 10 MB with every option, far more than any buffer here."""
    return load_demo(engine, settings, orders=2000, seed=1)


@pytest.fixture
def serve(settings: Settings, engine: Engine) -> Iterator[Callable[..., LiveServer]]:
    started: list[LiveServer] = []

    def start(**changes: Any) -> LiveServer:
        changes.setdefault("stream_batch_rows", 50)  # chunks of ~100 KB
        server = LiveServer(settings.with_changes(**changes), engine, send_buffer=SMALL_BUFFER)
        started.append(server.__enter__())
        return server

    yield start
    for server in started:
        server.__exit__(None, None, None)


def token_for(url: str, client: dict[str, Any]) -> str:
    with httpx.Client(base_url=url) as http:
        return bearer(http, client)


def open_export(
    url: str, token: str, query: str = EVERY_OPTION, receive_buffer: int = 4096
) -> socket.socket:
    """Send an export request on a socket with a small receive buffer; read only the status."""
    host, port = url.removeprefix("http://").split(":")
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
    sock.settimeout(30)
    sock.connect((host, int(port)))
    request = (
        f"GET {PATH}?{query} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\n"
        "Connection: close\r\n\r\n"
    )
    sock.sendall(request.encode())
    assert sock.recv(12).startswith(b"HTTP/1.1 200"), "the export was admitted"
    return sock


def read_to_end(sock: socket.socket, pause: float = 0.0) -> bytes:
    """Everything until the server closes the connection, reading ``pause`` seconds apart."""
    received = bytearray()
    with sock:
        while chunk := sock.recv(65536):
            received += chunk
            time.sleep(pause)
    return bytes(received)


def dropped(sock: socket.socket) -> bool:
    """Has the peer reset or closed the connection? Asked without reading from it."""
    poller = select.poll()
    poller.register(sock, select.POLLERR | select.POLLHUP | select.POLLRDHUP)
    return bool(poller.poll(0))


def body_of(response: bytes) -> bytes:
    """The body of a chunked HTTP/1.1 response, as far as it came."""
    rest = response.partition(b"\r\n\r\n")[2]
    body = bytearray()
    while rest:
        size_line, _, rest = rest.partition(b"\r\n")
        size = int(size_line, 16)
        body += rest[:size]
        rest = rest[size + 2 :]
    return bytes(body)


def export_status(url: str, token: str) -> httpx.Response:
    return httpx.get(
        url + PATH, params={"filter[id]": "1"}, headers={"Authorization": f"Bearer {token}"}
    )


def metric(server: LiveServer, name: str, **labels: str) -> float:
    value = server.app.state.service.metrics.registry.get_sample_value(name, labels)
    return 0.0 if value is None else float(value)


def wait_until(condition: Callable[[], bool], seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.05)


def test_a_stalled_export_holds_its_slot_then_is_ended_and_frees_slot_and_connection(
    serve: Callable[..., LiveServer], engine: Engine, demo: dict[str, Any]
) -> None:
    server = serve(export_idle_seconds=2, max_concurrent_exports=1)
    token = token_for(server.url, demo)
    stalled = open_export(server.url, token)
    time.sleep(1)
    busy = export_status(server.url, token)
    assert busy.status_code == 429, "a stalled export still counts against its client's cap"
    assert busy.headers["retry-after"]

    wait_until(
        lambda: metric(server, "oms_export_exports_ended_idle_total") == 1,
        seconds=15,
        what="the stalled export was never ended",
    )
    pool = engine.pool
    assert isinstance(pool, QueuePool)
    wait_until(lambda: pool.checkedout() == 0, 5, "its database connection stayed out")
    assert export_status(server.url, token).status_code == 200, "its slot was given back"
    # The server dropped the connection though the client still reads nothing: it keeps
    # neither the socket nor what it had buffered for it.
    wait_until(lambda: dropped(stalled), 5, "the server kept the stalled client's connection")
    with pytest.raises(ConnectionResetError):
        read_to_end(stalled)  # reset, so what the client got is visibly cut, never complete
    assert metric(server, "oms_export_exports_in_progress") == 0


def test_a_slow_but_steady_reader_gets_the_whole_export(
    serve: Callable[..., LiveServer], demo: dict[str, Any]
) -> None:
    server = serve(export_idle_seconds=1)
    token = token_for(server.url, demo)
    query = EVERY_OPTION + "&filter[id:lt]=250"  # about 1.2 MB
    full = httpx.get(
        server.url + PATH + "?" + query, headers={"Authorization": f"Bearer {token}"}
    ).content
    slow = open_export(server.url, token, query, receive_buffer=32 * 1024)
    started = time.monotonic()
    # At most 64 KB every 0.1 s: the server waits on almost every send, never a whole second.
    received = body_of(read_to_end(slow, pause=0.1))
    assert time.monotonic() - started > 2, "the reader was slow for several idle periods"
    assert received == full
    assert metric(server, "oms_export_exports_ended_idle_total") == 0


def test_a_full_node_answers_503_at_once_while_tokens_and_health_stay_fast(
    serve: Callable[..., LiveServer], engine: Engine, settings: Settings, demo: dict[str, Any]
) -> None:
    server = serve(max_node_exports=2, database_pool_size=3, export_idle_seconds=60)
    others = [
        create_client(engine, settings, name=f"c{n}", company_ref_ids=DEMO_CLIENT_COMPANIES)
        for n in range(3)
    ]
    tokens = [token_for(server.url, client) for client in others]
    stalled = [open_export(server.url, token) for token in tokens[:2]]

    started = time.monotonic()
    refused = export_status(server.url, tokens[2])
    assert time.monotonic() - started < 2
    assert refused.status_code == 503
    assert refused.json()["error"] == "temporarily_unavailable"
    assert 1 <= int(refused.headers["retry-after"]) <= 5
    assert metric(server, "oms_export_export_refusals_total", limit="node_capacity") == 1

    for _ in range(5):  # own connections: they never wait behind the exports
        started = time.monotonic()
        assert token_for(server.url, others[2])
        health = httpx.get(server.url + "/health")
        assert time.monotonic() - started < 1
    assert health.status_code == 200
    assert health.json() == {
        "status": "saturated",
        "database": "ok",
        "exports": {"running": 2, "limit": 2},
    }

    for sock in stalled:  # the clients go away: their places are free at once
        sock.close()
    wait_until(
        lambda: httpx.get(server.url + "/health").json()["status"] == "ok",
        seconds=5,
        what="the places of exports whose clients left were not given back",
    )
    assert export_status(server.url, tokens[2]).status_code == 200


def test_settings_refuse_a_node_cap_the_pool_cannot_serve() -> None:
    with pytest.raises(ValueError, match="MAX_NODE_EXPORTS"):
        Settings(max_node_exports=10, database_pool_size=10)
    with pytest.raises(ValueError, match="MAX_NODE_EXPORTS"):
        Settings.from_env({"OMS_EXPORT_MAX_NODE_EXPORTS": "0"})
    assert Settings(max_node_exports=9, database_pool_size=10).max_node_exports == 9
