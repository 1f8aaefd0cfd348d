"""What the orders API tests (API.md §6) share: the companies and clients of a store, order
bodies, the calls as a client makes them, and the store's own counts to check answers against.

The cast, on every store alike::

    1001  retailer  (order_manager): its orders are fulfilled by 2001 unless a test says otherwise
    2001  fulfiller (enterprise)
    4001  rival     (enterprise): another retailer, fulfilling its own orders

Every call goes over real HTTP with a token asked of ``POST /token`` as a client asks for it
(no ``scope``: every scope the client holds).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

import httpx
from sqlalchemy import Engine, func, select

from oms_export.auth.clients import create_client
from oms_export.auth.scopes import EXPORT_SCOPE, ORDERS_FULFIL_SCOPE, ORDERS_WRITE_SCOPE
from oms_export.db import schema
from oms_export.settings import Settings
from tests import factories as f
from tests.conftest import TEST_SECRET_KEY
from tests.live import bearer

WRITE: Final = ORDERS_WRITE_SCOPE
FULFIL: Final = ORDERS_FULFIL_SCOPE
EXPORT: Final = EXPORT_SCOPE

RETAILER: Final = 1001
FULFILLER: Final = 2001
RIVAL: Final = 4001

CALLBACK_URL: Final = "https://93.184.215.14/oms/status"
"""A public address written as an IP, so no name has to resolve where the tests run (§7 refuses
private and loopback hosts)."""

DATETIME: Final = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}")

Lines = Sequence[tuple[int, int]]
"""Shipment or cancellation lines: (item id, units)."""


@dataclass(frozen=True)
class Api:
    """One client's side of the service: an HTTP connection and the client's bearer token
    (``""``: no token at all)."""

    http: httpx.Client
    token: str

    @property
    def auth(self) -> dict[str, str]:
        """The Authorization header; none at all for an empty token (an anonymous caller)."""
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}

    def create(self, body: Any) -> httpx.Response:
        return self.http.post("/orders", json=body, headers=self.auth)

    def get(self, order_id: int | str) -> httpx.Response:
        return self.http.get(f"/orders/{order_id}", headers=self.auth)

    def find(self, company_ref_id: int | str, external_ref: str) -> httpx.Response:
        return self.http.get(
            "/orders",
            params={"company_ref_id": str(company_ref_id), "external_ref": external_ref},
            headers=self.auth,
        )

    def move(self, order_id: int | str, status: Any, **extra: Any) -> httpx.Response:
        return self.http.put(
            f"/orders/{order_id}/status", json={"status": status, **extra}, headers=self.auth
        )

    def ship(self, order_id: int | str, lines: Lines | None = None, **extra: Any) -> httpx.Response:
        return self.http.post(
            f"/orders/{order_id}/shipments", json=with_lines(lines, extra), headers=self.auth
        )

    def cancel(
        self, order_id: int | str, lines: Lines | None = None, **extra: Any
    ) -> httpx.Response:
        return self.http.post(
            f"/orders/{order_id}/cancellations", json=with_lines(lines, extra), headers=self.auth
        )

    def events(self, order_id: int | str) -> httpx.Response:
        return self.http.get(f"/orders/{order_id}/events", headers=self.auth)

    def send(
        self,
        method: str,
        path: str,
        content: Any,
        content_type: str | None = "application/json",
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        """A body sent byte for byte as given (bytes, or an iterator of bytes: chunked)."""
        sent = {**self.auth, **(headers or {})}
        if content_type is not None:
            sent["Content-Type"] = content_type
        return self.http.request(method, path, content=content, headers=sent)

    def order(self, order_id: int) -> dict[str, Any]:
        """The order as this client reads it now; the read must succeed."""
        response = self.get(order_id)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body


def with_lines(lines: Lines | None, extra: dict[str, Any]) -> dict[str, Any]:
    """A shipment or cancellation body; ``lines`` ``None`` leaves ``items`` out (every unit)."""
    if lines is None:
        return dict(extra)
    return {"items": [{"id": item, "quantity": units} for item, units in lines], **extra}


def cast(engine: Engine) -> None:
    """The three companies of the module docstring."""
    f.company(engine, RETAILER, "order_manager", name="Acme Prints")
    f.company(engine, FULFILLER, "enterprise", name="Drop Co")
    f.company(engine, RIVAL, "enterprise", name="Rival")


def api_for(
    engine: Engine,
    settings: Settings,
    http: httpx.Client,
    companies: Sequence[int],
    scopes: Sequence[str],
    name: str = "orders-test",
) -> Api:
    """A new client of ``companies`` holding ``scopes``, with a token of every scope it holds."""
    client = create_client(
        engine, settings, name=name, company_ref_ids=list(companies), scopes=list(scopes)
    )
    return Api(http, bearer(http, client))


def order_body(
    external_ref: str = "WEB-1",
    company_ref_id: int = RETAILER,
    *,
    fulfiller: int | None = FULFILLER,
    quantities: Sequence[int] = (2, 1),
    **fields: Any,
) -> dict[str, Any]:
    """An order in the import format of §5, one item per quantity, fulfilled by ``fulfiller``
    (``None``: by the retailer itself)."""
    body: dict[str, Any] = {
        "external_ref": external_ref,
        "company_ref_id": company_ref_id,
        "customer_name": "Ada Lovelace",
        "shipping_country_code": "GB",
        "sale_datetime": "2024-05-01 09:30:00",
        "shipping_price": 3.99,
        "attributes": [{"name": "channel", "value": "web"}],
        "items": [
            {
                "external_ref": f"{external_ref}-{n}",
                "sku": f"SKU-{n}",
                "quantity": quantity,
                "unit_sale_price": 12.5,
            }
            for n, quantity in enumerate(quantities)
        ],
    }
    if fulfiller is not None:
        body["secondary_company_ref_id"] = fulfiller
    body.update(fields)
    return body


def created(api: Api, body: dict[str, Any]) -> dict[str, Any]:
    """Create ``body``'s order; the create must answer 201."""
    response = api.create(body)
    assert response.status_code == 201, response.text
    order: dict[str, Any] = response.json()
    return order


