"""The whole path of §7 from the outside: changes made over the orders API reach the retailer's
receiver in order, a failed attempt shows in ``GET /orders/{id}/events`` and is retried, and the
delivered dispatch moves the order to 64."""

from __future__ import annotations

import json

import httpx
from sqlalchemy import Engine

from oms_export.settings import Settings
from tests.api.orders_support import (
    FULFIL,
    FULFILLER,
    RETAILER,
    WRITE,
    api_for,
    cast,
    created,
    order_body,
)
from tests.events.conftest import Workers
from tests.events.receivers import Receiver
from tests.events.support import fast
from tests.live import LiveServer


def test_changes_over_http_are_called_back_in_order_with_attempts_shown_and_64_at_the_end(
    engine: Engine, settings: Settings, receiver: Receiver, make_worker: Workers
) -> None:
    settings = fast(settings, rate_limit_per_minute=0, token_issue_limit_per_minute=0)
    cast(engine)
    receiver.script += ["500"]  # the first callback fails once, then every one answers 200
    with LiveServer(settings, engine) as server, httpx.Client(base_url=server.url) as http:
        retailer = api_for(engine, settings, http, [RETAILER], [WRITE], name="retailer")
        fulfiller = api_for(engine, settings, http, [FULFILLER], [FULFIL], name="fulfiller")
        body = {**order_body("CB-1"), "status_callback_url": receiver.url + "/script"}
        order = created(retailer, body)
        assert fulfiller.move(order["id"], 4).status_code == 200
        assert fulfiller.ship(order["id"]).status_code == 201

        worker = make_worker(engine, settings)
        worker.run_once()  # the create's callback: 500
        listed = retailer.events(order["id"]).json()
        assert [(e["kind"], e["status"], e["state"]) for e in listed] == [
            ("status_callback", 1, "pending"),
            ("status_callback", 4, "pending"),
            ("status_callback", 8, "pending"),
        ], "the next waits until the one before is delivered"
        assert [a["status_code"] for a in listed[0]["attempts"]] == [500]

        with engine.begin() as conn:  # its retry is due now rather than in 30 s
            conn.exec_driver_sql("UPDATE events SET next_attempt_at = '2000-01-01 00:00:00'")
        for _ in range(8):
            worker.run_once()
        final = retailer.order(order["id"])
        listed = retailer.events(order["id"]).json()

    assert final["status"] == 64, "the delivered dispatch callback told the retailer"
    assert [(e["status"], e["state"]) for e in listed] == [
        (1, "delivered"), (4, "delivered"), (8, "delivered"), (64, "delivered")
    ]  # fmt: skip
    assert [a["status_code"] for a in listed[0]["attempts"]] == [500, 200]
    sent = [json.loads(r.body) for r in receiver.requests]
    assert [s["status"] for s in sent] == [1, 1, 4, 8, 64]
    assert all(r.method == "PUT" for r in receiver.requests)
    assert sent[3]["new_shipments"][0]["items"][0]["quantity"] == 2
