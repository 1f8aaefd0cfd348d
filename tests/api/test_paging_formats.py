"""Paging, formats and the nested shape over real HTTP."""

from __future__ import annotations

import csv
import io
import itertools
import re
from typing import Any

import httpx
import orjson
import pytest
from sqlalchemy import Engine

from oms_export.settings import Settings
from tests import factories as f
from tests.api.test_export_http import PATH, credentials, token_for
from tests.live import LiveServer

ALL = (
    "options[includeProductOwner]=1&options[includeProductPrice]=1"
    "&options[includeProductEcommerceInfo]=1&options[includeAttributes]=1"
)


@pytest.fixture
def store(engine: Engine) -> Engine:
    acme = f.company(engine, 1001, "order_manager", name="Acme")
    f.company(engine, 2001, "enterprise", name="Other")
    for n in range(7):
        items = [
            {"sku": f"S{n}-{k}", "quantity": k + 1, "status": 3, "unit_sale_price": 9.99,
             "attributes": {"print": "front"} if k else {}}
            for k in range(n % 3)
        ]  # fmt: skip
        f.order(engine, acme, f"A-{n}", status=8, shipping_price=3.5, is_free_of_charge=n == 2,
                attributes={"channel": "web"} if n % 2 else {}, items=items)  # fmt: skip
    return engine


@pytest.fixture
def token(store: Engine, settings: Settings, http: httpx.Client) -> str:
    return token_for(http, *credentials(store, settings, 1001))


def get(http: httpx.Client, token: str, url: str, **headers: str) -> httpx.Response:
    return http.get(url, headers={"Authorization": f"Bearer {token}", **headers})


def next_link(response: httpx.Response) -> str | None:
    match = re.fullmatch(r'<([^>]+)>; rel="next"', response.headers.get("link", ""))
    return match[1] if match else None


def all_pages(http: httpx.Client, token: str, url: str) -> list[httpx.Response]:
    pages = []
    next_url: str | None = url
    while next_url:
        response = get(http, token, next_url)
        assert response.status_code == 200, response.text
        pages.append(response)
        next_url = next_link(response)
    return pages


