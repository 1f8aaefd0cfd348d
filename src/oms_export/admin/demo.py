"""The deterministic demo data set: every subscription level, order status and item status.

Same ``seed`` and ``orders`` give the same rows, ids and refs on SQLite and PostgreSQL, and a
smaller set is a prefix of a larger one with the same seed (products come first, then orders one
after another from one random stream). Rows are generated in batches and written with Core
executemany inside one transaction, bypassing the per-record import, so a million orders load in
minutes; the whole load is atomic.

The orders follow the lifecycle of API.md §6.3 (``orders/lifecycle.py``): each item's status is
``lifecycle.item_status`` of its quantities and its order's status; on a dispatched order (8, 64)
every unit is shipped, in one shipment per order dispatched at its ``completion_datetime`` (the
few dispatched orders left without a completion time, as a source that gave none leaves them,
have their units shipped but no shipment, since there is no dispatch time to give); on a
cancelled one (128) every unit is cancelled, in one cancellation at its ``updated_datetime``.
Every other value is drawn as it was before the lifecycle came, so a seed gives the same export.

The demo refuses a store that already holds companies, products or orders (its ids and company
ref ids are fixed, so it could only collide): load it into a new database. ``demo_credentials``
is the gentler entry for ``serve --demo``: it loads into an empty store, and on a store the demo
already filled it gives the demo clients new secrets instead.

Companies (``DEMO_COMPANIES``): merchants 1001 enterprise, 1002 order_manager, 1003 oms_lite,
1004 free; sales channels 2001 order_manager, 2002 free; dropshippers 3001 enterprise, 3002
oms_lite; product owner 4001 free. The demo client is tied to 1001, 1002, 2001, 3001 (the ones
that may export) and 1004 (free, so ``Export-Excluded-Companies: 1004`` shows).

Beside the export client, two clients of the orders API (§6), one per role (``DEMO_ROLES``): the
retailer ``demo-retailer`` (``orders.write``, tied to merchant 1001 Acme Prints) creates orders and
cancels them while cancellable; the fulfiller ``demo-fulfiller`` (``orders.fulfil``, tied to
dropshipper 3001 DropShip Direct) moves, ships and cancels the orders 3001 fulfils. Example::

    loaded = load_demo(engine, settings, orders=100)
    loaded["client_id"], loaded["retailer"]["scope"]  # ('…', 'orders.write')
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, Final

from sqlalchemy import Connection, Engine, func, insert, select, text

from oms_export.admin.imports import item_ref, order_ref
from oms_export.auth.clients import create_client, list_clients, rotate_secret
from oms_export.auth.scopes import EXPORT_SCOPE, ORDERS_FULFIL_SCOPE, ORDERS_WRITE_SCOPE
from oms_export.db.engine import writer
from oms_export.db.schema import (
    EXPORTING_LEVELS,
    cancellation_items,
    cancellations,
    companies,
    item_attributes,
    order_attributes,
    order_items,
    product_ecommerce,
    product_prices,
    products,
    shipment_items,
    shipments,
)
from oms_export.db.schema import orders as orders_table
from oms_export.errors import OmsExportError
from oms_export.orders import lifecycle, report_totals
from oms_export.settings import Settings
from oms_export.statuses import ITEM_STATUSES, ORDER_STATUSES

DEMO_CLIENT_NAME: Final = "demo"
DEMO_COMPANIES: Final = (
    # ref_id, name, subscription, role
    (1001, "Acme Prints", "enterprise", "merchant"),
    (1002, "Bolt Apparel", "order_manager", "merchant"),
    (1003, "Cedar Gifts", "oms_lite", "merchant"),
    (1004, "Dune Goods", "free", "merchant"),
    (2001, "MarketHub", "order_manager", "sales channel"),
    (2002, "ShopStream", "free", "sales channel"),
    (3001, "DropShip Direct", "enterprise", "dropship"),
    (3002, "Fulfil Fast", "oms_lite", "dropship"),
    (4001, "Print Supply Co", "free", "product owner"),
)
DEMO_CLIENT_COMPANIES: Final = (1001, 1002, 2001, 3001, 1004)


@dataclass(frozen=True)
class DemoRole:
    """A demo client of the orders API (§6): one per role, tied to one company."""

    key: str
    """Its key in the printout (``"retailer"``)."""
    name: str
    company_ref_id: int
    scope: str
    purpose: str
    """What it is for, in one line of ``serve --demo``'s printout."""


