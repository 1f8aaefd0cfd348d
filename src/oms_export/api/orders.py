"""The orders API (API.md §6.2): thin routes over ``orders/``, one transaction per request.

Each route checks the token's scope before looking anything up, reads its body through
``api/bodies.py`` and ``orders/requests.py``, then runs its work on a pooled connection in a
worker thread: locate the order, check the caller's role on it (``orders/access.py``; none is the
404 of a missing order), apply the lifecycle, write, and answer with the order as it now is, read
in the same transaction. Changes run in ``writer`` transactions: on SQLite they queue for the
write lock, on PostgreSQL they lock the order's row (``orders/store.py``).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial
from typing import Any, Final, TypeVar

from fastapi import APIRouter, Request
from sqlalchemy import Connection, Engine
from sqlalchemy.exc import IntegrityError
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from oms_export.api.bodies import read_json
from oms_export.api.deps import bearer_token
from oms_export.api.openapi import SECURITY_SCHEME, error
from oms_export.api.responses import json_response
from oms_export.api.state import service_state
from oms_export.auth.principal import Principal
from oms_export.auth.scopes import ORDERS_FULFIL_SCOPE, ORDERS_WRITE_SCOPE
from oms_export.auth.tokens import resolve_token
from oms_export.db.engine import writer
from oms_export.errors import CompanyNotAllowed, InvalidRequest, NotFound
from oms_export.events.urls import check_url
from oms_export.orders import access, lifecycle, requests, store
from oms_export.orders.lifecycle import Role
from oms_export.orders.views import events_view, order_view, shipment_view

router = APIRouter(tags=["orders"])

T = TypeVar("T")
_MAX_ID: Final = 2**31 - 1
_EITHER: Final = (ORDERS_WRITE_SCOPE, ORDERS_FULFIL_SCOPE)

# --- OpenAPI --------------------------------------------------------------------------------


def _security(*scopes: str) -> list[dict[str, list[str]]]:
    return [{SECURITY_SCHEME: [scope]} for scope in scopes]


_ORDER = {"$ref": "#/components/schemas/Order"}
_LINES = {
    "type": "array",
    "minItems": 1,
    "items": {
        "type": "object",
        "properties": {
            "id": {"type": "integer", "minimum": 1},
            "quantity": {"type": "integer", "minimum": 1},
        },
        "required": ["id", "quantity"],
        "additionalProperties": False,
    },
    "description": "Items and units; left out, every remaining unit.",
}
_TEXT = {"type": "string", "maxLength": requests.MAX_TEXT}
_BODIES: Final[dict[str, dict[str, Any]]] = {
    "create": {
        "type": "object",
        "description": "An order in the import format (API.md §5), plus `status_callback_url`.",
        "properties": {
            "external_ref": {"type": "string", "minLength": 1, "maxLength": 255},
            "company_ref_id": {"type": "integer", "minimum": 1},
            "secondary_company_ref_id": {"type": "integer", "minimum": 1},
            "status": {"type": "integer", "enum": [1, 256]},
            "status_callback_url": {"type": "string", "format": "uri"},
            "items": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "sku": {"type": "string", "minLength": 1},
                        "quantity": {"type": "integer", "minimum": 1},
                    },
                    "required": ["sku", "quantity"],
                },
            },
        },
        "required": ["external_ref", "company_ref_id"],
    },
    "status": {
        "type": "object",
        "properties": {
            "status": {"type": "integer", "enum": sorted(lifecycle.LIFECYCLE)},
            "shipping_method": _TEXT,
            "shipping_carrier": _TEXT,
            "shipping_tracking": _TEXT,
        },
        "required": ["status"],
        "additionalProperties": False,
    },
    "shipment": {
        "type": "object",
        "properties": {
            "items": _LINES,
            "carrier": _TEXT,
            "tracking": _TEXT,
            "tracking_url": {"type": "string", "format": "uri"},
            "dispatch_datetime": {"type": "string"},
        },
        "additionalProperties": False,
    },
    "cancellation": {
        "type": "object",
        "properties": {
            "items": _LINES,
            "reason": {"type": "string", "maxLength": requests.MAX_REASON},
        },
        "additionalProperties": False,
    },
}


def _body(name: str) -> dict[str, Any]:
    return {"required": True, "content": {"application/json": {"schema": _BODIES[name]}}}


def _answers(ok: int, ok_text: str, ok_schema: dict[str, Any], *, body: bool) -> dict[Any, Any]:
    answers: dict[Any, Any] = {
        ok: {"description": ok_text, "content": {"application/json": {"schema": ok_schema}}},
        400: error("`invalid_request`: a parameter or the body is wrong; `parameter` names the "
                   "JSON path at fault."),
        401: error("`invalid_token`: missing, unknown or expired bearer token."),
        403: error("`insufficient_scope`, or `company_not_allowed` for another's company."),
        404: error("`not_found`: no such order, or one this client may not act on."),
        503: error("`temporarily_unavailable`: every database connection is busy.",
                   retry_after=True),
    }  # fmt: skip
    if body:
        answers[409] = error("`invalid_transition` or `duplicate_order`.")
        answers[413] = error("`payload_too_large`: the body is over 1 MiB.")
        answers[415] = error("`unsupported_media_type`: the body is not `application/json`.")
    return answers


# --- plumbing -------------------------------------------------------------------------------


async def _principal(request: Request, scopes: tuple[str, ...]) -> Principal:
    state = service_state(request)
    principal = await run_in_threadpool(resolve_token, state.control_engine, bearer_token(request))
    access.require_scope(principal, scopes)
    return principal


def _engine(request: Request) -> Engine:
    return service_state(request).engine


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None, microsecond=0)


_ID_PARAMETER: Final = {
    "name": "order_id",
    "in": "path",
    "required": True,
    "schema": {"type": "integer", "minimum": 1, "maximum": _MAX_ID},
}
"""Read from the path by ``_order_id``, not by FastAPI, so a bad one is our 400 naming `id`."""


def _order_id(request: Request) -> int:
    raw: str = request.path_params["order_id"]
    if not raw.isascii() or not raw.isdigit():
        raise InvalidRequest(
            f"The order id must be a whole number, not {raw[:40]!r}.", parameter="id"
        )
    return int(raw)


def _not_found(order_id: int) -> NotFound:
    return NotFound(f"No order {order_id} is visible to this client.")


def _located(
    conn: Connection, principal: Principal, order_id: int
) -> tuple[store.Located, set[Role]]:
    """The order and the caller's roles on it; a caller with none gets the missing order's 404."""
    located = store.locate(conn, order_id) if order_id <= _MAX_ID else None
    held = (
        access.roles(principal, located.company_id, located.secondary_company_id)
        if located is not None
        else set()
    )
    if located is None or not held:
        raise _not_found(order_id)
    return located, held


async def _read(request: Request, work: Callable[[Connection], T]) -> T:
    def run() -> T:
        with _engine(request).connect() as conn:
            return work(conn)

    return await run_in_threadpool(run)


async def _change(request: Request, work: Callable[[Connection], T]) -> T:
    def run() -> T:
        with writer(_engine(request)).begin() as conn:
            return work(conn)

    return await run_in_threadpool(run)


def _order_answer(order: dict[str, Any], status: int = 200) -> Response:
    return json_response(order, status=status)


# --- routes ---------------------------------------------------------------------------------


@router.post(
    "/orders",
    status_code=201,
    response_class=Response,
    responses=_answers(201, "Created; `Location` names it. 200 when the same order existed.",
                       _ORDER, body=True),
    openapi_extra={"requestBody": _body("create"), "security": _security(ORDERS_WRITE_SCOPE)},
)  # fmt: skip
async def create_order(request: Request) -> Response:
    """Create an order, or get the one this external ref already made with the same content."""
    principal = await _principal(request, (ORDERS_WRITE_SCOPE,))
    asked = requests.parse_create(await read_json(request))
    mine = {grant.ref_id: grant.id for grant in principal.companies}
    company_id = mine.get(asked.record.company_ref_id)
    if company_id is None:
        raise CompanyNotAllowed(
            f"company_ref_id {asked.record.company_ref_id} is not one of this client's "
            "companies; an order is created for the client's own companies only.",
            parameter="company_ref_id",
        )
    if asked.status_callback_url is not None:  # DNS may block: off the event loop
        await run_in_threadpool(
            partial(
                check_url,
                asked.status_callback_url,
                allow_private=service_state(request).settings.callback_allow_private,
                parameter="status_callback_url",
            )
        )
    now = _now()

    def work(conn: Connection) -> tuple[dict[str, Any], bool]:
        order_id, created = store.create(conn, asked, company_id, now)
        return order_view(conn, order_id, company_id), created

    try:
        order, created = await _change(request, work)
    except IntegrityError:
        # An identical create committed first (PostgreSQL): now it is found, and compared.
        order, created = await _change(request, work)
    return json_response(
        order, status=201 if created else 200, headers={"Location": f"/orders/{order['id']}"}
    )


@router.get(
    "/orders",
    response_class=Response,
    responses=_answers(200, "The order.", _ORDER, body=False),
    openapi_extra={
        "parameters": [
            {"name": "company_ref_id", "in": "query", "required": True,
             "schema": {"type": "integer", "minimum": 1}},
            {"name": "external_ref", "in": "query", "required": True,
             "schema": {"type": "string", "minLength": 1, "maxLength": 255}},
        ],
        "security": _security(*_EITHER),
    },
)  # fmt: skip
async def find_order(request: Request) -> Response:
    """One order by its company and external ref; 404 unless visible to the caller."""
    principal = await _principal(request, _EITHER)
    company_ref_id, external_ref = _lookup_parameters(request)

    def work(conn: Connection) -> dict[str, Any]:
        located = store.locate_by_external_ref(conn, company_ref_id, external_ref)
        if located is None or not access.roles(
            principal, located.company_id, located.secondary_company_id
        ):
            raise NotFound(
                f"No order with company_ref_id {company_ref_id} and external_ref "
                f"{external_ref!r} is visible to this client."
            )
        return order_view(conn, located.id, located.company_id)

    return _order_answer(await _read(request, work))


def _lookup_parameters(request: Request) -> tuple[int, str]:
    pairs = request.query_params.multi_items()
    for key, _ in pairs:
        if key not in ("company_ref_id", "external_ref"):
            raise InvalidRequest(
                f"Unknown parameter `{key[:40]}`; this lookup takes company_ref_id and "
                "external_ref.",
                parameter=key[:255],
            )
    values: dict[str, str] = {}
    for key, value in pairs:
        if key in values:
            raise InvalidRequest(f"`{key}` is given twice.", parameter=key)
        values[key] = value
    for key in ("company_ref_id", "external_ref"):
        if not values.get(key):
            raise InvalidRequest(f"`{key}` is required.", parameter=key)
    raw_company = values["company_ref_id"]
    if not raw_company.isascii() or not raw_company.isdigit() or int(raw_company) > _MAX_ID:
        raise InvalidRequest(
            "`company_ref_id` must be a whole number from 1 to 2147483647.",
            parameter="company_ref_id",
        )
    return int(raw_company), values["external_ref"]


@router.get(
    "/orders/{order_id}",
    response_class=Response,
    responses=_answers(200, "The order.", _ORDER, body=False),
    openapi_extra={"parameters": [_ID_PARAMETER], "security": _security(*_EITHER)},
)
async def get_order(request: Request) -> Response:
    """One order, with its items, their shipments and quantities."""
    principal = await _principal(request, _EITHER)
    wanted = _order_id(request)

    def work(conn: Connection) -> dict[str, Any]:
        located, _ = _located(conn, principal, wanted)
        return order_view(conn, located.id, located.company_id)

    return _order_answer(await _read(request, work))


@router.put(
    "/orders/{order_id}/status",
    response_class=Response,
    responses=_answers(200, "The order, moved (or as it was, for its own status).", _ORDER,
                       body=True),
    openapi_extra={"parameters": [_ID_PARAMETER], "requestBody": _body("status"),
                   "security": _security(ORDERS_FULFIL_SCOPE)},
)  # fmt: skip
async def move_order(request: Request) -> Response:
    """Move the order's status (its fulfiller); 8 ships and 128 cancels every remaining unit."""
    principal = await _principal(request, (ORDERS_FULFIL_SCOPE,))
    wanted = _order_id(request)
    asked = requests.parse_status(await read_json(request))
    now = _now()

    def work(conn: Connection) -> dict[str, Any]:
        located = _fulfilled(conn, principal, wanted)
        loaded = store.load(conn, wanted)
        change = lifecycle.move(loaded.order, asked.status, by=Role.FULFILLER, now=now)
        shipment = {
            "carrier": asked.shipping.get("shipping_carrier"),
            "tracking": asked.shipping.get("shipping_tracking"),
        }
        store.write(conn, loaded, change, now=now, order_values=asked.shipping, shipment=shipment)
        return order_view(conn, located.id, located.company_id)

    return _order_answer(await _change(request, work))


