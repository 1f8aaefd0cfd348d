"""The order's free-text fields, named once for the schema, the import and the export."""

from __future__ import annotations

from typing import Final

ORDER_TEXT_FIELDS: Final = (
    *(f"shipping_address_{n}" for n in range(1, 6)),
    "shipping_postcode",
    "shipping_country_code",
    *(f"billing_address_{n}" for n in range(1, 6)),
    "billing_postcode",
    "billing_country",
    "customer_name",
    "shipping_method",
    "shipping_carrier",
    "shipping_tracking",
    "customer_email",
    "payment_type",
    "payment_trans_id",
    "coupon_code",
)
