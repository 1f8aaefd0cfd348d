"""The type of each export field, so files and tables get typed columns even for all-null data.

The service sends JSON; these are the types its values have (checked against a full export by
``tests/client/test_columns.py``). Names not listed, attribute columns included, are text.
"""

from __future__ import annotations

from typing import Final, Literal

ColumnType = Literal["integer", "number", "boolean", "datetime", "date", "text"]

_PRICES: Final = ("product_price", "base_product_price")

INTEGER: Final = frozenset(
    {
        "id",
        "company_ref_id",
        "secondary_company_ref_id",
        "status",
        "company__customer_ref_id",
        "secondary_company",
        "secondary_company__customer_ref_id",
        "items__id",
        "items__order_id",
        "items__status",
        "items__quantity",
        "items__product_owner",
        "items__product_owner__customer_ref_id",
        "items__product_ecommerce__product_id",
        *(f"items__{price}" for price in _PRICES),
        *(
            f"items__{price}__{name}"
            for price in _PRICES
            for name in ("product_id", "quantity", "company_ref_id")
        ),
    }
)

NUMBER: Final = frozenset(
    {
        "shipping_price",
        "shipping_price_inc_tax",
        "shipping_tax_rate",
        "items__unit_cost_price",
        "items__unit_sale_price",
        "items__unit_sale_price_inc_tax",
        "items__shipping_price",
        "items__shipping_price_inc_tax",
        "items__sale_vat_rate",
        "items__product_ecommerce__weight",
        *(f"items__{price}__{name}" for price in _PRICES for name in ("rrp", "price")),
    }
)

BOOLEAN: Final = frozenset({"is_free_of_charge"})
DATETIME: Final = frozenset({"sale_datetime", "creation_datetime", "completion_datetime"})
DATE: Final = frozenset({"required_dispatch_date"})


def column_type(name: str) -> ColumnType:
    if name in INTEGER:
        return "integer"
    if name in NUMBER:
        return "number"
    if name in BOOLEAN:
        return "boolean"
    if name in DATETIME:
        return "datetime"
    if name in DATE:
        return "date"
    return "text"
