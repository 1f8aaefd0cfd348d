"""What operators see of the outbox and do with it: ``oms-export events list`` and ``retry``,
and the counts ``/metrics`` shows.

A failed event stays failed until an operator sends it again (``retry``): it becomes pending and
due now, and gets one attempt at once; if that fails it follows the retry schedule until its
give-up time (counted from its change, so an event already past it gets that one attempt). It
still waits behind an earlier pending event of its order, like any other.

Example::

    list_events(engine, failed=True)         # [{"event_id": "evt_…", "state": "failed", …}]
    retry_events(engine, failed=True, now=…)  # ["evt_…", …]
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Engine, func, select, update

from oms_export.datetimes import format_utc
from oms_export.db.engine import writer
from oms_export.db.schema import event_attempts, events
from oms_export.errors import InvalidRequest
from oms_export.events.outbox import DELIVERED, FAILED, PENDING, STATES

LIST_LIMIT = 1000
"""Events ``list_events`` shows by default: the latest this many."""


def list_events(
    engine: Engine, *, order_id: int | None = None, failed: bool = False, limit: int = LIST_LIMIT
) -> list[dict[str, Any]]:
    """The latest ``limit`` events (of one order, or only failed ones), oldest first, each with
    its last attempt's status code and error."""
    tried = event_attempts.alias("tried")
    last = (
        select(func.max(tried.c.id))
        .where(tried.c.event_id == events.c.id)
        .correlate(events)
        .scalar_subquery()
    )
    query = (
        select(
            events.c.event_id,
            events.c.order_id,
            events.c.kind,
            events.c.status,
            events.c.state,
            events.c.attempts,
            events.c.occurred_at,
            events.c.next_attempt_at,
            events.c.delivered_at,
            events.c.url,
            event_attempts.c.status_code,
            event_attempts.c.error,
        )
        .select_from(events)
        .outerjoin(event_attempts, event_attempts.c.id == last)
        .order_by(events.c.id.desc())
        .limit(limit)
    )
    if order_id is not None:
        query = query.where(events.c.order_id == order_id)
    if failed:
        query = query.where(events.c.state == FAILED)
    with engine.connect() as conn:
        rows = conn.execute(query).all()
    return [
        {
            "event_id": row.event_id,
            "order_id": row.order_id,
            "kind": row.kind,
            "status": row.status,
            "state": row.state,
            "attempts": row.attempts,
            "occurred_at": format_utc(row.occurred_at),
            "next_attempt_at": (format_utc(row.next_attempt_at) if row.state == PENDING else None),
            "delivered_at": None if row.delivered_at is None else format_utc(row.delivered_at),
            "url": row.url,
            "last_status_code": row.status_code,
            "last_error": row.error,
        }
        for row in reversed(rows)
    ]


def retry_events(
    engine: Engine, *, now: datetime, event_id: str | None = None, failed: bool = False
) -> list[str]:
    """Make one event (``event_id``) or every failed one pending and due ``now``; the ids made
    so. A delivered event is refused: it reached its receiver."""
    if (event_id is None) == (not failed):
        raise InvalidRequest("Name one EVENT_ID, or give --failed.", parameter="event_id")
    with writer(engine).begin() as conn:
        if event_id is not None:
            state = conn.execute(
                select(events.c.state).where(events.c.event_id == event_id)
            ).scalar()
            if state is None:
                raise InvalidRequest(
                    f"No event {event_id}; `oms-export events list` shows them.",
                    parameter="event_id",
                )
            if state == DELIVERED:
                raise InvalidRequest(
                    f"Event {event_id} was delivered; there is nothing to retry.",
                    parameter="event_id",
                )
            which = events.c.event_id == event_id
        else:
            which = events.c.state == FAILED
        ids = list(conn.scalars(select(events.c.event_id).where(which).order_by(events.c.id)))
        # The lease stays: a pending event a worker is sending now is not sent twice at once.
        conn.execute(update(events).where(which).values(state=PENDING, next_attempt_at=now))
    return ids


def counts(engine: Engine) -> dict[str, int]:
    """Events by state, every state named (0 when none): one grouped count."""
    with engine.connect() as conn:
        rows = conn.execute(select(events.c.state, func.count()).group_by(events.c.state))
        found = {str(state): int(n) for state, n in rows}
    return {state: found.get(state, 0) for state in STATES}
