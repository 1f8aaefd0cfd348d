"""The SDK against the live service, on both databases: the rows are the service's own, and
authentication goes as the contract says. The fault proxy here injects nothing; it only counts."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import date, datetime, timedelta, timezone

import pytest
from sqlalchemy import Engine, delete

from oms_export.auth.clients import rotate_secret
from oms_export.client import (
    AsyncExportClient,
    BadRequest,
    ExportClient,
    Forbidden,
    Row,
    Unauthorized,
)
from oms_export.client.query import FilterValue, Shape
from oms_export.db.schema import access_tokens
from oms_export.settings import Settings
from tests.client.faultproxy import FaultProxy
from tests.client.sdk_support import (
    EXPORT,
    OPTIONS,
    ORDERS,
    build_store,
    new_client,
    options_query,
    service_get,
    service_rows,
)
from tests.live import LiveServer


@pytest.fixture
def order_ids(engine: Engine) -> list[int]:
    return build_store(engine)


@pytest.fixture
def credentials(order_ids: list[int], engine: Engine, settings: Settings) -> tuple[str, str]:
    return new_client(engine, settings, 1001)


@pytest.fixture
def proxy(live_server: LiveServer) -> Iterator[FaultProxy]:
    with FaultProxy(live_server.url) as proxy:
        yield proxy
    assert proxy.errors == []


VARIANTS: dict[str, tuple[tuple[str, ...], Shape]] = {
    "plain": ((), "rows"),
    "all-options": (OPTIONS, "rows"),
    "orders-shape": (OPTIONS, "orders"),
}


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_rows_equal_the_services_unpaged_export_at_every_page_size(
    live_server: LiveServer, credentials: tuple[str, str], variant: str
) -> None:
    options, shape = VARIANTS[variant]
    query = options_query(options) + ("&shape=orders" if shape == "orders" else "")
    expected = service_rows(live_server.url, credentials, query)
    assert len({row["id"] for row in expected}) == ORDERS
    with ExportClient(live_server.url, *credentials) as client:
        for page_size in (1, 2, 7, 10_000):
            rows = client.rows(options=options, shape=shape, page_size=page_size)
            got = list(rows)
            assert got == expected, page_size
            assert [list(row) for row in got] == [list(row) for row in expected]  # key order
            assert rows.progress.pages == -(-ORDERS // page_size)
            assert rows.progress.rows == len(expected)
            assert rows.progress.retries == 0


def test_filters_given_as_python_values_select_what_the_query_string_does(
    live_server: LiveServer, credentials: tuple[str, str], order_ids: list[int]
) -> None:
    plus_two = timezone(timedelta(hours=2))
    filters: dict[str, FilterValue] = {
        "status:in": [8, 516],
        "completion_datetime:gte": datetime(2024, 5, 3, 12, 0, 0),  # naive: UTC
        "creation_datetime:lt": datetime(2024, 5, 1, 16, 0, 0, tzinfo=plus_two),  # 14:00 UTC
        "sale_datetime:gte": date(2024, 5, 2),
        "company_ref_id": 1001,
        "id:gt": order_ids[0],
    }
    query = (
        "filter[status:in]=8,516&filter[completion_datetime:gte]=2024-05-03%2012:00:00"
        "&filter[creation_datetime:lt]=2024-05-01T16:00:00%2B02:00"
        f"&filter[sale_datetime:gte]=2024-05-02&filter[company_ref_id]=1001&filter[id:gt]={order_ids[0]}"
    )
    expected = service_rows(live_server.url, credentials, query)
    with ExportClient(live_server.url, *credentials) as client:
        got = list(client.rows(filters=filters, page_size=1))
    assert got == expected
    # Orders 6 and 7 were created at 14:00 and 15:00 UTC: taking 16:00+02:00 as 16:00 keeps them.
    assert [row["external_ref"] for row in got] == ["A-3", "A-4"]


def test_the_async_client_gives_the_same_rows_as_the_sync_one(
    live_server: LiveServer, credentials: tuple[str, str]
) -> None:
    async def pull() -> list[Row]:
        async with AsyncExportClient(live_server.url, *credentials) as client:
            return [row async for row in client.rows(options=OPTIONS, page_size=2)]

    with ExportClient(live_server.url, *credentials) as client:
        sync_rows = list(client.rows(options=OPTIONS, page_size=2))
    assert asyncio.run(pull()) == sync_rows
    assert sync_rows == service_rows(live_server.url, credentials, options_query(OPTIONS))


def test_a_refused_filter_raises_bad_request_with_the_services_parameter_and_words(
    live_server: LiveServer, credentials: tuple[str, str]
) -> None:
    direct = service_get(live_server.url, credentials, "filter[status:in]=8,999")
    assert direct.status_code == 400
    with ExportClient(live_server.url, *credentials) as client:
        rows = client.rows(filters={"status:in": [8, 999]})
        with pytest.raises(BadRequest) as raised:
            list(rows)
    assert raised.value.status_code == 400
    assert raised.value.error == "invalid_request"
    assert raised.value.parameter == "filter[status:in]"
    assert raised.value.error_description == direct.json()["error_description"]
    assert "999" in raised.value.error_description
    assert rows.progress.retries == 0


def test_a_wrong_secret_raises_unauthorized_after_one_token_request(
    proxy: FaultProxy, credentials: tuple[str, str]
) -> None:
    client_id, _secret = credentials
    client = ExportClient(proxy.url, client_id, "not-the-secret")
    with client, pytest.raises(Unauthorized) as raised:
        list(client.rows())
    assert raised.value.error == "invalid_client"
    assert proxy.statuses("/token") == [401]
    assert proxy.requests(EXPORT) == []


def test_a_client_whose_companies_are_all_on_the_free_plan_raises_forbidden(
    live_server: LiveServer, order_ids: list[int], engine: Engine, settings: Settings
) -> None:
    client = ExportClient(live_server.url, *new_client(engine, settings, 3001))
    with client, pytest.raises(Forbidden) as raised:
        list(client.rows())
    assert raised.value.status_code == 403
    assert raised.value.error == "subscription_required"


def test_one_token_serves_every_page(proxy: FaultProxy, credentials: tuple[str, str]) -> None:
    with ExportClient(proxy.url, *credentials) as client:
        rows = list(client.rows(page_size=1))
    assert len({row["id"] for row in rows}) == ORDERS
    assert proxy.statuses("/token") == [200]
    assert proxy.statuses(EXPORT) == [200] * ORDERS


def test_a_token_the_service_stops_accepting_is_replaced_once_and_the_pull_completes(
    proxy: FaultProxy, live_server: LiveServer, credentials: tuple[str, str], engine: Engine
) -> None:
    expected = service_rows(live_server.url, credentials)
    with ExportClient(proxy.url, *credentials) as client:
        rows = client.rows(page_size=4)
        got: list[Row] = []
        for row in rows:
            if not got:
                with engine.begin() as conn:
                    conn.execute(delete(access_tokens))
            got.append(row)
    assert got == expected
    assert proxy.statuses("/token") == [200, 200]
    assert proxy.statuses(EXPORT) == [200, 401, 200, 200]
    assert rows.progress.retries == 0


def test_a_secret_rotated_mid_pull_raises_unauthorized_after_one_new_token_request(
    proxy: FaultProxy, credentials: tuple[str, str], engine: Engine, settings: Settings
) -> None:
    with ExportClient(proxy.url, *credentials) as client:
        rows = iter(client.rows(page_size=4))
        got = [next(rows)]
        rotate_secret(engine, settings, credentials[0])
        with pytest.raises(Unauthorized) as raised:
            got.extend(rows)  # keeps what came before the error
    assert raised.value.error == "invalid_client"
    assert {row["external_ref"] for row in got} == {"A-0", "A-1", "A-2", "A-3"}
    assert proxy.statuses("/token") == [200, 401]
    assert proxy.statuses(EXPORT) == [200, 401]


def test_a_short_lived_token_is_renewed_before_it_expires(
    settings: Settings, engine: Engine, credentials: tuple[str, str]
) -> None:
    short = replace(settings, token_ttl_seconds=1)
    with LiveServer(short, engine) as server, FaultProxy(server.url) as proxy:
        expected = service_rows(server.url, credentials)
        with ExportClient(proxy.url, *credentials) as client:
            got: list[Row] = []
            for row in client.rows(page_size=5):
                if not got:
                    time.sleep(1.2)  # past the token's life before page 2 is asked for
                got.append(row)
        assert proxy.errors == []
    assert got == expected
    assert proxy.statuses("/token") == [200, 200]
    assert proxy.statuses(EXPORT) == [200, 200]  # no 401: renewed before, not after


def test_shape_rows_is_the_apis_own_default_and_items_its_deprecated_alias(
    proxy: FaultProxy, live_server: LiveServer, credentials: tuple[str, str]
) -> None:
    expected = service_rows(live_server.url, credentials, "shape=rows")
    assert expected == service_rows(live_server.url, credentials)
    with ExportClient(proxy.url, *credentials) as client:
        assert list(client.rows(shape="rows", page_size=4)) == expected
        with pytest.warns(DeprecationWarning, match="shape='rows'"):
            legacy = client.rows(shape="items", page_size=4)
        assert list(legacy) == expected
    assert proxy.statuses(EXPORT) == [200] * 6  # 3 pages each, none refused for its shape


def test_the_next_link_is_absolute_and_only_its_cursor_is_followed(
    settings: Settings, engine: Engine, credentials: tuple[str, str]
) -> None:
    """The service builds the ``Link`` URL from its public base URL: one the client may not
    reach (here it cannot), so the client keeps to its own base URL and takes the cursor."""
    elsewhere = replace(settings, public_base_url="http://public.invalid:1")
    with LiveServer(elsewhere, engine) as server:
        first = service_get(server.url, credentials, "page[size]=4")
        assert first.links["next"]["url"].startswith(
            "http://public.invalid:1/export-api/order-item-details?"
        )
        with ExportClient(server.url, *credentials) as client:
            rows = client.rows(page_size=4)
            got = list(rows)
        assert got == service_rows(server.url, credentials)
    assert (rows.progress.pages, rows.progress.retries) == (3, 0)
