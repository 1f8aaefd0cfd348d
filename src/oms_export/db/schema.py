"""The store's tables, as SQLAlchemy Core.

Money and rates are ``NUMERIC`` so they come back exactly as stored; datetimes are naive UTC.
Internal ids (``id`` columns) are what the export calls ``id``; ``ref_id`` of a company is the
number users know it by (the export's ``company_ref_id``).
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)

from oms_export.order_text import ORDER_TEXT_FIELDS

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


def Money() -> Numeric[float]:
    return Numeric(14, 4, asdecimal=False)


def Rate() -> Numeric[float]:
    return Numeric(8, 6, asdecimal=False)


SUBSCRIPTION_LEVELS = ("free", "oms_lite", "order_manager", "enterprise")
"""Lowest first; ``order_manager`` and above may export."""

EXPORTING_LEVELS = ("order_manager", "enterprise")

companies = Table(
    "companies",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("ref_id", Integer, nullable=False, unique=True),
    Column("name", Text, nullable=False),
    Column("external_ref", Text),
    Column("customer_ref_id", Integer),
    Column("subscription", String(32), nullable=False),
    Column("push_url", Text),  # new orders this company fulfils are pushed here (API.md §7)
    Column("callback_secret", String(128)),  # signs what is sent to this company (§7)
)

oauth_clients = Table(
    "oauth_clients",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("client_id", String(64), nullable=False, unique=True),
    Column("name", Text, nullable=False),
    Column("secret_hash", String(128), nullable=False),
    Column("scopes", String(1024), nullable=False),
    Column("revoked", Boolean, nullable=False, default=False),
    Column("created_at", DateTime, nullable=False),
)

client_companies = Table(
    "client_companies",
    metadata,
    Column("client_pk", Integer, ForeignKey("oauth_clients.id"), primary_key=True),
    Column("company_id", Integer, ForeignKey("companies.id"), primary_key=True),
)

access_tokens = Table(
    "access_tokens",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("client_pk", Integer, ForeignKey("oauth_clients.id"), nullable=False, index=True),
    Column("scopes", String(1024), nullable=False),
    Column("expires_at", DateTime, nullable=False, index=True),
)

server_keys = Table(
    "server_keys",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("value", String(128), nullable=False),
)

products = Table(
    "products",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("owner_company_id", Integer, ForeignKey("companies.id")),
    Column("source_hash", String(64)),
)

product_prices = Table(
    "product_prices",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("product_id", Integer, ForeignKey("products.id"), nullable=False),
    Column("price_list", String(16), nullable=False),
    Column("company_id", Integer, ForeignKey("companies.id"), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("quantity", Integer, nullable=False),
    Column("rrp", Money()),
    Column("price", Money()),
    UniqueConstraint("product_id", "price_list", "company_id", "quantity"),
    sqlite_autoincrement=True,  # ids are never reused, even after a delete
)

product_ecommerce = Table(
    "product_ecommerce",
    metadata,
    Column("product_id", Integer, ForeignKey("products.id"), primary_key=True),
    Column("sales_description", Text),
    Column("sales_description_long", Text),
    Column("weight", Numeric(12, 4, asdecimal=False)),
    Column("hs_code", Text),
    Column("tax_code", Text),
    Column("website_category_details", Text),
    Column("notes", Text),
    Column("barcode", Text),
    Column("dimensions", Text),
)

ORDER_TEXT_COLUMNS = ORDER_TEXT_FIELDS

orders = Table(
    "orders",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("ref", String(32), unique=True),
    Column("external_ref", Text, nullable=False),
    Column("company_id", Integer, ForeignKey("companies.id"), nullable=False),
    Column("secondary_company_id", Integer, ForeignKey("companies.id")),
    *(Column(name, Text) for name in ORDER_TEXT_COLUMNS),
    Column("sale_datetime", DateTime),
    Column("creation_datetime", DateTime),
    Column("completion_datetime", DateTime),
    Column("required_dispatch_date", Date),
    Column("shipping_price", Money()),
    Column("shipping_price_inc_tax", Money()),
    Column("shipping_tax_rate", Rate()),
    Column("status", Integer, nullable=False),
    Column("is_free_of_charge", Boolean, nullable=False, default=False),
    Column("source_hash", String(64)),
    # Set by every writer, in the transaction of the change (API.md §6.3); no default on purpose.
    Column("updated_datetime", DateTime, nullable=False),
    Column("held_from", Integer),  # the status a hold (256, 32) was entered from
    Column("status_callback_url", Text),
    UniqueConstraint("company_id", "external_ref"),
    Index("ix_orders_company_id_id", "company_id", "id"),
    Index("ix_orders_secondary_company_id_id", "secondary_company_id", "id"),
    Index("ix_orders_status_id", "status", "id"),
    Index("ix_orders_completion_datetime", "completion_datetime"),
    Index("ix_orders_creation_datetime", "creation_datetime"),
    Index("ix_orders_sale_datetime", "sale_datetime"),
    Index("ix_orders_external_ref", "external_ref"),
    Index("ix_orders_updated_datetime_id", "updated_datetime", "id"),  # changes-since export
    sqlite_autoincrement=True,  # ids are never reused, even after a delete
)

order_items = Table(
    "order_items",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("ref", String(32), unique=True),
    Column("order_id", Integer, ForeignKey("orders.id"), nullable=False),
    Column("position", Integer, nullable=False),
    Column("external_ref", Text),
    Column("status", Integer, nullable=False, default=0),
    Column("sku", Text, nullable=False),
    Column("mapped_sku", Text),
    Column("description", Text),
    Column("size", Text),
    Column("colour", Text),
    Column("quantity", Integer, nullable=False),
    Column("unit_cost_price", Money()),
    Column("unit_sale_price", Money()),
    Column("unit_sale_price_inc_tax", Money()),
    Column("shipping_price", Money()),
    Column("shipping_price_inc_tax", Money()),
    Column("textual_product_id", Text),
    Column("sale_vat_rate", Rate()),
    Column("product_id", Integer, ForeignKey("products.id")),
    Column("shipped_quantity", Integer, nullable=False, server_default=text("0")),
    Column("cancelled_quantity", Integer, nullable=False, server_default=text("0")),
    CheckConstraint(
        "shipped_quantity >= 0 AND cancelled_quantity >= 0 "
        "AND shipped_quantity + cancelled_quantity <= quantity",
        name="ck_order_items_quantities",
    ),
    Index("ix_order_items_order_id_id", "order_id", "id"),
    sqlite_autoincrement=True,  # ids are never reused, even after a delete
)

order_attributes = Table(
    "order_attributes",
    metadata,
    Column("order_id", Integer, ForeignKey("orders.id"), primary_key=True),
    Column("name", Text, primary_key=True),
    Column("value", Text),
    Index("ix_order_attributes_name_order_id", "name", "order_id"),
)

item_attributes = Table(
    "item_attributes",
    metadata,
    Column("item_id", Integer, ForeignKey("order_items.id"), primary_key=True),
    Column("name", Text, primary_key=True),
    Column("value", Text),
    Index("ix_item_attributes_name_item_id", "name", "item_id"),
)

shipments = Table(
    "shipments",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("order_id", Integer, ForeignKey("orders.id"), nullable=False, index=True),
    Column("dispatch_datetime", DateTime, nullable=False),
    Column("carrier", Text),
    Column("tracking", Text),
    Column("tracking_url", Text),
    sqlite_autoincrement=True,  # ids are never reused, even after a delete
)

shipment_items = Table(
    "shipment_items",
    metadata,
    Column("shipment_id", Integer, ForeignKey("shipments.id"), primary_key=True),
    Column("item_id", Integer, ForeignKey("order_items.id"), primary_key=True, index=True),
    Column("quantity", Integer, nullable=False),
    CheckConstraint("quantity > 0", name="ck_shipment_items_quantity"),
)

cancellations = Table(
    "cancellations",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("order_id", Integer, ForeignKey("orders.id"), nullable=False, index=True),
    Column("reason", Text),
    Column("cancelled_datetime", DateTime, nullable=False),
    sqlite_autoincrement=True,  # ids are never reused, even after a delete
)

cancellation_items = Table(
    "cancellation_items",
    metadata,
    Column("cancellation_id", Integer, ForeignKey("cancellations.id"), primary_key=True),
    # Indexed so that deleting an item (a re-import) need not scan every cancellation line.
    Column("item_id", Integer, ForeignKey("order_items.id"), primary_key=True, index=True),
    Column("quantity", Integer, nullable=False),
    CheckConstraint("quantity > 0", name="ck_cancellation_items_quantity"),
)

events = Table(
    "events",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("event_id", String(40), nullable=False, unique=True),  # what receivers see
    Column("order_id", Integer, ForeignKey("orders.id"), nullable=False),
    Column("company_id", Integer, ForeignKey("companies.id"), nullable=False),  # the receiver
    Column("kind", String(20), nullable=False),  # status_callback | order_push
    Column("occurred_at", DateTime, nullable=False),
    Column("status", Integer, nullable=False),  # the order's status the event tells of
    Column("url", Text, nullable=False),
    Column("body", Text, nullable=False),  # the JSON sent, fixed when the change was made
    Column("state", String(10), nullable=False),  # pending | delivered | failed
    Column("attempts", Integer, nullable=False, server_default=text("0")),
    Column("next_attempt_at", DateTime, nullable=False),
    Column("claimed_until", DateTime),  # a worker's lease while it delivers
    Column("delivered_at", DateTime),
    Index("ix_events_order_id_id", "order_id", "id"),
    Index("ix_events_state_next_attempt_at", "state", "next_attempt_at"),
    sqlite_autoincrement=True,  # ids are never reused, even after a delete
)

event_attempts = Table(
    "event_attempts",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("event_id", Integer, ForeignKey("events.id"), nullable=False, index=True),
    Column("at", DateTime, nullable=False),
    Column("status_code", Integer),  # null: no answer came
    Column("error", Text),
    Column("answer", Text),  # the answer's first 1 KiB
    Column("seconds", Numeric(10, 3, asdecimal=False)),
    sqlite_autoincrement=True,
)

CONSOLE_ROLES = ("admin", "viewer")
"""An admin sees everything and the admin pages; a viewer only its companies' orders (§8)."""

