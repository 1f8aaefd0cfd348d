"""Importing products and orders: whole records, idempotent re-imports, honest error reports."""

from __future__ import annotations

import io
import json
import random
import string
import threading
import time
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
from sqlalchemy import Connection, Engine, insert, select, text, update

from oms_export.admin import imports
from oms_export.admin.companies import add_company
from oms_export.admin.imports import (
    ImportSummary,
    import_orders,
    import_products,
    item_ref,
    order_ref,
    read_records,
)
from oms_export.admin.reader import BadJson
from oms_export.db.engine import make_engine
from oms_export.db.schema import (
    item_attributes,
    metadata,
    order_attributes,
    order_items,
    orders,
    product_ecommerce,
    product_prices,
    products,
    shipment_items,
    shipments,
)
from oms_export.errors import ImportRejected
from oms_export.settings import Settings


def ndjson(*lines: Any) -> io.BytesIO:
    """An NDJSON file; a str line is written as it is (to make broken lines)."""
    text_lines = [line if isinstance(line, str) else json.dumps(line) for line in lines]
    return io.BytesIO("\n".join(text_lines).encode() + b"\n")


def run_orders(engine: Engine, *records: Any) -> ImportSummary:
    return import_orders(engine, read_records(ndjson(*records)))


def summary(
    created: int = 0, updated: int = 0, unchanged: int = 0, errors: Iterable[Any] = ()
) -> ImportSummary:
    errors = list(errors)
    return ImportSummary(created=created, updated=updated, unchanged=unchanged, rejected=len(errors), errors=errors)  # fmt: skip


def rows(engine: Engine, table: Any) -> list[tuple[Any, ...]]:
    with engine.connect() as conn:
        return [tuple(row) for row in conn.execute(select(table).order_by(*table.primary_key))]


