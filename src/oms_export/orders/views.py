"""Orders as the orders API and its events show them (API.md §6.2): read, never written here.

An order is the export's query for that one order with every option on, folded by
``shape=orders``: the answer has the export's keys and values by construction, plus what only
the orders API shows (``status_callback_url``, each item's ``shipments``).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy import Connection, select

from oms_export.datetimes import format_utc
from oms_export.db.schema import event_attempts, events, orders, shipment_items, shipments
from oms_export.export.params import ExportQuery, Filter
from oms_export.export.query import build_plan
from oms_export.export.rows import row_builder
from oms_export.export.shapes import nest_orders
from oms_export.export.tenancy import Entitlement
from oms_export.fields import OPTIONS

EVERY_OPTION = frozenset(OPTIONS)


def order_view(conn: Connection, order_id: int, company_id: int) -> dict[str, Any]:
    """The order as every answer of the orders API shows it (see the module docstring)."""
    query = ExportQuery(
        filters=(Filter("id", "eq", (order_id,), "id"),),
        options=EVERY_OPTION,
        shape="orders",
    )
    entitled = Entitlement(company_ids=frozenset({company_id}), excluded_ref_ids=())
    plan = build_plan(conn, query, entitled)
    build = row_builder(plan, dialect=conn.dialect.name)
    rows = [build(raw) for raw in conn.execute(plan.statement)]
    (order,) = next(nest_orders([rows]))
    order["status_callback_url"] = conn.execute(
        select(orders.c.status_callback_url).where(orders.c.id == order_id)
    ).scalar()
    order.setdefault("attributes", {})  # the export leaves it out when no order has any
    by_item = _item_shipments(conn, order_id)
    for item in order["items"]:
        item.setdefault("attributes", {})
        item["shipments"] = by_item.get(item["id"], [])
    return order


def _item_shipments(conn: Connection, order_id: int) -> dict[int, list[dict[str, Any]]]:
    query = (
        select(
            shipment_items.c.item_id,
            shipments.c.id,
            shipments.c.dispatch_datetime,
            shipments.c.carrier,
            shipments.c.tracking,
            shipments.c.tracking_url,
            shipment_items.c.quantity,
        )
        .join_from(shipments, shipment_items, shipment_items.c.shipment_id == shipments.c.id)
        .where(shipments.c.order_id == order_id)
        .order_by(shipments.c.dispatch_datetime, shipments.c.id)
    )
    by_item: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for row in conn.execute(query):
        by_item[row.item_id].append(
            {
                "id": row.id,
                "dispatch_datetime": format_utc(row.dispatch_datetime),
                "carrier": row.carrier,
                "tracking": row.tracking,
                "tracking_url": row.tracking_url,
                "quantity": row.quantity,
            }
        )
    return by_item


def shipment_view(conn: Connection, shipment_id: int) -> dict[str, Any]:
    """A shipment as ``POST /orders/{id}/shipments`` answers it, with its lines."""
    row = conn.execute(select(shipments).where(shipments.c.id == shipment_id)).one()
    lines = conn.execute(
        select(shipment_items.c.item_id, shipment_items.c.quantity)
        .where(shipment_items.c.shipment_id == shipment_id)
        .order_by(shipment_items.c.item_id)
    ).all()
    return {
        "id": row.id,
        "dispatch_datetime": format_utc(row.dispatch_datetime),
        "carrier": row.carrier,
        "tracking": row.tracking,
        "tracking_url": row.tracking_url,
        "items": [{"id": item_id, "quantity": quantity} for item_id, quantity in lines],
    }


def events_view(conn: Connection, order_id: int) -> list[dict[str, Any]]:
    """The order's events, oldest first, each with its delivery attempts (API.md §7)."""
    found = conn.execute(
        select(
            events.c.id,
            events.c.event_id,
            events.c.kind,
            events.c.occurred_at,
            events.c.status,
            events.c.state,
        )
        .where(events.c.order_id == order_id)
        .order_by(events.c.id)
    ).all()
    attempts: dict[int, list[dict[str, Any]]] = defaultdict(list)
    if found:
        rows = conn.execute(
            select(
                event_attempts.c.event_id,
                event_attempts.c.at,
                event_attempts.c.status_code,
                event_attempts.c.error,
            )
            .where(event_attempts.c.event_id.in_([row.id for row in found]))
            .order_by(event_attempts.c.id)
        )
        for row in rows:
            attempts[row.event_id].append(
                {"at": format_utc(row.at), "status_code": row.status_code, "error": row.error}
            )
    return [
        {
            "event_id": row.event_id,
            "kind": row.kind,
            "occurred_at": format_utc(row.occurred_at),
            "status": row.status,
            "state": row.state,
            "attempts": attempts[row.id],
        }
        for row in found
    ]
