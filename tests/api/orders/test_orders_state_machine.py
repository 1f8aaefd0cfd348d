"""The order lifecycle (API.md §6.3) as a state machine driven over real HTTP, on both stores.

Hypothesis creates an order, then has its fulfiller move it to any status code (legal or not),
ship some lines or everything, and has the fulfiller and the retailer cancel lines, while the
retailer keeps trying to move it. A plain model written here from the spec's words (not the
service's ``lifecycle`` module) predicts each answer's status code and the order's state after
it; invariants that follow from §6.3 alone are checked after every step.

The model also follows the decisions of /tmp/orders_contract.md where §6.3 leaves room: a hold
remembers the status it was entered from (going from one hold to the other keeps it), items of
an order held from 4 onward stay In Production, shipping and cancelling are allowed on hold,
``{"status": 128}`` is refused once a unit shipped, 0, 2 and 64 are never set through the API.
Where a request is wrong twice over (a bad line on an order the status forbids), the contract
does not say which refusal comes first, so either 400 or 409 is accepted; nothing changes in
both cases.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any, ClassVar, Final

import httpx
import hypothesis.strategies as st
import pytest
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import Engine

from oms_export.settings import Settings
from tests.api.orders_support import (
    FULFIL,
    FULFILLER,
    RETAILER,
    WRITE,
    Api,
    api_for,
    assert_store_consistent,
    cast,
    moment,
    order_body,
    refusal,
)
from tests.api.orders_support import unlimited as unlimited_settings

# --- the model, from §6.3 -------------------------------------------------------------------

RANK: Final = {1: 1, 512: 2, 513: 3, 4: 4, 600: 5, 520: 6, 515: 7, 516: 8, 8: 9, 64: 10}
"""The forward order of §6.3, earliest first."""
HOLDS: Final = frozenset({256, 32})
FINAL: Final = frozenset({8, 64, 128})
NEVER_SET: Final = frozenset({0, 2, 64})
"""0 and 2 are never set through the API; 64 only by the service, after the dispatch callback."""
STATUS_CODES: Final = frozenset(RANK) | HOLDS | {0, 2, 128}
RETAILER_MAY_CANCEL: Final = frozenset({1, 256, 32})
IN_PRODUCTION_RANK: Final = RANK[4]
UNKNOWN_ITEM: Final = 2_000_000_000
"""An item id no order has."""


@dataclass(frozen=True)
class ItemModel:
    id: int
    quantity: int
    shipped: int = 0
    cancelled: int = 0

    @property
    def remaining(self) -> int:
        return self.quantity - self.shipped - self.cancelled


@dataclass(frozen=True)
class OrderModel:
    status: int
    held_from: int | None
    items: tuple[ItemModel, ...]

    def item_status(self, item: ItemModel) -> int:
        """§6.3: 3 done with something shipped, 7 all cancelled, 2 from the order's 4 onward
        (a hold counting as the status it was entered from), else 1."""
        if item.remaining == 0:
            return 3 if item.shipped else 7
        where = self.held_from if self.status in HOLDS else self.status
        return 2 if RANK.get(where or 0, 0) >= IN_PRODUCTION_RANK else 1

    def take(self, units: dict[int, int], *, shipping: bool) -> OrderModel:
        """Units shipped (or cancelled) from items, then the status the quantities lead to:
        8 when every unit is shipped or cancelled and one shipped, 128 when all are cancelled."""
        items = tuple(
            replace(i, shipped=i.shipped + units.get(i.id, 0))
            if shipping
            else replace(i, cancelled=i.cancelled + units.get(i.id, 0))
            for i in self.items
        )
        if any(i.remaining for i in items):
            return replace(self, items=items)
        dispatched = any(i.shipped for i in items)
        return OrderModel(8 if dispatched else 128, None, items)

    def remaining(self) -> dict[int, int]:
        return {i.id: i.remaining for i in self.items if i.remaining}


@dataclass(frozen=True)
class Expected:
    """The answers the model accepts, the ``parameter`` of a 400, and the order after."""

    codes: frozenset[int]
    after: OrderModel
    parameter: str | None = None
    error: str | None = None


def refused(order: OrderModel, code: int, error: str, parameter: str | None = None) -> Expected:
    return Expected(frozenset({code}), order, parameter, error)


def line_fault(order: OrderModel, lines: Sequence[tuple[int, int]]) -> str | None:
    """The JSON path of the first line that cannot apply, in the body's order: an item not of
    this order or named again (``.id``), more units than remain (``.quantity``)."""
    remaining = {i.id: i.remaining for i in order.items}
    seen: set[int] = set()
    for index, (item_id, units) in enumerate(lines):
        if item_id not in remaining or item_id in seen:
            return f"items[{index}].id"
        seen.add(item_id)
        if units > remaining[item_id]:
            return f"items[{index}].quantity"
    return None


def expect_move(order: OrderModel, target: int) -> Expected:
    """The fulfiller's ``PUT /orders/{id}/status``."""
    status = order.status
    if target not in STATUS_CODES:
        return refused(order, 400, "invalid_request", "status")
    if target == status:
        return Expected(frozenset({200}), order)
    if target in NEVER_SET or status in FINAL:
        return refused(order, 409, "invalid_transition")
    if target in HOLDS:
        held_from = order.held_from if status in HOLDS else status
        return Expected(frozenset({200}), replace(order, status=target, held_from=held_from))
    if target == 128:
        if any(i.shipped for i in order.items):
            return refused(order, 409, "invalid_transition")
        return Expected(frozenset({200}), order.take(order.remaining(), shipping=False))
    floor = RANK[order.held_from if status in HOLDS and order.held_from else status]
    if RANK[target] < floor:
        return refused(order, 409, "invalid_transition")
    if target == 8:
        return Expected(frozenset({200}), order.take(order.remaining(), shipping=True))
    return Expected(frozenset({200}), replace(order, status=target, held_from=None))