def snapshot(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    return {table.name: rows(engine, table) for table in metadata.sorted_tables}


@pytest.fixture
def store(engine: Engine) -> Engine:
    """Companies 1001, 1002 (merchants), 2001 (sales channel) and product 501."""
    add_company(engine, ref_id=1001, name="Acme Prints", subscription="order_manager")
    add_company(engine, ref_id=1002, name="Bolt Apparel", subscription="enterprise")
    add_company(engine, ref_id=2001, name="MarketHub", subscription="free")
    assert import_products(engine, [(0, {"product_id": 501})])["created"] == 1
    return engine


def order(ref: str = "WEB-1", **fields: Any) -> dict[str, Any]:
    return {"external_ref": ref, "company_ref_id": 1001, **fields}


ORDER_1 = order(
    "WEB-1",
    secondary_company_ref_id=2001,
    status=8,
    sale_datetime="2024-05-01 09:30:00",
    shipping_price=3.99,
    attributes=[{"name": "channel", "value": "web"}],
    items=[
        {"external_ref": "WEB-1-1", "sku": "TS", "product_id": 501, "quantity": 2, "status": 3,
         "unit_sale_price": 12.5, "attributes": [{"name": "print", "value": "front"}]},
        {"sku": "MUG", "quantity": 1},
    ],
)  # fmt: skip
ORDER_2 = order("WEB-2", items=[])


# --- creating ------------------------------------------------------------------------------


def test_import_creates_orders_with_ids_and_refs_in_creation_order(store: Engine) -> None:
    assert run_orders(store, ORDER_1, ORDER_2) == summary(created=2)
    with store.connect() as conn:
        got = conn.execute(
            select(orders.c.id, orders.c.ref, orders.c.external_ref, orders.c.status,
                   orders.c.shipping_price, orders.c.secondary_company_id).order_by(orders.c.id)
        ).all()  # fmt: skip
        items = conn.execute(
            select(order_items.c.id, order_items.c.ref, order_items.c.order_id,
                   order_items.c.position, order_items.c.sku, order_items.c.status,
                   order_items.c.unit_sale_price).order_by(order_items.c.id)
        ).all()  # fmt: skip
    assert [tuple(r) for r in got] == [
        (1, "O1", "WEB-1", 8, 3.99, 3),
        (2, "O2", "WEB-2", 0, None, None),
    ]
    assert [tuple(r) for r in items] == [
        (1, "I1", 1, 0, "TS", 3, 12.5),
        (2, "I2", 1, 1, "MUG", 0, None),
    ]
    assert rows(store, order_attributes) == [(1, "channel", "web")]
    assert rows(store, item_attributes) == [(1, "print", "front")]


def test_refs_are_the_id_in_base_36_after_a_letter() -> None:
    assert [order_ref(1), order_ref(35), order_ref(36), order_ref(1000)] == [
        "O1",
        "OZ",
        "O10",
        "ORS",
    ]
    assert item_ref(46655) == "IZZZ"


def test_creation_datetime_defaults_to_the_import_time_and_survives_updates(store: Engine) -> None:
    before = datetime.now(UTC).replace(tzinfo=None, microsecond=0)
    run_orders(store, ORDER_2)
    after = datetime.now(UTC).replace(tzinfo=None)

    def created() -> datetime:
        with store.connect() as conn:
            value: datetime = conn.execute(select(orders.c.creation_datetime)).scalar_one()
            return value

    first = created()
    assert before <= first <= after
    assert run_orders(store, {**ORDER_2, "customer_name": "Ada"}) == summary(updated=1)
    assert created() == first
    given = {**ORDER_2, "creation_datetime": "2024-01-02T03:04:05Z"}
    assert run_orders(store, given) == summary(updated=1)
    assert created() == datetime(2024, 1, 2, 3, 4, 5)


# --- idempotence and updates ---------------------------------------------------------------


def test_reimporting_the_same_file_reports_unchanged_and_changes_no_row(store: Engine) -> None:
    run_orders(store, ORDER_1, ORDER_2)
    before = snapshot(store)
    assert run_orders(store, ORDER_1, ORDER_2) == summary(unchanged=2)
    assert snapshot(store) == before


def test_reimporting_an_equal_record_written_differently_changes_nothing(store: Engine) -> None:
    run_orders(store, ORDER_1)
    before = snapshot(store)
    rewritten = dict(reversed(list(ORDER_1.items())))
    rewritten["shipping_price"] = "3.9900"
    rewritten["sale_datetime"] = "2024-05-01T10:30:00+01:00"
    assert run_orders(store, rewritten) == summary(unchanged=1)
    assert snapshot(store) == before


def test_update_keeps_ids_of_the_order_and_matched_items(store: Engine) -> None:
    first = order(
        "WEB-9",
        attributes=[{"name": "channel", "value": "web"}, {"name": "gift", "value": "yes"}],
        items=[
            {"sku": "KEYLESS", "quantity": 1, "size": "S"},
            {"external_ref": "A", "sku": "A", "quantity": 1, "attributes": [{"name": "p", "value": "1"}]},
            {"external_ref": "B", "sku": "B", "quantity": 1, "attributes": [{"name": "p", "value": "2"}]},
        ],
    )  # fmt: skip
    second = order(
        "WEB-9",
        attributes=[{"name": "channel", "value": "phone"}],
        items=[
            {"sku": "KEYLESS", "quantity": 1, "size": "M"},
            {"external_ref": "C", "sku": "C", "quantity": 4},
            {"external_ref": "A", "sku": "A", "quantity": 3, "attributes": [{"name": "q", "value": "x"}]},
        ],
    )  # fmt: skip
    run_orders(store, ORDER_2, first)  # order 2; items 1 (keyless), 2 (A), 3 (B)
    assert run_orders(store, second) == summary(updated=1)
    with store.connect() as conn:
        got = conn.execute(
            select(order_items.c.id, order_items.c.ref, order_items.c.position,
                   order_items.c.external_ref, order_items.c.size, order_items.c.quantity)
            .order_by(order_items.c.position)
        ).all()  # fmt: skip
        order_row = conn.execute(select(orders.c.id, orders.c.ref).where(orders.c.external_ref == "WEB-9")).one()  # fmt: skip
    assert tuple(order_row) == (2, "O2")
    assert [tuple(r) for r in got] == [
        (1, "I1", 0, None, "M", 1),
        (4, "I4", 1, "C", None, 4),
        (2, "I2", 2, "A", None, 3),
    ]
    assert rows(store, order_attributes) == [(2, "channel", "phone")]
    assert rows(store, item_attributes) == [(2, "q", "x")]


def test_an_update_that_fails_midway_leaves_the_previous_version_whole(
    store: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    run_orders(store, ORDER_1)
    before = snapshot(store)
    # Let a missing product past the early check, so the failure comes from the database
    # after the order row was already rewritten in the record's transaction.
    monkeypatch.setattr(imports, "_known_products", lambda _engine, _ready: {501, 999})
    broken = {**ORDER_1, "customer_name": "Changed", "items": [{"sku": "X", "quantity": 1, "product_id": 999}]}  # fmt: skip
    result = run_orders(store, broken, ORDER_2)
    assert (result["created"], result["rejected"]) == (1, 1)
    assert result["errors"][0]["line"] == 1
    assert result["errors"][0]["reason"].startswith("the database refused the record: ")
    after = snapshot(store)
    for table in ("orders", "order_items", "order_attributes", "item_attributes"):
        kept = [r for r in after[table] if r in before[table]]
        assert kept == before[table], table
    assert len(after["orders"]) == 2


def test_a_new_record_that_fails_midway_leaves_no_row(
    store: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(imports, "_known_products", lambda _engine, _ready: {999})
    broken = order("WEB-5", attributes=[{"name": "a", "value": "b"}],
                   items=[{"sku": "OK", "quantity": 1}, {"sku": "X", "quantity": 1, "product_id": 999}])  # fmt: skip
    assert run_orders(store, broken)["rejected"] == 1
    assert [rows(store, t) for t in (orders, order_items, order_attributes, item_attributes)] == [[], [], [], []]  # fmt: skip


def _updated(engine: Engine, ref: str) -> datetime:
    with engine.connect() as conn:
        value: datetime = conn.execute(
            select(orders.c.updated_datetime).where(orders.c.external_ref == ref)
        ).scalar_one()
        return value


def test_updated_datetime_is_the_write_time_of_a_create_or_real_update_only(store: Engine) -> None:
    before = datetime.now(UTC).replace(tzinfo=None, microsecond=0)
    run_orders(store, ORDER_1, ORDER_2)
    after = datetime.now(UTC).replace(tzinfo=None)
    created = _updated(store, "WEB-1")
    assert before <= created <= after
    assert created.microsecond == 0
    with store.begin() as conn:  # set back, so that a rewrite in the same second still shows
        conn.execute(update(orders).values(updated_datetime=datetime(2020, 1, 1)))
    assert run_orders(store, ORDER_1, ORDER_2) == summary(unchanged=2)
    assert _updated(store, "WEB-1") == _updated(store, "WEB-2") == datetime(2020, 1, 1)
    assert run_orders(store, {**ORDER_2, "customer_name": "Ada"}) == summary(updated=1)
    assert before <= _updated(store, "WEB-2") <= datetime.now(UTC).replace(tzinfo=None)
    assert _updated(store, "WEB-1") == datetime(2020, 1, 1)


def test_a_rejected_update_leaves_updated_datetime_alone(store: Engine) -> None:
    run_orders(store, ORDER_1)
    with store.begin() as conn:
        conn.execute(update(orders).values(updated_datetime=datetime(2020, 1, 1)))
        conn.execute(update(order_items).where(order_items.c.id == 1).values(shipped_quantity=2))
    shrunk = {**ORDER_1, "items": [{**ORDER_1["items"][0], "quantity": 1}, ORDER_1["items"][1]]}
    result = run_orders(store, shrunk)
    assert result["rejected"] == 1
    assert result["errors"][0]["reason"].startswith("the database refused the record: ")
    assert _updated(store, "WEB-1") == datetime(2020, 1, 1)


@pytest.mark.parametrize("fulfilled", ["shipped_quantity", "cancelled_quantity"])
def test_an_update_that_drops_a_shipped_or_cancelled_item_is_rejected_whole(
    store: Engine, fulfilled: str
) -> None:
    run_orders(store, ORDER_1)
    with store.begin() as conn:
        conn.execute(update(order_items).where(order_items.c.id == 1).values({fulfilled: 1}))
    before = snapshot(store)
    without_first = {**ORDER_1, "customer_name": "Changed", "items": [ORDER_1["items"][1]]}
    shipped, cancelled = (1, 0) if fulfilled == "shipped_quantity" else (0, 1)
    assert run_orders(store, without_first) == summary(
        errors=[
            {"line": 1, "company_ref_id": 1001, "external_ref": "WEB-1",
             "reason": f"items: item I1 (external_ref 'WEB-1-1') is missing from the record, but "
                       f"{shipped} of it shipped and {cancelled} were cancelled; an import cannot "
                       "remove an item with shipments or cancellations"},
        ]
    )  # fmt: skip
    assert snapshot(store) == before
    # An item without any goes as before, and so does one keyed by position.
    without_second = {**ORDER_1, "items": [ORDER_1["items"][0]]}
    assert run_orders(store, without_second) == summary(updated=1)
    assert [r[0] for r in rows(store, order_items)] == [1]


def test_an_item_recorded_in_a_shipment_is_never_deleted_by_an_import(store: Engine) -> None:
    run_orders(store, ORDER_1)
    with store.begin() as conn:
        conn.execute(update(order_items).where(order_items.c.id == 2).values(shipped_quantity=1))
        shipment = conn.execute(
            insert(shipments).values(order_id=1, dispatch_datetime=datetime(2024, 5, 2))
        ).inserted_primary_key[0]  # type: ignore[index]
        conn.execute(insert(shipment_items).values(shipment_id=shipment, item_id=2, quantity=1))
    result = run_orders(store, {**ORDER_1, "items": [ORDER_1["items"][0]]})
    assert result["rejected"] == 1
    assert "item I2 (position 1)" in result["errors"][0]["reason"]
    assert [r[0] for r in rows(store, order_items)] == [1, 2]
    assert rows(store, shipment_items) == [(shipment, 2, 1)]


# --- rejections ----------------------------------------------------------------------------


def test_bad_lines_are_reported_with_their_line_numbers_while_good_ones_land(store: Engine) -> None:
    result = import_orders(
        store,
        read_records(
            ndjson(
                ORDER_2,
                order("WEB-3", company_ref_id=9999),
                "",
                '{"external_ref": "WEB-4", "company_ref_id": 1001',
                order("WEB-5"),
                order("WEB-6", status=3),
                '{"external_ref": "WEB-7", "external_ref": "WEB-8", "company_ref_id": 1001}',
                "[1, 2]",
            )
        ),
    )
    codes = "0, 1, 2, 4, 8, 32, 64, 128, 256, 512, 513, 515, 516, 520, 600"
    assert result == summary(
        created=2,
        errors=[
            {"line": 2, "company_ref_id": 9999, "external_ref": "WEB-3",
             "reason": "company_ref_id: no company 9999 (add it with `oms-export companies add`)"},
            {"line": 4, "reason": "not valid JSON: Expecting ',' delimiter at column 49"},
            {"line": 6, "company_ref_id": 1001, "external_ref": "WEB-6",
             "reason": f"status: 3 is not an order status code (accepted: {codes})"},
            {"line": 7, "reason": "record: key 'external_ref' appears twice"},
            {"line": 8, "reason": "record: must be a JSON object, got [1,2]"},
        ],
    )  # fmt: skip
    with store.connect() as conn:
        assert conn.execute(select(orders.c.external_ref).order_by(orders.c.id)).scalars().all() == ["WEB-2", "WEB-5"]  # fmt: skip


@pytest.mark.parametrize(
    ("record", "reason"),
    [
        (order(company_ref_id=4242), "company_ref_id: no company 4242 (add it with `oms-export companies add`)"),
        (order(secondary_company_ref_id=4343), "secondary_company_ref_id: no company 4343 (add it with `oms-export companies add`)"),
        (order(items=[{"sku": "A", "quantity": 1}, {"sku": "B", "quantity": 1, "product_id": 777}]),
         "items[1].product_id: no product 777 (import it first with `oms-export import products`)"),
        (order(items=[{"sku": "A", "quantity": 1, "status": 5}]),
         "items[0].status: 5 is not an item status code (accepted: 0, 1, 2, 3, 7)"),
    ],
)  # fmt: skip
def test_unknown_references_are_rejections_that_store_nothing(
    store: Engine, record: dict[str, Any], reason: str
) -> None:
    result = run_orders(store, record)
    assert result["errors"] == [{"line": 1, "company_ref_id": record["company_ref_id"], "external_ref": "WEB-1", "reason": reason}]  # fmt: skip
    assert rows(store, orders) == []


def test_a_key_repeated_in_one_file_is_rejected_so_reimporting_stays_a_no_op(store: Engine) -> None:
    again = {**ORDER_2, "customer_name": "Someone else"}
    reason = "this company_ref_id and external_ref already came at line 1 of this import; the first one counts"  # fmt: skip
    expected_error = {"line": 3, "company_ref_id": 1001, "external_ref": "WEB-2", "reason": reason}
    assert run_orders(store, ORDER_2, ORDER_1, again) == summary(created=2, errors=[expected_error])
    before = snapshot(store)
    assert run_orders(store, ORDER_2, ORDER_1, again) == summary(
        unchanged=2, errors=[expected_error]
    )
    assert snapshot(store) == before
    with store.connect() as conn:
        assert conn.execute(select(orders.c.customer_name).where(orders.c.external_ref == "WEB-2")).scalar_one() is None  # fmt: skip


def test_the_same_external_ref_under_two_companies_is_two_orders(store: Engine) -> None:
    assert run_orders(store, order("X-1"), order("X-1", company_ref_id=1002)) == summary(created=2)


def test_records_of_a_json_array_are_numbered_by_0_based_index(store: Engine) -> None:
    stream = io.BytesIO(json.dumps([ORDER_2, order("WEB-3", status=3)]).encode())
    result = import_orders(store, read_records(stream))
    assert result["created"] == 1
    assert [(e["index"], e["external_ref"]) for e in result["errors"]] == [(1, "WEB-3")]


def test_a_plain_list_of_pairs_is_numbered_by_index(store: Engine) -> None:
    result = import_orders(store, enumerate([ORDER_2, order(status=3)]))
    assert result["errors"][0]["index"] == 1


# --- the reader ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"external_ref,company_ref_id\nWEB-1,1001\n",
         "the file is neither a JSON array nor NDJSON (one JSON object per line): line 1 starts with 'external_ref,company'; nothing was imported"),
        (b'{\n  "external_ref": "WEB-1",\n  "company_ref_id": 1001\n}\n',
         "the file is one JSON object spread over several lines; give a JSON array of records ([{…}, {…}]) or NDJSON, one record per line; nothing was imported"),
        (b"\x1f\x8b\x08\x00binary",
         "the file is neither a JSON array nor NDJSON (one JSON object per line): line 1 starts with '\\x1f\ufffd\\x08\\x00binary'; nothing was imported"),
    ],
)  # fmt: skip
def test_a_file_that_is_neither_format_is_one_rejection_of_its_first_line(
    content: bytes, reason: str
) -> None:
    reader = read_records(io.BytesIO(content))
    assert (reader.position, list(reader)) == ("line", [(1, BadJson(reason))])