DEMO_ROLES: Final = (
    DemoRole(
        "retailer",
        "demo-retailer",
        1001,
        ORDERS_WRITE_SCOPE,
        "creates orders of 1001 Acme Prints (POST /orders), reads them, and cancels them "
        "while they are Received, On Hold or in QC Query",
    ),
    DemoRole(
        "fulfiller",
        "demo-fulfiller",
        3001,
        ORDERS_FULFIL_SCOPE,
        "moves, ships and cancels the orders 3001 DropShip Direct fulfils "
        "(PUT /orders/{id}/status, POST /orders/{id}/shipments)",
    ),
)
PRODUCT_IDS: Final = range(501, 701)
BATCH_ORDERS: Final = 2000

_COMPANY_ID: Final = {ref: n for n, (ref, *_rest) in enumerate(DEMO_COMPANIES, 1)}
_MERCHANTS: Final = (1001, 1001, 1001, 1001, 1002, 1002, 1002, 1003, 1003, 1004)
_SECONDARIES: Final = (2001, 2002, 3001, 3002)
_COMPLETED: Final = frozenset({8, 64, 128, 520})
_DISPATCHED: Final = frozenset({lifecycle.DISPATCHED, 64})  # every unit shipped
_START: Final = datetime(2023, 1, 1)
_CENT: Final = Decimal("0.01")
_VAT: Final = Decimal("0.2")
_FIRST = ("Ada", "Ben", "Chloe", "Dev", "Elena", "Finn", "Grace", "Hugo", "Isla", "Jon")
_LAST = ("Archer", "Baker", "Clarke", "Dawson", "Evans", "Fisher", "Green", "Hughes")
_STREETS = ("High Street", "Station Road", "Church Lane", "Mill Road", "Park Avenue")
_TOWNS = (("London", "GB"), ("Leeds", "GB"), ("Dublin", "IE"), ("Lyon", "FR"), ("Berlin", "DE"))
_GARMENTS = ("T-Shirt", "Hoodie", "Tote Bag", "Mug", "Poster", "Cap")
_SIZES = ("S", "M", "L", "XL", None)
_COLOURS = ("Black", "White", "Navy", "Red", None)
_SHIPPING = (("Standard", "Royal Mail"), ("Express", "DPD"), ("Next Day", "UPS"))


class StoreNotEmpty(OmsExportError):
    """The demo loads only into a store without companies, products or orders."""

    error = "store_not_empty"


@dataclass(frozen=True)
class _Product:
    id: int
    sku: str
    description: str
    price: Decimal
    cost: Decimal


def _money(rng: random.Random, low: int, high: int) -> Decimal:
    """A price between ``low`` and ``high`` pounds ending in .49 or .99, exact."""
    return Decimal(rng.randrange(low, high)) + rng.choice((Decimal("0.49"), Decimal("0.99")))


def _inc_tax(amount: Decimal) -> Decimal:
    return (amount * (1 + _VAT)).quantize(_CENT)


