"""A naive peer of the export, written the way a typical FastAPI + SQLAlchemy ORM service is.

ORM classes mapped onto the store's own tables, the orders loaded with their relationships
(``joinedload`` for the one-to-one hops, ``selectinload`` for the collections), a Pydantic
model per row, and the whole list built in memory and returned at once by FastAPI. It returns
the same rows as the service (the bench compares them at small sizes): the demo client's
companies, every option on. No authentication; no paging or streaming.

Run it by itself::

    python bench/naive_peer.py --database-url postgresql://postgres@127.0.0.1/oms_bench_5000_s0 \
        --port 8001 --company-ref-ids 1001,1002,2001,3001,1004
    curl -s http://127.0.0.1:8001/export-api/order-item-details | jq length
"""

from __future__ import annotations

import argparse
from datetime import date, datetime
from typing import Any

import uvicorn
from fastapi import FastAPI
from pydantic import BaseModel, ConfigDict
from sqlalchemy import Engine, create_engine, or_, select
from sqlalchemy.orm import (
    DeclarativeBase,
    Mapped,
    Session,
    joinedload,
    relationship,
    selectinload,
    sessionmaker,
)

from oms_export.db import schema
from oms_export.db.engine import normalize_url
from oms_export.statuses import ITEM_STATUSES, ORDER_STATUSES

EXPORTING_SUBSCRIPTIONS = ("order_manager", "enterprise")


class Base(DeclarativeBase):
    pass


class Company(Base):
    __table__ = schema.companies
    id: Mapped[int]
    ref_id: Mapped[int]
    name: Mapped[str]
    external_ref: Mapped[str | None]
    customer_ref_id: Mapped[int | None]
    subscription: Mapped[str]


class ProductPrice(Base):
    __table__ = schema.product_prices
    id: Mapped[int]
    product_id: Mapped[int]
    price_list: Mapped[str]
    company_id: Mapped[int]
    currency: Mapped[str]
    quantity: Mapped[int]
    rrp: Mapped[float | None]
    price: Mapped[float | None]


class ProductEcommerce(Base):
    __table__ = schema.product_ecommerce
    product_id: Mapped[int]


class Product(Base):
    __table__ = schema.products
    id: Mapped[int]
    owner: Mapped[Company | None] = relationship()
    prices: Mapped[list[ProductPrice]] = relationship()
    ecommerce: Mapped[ProductEcommerce | None] = relationship()


class ItemAttribute(Base):
    __table__ = schema.item_attributes
    name: Mapped[str]
    value: Mapped[str | None]


class Shipment(Base):
    __table__ = schema.shipments
    id: Mapped[int]
    dispatch_datetime: Mapped[datetime]
    tracking: Mapped[str | None]
    tracking_url: Mapped[str | None]


class OrderItem(Base):
    __table__ = schema.order_items
    id: Mapped[int]
    quantity: Mapped[int]
    status: Mapped[int]
    product: Mapped[Product | None] = relationship()
    attributes: Mapped[list[ItemAttribute]] = relationship()
    shipments: Mapped[list[Shipment]] = relationship(secondary=schema.shipment_items)


class OrderAttribute(Base):
    __table__ = schema.order_attributes
    name: Mapped[str]
    value: Mapped[str | None]


class Order(Base):
    __table__ = schema.orders
    id: Mapped[int]
    company_id: Mapped[int]
    secondary_company_id: Mapped[int | None]
    required_dispatch_date: Mapped[date | None]
    status: Mapped[int]
    company: Mapped[Company] = relationship(foreign_keys=[schema.orders.c.company_id])
    secondary_company: Mapped[Company | None] = relationship(
        foreign_keys=[schema.orders.c.secondary_company_id]
    )
    items: Mapped[list[OrderItem]] = relationship(order_by=schema.order_items.c.id)
    attributes: Mapped[list[OrderAttribute]] = relationship()


