"""The export's bytes, pinned: every format, shape and option set, on both stores.

``export_bytes.json`` holds the SHA-256 of each export of one fixed store (demo orders plus
orders with hostile text and the extremes the schema admits), as the code of commit 895772c
wrote them, before the encoder was rewritten for speed; SQLite and PostgreSQL wrote the same. Any change to what a client receives,
a byte anywhere, fails here. ``OMS_EXPORT_UPDATE_EXPORT_BYTES=1`` rewrites the file: do that
only for a change the API means to make, and say so in the commit.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, select

from oms_export.admin.demo import load_demo
from oms_export.db import schema
from oms_export.settings import Settings
from tests import factories as f
from tests.live import LiveServer, bearer

PATH = "/export-api/order-item-details"
GOLDEN = Path(__file__).with_name("export_bytes.json")
UPDATE = os.environ.get("OMS_EXPORT_UPDATE_EXPORT_BYTES") == "1"
OPTIONS = (
    "includeProductOwner",
    "includeProductPrice",
    "includeProductEcommerceInfo",
    "includeAttributes",
    "includeFulfilment",
)
HOSTILE = 'quote " backslash \\ slash / tab \t newline \n nul-free \x01\x1f del \x7f é 😀 \u2028'


def _queries() -> list[str]:
    queries = []
    for size in range(len(OPTIONS) + 1):
        for chosen in itertools.combinations(OPTIONS, size):
            options = "".join(f"&options[{name}]=1" for name in chosen)
            for fmt, shape in (("json", "rows"), ("json", "orders"), ("ndjson", "rows"),
                               ("ndjson", "orders"), ("csv", "rows")):  # fmt: skip
                queries.append(f"format={fmt}&shape={shape}{options}")
    every = "".join(f"&options[{name}]=1" for name in OPTIONS)
    queries.append(f"format=json&page[size]=7{every}")
    queries.append(f"format=json&filter[status:in]=8,64{every}")
    return queries


def _hostile_orders(engine: Engine) -> None:
    """Orders of company 1001 whose values test escaping and number formatting."""
    with engine.connect() as conn:
        company_id = conn.scalar(
            select(schema.companies.c.id).where(schema.companies.c.ref_id == 1001)
        )
    assert company_id is not None
    extremes: dict[str, Any] = {
        "unit_cost_price": 9999999999.9999,
        "unit_sale_price": 0.0001,
        "unit_sale_price_inc_tax": -9999999999.9999,
        "shipping_price": 1234567.8912,
        "shipping_price_inc_tax": 0.1,
        "sale_vat_rate": 0.000001,
    }
    f.order(
        engine,
        company_id,
        f"EXT {HOSTILE}",
        shipping_price=9999999999.9999,
        shipping_price_inc_tax=0.0,
        shipping_tax_rate=99.999999,
        attributes={"gift note": HOSTILE, 'quote"d': "x"},
        items=[
            {"sku": HOSTILE, "description": HOSTILE, "quantity": 3, **extremes,
             "attributes": {"print side": HOSTILE}},
            {"sku": "PLAIN", "quantity": 1, "unit_sale_price": 12.5},
        ],
    )  # fmt: skip
    f.order(engine, company_id, "EMPTY ORDER", status=1, creation_datetime=None)


@pytest.fixture
def store(engine: Engine, settings: Settings) -> dict[str, Any]:
    credentials = load_demo(engine, settings, orders=60, seed=5)
    _hostile_orders(engine)
    return credentials


def test_every_export_is_byte_for_byte_what_it_was(
    store: dict[str, Any], settings: Settings, engine: Engine
) -> None:
    digests: dict[str, str] = {}
    with (
        LiveServer(
            settings.with_changes(stream_batch_rows=13, rate_limit_per_minute=0), engine
        ) as server,
        httpx.Client(base_url=server.url, timeout=60) as http,
    ):
        token = bearer(http, store)
        for query in _queries():
            answer = http.get(f"{PATH}?{query}", headers={"Authorization": f"Bearer {token}"})
            assert answer.status_code == 200, (query, answer.text)
            digests[query] = hashlib.sha256(answer.content).hexdigest()
    if UPDATE:
        GOLDEN.write_text(json.dumps(digests, indent=1, sort_keys=True) + "\n")
    golden: dict[str, str] = json.loads(GOLDEN.read_text())
    changed = [query for query in digests if golden.get(query) != digests[query]]
    assert not changed, (
        f"{len(changed)} exports changed on {engine.dialect.name}, e.g. {changed[:3]}"
    )
