"""A real HTTP service on a loopback port: uvicorn in a thread of the test process."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Mapping
from typing import Any

import httpx
import uvicorn
from sqlalchemy import Engine

from oms_export.api.app import create_app
from oms_export.api.http_protocol import BoundedHttpToolsProtocol
from oms_export.settings import Settings


class LiveServer:
    """``send_buffer`` sets the kernel's send buffer of every connection (bytes): small, a
    client that stops reading is felt after kilobytes instead of megabytes."""

    def __init__(
        self,
        settings: Settings,
        engine: Engine,
        *,
        send_buffer: int | None = None,
        http: type[asyncio.Protocol] = BoundedHttpToolsProtocol,
    ) -> None:
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if send_buffer is not None:  # accepted sockets inherit it
            self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, send_buffer)
        self._sock.bind(("127.0.0.1", 0))
        port = self._sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        self.app = create_app(settings, engine)
        config = uvicorn.Config(self.app, log_level="warning", lifespan="off", http=http)
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
        self.app.state.service.close()


def bearer(http: httpx.Client, credentials: Mapping[str, Any]) -> str:
    """A token for ``credentials`` (``client_id``, ``client_secret``), asked of the service
    ``http`` talks to, exactly as a client does."""
    response = http.post(
        "/token",
        data={
            "grant_type": "client_credentials",
            "client_id": credentials["client_id"],
            "client_secret": credentials["client_secret"],
        },
    )
    assert response.status_code == 200, response.text
    token: str = response.json()["access_token"]
    return token
