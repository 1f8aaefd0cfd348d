"""The orders API tests' cast, one place for every module here: the service without rate limits
(these tests send many requests), the companies of ``orders_support.cast``, and a client for
each role."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import Engine

from oms_export.settings import Settings
from tests.api.orders_support import (
    FULFIL,
    FULFILLER,
    RETAILER,
    WRITE,
    Api,
    api_for,
    cast,
    unlimited,
)


@pytest.fixture
def settings(database_url: str) -> Settings:
    return unlimited(database_url)


@pytest.fixture
def store(engine: Engine) -> Engine:
    cast(engine)
    return engine


@pytest.fixture
def retailer(store: Engine, settings: Settings, http: httpx.Client) -> Api:
    """A sales channel of 1001: creates and cancels, never fulfils."""
    return api_for(store, settings, http, [RETAILER], [WRITE], name="retailer")


@pytest.fixture
def fulfiller(store: Engine, settings: Settings, http: httpx.Client) -> Api:
    """The production site of 2001, which fulfils 1001's orders."""
    return api_for(store, settings, http, [FULFILLER], [FULFIL], name="fulfiller")
