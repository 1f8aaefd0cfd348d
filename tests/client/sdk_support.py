"""What the SDK tests share: a store with something in every optional field, and the service's
own answer to compare the client's rows with, fetched plainly with httpx."""

from __future__ import annotations

from datetime import datetime, timedelta

import httpx
from sqlalchemy import Engine

from oms_export.auth.clients import create_client
from oms_export.client import SCOPE, Row
from oms_export.settings import Settings
from tests import factories as f

EXPORT = "/export-api/order-item-details"
OPTIONS = (
    "includeProductOwner",
    "includeProductPrice",
    "includeProductEcommerceInfo",
    "includeAttributes",
)
ORDERS = 9


def build_store(engine: Engine) -> list[int]:
    """Company 1001 with nine orders of 0, 1 or 2 items (a product with owner, prices and
    e-commerce data; attributes on some), dropshipper 2001, free company 3001. The order ids.

    Order ``n`` (``A-n``) has status 8, 516, 1 in turn, was created 2024-05-01 at 08:00 + n
    hours, sold 2024-05-01 09:00 + n days and completed 2024-05-(n+1) 12:00, all UTC.
    """
    acme = f.company(engine, 1001, "order_manager", name="Acme Prints")
    drop = f.company(engine, 2001, "enterprise", name="Drop Co")
    f.company(engine, 3001, "free", name="Free Co")
    f.product(
        engine,
        501,
        owner_company_id=drop,
        prices=[
            {"price_list": "product", "company_id": acme, "currency": "GBP", "quantity": 1, "rrp": 19.99, "price": 8.5},
            {"price_list": "base", "company_id": acme, "currency": "GBP", "quantity": 1, "rrp": 19.99, "price": 6.0},
        ],
        ecommerce={"sales_description": "Tee", "weight": 0.25, "barcode": "5012345678900"},
    )  # fmt: skip
    start = datetime(2024, 5, 1, 8, 0, 0)
    ids = []
    for n in range(ORDERS):
        items = [
            {"sku": f"S{n}-{k}", "quantity": k + 1, "status": 3, "unit_sale_price": 9.99,
             "product_id": 501 if k == 0 else None, "description": "x" * 300,
             "attributes": {"print": "front"} if k else {}}
            for k in range(n % 3)
        ]  # fmt: skip
        ids.append(
            f.order(
                engine,
                acme,
                f"A-{n}",
                status=(8, 516, 1)[n % 3],
                creation_datetime=start + timedelta(hours=n),
                sale_datetime=start + timedelta(days=n, hours=1),
                completion_datetime=datetime(2024, 5, n + 1, 12, 0, 0),
                secondary_company_id=drop if n % 4 == 0 else None,
                shipping_price=3.5,
                attributes={"channel": "web"} if n % 2 else {},
                items=items,
            )
        )
    return ids


def new_client(engine: Engine, settings: Settings, *refs: int) -> tuple[str, str]:
    client = create_client(engine, settings, name="sdk-test", company_ref_ids=list(refs))
    return client["client_id"], client["client_secret"]


def service_get(base_url: str, credentials: tuple[str, str], query: str = "") -> httpx.Response:
    """The service's own answer to ``GET EXPORT?query``, through nothing but httpx."""
    client_id, client_secret = credentials
    form = {"grant_type": "client_credentials", "scope": SCOPE}
    form |= {"client_id": client_id, "client_secret": client_secret}
    with httpx.Client(base_url=base_url, timeout=30) as http:
        token = http.post("/token", data=form)
        assert token.status_code == 200, token.text
        auth = {"Authorization": f"Bearer {token.json()['access_token']}"}
        return http.get(f"{EXPORT}?{query}", headers=auth)


def service_rows(base_url: str, credentials: tuple[str, str], query: str = "") -> list[Row]:
    """The service's own unpaged JSON export for ``query``."""
    response = service_get(base_url, credentials, query)
    assert response.status_code == 200, response.text
    rows: list[Row] = response.json()
    return rows


def options_query(options: tuple[str, ...]) -> str:
    return "&".join(f"options[{name}]=1" for name in options)
