"""A client that goes away mid-export frees the database at once."""

from __future__ import annotations

import socket
import time
from urllib.parse import urlsplit

import httpx
import pytest
from sqlalchemy import Engine, text

from oms_export.admin.demo import load_demo
from oms_export.settings import Settings
from tests.live import LiveServer

ALL = (
    "options[includeProductOwner]=1&options[includeProductPrice]=1"
    "&options[includeProductEcommerceInfo]=1&options[includeAttributes]=1"
)


@pytest.fixture
def demo(engine: Engine, settings: Settings) -> dict[str, str]:
    credentials = load_demo(engine, settings, orders=3000, seed=1)
    return {"client_id": credentials["client_id"], "client_secret": credentials["client_secret"]}


def _wait_until(check: object, seconds: float = 5.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():  # type: ignore[operator]
            return True
        time.sleep(0.02)
    return False


def _active_exports(engine: Engine) -> int:
    if engine.dialect.name != "postgresql":
        return 0
    with engine.connect() as conn:
        return int(
            conn.execute(
                text(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                    "AND pid <> pg_backend_pid() AND query LIKE '%order_items%'"
                    " AND state <> 'idle'"
                )
            ).scalar_one()
        )


def test_a_client_that_disconnects_mid_export_frees_its_connection_at_once(
    engine: Engine, settings: Settings, demo: dict[str, str], live_server: LiveServer
) -> None:
    token = httpx.post(
        live_server.url + "/token",
        data={**demo, "grant_type": "client_credentials"},
    ).json()["access_token"]
    host = urlsplit(live_server.url)
    with socket.create_connection((host.hostname, host.port)) as sock:
        request = (
            f"GET /export-api/order-item-details?{ALL} HTTP/1.1\r\nHost: x\r\n"
            f"Authorization: Bearer {token}\r\n\r\n"
        )
        sock.sendall(request.encode())
        first = sock.recv(65536)
        assert first.startswith(b"HTTP/1.1 200")
        assert engine.pool.checkedout() == 1  # type: ignore[attr-defined]
    # The socket is closed with most of the export unread.
    assert _wait_until(lambda: engine.pool.checkedout() == 0), "connection still held"  # type: ignore[attr-defined]
    assert _wait_until(lambda: _active_exports(engine) == 0), "statement still running"
    # and the service goes on serving
    response = httpx.get(
        live_server.url + "/export-api/order-item-details?page[size]=1",
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 200
