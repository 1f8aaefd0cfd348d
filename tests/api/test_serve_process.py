"""End to end: the `oms-export serve --demo` process, driven the way the README tells a user."""

from __future__ import annotations

import json
import signal
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.api.nodes import Node

SCOPE = "export-api.order-item-details"


class ServeProcess(Node):
    """`oms-export serve --demo`: a node that prints credentials and a curl before serving."""

    def __init__(self, database_url: str, cwd: Path) -> None:
        super().__init__(database_url, cwd, {"OMS_EXPORT_SECRET_KEY": "e2e-key"}, "--demo")
        self.credentials, self.curl = self._read_banner()
        self.wait_healthy()

    def _read_banner(self) -> tuple[dict[str, Any], str]:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            text = self.stdout.read_text()
            if "\ncurl " in text:
                end = text.index("\n}\n") + 2
                return json.loads(text[:end]), text[end:]
            if self.process.poll() is not None:
                break
            time.sleep(0.05)
        raise RuntimeError(f"serve printed no credentials: {self.stdout.read_text()!r}")


@pytest.fixture
def served(database_url: str, tmp_path: Path) -> Iterator[ServeProcess]:
    server = ServeProcess(database_url, tmp_path)
    try:
        yield server
    finally:
        server.kill()


def test_serve_demo_prints_credentials_and_a_curl_that_work(served: ServeProcess) -> None:
    client_id = served.credentials["client_id"]
    secret = served.credentials["client_secret"]
    assert f"client_id={client_id}&client_secret={secret}" in served.curl
    token = httpx.post(
        served.url + "/token",
        content=f"client_id={client_id}&client_secret={secret}&grant_type=client_credentials&scope={SCOPE}",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    ).json()["access_token"]
    response = httpx.get(
        served.url + "/export-api/order-item-details",
        params={"filter[status:in]": "8,516", "options[includeProductOwner]": "1"},
        headers={"Authorization": f"Bearer {token}"},
        timeout=60,
    )
    assert response.status_code == 200
    rows = response.json()
    assert rows, "the demo data set has dispatched orders"
    assert {row["status"] for row in rows} <= {8, 516}
    assert "items__product_owner" in rows[0]
    assert response.headers.get("export-excluded-companies")


def test_serve_demo_prints_a_retailer_and_a_fulfiller_that_work(served: ServeProcess) -> None:
    printed = served.credentials
    assert list(printed) == [
        "client_id", "client_secret", "companies", "orders", "items", "retailer", "fulfiller",
    ]  # fmt: skip
    for key, scope, company in (
        ("retailer", "orders.write", 1001),
        ("fulfiller", "orders.fulfil", 3001),
    ):
        client = printed[key]
        assert (client["scope"], client["company_ref_id"]) == (scope, company)
        assert f"\n  {key} " in served.curl, "a line says what it is for"
        answer = httpx.post(
            served.url + "/token",
            data={"client_id": client["client_id"], "client_secret": client["client_secret"],
                  "grant_type": "client_credentials"},
        )  # fmt: skip
        assert answer.status_code == 200
        assert answer.json()["scope"] == scope
    assert "docs/orders.md" in served.curl


def test_serve_shuts_down_gracefully_on_sigterm(served: ServeProcess) -> None:
    # uvicorn finishes its shutdown, then re-raises the signal it caught, as a process should.
    assert served.stop() in (0, -signal.SIGTERM)
    log = served.stderr.read_text()
    assert "Application shutdown complete." in log
    assert "Finished server process" in log


def test_serve_demo_on_a_store_with_data_keeps_it_and_prints_working_credentials(
    database_url: str, tmp_path: Path
) -> None:
    first = ServeProcess(database_url, tmp_path)
    first.stop()
    second = ServeProcess(database_url, tmp_path)
    try:
        creds = second.credentials
        assert list(creds) == ["client_id", "client_secret", "retailer", "fulfiller"]
        for client in (creds, creds["retailer"], creds["fulfiller"]):
            response = httpx.post(
                second.url + "/token",
                data={"client_id": client["client_id"], "client_secret": client["client_secret"],
                      "grant_type": "client_credentials"},
            )  # fmt: skip
            assert response.status_code == 200
        assert creds["retailer"]["client_id"] == first.credentials["retailer"]["client_id"]
    finally:
        second.stop()


def test_serve_bounds_the_request_head(served: ServeProcess) -> None:
    """The served process uses the bounded protocol, not uvicorn's own."""
    host, port = served.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        try:
            sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 100_000)
            answer = sock.recv(64)
        except (ConnectionResetError, BrokenPipeError):
            answer = b"reset"
    assert answer.startswith(b"HTTP/1.1 400 ") or answer == b"reset"
    assert httpx.get(served.url + "/health").status_code == 200
