"""Many nodes: two real ``oms-export serve`` processes on one PostgreSQL and one Redis behave as
one service. A token from one works on the other, a revocation through the CLI binds both at
once, and the rate limit and the concurrent-export cap count across both."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, text

from oms_export.api.limits.redis_backed import key_part
from tests.api.nodes import Node
from tests.conftest import TEST_SECRET_KEY, RedisSpace

pytestmark = pytest.mark.postgres_only

StartNodes = Callable[..., tuple[Node, Node]]


@pytest.fixture
def start_nodes(database_url: str, tmp_path: Path, redis_space: RedisSpace) -> Iterator[StartNodes]:
    """Two nodes on this test's database and Redis key prefix, with one secret key."""
    started: list[Node] = []

    def start(**settings: str) -> tuple[Node, Node]:
        env = {
            "OMS_EXPORT_SECRET_KEY": TEST_SECRET_KEY,
            "OMS_EXPORT_REDIS_URL": redis_space.url,
            "OMS_EXPORT_REDIS_KEY_PREFIX": redis_space.prefix,
            **{"OMS_EXPORT_" + name.upper(): value for name, value in settings.items()},
        }
        pair = [Node(database_url, tmp_path, env) for _ in range(2)]
        started.extend(pair)
        return pair[0].wait_healthy(), pair[1].wait_healthy()

    yield start
    for node in started:
        node.kill()


def test_a_token_from_node_a_works_on_node_b(
    start_nodes: StartNodes, reporting_client: dict[str, Any]
) -> None:
    node_a, node_b = start_nodes()
    token = node_a.token(reporting_client).json()["access_token"]
    response = node_b.export(token)
    assert response.status_code == 200
    assert [row["external_ref"] for row in response.json()] == ["A-1"]


def test_a_revocation_through_the_cli_binds_both_nodes_at_once(
    start_nodes: StartNodes, reporting_client: dict[str, Any], database_url: str
) -> None:
    node_a, node_b = start_nodes()
    token = node_a.token(reporting_client).json()["access_token"]
    assert [node_a.export(token).status_code, node_b.export(token).status_code] == [200, 200]
    revoked = subprocess.run(
        [sys.executable, "-m", "oms_export", "--database-url", database_url,
         "clients", "revoke", reporting_client["client_id"]],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert revoked.returncode == 0, revoked.stderr
    for node in (node_a, node_b):
        response = node.export(token)
        assert response.status_code == 401
        assert response.json()["error"] == "invalid_token"
        assert node.token(reporting_client).status_code == 401


def test_the_rate_limits_are_shared_so_hits_on_both_nodes_add_up(
    start_nodes: StartNodes, reporting_client: dict[str, Any]
) -> None:
    node_a, node_b = start_nodes(rate_limit_per_minute="4", token_rate_limit_per_minute="2")
    token = node_a.token(reporting_client).json()["access_token"]
    codes = [node.export(token).status_code for node in (node_a, node_b, node_a, node_b)]
    assert codes == [200, 200, 200, 200]
    for node in (node_a, node_b):
        refused = node.export(token)
        assert refused.status_code == 429
        assert 1 <= int(refused.headers["retry-after"]) <= 60

    guess = {**reporting_client, "client_secret": "a-wrong-guess"}
    assert [node_a.token(guess).status_code, node_b.token(guess).status_code] == [401, 401]
    assert node_a.token(guess).status_code == 429
    assert node_b.token(guess).status_code == 429, "failures on A count on B"
    assert node_b.token(reporting_client).status_code == 200, "the right secret is never refused"


def test_the_concurrent_export_cap_is_shared_across_nodes(
    start_nodes: StartNodes,
    reporting_client: dict[str, Any],
    engine: Engine,
    redis_space: RedisSpace,
) -> None:
    node_a, node_b = start_nodes(max_concurrent_exports="1")
    token = node_a.token(reporting_client).json()["access_token"]
    slot_key = redis_space.prefix + "slots:export:" + key_part(reporting_client["client_id"])
    answers: list[httpx.Response] = []
    # Hold the orders table so the export on A waits inside its query, its slot taken.
    with engine.connect() as locker:
        locker.execute(text("LOCK TABLE orders IN ACCESS EXCLUSIVE MODE"))
        running = threading.Thread(target=lambda: answers.append(node_a.export(token)))
        running.start()
        deadline = time.monotonic() + 30
        while redis_space.client.zcard(slot_key) != 1:
            assert time.monotonic() < deadline, "the export on A never took its slot"
            time.sleep(0.05)
        for node in (node_b, node_a):
            refused = node.export(token)
            assert refused.status_code == 429
            assert refused.json()["error"] == "rate_limited"
            assert int(refused.headers["retry-after"]) > 0
        locker.rollback()
    running.join(timeout=60)
    assert [response.status_code for response in answers] == [200]
    deadline = time.monotonic() + 10
    while redis_space.client.zcard(slot_key) != 0:
        assert time.monotonic() < deadline, "the finished export kept its slot"
        time.sleep(0.05)
    assert node_b.export(token).status_code == 200