def expect_lines(
    order: OrderModel, lines: Sequence[tuple[int, int]] | None, *, allowed: bool, shipping: bool
) -> Expected:
    """A shipment or cancellation: refused by the status (409), or by a line (400), or applied
    (201), every remaining unit when ``lines`` is ``None``."""
    fault = None if lines is None else line_fault(order, lines)
    if not allowed:
        if fault is not None:
            return Expected(frozenset({400, 409}), order)
        return refused(order, 409, "invalid_transition")
    if fault is not None:
        return refused(order, 400, "invalid_request", fault)
    units = order.remaining() if lines is None else dict(lines)
    return Expected(frozenset({201}), order.take(units, shipping=shipping))


# --- the machine ------------------------------------------------------------------------------

STATUSES = st.sampled_from(sorted(STATUS_CODES | {3, 999})) | st.sampled_from(
    [512, 513, 4, 600, 520, 515, 516, 256, 32]
)
"""Every order status code and two that are none, the steps of production more often: they
are where an order spends its life."""
DISPATCH = st.sampled_from(
    [None, "2024-06-01 10:00:00", "2024-06-03 08:30:00", "2024-05-30 23:59:59"]
)
LINES = st.lists(st.tuples(st.integers(0, 3), st.integers(1, 3)), min_size=1, max_size=3)
"""Lines by item position; a position past the last item names an item no order has."""
EVERYTHING = st.integers(0, 5).map(lambda n: n == 0)
"""Whether a shipment or cancellation leaves ``items`` out (every remaining unit): now and then,
as it ends the order."""
_refs = itertools.count(1)


@dataclass
class Actors:
    retailer: Api
    fulfiller: Api
    engine: Engine
    examples: list[int] = field(default_factory=list)