def _fulfilled(conn: Connection, principal: Principal, order_id: int) -> store.Located:
    located, held = _located(conn, principal, order_id)
    if Role.FULFILLER not in held:
        raise _not_found(order_id)
    return located


@router.post(
    "/orders/{order_id}/shipments",
    status_code=201,
    response_class=Response,
    responses=_answers(201, "The shipment and the order.", {
        "type": "object",
        "properties": {"shipment": {"type": "object"}, "order": _ORDER},
    }, body=True),
    openapi_extra={"parameters": [_ID_PARAMETER], "requestBody": _body("shipment"),
                   "security": _security(ORDERS_FULFIL_SCOPE)},
)  # fmt: skip
async def ship_order(request: Request) -> Response:
    """Record a shipment of some or all units; the last one dispatches the order."""
    principal = await _principal(request, (ORDERS_FULFIL_SCOPE,))
    wanted = _order_id(request)
    now = _now()
    asked = requests.parse_shipment(await read_json(request), now=now)

    def work(conn: Connection) -> dict[str, Any]:
        located = _fulfilled(conn, principal, wanted)
        loaded = store.load(conn, wanted)
        change = lifecycle.ship(
            loaded.order, asked.lines, dispatch_datetime=asked.dispatch_datetime or now
        )
        shipment = {
            "carrier": asked.carrier,
            "tracking": asked.tracking,
            "tracking_url": asked.tracking_url,
        }
        shipment_id = store.write(conn, loaded, change, now=now, shipment=shipment)
        assert shipment_id is not None  # ``ship`` refuses a shipment of nothing
        return {
            "shipment": shipment_view(conn, shipment_id),
            "order": order_view(conn, located.id, located.company_id),
        }

    return json_response(await _change(request, work), status=201)