NOTHING_AFTER = "nothing from there to the end of the file was imported"
DEEP = "[" * 100_000 + "]" * 100_000


@pytest.mark.parametrize(
    ("content", "records"),
    [
        # one element the fast parser cannot read: the others keep their indices
        (f'[{{"a": 1}}, {{"b": {DEEP}}}, {{"c": 3}}]'.encode(),
         [{"a": 1}, BadJson("nested too deeply to read (a record needs only a few levels of [ and {)"), {"c": 3}]),
        (b'[{"a": 1}, {"b": 1e999999999999999999999}, {"c": NaN}, {"d": 4}]',
         [{"a": 1}, BadJson("the number 1e999999999999999999999 is out of any range the store holds"),
          BadJson("not valid JSON: NaN is not a JSON number"), {"d": 4}]),
        (b'[{"a": 1}, {"b": "x\xff"}, {"c": 3}]',
         [{"a": 1}, BadJson("not valid JSON: the element at line 1, column 11 is not UTF-8"), {"c": 3}]),
        (b'[{"a": 1},\n, {"c": 3},]',
         [{"a": 1}, BadJson("not valid JSON: an empty element (a comma too many?) at line 2, column 1"), {"c": 3},
          BadJson("not valid JSON: an empty element (a comma too many?) at line 2, column 12")]),
        (b'[{"a": 1}, {"a" 2}, {"c": 3}]',
         [{"a": 1}, BadJson("not valid JSON: Expecting ':' delimiter at line 1, column 17"), {"c": 3}]),
        # brackets that no longer tell elements apart: the rest of the file is one rejection
        (b'\n\n[{"a": 1},\n {"b": 2]\n',
         [{"a": 1}, BadJson(f"not valid JSON: Expecting ',' delimiter at line 4, column 9; {NOTHING_AFTER}")]),
        (b'[{"a": 1}, {"b": "open}, {"c": 3}]',
         [{"a": 1}, BadJson(f"not valid JSON: Expecting ',' delimiter at line 1, column 28; {NOTHING_AFTER}")]),
        (b'[{"a": 1}, {"b": 2}', [{"a": 1}, BadJson(f"not valid JSON: the file ends before the array is closed (is it cut short?); {NOTHING_AFTER}")]),
        (b'[{"a": 1}, {"b": 2},\n', [{"a": 1}, {"b": 2}, BadJson("not valid JSON: the file ends before the array is closed (is it cut short?)")]),
        (b'[{"a": 1}] {"b": 2}', [{"a": 1}, BadJson("not valid JSON: text after the array's end at line 1, column 12")]),
        (b"[garbage", [BadJson(f"not valid JSON: Expecting value at line 1, column 2; {NOTHING_AFTER}")]),
    ],
)  # fmt: skip
def test_a_json_array_that_does_not_parse_whole_is_read_element_by_element(
    content: bytes, records: list[Any]
) -> None:
    reader = read_records(io.BytesIO(content))
    assert (reader.position, list(reader)) == ("index", list(enumerate(records)))


