"""Concurrent writes to one order over real HTTP, on both stores (API.md §6.2).

Threads wait at a ``threading.Barrier`` and then send at once, each on a connection of its own,
so the requests really overlap in the service. Whatever the interleaving: one order per
external ref, never more units shipped or cancelled than an item has, the store's counters equal
to the sums of its shipment and cancellation lines, and never a 5xx.
"""

from __future__ import annotations

import random
import threading
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import httpx
import pytest
from sqlalchemy import Engine

from tests.api.orders_support import (
    RETAILER,
    Api,
    assert_store_consistent,
    created,
    item_ids,
    order_body,
    orders_named,
    refusal,
)
from tests.live import LiveServer

T = TypeVar("T")


Call = tuple[str, Callable[[Api], T]]
"""A bearer token and what its client does."""


def at_once(live_server: LiveServer, calls: list[Call[T]]) -> list[T]:
    """Run each call in a thread of its own, on a connection of its own, all released together
    once every connection is open."""
    barrier = threading.Barrier(len(calls))

    def run(call: Call[T]) -> T:
        token, act = call
        with httpx.Client(base_url=live_server.url, timeout=60) as http:
            http.get("/health")  # the connection is open before the race starts
            barrier.wait(timeout=30)
            return act(Api(http, token))

    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return list(pool.map(run, calls))


def no_server_error(responses: list[httpx.Response], *, busy_ok: bool = False) -> None:
    """Never a 5xx; with ``busy_ok``, except the documented 503 of a node whose every database
    connection stayed in use past ``OMS_EXPORT_DATABASE_POOL_TIMEOUT_SECONDS`` (more requests
    at once than its pool holds), which must say when to retry."""
    for r in responses:
        if busy_ok and r.status_code == 503:
            assert refusal(r)[1] == "temporarily_unavailable", r.text
            assert int(r.headers["retry-after"]) >= 1
            continue
        assert r.status_code < 500, r.text


def test_eight_identical_creates_at_once_make_one_order(
    live_server: LiveServer, retailer: Api, store: Engine
) -> None:
    """A channel's retries can overlap its first attempt: one order, one 201, the rest 200."""
    body = order_body("RACE-1")
    responses = at_once(live_server, [(retailer.token, lambda api: api.create(body))] * 8)
    no_server_error(responses)
    assert sorted(r.status_code for r in responses) == [200] * 7 + [201], [
        r.text for r in responses
    ]
    assert len({r.json()["id"] for r in responses}) == 1
    assert orders_named(store, RETAILER, "RACE-1") == 1


def test_ten_shipments_of_one_unit_at_once_ship_exactly_the_five_there_are(
    live_server: LiveServer, retailer: Api, fulfiller: Api, store: Engine
) -> None:
    order = created(retailer, order_body("RACE-2", quantities=(5,)))
    (item,) = item_ids(order)
    responses = at_once(
        live_server, [(fulfiller.token, lambda api: api.ship(order["id"], [(item, 1)]))] * 10
    )
    no_server_error(responses)
    codes = Counter(r.status_code for r in responses)
    assert codes[201] == 5, [r.text for r in responses]
    for refused in (r for r in responses if r.status_code != 201):
        assert refusal(refused)[0] in (400, 409), refused.text
    after = fulfiller.order(order["id"])
    assert after["items"][0]["shipped_quantity"] == 5
    assert after["status"] == 8
    assert len(after["items"][0]["shipments"]) == 5
    (counts,) = assert_store_consistent(store, order["id"])
    assert counts.shipped_quantity == 5


