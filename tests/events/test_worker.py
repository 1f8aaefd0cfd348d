"""Workers together: per-order order under several workers, each event once when nothing fails,
nothing lost when a worker (or ``serve`` delivering in-process on SQLite) is killed with
SIGKILL mid-delivery, and which ``serve`` delivers at all."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, select

from oms_export.api.app import create_app
from oms_export.db.engine import make_engine
from oms_export.db.schema import events
from oms_export.events.delivery import Attempt
from oms_export.events.outbox import Finished, claim, record
from oms_export.events.schedule import Schedule
from oms_export.events.worker import Background, Worker, utcnow
from oms_export.settings import Settings
from tests.api.nodes import Node
from tests.conftest import TEST_SECRET_KEY
from tests.events.receivers import Received, Receiver
from tests.events.support import (
    T0,
    attempts_of,
    event_row,
    fast,
    insert_event,
    order_status,
    receiving_order,
)

WORKER_ENV = {
    "OMS_EXPORT_SECRET_KEY": TEST_SECRET_KEY,
    "OMS_EXPORT_CALLBACK_ALLOW_PRIVATE": "1",
    "OMS_EXPORT_EVENT_TIMEOUT_SECONDS": "2",
    "OMS_EXPORT_EVENT_LEASE_SECONDS": "4",
    "OMS_EXPORT_EVENT_POLL_SECONDS": "0.1",
}


def eventually(check: Callable[[], bool], timeout: float = 30, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout} s: {what}")
        time.sleep(0.05)


def pending(engine: Engine) -> int:
    with engine.connect() as conn:
        query = select(func.count()).select_from(events).where(events.c.state == "pending")
        return int(conn.execute(query).scalar_one())


def run_workers(settings: Settings, count: int, until: Callable[[], bool]) -> list[int]:
    """``count`` workers, each a thread on an engine of its own, until ``until()``; how many
    events each delivered."""
    workers = [Worker(make_engine(settings), settings) for _ in range(count)]
    threads = [threading.Thread(target=w.run, daemon=True) for w in workers]
    for thread in threads:
        thread.start()
    try:
        eventually(until, timeout=60, what="the workers to finish")
    finally:
        for worker in workers:
            worker.stop()
        for thread in threads:
            thread.join(timeout=15)
        for worker in workers:
            worker.engine.dispose()
    return [w.tally.delivered for w in workers]


def arrivals_by_order(requests: list[Received]) -> dict[int, list[str]]:
    by_order: dict[int, list[str]] = defaultdict(list)
    for request in requests:
        by_order[json.loads(request.body)["id"]].append(request.headers["oms-event-id"])
    return by_order


def test_events_of_one_order_arrive_in_order_under_several_workers(
    engine: Engine, settings: Settings, receiver: Receiver
) -> None:
    changed = fast(settings, event_retry_seconds="1", event_give_up_seconds=2, event_batch_size=3)
    written: dict[int, list[str]] = {}
    for n in range(6):
        company_id, order_id = receiving_order(engine, ref_id=2001 + n % 2)
        # The first event of order 0 never gets a 2xx: its others wait until it is failed,
        # 2 s after it was written (its give-up time).
        paths = ["/500" if n == 0 else "/ok"] + ["/ok"] * 4
        written[order_id] = [
            insert_event(engine, company_id, order_id, receiver.url + path, occurred_at=utcnow())
            for path in paths
        ]

    run_workers(changed, 3, until=lambda: pending(engine) == 0)

    by_order = arrivals_by_order(receiver.requests)
    blocked = next(iter(written))
    for order_id, ids in written.items():
        seen = list(dict.fromkeys(by_order[order_id]))  # a retried event counts where it began
        assert seen == ids, f"order {order_id}: arrived out of order"
    retried = [r for r in receiver.requests if r.headers["oms-event-id"] == written[blocked][0]]
    assert len(retried) >= 2
    after = [r for r in receiver.requests if r.headers["oms-event-id"] == written[blocked][1]]
    assert after[0].at > retried[-1].at, "the next event went out before the first was failed"
    assert event_row(engine, written[blocked][0]).state == "failed"
    ok = [event_id for ids in written.values() for event_id in ids[1:]]
    ok += [ids[0] for order_id, ids in written.items() if order_id != blocked]
    assert all(event_row(engine, event_id).state == "delivered" for event_id in ok)


@pytest.mark.postgres_only
def test_two_workers_on_postgresql_deliver_each_event_exactly_once(
    engine: Engine, settings: Settings, receiver: Receiver
) -> None:
    company_id, _ = receiving_order(engine)
    written = []
    for _ in range(200):
        _company, order_id = receiving_order(engine)
        written.append(insert_event(engine, company_id, order_id, receiver.url + "/ok"))

    delivered = run_workers(
        fast(settings, event_batch_size=5), 2, until=lambda: pending(engine) == 0
    )

    sent = Counter(r.headers["oms-event-id"] for r in receiver.requests)
    assert sent == dict.fromkeys(written, 1)
    assert sum(delivered) == 200
    assert all(n > 0 for n in delivered), f"one worker did everything: {delivered}"


def test_a_claim_taken_over_after_its_lease_records_nothing(
    engine: Engine, settings: Settings
) -> None:
    company_id, order_id = receiving_order(engine)
    event_id = insert_event(engine, company_id, order_id, "http://127.0.0.1:9/ok")
    schedule = Schedule((30,), give_up=86400)
    (slow,) = claim(engine, now=T0, lease_seconds=5, limit=10)
    assert claim(engine, now=T0 + timedelta(seconds=4), lease_seconds=5, limit=10) == []
    (late,) = claim(engine, now=T0 + timedelta(seconds=6), lease_seconds=5, limit=10)
    ok = Attempt(200, None, "", 0.01)
    later = T0 + timedelta(seconds=7)

    (lost,) = record(engine, [Finished(slow, T0, ok)], now=later, schedule=schedule)
    (won,) = record(engine, [Finished(late, T0, ok)], now=later, schedule=schedule)

    assert (lost, won) == ("lost", "delivered")
    assert len(attempts_of(engine, event_id)) == 1


# --- processes, killed ------------------------------------------------------------------------


class WorkerProcess:
    """``oms-export worker`` as an operator starts it."""

    def __init__(self, database_url: str, workdir: Path, *args: str) -> None:
        command = [sys.executable, "-m", "oms_export", "--database-url", database_url,
                   "worker", *args]  # fmt: skip
        name = f"worker-{time.monotonic_ns()}"
        self.stdout, self.stderr = workdir / f"{name}.out", workdir / f"{name}.err"
        with self.stdout.open("w") as out, self.stderr.open("w") as err:
            self.process = subprocess.Popen(
                command, env={**os.environ, **WORKER_ENV}, stdout=out, stderr=err
            )

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> int:
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=15)

    def log_lines(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.stderr.read_text().splitlines() if line]


def test_a_worker_killed_mid_delivery_loses_nothing(
    engine: Engine, database_url: str, receiver: Receiver, tmp_path: Path
) -> None:
    company_id, order_id = receiving_order(engine, status=8)
    url = receiver.url + "/script"
    event_id = insert_event(engine, company_id, order_id, url, status=8, occurred_at=utcnow())
    receiver.script.append("hang")
    first = WorkerProcess(database_url, tmp_path)
    try:
        receiver.wait_for(1)
    finally:
        first.kill()
    row = event_row(engine, event_id)
    assert (row.state, row.attempts, row.claimed_until is not None) == ("pending", 0, True)

    second = WorkerProcess(database_url, tmp_path)
    try:
        eventually(lambda: event_row(engine, event_id).state == "delivered", what="redelivery")
    finally:
        assert second.stop() == 0, second.stderr.read_text()

    assert [r.headers["oms-event-id"] for r in receiver.requests] == [event_id, event_id]
    assert [a.status_code for a in attempts_of(engine, event_id)] == [200]
    assert order_status(engine, order_id)[0] == 64
    (line,) = second.log_lines()
    assert line["logger"] == "oms_export.events"
    assert {k: line[k] for k in ("event_id", "order_id", "kind", "host", "attempt", "status_code",
                                 "error", "outcome")} == {
        "event_id": event_id, "order_id": order_id, "kind": "status_callback",
        "host": "127.0.0.1", "attempt": 1, "status_code": 200, "error": None,
        "outcome": "delivered",
    }  # fmt: skip


def test_worker_once_delivers_what_is_due_and_prints_a_summary(
    engine: Engine, database_url: str, receiver: Receiver, tmp_path: Path
) -> None:
    company_id, order_id = receiving_order(engine)
    now = utcnow()
    insert_event(engine, company_id, order_id, receiver.url + "/ok", occurred_at=now)
    insert_event(engine, company_id, order_id, receiver.url + "/500", occurred_at=now)
    other = receiving_order(engine)[1]
    insert_event(engine, company_id, other, receiver.url + "/500", occurred_at=now)

    once = WorkerProcess(database_url, tmp_path, "--once")

    assert once.process.wait(timeout=60) == 0, once.stderr.read_text()
    summary = json.loads(once.stdout.read_text())
    assert summary == {"delivered": 1, "retry": 2, "failed": 0, "lost": 0}
    assert sorted(line["outcome"] for line in once.log_lines()) == ["delivered", "retry", "retry"]


# --- serve ------------------------------------------------------------------------------------


def test_serve_delivers_in_process_on_sqlite_only(
    engine: Engine, settings: Settings, receiver: Receiver
) -> None:
    company_id, order_id = receiving_order(engine)
    event_id = insert_event(engine, company_id, order_id, receiver.url + "/ok")
    app = create_app(fast(settings), engine)

    async def lifespan() -> Background | None:
        async with app.router.lifespan_context(app):
            background: Background | None = app.state.event_worker
            if background is not None:
                await asyncio.to_thread(receiver.wait_for, 1)
            return background

    background = asyncio.run(lifespan())

    if engine.dialect.name == "sqlite":
        assert background is not None
        assert not background.thread.is_alive(), "the lifespan's end stops the thread"
        assert event_row(engine, event_id).state == "delivered"
    else:
        assert background is None, "on PostgreSQL `oms-export worker` delivers"
        assert event_row(engine, event_id).state == "pending"


def test_serve_delivers_nothing_when_the_setting_is_off(engine: Engine, settings: Settings) -> None:
    app = create_app(fast(settings, event_worker_in_serve=False), engine)

    async def lifespan() -> object:
        async with app.router.lifespan_context(app):
            return app.state.event_worker

    assert asyncio.run(lifespan()) is None


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_serve_killed_mid_delivery_on_sqlite_loses_nothing(
    engine: Engine, database_url: str, receiver: Receiver, tmp_path: Path
) -> None:
    company_id, order_id = receiving_order(engine, status=8)
    url = receiver.url + "/script"
    event_id = insert_event(engine, company_id, order_id, url, status=8, occurred_at=utcnow())
    receiver.script.append("hang")
    first = Node(database_url, tmp_path, WORKER_ENV).wait_healthy()
    try:
        receiver.wait_for(1)
    finally:
        first.kill()
    assert event_row(engine, event_id).state == "pending"

    second = Node(database_url, tmp_path, WORKER_ENV).wait_healthy()
    try:
        eventually(lambda: event_row(engine, event_id).state == "delivered", what="redelivery")
    finally:
        assert second.stop() in (0, -signal.SIGTERM)  # uvicorn ends by its signal, cleanly
    assert len(receiver.requests) == 2
    assert order_status(engine, order_id)[0] == 64
