"""Events are written in the transaction of the change they tell of (API.md §7, the outbox):
each writer records them, with the bodies §7 words, and a change that does not commit leaves
no event, nor an event its change."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
from sqlalchemy import Engine, select, text, update

from oms_export.admin.imports import import_orders
from oms_export.db.engine import writer
from oms_export.db.schema import companies, events, orders
from oms_export.orders import lifecycle, store
from oms_export.orders.views import events_view
from tests import factories as f

CALLBACK = "https://93.184.215.14/status"
PUSH = "https://93.184.215.15/push"
NOW = datetime(2026, 12, 2, 9, 0, 0)


@pytest.fixture
def store_with_companies(engine: Engine) -> Engine:
    f.company(engine, 1001)
    f.company(engine, 3001)
    with engine.begin() as conn:
        conn.execute(update(companies).where(companies.c.ref_id == 3001).values(push_url=PUSH))
    return engine


def _import(engine: Engine, **fields: Any) -> int:
    record = {
        "external_ref": "W-1",
        "company_ref_id": 1001,
        "status": 1,
        "items": [{"sku": "A", "quantity": 2, "status": 1}, {"sku": "B", "quantity": 1}],
        **fields,
    }
    summary = import_orders(engine, enumerate([record]))
    assert summary["rejected"] == 0, summary
    with engine.connect() as conn:
        return int(
            conn.execute(select(orders.c.id).where(orders.c.external_ref == "W-1")).scalar_one()
        )


def _events(engine: Engine) -> list[Any]:
    with engine.connect() as conn:
        return list(conn.execute(select(events).order_by(events.c.id)))


def _with_callback(engine: Engine, order_id: int) -> None:
    with engine.begin() as conn:
        conn.execute(
            update(orders).where(orders.c.id == order_id).values(status_callback_url=CALLBACK)
        )


def _change(engine: Engine, order_id: int, act: Any) -> None:
    with writer(engine).begin() as conn:
        loaded = store.load(conn, order_id)
        store.write(conn, loaded, act(loaded.order), now=NOW)


def test_an_order_with_no_one_to_tell_writes_no_event(store_with_companies: Engine) -> None:
    order_id = _import(store_with_companies)
    _change(
        store_with_companies,
        order_id,
        lambda o: lifecycle.move(o, 4, by=lifecycle.Role.FULFILLER, now=NOW),
    )
    assert _events(store_with_companies) == []


def test_a_new_order_is_pushed_to_its_fulfiller_once_as_the_order_object(
    store_with_companies: Engine,
) -> None:
    order_id = _import(store_with_companies, secondary_company_ref_id=3001)
    _import(store_with_companies, secondary_company_ref_id=3001, customer_name="again")
    (event,) = _events(store_with_companies)
    assert (event.kind, event.url, event.state, event.status) == ("order_push", PUSH, "pending", 1)
    with store_with_companies.connect() as conn:
        fulfiller = conn.execute(select(companies.c.id).where(companies.c.ref_id == 3001)).scalar()
    assert event.company_id == fulfiller, "signed with the fulfiller's secret"
    body = orjson.loads(event.body)
    assert body["id"] == order_id
    assert [i["sku"] for i in body["items"]] == ["A", "B"]
    assert body["items"][0]["shipments"] == []
    assert "status_callback_url" in body


def test_each_change_of_an_order_with_a_callback_writes_one_callback_with_what_it_made(
    store_with_companies: Engine,
) -> None:
    order_id = _import(store_with_companies)
    _with_callback(store_with_companies, order_id)
    with store_with_companies.connect() as conn:
        items = [row.id for row in store.load(conn, order_id).order.items]
    fulfil = lifecycle.Role.FULFILLER
    _change(store_with_companies, order_id, lambda o: lifecycle.move(o, 4, by=fulfil, now=NOW))
    _change(store_with_companies, order_id, lambda o: lifecycle.move(o, 4, by=fulfil, now=NOW))
    _change(store_with_companies, order_id,
            lambda o: lifecycle.ship(o, [(items[0], 2)], dispatch_datetime=NOW))  # fmt: skip
    _change(store_with_companies, order_id,
            lambda o: lifecycle.cancel(o, None, by=fulfil))  # fmt: skip
    found = _events(store_with_companies)
    assert [(e.kind, e.status) for e in found] == [
        ("status_callback", 4), ("status_callback", 4), ("status_callback", 8)
    ], "the repeated 4 is no change and tells nothing"  # fmt: skip
    shipped, cancelled = orjson.loads(found[1].body), orjson.loads(found[2].body)
    assert set(shipped) == {
        "event_id", "occurred_at", "id", "ref", "external_ref", "status", "status_name",
        "shipping_method", "shipping_carrier", "shipping_tracking", "required_dispatch_date",
        "new_shipments", "new_cancellations",
    }  # fmt: skip
    assert shipped["event_id"] == found[1].event_id
    assert shipped["occurred_at"] == "2026-12-02 09:00:00"
    (parcel,) = shipped["new_shipments"]
    assert parcel["dispatch_datetime"] == "2026-12-02 09:00:00"
    assert [(line["id"], line["quantity"]) for line in parcel["items"]] == [(items[0], 2)]
    assert shipped["new_cancellations"] == []
    assert (cancelled["status"], cancelled["status_name"]) == (8, "Dispatched")
    (cancellation,) = cancelled["new_cancellations"]
    assert [(line["id"], line["quantity"]) for line in cancellation["items"]] == [(items[1], 1)]
    with store_with_companies.connect() as conn:
        listed = events_view(conn, order_id)
    assert [e["event_id"] for e in listed] == [e.event_id for e in found]
    assert all(e["state"] == "pending" and e["attempts"] == [] for e in listed)


def test_a_change_that_does_not_commit_leaves_no_event_and_no_change(
    store_with_companies: Engine,
) -> None:
    order_id = _import(store_with_companies)
    _with_callback(store_with_companies, order_id)

    def change_then_die() -> None:
        with writer(store_with_companies).begin() as conn:
            loaded = store.load(conn, order_id)
            change = lifecycle.move(loaded.order, 4, by=lifecycle.Role.FULFILLER, now=NOW)
            store.write(conn, loaded, change, now=NOW)
            assert conn.execute(select(events.c.id)).all(), "written in the change's transaction"
            raise RuntimeError("the process dies before the commit")

    with pytest.raises(RuntimeError):
        change_then_die()
    assert _events(store_with_companies) == []
    with store_with_companies.connect() as conn:
        assert conn.execute(select(orders.c.status)).scalar() == 1


def test_a_change_whose_event_cannot_be_written_is_not_stored(
    store_with_companies: Engine,
) -> None:
    order_id = _import(store_with_companies)
    _with_callback(store_with_companies, order_id)
    with store_with_companies.begin() as conn:  # the outbox is gone: its insert must fail
        conn.execute(text("ALTER TABLE events RENAME TO events_away"))
    before = datetime.now(UTC).replace(tzinfo=None)
    try:
        with pytest.raises(Exception, match="events"):
            _change(store_with_companies, order_id,
                    lambda o: lifecycle.move(o, 4, by=lifecycle.Role.FULFILLER, now=NOW))  # fmt: skip
    finally:  # the PostgreSQL database is this worker's for the next tests too
        with store_with_companies.begin() as conn:
            conn.execute(text("ALTER TABLE events_away RENAME TO events"))
    with store_with_companies.connect() as conn:
        status, updated = conn.execute(select(orders.c.status, orders.c.updated_datetime)).one()
    assert status == 1
    assert updated <= before