def _products(rng: random.Random) -> tuple[list[_Product], dict[str, list[dict[str, Any]]]]:
    catalogue: list[_Product] = []
    rows: dict[str, list[dict[str, Any]]] = {"products": [], "prices": [], "ecommerce": []}
    for pid in PRODUCT_IDS:
        garment = _GARMENTS[pid % len(_GARMENTS)]
        price = _money(rng, 5, 40)
        product = _Product(
            pid,
            f"{garment[:3].upper()}-{pid}",
            f"{garment} #{pid}",
            price,
            (price * Decimal("0.4")).quantize(_CENT),
        )
        catalogue.append(product)
        owner = rng.choice((1001, 1002, 4001, None))
        rows["products"].append(
            {
                "id": pid,
                "owner_company_id": None if owner is None else _COMPANY_ID[owner],
                "source_hash": None,
            }
        )
        if rng.random() < 0.75:
            currency = rng.choice(("GBP", "GBP", "EUR"))
            lists = [("product", ref) for ref in (1001, 1002) if rng.random() < 0.7]
            lists.append(("base", owner or 1001))
            for price_list, ref in lists:
                for quantity, discount in ((1, 100), (10, 90), (50, 80))[: rng.randint(1, 3)]:
                    rows["prices"].append(
                        {
                            "id": len(rows["prices"]) + 1,
                            "product_id": pid,
                            "price_list": price_list,
                            "company_id": _COMPANY_ID[ref],
                            "currency": currency,
                            "quantity": quantity,
                            "rrp": None if rng.random() < 0.1 else _inc_tax(price) * 2,
                            "price": (price * discount / 100).quantize(_CENT),
                        }
                    )
        if rng.random() < 0.6:
            rows["ecommerce"].append(
                {
                    "product_id": pid,
                    "sales_description": f"{garment}, printed to order",
                    "sales_description_long": None
                    if rng.random() < 0.3
                    else f"A {garment.lower()} printed on demand; ethically made.",
                    "weight": Decimal(rng.randrange(50, 900)) / 1000,
                    "hs_code": "6109100010",
                    "tax_code": rng.choice(("A", "B", None)),
                    "website_category_details": f"{garment}s > All",
                    "notes": None,
                    "barcode": f"50{pid:011d}",
                    "dimensions": rng.choice(("30x20x2 cm", "10x10x10 cm", None)),
                }
            )
    return catalogue, rows


def _order(rng: random.Random, n: int, order_id: int) -> dict[str, Any]:
    codes = tuple(ORDER_STATUSES)
    status = codes[n] if n < len(codes) else rng.choice(codes)
    merchant = rng.choice(_MERCHANTS)
    secondary = rng.choice(_SECONDARIES) if rng.random() < 0.4 else None
    first, last = rng.choice(_FIRST), rng.choice(_LAST)
    town, country = rng.choice(_TOWNS)
    sale = _START + timedelta(seconds=order_id * 97 + rng.randrange(90))
    method, carrier = rng.choice(_SHIPPING)
    shipping = rng.choice((Decimal(0), Decimal("3.99"), Decimal("4.99"), Decimal("9.99")))
    free = rng.random() < 0.03
    billing = rng.random() < 0.7
    completed = status in _COMPLETED and rng.random() < 0.9
    payment = rng.choice(("card", "paypal", "invoice"))
    street = f"{rng.randrange(1, 200)} {rng.choice(_STREETS)}"
    row: dict[str, Any] = {
        "id": order_id,
        "ref": order_ref(order_id),
        "external_ref": f"WEB-{merchant}-{order_id}",
        "company_id": _COMPANY_ID[merchant],
        "secondary_company_id": None if secondary is None else _COMPANY_ID[secondary],
        "shipping_address_1": street,
        "shipping_address_2": None if rng.random() < 0.5 else f"Flat {rng.randrange(1, 30)}",
        "shipping_address_3": town,
        "shipping_address_4": None,
        "shipping_address_5": None,
        "shipping_postcode": f"{town[:2].upper()}{rng.randrange(1, 20)} {rng.randrange(1, 9)}AB",
        "shipping_country_code": country,
        "billing_address_1": street if billing else None,
        "billing_address_2": None,
        "billing_address_3": town if billing else None,
        "billing_address_4": None,
        "billing_address_5": None,
        "billing_postcode": None,
        "billing_country": country if billing else None,
        "customer_name": f"{first} {last}",
        "sale_datetime": sale,
        "creation_datetime": sale + timedelta(seconds=rng.randrange(5, 600)),
        "completion_datetime": sale + timedelta(hours=rng.randrange(4, 96)) if completed else None,
        "required_dispatch_date": (sale + timedelta(days=2)).date() if rng.random() < 0.7 else None,
        "shipping_method": method,
        "shipping_carrier": carrier,
        "shipping_tracking": f"TRK{order_id:010d}" if completed else None,
        "shipping_price": shipping,
        "shipping_price_inc_tax": _inc_tax(shipping),
        "shipping_tax_rate": _VAT if shipping else None,
        "customer_email": f"{first.lower()}.{last.lower()}{order_id}@example.com",
        "status": status,
        "is_free_of_charge": free,
        "payment_type": payment,
        "payment_trans_id": None if payment == "invoice" else f"PAY-{order_id:08d}",
        "coupon_code": "SPRING10" if rng.random() < 0.1 else None,
        "source_hash": None,
    }
    # The order's latest known time; derived after the draws, so the random stream (and with it
    # every other value of a seed) stays as it was.
    row["updated_datetime"] = max(row["creation_datetime"], row["completion_datetime"] or sale)
    return row


