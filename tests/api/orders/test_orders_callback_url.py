"""A create's ``status_callback_url`` is checked as §7 says before anything is stored: ``https://``
to a public address, unless ``OMS_EXPORT_CALLBACK_ALLOW_PRIVATE`` allows private ones and
plain ``http://``."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import Engine, func, select

from oms_export.db.schema import orders
from oms_export.settings import Settings
from tests.api.orders_support import (
    RETAILER,
    WRITE,
    api_for,
    cast,
    order_body,
    refusal,
    unlimited,
)
from tests.live import LiveServer


def _orders(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(orders)).scalar_one())


@pytest.mark.parametrize(
    "url",
    [
        "https://127.0.0.1/cb",
        "https://localhost/cb",
        "https://10.1.2.3/cb",
        "https://169.254.169.254/latest/meta-data",
        "https://[::1]/cb",
        "http://93.184.215.14/cb",
        "ftp://93.184.215.14/cb",
    ],
)
def test_a_callback_url_to_a_private_address_or_without_https_is_refused_and_nothing_stored(
    engine: Engine, database_url: str, url: str
) -> None:
    settings = unlimited(database_url)
    cast(engine)
    with LiveServer(settings, engine) as server, httpx.Client(base_url=server.url) as http:
        retailer = api_for(engine, settings, http, [RETAILER], [WRITE], name="retailer")
        answer = retailer.create({**order_body("CB-1"), "status_callback_url": url})
    assert refusal(answer)[::2] == (400, "status_callback_url"), answer.text
    assert _orders(engine) == 0


def test_private_addresses_and_http_are_allowed_when_the_setting_says_so(
    engine: Engine, database_url: str
) -> None:
    settings: Settings = unlimited(database_url).with_changes(callback_allow_private=True)
    cast(engine)
    with LiveServer(settings, engine) as server, httpx.Client(base_url=server.url) as http:
        retailer = api_for(engine, settings, http, [RETAILER], [WRITE], name="retailer")
        url = "http://127.0.0.1:9/cb"
        answer = retailer.create({**order_body("CB-2"), "status_callback_url": url})
    assert answer.status_code == 201, answer.text
    assert answer.json()["status_callback_url"] == url
