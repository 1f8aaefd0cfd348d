"""The orders API's reads and writes, each on a connection the caller's transaction holds.

Every change follows one path: ``load`` the order with its row locked, ask ``lifecycle`` for the
``Change``, ``write`` it back with ``updated_datetime`` in the same transaction. The lock is the
order's row (``FOR UPDATE`` on PostgreSQL; SQLite's writers are serialised by ``BEGIN
IMMEDIATE``, see ``db/engine.py``), so two shipments of one item are taken one after the other
and the second sees what the first shipped: shipped plus cancelled never passes the quantity.

A create goes through the import's own writer (``admin.imports.write_order``), so an order
made over HTTP is stored exactly as the same record imported would be.

Reading an order is ``orders/views.py``'s.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, func, insert, select, update

from oms_export.admin.imports import AlreadyStored, write_order
from oms_export.db.schema import (
    cancellation_items,
    cancellations,
    companies,
    order_items,
    orders,
    products,
    shipment_items,
    shipments,
)
from oms_export.errors import DuplicateOrder, InvalidRequest
from oms_export.orders import lifecycle, outbox, report_totals
from oms_export.orders.requests import CreateOrder

SHIPPING_COLUMNS = ("shipping_method", "shipping_carrier", "shipping_tracking")


@dataclass(frozen=True)
class Located:
    """An order's id and the two companies its roles are worked out from."""

    id: int
    company_id: int
    secondary_company_id: int | None


@dataclass(frozen=True)
class Loaded:
    """An order locked for a change: what the lifecycle needs, and what is stored besides."""

    order: lifecycle.Order
    item_statuses: dict[int, int]
    shipping: dict[str, str | None]


def _located(row: Any) -> Located | None:
    return None if row is None else Located(row.id, row.company_id, row.secondary_company_id)


_LOCATE = select(orders.c.id, orders.c.company_id, orders.c.secondary_company_id)


def locate(conn: Connection, order_id: int) -> Located | None:
    return _located(conn.execute(_LOCATE.where(orders.c.id == order_id)).first())


def locate_by_external_ref(
    conn: Connection, company_ref_id: int, external_ref: str
) -> Located | None:
    query = _LOCATE.join(companies, companies.c.id == orders.c.company_id).where(
        companies.c.ref_id == company_ref_id, orders.c.external_ref == external_ref
    )
    return _located(conn.execute(query).first())


# --- create ---------------------------------------------------------------------------------


def create(
    conn: Connection, request: CreateOrder, company_id: int, now: datetime
) -> tuple[int, bool]:
    """The order's id and whether this call created it.

    The same external ref with the same content is the stored order, unchanged; with other
    content it is ``DuplicateOrder``. A create racing an identical one on PostgreSQL fails on the
    unique key; the caller runs it again and finds the winner's order here.
    """
    record = request.record
    secondary_id = _secondary(conn, record.secondary_company_ref_id)
    _check_products(conn, record)
    columns = {
        **record.columns,
        "held_from": request.held_from,
        "status_callback_url": request.status_callback_url,
    }
    try:
        write_order(
            conn,
            replace(record, columns=columns, source_hash=request.source_hash),
            company_id,
            secondary_id,
            now,
            create_only=True,
        )
    except AlreadyStored as stored:
        if stored.source_hash == request.source_hash:
            return stored.order_id, False
        raise DuplicateOrder(
            f"order {stored.order_id} already has company_ref_id {record.company_ref_id} and "
            f"external_ref {record.external_ref!r}, with other content; send the same content "
            "to get it, or use another external_ref",
            order_id=stored.order_id,
        ) from None
    order_id: int = conn.execute(
        select(orders.c.id).where(
            orders.c.company_id == company_id, orders.c.external_ref == record.external_ref
        )
    ).scalar_one()
    return order_id, True


def _secondary(conn: Connection, ref_id: int | None) -> int | None:
    if ref_id is None:
        return None
    found = conn.execute(select(companies.c.id).where(companies.c.ref_id == ref_id)).scalar()
    if found is None:
        raise InvalidRequest(
            f"secondary_company_ref_id: no company {ref_id}", parameter="secondary_company_ref_id"
        )
    return int(found)


def _check_products(conn: Connection, record: Any) -> None:
    wanted = {item.columns["product_id"] for item in record.items} - {None}
    if not wanted:
        return
    known = set(conn.scalars(select(products.c.id).where(products.c.id.in_(wanted))))
    for n, item in enumerate(record.items):
        product_id = item.columns["product_id"]
        if product_id is not None and product_id not in known:
            raise InvalidRequest(
                f"items[{n}].product_id: no product {product_id}",
                parameter=f"items[{n}].product_id",
            )


# --- changes --------------------------------------------------------------------------------