def _item(
    rng: random.Random,
    order: dict[str, Any],
    position: int,
    item_id: int,
    catalogue: list[_Product],
) -> dict[str, Any]:
    if item_id > len(ITEM_STATUSES):
        # The status drawn here before the lifecycle came, drawn still and dropped, so that the
        # random stream, and with it every other value of a seed, stays as it was.
        rng.choice(tuple(ITEM_STATUSES))
    product = rng.choice(catalogue) if rng.random() < 0.85 else None
    price = product.price if product else _money(rng, 3, 20)
    quantity = rng.choice((1, 1, 1, 2, 3, 5, 12, 60))
    shipped = quantity if order["status"] in _DISPATCHED else 0
    cancelled = quantity if order["status"] == lifecycle.CANCELLED else 0
    status = lifecycle.item_status(
        lifecycle.Item(item_id, quantity, shipped, cancelled), order["status"]
    )
    size, colour = rng.choice(_SIZES), rng.choice(_COLOURS)
    sku = product.sku if product else f"CUSTOM-{rng.randrange(100, 999)}"
    return {
        "id": item_id,
        "ref": item_ref(item_id),
        "order_id": order["id"],
        "position": position,
        "external_ref": f"{order['external_ref']}-{position + 1}" if rng.random() < 0.9 else None,
        "status": status,
        "sku": sku,
        "mapped_sku": f"{sku}-{size}" if size and rng.random() < 0.5 else None,
        "description": product.description if product else "Custom print",
        "size": size,
        "colour": colour,
        "quantity": quantity,
        "unit_cost_price": product.cost if product else None,
        "unit_sale_price": price,
        "unit_sale_price_inc_tax": _inc_tax(price),
        "shipping_price": Decimal(0) if position else order["shipping_price"],
        "shipping_price_inc_tax": Decimal(0) if position else order["shipping_price_inc_tax"],
        "textual_product_id": None if product else f"TXT-{rng.randrange(1000, 9999)}",
        "sale_vat_rate": _VAT,
        "product_id": product.id if product else None,
        "shipped_quantity": shipped,
        "cancelled_quantity": cancelled,
    }


_ITEM_COUNTS: Final = (0, 1, 1, 1, 1, 2, 2, 2, 3, 3, 4, 6)
_TABLES: Final = {
    # batch key: table, in the order of their foreign keys
    "orders": orders_table,
    "items": order_items,
    "order_attributes": order_attributes,
    "item_attributes": item_attributes,
    "shipments": shipments,
    "shipment_items": shipment_items,
    "cancellations": cancellations,
    "cancellation_items": cancellation_items,
}


def _batches(
    rng: random.Random, count: int, catalogue: list[_Product]
) -> Iterator[dict[str, list[dict[str, Any]]]]:
    """Rows of ``count`` orders, ``BATCH_ORDERS`` orders at a time."""
    item_id = 0
    numbers = {"shipments": 0, "cancellations": 0}
    for start in range(0, count, BATCH_ORDERS):
        batch: dict[str, list[dict[str, Any]]] = {key: [] for key in _TABLES}
        for n in range(start, min(start + BATCH_ORDERS, count)):
            order = _order(rng, n, n + 1)
            batch["orders"].append(order)
            channel = (
                "marketplace" if order["secondary_company_id"] else rng.choice(("web", "phone"))
            )
            batch["order_attributes"].append(
                {"order_id": order["id"], "name": "channel", "value": channel}
            )
            if rng.random() < 0.2:
                batch["order_attributes"].append(
                    {"order_id": order["id"], "name": "gift_message", "value": "Happy birthday!"}
                )
            first_item = len(batch["items"])
            for position in range(rng.choice(_ITEM_COUNTS)):
                item_id += 1
                batch["items"].append(_item(rng, order, position, item_id, catalogue))
                if rng.random() < 0.3:
                    batch["item_attributes"].append(
                        {
                            "item_id": item_id,
                            "name": "print",
                            "value": rng.choice(("front", "back", "both")),
                        }
                    )
                if rng.random() < 0.1:
                    batch["item_attributes"].append(
                        {"item_id": item_id, "name": "personalisation", "value": rng.choice(_FIRST)}
                    )
            _fulfilment(batch, order, batch["items"][first_item:], numbers)
        yield batch


