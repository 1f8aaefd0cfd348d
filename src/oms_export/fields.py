"""The field registry: every export field once, with all that the rest of the system needs of it.

Each ``Field`` says its name (the row key), the option that brings it in, its value type, where
its value comes from, which filter operators it takes, and what it means. The readers take what
they need and build their own structures from it once, at import or per export, never per row:

- ``export/query.py`` selects each field from its ``source`` (or its named expression when the
  value is computed), formatted as its ``type`` is sent; filters compare against the same column;
- ``export/rows.py`` and CSV write ``flag`` fields as true/false; ``export/shapes.py`` nests the
  ``relation`` keys; ``export/params.py`` takes the filterable fields, their operators and value
  kinds; ``pull/columns.py`` the JSON type of each key; ``docs/api.md`` its field table.

It imports nothing, so the client side (``pull``) reads it without loading the server.

Adding a field is one entry here, in row order. A stored column needs nothing else: its SQL
follows from ``source`` and ``type``. A computed value (``source=None``) also needs its
expression in ``export/query.py``'s ``_computed``; a column of a table not joined yet, its alias
in ``TABLES`` and its join in ``export/query.py``. Then regenerate the docs' table:
``python -m oms_export.fields docs/api.md``. ``shared/spec/fields.tsv`` lists the article's
names, order and options, which the ``includeFulfilment`` fields of API.md §6.4 follow;
``tests/unit/test_fields.py`` keeps the two in step.
"""

# ruff: noqa: E501  # the registry is a table, one field a line, read down its columns

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Literal

ValueType = Literal[
    "integer", "money", "rate", "decimal", "text", "flag", "datetime", "date", "relation"
]
"""What a value is. ``money`` has 4 decimals, ``rate`` is a fraction (0.2 for 20 %) with 6,
``decimal`` is another exact number (a weight); all three are sent as JSON numbers. ``relation``
is the internal id of a related record, whose other fields are ``<name>__*`` (``shape=orders``
nests them under the name, the id as ``id``)."""

JsonType = Literal["integer", "number", "boolean", "datetime", "date", "text"]
"""How a value arrives: a JSON type, or a string of a known form (``datetime``, ``date``)."""

JSON_TYPES: Final[dict[ValueType, JsonType]] = {
    "integer": "integer",
    "money": "number",
    "rate": "number",
    "decimal": "number",
    "text": "text",
    "flag": "boolean",
    "datetime": "datetime",
    "date": "date",
    "relation": "integer",
}

FilterOp = Literal["eq", "in", "gt", "gte", "lt", "lte"]

ALWAYS: Final = "always"

OPTIONS: Final[dict[str, str]] = {
    "includeProductOwner": "Adds the company that owns each item's product.",
    "includeProductPrice": (
        "Adds each item's product price for the order's company and its base price, at the "
        "largest quantity break not above the item quantity."
    ),
    "includeProductEcommerceInfo": "Adds each item's product e-commerce data.",
    "includeAttributes": (
        "Adds attributes__NAME for each order attribute name, then items__attributes__NAME for "
        "each item attribute name, taken from the whole filtered result."
    ),
    "includeFulfilment": (
        "Adds when the order last changed and each item's shipped and cancelled quantities and "
        "its latest shipment."
    ),
}
"""Each ``options[NAME]`` the export takes: the article's four in the order their fields come in
a row, then ``includeFulfilment`` (API.md §6.4), listed last as it came last, though its fields
come before the attribute columns."""

TABLES: Final[dict[str, str]] = {
    "o": "orders",
    "c": "companies",  # the order's company
    "sc": "companies",  # the order's secondary company
    "i": "order_items",
    "owner": "companies",  # the company owning the item's product
    "pp": "product_prices",  # the item's product price (price list "product")
    "bp": "product_prices",  # the item's base price (price list "base")
    "pe": "product_ecommerce",
    "ls": "shipments",  # the item's latest shipment (greatest dispatch time, then id)
}
"""The joined tables a ``source`` names, by the alias the export's SQL gives each (a table
joined in two roles has two aliases)."""


@dataclass(frozen=True, slots=True)
class Field:
    """One export field. See the module docstring for who reads what."""

    name: str
    option: str
    """``always``, or the option (a key of ``OPTIONS``) that brings the field in."""
    type: ValueType
    source: str | None
    """``alias.column`` (aliases in ``TABLES``), or None: computed by ``export/query.py``."""
    description: str
    filter_ops: tuple[FilterOp, ...] = ()
    """The operators ``filter[name:op]`` takes; none: the field cannot be filtered on."""

    @property
    def json_type(self) -> JsonType:
        return JSON_TYPES[self.type]


