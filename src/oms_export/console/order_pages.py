"""Order pages: search by ref or external ref, and one order with its items and events.

A viewer sees an order only when its company or its secondary company is one of the viewer's
companies that may export (API.md §3.1); any other order is 404, as if it did not exist, so
tampering with a URL tells nothing. An admin sees every order.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from sqlalchemy import Engine, or_, select
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from oms_export.console.pages import PageError, console, render, signed_in
from oms_export.console.users import ConsoleUser
from oms_export.db.schema import companies, orders
from oms_export.orders.store import locate
from oms_export.orders.views import events_view, order_view

router = APIRouter(include_in_schema=False)

SEARCH_LIMIT = 50


def _not_found() -> PageError:
    return PageError(404, "Not found", "No such order.")


def _visible(user: ConsoleUser) -> Any:
    """The SQL condition of the orders ``user`` may see (``True`` for an admin)."""
    if user.is_admin:
        return None
    ids = sorted(user.company_ids)
    return or_(orders.c.company_id.in_(ids), orders.c.secondary_company_id.in_(ids))


def search(engine: Engine, user: ConsoleUser, q: str) -> list[dict[str, Any]]:
    """Orders whose ref or external ref is ``q`` exactly, among those ``user`` may see."""
    query = (
        select(
            orders.c.id,
            orders.c.ref,
            orders.c.external_ref,
            orders.c.status,
            companies.c.ref_id.label("company_ref_id"),
        )
        .join(companies, companies.c.id == orders.c.company_id)
        .where(or_(orders.c.ref == q, orders.c.external_ref == q))
        .order_by(orders.c.id)
        .limit(SEARCH_LIMIT)
    )
    visible = _visible(user)
    if visible is not None:
        query = query.where(visible)
    with engine.connect() as conn:
        return [dict(row._mapping) for row in conn.execute(query)]


def read_order(engine: Engine, user: ConsoleUser, order_id: int) -> dict[str, Any] | None:
    """The order as the orders API shows it, with its events; ``None`` when ``user`` may not
    see it (or it does not exist)."""
    with engine.connect() as conn:
        found = locate(conn, order_id)
        if found is None:
            return None
        if user.is_admin:
            company_id = found.company_id
        else:
            mine = {found.company_id, found.secondary_company_id or 0} & user.company_ids
            if not mine:
                return None
            company_id = min(mine)
        order = order_view(conn, order_id, company_id)
        order["events"] = events_view(conn, order_id)
        return order


@router.get("/console/orders")
async def orders_page(request: Request, q: str = "") -> Response:
    session, user = await signed_in(request)
    q = q.strip()
    found = await run_in_threadpool(search, console(request).engine, user, q) if q else []
    return await render(request, "orders.html", session, user=user, q=q, found=found)


@router.get("/console/orders/{order_id}")
async def order_page(request: Request, order_id: str) -> Response:
    session, user = await signed_in(request)
    if not order_id.isdigit() or len(order_id) > 18:
        raise _not_found()
    order = await run_in_threadpool(read_order, console(request).engine, user, int(order_id))
    if order is None:
        raise _not_found()
    scalars = {k: v for k, v in order.items() if not isinstance(v, list | dict)}
    tables = {
        k: v
        for k, v in order.items()
        if isinstance(v, list) and k != "events" and all(isinstance(x, dict) for x in v)
    }
    return await render(
        request,
        "order.html",
        session,
        user=user,
        order=order,
        scalars=scalars,
        tables=tables,
        attributes=order.get("attributes", {}),
    )