class ExportRow(BaseModel):
    """One order item row; attribute columns are extra fields, in the order they are given."""

    model_config = ConfigDict(extra="allow")

    id: int
    ref: str
    external_ref: str
    company_ref_id: int
    secondary_company_ref_id: int | None
    shipping_address_1: str | None
    shipping_address_2: str | None
    shipping_address_3: str | None
    shipping_address_4: str | None
    shipping_address_5: str | None
    shipping_postcode: str | None
    shipping_country_code: str | None
    billing_address_1: str | None
    billing_address_2: str | None
    billing_address_3: str | None
    billing_address_4: str | None
    billing_address_5: str | None
    billing_postcode: str | None
    billing_country: str | None
    customer_name: str | None
    sale_datetime: str | None
    creation_datetime: str | None
    completion_datetime: str | None
    required_dispatch_date: str | None
    shipping_method: str | None
    shipping_carrier: str | None
    shipping_tracking: str | None
    shipping_price: float | None
    shipping_price_inc_tax: float | None
    shipping_tax_rate: float | None
    customer_email: str | None
    status: int
    is_free_of_charge: bool
    payment_type: str | None
    payment_trans_id: str | None
    coupon_code: str | None
    status_name: str | None
    company__customer_ref_id: int | None
    company__company_name: str
    company__external_ref: str | None
    secondary_company: int | None
    secondary_company__customer_ref_id: int | None
    secondary_company__company_name: str | None
    secondary_company__external_ref: str | None
    items__id: int | None
    items__ref: str | None
    items__external_ref: str | None
    items__order_id: int | None
    items__status: int | None
    items__sku: str | None
    items__mapped_sku: str | None
    items__description: str | None
    items__size: str | None
    items__colour: str | None
    items__quantity: int | None
    items__unit_cost_price: float | None
    items__unit_sale_price: float | None
    items__unit_sale_price_inc_tax: float | None
    items__shipping_price: float | None
    items__shipping_price_inc_tax: float | None
    items__textual_product_id: str | None
    items__sale_vat_rate: float | None
    items__status_name: str | None
    items__product_owner__customer_ref_id: int | None
    items__product_owner__company_name: str | None
    items__product_owner__external_ref: str | None
    items__product_owner: int | None
    items__product_price__product_id: int | None
    items__product_price__currency: str | None
    items__product_price__quantity: int | None
    items__product_price__rrp: float | None
    items__product_price__price: float | None
    items__product_price__company_ref_id: int | None
    items__base_product_price__product_id: int | None
    items__base_product_price__currency: str | None
    items__base_product_price__quantity: int | None
    items__base_product_price__rrp: float | None
    items__base_product_price__price: float | None
    items__base_product_price__company_ref_id: int | None
    items__product_price: int | None
    items__base_product_price: int | None
    items__product_ecommerce__product_id: int | None
    items__product_ecommerce__sales_description: str | None
    items__product_ecommerce__sales_description_long: str | None
    items__product_ecommerce__weight: float | None
    items__product_ecommerce__hs_code: str | None
    items__product_ecommerce__tax_code: str | None
    items__product_ecommerce__website_category_details: str | None
    items__product_ecommerce__notes: str | None
    items__product_ecommerce__barcode: str | None
    items__product_ecommerce__dimensions: str | None
    updated_datetime: str | None
    items__shipped_quantity: int | None
    items__cancelled_quantity: int | None
    items__dispatch_datetime: str | None
    items__tracking: str | None
    items__tracking_url: str | None


ORDER_COLUMNS = (
    "id", "ref", "external_ref", *schema.ORDER_TEXT_COLUMNS, "shipping_price",
    "shipping_price_inc_tax", "shipping_tax_rate", "status", "is_free_of_charge",
)  # fmt: skip
ITEM_COLUMNS = (
    "id", "ref", "external_ref", "order_id", "status", "sku", "mapped_sku", "description",
    "size", "colour", "quantity", "unit_cost_price", "unit_sale_price",
    "unit_sale_price_inc_tax", "shipping_price", "shipping_price_inc_tax",
    "textual_product_id", "sale_vat_rate",
)  # fmt: skip
PRICE_COLUMNS = ("product_id", "currency", "quantity", "rrp", "price")
ECOMMERCE_COLUMNS = (
    "product_id", "sales_description", "sales_description_long", "weight", "hs_code",
    "tax_code", "website_category_details", "notes", "barcode", "dimensions",
)  # fmt: skip


def _datetime(value: datetime | date | None, fmt: str = "%Y-%m-%d %H:%M:%S") -> str | None:
    return value.strftime(fmt) if value is not None else None


def _company(prefix: str, company: Company | None) -> dict[str, Any]:
    return {
        f"{prefix}__customer_ref_id": company.customer_ref_id if company else None,
        f"{prefix}__company_name": company.name if company else None,
        f"{prefix}__external_ref": company.external_ref if company else None,
    }


def _order_fields(order: Order) -> dict[str, Any]:
    data = {name: getattr(order, name) for name in ORDER_COLUMNS}
    data["company_ref_id"] = order.company.ref_id
    data["secondary_company_ref_id"] = (
        order.secondary_company.ref_id if order.secondary_company else None
    )
    for name in ("sale_datetime", "creation_datetime", "completion_datetime"):
        data[name] = _datetime(getattr(order, name))
    data["required_dispatch_date"] = _datetime(order.required_dispatch_date, "%Y-%m-%d")
    data["status_name"] = ORDER_STATUSES.get(order.status)
    data.update(_company("company", order.company))
    data["secondary_company"] = order.secondary_company_id
    data.update(_company("secondary_company", order.secondary_company))
    return data


