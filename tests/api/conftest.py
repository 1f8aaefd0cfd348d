"""Talking to the live service over HTTP (``live_server`` is in the root conftest)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine

from oms_export.auth.clients import create_client
from oms_export.settings import Settings
from tests import factories as f
from tests.live import LiveServer


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
