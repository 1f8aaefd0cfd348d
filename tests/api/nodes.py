"""Servers for tests: real ``oms-export serve`` processes, started the way an operator starts
them, and a way into the app of an in-process ``LiveServer``."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI

from tests.live import LiveServer

SCOPE = "export-api.order-item-details"
EXPORT_PATH = "/export-api/order-item-details"
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Node:
    """One service process on a loopback port; stdout and stderr go to files, since a pipe
    nobody drains would block the server once full."""

    def __init__(
        self, database_url: str, workdir: Path, env: dict[str, str], *serve_args: str
    ) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        command = [
            sys.executable, "-m", "oms_export", "--database-url", database_url,
            "serve", "--port", str(self.port), *serve_args,
        ]  # fmt: skip
        self.stdout = workdir / f"serve-{self.port}.out"
        self.stderr = workdir / f"serve-{self.port}.err"
        with self.stdout.open("w") as out, self.stderr.open("w") as err:
            self.process = subprocess.Popen(
                command, cwd=workdir, env={**os.environ, **env}, stdout=out, stderr=err
            )

    def wait_healthy(self, timeout: float = 60) -> Node:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            try:
                if httpx.get(self.url + "/health").status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"serve did not become healthy: {self.stderr.read_text()[-2000:]}")

    def token(self, client: dict[str, Any]) -> httpx.Response:
        body = (
            f"client_id={client['client_id']}&client_secret={client['client_secret']}"
            f"&grant_type=client_credentials&scope={SCOPE}"
        )
        return httpx.post(self.url + "/token", content=body, headers=FORM)

    def export(self, token: str, timeout: float = 60) -> httpx.Response:
        return httpx.get(
            self.url + EXPORT_PATH, headers={"Authorization": f"Bearer {token}"}, timeout=timeout
        )

    def stop(self) -> int:
        """SIGTERM, as an orchestrator stops a node; the exit status once it has shut down."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=30)

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


def app_of(server: LiveServer) -> FastAPI:
    """The app a ``LiveServer`` serves: routes may be added to it until the server starts."""
    app = server.server.config.app
    assert isinstance(app, FastAPI)
    return app
