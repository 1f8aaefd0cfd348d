"""Small, explicit builders of store rows for tests, straight through SQLAlchemy Core.

They bypass the import path on purpose: export tests should not fail because an import rule
changed. Every builder returns the internal id of what it made.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import Engine, insert

from oms_export.db import schema


def company(engine: Engine, ref_id: int, subscription: str = "order_manager", **values: Any) -> int:
    row = {
        "ref_id": ref_id,
        "name": f"Company {ref_id}",
        "external_ref": f"EXT-{ref_id}",
        "customer_ref_id": ref_id * 10,
        "subscription": subscription,
        **values,
    }
    with engine.begin() as conn:
        return int(conn.execute(insert(schema.companies).values(row)).inserted_primary_key[0])  # type: ignore[index]


def order(
    engine: Engine,
    company_id: int,
    external_ref: str,
    *,
    items: list[dict[str, Any]] | None = None,
    attributes: dict[str, str] | None = None,
    **values: Any,
) -> int:
    row: dict[str, Any] = {
        "external_ref": external_ref,
        "company_id": company_id,
        "status": 8,
        "is_free_of_charge": False,
        "creation_datetime": datetime(2024, 5, 1, 8, 0, 0),
        **values,
    }
    row.setdefault("updated_datetime", row["creation_datetime"] or datetime(2024, 5, 1, 8, 0, 0))
    with engine.begin() as conn:
        order_id = int(conn.execute(insert(schema.orders).values(row)).inserted_primary_key[0])  # type: ignore[index]
        conn.execute(
            schema.orders.update().where(schema.orders.c.id == order_id).values(ref=f"O{order_id}")
        )
        for name, value in (attributes or {}).items():
            conn.execute(
                insert(schema.order_attributes).values(order_id=order_id, name=name, value=value)
            )
        for position, item in enumerate(items or []):
            item_attributes = item.pop("attributes", {})
            item_row = {"status": 0, "quantity": 1, "sku": "SKU", **item}
            item_row.update(order_id=order_id, position=position)
            item_id = int(
                conn.execute(insert(schema.order_items).values(item_row)).inserted_primary_key[0]  # type: ignore[index]
            )
            conn.execute(
                schema.order_items.update()
                .where(schema.order_items.c.id == item_id)
                .values(ref=f"I{item_id}")
            )
            for name, value in item_attributes.items():
                conn.execute(
                    insert(schema.item_attributes).values(item_id=item_id, name=name, value=value)
                )
    return order_id


def product(
    engine: Engine,
    product_id: int,
    *,
    owner_company_id: int | None = None,
    prices: list[dict[str, Any]] | None = None,
    ecommerce: dict[str, Any] | None = None,
) -> int:
    with engine.begin() as conn:
        conn.execute(
            insert(schema.products).values(id=product_id, owner_company_id=owner_company_id)
        )
        for price in prices or []:
            conn.execute(insert(schema.product_prices).values(product_id=product_id, **price))
        if ecommerce is not None:
            conn.execute(
                insert(schema.product_ecommerce).values(product_id=product_id, **ecommerce)
            )
    return product_id


def utc(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%d %H:%M:%S")


def day(text: str) -> date:
    return date.fromisoformat(text)
