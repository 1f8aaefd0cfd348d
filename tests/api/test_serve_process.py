"""End to end: the `oms-export serve --demo` process, driven the way the README tells a user."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

SCOPE = "export-api.order-item-details"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class ServeProcess:
    def __init__(self, database_url: str, cwd: Path) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        command = [
            sys.executable, "-m", "oms_export", "--database-url", database_url,
            "serve", "--demo", "--port", str(self.port),
        ]  # fmt: skip
        env = {**os.environ, "OMS_EXPORT_SECRET_KEY": "e2e-key"}
        # Output goes to files: a pipe nobody drains would block the server once full.
        self.stdout = cwd / f"serve-{self.port}.out"
        with self.stdout.open("w") as out, (cwd / f"serve-{self.port}.err").open("w") as err:
            self.process = subprocess.Popen(command, cwd=cwd, env=env, stdout=out, stderr=err)
        self.credentials, self.curl = self._read_banner()
        self._wait_healthy()

    def _read_banner(self) -> tuple[dict[str, str], str]:
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

    def _wait_healthy(self) -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(self.url + "/health").status_code == 200:
                    return
            except httpx.TransportError:
                time.sleep(0.1)
        raise RuntimeError("serve did not become healthy")

    def stop(self) -> int:
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=20)


@pytest.fixture
def served(database_url: str, tmp_path: Path) -> Iterator[ServeProcess]:
    server = ServeProcess(database_url, tmp_path)
    try:
        yield server
    finally:
        if server.process.poll() is None:
            server.process.kill()
            server.process.wait()


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


def test_serve_shuts_down_gracefully_on_sigterm(served: ServeProcess) -> None:
    # uvicorn finishes its shutdown, then re-raises the signal it caught, as a process should.
    assert served.stop() in (0, -signal.SIGTERM)
    log = served.stdout.with_suffix(".err").read_text()
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
        response = httpx.post(
            second.url + "/token",
            data={"client_id": creds["client_id"], "client_secret": creds["client_secret"],
                  "grant_type": "client_credentials"},
        )  # fmt: skip
        assert response.status_code == 200
    finally:
        second.stop()