def test_the_reader_keeps_decimals_exact_and_skips_blank_lines() -> None:
    records = list(read_records(io.BytesIO(b'\xef\xbb\xbf{"a": 9.99}\n\n  \n{"a": 0.1}\n')))
    assert [(n, str(r["a"])) for n, r in records] == [(1, "9.99"), (4, "0.1")]


def test_a_bad_first_line_is_a_rejection_not_a_file_error(store: Engine) -> None:
    result = import_orders(store, read_records(ndjson('{"external_ref": oops}', ORDER_2)))
    assert result["created"] == 1
    assert result["errors"] == [
        {"line": 1, "reason": "not valid JSON: Expecting value at column 18"}
    ]


def test_an_empty_file_imports_nothing(store: Engine) -> None:
    assert import_orders(store, read_records(io.BytesIO(b"\n"))) == summary()


def test_nan_is_not_a_number(store: Engine) -> None:
    result = import_orders(store, read_records(ndjson('{"external_ref": "A", "company_ref_id": 1001, "shipping_price": NaN}')))  # fmt: skip
    assert result["errors"] == [{"line": 1, "reason": "not valid JSON: NaN is not a JSON number"}]


# --- hostile records -------------------------------------------------------------------------

KEY = {"company_ref_id": 1001, "external_ref": "H"}
NINES = "9" * 5000


