"""Encoders and the nested shape, with their output written out in full."""

from __future__ import annotations

import base64
import random
import string
from typing import Any

import orjson
import pytest

from oms_export.bounds import MAX_CURSOR_LENGTH
from oms_export.errors import InvalidRequest
from oms_export.export.encoders import csv_table, json_array, ndjson
from oms_export.export.paging import MAX_INLINE_COLUMNS, PageCursor, make_cursor, read_cursor
from oms_export.export.params import parse_export_query
from oms_export.export.shapes import nest_orders

ROWS: list[list[dict[str, Any]]] = [
    [{"id": 1, "name": 'Ann "A", Ltd', "ok": True, "price": 9.99, "note": None}],
    [],
    [{"id": 2, "name": "line\nbreak", "ok": False, "price": 0.2, "note": "x"}],
]


def test_json_array_is_one_valid_array_whatever_the_batches() -> None:
    body = b"".join(json_array(iter(ROWS)))
    assert body == (
        b'[{"id":1,"name":"Ann \\"A\\", Ltd","ok":true,"price":9.99,"note":null},'
        b'{"id":2,"name":"line\\nbreak","ok":false,"price":0.2,"note":"x"}]'
    )
    assert b"".join(json_array(iter([]))) == b"[]"


def test_ndjson_is_one_row_per_line() -> None:
    lines = b"".join(ndjson(iter(ROWS))).split(b"\n")
    assert lines[-1] == b""
    assert [orjson.loads(line)["id"] for line in lines[:-1]] == [1, 2]


def test_csv_quotes_per_rfc_4180_and_writes_null_empty() -> None:
    tuples = [[list(row.values()) for row in batch] for batch in ROWS]
    body = b"".join(csv_table(["id", "name", "ok", "price", "note"], [2], iter(tuples)))
    assert body == (
        b'id,name,ok,price,note\r\n1,"Ann ""A"", Ltd",true,9.99,\r\n2,"line\nbreak",false,0.2,x\r\n'
    )


def test_orders_shape_nests_company_relations_items_and_attributes() -> None:
    flat = [
        {"id": 1, "company_ref_id": 1001, "company__company_name": "Acme",
         "secondary_company": None, "secondary_company__company_name": None,
         "attributes__channel": "web", "attributes__gift": None,
         "items__id": 10, "items__sku": "TS", "items__product_owner__company_name": "Own",
         "items__product_owner": 4, "items__product_price__price": None,
         "items__product_price": None, "items__product_ecommerce__product_id": None,
         "items__attributes__print": "front"},
        {"id": 1, "company_ref_id": 1001, "company__company_name": "Acme",
         "secondary_company": None, "secondary_company__company_name": None,
         "attributes__channel": "web", "attributes__gift": None,
         "items__id": 11, "items__sku": "MUG", "items__product_owner__company_name": None,
         "items__product_owner": None, "items__product_price__price": 8.5,
         "items__product_price": 3, "items__product_ecommerce__product_id": 501,
         "items__attributes__print": None},
    ]  # fmt: skip
    itemless = {k: (None if k.startswith("items__") else v) for k, v in flat[0].items()}
    itemless["id"] = 2
    orders = [o for batch in nest_orders(iter([flat[:1], [*flat[1:], itemless]])) for o in batch]
    assert orders == [
        {"id": 1, "company_ref_id": 1001, "company": {"company_name": "Acme"},
         "secondary_company": None, "attributes": {"channel": "web"},
         "items": [
             {"id": 10, "sku": "TS", "product_owner": {"company_name": "Own", "id": 4},
              "product_price": None, "product_ecommerce": None, "attributes": {"print": "front"}},
             {"id": 11, "sku": "MUG", "product_owner": None,
              "product_price": {"price": 8.5, "id": 3}, "product_ecommerce": {"product_id": 501},
              "attributes": {}},
         ]},
        {"id": 2, "company_ref_id": 1001, "company": {"company_name": "Acme"},
         "secondary_company": None, "attributes": {"channel": "web"}, "items": []},
    ]  # fmt: skip


def test_a_cursor_works_only_for_its_client_and_query() -> None:
    query = parse_export_query([("filter[status:in]", "8,516"), ("page[size]", "10")])
    cursor = make_cursor(b"key", "client-a", query, 42)
    assert read_cursor(b"key", "client-a", query, cursor) == PageCursor(42)
    # page size and format may change between pages; filter order does not matter
    same = parse_export_query(
        [("page[size]", "5"), ("format", "csv"), ("filter[status:in]", "8,516")]
    )
    assert read_cursor(b"key", "client-a", same, cursor) == PageCursor(42)
    others = [
        (b"key", "client-b", query),
        (b"other-key", "client-a", query),
        (b"key", "client-a", parse_export_query([("filter[status:in]", "8")])),
        (b"key", "client-a", parse_export_query([("filter[status:in]", "8,516"), ("options[includeAttributes]", "1")])),
        (b"key", "client-a", parse_export_query([("filter[status:in]", "8,516"), ("shape", "orders")])),
    ]  # fmt: skip
    for key, client, other in others:
        with pytest.raises(InvalidRequest) as caught:
            read_cursor(key, client, other, cursor)
        assert caught.value.parameter == "page[after]"


@pytest.mark.parametrize("position", range(0, 32))
def test_a_cursor_altered_in_any_character_is_refused(position: int) -> None:
    query = parse_export_query([])
    cursor = make_cursor(b"key", "c", query, 7)
    assert len(cursor) == 32
    flipped = cursor[:position] + ("A" if cursor[position] != "A" else "B") + cursor[position + 1 :]
    with pytest.raises(InvalidRequest):
        read_cursor(b"key", "c", query, flipped)


def test_a_cursor_carries_the_first_pages_attribute_columns_under_its_signature() -> None:
    query = parse_export_query([("options[includeAttributes]", "1"), ("page[size]", "2")])
    columns = (("channel", "gift wrap"), ("print",))
    cursor = make_cursor(b"key", "c", query, 9, columns)
    assert read_cursor(b"key", "c", query, cursor) == PageCursor(9, columns=columns)
    other = make_cursor(b"key", "c", query, 9, (("channel",), ("print",)))
    # the columns of one cursor under the signature of the other
    raw, other_raw = (base64.urlsafe_b64decode(c + "=" * (-len(c) % 4)) for c in (cursor, other))
    forged = base64.urlsafe_b64encode(other_raw[:-16] + raw[-16:]).rstrip(b"=").decode()
    with pytest.raises(InvalidRequest):
        read_cursor(b"key", "c", query, forged)


def test_columns_too_many_for_a_url_travel_as_a_digest_that_later_pages_must_match() -> None:
    query = parse_export_query([("options[includeAttributes]", "1"), ("page[size]", "2")])
    rng = random.Random(5)
    names = tuple(sorted({"".join(rng.choices(string.ascii_letters, k=40)) for _ in range(200)}))
    columns = (names, ())
    cursor = make_cursor(b"key", "c", query, 3, columns)
    assert len(cursor) <= MAX_CURSOR_LENGTH
    assert len(orjson.dumps(columns)) > MAX_INLINE_COLUMNS
    read = read_cursor(b"key", "c", query, cursor)
    assert read.columns is None
    assert read.columns_digest is not None
    read.check_columns(columns)  # unchanged: the export goes on
    with pytest.raises(InvalidRequest) as caught:
        read.check_columns(((*names, "zz-new"), ()))
    assert caught.value.parameter == "page[after]"