def _best_price(order: Order, item: OrderItem, price_list: str) -> ProductPrice | None:
    """The order's company's price at the largest quantity break not above the quantity."""
    if item.product is None:
        return None
    candidates = [
        price
        for price in item.product.prices
        if price.price_list == price_list
        and price.company_id == order.company_id
        and price.quantity <= item.quantity
    ]
    return max(candidates, key=lambda price: price.quantity, default=None)


def _price_fields(prefix: str, price: ProductPrice | None, order: Order) -> dict[str, Any]:
    data = {f"{prefix}__{name}": getattr(price, name, None) for name in PRICE_COLUMNS}
    data[f"{prefix}__company_ref_id"] = order.company.ref_id if price else None
    return data


def _item_fields(order: Order, item: OrderItem | None) -> dict[str, Any]:
    data = {f"items__{name}": getattr(item, name, None) for name in ITEM_COLUMNS}
    data["items__status_name"] = ITEM_STATUSES.get(item.status) if item else None
    product = item.product if item else None
    owner = product.owner if product else None
    data.update(_company("items__product_owner", owner))
    data["items__product_owner"] = owner.id if owner else None
    price = _best_price(order, item, "product") if item else None
    base_price = _best_price(order, item, "base") if item else None
    data.update(_price_fields("items__product_price", price, order))
    data.update(_price_fields("items__base_product_price", base_price, order))
    data["items__product_price"] = price.id if price else None
    data["items__base_product_price"] = base_price.id if base_price else None
    ecommerce = product.ecommerce if product else None
    for name in ECOMMERCE_COLUMNS:
        data[f"items__product_ecommerce__{name}"] = getattr(ecommerce, name, None)
    data["updated_datetime"] = _datetime(order.updated_datetime)
    data["items__shipped_quantity"] = item.shipped_quantity if item else None
    data["items__cancelled_quantity"] = item.cancelled_quantity if item else None
    shipments = item.shipments if item else []
    latest = max(shipments, key=lambda s: (s.dispatch_datetime, s.id), default=None)
    data["items__dispatch_datetime"] = _datetime(latest.dispatch_datetime) if latest else None
    data["items__tracking"] = latest.tracking if latest else None
    data["items__tracking_url"] = latest.tracking_url if latest else None
    return data


def build_rows(orders: list[Order]) -> list[ExportRow]:
    """One row per item (one per order without items), attribute columns from the whole list."""
    order_names = sorted({a.name for order in orders for a in order.attributes})
    item_names = sorted({a.name for order in orders for i in order.items for a in i.attributes})
    rows = []
    for order in orders:
        base = _order_fields(order)
        order_attributes = {a.name: a.value for a in order.attributes}
        items: list[OrderItem | None] = [*order.items] or [None]
        for item in items:
            item_attributes = {a.name: a.value for a in item.attributes} if item else {}
            extra: dict[str, Any] = {
                f"attributes__{n}": order_attributes.get(n) for n in order_names
            }
            extra.update({f"items__attributes__{n}": item_attributes.get(n) for n in item_names})
            rows.append(ExportRow(**base, **_item_fields(order, item), **extra))
    return rows


def load_orders(session: Session, company_ref_ids: list[int]) -> list[Order]:
    company_ids = session.scalars(
        select(Company.id).where(
            Company.ref_id.in_(company_ref_ids),
            Company.subscription.in_(EXPORTING_SUBSCRIPTIONS),
        )
    ).all()
    statement = (
        select(Order)
        .where(
            or_(
                Order.company_id.in_(company_ids),
                Order.secondary_company_id.in_(company_ids),
            )
        )
        .order_by(Order.id)
        .options(
            joinedload(Order.company),
            joinedload(Order.secondary_company),
            selectinload(Order.attributes),
            selectinload(Order.items).options(
                selectinload(OrderItem.attributes),
                selectinload(OrderItem.shipments),
                joinedload(OrderItem.product).options(
                    joinedload(Product.owner),
                    joinedload(Product.ecommerce),
                    selectinload(Product.prices),
                ),
            ),
        )
    )
    return list(session.scalars(statement).unique().all())


def create_peer_app(engine: Engine, company_ref_ids: list[int]) -> FastAPI:
    app = FastAPI(title="naive export peer")
    session_factory = sessionmaker(engine)

    @app.get("/health")
    def health() -> dict[str, str]:
        with session_factory() as session:
            session.execute(select(1))
        return {"status": "ok"}

    @app.get("/export-api/order-item-details", response_model=list[ExportRow])
    def order_item_details() -> list[ExportRow]:
        with session_factory() as session:
            return build_rows(load_orders(session, company_ref_ids))

    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8001)
    parser.add_argument("--company-ref-ids", default="1001,1002,2001,3001,1004")
    args = parser.parse_args()
    engine = create_engine(normalize_url(args.database_url))
    ref_ids = [int(ref) for ref in args.company_ref_ids.split(",")]
    uvicorn.run(create_peer_app(engine, ref_ids), host=args.host, port=args.port, log_level="info")


if __name__ == "__main__":
    main()