def hostile(fields: str, **key: Any) -> str:
    """An order of company 1001 whose other fields are raw JSON text, as a hostile file has it."""
    ref = json.dumps(key.get("external_ref", "H"))
    return f'{{"external_ref": {ref}, "company_ref_id": 1001, {fields}}}'


HOSTILE: list[tuple[str, dict[str, Any]]] = [
    (hostile('"sale_datetime": "0001-01-01T00:00:00+01:00"'),
     {**KEY, "reason": 'sale_datetime: is before year 1 or after 9999 in UTC, got "0001-01-01T00:00:00+01:00"'}),
    (hostile('"completion_datetime": "9999-12-31T23:59:59-01:00"'),
     {**KEY, "reason": 'completion_datetime: is before year 1 or after 9999 in UTC, got "9999-12-31T23:59:59-01:00"'}),
    (hostile(f'"items": [{{"sku": "A", "quantity": "{NINES}"}}]'),
     {**KEY, "reason": 'items[0].quantity: must be at most 2147483647, got "' + "9" * 36 + "..."}),
    (hostile(f'"items": [{{"sku": "A", "quantity": {NINES}}}]'),
     {**KEY, "reason": "items[0].quantity: must be at most 2147483647, got " + "9" * 37 + "..."}),
    (hostile(f'"items": [{{"sku": "A", "quantity": -{NINES}}}]'),
     {**KEY, "reason": "items[0].quantity: must be an integer >= 1, got -" + "9" * 36 + "..."}),
    (hostile('"items": [{"sku": "A", "quantity": 2147483648}]'),
     {**KEY, "reason": "items[0].quantity: must be at most 2147483647, got 2147483648"}),
    (hostile('"shipping_price": 1e1000000'),
     {**KEY, "reason": "shipping_price: must be below 10000000000, got 1E+1000000"}),
    (hostile('"shipping_price": 1e-1000000'),
     {**KEY, "reason": "shipping_price: has more than 4 decimal places: 1E-1000000"}),
    (hostile('"shipping_price": 1e999999999999999999999'),
     {"reason": "the number 1e999999999999999999999 is out of any range the store holds"}),
    (hostile('"customer_name": "\\ud800"'),
     {**KEY, "reason": "customer_name: contains \\ud800, half of a UTF-16 surrogate pair, which is not a character"}),
    (hostile('"attributes": [{"name": "a\\udfff", "value": "x"}]'),
     {**KEY, "reason": "attributes[0].name: contains \\udfff, half of a UTF-16 surrogate pair, which is not a character"}),
    (hostile('"customer_name": "x"', external_ref="\udbff"),
     {"company_ref_id": 1001, "reason": "external_ref: contains \\udbff, half of a UTF-16 surrogate pair, which is not a character"}),
    (hostile('"\\ud800": 1'), {**KEY, "reason": "\\ud800: unknown key"}),
    (hostile('"items": [{"sku": "A", "quantity": 1, "description": "a\\u0000b"}]'),
     {**KEY, "reason": "items[0].description: must not contain the NUL character (\\u0000)"}),
    (hostile('"attributes": [{"name": "a", "value": "\\u0000"}]'),
     {**KEY, "reason": "attributes[0].value: must not contain the NUL character (\\u0000)"}),
    (hostile(f'"customer_name": {DEEP}'),
     {"reason": "nested too deeply to read (a record needs only a few levels of [ and {)"}),
    (hostile('"customer_name": ' + "[" * 300 + "]" * 300), {**KEY, "reason": "customer_name: must be a string, got a list"}),
    (hostile('"customer_name": "x"', external_ref="R" * 256),
     {"company_ref_id": 1001, "reason": "external_ref: must be at most 255 characters, got 256"}),
    (hostile('"customer_name": "x"', external_ref="WEB\t1"),
     {**KEY, "external_ref": "WEB\t1", "reason": 'external_ref: must not contain control or other non-printing characters (the export filter refuses them), got "WEB\\t1"'}),
    (hostile('"items": [{"sku": "A", "quantity": 1, "external_ref": "' + "L" * 256 + '"}]'),
     {**KEY, "reason": "items[0].external_ref: must be at most 255 characters, got 256"}),
    (hostile('"attributes": [{"name": "' + "n" * 256 + '", "value": "x"}]'),
     {**KEY, "reason": "attributes[0].name: must be at most 255 characters, got 256"}),
]  # fmt: skip
HOSTILE_IDS = [
    "datetime-before-year-1", "datetime-after-9999", "quantity-5000-digit-string",
    "quantity-5000-digit-number", "quantity-minus-5000-digits", "quantity-past-int32",
    "money-1e1000000", "money-1e-1000000", "number-past-any-decimal", "surrogate-in-text",
    "surrogate-in-attribute-name", "surrogate-in-external-ref", "surrogate-in-a-key",
    "nul-in-item-text", "nul-in-attribute-value", "nested-100000-deep", "nested-300-deep",
    "external-ref-256-characters", "external-ref-with-a-tab", "item-external-ref-256-characters",
    "attribute-name-256-characters",
]  # fmt: skip