def load(conn: Connection, order_id: int) -> Loaded:
    """The order as the lifecycle sees it, its row locked until the transaction ends."""
    row = conn.execute(
        select(
            orders.c.status,
            orders.c.held_from,
            orders.c.completion_datetime,
            *(orders.c[name] for name in SHIPPING_COLUMNS),
        )
        .where(orders.c.id == order_id)
        .with_for_update()
    ).one()
    items = conn.execute(
        select(
            order_items.c.id,
            order_items.c.quantity,
            order_items.c.shipped_quantity,
            order_items.c.cancelled_quantity,
            order_items.c.status,
        )
        .where(order_items.c.order_id == order_id)
        .order_by(order_items.c.position, order_items.c.id)
    ).all()
    last = conn.execute(
        select(func.max(shipments.c.dispatch_datetime)).where(shipments.c.order_id == order_id)
    ).scalar()
    order = lifecycle.Order(
        id=order_id,
        status=row.status,
        items=tuple(lifecycle.Item(i.id, i.quantity, i.shipped_quantity, i.cancelled_quantity)
                    for i in items),
        held_from=_known_hold(row.status, row.held_from),
        last_dispatch_datetime=last,
        completion_datetime=row.completion_datetime,
    )  # fmt: skip
    return Loaded(
        order,
        {i.id: i.status for i in items},
        {name: row._mapping[name] for name in SHIPPING_COLUMNS},
    )


def _known_hold(status: int, held_from: int | None) -> int | None:
    """The stored hold memory, made safe for the lifecycle: off a hold it means nothing."""
    return held_from if lifecycle.LIFECYCLE.get(status, lifecycle.LIFECYCLE[1]).hold else None


_ITEM_UPDATE = (
    update(order_items)
    .where(order_items.c.id == bindparam("pk"))
    .values(
        shipped_quantity=bindparam("shipped"),
        cancelled_quantity=bindparam("cancelled"),
        status=bindparam("item_status"),
    )
)


def write(
    conn: Connection,
    loaded: Loaded,
    change: lifecycle.Change,
    *,
    now: datetime,
    order_values: dict[str, Any] | None = None,
    shipment: dict[str, Any] | None = None,
    reason: str | None = None,
) -> int | None:
    """Write ``change`` (and ``order_values``, columns set besides it); the new shipment's id.

    Nothing is written when nothing changes, so a repeated request leaves ``updated_datetime``
    as it was; a change writes its events (``outbox``) in the same transaction. ``shipment``
    holds the carrier and tracking of the units ``change`` shipped.
    """
    values = {k: v for k, v in (order_values or {}).items() if loaded.shipping.get(k) != v}
    if not change.changed and not values:
        return None
    after = change.after
    values.update(status=after.status, held_from=after.held_from, updated_datetime=now)
    if loaded.order.completion_datetime is None and after.completion_datetime is not None:
        values["completion_datetime"] = after.completion_datetime
    conn.execute(update(orders).where(orders.c.id == after.id).values(**values))
    statuses = lifecycle.item_statuses(after)
    before = {item.id: item for item in loaded.order.items}
    rows = [
        {
            "pk": item.id,
            "shipped": item.shipped,
            "cancelled": item.cancelled,
            "item_status": statuses[item.id],
        }
        for item in after.items
        if item != before[item.id] or statuses[item.id] != loaded.item_statuses[item.id]
    ]
    if rows:
        conn.execute(_ITEM_UPDATE, rows)
    shipment_id: int | None = None
    if change.shipped:
        shipment_id = conn.execute(
            insert(shipments).returning(shipments.c.id),
            {"order_id": after.id, "dispatch_datetime": change.dispatch_datetime,
             **(shipment or {})},
        ).scalar_one()  # fmt: skip
        conn.execute(
            insert(shipment_items),
            [{"shipment_id": shipment_id, "item_id": i, "quantity": q} for i, q in change.shipped],
        )
    cancellation_id: int | None = None
    if change.cancelled:
        cancellation_id = conn.execute(
            insert(cancellations).returning(cancellations.c.id),
            {"order_id": after.id, "reason": reason, "cancelled_datetime": now},
        ).scalar_one()
        conn.execute(
            insert(cancellation_items),
            [
                {"cancellation_id": cancellation_id, "item_id": i, "quantity": q}
                for i, q in change.cancelled
            ],
        )
    outbox.record(conn, after.id, now=now, shipment_id=shipment_id, cancellation_id=cancellation_id)
    _count_in_reports(conn, loaded.order.status, change)
    return shipment_id


def _count_in_reports(conn: Connection, status: int, change: lifecycle.Change) -> None:
    """Move the reports' totals (``report_totals``) as this change moved the order."""
    shipped = sum(units for _, units in change.shipped)
    dispatched = change.dispatch_datetime
    if status == change.after.status and not (shipped and dispatched):
        return
    report_totals.add(
        conn,
        report_totals.change(
            report_totals.order_key(conn, change.after.id),
            status=(status, change.after.status),
            dispatched=(dispatched, shipped) if shipped and dispatched else None,
        ),
    )
