"""A real HTTP service on a loopback port for each test: uvicorn in a thread, httpx to talk."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import uvicorn
from sqlalchemy import Engine

from oms_export.api.app import create_app
from oms_export.auth.clients import create_client
from oms_export.settings import Settings
from tests import factories as f


class LiveServer:
    def __init__(self, settings: Settings, engine: Engine) -> None:
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        port = self._sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        config = uvicorn.Config(create_app(settings, engine), log_level="warning", lifespan="off")
        self.server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self._sock]}, daemon=True
        )

    def __enter__(self) -> LiveServer:
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("the test server did not start")
            time.sleep(0.01)
        return self

    def __exit__(self, *_exc: object) -> None:
        self.server.should_exit = True
        self._thread.join(timeout=10)
        self._sock.close()


@pytest.fixture
def live_server(settings: Settings, engine: Engine) -> Iterator[LiveServer]:
    with LiveServer(settings, engine) as server:
        yield server


@pytest.fixture
def http(live_server: LiveServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=live_server.url, timeout=30) as client:
        yield client


@pytest.fixture
def reporting_client(engine: Engine, settings: Settings) -> dict[str, Any]:
    """Company 1001 (order_manager) with one one-item order, and a client tied to it."""
    acme = f.company(engine, 1001, "order_manager")
    f.order(engine, acme, "A-1", items=[{"sku": "TS", "quantity": 2}])
    return create_client(engine, settings, name="reporting", company_ref_ids=[1001])
