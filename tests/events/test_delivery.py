"""One event's delivery, against a real receiver on loopback: what is sent, what counts as
delivered, what is kept of the answer, and how failed attempts are retried and given up."""

from __future__ import annotations

import hashlib
import hmac
import json
import random
from datetime import UTC, timedelta

import pytest
from sqlalchemy import Engine

from oms_export.events.operations import retry_events
from oms_export.settings import Settings
from tests.events.conftest import Workers
from tests.events.receivers import Receiver
from tests.events.support import (
    T0,
    FakeClock,
    attempts_of,
    event_row,
    fast,
    insert_event,
    order_status,
    receiving_order,
    secret_of,
)


def verify_signature(secret: str, header: str, body: bytes) -> int:
    """API.md §7 read afresh, not through the package: ``t=UNIX_SECONDS,v1=HEX``, HEX the
    HMAC-SHA256 of ``"{t}.{body}"`` under the secret. The ``t`` it carries."""
    fields = dict(part.split("=", 1) for part in header.split(","))
    assert set(fields) == {"t", "v1"}, header
    assert fields["t"].isdigit()
    signed = fields["t"].encode() + b"." + body
    expected = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(fields["v1"], expected), "the signature does not verify"
    return int(fields["t"])


def test_a_status_callback_is_a_signed_put_of_the_stored_body(
    engine: Engine, settings: Settings, receiver: Receiver, make_worker: Workers
) -> None:
    company_id, order_id = receiving_order(engine)
    body = {"event_id": "evt_x", "id": order_id, "status": 4, "note": "café ✓"}
    event_id = insert_event(engine, company_id, order_id, receiver.url + "/ok", body=body)
    clock = FakeClock(T0 + timedelta(seconds=3))

    tally = make_worker(engine, fast(settings), clock).run_once()

    assert (tally.delivered, tally.retry, tally.failed) == (1, 0, 0)
    (request,) = receiver.requests
    assert request.method == "PUT"
    assert request.path == "/ok"
    assert json.loads(request.body) == body
    assert request.headers["content-type"] == "application/json"
    assert request.headers["oms-event-id"] == event_id
    timestamp = verify_signature(
        secret_of(engine, company_id), request.headers["oms-signature"], request.body
    )
    assert timestamp == int(clock.now().replace(tzinfo=UTC).timestamp())
    row = event_row(engine, event_id)
    assert (row.state, row.attempts, row.delivered_at) == ("delivered", 1, clock.now())
    (attempt,) = attempts_of(engine, event_id)
    assert (attempt.status_code, attempt.error, attempt.answer) == (200, None, '{"ok":true}')
    assert attempt.at == clock.now()


def test_an_order_push_is_a_signed_post(
    engine: Engine, settings: Settings, receiver: Receiver, make_worker: Workers
) -> None:
    company_id, order_id = receiving_order(engine, ref_id=3001)
    event_id = insert_event(engine, company_id, order_id, receiver.url + "/", kind="order_push")

    make_worker(engine, fast(settings), FakeClock()).run_once()

    (request,) = receiver.requests
    assert request.method == "POST"
    assert request.headers["oms-event-id"] == event_id
    verify_signature(secret_of(engine, company_id), request.headers["oms-signature"], request.body)
    assert event_row(engine, event_id).state == "delivered"


def test_each_receiving_company_signs_with_its_own_secret(
    engine: Engine, settings: Settings, receiver: Receiver, make_worker: Workers
) -> None:
    first, first_order = receiving_order(engine, ref_id=2001)
    second, second_order = receiving_order(engine, ref_id=2002)
    insert_event(engine, first, first_order, receiver.url + "/ok")
    insert_event(engine, second, second_order, receiver.url + "/ok")

    make_worker(engine, fast(settings), FakeClock()).run_once()

    by_order = {json.loads(r.body)["id"]: r for r in receiver.wait_for(2)}
    assert secret_of(engine, first) != secret_of(engine, second)
    for company_id, order_id in ((first, first_order), (second, second_order)):
        request = by_order[order_id]
        verify_signature(
            secret_of(engine, company_id), request.headers["oms-signature"], request.body
        )