@router.post(
    "/orders/{order_id}/cancellations",
    status_code=201,
    response_class=Response,
    responses=_answers(201, "The order, with the units cancelled.", _ORDER, body=True),
    openapi_extra={
        "parameters": [_ID_PARAMETER],
        "requestBody": _body("cancellation"),
        "security": _security(*_EITHER),
    },
)
async def cancel_order(request: Request) -> Response:
    """Cancel some or all remaining units: its retailer while it is 1, 256 or 32, its
    fulfiller until it is dispatched."""
    principal = await _principal(request, _EITHER)
    wanted = _order_id(request)
    asked = requests.parse_cancellation(await read_json(request))
    now = _now()

    def work(conn: Connection) -> dict[str, Any]:
        located, held = _located(conn, principal, wanted)
        role = access.canceller(held)
        assert role is not None  # _located refuses a caller with no role
        loaded = store.load(conn, wanted)
        change = lifecycle.cancel(loaded.order, asked.lines, by=role)
        store.write(conn, loaded, change, now=now, reason=asked.reason)
        return order_view(conn, located.id, located.company_id)

    return _order_answer(await _change(request, work), status=201)


@router.get(
    "/orders/{order_id}/events",
    response_class=Response,
    responses=_answers(200, "The order's change events and their delivery attempts, oldest first.",
                       {"type": "array", "items": {"type": "object"}}, body=False),
    openapi_extra={"parameters": [_ID_PARAMETER], "security": _security(*_EITHER)},
)  # fmt: skip
async def order_events(request: Request) -> Response:
    """The order's events (API.md §7), oldest first, with their delivery attempts."""
    principal = await _principal(request, _EITHER)
    wanted = _order_id(request)

    def work(conn: Connection) -> list[dict[str, Any]]:
        _located(conn, principal, wanted)
        return events_view(conn, wanted)

    return json_response(await _read(request, work))
