"""``oms-export serve`` as operators run it: JSON logs on stderr with request ids and never a
secret, plain text on request, and several workers behind one port."""

from __future__ import annotations

import json
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.api.nodes import Node
from tests.conftest import TEST_SECRET_KEY

ENV = {"OMS_EXPORT_SECRET_KEY": TEST_SECRET_KEY}


@pytest.fixture
def nodes(database_url: str, tmp_path: Path) -> Iterator[list[Node]]:
    """Started nodes, killed at the end if a test left them running."""
    started: list[Node] = []
    yield started
    for node in started:
        node.kill()


def start(nodes: list[Node], database_url: str, tmp_path: Path, *args: str) -> Node:
    node = Node(database_url, tmp_path, ENV, *args)
    nodes.append(node)
    return node.wait_healthy()


def test_serve_logs_one_json_line_per_request_with_its_id_and_never_a_secret(
    nodes: list[Node], database_url: str, tmp_path: Path, reporting_client: dict[str, Any]
) -> None:
    node = start(nodes, database_url, tmp_path)
    secret = reporting_client["client_secret"]
    issued = node.token(reporting_client)
    token = issued.json()["access_token"]
    exported = node.export(token)
    assert exported.status_code == 200
    wrong = node.token({**reporting_client, "client_secret": "wrong-guess-xyz"})
    assert wrong.status_code == 401
    basic = httpx.post(
        node.url + "/token",
        content=b"grant_type=client_credentials",
        auth=(reporting_client["client_id"], secret),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert basic.status_code == 200
    assert node.stop() in (0, -signal.SIGTERM)

    stderr = node.stderr.read_text()
    lines = [json.loads(line) for line in stderr.splitlines() if line.strip()]
    access = {line["request_id"]: line for line in lines if line["logger"] == "oms_export.access"}
    for response in (issued, exported, wrong, basic):
        assert response.headers["x-request-id"] in access
    export_line = access[exported.headers["x-request-id"]]
    assert (export_line["status"], export_line["client_id"]) == (200, reporting_client["client_id"])
    assert any(line["message"] == "Application shutdown complete." for line in lines)
    output = stderr + node.stdout.read_text()
    for leaked in (secret, token, basic.json()["access_token"], "wrong-guess-xyz", "Bearer"):
        assert leaked not in output


def test_serve_log_format_text_writes_plain_lines(
    nodes: list[Node], database_url: str, tmp_path: Path
) -> None:
    node = start(nodes, database_url, tmp_path, "--log-format", "text")
    request_id = httpx.get(node.url + "/health").headers["x-request-id"]
    node.stop()
    stderr = node.stderr.read_text()
    assert "oms_export.access: GET /health 200" in stderr
    assert f"id={request_id}" in stderr
    assert not stderr.lstrip().startswith("{")


def test_serve_with_two_workers_answers_and_shuts_down_gracefully(
    nodes: list[Node], database_url: str, tmp_path: Path, reporting_client: dict[str, Any]
) -> None:
    node = start(nodes, database_url, tmp_path, "--workers", "2")
    token = node.token(reporting_client).json()["access_token"]
    assert [node.export(token).status_code for _ in range(4)] == [200] * 4
    metrics = httpx.get(node.url + "/metrics")
    assert metrics.status_code == 200
    assert "oms_export_http_requests_total" in metrics.text
    assert node.stop() in (0, -signal.SIGTERM)
    stderr = node.stderr.read_text()
    assert stderr.count("Finished server process") == 2, "each worker shut down cleanly"
