"""The delivery loop: claim due events, send them, record what came of each; again.

Any number of workers may run at once, threads or processes on any node, against PostgreSQL
(claims never overlap: see ``outbox``); on SQLite ``serve`` runs one in a thread of its own
(``Background``). A worker sends the events of a batch at the same time (a batch holds at most
one event per order, so order is kept), and records outcomes as they come in: every attempt
finished since the last write goes in one transaction, so a slow receiver delays nobody else's
record, and a busy worker commits once for many events. The clock, the sleep and the jitter's
random source are injected, so a test walks an event through its retries without waiting.

One JSON log line per attempt (logger ``oms_export.events``)::

    {"message": "event evt_… retry", "event_id": "evt_…", "order_id": 42,
     "kind": "status_callback", "host": "hooks.example.com", "attempt": 2, "status_code": 500,
     "error": "answered 500, not 2xx", "seconds": 0.031, "outcome": "retry"}

Example::

    worker = Worker(engine, settings)
    worker.run_once()   # Tally(delivered=3, retry=1, failed=0, lost=0)
    worker.run()        # until worker.stop(), from a signal handler or another thread
"""

from __future__ import annotations

import calendar
import logging
import random as _random
import threading
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Self

import httpx
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from oms_export.db.engine import make_engine
from oms_export.events.delivery import Attempt, Outgoing, Sender
from oms_export.events.metrics import DeliveryMetrics
from oms_export.events.outbox import Claimed, Finished, Outcome, claim, record
from oms_export.events.schedule import Schedule
from oms_export.events.urls import Resolver
from oms_export.settings import Settings

log = logging.getLogger("oms_export.events")

Clock = Callable[[], datetime]

DATABASE_PAUSE_SECONDS = 5.0
"""How long a worker waits after a database error before it claims again."""


def utcnow() -> datetime:
    """Naive UTC, as the store keeps datetimes."""
    return datetime.now(UTC).replace(tzinfo=None)


@dataclass
class Tally:
    """Outcomes of the attempts of one ``run_once`` (or of a whole ``run``)."""

    delivered: int = 0
    retry: int = 0
    failed: int = 0
    lost: int = 0

    def add(self, outcome: Outcome) -> None:
        setattr(self, outcome, getattr(self, outcome) + 1)