def _fulfilment(
    batch: dict[str, list[dict[str, Any]]],
    order: dict[str, Any],
    items: list[dict[str, Any]],
    numbers: dict[str, int],
) -> None:
    """The shipment of a dispatched order and the cancellation of a cancelled one, as the
    orders API would have written them (no random draw: the stream stays as it was)."""
    if not items:
        return
    if order["status"] in _DISPATCHED and order["completion_datetime"] is not None:
        numbers["shipments"] += 1
        tracking = order["shipping_tracking"]
        batch["shipments"].append(
            {
                "id": numbers["shipments"],
                "order_id": order["id"],
                "dispatch_datetime": order["completion_datetime"],
                "carrier": order["shipping_carrier"],
                "tracking": tracking,
                "tracking_url": f"https://tracking.example.com/{tracking}" if tracking else None,
            }
        )
        batch["shipment_items"] += [
            {"shipment_id": numbers["shipments"], "item_id": item["id"], "quantity": quantity}
            for item in items
            if (quantity := item["shipped_quantity"])
        ]
    elif order["status"] == lifecycle.CANCELLED:
        numbers["cancellations"] += 1
        batch["cancellations"].append(
            {
                "id": numbers["cancellations"],
                "order_id": order["id"],
                "reason": "Cancelled by the customer",
                "cancelled_datetime": order["updated_datetime"],
            }
        )
        batch["cancellation_items"] += [
            {"cancellation_id": numbers["cancellations"], "item_id": item["id"], "quantity": n}
            for item in items
            if (n := item["cancelled_quantity"])
        ]


def _refuse_unless_empty(conn: Connection) -> None:
    counts = {
        table.name: conn.execute(select(func.count()).select_from(table)).scalar_one()
        for table in (companies, products, orders_table)
    }
    if any(counts.values()):
        held = ", ".join(f"{n} {name}" for name, n in counts.items() if n)
        raise StoreNotEmpty(
            f"The database already holds data ({held}); the demo loads only into an empty "
            "store, since its ids are fixed. Point --database-url at a new database."
        )


def _reset_sequences(conn: Connection) -> None:
    """After explicit ids, PostgreSQL's sequences must continue after them for later imports."""
    if conn.dialect.name != "postgresql":
        return  # SQLite takes max(id) + 1 by itself
    for table in (companies, product_prices, orders_table, order_items, shipments, cancellations):
        conn.execute(
            text(
                f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "  # noqa: S608 - fixed table names
                f"COALESCE((SELECT MAX(id) FROM {table.name}), 0) + 1, false)"
            )
        )