@pytest.mark.parametrize("size", [1, 2, 3, 7, 100])
def test_concatenated_pages_equal_the_unpaged_export(
    http: httpx.Client, token: str, size: int
) -> None:
    whole = get(http, token, f"{PATH}?{ALL}").json()
    pages = all_pages(http, token, f"{PATH}?{ALL}&page[size]={size}")
    assert [row for page in pages for row in page.json()] == whole
    assert len(pages) == max(1, -(-7 // size))
    for page in pages:
        assert len({row["id"] for row in page.json()}) <= size
    ids_per_page = [{row["id"] for row in page.json()} for page in pages]
    assert all(a.isdisjoint(b) for a, b in itertools.pairwise(ids_per_page))
    assert next_link(pages[-1]) is None


def test_pages_stay_exact_while_new_orders_arrive(
    store: Engine, http: httpx.Client, token: str
) -> None:
    first = get(http, token, f"{PATH}?page[size]=3")
    acme = 1
    f.order(store, acme, "LATE-1", status=8, items=[{"sku": "L1"}])
    f.order(store, acme, "LATE-2", status=8)
    rest = all_pages(http, token, str(next_link(first)))
    paged = first.json() + [row for page in rest for row in page.json()]
    assert paged == get(http, token, PATH).json()
    assert [r["external_ref"] for r in paged][-2:] == ["LATE-1", "LATE-2"]


def test_every_page_keeps_the_first_pages_attribute_columns(
    store: Engine, http: httpx.Client, token: str
) -> None:
    first = get(http, token, f"{PATH}?{ALL}&page[size]=2")
    keys = list(first.json()[0])
    assert "attributes__channel" in keys
    assert "attributes__gift_note" not in keys
    acme = 1
    f.order(store, acme, "LATE-1", status=8, attributes={"gift_note": "hi"},
            items=[{"sku": "L1", "attributes": {"engraving": "x"}}])  # fmt: skip
    rest = all_pages(http, token, str(next_link(first)))
    rows = [row for page in rest for row in page.json()]
    assert rows[-1]["external_ref"] == "LATE-1", "the new order is exported"
    assert all(list(row) == keys for row in rows), "with the first page's columns"
    fresh = get(http, token, f"{PATH}?{ALL}").json()
    assert "attributes__gift_note" in fresh[0], "a new export has the new columns"


@pytest.mark.parametrize("fmt", ["csv", "ndjson"])
def test_the_first_pages_columns_hold_in_every_format(
    store: Engine, http: httpx.Client, token: str, fmt: str
) -> None:
    first = get(http, token, f"{PATH}?{ALL}&page[size]=3&format={fmt}")
    f.order(store, 1, "LATE-1", status=8, attributes={"gift_note": "hi"})
    last = all_pages(http, token, str(next_link(first)))[-1]
    if fmt == "csv":
        assert last.text.splitlines()[0] == first.text.splitlines()[0]
    else:
        first_keys = list(orjson.loads(first.text.splitlines()[0]))
        assert all(list(orjson.loads(line)) == first_keys for line in last.text.splitlines())


def test_the_next_link_is_built_from_the_servers_address_not_the_host_header(
    http: httpx.Client, token: str
) -> None:
    response = get(http, token, f"{PATH}?page[size]=2", Host="evil.example")
    link = next_link(response)
    assert link is not None
    assert link.startswith(str(http.base_url).rstrip("/") + PATH + "?")


def test_the_next_link_is_built_from_the_public_base_url_or_trusted_proxy_headers(
    store: Engine, settings: Settings
) -> None:
    client = credentials(store, settings, 1001)
    cases: list[tuple[dict[str, Any], dict[str, str], str]] = [
        ({"public_base_url": "https://oms.example.com/"}, {}, "https://oms.example.com" + PATH),
        ({"trust_proxy_headers": 1}, {"X-Forwarded-Host": "reports.example.com"},
         "http://reports.example.com" + PATH),
        ({"trust_proxy_headers": 1}, {"X-Forwarded-Host": "bad host/"}, "http://127.0.0.1:"),
        ({}, {"X-Forwarded-Host": "reports.example.com"}, "http://127.0.0.1:"),
    ]  # fmt: skip
    for changes, headers, prefix in cases:
        server = LiveServer(settings.with_changes(**changes), store)
        with server, httpx.Client(base_url=server.url) as http:
            token = token_for(http, *client)
            response = get(http, token, f"{PATH}?page[size]=2", **headers)
        assert str(next_link(response)).startswith(prefix), (changes, headers)


def test_the_next_link_keeps_every_other_parameter(http: httpx.Client, token: str) -> None:
    response = get(http, token, f"{PATH}?filter[status:in]=8,516&format=ndjson&page[size]=2")
    link = next_link(response)
    assert link is not None
    assert link.startswith("http://127.0.0.1:")
    assert "filter[status:in]=8,516&format=ndjson&page[size]=2&page[after]=" in link


@pytest.mark.parametrize(
    ("query", "parameter"),
    [
        ("page[size]=0", "page[size]"),
        ("page[size]=10001", "page[size]"),
        ("page[size]=ten", "page[size]"),
        ("page[after]=not-a-cursor", "page[after]"),
        ("page[after]=%2F%2F..", "page[after]"),
        ("format=xml", "format"),
        ("shape=tree", "shape"),
        ("format=csv&shape=orders", "shape"),
    ],
)
def test_bad_paging_and_format_parameters_are_400(
    http: httpx.Client, token: str, query: str, parameter: str
) -> None:
    response = get(http, token, f"{PATH}?{query}")
    assert response.status_code == 400
    assert response.json()["parameter"] == parameter


def test_a_cursor_is_refused_for_other_filters_or_another_client(
    store: Engine, settings: Settings, http: httpx.Client, token: str
) -> None:
    link = next_link(get(http, token, f"{PATH}?filter[status:in]=8&page[size]=2"))
    assert link is not None
    cursor = link.rsplit("page[after]=", 1)[1]
    other_filters = get(
        http, token, f"{PATH}?filter[status:in]=8,516&page[size]=2&page[after]={cursor}"
    )
    assert other_filters.status_code == 400
    assert other_filters.json()["parameter"] == "page[after]"
    other_client = token_for(http, *credentials(store, settings, 1001))
    assert get(http, other_client, link).status_code == 400
    assert get(http, token, link).status_code == 200


def _as_csv_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def test_json_ndjson_and_csv_carry_the_same_rows(http: httpx.Client, token: str) -> None:
    rows = get(http, token, f"{PATH}?{ALL}").json()
    nd = get(http, token, f"{PATH}?{ALL}&format=ndjson")
    assert nd.headers["content-type"] == "application/x-ndjson"
    assert [orjson.loads(line) for line in nd.content.splitlines()] == rows
    table = get(http, token, f"{PATH}?{ALL}&format=csv")
    assert table.headers["content-type"] == "text/csv; charset=utf-8"
    assert table.content.count(b"\r\n") == len(rows) + 1
    parsed = list(csv.reader(io.StringIO(table.text, newline="")))
    assert parsed[0] == list(rows[0])
    assert parsed[1:] == [[_as_csv_text(v) for v in row.values()] for row in rows]


@pytest.mark.parametrize(
    ("accept", "query", "media"),
    [
        ("text/csv", "", "text/csv; charset=utf-8"),
        ("application/x-ndjson", "", "application/x-ndjson"),
        ("text/html, application/json;q=0.9", "", "application/json"),
        ("text/csv;q=0.5, application/x-ndjson", "", "application/x-ndjson"),
        ("*/*", "", "application/json"),
        ("text/*", "", "text/csv; charset=utf-8"),
        ("text/html, text/*;q=0.5", "", "text/csv; charset=utf-8"),
        ("text/csv", "format=json", "application/json"),
        ("application/json", "format=csv", "text/csv; charset=utf-8"),
    ],
)
def test_the_accept_header_chooses_the_format_unless_the_parameter_does(
    http: httpx.Client, token: str, accept: str, query: str, media: str
) -> None:
    response = get(http, token, f"{PATH}?{query}", Accept=accept)
    assert response.status_code == 200
    assert response.headers["content-type"] == media


def test_an_accept_header_naming_no_export_format_is_406(http: httpx.Client, token: str) -> None:
    response = get(http, token, PATH, Accept="text/html")
    assert response.status_code == 406
    assert response.json()["error"] == "not_acceptable"


def test_orders_shape_holds_the_same_data_nested(http: httpx.Client, token: str) -> None:
    rows = get(http, token, f"{PATH}?{ALL}").json()
    orders = get(http, token, f"{PATH}?{ALL}&shape=orders").json()
    assert [o["id"] for o in orders] == sorted({r["id"] for r in rows})
    assert sum(max(1, len(o["items"])) for o in orders) == len(rows)
    by_item = {r["items__id"]: r for r in rows if r["items__id"] is not None}
    for order in orders:
        assert order["company"]["company_name"] == "Acme"
        for item in order["items"]:
            row = by_item[item["id"]]
            assert (item["sku"], item["quantity"]) == (row["items__sku"], row["items__quantity"])
            assert item["attributes"] == (
                {"print": "front"} if row["items__attributes__print"] else {}
            )
    nd = get(http, token, f"{PATH}?{ALL}&shape=orders&format=ndjson&page[size]=4")
    assert [orjson.loads(line) for line in nd.content.splitlines()] == orders[:4]
