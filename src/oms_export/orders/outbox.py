"""Events written with the change they tell of (API.md §7): the transactional outbox.

Every writer of an order calls ``record`` on the connection of its own transaction, after its
change: the import and the orders API's create (``admin.imports.write_order``), and every status
move, shipment and cancellation (``orders.store.write``). The event rows commit or roll back with
the change, so neither exists without the other, whatever crashes; delivering them is
``oms_export.events``' work, later and elsewhere.

What is recorded, and for whom:

- a **status callback** for each change of an order with a ``status_callback_url``, to its
  retailer (the order's company), its body fixed now as §7 words it: the order's status and
  shipping fields, and the shipments and cancellations this change made;
- an **order push** when an order is created whose fulfiller (its secondary company, or its
  company) has a ``push_url``: the order object of §6.2.

An order with neither has no one to tell, so no event is written: ``GET /orders/{id}/events``
lists the messages the service owes, not an audit log.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Final

import orjson
from sqlalchemy import Connection, func, insert, select

from oms_export.datetimes import format_utc
from oms_export.db.schema import (
    cancellation_items,
    cancellations,
    companies,
    events,
    order_items,
    orders,
    shipment_items,
    shipments,
)
from oms_export.orders.views import order_view
from oms_export.statuses import ORDER_STATUSES

STATUS_CALLBACK: Final = "status_callback"
ORDER_PUSH: Final = "order_push"


def new_event_id() -> str:
    return f"evt_{uuid.uuid4().hex}"


def record(
    conn: Connection,
    order_id: int,
    *,
    now: datetime,
    created: bool = False,
    shipment_id: int | None = None,
    cancellation_id: int | None = None,
) -> None:
    """Write the events of one change of ``order_id``, in the caller's transaction."""
    fulfiller = func.coalesce(orders.c.secondary_company_id, orders.c.company_id)
    row = conn.execute(
        select(
            orders.c.company_id,
            orders.c.status,
            orders.c.status_callback_url,
            select(companies.c.push_url)
            .where(companies.c.id == fulfiller)
            .scalar_subquery()
            .label("push_url"),
            fulfiller.label("fulfiller_id"),
        ).where(orders.c.id == order_id)
    ).one()
    if row.status_callback_url:
        event_id = new_event_id()
        body = _callback_body(conn, order_id, event_id, now, shipment_id, cancellation_id)
        _insert(conn, event_id, order_id, row.company_id, STATUS_CALLBACK, row.status,
                row.status_callback_url, body, now)  # fmt: skip
    if created and row.push_url:
        event_id = new_event_id()
        pushed = order_view(conn, order_id, row.company_id)
        _insert(conn, event_id, order_id, row.fulfiller_id, ORDER_PUSH, row.status,
                row.push_url, pushed, now)  # fmt: skip


def _insert(
    conn: Connection,
    event_id: str,
    order_id: int,
    company_id: int,
    kind: str,
    status: int,
    url: str,
    body: dict[str, Any],
    now: datetime,
) -> None:
    conn.execute(
        insert(events).values(
            event_id=event_id,
            order_id=order_id,
            company_id=company_id,
            kind=kind,
            occurred_at=now,
            status=status,
            url=url,
            body=orjson.dumps(body).decode(),
            state="pending",
            attempts=0,
            next_attempt_at=now,
        )
    )


def _callback_body(
    conn: Connection,
    order_id: int,
    event_id: str,
    now: datetime,
    shipment_id: int | None,
    cancellation_id: int | None,
) -> dict[str, Any]:
    order = conn.execute(
        select(
            orders.c.id,
            orders.c.ref,
            orders.c.external_ref,
            orders.c.status,
            orders.c.shipping_method,
            orders.c.shipping_carrier,
            orders.c.shipping_tracking,
            orders.c.required_dispatch_date,
        ).where(orders.c.id == order_id)
    ).one()
    new_shipments = []
    if shipment_id is not None:
        shipment = conn.execute(select(shipments).where(shipments.c.id == shipment_id)).one()
        new_shipments.append(
            {
                "dispatch_datetime": format_utc(shipment.dispatch_datetime),
                "carrier": shipment.carrier,
                "tracking": shipment.tracking,
                "tracking_url": shipment.tracking_url,
                "items": _lines(conn, shipment_items, shipment_items.c.shipment_id, shipment_id),
            }
        )
    new_cancellations = []
    if cancellation_id is not None:
        reason = conn.execute(
            select(cancellations.c.reason).where(cancellations.c.id == cancellation_id)
        ).scalar()
        new_cancellations.append(
            {
                "reason": reason,
                "items": _lines(
                    conn, cancellation_items, cancellation_items.c.cancellation_id, cancellation_id
                ),
            }
        )
    due = order.required_dispatch_date
    return {
        "event_id": event_id,
        "occurred_at": format_utc(now),
        "id": order.id,
        "ref": order.ref,
        "external_ref": order.external_ref,
        "status": order.status,
        "status_name": ORDER_STATUSES.get(order.status),
        "shipping_method": order.shipping_method,
        "shipping_carrier": order.shipping_carrier,
        "shipping_tracking": order.shipping_tracking,
        "required_dispatch_date": due.isoformat() if due is not None else None,
        "new_shipments": new_shipments,
        "new_cancellations": new_cancellations,
    }


def _lines(conn: Connection, table: Any, key: Any, value: int) -> list[dict[str, Any]]:
    query = (
        select(order_items.c.id, order_items.c.ref, order_items.c.external_ref, table.c.quantity)
        .join_from(table, order_items, order_items.c.id == table.c.item_id)
        .where(key == value)
        .order_by(order_items.c.position, order_items.c.id)
    )
    return [
        {"id": r.id, "ref": r.ref, "external_ref": r.external_ref, "quantity": r.quantity}
        for r in conn.execute(query)
    ]