_EQ_IN: Final[tuple[FilterOp, ...]] = ("eq", "in")
_RANGE: Final[tuple[FilterOp, ...]] = ("gt", "gte", "lt", "lte")
_OWNER: Final = "includeProductOwner"
_PRICE: Final = "includeProductPrice"
_ECOM: Final = "includeProductEcommerceInfo"
_FULFIL: Final = "includeFulfilment"

FIELDS: Final[tuple[Field, ...]] = (
    Field("id", ALWAYS, "integer", "o.id", "Order id, assigned by the store in creation order.", ("eq", "in", "gt", "lt")),
    Field("ref", ALWAYS, "text", "o.ref", "Order reference, a short unique string assigned by the store.", _EQ_IN),
    Field("external_ref", ALWAYS, "text", "o.external_ref", "The order's reference in the selling system.", _EQ_IN),
    Field("company_ref_id", ALWAYS, "integer", "c.ref_id", "Ref id of the company that owns the order.", _EQ_IN),
    Field("secondary_company_ref_id", ALWAYS, "integer", "sc.ref_id", "Ref id of the secondary (e.g. dropship or fulfilment) company, or null."),
    Field("shipping_address_1", ALWAYS, "text", "o.shipping_address_1", "Shipping address, line 1."),
    Field("shipping_address_2", ALWAYS, "text", "o.shipping_address_2", "Shipping address, line 2."),
    Field("shipping_address_3", ALWAYS, "text", "o.shipping_address_3", "Shipping address, line 3."),
    Field("shipping_address_4", ALWAYS, "text", "o.shipping_address_4", "Shipping address, line 4."),
    Field("shipping_address_5", ALWAYS, "text", "o.shipping_address_5", "Shipping address, line 5."),
    Field("shipping_postcode", ALWAYS, "text", "o.shipping_postcode", "Shipping postcode."),
    Field("shipping_country_code", ALWAYS, "text", "o.shipping_country_code", "Shipping country code."),
    Field("billing_address_1", ALWAYS, "text", "o.billing_address_1", "Billing address, line 1."),
    Field("billing_address_2", ALWAYS, "text", "o.billing_address_2", "Billing address, line 2."),
    Field("billing_address_3", ALWAYS, "text", "o.billing_address_3", "Billing address, line 3."),
    Field("billing_address_4", ALWAYS, "text", "o.billing_address_4", "Billing address, line 4."),
    Field("billing_address_5", ALWAYS, "text", "o.billing_address_5", "Billing address, line 5."),
    Field("billing_postcode", ALWAYS, "text", "o.billing_postcode", "Billing postcode."),
    Field("billing_country", ALWAYS, "text", "o.billing_country", "Billing country."),
    Field("customer_name", ALWAYS, "text", "o.customer_name", "The customer's name."),
    Field("sale_datetime", ALWAYS, "datetime", "o.sale_datetime", "When the order was sold (UTC).", _RANGE),
    Field("creation_datetime", ALWAYS, "datetime", "o.creation_datetime", "When the order was created in the store (UTC).", _RANGE),
    Field("completion_datetime", ALWAYS, "datetime", "o.completion_datetime", "When the order was completed (UTC), or null.", _RANGE),
    Field("required_dispatch_date", ALWAYS, "date", "o.required_dispatch_date", "The date by which the order must be dispatched."),
    Field("shipping_method", ALWAYS, "text", "o.shipping_method", "Shipping method."),
    Field("shipping_carrier", ALWAYS, "text", "o.shipping_carrier", "Shipping carrier."),
    Field("shipping_tracking", ALWAYS, "text", "o.shipping_tracking", "Shipment tracking number."),
    Field("shipping_price", ALWAYS, "money", "o.shipping_price", "Shipping price, excluding tax."),
    Field("shipping_price_inc_tax", ALWAYS, "money", "o.shipping_price_inc_tax", "Shipping price, including tax."),
    Field("shipping_tax_rate", ALWAYS, "rate", "o.shipping_tax_rate", "Tax rate on shipping, as a fraction (0.2 for 20 %)."),
    Field("customer_email", ALWAYS, "text", "o.customer_email", "The customer's email address."),
    Field("status", ALWAYS, "integer", "o.status", "Order status code (see the status table).", _EQ_IN),
    Field("is_free_of_charge", ALWAYS, "flag", "o.is_free_of_charge", "Whether the order is free of charge."),
    Field("payment_type", ALWAYS, "text", "o.payment_type", "How the order was paid."),
    Field("payment_trans_id", ALWAYS, "text", "o.payment_trans_id", "The payment's transaction id."),
    Field("coupon_code", ALWAYS, "text", "o.coupon_code", "Coupon code used on the order."),
    Field("status_name", ALWAYS, "text", None, "Name of `status`."),
    Field("company__customer_ref_id", ALWAYS, "integer", "c.customer_ref_id", "The order's company's customer ref id."),
    Field("company__company_name", ALWAYS, "text", "c.name", "The order's company's name."),
    Field("company__external_ref", ALWAYS, "text", "c.external_ref", "The order's company's external reference."),
    Field("secondary_company", ALWAYS, "relation", "sc.id", "Internal id of the secondary company record, or null."),
    Field("secondary_company__customer_ref_id", ALWAYS, "integer", "sc.customer_ref_id", "The secondary company's customer ref id."),
    Field("secondary_company__company_name", ALWAYS, "text", "sc.name", "The secondary company's name."),
    Field("secondary_company__external_ref", ALWAYS, "text", "sc.external_ref", "The secondary company's external reference."),
    Field("items__id", ALWAYS, "integer", "i.id", "Item id; null for an order without items."),
    Field("items__ref", ALWAYS, "text", "i.ref", "Item reference, assigned by the store."),
    Field("items__external_ref", ALWAYS, "text", "i.external_ref", "The item's reference in the selling system."),
    Field("items__order_id", ALWAYS, "integer", "i.order_id", "The item's order id."),
    Field("items__status", ALWAYS, "integer", "i.status", "Item status code (see the status table)."),
    Field("items__sku", ALWAYS, "text", "i.sku", "The item's SKU."),
    Field("items__mapped_sku", ALWAYS, "text", "i.mapped_sku", "The SKU the item is mapped to."),
    Field("items__description", ALWAYS, "text", "i.description", "The item's description."),
    Field("items__size", ALWAYS, "text", "i.size", "The item's size."),
    Field("items__colour", ALWAYS, "text", "i.colour", "The item's colour."),
    Field("items__quantity", ALWAYS, "integer", "i.quantity", "Quantity ordered."),
    Field("items__unit_cost_price", ALWAYS, "money", "i.unit_cost_price", "Unit cost price."),
    Field("items__unit_sale_price", ALWAYS, "money", "i.unit_sale_price", "Unit sale price, excluding tax."),
    Field("items__unit_sale_price_inc_tax", ALWAYS, "money", "i.unit_sale_price_inc_tax", "Unit sale price, including tax."),
    Field("items__shipping_price", ALWAYS, "money", "i.shipping_price", "The item's shipping price, excluding tax."),
    Field("items__shipping_price_inc_tax", ALWAYS, "money", "i.shipping_price_inc_tax", "The item's shipping price, including tax."),
    Field("items__textual_product_id", ALWAYS, "text", "i.textual_product_id", "The product id as text, as the selling system gave it."),
    Field("items__sale_vat_rate", ALWAYS, "rate", "i.sale_vat_rate", "VAT rate of the sale, as a fraction (0.2 for 20 %)."),
    Field("items__status_name", ALWAYS, "text", None, "Name of `items__status`."),
    Field("items__product_owner__customer_ref_id", _OWNER, "integer", "owner.customer_ref_id", "The product owner's customer ref id."),
    Field("items__product_owner__company_name", _OWNER, "text", "owner.name", "The product owner's name."),
    Field("items__product_owner__external_ref", _OWNER, "text", "owner.external_ref", "The product owner's external reference."),
    Field("items__product_owner", _OWNER, "relation", "owner.id", "Internal id of the company owning the item's product, or null."),
    Field("items__product_price__product_id", _PRICE, "integer", "pp.product_id", "Product id of the price row used."),
    Field("items__product_price__currency", _PRICE, "text", "pp.currency", "Currency of the product price."),
    Field("items__product_price__quantity", _PRICE, "integer", "pp.quantity", "Quantity break of the product price."),
    Field("items__product_price__rrp", _PRICE, "money", "pp.rrp", "Recommended retail price at that break."),
    Field("items__product_price__price", _PRICE, "money", "pp.price", "Product price at that break."),
    Field("items__product_price__company_ref_id", _PRICE, "integer", None, "Ref id of the company the price is for (the order's company)."),
    Field("items__base_product_price__product_id", _PRICE, "integer", "bp.product_id", "Product id of the base price row used."),
    Field("items__base_product_price__currency", _PRICE, "text", "bp.currency", "Currency of the base price."),
    Field("items__base_product_price__quantity", _PRICE, "integer", "bp.quantity", "Quantity break of the base price."),
    Field("items__base_product_price__rrp", _PRICE, "money", "bp.rrp", "Recommended retail price from the base price list."),
    Field("items__base_product_price__price", _PRICE, "money", "bp.price", "Base price at that break."),
    Field("items__base_product_price__company_ref_id", _PRICE, "integer", None, "Ref id of the company the base price is for (the order's company)."),
    Field("items__product_price", _PRICE, "relation", "pp.id", "Internal id of the product price row used, or null."),
    Field("items__base_product_price", _PRICE, "relation", "bp.id", "Internal id of the base price row used, or null."),
    Field("items__product_ecommerce__product_id", _ECOM, "integer", "pe.product_id", "Product id of the e-commerce data, or null when the product has none."),
    Field("items__product_ecommerce__sales_description", _ECOM, "text", "pe.sales_description", "Short sales description."),
    Field("items__product_ecommerce__sales_description_long", _ECOM, "text", "pe.sales_description_long", "Long sales description."),
    Field("items__product_ecommerce__weight", _ECOM, "decimal", "pe.weight", "The product's weight."),
    Field("items__product_ecommerce__hs_code", _ECOM, "text", "pe.hs_code", "Harmonized System customs code."),
    Field("items__product_ecommerce__tax_code", _ECOM, "text", "pe.tax_code", "Tax code."),
    Field("items__product_ecommerce__website_category_details", _ECOM, "text", "pe.website_category_details", "Website category path."),
    Field("items__product_ecommerce__notes", _ECOM, "text", "pe.notes", "Notes."),
    Field("items__product_ecommerce__barcode", _ECOM, "text", "pe.barcode", "Barcode."),
    Field("items__product_ecommerce__dimensions", _ECOM, "text", "pe.dimensions", "Dimensions."),
    Field("updated_datetime", _FULFIL, "datetime", "o.updated_datetime", "When the order or one of its items last changed (UTC); filterable with the option off too.", _RANGE),
    Field("items__shipped_quantity", _FULFIL, "integer", "i.shipped_quantity", "Quantity shipped so far."),
    Field("items__cancelled_quantity", _FULFIL, "integer", "i.cancelled_quantity", "Quantity cancelled so far."),
    Field("items__dispatch_datetime", _FULFIL, "datetime", "ls.dispatch_datetime", "When the item's latest shipment was dispatched (UTC), or null when it has none."),
    Field("items__tracking", _FULFIL, "text", "ls.tracking", "Tracking number of the item's latest shipment."),
    Field("items__tracking_url", _FULFIL, "text", "ls.tracking_url", "Tracking URL of the item's latest shipment."),
)  # fmt: skip
"""Every field in row order: the order of a row's keys. ``shared/spec/fields.tsv`` lists the
article's fields; the ``includeFulfilment`` ones (API.md §6.4) follow them."""