console_users = Table(
    "console_users",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("email", String(320), nullable=False, unique=True),  # stored lower-cased
    Column("password_hash", String(256), nullable=False),  # argon2id, with its parameters
    Column("role", String(16), nullable=False),
    Column("created_at", DateTime, nullable=False),
    Column("disabled", Boolean, nullable=False, default=False),
    CheckConstraint("role IN ('admin', 'viewer')", name="ck_console_users_role"),
    sqlite_autoincrement=True,
)

console_user_companies = Table(
    "console_user_companies",
    metadata,
    Column("user_id", Integer, ForeignKey("console_users.id"), primary_key=True),
    Column("company_id", Integer, ForeignKey("companies.id"), primary_key=True),
)

# The console's reports (migration 0006): each answered from an index, at a million orders.
Index(
    "ix_orders_creation_datetime_status_companies",
    orders.c.creation_datetime,
    orders.c.status,
    orders.c.company_id,
    orders.c.secondary_company_id,
)
Index("ix_shipments_dispatch_datetime_order_id", shipments.c.dispatch_datetime,
      shipments.c.order_id)  # fmt: skip
Index("ix_shipment_items_shipment_id_quantity", shipment_items.c.shipment_id,
      shipment_items.c.quantity)  # fmt: skip

# The reports' totals (migration 0007), kept by every writer in its transaction
# (``orders/report_totals.py``): ``grain`` 0 is a UTC day, 1 a month at its first day;
# ``secondary_company_id`` is 0 for none. Rows at 0 may stay; the reports leave them out.
report_status_totals = Table(
    "report_status_totals",
    metadata,
    Column("grain", Integer, primary_key=True, autoincrement=False),
    Column("day", Date, primary_key=True),
    Column("company_id", Integer, primary_key=True),
    Column("secondary_company_id", Integer, primary_key=True),
    Column("status", Integer, primary_key=True),
    Column("orders", BigInteger, nullable=False),
)

report_skus = Table(
    "report_skus",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("sku_hash", String(64), nullable=False, unique=True),  # a SKU may be too long to index
    Column("sku", Text, nullable=False),
)

report_sku_totals = Table(
    "report_sku_totals",
    metadata,
    Column("grain", Integer, primary_key=True, autoincrement=False),
    Column("day", Date, primary_key=True),
    Column("company_id", Integer, primary_key=True),
    Column("secondary_company_id", Integer, primary_key=True),
    Column("sku_id", Integer, primary_key=True),  # report_skus.id: narrow rows, quick to sum
    Column("units", BigInteger, nullable=False),  # a sum of int quantities
)

report_dispatch_totals = Table(
    "report_dispatch_totals",
    metadata,
    Column("day", Date, primary_key=True),
    Column("company_id", Integer, primary_key=True),
    Column("secondary_company_id", Integer, primary_key=True),
    Column("units", BigInteger, nullable=False),  # a sum of int quantities
)
