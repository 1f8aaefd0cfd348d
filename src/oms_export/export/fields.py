"""The export row's fields, in the order the seed article lists them, and the option of each.

Kept in step with ``shared/spec/fields.tsv`` by ``tests/unit/test_fields.py``. Attribute columns
(``attributes__<name>``, ``items__attributes__<name>``) are not listed: their names come from data.
"""

from __future__ import annotations

from typing import Final

ALWAYS: Final = "always"

OPTIONS: Final = (
    "includeProductOwner",
    "includeProductPrice",
    "includeProductEcommerceInfo",
    "includeAttributes",
)

FIELDS: Final[tuple[tuple[str, str], ...]] = (
    ("id", "always"),
    ("ref", "always"),
    ("external_ref", "always"),
    ("company_ref_id", "always"),
    ("secondary_company_ref_id", "always"),
    ("shipping_address_1", "always"),
    ("shipping_address_2", "always"),
    ("shipping_address_3", "always"),
    ("shipping_address_4", "always"),
    ("shipping_address_5", "always"),
    ("shipping_postcode", "always"),
    ("shipping_country_code", "always"),
    ("billing_address_1", "always"),
    ("billing_address_2", "always"),
    ("billing_address_3", "always"),
    ("billing_address_4", "always"),
    ("billing_address_5", "always"),
    ("billing_postcode", "always"),
    ("billing_country", "always"),
    ("customer_name", "always"),
    ("sale_datetime", "always"),
    ("creation_datetime", "always"),
    ("completion_datetime", "always"),
    ("required_dispatch_date", "always"),
    ("shipping_method", "always"),
    ("shipping_carrier", "always"),
    ("shipping_tracking", "always"),
    ("shipping_price", "always"),
    ("shipping_price_inc_tax", "always"),
    ("shipping_tax_rate", "always"),
    ("customer_email", "always"),
    ("status", "always"),
    ("is_free_of_charge", "always"),
    ("payment_type", "always"),
    ("payment_trans_id", "always"),
    ("coupon_code", "always"),
    ("status_name", "always"),
    ("company__customer_ref_id", "always"),
    ("company__company_name", "always"),
    ("company__external_ref", "always"),
    ("secondary_company", "always"),
    ("secondary_company__customer_ref_id", "always"),
    ("secondary_company__company_name", "always"),
    ("secondary_company__external_ref", "always"),
    ("items__id", "always"),
    ("items__ref", "always"),
    ("items__external_ref", "always"),
    ("items__order_id", "always"),
    ("items__status", "always"),
    ("items__sku", "always"),
    ("items__mapped_sku", "always"),
    ("items__description", "always"),
    ("items__size", "always"),
    ("items__colour", "always"),
    ("items__quantity", "always"),
    ("items__unit_cost_price", "always"),
    ("items__unit_sale_price", "always"),
    ("items__unit_sale_price_inc_tax", "always"),
    ("items__shipping_price", "always"),
    ("items__shipping_price_inc_tax", "always"),
    ("items__textual_product_id", "always"),
    ("items__sale_vat_rate", "always"),
    ("items__status_name", "always"),
    ("items__product_owner__customer_ref_id", "includeProductOwner"),
    ("items__product_owner__company_name", "includeProductOwner"),
    ("items__product_owner__external_ref", "includeProductOwner"),
    ("items__product_owner", "includeProductOwner"),
    ("items__product_price__product_id", "includeProductPrice"),
    ("items__product_price__currency", "includeProductPrice"),
    ("items__product_price__quantity", "includeProductPrice"),
    ("items__product_price__rrp", "includeProductPrice"),
    ("items__product_price__price", "includeProductPrice"),
    ("items__product_price__company_ref_id", "includeProductPrice"),
    ("items__base_product_price__product_id", "includeProductPrice"),
    ("items__base_product_price__currency", "includeProductPrice"),
    ("items__base_product_price__quantity", "includeProductPrice"),
    ("items__base_product_price__rrp", "includeProductPrice"),
    ("items__base_product_price__price", "includeProductPrice"),
    ("items__base_product_price__company_ref_id", "includeProductPrice"),
    ("items__product_price", "includeProductPrice"),
    ("items__base_product_price", "includeProductPrice"),
    ("items__product_ecommerce__product_id", "includeProductEcommerceInfo"),
    ("items__product_ecommerce__sales_description", "includeProductEcommerceInfo"),
    ("items__product_ecommerce__sales_description_long", "includeProductEcommerceInfo"),
    ("items__product_ecommerce__weight", "includeProductEcommerceInfo"),
    ("items__product_ecommerce__hs_code", "includeProductEcommerceInfo"),
    ("items__product_ecommerce__tax_code", "includeProductEcommerceInfo"),
    ("items__product_ecommerce__website_category_details", "includeProductEcommerceInfo"),
    ("items__product_ecommerce__notes", "includeProductEcommerceInfo"),
    ("items__product_ecommerce__barcode", "includeProductEcommerceInfo"),
    ("items__product_ecommerce__dimensions", "includeProductEcommerceInfo"),
)



def field_names(options: frozenset[str]) -> tuple[str, ...]:
    """The listed keys of a row with these options on, in order."""
    return tuple(name for name, option in FIELDS if option == ALWAYS or option in options)