class OrderLifecycle(RuleBasedStateMachine):
    actors: ClassVar[Actors]

    def __init__(self) -> None:
        super().__init__()
        self.order_id = 0
        self.model = OrderModel(1, None, ())
        self.updated = ""
        self.completion: str | None = None
        self.highest_rank = 0

    # -- steps --

    @initialize(
        quantities=st.lists(st.integers(1, 6), min_size=1, max_size=3),
        status=st.sampled_from([None, 1, 256]),
    )
    def create(self, quantities: list[int], status: int | None) -> None:
        extra = {} if status is None else {"status": status}
        body = order_body(f"SM-{next(_refs)}", quantities=quantities, **extra)
        response = self.actors.retailer.create(body)
        assert response.status_code == 201, response.text
        order = response.json()
        self.order_id = order["id"]
        self.actors.examples.append(self.order_id)
        items = tuple(ItemModel(i["id"], i["quantity"]) for i in order["items"])
        self.model = OrderModel(status or 1, 1 if status == 256 else None, items)
        self.updated = order["updated_datetime"]
        self.check(order)

    @rule(status=STATUSES)
    def fulfiller_moves(self, status: int) -> None:
        expected = expect_move(self.model, status)
        self.answer(self.actors.fulfiller.move(self.order_id, status), expected)

    @rule(status=STATUSES)
    def retailer_tries_to_move(self, status: int) -> None:
        """A retailer holds orders.write alone: moving is never its to do."""
        expected = refused(self.model, 403, "insufficient_scope")
        self.answer(self.actors.retailer.move(self.order_id, status), expected)

    @rule(positions=LINES, everything=EVERYTHING, dispatch=DISPATCH)
    def fulfiller_ships(
        self, positions: list[tuple[int, int]], everything: bool, dispatch: str | None
    ) -> None:
        lines = None if everything else self.lines(positions)
        expected = expect_lines(
            self.model, lines, allowed=self.model.status not in FINAL, shipping=True
        )
        extra = {"carrier": "DPD"} if dispatch is None else {"dispatch_datetime": dispatch}
        self.answer(self.actors.fulfiller.ship(self.order_id, lines, **extra), expected)

    @rule(positions=LINES, everything=EVERYTHING, by_retailer=st.booleans())
    def someone_cancels(
        self, positions: list[tuple[int, int]], everything: bool, by_retailer: bool
    ) -> None:
        """The retailer while the order is 1, 256 or 32; the fulfiller until it is final."""
        lines = None if everything else self.lines(positions)
        status = self.model.status
        allowed = status in RETAILER_MAY_CANCEL if by_retailer else status not in FINAL
        expected = expect_lines(self.model, lines, allowed=allowed, shipping=False)
        api = self.actors.retailer if by_retailer else self.actors.fulfiller
        self.answer(api.cancel(self.order_id, lines, reason="test"), expected)

    # -- checking --

    def lines(self, positions: list[tuple[int, int]]) -> list[tuple[int, int]]:
        ids = [item.id for item in self.model.items]
        return [(ids[p] if p < len(ids) else UNKNOWN_ITEM, units) for p, units in positions]

    def answer(self, response: httpx.Response, expected: Expected) -> None:
        """The answer is one the model accepts; the order is then what the model says."""
        assert response.status_code in expected.codes, (
            f"model: {sorted(expected.codes)} for an order at {self.model.status} "
            f"(held from {self.model.held_from}); got {response.status_code} {response.text}"
        )
        before = self.updated
        if response.status_code >= 400:
            _, error, parameter = refusal(response)
            if expected.error is not None:
                assert (error, parameter) == (expected.error, expected.parameter), response.text
        changed = expected.after != self.model
        self.model = expected.after
        order = self.actors.fulfiller.order(self.order_id)
        if response.status_code < 300:
            answered = response.json()
            answered = answered.get("order", answered)
            assert answered == order, "the answer is the order as it now is"
        if not changed:
            assert order["updated_datetime"] == before, "nothing changed, so nothing was written"
        self.check(order)

    def check(self, order: dict[str, Any]) -> None:
        """The served order against the model, and the invariants of §6.3."""
        model = self.model
        assert order["status"] == model.status
        served = [(i["id"], i["shipped_quantity"], i["cancelled_quantity"]) for i in order["items"]]
        assert served == [(i.id, i.shipped, i.cancelled) for i in model.items]
        assert [i["status"] for i in order["items"]] == [model.item_status(i) for i in model.items]

        status = order["status"]
        if status in RANK:
            assert RANK[status] >= self.highest_rank, "a status moved backward"
            self.highest_rank = RANK[status]
        all_done = all(
            i["shipped_quantity"] + i["cancelled_quantity"] == i["quantity"] for i in order["items"]
        )
        any_shipped = any(i["shipped_quantity"] for i in order["items"])
        all_cancelled = all(i["cancelled_quantity"] == i["quantity"] for i in order["items"])
        for item in order["items"]:
            assert item["shipped_quantity"] + item["cancelled_quantity"] <= item["quantity"]
            assert sum(s["quantity"] for s in item["shipments"]) == item["shipped_quantity"]
        assert (status == 8) == (all_done and any_shipped)
        assert (status == 128) == all_cancelled

        dispatches = [s["dispatch_datetime"] for i in order["items"] for s in i["shipments"]]
        if status == 8:
            assert order["completion_datetime"] == max(dispatches, key=moment)
            if self.completion is not None:
                assert order["completion_datetime"] == self.completion, "completion changed"
            self.completion = order["completion_datetime"]
        else:
            assert order["completion_datetime"] is None
        assert moment(order["updated_datetime"]) >= moment(self.updated), "updated went back"
        self.updated = order["updated_datetime"]

    def teardown(self) -> None:
        if self.order_id:
            assert_store_consistent(self.actors.engine, self.order_id)


# --- the test ---------------------------------------------------------------------------------


@pytest.fixture
def settings(database_url: str) -> Settings:
    return unlimited_settings(database_url)


def test_the_lifecycle_over_http_follows_the_model_of_section_6_3(
    engine: Engine, settings: Settings, http: httpx.Client
) -> None:
    cast(engine)
    actors = Actors(
        retailer=api_for(engine, settings, http, [RETAILER], [WRITE], name="retailer"),
        fulfiller=api_for(engine, settings, http, [FULFILLER], [FULFIL], name="fulfiller"),
        engine=engine,
    )

    class Machine(OrderLifecycle):
        pass

    Machine.actors = actors
    run_state_machine_as_test(
        Machine,
        settings=hypothesis_settings(
            max_examples=60,
            stateful_step_count=20,
            deadline=None,
            suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
        ),
    )
    assert len(actors.examples) >= 10, "the machine ran on orders of its own"