@pytest.mark.parametrize(("record", "error"), HOSTILE, ids=HOSTILE_IDS)
def test_a_hostile_record_is_rejected_with_its_position_while_its_neighbours_land(
    store: Engine, record: str, error: dict[str, Any]
) -> None:
    """In NDJSON (by line) and in a JSON array (by index, through the element-wise fallback)."""
    for layout, position, refs in [("ndjson", {"line": 2}, ("N1", "N2")), ("array", {"index": 1}, ("A1", "A2"))]:  # fmt: skip
        lines = [json.dumps(order(refs[0])), record, json.dumps(order(refs[1], items=[{"sku": "A", "quantity": 2}]))]  # fmt: skip
        content = "\n".join(lines) if layout == "ndjson" else "[" + ",\n".join(lines) + "]"
        result = import_orders(store, read_records(io.BytesIO(content.encode())))
        assert result == summary(created=2, errors=[{**position, **error}]), layout
        assert (
            orjson.loads(orjson.dumps(result)) == result
        )  # the summary prints, whatever it quotes
    with store.connect() as conn:
        stored = conn.execute(select(orders.c.external_ref).order_by(orders.c.id)).scalars().all()
    assert stored == ["N1", "N2", "A1", "A2"]


def test_keys_of_255_characters_and_long_text_are_stored_alike_on_both_stores(
    store: Engine,
) -> None:
    """Random letters, so PostgreSQL cannot compress the index entry under its limit."""
    letters = random.Random(7).choices(string.ascii_letters, k=255 + 100_000)
    ref, text_value = "".join(letters[:255]), "".join(letters[255:])
    record = order(ref, customer_name=text_value, attributes=[{"name": ref, "value": text_value}],
                   items=[{"external_ref": ref, "sku": text_value, "quantity": 2147483647}])  # fmt: skip
    assert run_orders(store, record) == summary(created=1)
    with store.connect() as conn:
        assert conn.execute(select(orders.c.external_ref, orders.c.customer_name)).one() == (ref, text_value)  # fmt: skip
        assert conn.execute(select(order_items.c.external_ref, order_items.c.sku, order_items.c.quantity)).one() == (ref, text_value, 2147483647)  # fmt: skip
    assert rows(store, order_attributes) == [(1, ref, text_value)]


