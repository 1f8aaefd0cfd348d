"""The column types ``pull`` declares for files and tables are the types the service sends."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import Engine, select

from oms_export.admin.demo import load_demo
from oms_export.db.schema import companies
from oms_export.pull.columns import ColumnType, column_type
from oms_export.settings import Settings
from tests import factories as f
from tests.client.pulling import ALL_OPTIONS, service_rows
from tests.live import LiveServer

PATTERNS: dict[ColumnType, str] = {
    "datetime": r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d",
    "date": r"\d{4}-\d\d-\d\d",
}


def json_type(value: Any) -> str:
    return {bool: "boolean", int: "integer", float: "number", str: "text"}[type(value)]


def an_order_with_every_field_set(engine: Engine) -> None:
    """The demo leaves a few fields empty everywhere; this order fills them."""
    with engine.connect() as conn:
        acme = conn.execute(select(companies.c.id).where(companies.c.ref_id == 1001)).scalar_one()
    partner = f.company(engine, 7001, "free")
    prices = [
        {
            "price_list": name,
            "company_id": acme,
            "currency": "GBP",
            "quantity": 1,
            "rrp": 9.5,
            "price": 4.25,
        }
        for name in ("product", "base")
    ]
    ecommerce = {"notes": "fragile", "weight": 0.25, "sales_description": "Tee"}
    f.product(engine, 99_001, owner_company_id=acme, prices=prices, ecommerce=ecommerce)
    text = {
        f"{side}_address_{n}": f"{side} {n}"
        for side in ("shipping", "billing")
        for n in range(1, 6)
    }
    f.order(
        engine,
        acme,
        "FULL-1",
        secondary_company_id=partner,
        billing_postcode="AB1 2CD",
        attributes={"channel": "web"},
        items=[
            {"sku": "TS", "quantity": 2, "product_id": 99_001, "attributes": {"print": "front"}}
        ],
        **text,
    )


def test_every_exported_field_has_the_declared_type(
    live_server: LiveServer, engine: Engine, settings: Settings
) -> None:
    demo = load_demo(engine, settings, orders=300, seed=11)
    an_order_with_every_field_set(engine)
    rows = service_rows(live_server.url, demo, ALL_OPTIONS)
    seen: dict[str, set[str]] = {key: set() for key in rows[0]}
    for row in rows:
        for key, value in row.items():
            if value is None:
                continue
            declared = column_type(key)
            if declared in PATTERNS:
                assert re.fullmatch(PATTERNS[declared], value), (key, value)
                seen[key].add(declared)
            else:
                seen[key].add(json_type(value))
    assert {key: types for key, types in seen.items() if types != {column_type(key)}} == {}