class Worker:
    def __init__(
        self,
        engine: Engine,
        settings: Settings,
        *,
        now: Clock = utcnow,
        sleep: Callable[[float], object] | None = None,
        random: Callable[[], float] = _random.random,
        metrics: DeliveryMetrics | None = None,
        resolve: Resolver | None = None,
    ) -> None:
        self.engine = engine
        self.settings = settings
        self.now = now
        self.stopping = threading.Event()
        self._sleep = sleep if sleep is not None else self.stopping.wait
        self.schedule = Schedule(
            settings.event_retry_waits, settings.event_give_up_seconds, random=random
        )
        self.sender = Sender(
            timeout=settings.event_timeout_seconds,
            allow_private=settings.callback_allow_private,
            resolve=resolve,
            concurrency=settings.event_batch_size,
        )
        self._senders = ThreadPoolExecutor(
            settings.event_batch_size, thread_name_prefix="oms-export-send"
        )
        self.metrics = metrics
        self.tally = Tally()

    def close(self) -> None:
        """Close the connections kept to receivers (``run`` does it when it returns)."""
        self._senders.shutdown(wait=True)
        self.sender.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def stop(self) -> None:
        """Let the attempts in flight finish and be recorded, then return from ``run``. Safe
        from a signal handler or another thread."""
        self.stopping.set()

    def run(self) -> Tally:
        """Deliver until ``stop()``; an idle worker looks again every
        ``OMS_EXPORT_EVENT_POLL_SECONDS``, a busy one at once."""
        try:
            while not self.stopping.is_set():
                pause = self.settings.event_poll_seconds
                try:
                    claimed = self.step()
                except SQLAlchemyError:
                    # A database restart or failover must not end delivery: what was claimed
                    # and not recorded goes out again once its lease ends.
                    log.exception("event delivery paused: the database failed")
                    claimed, pause = 0, max(pause, DATABASE_PAUSE_SECONDS)
                if claimed < self.settings.event_batch_size and not self.stopping.is_set():
                    self._sleep(pause)
        finally:
            self.close()
        return self.tally

    def run_once(self) -> Tally:
        """Deliver what is due now, then return: for tests and ``oms-export worker --once``."""
        start = Tally(**vars(self.tally))
        while not self.stopping.is_set() and self.step():
            pass
        return Tally(**{k: v - getattr(start, k) for k, v in vars(self.tally).items()})

    def step(self) -> int:
        """Claim one batch, send its events at once, record each outcome; how many claimed."""
        if self.stopping.is_set():
            return 0
        batch = claim(
            self.engine,
            now=self.now(),
            lease_seconds=self.settings.event_lease_seconds,
            limit=self.settings.event_batch_size,
        )
        in_flight: dict[Future[Attempt], tuple[Claimed, datetime]] = {}
        for event in batch:
            started_at = self.now()
            in_flight[self._senders.submit(self._send, event, started_at)] = (event, started_at)
        waiting = set(in_flight)
        while waiting:
            done, waiting = wait(waiting, return_when=FIRST_COMPLETED)
            finished_at = self.now()
            finished = [Finished(*in_flight[f], f.result()) for f in done]
            outcomes = record(self.engine, finished, now=finished_at, schedule=self.schedule)
            for each, outcome in zip(finished, outcomes, strict=True):
                self._account(each, outcome, finished_at)
        return len(batch)

    def _send(self, event: Claimed, started_at: datetime) -> Attempt:
        outgoing = Outgoing(event.event_id, event.kind, event.url, event.body, event.secret)
        try:
            return self.sender.send(outgoing, calendar.timegm(started_at.utctimetuple()))
        except Exception as exc:  # recorded as a failed attempt, so the event is not stuck
            log.exception("event %s: sending failed unexpectedly", event.event_id)
            return Attempt(None, f"internal error: {type(exc).__name__}", "", 0.0)

    def _account(self, finished: Finished, outcome: Outcome, finished_at: datetime) -> None:
        """The log line, the metrics and the tally of one attempt."""
        event, result = finished.event, finished.attempt
        self.tally.add(outcome)
        fields = {
            "event_id": event.event_id,
            "order_id": event.order_id,
            "kind": event.kind,
            "host": _host(event.url),
            "attempt": event.attempts + 1,
            "status_code": result.status_code,
            "error": result.error,
            "seconds": round(result.seconds, 3),
            "outcome": outcome,
        }
        level = logging.INFO if outcome == "delivered" else logging.WARNING
        log.log(level, "event %s %s", event.event_id, outcome, extra=fields)
        if self.metrics is not None:
            self.metrics.attempted(outcome)
            if outcome == "delivered":
                self.metrics.delivered((finished_at - event.occurred_at).total_seconds())


def _host(url: str) -> str:
    try:
        return httpx.URL(url).host
    except httpx.InvalidURL:
        return ""


class Background:
    """A worker in a thread of the calling process, on an engine of its own: ``serve``'s on
    SQLite, so the embedded store delivers with no second command.

    Example::

        background = Background.start(settings, metrics=delivery_metrics)
        ...
        background.stop()   # waits for the attempts in flight, at most the attempt timeout
    """

    def __init__(self, worker: Worker) -> None:
        self.worker = worker
        self.thread = threading.Thread(target=self._run, name="oms-export-events", daemon=True)

    @classmethod
    def start(cls, settings: Settings, *, metrics: DeliveryMetrics | None = None) -> Background:
        engine = make_engine(settings, pool_size=2)
        background = cls(Worker(engine, settings, metrics=metrics))
        background.thread.start()
        return background

    def _run(self) -> None:
        try:
            self.worker.run()
        except Exception:  # logged, not raised: a thread's exception would go nowhere
            log.exception("event worker stopped: events wait for the next start of serve")

    def stop(self) -> None:
        self.worker.stop()
        self.thread.join(timeout=self.worker.settings.event_timeout_seconds + 5)
        self.worker.engine.dispose()