BY_NAME: Final[dict[str, Field]] = {field.name: field for field in FIELDS}


def field_names(options: frozenset[str]) -> tuple[str, ...]:
    """The listed keys of a row with these options on, in order (attribute columns follow).

    >>> field_names(frozenset())[:3]
    ('id', 'ref', 'external_ref')
    """
    return tuple(f.name for f in FIELDS if f.option == ALWAYS or f.option in options)


def filterable() -> dict[str, tuple[FilterOp, ...]]:
    """Each field a filter may name, in row order, with its operators."""
    return {f.name: f.filter_ops for f in FIELDS if f.filter_ops}


_DOC_TYPES: Final[dict[JsonType, str]] = {
    "integer": "integer",
    "number": "number",
    "boolean": "boolean",
    "datetime": "datetime",
    "date": "date",
    "text": "string",
}
DOC_START: Final = "<!-- fields: generated by `python -m oms_export.fields docs/api.md` -->"
DOC_END: Final = "<!-- /fields -->"


def fields_markdown() -> str:
    """The field table of ``docs/api.md`` (between its markers); a test keeps the page in step.

    Types are as JSON carries them; datetimes are ``"YYYY-MM-DD HH:MM:SS"`` strings in UTC and
    dates ``"YYYY-MM-DD"``.
    """
    lines = [
        "| field | option | type | filter | meaning |",
        "| --- | --- | --- | --- | --- |",
    ]
    lines += [
        f"| `{f.name}` | {f.option} | {_DOC_TYPES[f.json_type]} | "
        f"{', '.join(f'`{op}`' for op in f.filter_ops)} | {f.description} |"
        for f in FIELDS
    ]
    return "\n".join(lines) + "\n"


def with_field_table(page: str) -> str:
    """``page`` with the part between ``DOC_START`` and ``DOC_END`` regenerated."""
    head, start, rest = page.partition(DOC_START + "\n")
    _, end, tail = rest.partition(DOC_END)
    if not start or not end:
        raise ValueError(f"the page lacks the markers {DOC_START} … {DOC_END}")
    return head + start + fields_markdown() + end + tail


if __name__ == "__main__":
    # `python -m oms_export.fields` prints the table; with a path, rewrites that page's table.
    if len(sys.argv) > 1:
        path = Path(sys.argv[1])
        path.write_text(with_field_table(path.read_text()))
    else:
        print(fields_markdown(), end="")
