"""Filters and tenancy against a real store: which orders come back, and who may ask."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine

from oms_export.errors import CompanyNotAllowed, SubscriptionRequired
from oms_export.export.params import parse_export_query
from oms_export.export.tenancy import entitlement
from tests import factories as f
from tests.unit.test_export_rows import export_rows, principal_for


@pytest.fixture
def store(engine: Engine) -> Engine:
    acme = f.company(engine, 1001, "order_manager")
    drop = f.company(engine, 2001, "enterprise")
    lite = f.company(engine, 3001, "oms_lite")
    other = f.company(engine, 4001, "enterprise")
    f.order(
        engine,
        acme,
        "A-1",
        status=8,
        completion_datetime=f.utc("2020-03-06 12:00:00"),
        sale_datetime=f.utc("2020-03-01 10:00:00"),
    )
    f.order(engine, acme, "A-2", status=516, completion_datetime=f.utc("2020-03-06 12:00:01"))
    f.order(engine, acme, "A-3", status=1)  # not completed
    f.order(
        engine,
        other,
        "X-1",
        status=8,
        secondary_company_id=drop,
        completion_datetime=f.utc("2021-01-01 00:00:00"),
    )
    f.order(engine, lite, "L-1", status=8, completion_datetime=f.utc("2021-01-01 00:00:00"))
    f.order(engine, other, "X-2", status=8, completion_datetime=f.utc("2021-01-01 00:00:00"))
    return engine  # fmt: skip


def refs(store: Engine, query: str, *companies: int) -> list[str]:
    return [r["external_ref"] for r in export_rows(store, principal_for(store, *companies), query)]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", ["A-1", "A-2", "A-3"]),
        ("filter[status:in]=8,516", ["A-1", "A-2"]),
        ("filter[status]=516", ["A-2"]),
        ("filter[status:in]=8,516&filter[completion_datetime:gt]=2020-03-06%2012:00:00", ["A-2"]),
        ("filter[completion_datetime:gte]=2020-03-06 12:00:00", ["A-1", "A-2"]),
        ("filter[completion_datetime:lt]=2020-03-06T12:00:01Z", ["A-1"]),
        ("filter[completion_datetime:lte]=2020-03-06T14:00:01%2B02:00", ["A-1", "A-2"]),
        ("filter[completion_datetime:lt]=2030-01-01", ["A-1", "A-2"]),  # never matches unset
        ("filter[sale_datetime:gt]=2020-01-01", ["A-1"]),
        ("filter[creation_datetime:gte]=2024-05-01", ["A-1", "A-2", "A-3"]),
        ("filter[id:gt]=1&filter[id:lt]=3", ["A-2"]),
        ("filter[id:in]=1,3,4,5", ["A-1", "A-3"]),
        ("filter[id]=4", []),
        ("filter[ref:in]=O2,O3", ["A-2", "A-3"]),
        ("filter[external_ref]=A-3", ["A-3"]),
        ("filter[external_ref:in]=A-1,X-1,L-1", ["A-1"]),
        ("filter[company_ref_id]=1001", ["A-1", "A-2", "A-3"]),
    ],
)
def test_filters_narrow_the_clients_orders(store: Engine, query: str, expected: list[str]) -> None:
    assert refs(store, query, 1001) == expected


def test_a_dropshipper_sees_orders_where_it_is_the_secondary_company(store: Engine) -> None:
    assert refs(store, "", 2001) == ["X-1"]


def test_companies_without_export_subscription_are_left_out_and_named(store: Engine) -> None:
    principal = principal_for(store, 1001, 3001)
    query = parse_export_query([])
    assert entitlement(principal, query).excluded_ref_ids == (3001,)
    assert refs(store, "", 1001, 3001) == ["A-1", "A-2", "A-3"]


def test_a_client_with_no_exporting_company_is_refused(store: Engine) -> None:
    with pytest.raises(SubscriptionRequired):
        refs(store, "", 3001)


@pytest.mark.parametrize(
    ("query", "error", "parameter"),
    [
        ("filter[company_ref_id]=4001", CompanyNotAllowed, "filter[company_ref_id]"),
        ("filter[company_ref_id:in]=1001,4001", CompanyNotAllowed, "filter[company_ref_id:in]"),
        ("filter[company_ref_id:in]=3001", SubscriptionRequired, "filter[company_ref_id:in]"),
    ],
)
def test_naming_a_company_the_client_may_not_export_is_refused(
    store: Engine, query: str, error: type[Exception], parameter: str
) -> None:
    with pytest.raises(error) as caught:
        refs(store, query, 1001, 3001)
    assert getattr(caught.value, "parameter", None) == parameter


def test_no_filter_widens_the_view_beyond_the_clients_companies(store: Engine) -> None:
    for query in ("filter[external_ref:in]=X-1,X-2,L-1", "filter[id:in]=4,5,6", "filter[status]=8"):
        assert set(refs(store, query, 1001)) <= {"A-1", "A-2", "A-3"}


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("filter[id:lt]=2147483647", ["A-1", "A-2", "A-3"]),
        ("filter[id:gt]=2147483647", []),
        ("filter[id]=2147483647", []),
        ("filter[id:in]=1,2147483647", ["A-1"]),
        ("filter[id:gt]=0&filter[id:lt]=2", ["A-1"]),
        ("filter[completion_datetime:gt]=0001-01-01 00:00:00", ["A-1", "A-2"]),
        ("filter[completion_datetime:gte]=0001-01-01T01:00:00%2B01:00", ["A-1", "A-2"]),
        ("filter[completion_datetime:lt]=0001-01-01T00:00:00Z", []),
        ("filter[sale_datetime:lte]=9999-12-31 23:59:59", ["A-1"]),
        ("filter[sale_datetime:gt]=9999-12-31T22:59:59-01:00", []),
        ("filter[creation_datetime:lt]=9999-12-31", ["A-1", "A-2", "A-3"]),
    ],
)
def test_values_at_the_ends_of_each_columns_range_run_on_the_store(
    store: Engine, query: str, expected: list[str]
) -> None:
    """The largest accepted value of each filter is one the store compares without an error."""
    assert refs(store, query, 1001) == expected


def test_the_largest_company_ref_id_is_another_companys_not_a_store_error(store: Engine) -> None:
    with pytest.raises(CompanyNotAllowed) as caught:
        refs(store, "filter[company_ref_id:in]=1001,2147483647", 1001)
    assert caught.value.parameter == "filter[company_ref_id:in]"