def item_ids(order: dict[str, Any]) -> list[int]:
    return [item["id"] for item in order["items"]]


def refusal(response: httpx.Response) -> tuple[int, str, str | None]:
    """An error answer as (status, ``error``, ``parameter``), after checking it is a JSON error
    body of §3.6."""
    assert response.headers["content-type"].startswith("application/json"), response.text
    body = response.json()
    assert isinstance(body.get("error"), str), body
    assert isinstance(body.get("error_description"), str), body
    return response.status_code, body["error"], body.get("parameter")


def moment(text: str) -> datetime:
    """A datetime of an answer (``"YYYY-MM-DD HH:MM:SS"``, UTC)."""
    assert DATETIME.fullmatch(text), text
    return datetime.strptime(text, "%Y-%m-%d %H:%M:%S")


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None, microsecond=0)


def without_id(text: str, order_id: int | str) -> str:
    """An answer's text with one id replaced by a placeholder, to compare the answers about two
    ids."""
    return re.sub(rf"(?<![0-9]){re.escape(str(order_id))}(?![0-9])", "{id}", text)


@dataclass(frozen=True)
class ItemCounts:
    """One item as the store holds it: its columns and the sums of its shipment and
    cancellation lines."""

    id: int
    quantity: int
    shipped_quantity: int
    cancelled_quantity: int
    shipment_lines: int
    cancellation_lines: int


def item_counts(engine: Engine, order_id: int) -> list[ItemCounts]:
    items = schema.order_items
    shipped = (
        select(func.coalesce(func.sum(schema.shipment_items.c.quantity), 0))
        .where(schema.shipment_items.c.item_id == items.c.id)
        .scalar_subquery()
    )
    cancelled = (
        select(func.coalesce(func.sum(schema.cancellation_items.c.quantity), 0))
        .where(schema.cancellation_items.c.item_id == items.c.id)
        .scalar_subquery()
    )
    query = (
        select(
            items.c.id,
            items.c.quantity,
            items.c.shipped_quantity,
            items.c.cancelled_quantity,
            shipped,
            cancelled,
        )
        .where(items.c.order_id == order_id)
        .order_by(items.c.id)
    )
    with engine.connect() as conn:
        return [ItemCounts(*(int(value) for value in row)) for row in conn.execute(query)]


def assert_store_consistent(engine: Engine, order_id: int) -> list[ItemCounts]:
    """The store's invariants of one order: no item past its quantity, and each item's counters
    equal to the sums of its shipment and cancellation lines."""
    counts = item_counts(engine, order_id)
    for item in counts:
        assert item.shipped_quantity + item.cancelled_quantity <= item.quantity, item
        assert item.shipment_lines == item.shipped_quantity, item
        assert item.cancellation_lines == item.cancelled_quantity, item
    return counts


def orders_named(engine: Engine, company_ref_id: int, external_ref: str) -> int:
    """How many orders the store holds for (company, external ref)."""
    query = (
        select(func.count())
        .select_from(schema.orders.join(schema.companies, schema.companies.c.id == schema.orders.c.company_id))
        .where(schema.companies.c.ref_id == company_ref_id, schema.orders.c.external_ref == external_ref)
    )  # fmt: skip
    with engine.connect() as conn:
        return int(conn.execute(query).scalar_one())


def order_count(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(schema.orders)).scalar_one())


def unlimited(database_url: str) -> Settings:
    """Test settings without the per-client rate limits, for tests that send many requests."""
    return Settings(
        database_url=database_url,
        secret_key=TEST_SECRET_KEY,
        rate_limit_per_minute=0,
        token_issue_limit_per_minute=0,
    )