def test_two_identical_moves_at_once_both_succeed_and_dispatch_once(
    live_server: LiveServer, retailer: Api, fulfiller: Api, store: Engine
) -> None:
    """Two {"status": 8} at once: one ships everything, the other finds it done (the same status
    again is 200); no unit ships twice."""
    order = created(retailer, order_body("RACE-3", quantities=(3, 2)))
    responses = at_once(live_server, [(fulfiller.token, lambda api: api.move(order["id"], 8))] * 6)
    no_server_error(responses)
    assert [r.status_code for r in responses] == [200] * 6, [r.text for r in responses]
    after = fulfiller.order(order["id"])
    assert [i["shipped_quantity"] for i in after["items"]] == [3, 2]
    assert len({s["id"] for i in after["items"] for s in i["shipments"]}) == 1
    assert_store_consistent(store, order["id"])


@pytest.mark.parametrize("seed", [1, 2])
def test_shipments_and_cancellations_at_once_never_pass_an_items_quantity(
    live_server: LiveServer, retailer: Api, fulfiller: Api, store: Engine, seed: int
) -> None:
    """16 requests of 1 to 3 units over two items of 4: what the successes took is exactly what
    the store holds, and no item holds more than it has. 16 is more than a node's 10 database
    connections, so a request may also be turned away busy (503); it must then change nothing."""
    order = created(retailer, order_body("RACE-4", quantities=(4, 4)))
    ids = item_ids(order)
    rng = random.Random(seed)
    plan = [(rng.choice(["ship", "cancel"]), rng.choice(ids), rng.randint(1, 3)) for _ in range(16)]

    def call(verb: str, item: int, units: int) -> Call[httpx.Response]:
        if verb == "ship":
            return fulfiller.token, lambda api: api.ship(order["id"], [(item, units)])
        return fulfiller.token, lambda api: api.cancel(order["id"], [(item, units)])

    responses = at_once(live_server, [call(*step) for step in plan])
    no_server_error(responses, busy_ok=True)
    taken: Counter[tuple[str, int]] = Counter()
    for (verb, item, units), response in zip(plan, responses, strict=True):
        if response.status_code == 201:
            taken[verb, item] += units
        else:
            assert refusal(response)[0] in (400, 409, 503), response.text
    assert taken, "some requests went through"
    counts = {c.id: c for c in assert_store_consistent(store, order["id"])}
    for item in ids:
        assert counts[item].shipped_quantity == taken["ship", item]
        assert counts[item].cancelled_quantity == taken["cancel", item]
    after: dict[str, Any] = fulfiller.order(order["id"])
    assert [(i["shipped_quantity"], i["cancelled_quantity"]) for i in after["items"]] == [
        (counts[item].shipped_quantity, counts[item].cancelled_quantity) for item in ids
    ]


def test_a_retailers_cancellation_racing_the_fulfillers_move_to_production_is_one_or_the_other(
    live_server: LiveServer, retailer: Api, fulfiller: Api, store: Engine
) -> None:
    """The retailer may cancel only before production: whichever lands first, the order ends
    either cancelled-then-moved or moved-with-the-cancellation-refused, never a cancellation
    accepted after the move was."""
    for n in range(5):
        order = created(retailer, order_body(f"RACE-5-{n}", quantities=(2,)))
        (item,) = item_ids(order)
        cancel, move = at_once(
            live_server,
            [
                (retailer.token, cancelling(order["id"], item)),
                (fulfiller.token, moving(order["id"], 4)),
            ],
        )
        no_server_error([cancel, move])
        assert move.status_code == 200, move.text
        after = fulfiller.order(order["id"])
        assert after["status"] == 4
        if cancel.status_code == 201:
            assert after["items"][0]["cancelled_quantity"] == 1
        else:
            assert refusal(cancel)[:2] == (409, "invalid_transition"), cancel.text
            assert after["items"][0]["cancelled_quantity"] == 0
        assert_store_consistent(store, order["id"])


def cancelling(order_id: int, item: int) -> Callable[[Api], httpx.Response]:
    return lambda api: api.cancel(order_id, [(item, 1)])


def moving(order_id: int, status: int) -> Callable[[Api], httpx.Response]:
    return lambda api: api.move(order_id, status)