@pytest.mark.parametrize("status", [201, 202, 204, 299])
def test_any_2xx_is_delivered(
    engine: Engine, settings: Settings, receiver: Receiver, make_worker: Workers, status: int
) -> None:
    company_id, order_id = receiving_order(engine)
    event_id = insert_event(engine, company_id, order_id, f"{receiver.url}/{status}")
    make_worker(engine, fast(settings), FakeClock()).run_once()
    assert event_row(engine, event_id).state == "delivered"


def test_only_the_first_kib_of_an_answer_is_kept(
    engine: Engine, settings: Settings, receiver: Receiver, make_worker: Workers
) -> None:
    company_id, order_id = receiving_order(engine)
    event_id = insert_event(engine, company_id, order_id, receiver.url + "/big")
    make_worker(engine, fast(settings), FakeClock()).run_once()
    (attempt,) = attempts_of(engine, event_id)
    assert attempt.answer == "x" * 1024


@pytest.mark.parametrize(
    ("path", "status_code", "error"),
    [
        ("/500", 500, "answered 500, not 2xx"),
        ("/410", 410, "answered 410, not 2xx"),
        ("/redirect", 302, "redirect to /ok not followed"),
        ("/close", None, "connection closed without an answer"),
    ],
)
def test_a_failed_attempt_records_its_answer_or_what_went_wrong(
    engine: Engine,
    settings: Settings,
    receiver: Receiver,
    make_worker: Workers,
    path: str,
    status_code: int | None,
    error: str,
) -> None:
    company_id, order_id = receiving_order(engine)
    event_id = insert_event(engine, company_id, order_id, receiver.url + path)

    tally = make_worker(engine, fast(settings), FakeClock()).run_once()

    assert (tally.delivered, tally.retry) == (0, 1)
    assert [r.path for r in receiver.requests] == [path]  # a redirect is not followed
    (attempt,) = attempts_of(engine, event_id)
    assert attempt.status_code == status_code
    assert attempt.error.startswith(error)
    row = event_row(engine, event_id)
    assert (row.state, row.attempts, row.claimed_until) == ("pending", 1, None)
    assert row.next_attempt_at > T0


def test_a_receiver_that_never_answers_is_cut_off_at_the_timeout(
    engine: Engine, settings: Settings, receiver: Receiver, make_worker: Workers
) -> None:
    company_id, order_id = receiving_order(engine)
    event_id = insert_event(engine, company_id, order_id, receiver.url + "/hang")

    make_worker(engine, fast(settings, event_timeout_seconds=1), FakeClock()).run_once()

    (attempt,) = attempts_of(engine, event_id)
    assert (attempt.status_code, attempt.error) == (None, "timeout: no answer within 1 s")
    assert 0.9 < attempt.seconds < 3
    assert event_row(engine, event_id).state == "pending"


def test_retries_wait_the_jittered_schedule_and_not_a_moment_less(
    engine: Engine, settings: Settings, receiver: Receiver, make_worker: Workers
) -> None:
    company_id, order_id = receiving_order(engine)
    event_id = insert_event(engine, company_id, order_id, receiver.url + "/script")
    receiver.script += ["500", "410", "500"]  # then 200
    clock = FakeClock()
    worker = make_worker(engine, fast(settings, event_retry_seconds="30,120"), clock, seed=7)
    draws = random.Random(7)
    expected_waits = [base * (0.8 + 0.4 * draws.random()) for base in (30, 120, 120)]

    moments = []
    for wait in expected_waits:
        worker.run_once()
        moments.append(clock.now())
        due = event_row(engine, event_id).next_attempt_at
        assert due == clock.now() + timedelta(seconds=wait)
        assert 0.8 * 30 <= wait <= 1.2 * 120
        clock.to(due - timedelta(milliseconds=1))
        assert worker.run_once().retry == 0, "attempted before its time"
        clock.to(due)
    worker.run_once()

    assert len(receiver.requests) == 4
    row = event_row(engine, event_id)
    assert (row.state, row.attempts, row.delivered_at) == ("delivered", 4, clock.now())
    codes = [a.status_code for a in attempts_of(engine, event_id)]
    assert codes == [500, 410, 500, 200]
    assert [a.at for a in attempts_of(engine, event_id)][:3] == moments


