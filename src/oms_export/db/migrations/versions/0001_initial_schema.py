"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "companies",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ref_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("external_ref", sa.Text(), nullable=True),
        sa.Column("customer_ref_id", sa.Integer(), nullable=True),
        sa.Column("subscription", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_companies")),
        sa.UniqueConstraint("ref_id", name=op.f("uq_companies_ref_id")),
    )
    op.create_table(
        "oauth_clients",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("client_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("secret_hash", sa.String(length=128), nullable=False),
        sa.Column("scopes", sa.String(length=1024), nullable=False),
        sa.Column("revoked", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_oauth_clients")),
        sa.UniqueConstraint("client_id", name=op.f("uq_oauth_clients_client_id")),
    )
    op.create_table(
        "server_keys",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("value", sa.String(length=128), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_server_keys")),
    )
    op.create_table(
        "access_tokens",
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("client_pk", sa.Integer(), nullable=False),
        sa.Column("scopes", sa.String(length=1024), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["client_pk"],
            ["oauth_clients.id"],
            name=op.f("fk_access_tokens_client_pk_oauth_clients"),
        ),
        sa.PrimaryKeyConstraint("token_hash", name=op.f("pk_access_tokens")),
    )
    with op.batch_alter_table("access_tokens", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_access_tokens_client_pk"), ["client_pk"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_access_tokens_expires_at"), ["expires_at"], unique=False
        )

    op.create_table(
        "client_companies",
        sa.Column("client_pk", sa.Integer(), nullable=False),
        sa.Column("company_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["client_pk"],
            ["oauth_clients.id"],
            name=op.f("fk_client_companies_client_pk_oauth_clients"),
        ),
        sa.ForeignKeyConstraint(
            ["company_id"], ["companies.id"], name=op.f("fk_client_companies_company_id_companies")
        ),
        sa.PrimaryKeyConstraint("client_pk", "company_id", name=op.f("pk_client_companies")),
    )
    op.create_table(
        "orders",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ref", sa.String(length=32), nullable=True),
        sa.Column("external_ref", sa.Text(), nullable=False),
        sa.Column("company_id", sa.Integer(), nullable=False),
        sa.Column("secondary_company_id", sa.Integer(), nullable=True),
        sa.Column("shipping_address_1", sa.Text(), nullable=True),
        sa.Column("shipping_address_2", sa.Text(), nullable=True),
        sa.Column("shipping_address_3", sa.Text(), nullable=True),
        sa.Column("shipping_address_4", sa.Text(), nullable=True),
        sa.Column("shipping_address_5", sa.Text(), nullable=True),
        sa.Column("shipping_postcode", sa.Text(), nullable=True),
        sa.Column("shipping_country_code", sa.Text(), nullable=True),
        sa.Column("billing_address_1", sa.Text(), nullable=True),
        sa.Column("billing_address_2", sa.Text(), nullable=True),
        sa.Column("billing_address_3", sa.Text(), nullable=True),
        sa.Column("billing_address_4", sa.Text(), nullable=True),
        sa.Column("billing_address_5", sa.Text(), nullable=True),
        sa.Column("billing_postcode", sa.Text(), nullable=True),
        sa.Column("billing_country", sa.Text(), nullable=True),
        sa.Column("customer_name", sa.Text(), nullable=True),
        sa.Column("shipping_method", sa.Text(), nullable=True),
        sa.Column("shipping_carrier", sa.Text(), nullable=True),
        sa.Column("shipping_tracking", sa.Text(), nullable=True),
        sa.Column("customer_email", sa.Text(), nullable=True),
        sa.Column("payment_type", sa.Text(), nullable=True),
        sa.Column("payment_trans_id", sa.Text(), nullable=True),
        sa.Column("coupon_code", sa.Text(), nullable=True),
        sa.Column("sale_datetime", sa.DateTime(), nullable=True),
        sa.Column("creation_datetime", sa.DateTime(), nullable=True),
        sa.Column("completion_datetime", sa.DateTime(), nullable=True),
        sa.Column("required_dispatch_date", sa.Date(), nullable=True),
        sa.Column(
            "shipping_price", sa.Numeric(precision=14, scale=4, asdecimal=False), nullable=True
        ),
        sa.Column(
            "shipping_price_inc_tax",
            sa.Numeric(precision=14, scale=4, asdecimal=False),
            nullable=True,
        ),
        sa.Column(
            "shipping_tax_rate", sa.Numeric(precision=8, scale=6, asdecimal=False), nullable=True
        ),
        sa.Column("status", sa.Integer(), nullable=False),
        sa.Column("is_free_of_charge", sa.Boolean(), nullable=False),
        sa.Column("source_hash", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(
            ["company_id"], ["companies.id"], name=op.f("fk_orders_company_id_companies")
        ),
        sa.ForeignKeyConstraint(
            ["secondary_company_id"],
            ["companies.id"],
            name=op.f("fk_orders_secondary_company_id_companies"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_orders")),
        sa.UniqueConstraint(
            "company_id", "external_ref", name=op.f("uq_orders_company_id_external_ref")
        ),
        sa.UniqueConstraint("ref", name=op.f("uq_orders_ref")),
        sqlite_autoincrement=True,
    )
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.create_index("ix_orders_company_id_id", ["company_id", "id"], unique=False)
        batch_op.create_index(
            "ix_orders_completion_datetime", ["completion_datetime"], unique=False
        )
        batch_op.create_index("ix_orders_creation_datetime", ["creation_datetime"], unique=False)
        batch_op.create_index("ix_orders_external_ref", ["external_ref"], unique=False)
        batch_op.create_index("ix_orders_sale_datetime", ["sale_datetime"], unique=False)
        batch_op.create_index(
            "ix_orders_secondary_company_id_id", ["secondary_company_id", "id"], unique=False
        )
        batch_op.create_index("ix_orders_status_id", ["status", "id"], unique=False)

    op.create_table(
        "products",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("owner_company_id", sa.Integer(), nullable=True),
        sa.Column("source_hash", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(
            ["owner_company_id"],
            ["companies.id"],
            name=op.f("fk_products_owner_company_id_companies"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_products")),
    )
    op.create_table(
        "order_attributes",
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("value", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["order_id"], ["orders.id"], name=op.f("fk_order_attributes_order_id_orders")
        ),
        sa.PrimaryKeyConstraint("order_id", "name", name=op.f("pk_order_attributes")),
    )
    op.create_table(
        "order_items",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ref", sa.String(length=32), nullable=True),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("external_ref", sa.Text(), nullable=True),
        sa.Column("status", sa.Integer(), nullable=False),
        sa.Column("sku", sa.Text(), nullable=False),
        sa.Column("mapped_sku", sa.Text(), nullable=True),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("size", sa.Text(), nullable=True),
        sa.Column("colour", sa.Text(), nullable=True),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column(
            "unit_cost_price", sa.Numeric(precision=14, scale=4, asdecimal=False), nullable=True
        ),
        sa.Column(
            "unit_sale_price", sa.Numeric(precision=14, scale=4, asdecimal=False), nullable=True
        ),
        sa.Column(
            "unit_sale_price_inc_tax",
            sa.Numeric(precision=14, scale=4, asdecimal=False),
            nullable=True,
        ),
        sa.Column(
            "shipping_price", sa.Numeric(precision=14, scale=4, asdecimal=False), nullable=True
        ),
        sa.Column(
            "shipping_price_inc_tax",
            sa.Numeric(precision=14, scale=4, asdecimal=False),
            nullable=True,
        ),
        sa.Column("textual_product_id", sa.Text(), nullable=True),
        sa.Column(
            "sale_vat_rate", sa.Numeric(precision=8, scale=6, asdecimal=False), nullable=True
        ),
        sa.Column("product_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["order_id"], ["orders.id"], name=op.f("fk_order_items_order_id_orders")
        ),
        sa.ForeignKeyConstraint(
            ["product_id"], ["products.id"], name=op.f("fk_order_items_product_id_products")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_order_items")),
        sa.UniqueConstraint("ref", name=op.f("uq_order_items_ref")),
        sqlite_autoincrement=True,
    )
    with op.batch_alter_table("order_items", schema=None) as batch_op:
        batch_op.create_index("ix_order_items_order_id_id", ["order_id", "id"], unique=False)

    op.create_table(
        "product_ecommerce",
        sa.Column("product_id", sa.Integer(), nullable=False),
        sa.Column("sales_description", sa.Text(), nullable=True),
        sa.Column("sales_description_long", sa.Text(), nullable=True),
        sa.Column("weight", sa.Numeric(precision=12, scale=4, asdecimal=False), nullable=True),
        sa.Column("hs_code", sa.Text(), nullable=True),
        sa.Column("tax_code", sa.Text(), nullable=True),
        sa.Column("website_category_details", sa.Text(), nullable=True),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("barcode", sa.Text(), nullable=True),
        sa.Column("dimensions", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["product_id"], ["products.id"], name=op.f("fk_product_ecommerce_product_id_products")
        ),
        sa.PrimaryKeyConstraint("product_id", name=op.f("pk_product_ecommerce")),
    )
    op.create_table(
        "product_prices",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("product_id", sa.Integer(), nullable=False),
        sa.Column("price_list", sa.String(length=16), nullable=False),
        sa.Column("company_id", sa.Integer(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("rrp", sa.Numeric(precision=14, scale=4, asdecimal=False), nullable=True),
        sa.Column("price", sa.Numeric(precision=14, scale=4, asdecimal=False), nullable=True),
        sa.ForeignKeyConstraint(
            ["company_id"], ["companies.id"], name=op.f("fk_product_prices_company_id_companies")
        ),
        sa.ForeignKeyConstraint(
            ["product_id"], ["products.id"], name=op.f("fk_product_prices_product_id_products")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_product_prices")),
        sa.UniqueConstraint(
            "product_id",
            "price_list",
            "company_id",
            "quantity",
            name=op.f("uq_product_prices_product_id_price_list_company_id_quantity"),
        ),
        sqlite_autoincrement=True,
    )
    op.create_table(
        "item_attributes",
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("value", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["item_id"], ["order_items.id"], name=op.f("fk_item_attributes_item_id_order_items")
        ),
        sa.PrimaryKeyConstraint("item_id", "name", name=op.f("pk_item_attributes")),
    )


def downgrade() -> None:
    op.drop_table("item_attributes")
    op.drop_table("product_prices")
    op.drop_table("product_ecommerce")
    with op.batch_alter_table("order_items", schema=None) as batch_op:
        batch_op.drop_index("ix_order_items_order_id_id")

    op.drop_table("order_items")
    op.drop_table("order_attributes")
    op.drop_table("products")
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.drop_index("ix_orders_status_id")
        batch_op.drop_index("ix_orders_secondary_company_id_id")
        batch_op.drop_index("ix_orders_sale_datetime")
        batch_op.drop_index("ix_orders_external_ref")
        batch_op.drop_index("ix_orders_creation_datetime")
        batch_op.drop_index("ix_orders_completion_datetime")
        batch_op.drop_index("ix_orders_company_id_id")

    op.drop_table("orders")
    op.drop_table("client_companies")
    with op.batch_alter_table("access_tokens", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_access_tokens_expires_at"))
        batch_op.drop_index(batch_op.f("ix_access_tokens_client_pk"))

    op.drop_table("access_tokens")
    op.drop_table("server_keys")
    op.drop_table("oauth_clients")
    op.drop_table("companies")