def load_demo(
    engine: Engine, settings: Settings, *, orders: int = 1000, seed: int = 0
) -> dict[str, Any]:
    """Fill an empty store with the demo data set and create the demo clients.

    Returns ``{"client_id", "client_secret", "companies", "orders", "items", "retailer",
    "fulfiller"}``: the export client's credentials, three counts, then each role's client as
    ``{"client_id", "client_secret", "scope", "company_ref_id"}`` (``DEMO_ROLES``). Raises
    ``StoreNotEmpty`` when the store already holds data.
    """
    if orders < 0:
        raise ValueError("orders must be >= 0")
    rng = random.Random(seed)  # noqa: S311 - demo data, not security
    items = 0
    with writer(engine).begin() as conn:
        _refuse_unless_empty(conn)
        conn.execute(
            insert(companies),
            [
                {
                    "id": _COMPANY_ID[ref],
                    "ref_id": ref,
                    "name": name,
                    "subscription": level,
                    "external_ref": None if role == "product owner" else f"EXT-{ref}",
                    "customer_ref_id": None if role != "merchant" else 90000 + ref,
                }
                for ref, name, level, role in DEMO_COMPANIES
            ],
        )
        catalogue, product_rows = _products(rng)
        conn.execute(insert(products), product_rows["products"])
        conn.execute(insert(product_prices), product_rows["prices"])
        conn.execute(insert(product_ecommerce), product_rows["ecommerce"])
        for batch in _batches(rng, orders, catalogue):
            for key, table in _TABLES.items():
                if batch[key]:
                    conn.execute(insert(table), batch[key])
            items += len(batch["items"])
        report_totals.rebuild(conn)  # the batches bypass the writers that keep the totals
        _reset_sequences(conn)
    client = create_client(
        engine, settings, name=DEMO_CLIENT_NAME, company_ref_ids=DEMO_CLIENT_COMPANIES
    )
    return {
        "client_id": client["client_id"],
        "client_secret": client["client_secret"],
        "companies": len(DEMO_COMPANIES),
        "orders": orders,
        "items": items,
        **{role.key: _role_client(engine, settings, role, None) for role in DEMO_ROLES},
    }


def demo_credentials(engine: Engine, settings: Settings) -> dict[str, Any]:
    """For ``serve --demo``: load the demo into an empty store, or renew the demo clients' secrets.

    On a store the demo filled, returns ``{"client_id", "client_secret", "retailer",
    "fulfiller"}`` as ``load_demo`` words them, each client with a new secret; a role's client
    that is missing or revoked (a store filled by an older demo) is created. Raises
    ``StoreNotEmpty`` when the store holds data but no demo client.
    """
    with engine.connect() as conn:
        empty = conn.execute(select(func.count()).select_from(orders_table)).scalar_one() == 0
    if empty:
        return load_demo(engine, settings)
    live = {c["name"]: c["client_id"] for c in list_clients(engine) if not c["revoked"]}
    if DEMO_CLIENT_NAME not in live:
        raise StoreNotEmpty(
            "The database holds orders but no demo client; `serve --demo` needs an empty "
            "database or one the demo filled."
        )
    return {
        **rotate_secret(engine, settings, live[DEMO_CLIENT_NAME]),
        **{
            role.key: _role_client(engine, settings, role, live.get(role.name))
            for role in DEMO_ROLES
        },
    }


def client_purposes() -> list[str]:
    """One line per demo client saying what it is for, to print after its credentials."""
    keys = ["client_id, client_secret", *(role.key for role in DEMO_ROLES)]
    width = max(map(len, keys))
    level = {ref: subscription for ref, _name, subscription, _role in DEMO_COMPANIES}
    exporting = [ref for ref in DEMO_CLIENT_COMPANIES if level[ref] in EXPORTING_LEVELS]
    left_out = [ref for ref in DEMO_CLIENT_COMPANIES if ref not in exporting]
    purposes = [
        f"exports the order item details of {', '.join(map(str, exporting))} "
        f"({', '.join(map(str, left_out))} may not export, so is left out) "
        f"[{EXPORT_SCOPE}]",
        *(f"{role.purpose} [{role.scope}]" for role in DEMO_ROLES),
    ]
    return [f"  {key.ljust(width)}  {purpose}" for key, purpose in zip(keys, purposes, strict=True)]


def _role_client(
    engine: Engine, settings: Settings, role: DemoRole, client_id: str | None
) -> dict[str, Any]:
    """A role's demo client: a new secret for ``client_id``, or a new client when ``None``."""
    if client_id is None:
        client = create_client(
            engine,
            settings,
            name=role.name,
            company_ref_ids=(role.company_ref_id,),
            scopes=(role.scope,),
        )
    else:
        client = rotate_secret(engine, settings, client_id)
    return {
        "client_id": client["client_id"],
        "client_secret": client["client_secret"],
        "scope": role.scope,
        "company_ref_id": role.company_ref_id,
    }
