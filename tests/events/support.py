"""What the events' tests share: settings for fast delivery, a clock the test moves, and
events rows inserted as ``orders.outbox`` writes them."""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, Row, insert, select

from oms_export.db.schema import companies, event_attempts, events, orders
from oms_export.settings import Settings
from tests import factories

T0 = datetime(2026, 1, 5, 12, 0, 0)

FAST = {
    "callback_allow_private": True,  # the receivers are on loopback, over plain http
    "event_timeout_seconds": 1,
    "event_lease_seconds": 3,
    "event_poll_seconds": 0.05,
}


def fast(settings: Settings, **changes: Any) -> Settings:
    """``settings`` for delivering to loopback receivers with short timeouts."""
    return settings.with_changes(**{**FAST, **changes})


class FakeClock:
    """``now`` and ``sleep`` for a ``Worker``: time moves only when the test (or the worker's
    sleep) moves it."""

    def __init__(self, start: datetime = T0) -> None:
        self.moment = start

    def now(self) -> datetime:
        return self.moment

    def sleep(self, seconds: float) -> None:
        self.moment += timedelta(seconds=seconds)

    def to(self, moment: datetime) -> None:
        self.moment = moment


def receiving_order(
    engine: Engine, *, status: int = 4, ref_id: int = 2001, external_ref: str | None = None
) -> tuple[int, int]:
    """(company id, order id): a company that receives events, and an order of it."""
    found = _company_id(engine, ref_id)
    company_id = found if found is not None else factories.company(engine, ref_id)
    order_id = factories.order(
        engine,
        company_id,
        external_ref or f"ORD-{uuid.uuid4().hex[:8]}",
        status=status,
        items=[{"sku": "MUG", "quantity": 2}],
    )
    return company_id, order_id


def _company_id(engine: Engine, ref_id: int) -> int | None:
    with engine.connect() as conn:
        found = conn.execute(select(companies.c.id).where(companies.c.ref_id == ref_id)).scalar()
    return None if found is None else int(found)


def insert_event(
    engine: Engine,
    company_id: int,
    order_id: int,
    url: str,
    *,
    kind: str = "status_callback",
    status: int = 4,
    occurred_at: datetime = T0,
    body: dict[str, Any] | None = None,
) -> str:
    """An events row as a change writes it (pending, no attempt, due at once); its event id."""
    event_id = f"evt_{uuid.uuid4().hex}"
    content = body if body is not None else {"event_id": event_id, "id": order_id, "status": status}
    with engine.begin() as conn:
        conn.execute(
            insert(events).values(
                event_id=event_id,
                order_id=order_id,
                company_id=company_id,
                kind=kind,
                occurred_at=occurred_at,
                status=status,
                url=url,
                body=json.dumps(content),
                state="pending",
                attempts=0,
                next_attempt_at=occurred_at,
            )
        )
    return event_id


def event_row(engine: Engine, event_id: str) -> Row[Any]:
    with engine.connect() as conn:
        return conn.execute(select(events).where(events.c.event_id == event_id)).one()


def attempts_of(engine: Engine, event_id: str) -> list[Row[Any]]:
    query = (
        select(event_attempts)
        .join(events, events.c.id == event_attempts.c.event_id)
        .where(events.c.event_id == event_id)
        .order_by(event_attempts.c.id)
    )
    with engine.connect() as conn:
        return list(conn.execute(query).all())


def order_status(engine: Engine, order_id: int) -> tuple[int, datetime]:
    """(status, updated_datetime) of an order."""
    with engine.connect() as conn:
        row = conn.execute(
            select(orders.c.status, orders.c.updated_datetime).where(orders.c.id == order_id)
        ).one()
    return row.status, row.updated_datetime


def secret_of(engine: Engine, company_id: int) -> str:
    with engine.connect() as conn:
        found = conn.execute(
            select(companies.c.callback_secret).where(companies.c.id == company_id)
        ).scalar()
    assert found is not None, "the company has no callback secret yet"
    return str(found)