@pytest.mark.postgres_only  # SQLite has no limit on the size of an index entry
def test_a_value_past_a_postgresql_limit_rejects_its_record_not_the_import(store: Engine) -> None:
    huge_ref = "".join(random.Random(7).choices(string.ascii_letters, k=6000))

    def write(conn: Connection) -> imports.Outcome:
        conn.execute(
            insert(orders).values(
                external_ref=huge_ref,
                company_id=1,
                status=0,
                updated_datetime=datetime(2024, 1, 1),
            )
        )
        return "created"

    with pytest.raises(ImportRejected, match=r"^the database refused the record: index row size"):
        imports._store(store, write)
    assert run_orders(store, ORDER_2) == summary(created=1)


# --- products ------------------------------------------------------------------------------

PRODUCT: dict[str, Any] = {
    "product_id": 601, "owner_company_ref_id": 1002,
    "prices": [
        {"price_list": "product", "company_ref_id": 1001, "currency": "GBP", "quantity": 1, "rrp": 19.99, "price": 8.5},
        {"price_list": "product", "company_ref_id": 1001, "currency": "GBP", "quantity": 10, "rrp": 19.99, "price": 7.25},
        {"price_list": "base", "company_ref_id": 1002, "currency": "GBP", "quantity": 1, "price": 6.0},
    ],
    "ecommerce": {"sales_description": "Tee", "weight": 0.25, "barcode": "5012345678900"},
}  # fmt: skip


def run_products(engine: Engine, *records: Any) -> ImportSummary:
    return import_products(engine, read_records(ndjson(*records)))


def test_products_are_created_then_unchanged_then_replaced_whole(store: Engine) -> None:
    assert run_products(store, PRODUCT) == summary(created=1)
    assert rows(store, product_prices) == [
        (1, 601, "product", 1, "GBP", 1, 19.99, 8.5),
        (2, 601, "product", 1, "GBP", 10, 19.99, 7.25),
        (3, 601, "base", 2, "GBP", 1, None, 6.0),
    ]
    before = snapshot(store)
    assert run_products(store, PRODUCT) == summary(unchanged=1)
    assert snapshot(store) == before
    changed = {"product_id": 601, "prices": [PRODUCT["prices"][2]]}
    assert run_products(store, changed) == summary(updated=1)
    assert [r[1:] for r in rows(store, product_prices)] == [(601, "base", 2, "GBP", 1, None, 6.0)]
    assert rows(store, product_ecommerce) == []
    with store.connect() as conn:
        assert conn.execute(select(products.c.owner_company_id).where(products.c.id == 601)).scalar_one() is None  # fmt: skip


