"""The outbox's SQL on the worker's side: claim due events, then write what came of an attempt.

A claim is a short transaction that sets ``claimed_until`` (a lease) on a batch of due events;
the HTTP requests go out after it commits, outside any transaction, so no database lock or
connection is held while a receiver takes its time. What came of each attempt is written in a
second short transaction, and only while the lease is still this worker's: the row must still
hold the ``claimed_until`` and ``attempts`` the claim saw. A worker killed between the two
leaves the lease to expire; another worker then claims the event and sends it again, which is
why delivery is at least once.

Claims on PostgreSQL use ``FOR UPDATE … SKIP LOCKED``: workers claiming at the same moment
take disjoint batches, none waiting on another. SQLite has one writer at a time
(``BEGIN IMMEDIATE``, see ``db/engine.py``), which gives the same result with no clause.

Events of one order go out one at a time and in order: an event is due only when no earlier
event of its order is still pending, so a batch holds at most one event per order.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final, Literal

from sqlalchemy import ColumnElement, Connection, Engine, exists, insert, or_, select, update

from oms_export.db.engine import writer
from oms_export.db.schema import event_attempts, events
from oms_export.events.delivery import ANSWER_LIMIT, Attempt
from oms_export.events.schedule import GiveUp, Schedule
from oms_export.events.signing import secret_for
from oms_export.orders import lifecycle, store
from oms_export.orders.outbox import STATUS_CALLBACK

PENDING: Final = "pending"
DELIVERED: Final = "delivered"
FAILED: Final = "failed"
STATES: Final = (PENDING, DELIVERED, FAILED)

Outcome = Literal["delivered", "retry", "failed", "lost"]
"""What an attempt led to; ``lost``: the lease had passed to another worker, nothing written."""


@dataclass(frozen=True)
class Claimed:
    """An event this worker holds until ``lease``, with what sending it needs."""

    id: int
    event_id: str
    order_id: int
    kind: str
    status: int
    url: str
    body: str
    attempts: int
    occurred_at: datetime
    secret: str
    lease: datetime


_earlier = events.alias("earlier")


def due(now: datetime) -> list[ColumnElement[bool]]:
    """The conditions that make an event due at ``now``."""
    return [
        events.c.state == PENDING,
        events.c.next_attempt_at <= now,
        or_(events.c.claimed_until.is_(None), events.c.claimed_until < now),
        ~exists().where(
            _earlier.c.order_id == events.c.order_id,
            _earlier.c.id < events.c.id,
            _earlier.c.state == PENDING,
        ),
    ]


def claim(engine: Engine, *, now: datetime, lease_seconds: int, limit: int) -> list[Claimed]:
    """Up to ``limit`` due events, oldest due first, leased to the caller until
    ``now + lease_seconds``."""
    lease = now + timedelta(seconds=lease_seconds)
    with writer(engine).begin() as conn:
        query = (
            select(events.c.id)
            .where(*due(now))
            .order_by(events.c.next_attempt_at, events.c.id)
            .limit(limit)
            .with_for_update(skip_locked=True, of=events)
        )
        ids = list(conn.scalars(query))
        if not ids:
            return []
        conn.execute(update(events).where(events.c.id.in_(ids)).values(claimed_until=lease))
        rows = conn.execute(
            select(events).where(events.c.id.in_(ids)).order_by(events.c.id)
        ).all()  # read whole: SQLite cannot commit while a statement is still being read
        secrets: dict[int, str] = {}
        claimed = []
        for row in rows:
            if row.company_id not in secrets:
                secrets[row.company_id] = secret_for(conn, row.company_id)
            claimed.append(
                Claimed(
                    id=row.id,
                    event_id=row.event_id,
                    order_id=row.order_id,
                    kind=row.kind,
                    status=row.status,
                    url=row.url,
                    body=row.body,
                    attempts=row.attempts,
                    occurred_at=row.occurred_at,
                    secret=secrets[row.company_id],
                    lease=lease,
                )
            )
        return claimed


@dataclass(frozen=True)
class Finished:
    """An attempt made on a claimed event, and when it started."""

    event: Claimed
    started_at: datetime
    attempt: Attempt


def record(
    engine: Engine, finished: Sequence[Finished], *, now: datetime, schedule: Schedule
) -> list[Outcome]:
    """Write attempts that ended at ``now`` and their outcomes, in one transaction; for each,
    only if its lease is still the caller's.

    A delivered status callback for 8 Dispatched moves the order to 64 in this same
    transaction, so the order is 64 exactly when the retailer's 2xx is on record.
    """
    with writer(engine).begin() as conn:
        return [_record_one(conn, each, now, schedule) for each in finished]


def _record_one(conn: Connection, finished: Finished, now: datetime, schedule: Schedule) -> Outcome:
    event, attempt = finished.event, finished.attempt
    attempts = event.attempts + 1
    outcome: Outcome
    if attempt.delivered:
        values: dict[str, object] = {"state": DELIVERED, "delivered_at": now}
        outcome = "delivered"
    else:
        decision = schedule.after_failure(attempts=attempts, occurred_at=event.occurred_at, now=now)
        if isinstance(decision, GiveUp):
            values, outcome = {"state": FAILED}, "failed"
        else:
            values, outcome = {"next_attempt_at": decision.at}, "retry"
    still_mine = conn.execute(
        update(events)
        .where(
            events.c.id == event.id,
            events.c.state == PENDING,
            events.c.claimed_until == event.lease,
            events.c.attempts == event.attempts,
        )
        .values(attempts=attempts, claimed_until=None, **values)
    )
    if still_mine.rowcount != 1:
        return "lost"
    conn.execute(
        insert(event_attempts).values(
            event_id=event.id,
            at=finished.started_at,
            status_code=attempt.status_code,
            error=attempt.error,
            answer=attempt.answer[:ANSWER_LIMIT],
            seconds=round(attempt.seconds, 3),
        )
    )
    dispatch_told = event.kind == STATUS_CALLBACK and event.status == lifecycle.DISPATCHED
    if outcome == "delivered" and dispatch_told:
        retailer_notified(conn, event.order_id, now)
    return outcome


NOTIFIED: Final = 64
"""64 Dispatched (Retailer Notified)."""


def retailer_notified(conn: Connection, order_id: int, now: datetime) -> bool:
    """Move a dispatched order to 64, once: an order no longer at 8 (already 64) stays as it is.

    Through the orders' own path (``load``, ``lifecycle.move``, ``write``), so the change is
    stamped and recorded like any other.
    """
    loaded = store.load(conn, order_id)
    if loaded.order.status != lifecycle.DISPATCHED:
        return False
    moment = now.replace(microsecond=0)  # the orders' clock ticks in whole seconds
    change = lifecycle.move(loaded.order, NOTIFIED, by=lifecycle.Role.SERVICE, now=moment)
    store.write(conn, loaded, change, now=moment)
    return True
