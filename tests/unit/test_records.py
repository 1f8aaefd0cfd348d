"""Checking one import record: what it accepts, how it normalizes, and why it rejects."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

import pytest

from oms_export.admin.records import (
    ITEM_FIELDS,
    ORDER_FIELDS,
    DuplicateKeys,
    known_key,
    parse_order,
    parse_product,
)
from oms_export.db.schema import order_items, orders
from oms_export.errors import ImportRejected
from oms_export.export.fields import FIELDS

ORDER: dict[str, Any] = {
    "external_ref": "WEB-1",
    "company_ref_id": 1001,
    "items": [{"sku": "TS-BLK-M", "quantity": 1}],
}
PRODUCT: dict[str, Any] = {
    "product_id": 501,
    "prices": [
        {"price_list": "product", "company_ref_id": 1001, "currency": "GBP", "quantity": 1,
         "price": Decimal("8.5")},
    ],
}  # fmt: skip


def order(**changes: Any) -> dict[str, Any]:
    return {**ORDER, **changes}


def item(**changes: Any) -> dict[str, Any]:
    return order(items=[{**ORDER["items"][0], **changes}])


def product(**changes: Any) -> dict[str, Any]:
    return {**PRODUCT, **changes}


def price(**changes: Any) -> dict[str, Any]:
    return product(prices=[{**PRODUCT["prices"][0], **changes}])


def _nested(depth: int) -> list[Any]:
    """A list ``depth`` levels deep: deeper than orjson writes (254), as JSON may hold it."""
    value: list[Any] = []
    for _ in range(depth):
        value = [value]
    return value


ORDER_STATUS_CODES = "0, 1, 2, 4, 8, 32, 64, 128, 256, 512, 513, 515, 516, 520, 600"
DATETIME_FORMS = "`Y-m-d H:i:s` (2020-03-06 12:00:00), `Y-m-d`, or ISO 8601 with `T` and an optional `Z` or offset (2020-03-06T14:00:00+02:00)"
"""Every accepted and refused form is in tests/unit/test_datetimes.py, run against the import too."""

BAD_ORDERS: list[tuple[Any, str]] = [
    ([1], "record: must be a JSON object, got [1]"),
    (DuplicateKeys("status"), "record: key 'status' appears twice"),
    ({"company_ref_id": 1001}, "external_ref: is required"),
    (order(external_ref="  "), "external_ref: must not be empty"),
    (order(external_ref=12), "external_ref: must be a string, got 12"),
    (order(company_ref_id=None), "company_ref_id: is required"),
    (order(company_ref_id="abc"), 'company_ref_id: must be an integer >= 1, got "abc"'),
    (order(company_ref_id=True), "company_ref_id: must be an integer >= 1, got true"),
    (order(company_ref_id=2**31), "company_ref_id: must be at most 2147483647, got 2147483648"),
    (order(company_ref_id="0" * 5000 + "2147483648"), 'company_ref_id: must be at most 2147483647, got "000000000000000000000000000000000000...'),
    (order(company_ref_id=10**5000), "company_ref_id: must be at most 2147483647, got an integer of 16610 bits"),
    (item(quantity="9" * 5000), 'items[0].quantity: must be at most 2147483647, got "999999999999999999999999999999999999...'),
    (item(quantity=Decimal("9" * 5000)), "items[0].quantity: must be at most 2147483647, got 9999999999999999999999999999999999999..."),
    (item(quantity=Decimal(5)), "items[0].quantity: must be an integer >= 1, got 5"),
    (item(quantity="-" + "9" * 5000), 'items[0].quantity: must be an integer >= 1, got "-99999999999999999999999999999999999...'),
    (item(quantity=Decimal("2.0")), "items[0].quantity: must be an integer >= 1, got 2.0"),
    (item(quantity=Decimal("1E+30")), "items[0].quantity: must be an integer >= 1, got 1E+30"),
    (order(secondary_company_ref_id=0), "secondary_company_ref_id: must be an integer >= 1, got 0"),
    (order(id=5), "id: unknown key; the store sets it"),
    (order(ref="O1"), "ref: unknown key; the store sets it"),
    (order(status_name="Dispatched"), "status_name: unknown key; the store sets it"),
    (order(company__company_name="Acme"), "company__company_name: unknown key; the store sets it"),
    (order(secondary_company=3), "secondary_company: unknown key; the store sets it"),
    (order(colour="red"), "colour: unknown key"),
    (order(status=3), f"status: 3 is not an order status code (accepted: {ORDER_STATUS_CODES})"),
    (order(status="8"), f'status: "8" is not an order status code (accepted: {ORDER_STATUS_CODES})'),
    (order(sale_datetime="2024-05-01 9:30"), f'sale_datetime: must be a datetime ({DATETIME_FORMS}), got "2024-05-01 9:30"'),
    (order(sale_datetime="0000-00-00 00:00:00"), f'sale_datetime: must be a datetime ({DATETIME_FORMS}), got "0000-00-00 00:00:00"'),
    (order(sale_datetime="0001-01-01T00:00:00+01:00"), 'sale_datetime: is before year 1 or after 9999 in UTC, got "0001-01-01T00:00:00+01:00"'),
    (order(creation_datetime="9999-12-31T23:59:59-01:00"), 'creation_datetime: is before year 1 or after 9999 in UTC, got "9999-12-31T23:59:59-01:00"'),
    (order(completion_datetime=20240501), f"completion_datetime: must be a datetime ({DATETIME_FORMS}), got 20240501"),
    (order(required_dispatch_date="2024-02-30"), "required_dispatch_date: must be a date 'Y-m-d', got \"2024-02-30\""),
    (order(required_dispatch_date="2024-02-03 10:00:00"), "required_dispatch_date: must be a date 'Y-m-d', got \"2024-02-03 10:00:00\""),
    (order(shipping_price=Decimal("1.23456")), "shipping_price: has more than 4 decimal places: 1.23456"),
    (order(shipping_price=0.1 + 0.2), "shipping_price: has more than 4 decimal places: 0.30000000000000004"),
    (order(shipping_price=-1), "shipping_price: must not be negative, got -1"),
    (order(shipping_price="abc"), 'shipping_price: must be a number, got "abc"'),
    (order(shipping_price="NaN"), 'shipping_price: must be a number, got "NaN"'),
    (order(shipping_price=float("inf")), "shipping_price: must be a number, got inf"),
    (order(shipping_price=True), "shipping_price: must be a number, got true"),
    (order(shipping_price=Decimal("1E+10")), "shipping_price: must be below 10000000000, got 1E+10"),
    (order(shipping_price=Decimal("1E+1000000")), "shipping_price: must be below 10000000000, got 1E+1000000"),
    (order(shipping_price=Decimal("1E-1000000")), "shipping_price: has more than 4 decimal places: 1E-1000000"),
    (order(shipping_price=Decimal("9" * 5000 + ".5")), "shipping_price: must be below 10000000000, got 9999999999999999999999999999999999999..."),
    (order(shipping_tax_rate=20), "shipping_tax_rate: must be at most 1 (a fraction: 0.2 for 20%), got 20"),
    (order(shipping_tax_rate=Decimal("0.1234567")), "shipping_tax_rate: has more than 6 decimal places: 0.1234567"),
    (order(is_free_of_charge="false"), 'is_free_of_charge: must be true or false, got "false"'),
    (order(is_free_of_charge=0), "is_free_of_charge: must be true or false, got 0"),
    (order(customer_name=12), "customer_name: must be a string, got 12"),
    (order(customer_name="a\x00b"), "customer_name: must not contain the NUL character (\\u0000)"),
    (order(customer_name="a\ud800b"), "customer_name: contains \\ud800, half of a UTF-16 surrogate pair, which is not a character"),
    (order(customer_name=_nested(300)), "customer_name: must be a string, got a list"),
    (order(customer_name=[Decimal("1.5"), DuplicateKeys("k")]), 'customer_name: must be a string, got [1.5,{"k":"(twice)"}]'),
    (order(external_ref="R" * 256), "external_ref: must be at most 255 characters, got 256"),
    (order(external_ref="WEB\n1"), 'external_ref: must not contain control or other non-printing characters (the export filter refuses them), got "WEB\\n1"'),
    (order(external_ref="WEB\u200b1"), 'external_ref: must not contain control or other non-printing characters (the export filter refuses them), got "WEB\u200b1"'),
    (order(external_ref="\udc00"), "external_ref: contains \\udc00, half of a UTF-16 surrogate pair, which is not a character"),
    (order(**{"\ud800" + "k" * 100: 1}), "\\ud800kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk...: unknown key"),
    (order(items={}), "items: must be a list of item objects"),
    (order(items=["x"]), 'items[0]: must be a JSON object, got "x"'),
    (order(items=[{"quantity": 1}]), "items[0].sku: is required"),
    (item(quantity=0), "items[0].quantity: must be an integer >= 1, got 0"),
    (item(quantity=1.5), "items[0].quantity: must be an integer >= 1, got 1.5"),
    (item(quantity=None), "items[0].quantity: is required"),
    (item(status=4), "items[0].status: 4 is not an item status code (accepted: 0, 1, 2, 3, 7)"),
    (item(product_id="x"), 'items[0].product_id: must be an integer >= 1, got "x"'),
    (item(description="\x00"), "items[0].description: must not contain the NUL character (\\u0000)"),
    (item(external_ref="L" * 256), "items[0].external_ref: must be at most 255 characters, got 256"),
    (item(unit_sale_price=Decimal("9.99999")), "items[0].unit_sale_price: has more than 4 decimal places: 9.99999"),
    (item(sale_vat_rate=Decimal("1.5")), "items[0].sale_vat_rate: must be at most 1 (a fraction: 0.2 for 20%), got 1.5"),
    (item(id=3), "items[0].id: unknown key; the store sets it"),
    (item(status_name="Ready"), "items[0].status_name: unknown key; the store sets it"),
    (item(product_price=4), "items[0].product_price: unknown key; the store sets it"),
    (item(base_product_price__price=4), "items[0].base_product_price__price: unknown key; the store sets it"),
    (item(items__sku="x"), "items[0].items__sku: unknown key"),
    (
        order(items=[{"sku": "A", "quantity": 1, "external_ref": "L1"},
                     {"sku": "B", "quantity": 1, "external_ref": "L1"}]),
        "items[1].external_ref: 'L1' appears twice in this order",
    ),
    (order(attributes="x"), 'attributes: must be a list of {"name": ..., "value": ...}'),
    (order(attributes=[{"value": "x"}]), "attributes[0].name: is required"),
    (order(attributes=[{"name": "", "value": "x"}]), "attributes[0].name: must not be empty"),
    (
        order(attributes=[{"name": "a", "value": "1"}, {"name": "a", "value": "2"}]),
        "attributes[1].name: 'a' appears twice",
    ),
    (order(attributes=[{"name": "a", "value": True}]), "attributes[0].value: must be a string, a number or null, got true"),
    (order(attributes=[{"name": "a", "value": {"b": 1}}]), 'attributes[0].value: must be a string, a number or null, got {"b":1}'),
    (order(attributes=[{"name": "a", "colour": "x"}]), "attributes[0].colour: unknown key"),
    (order(attributes=[{"name": "n" * 256, "value": "x"}]), "attributes[0].name: must be at most 255 characters, got 256"),
    (order(attributes=[{"name": "a", "value": "\udfff"}]), "attributes[0].value: contains \\udfff, half of a UTF-16 surrogate pair, which is not a character"),
    (item(attributes=[{"name": "a"}, {"name": "a"}]), "items[0].attributes[1].name: 'a' appears twice"),
]  # fmt: skip


@pytest.mark.parametrize(("raw", "reason"), BAD_ORDERS)
def test_a_bad_order_is_rejected_with_a_reason_naming_the_field(raw: Any, reason: str) -> None:
    with pytest.raises(ImportRejected) as caught:
        parse_order(raw)
    assert caught.value.description == reason


BAD_PRODUCTS: list[tuple[Any, str]] = [
    ({"prices": []}, "product_id: is required"),
    (product(product_id=0), "product_id: must be an integer >= 1, got 0"),
    (product(id=501), "id: unknown key; the store sets it"),
    (product(name="T-Shirt"), "name: unknown key"),
    (product(owner_company_ref_id="acme"), 'owner_company_ref_id: must be an integer >= 1, got "acme"'),
    (product(prices={}), "prices: must be a list of price objects"),
    (price(price_list="retail"), 'prices[0].price_list: must be one of product, base, got "retail"'),
    (price(company_ref_id=None), "prices[0].company_ref_id: is required"),
    (price(currency="gbp"), 'prices[0].currency: must be a 3-letter upper-case currency code like GBP, got "gbp"'),
    (price(quantity=0), "prices[0].quantity: must be an integer >= 1, got 0"),
    (price(price=None), "prices[0].price: is required"),
    (price(rrp=-2), "prices[0].rrp: must not be negative, got -2"),
    (price(discount=3), "prices[0].discount: unknown key"),
    (
        product(prices=[PRODUCT["prices"][0], {**PRODUCT["prices"][0], "price": 7}]),
        "prices[1]: another price has the same price_list, company_ref_id, quantity",
    ),
    (product(ecommerce="x"), 'ecommerce: must be a JSON object, got "x"'),
    (product(ecommerce={"colour": "red"}), "ecommerce.colour: unknown key"),
    (product(ecommerce={"barcode": 5012345678900}), "ecommerce.barcode: must be a string, got 5012345678900"),
    (product(ecommerce={"weight": "heavy"}), 'ecommerce.weight: must be a number, got "heavy"'),
    (product(ecommerce={"weight": Decimal("0.12345")}), "ecommerce.weight: has more than 4 decimal places: 0.12345"),
    (product(ecommerce={"notes": "a\x00"}), "ecommerce.notes: must not contain the NUL character (\\u0000)"),
    (price(quantity="9" * 5000), 'prices[0].quantity: must be at most 2147483647, got "999999999999999999999999999999999999...'),
]  # fmt: skip


@pytest.mark.parametrize(("raw", "reason"), BAD_PRODUCTS)
def test_a_bad_product_is_rejected_with_a_reason_naming_the_field(raw: Any, reason: str) -> None:
    with pytest.raises(ImportRejected) as caught:
        parse_product(raw)
    assert caught.value.description == reason


@pytest.mark.parametrize(
    ("written", "stored"),
    [
        (Decimal("9.99"), Decimal("9.99")),
        (9.99, Decimal("9.99")),
        ("12.50", Decimal("12.50")),
        (3, Decimal(3)),
        (Decimal("9999999999.9999"), Decimal("9999999999.9999")),
        (Decimal("1.23450"), Decimal("1.23450")),
        (Decimal("1." + "0" * 5000), Decimal("1.0000")),
        (Decimal("0E+999999"), Decimal("0.0000")),
    ],
)
def test_money_is_kept_exact(written: Any, stored: Decimal) -> None:
    value = parse_order(order(shipping_price=written)).columns["shipping_price"]
    assert (value, str(value)) == (stored, str(stored))


def test_absent_fields_take_their_documented_defaults() -> None:
    parsed = parse_order(ORDER)
    assert parsed.columns["status"] == 0
    assert parsed.columns["is_free_of_charge"] is False
    assert parsed.columns["customer_name"] is None
    assert parsed.creation_datetime is None
    assert parsed.secondary_company_ref_id is None
    assert parsed.attributes == {}
    assert parsed.items[0].columns["status"] == 0
    assert parsed.items[0].columns["external_ref"] is None
    assert parsed.items[0].attributes == {}


def test_null_counts_as_absent() -> None:
    assert parse_order(order(status=None, customer_name=None)) == parse_order(ORDER)


def test_attribute_values_keep_the_text_of_numbers() -> None:
    parsed = parse_order(
        order(
            attributes=[
                {"name": "copies", "value": 5},
                {"name": "weight", "value": Decimal("2.50")},
                {"name": "note", "value": None},
                {"name": "channel", "value": "web"},
            ]
        )
    )
    assert parsed.attributes == {"copies": "5", "weight": "2.50", "note": None, "channel": "web"}


def test_the_spec_example_order_parses_into_column_values() -> None:
    parsed = parse_order(
        {
            "external_ref": "WEB-1001", "company_ref_id": 1001, "secondary_company_ref_id": 2001,
            "status": 8, "sale_datetime": "2024-05-01 09:30:00",
            "completion_datetime": "2024-05-03 16:00:00", "customer_name": "Ada",
            "customer_email": "ada@example.com", "shipping_address_1": "1 High St",
            "shipping_postcode": "N1 1AA", "shipping_country_code": "GB",
            "shipping_price": Decimal("3.99"), "shipping_price_inc_tax": Decimal("4.79"),
            "shipping_tax_rate": Decimal("0.2"), "is_free_of_charge": False,
            "required_dispatch_date": "2024-05-02",
            "attributes": [{"name": "channel", "value": "web"}],
            "items": [{"external_ref": "WEB-1001-1", "sku": "TS-BLK-M", "product_id": 501,
                       "description": "Tee", "size": "M", "colour": "Black", "quantity": 2,
                       "status": 3, "unit_sale_price": Decimal("12.5"),
                       "attributes": [{"name": "print", "value": "front"}]}],
        }
    )  # fmt: skip
    assert (parsed.company_ref_id, parsed.external_ref, parsed.secondary_company_ref_id) == (
        1001,
        "WEB-1001",
        2001,
    )
    assert parsed.columns["completion_datetime"] == datetime(2024, 5, 3, 16, 0)
    assert parsed.columns["required_dispatch_date"] == date(2024, 5, 2)
    assert parsed.columns["shipping_tax_rate"] == Decimal("0.2")
    assert parsed.attributes == {"channel": "web"}
    assert parsed.items[0].columns["product_id"] == 501
    assert parsed.items[0].columns["unit_sale_price"] == Decimal("12.5")
    assert parsed.items[0].attributes == {"print": "front"}


def test_the_spec_example_product_parses() -> None:
    parsed = parse_product(
        {
            "product_id": 501, "owner_company_ref_id": 1001,
            "prices": [
                {"price_list": "product", "company_ref_id": 1001, "currency": "GBP",
                 "quantity": 1, "rrp": Decimal("19.99"), "price": Decimal("8.5")},
                {"price_list": "base", "company_ref_id": 1001, "currency": "GBP",
                 "quantity": 1, "rrp": Decimal("19.99"), "price": Decimal("6.0")},
            ],
            "ecommerce": {"sales_description": "Tee", "weight": Decimal("0.25"),
                          "hs_code": "6109100010", "barcode": "5012345678900"},
        }
    )  # fmt: skip
    assert parsed.owner_company_ref_id == 1001
    assert [(p.price_list, p.price) for p in parsed.prices] == [
        ("product", Decimal("8.5")),
        ("base", Decimal("6.0")),
    ]
    assert parsed.ecommerce is not None
    assert parsed.ecommerce["weight"] == Decimal("0.25")
    assert parsed.ecommerce["dimensions"] is None


def test_the_hash_ignores_key_order_attribute_order_and_trailing_zeros() -> None:
    first = order(
        shipping_price=Decimal("9.99"),
        attributes=[{"name": "a", "value": "1"}, {"name": "b", "value": "2"}],
    )
    second = {
        "attributes": [{"value": "2", "name": "b"}, {"name": "a", "value": "1"}],
        "shipping_price": Decimal("9.990"),
        **ORDER,
    }
    assert parse_order(first).source_hash == parse_order(second).source_hash


def test_the_hash_changes_with_any_stored_value() -> None:
    hashes = {
        parse_order(ORDER).source_hash,
        parse_order(item(quantity=2)).source_hash,
        parse_order(order(customer_name="Ada")).source_hash,
        parse_order(order(items=[])).source_hash,
        parse_order(order(company_ref_id=1002)).source_hash,
    }
    assert len(hashes) == 5


def test_importable_order_fields_are_the_orders_columns_the_store_does_not_derive() -> None:
    store_columns = {"id", "ref", "company_id", "secondary_company_id", "source_hash"}
    # Kept by the store as orders change, or given through the orders API (§6), never imported.
    store_columns |= {"updated_datetime", "held_from", "status_callback_url"}
    assert set(ORDER_FIELDS) == (set(orders.c.keys()) - store_columns) | {
        "company_ref_id",
        "secondary_company_ref_id",
        "items",
        "attributes",
    }
    derived = {"id", "ref", "status_name", "updated_datetime"}  # the store keeps the last
    exported = {
        name
        for name, _option in FIELDS
        if "__" not in name and not name.startswith("secondary_company") and name not in derived
    }
    assert set(ORDER_FIELDS) - {"items", "attributes", "secondary_company_ref_id"} == exported


def test_importable_item_fields_are_the_exported_item_fields_not_derived() -> None:
    derived = {"id", "ref", "order_id", "status_name"}
    exported = {
        name.removeprefix("items__")
        for name, option in FIELDS
        if name.startswith("items__") and option == "always"
    } - derived
    assert set(ITEM_FIELDS) == exported | {"product_id", "attributes"}
    assert set(ITEM_FIELDS) - {"attributes"} == set(order_items.c.keys()) - {
        "id",
        "ref",
        "order_id",
        "position",
        "shipped_quantity",  # moved by shipments and cancellations (§6), never imported
        "cancelled_quantity",
    }


def test_an_integer_written_with_thousands_of_leading_zeros_is_that_integer() -> None:
    parsed = parse_order(item(quantity="0" * 5000 + "7"))
    assert parsed.items[0].columns["quantity"] == 7


def test_keys_of_255_printable_characters_are_accepted() -> None:
    ref = "Ŕ" * 255
    parsed = parse_order(order(external_ref=ref, attributes=[{"name": ref, "value": "\t\n"}]))
    assert (parsed.external_ref, parsed.attributes) == (ref, {ref: "\t\n"})


@pytest.mark.parametrize(
    ("raw", "key"),
    [
        ({"external_ref": "WEB-1"}, "WEB-1"),
        ({"external_ref": "R" * 256}, None),
        ({"external_ref": "WEB-\ud800"}, None),
        ({"external_ref": "WEB-\x00"}, None),
        ({"external_ref": 2**31 - 1}, 2**31 - 1),
        ({"external_ref": 2**64}, None),
        ({"external_ref": True}, None),
        ([1], None),
    ],
)
def test_an_error_report_names_a_record_only_by_a_key_the_store_could_hold(
    raw: Any, key: Any
) -> None:
    assert known_key(raw, "external_ref") == key
