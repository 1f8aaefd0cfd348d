"""No free database connection is a short 503 `temporarily_unavailable`, never a 500.

The test takes every connection of the pool token requests draw from, so a token request
really waits out the pool's timeout, as it would under load.
"""

from __future__ import annotations

import logging
from contextlib import ExitStack
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine
from sqlalchemy.pool import QueuePool

from oms_export.settings import Settings
from tests.live import LiveServer

FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def take_every_connection(engine: Engine, stack: ExitStack) -> int:
    """Check out all of ``engine``'s connections until ``stack`` closes; how many there were."""
    pool = engine.pool
    assert isinstance(pool, QueuePool)
    assert pool.overflow() <= 0, "a pool that may overflow is never exhausted"
    for _ in range(pool.size()):
        stack.enter_context(engine.connect())
    return pool.size()


def test_a_token_request_finding_no_free_connection_is_503_with_retry_after(
    settings: Settings,
    engine: Engine,
    reporting_client: dict[str, Any],
    caplog: pytest.LogCaptureFixture,
) -> None:
    impatient = settings.with_changes(database_pool_timeout_seconds=1)
    body = (
        f"client_id={reporting_client['client_id']}"
        f"&client_secret={reporting_client['client_secret']}&grant_type=client_credentials"
    )
    with LiveServer(impatient, engine) as server, httpx.Client(base_url=server.url) as http:
        tokens_pool = server.app.state.service.control_engine
        with caplog.at_level(logging.WARNING), ExitStack() as held:
            assert take_every_connection(tokens_pool, held) >= 1
            busy = http.post("/token", content=body, headers=FORM)
        assert busy.status_code == 503
        assert busy.headers["content-type"] == "application/json"
        assert busy.json()["error"] == "temporarily_unavailable"
        assert "busy" in busy.json()["error_description"]
        assert busy.headers["retry-after"] == "1"
        assert busy.headers["cache-control"] == "no-store"
        # Once the connections are back, the same request succeeds.
        assert http.post("/token", content=body, headers=FORM).status_code == 200

    records = [r for r in caplog.records if r.name == "oms_export.api"]
    assert [(r.levelno, r.exc_info) for r in records] == [(logging.WARNING, None)]
    assert "connection" in records[0].getMessage()
    assert reporting_client["client_secret"] not in caplog.text