def test_products_with_unknown_companies_are_rejected(store: Engine) -> None:
    bad_owner = {"product_id": 602, "owner_company_ref_id": 5555}
    bad_price = {"product_id": 603, "prices": [{**PRODUCT["prices"][0], "company_ref_id": 6666}]}
    result = run_products(store, bad_owner, bad_price, {"product_id": 604}, {"product_id": 604})
    assert result == summary(
        created=1,
        errors=[
            {"line": 1, "product_id": 602, "reason": "owner_company_ref_id: no company 5555 (add it with `oms-export companies add`)"},
            {"line": 2, "product_id": 603, "reason": "prices[0].company_ref_id: no company 6666 (add it with `oms-export companies add`)"},
            {"line": 4, "product_id": 604, "reason": "this product_id already came at line 3 of this import; the first one counts"},
        ],
    )  # fmt: skip


# --- concurrency ---------------------------------------------------------------------------


def test_two_concurrent_imports_of_one_file_store_each_order_once(
    store: Engine, settings: Settings
) -> None:
    records = [
        order(f"C-{n}", items=[{"external_ref": f"C-{n}-{k}", "sku": "S", "quantity": 1} for k in range(2)])
        for n in range(60)
    ]  # fmt: skip
    results: list[ImportSummary] = []
    failures: list[BaseException] = []
    start = threading.Barrier(2)

    def worker() -> None:
        engine = make_engine(settings)
        try:
            start.wait()
            results.append(import_orders(engine, enumerate(records)))
        except BaseException as exc:  # every failure is reported by the assertion below
            failures.append(exc)
        finally:
            engine.dispose()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert failures == []
    assert sum(r["created"] for r in results) == 60
    assert sum(r["unchanged"] + r["updated"] for r in results) == 60
    assert sum(r["rejected"] for r in results) == 0
    with store.connect() as conn:
        assert conn.execute(text("SELECT COUNT(*), COUNT(DISTINCT external_ref) FROM orders")).one() == (60, 60)  # fmt: skip
        assert conn.execute(text("SELECT COUNT(*) FROM order_items")).scalar_one() == 120


@pytest.mark.postgres_only  # SQLite writers queue on BEGIN IMMEDIATE, so inserts never race
def test_an_insert_that_loses_the_race_is_retried_as_an_update(
    store: Engine, settings: Settings
) -> None:
    results: list[ImportSummary] = []
    with store.connect() as rival:
        rival.execute(
            insert(orders).values(
                external_ref="WEB-2",
                company_id=1,
                status=0,
                is_free_of_charge=False,
                updated_datetime=datetime(2024, 1, 1),
            )
        )  # uncommitted: the import's insert of the same key waits on it
        thread = threading.Thread(target=lambda: results.append(run_orders(store, ORDER_2)))
        thread.start()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with store.connect() as probe:
                waiting = probe.execute(
                    text("SELECT COUNT(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE 'INSERT INTO orders%'")
                ).scalar_one()  # fmt: skip
            if waiting:
                break
            time.sleep(0.02)
        assert waiting == 1
        rival.commit()
    thread.join(timeout=30)
    assert results == [summary(updated=1)]
    with store.connect() as conn:
        assert conn.execute(text("SELECT COUNT(*) FROM orders")).scalar_one() == 1


# --- the lifecycle (API.md §6.3) ----------------------------------------------------------


def _status(engine: Engine, ref: str) -> tuple[int, int | None]:
    with engine.connect() as conn:
        row = conn.execute(
            select(orders.c.status, orders.c.held_from).where(orders.c.external_ref == ref)
        ).one()
    return row.status, row.held_from


def test_a_reimport_cannot_move_an_order_back_and_says_which_statuses(store: Engine) -> None:
    run_orders(store, order("WEB-9", status=4))
    result = run_orders(store, order("WEB-9", status=1, customer_name="late"))
    assert result["rejected"] == 1
    assert result["errors"][0]["reason"] == (
        "status: order 1 is In Production (4); it cannot move to Received (1)"
    )
    assert _status(store, "WEB-9") == (4, None)


def test_a_reimport_moves_an_order_forward_and_a_dispatched_one_nowhere_but_64(
    store: Engine,
) -> None:
    run_orders(store, order("WEB-9", status=1))
    assert run_orders(store, order("WEB-9", status=516)) == summary(updated=1)
    assert run_orders(store, order("WEB-9", status=8)) == summary(updated=1)
    assert run_orders(store, order("WEB-9", status=128))["rejected"] == 1
    assert _status(store, "WEB-9") == (8, None)


def test_a_reimport_onto_a_hold_remembers_the_status_it_was_held_from(store: Engine) -> None:
    run_orders(store, order("WEB-9", status=513))
    assert run_orders(store, order("WEB-9", status=256)) == summary(updated=1)
    assert _status(store, "WEB-9") == (256, 513)
    assert run_orders(store, order("WEB-9", status=32)) == summary(updated=1)
    assert _status(store, "WEB-9") == (32, 513), "a hold to a hold keeps the first entry"
    assert run_orders(store, order("WEB-9", status=512))["rejected"] == 1, "left below it"
    assert run_orders(store, order("WEB-9", status=4)) == summary(updated=1)
    assert _status(store, "WEB-9") == (4, None)