def test_an_event_is_failed_after_an_attempt_at_its_give_up_time(
    engine: Engine, settings: Settings, receiver: Receiver, make_worker: Workers
) -> None:
    company_id, order_id = receiving_order(engine)
    event_id = insert_event(engine, company_id, order_id, receiver.url + "/500")
    clock = FakeClock()
    changed = fast(settings, event_retry_seconds="30,120,600", event_give_up_seconds=1000)
    worker = make_worker(engine, changed, clock)

    dues = []
    while event_row(engine, event_id).state == "pending":
        worker.run_once()
        row = event_row(engine, event_id)
        dues.append(row.next_attempt_at)
        clock.to(row.next_attempt_at)

    row = event_row(engine, event_id)
    assert row.state == "failed"
    assert row.attempts == len(receiver.requests) == 5  # 0, ~30, ~150, ~750, then 1000
    assert dues[-2] == T0 + timedelta(seconds=1000), "the last wait is cut to the give-up time"
    assert attempts_of(engine, event_id)[-1].at == T0 + timedelta(seconds=1000)
    worker.run_once()
    assert len(receiver.requests) == 5, "a failed event is not attempted again"


def test_a_retried_failed_event_is_sent_again_at_once(
    engine: Engine, settings: Settings, receiver: Receiver, make_worker: Workers
) -> None:
    company_id, order_id = receiving_order(engine)
    event_id = insert_event(engine, company_id, order_id, receiver.url + "/script")
    receiver.script += ["500"]
    clock = FakeClock(T0 + timedelta(days=2))  # past its give-up time: one attempt, failed
    worker = make_worker(engine, fast(settings), clock)
    worker.run_once()
    assert event_row(engine, event_id).state == "failed"

    assert retry_events(engine, now=clock.now(), failed=True) == [event_id]
    worker.run_once()

    assert len(receiver.requests) == 2
    assert event_row(engine, event_id).state == "delivered"


def test_a_delivered_dispatch_callback_moves_the_order_to_64_once(
    engine: Engine, settings: Settings, receiver: Receiver, make_worker: Workers
) -> None:
    company_id, order_id = receiving_order(engine, status=8)
    first = insert_event(engine, company_id, order_id, receiver.url + "/ok", status=8)
    clock = FakeClock(T0 + timedelta(seconds=1, microseconds=250))
    worker = make_worker(engine, fast(settings), clock)

    worker.run_once()
    status, updated = order_status(engine, order_id)
    assert (status, updated) == (64, T0 + timedelta(seconds=1))
    assert event_row(engine, first).state == "delivered"

    again = insert_event(engine, company_id, order_id, receiver.url + "/ok", status=8)
    clock.to(T0 + timedelta(minutes=5))
    worker.run_once()
    assert event_row(engine, again).state == "delivered"
    assert order_status(engine, order_id) == (64, updated), "64 is set once"


def test_a_failed_dispatch_callback_leaves_the_order_at_8(
    engine: Engine, settings: Settings, receiver: Receiver, make_worker: Workers
) -> None:
    company_id, order_id = receiving_order(engine, status=8)
    insert_event(engine, company_id, order_id, receiver.url + "/500", status=8)
    make_worker(engine, fast(settings), FakeClock()).run_once()
    assert order_status(engine, order_id)[0] == 8


def test_other_callbacks_and_pushes_leave_the_status_alone(
    engine: Engine, settings: Settings, receiver: Receiver, make_worker: Workers
) -> None:
    company_id, order_id = receiving_order(engine, status=8)
    insert_event(engine, company_id, order_id, receiver.url + "/ok", kind="order_push", status=8)
    make_worker(engine, fast(settings), FakeClock()).run_once()
    assert order_status(engine, order_id)[0] == 8
