"""``oms-export events``, ``worker --once`` and the companies' push URL and callback secret, as
an operator types them."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import Engine, select, update

from oms_export.cli.main import cli
from oms_export.db.schema import companies, events
from oms_export.events.worker import Tally, Worker
from oms_export.settings import Settings
from tests.events.receivers import Receiver
from tests.events.support import event_row, fast, insert_event, receiving_order, secret_of

PRIVATE = {"OMS_EXPORT_CALLBACK_ALLOW_PRIVATE": "1"}


@pytest.fixture
def run(settings: Settings) -> Any:
    runner = CliRunner()

    def invoke(*args: str, env: dict[str, str] | None = None) -> Result:
        return runner.invoke(
            cli,
            ["--database-url", settings.database_url, *args],
            env={"OMS_EXPORT_SECRET_KEY": settings.secret_key, **(env or {})},
        )

    return invoke


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as running:
        yield running


def deliver(engine: Engine, settings: Settings) -> Tally:
    """What ``oms-export worker --once`` does (run as a process in tests/events/test_worker.py,
    since it sets up logging for the whole process)."""
    with Worker(engine, fast(settings)) as worker:
        return worker.run_once()


def ok(result: Result) -> Any:
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def refused(result: Result, message: str, code: int = 1) -> None:
    assert result.exit_code == code, result.output
    assert message in result.stderr
    assert "Traceback" not in result.output


def set_state(engine: Engine, event_id: str, state: str) -> None:
    with engine.begin() as conn:
        conn.execute(update(events).where(events.c.event_id == event_id).values(state=state))


# --- events list ------------------------------------------------------------------------------


def test_events_list_json_shows_each_event_with_its_last_attempt(
    run: Any, engine: Engine, settings: Settings, receiver: Receiver
) -> None:
    company_id, order_id = receiving_order(engine)
    first = insert_event(engine, company_id, order_id, receiver.url + "/500")
    deliver(engine, settings)
    second = insert_event(engine, company_id, order_id, receiver.url + "/ok", kind="order_push")

    listed = ok(run("events", "list", "--json"))

    assert [e["event_id"] for e in listed] == [first, second]
    assert listed[0] == {
        "event_id": first,
        "order_id": order_id,
        "kind": "status_callback",
        "status": 4,
        "state": "failed",  # it changed in 2026-01: one attempt, past its give-up time
        "attempts": 1,
        "occurred_at": "2026-01-05 12:00:00",
        "next_attempt_at": None,
        "delivered_at": None,
        "url": receiver.url + "/500",
        "last_status_code": 500,
        "last_error": "answered 500, not 2xx",
    }
    assert listed[1]["attempts"] == 0
    assert (listed[1]["last_status_code"], listed[1]["last_error"]) == (None, None)


def test_events_list_filters_by_order_and_failed(run: Any, engine: Engine) -> None:
    company_id, order_id = receiving_order(engine)
    _, other = receiving_order(engine)
    mine = insert_event(engine, company_id, order_id, "https://hooks.example.com/a")
    failed = insert_event(engine, company_id, other, "https://hooks.example.com/b")
    set_state(engine, failed, "failed")

    assert [
        e["event_id"] for e in ok(run("events", "list", "--order", str(order_id), "--json"))
    ] == [mine]
    assert [e["event_id"] for e in ok(run("events", "list", "--failed", "--json"))] == [failed]
    assert ok(run("events", "list", "--failed", "--order", str(order_id), "--json")) == []


def test_events_list_prints_a_table_with_the_last_answer(run: Any, engine: Engine) -> None:
    company_id, order_id = receiving_order(engine)
    event_id = insert_event(engine, company_id, order_id, "https://hooks.example.com/[red]x")

    result = run("events", "list")

    assert result.exit_code == 0, result.output
    header, row = result.stdout.splitlines()
    assert header.split() == ["event_id", "order_id", "kind", "status", "state", "attempts",
                              "occurred_at", "last", "answer"]  # fmt: skip
    assert row.split()[:6] == [event_id, str(order_id), "status_callback", "4", "pending", "0"]


def test_events_list_says_when_there_are_none(run: Any) -> None:
    result = run("events", "list")
    assert (result.exit_code, result.stdout) == (0, "No events.\n")


# --- events retry -----------------------------------------------------------------------------


def test_events_retry_makes_one_event_due_now(run: Any, engine: Engine) -> None:
    company_id, order_id = receiving_order(engine)
    event_id = insert_event(engine, company_id, order_id, "https://hooks.example.com/")
    set_state(engine, event_id, "failed")

    assert ok(run("events", "retry", event_id)) == {"retried": [event_id]}

    row = event_row(engine, event_id)
    assert row.state == "pending"
    assert row.next_attempt_at > row.occurred_at


def test_events_retry_failed_sends_every_failed_event_again(
    run: Any, engine: Engine, settings: Settings, receiver: Receiver
) -> None:
    company_id, order_id = receiving_order(engine)
    _, other = receiving_order(engine)
    failed = [insert_event(engine, company_id, o, receiver.url + "/ok") for o in (order_id, other)]
    delivered = insert_event(engine, company_id, other, receiver.url + "/ok")
    for event_id in failed:
        set_state(engine, event_id, "failed")
    set_state(engine, delivered, "delivered")

    assert ok(run("events", "retry", "--failed")) == {"retried": failed}
    tally = deliver(engine, settings)

    assert (tally.delivered, tally.retry, tally.failed) == (2, 0, 0)
    assert sorted(r.headers["oms-event-id"] for r in receiver.requests) == sorted(failed)


def test_events_retry_refuses_a_delivered_or_unknown_event(run: Any, engine: Engine) -> None:
    company_id, order_id = receiving_order(engine)
    event_id = insert_event(engine, company_id, order_id, "https://hooks.example.com/")
    set_state(engine, event_id, "delivered")
    refused(run("events", "retry", event_id), f"Error: Event {event_id} was delivered;")
    refused(run("events", "retry", "evt_nope"), "Error: No event evt_nope;")


def test_events_retry_wants_one_event_or_failed(run: Any) -> None:
    refused(run("events", "retry"), "Give one EVENT_ID, or --failed.", code=2)
    refused(run("events", "retry", "evt_x", "--failed"), "Give one EVENT_ID, or --failed.", code=2)


# --- companies --------------------------------------------------------------------------------


def test_callback_secret_is_made_once_and_rotated_on_demand(run: Any, engine: Engine) -> None:
    company_id, _ = receiving_order(engine, ref_id=1001)

    first = ok(run("companies", "callback-secret", "1001"))
    again = ok(run("companies", "callback-secret", "1001"))
    rotated = ok(run("companies", "callback-secret", "1001", "--rotate"))

    assert first == again
    assert set(first) == {"ref_id", "callback_secret"}
    assert first["ref_id"] == 1001
    assert len(first["callback_secret"]) >= 43  # 32 random bytes, URL-safe base64
    assert rotated["callback_secret"] != first["callback_secret"]
    assert secret_of(engine, company_id) == rotated["callback_secret"]


def test_callback_secret_of_an_unknown_company_is_refused(run: Any) -> None:
    refused(run("companies", "callback-secret", "999"), "Error: No company with ref id 999;")


def push_url(engine: Engine, ref_id: int) -> str | None:
    with engine.connect() as conn:
        found = conn.execute(select(companies.c.push_url).where(companies.c.ref_id == ref_id))
        return found.scalar()


def test_set_push_url_stores_a_public_https_url_and_clear_removes_it(
    run: Any, engine: Engine
) -> None:
    receiving_order(engine, ref_id=2001)
    url = "https://93.184.215.14/oms/orders"

    assert ok(run("companies", "set-push-url", "2001", url)) == {"ref_id": 2001, "push_url": url}
    assert push_url(engine, 2001) == url
    assert ok(run("companies", "set-push-url", "2001", "--clear"))["push_url"] is None
    assert push_url(engine, 2001) is None
    ok(run("companies", "set-push-url", "2001", url))
    assert ok(run("companies", "set-push-url", "2001", ""))["push_url"] is None


def test_set_push_url_refuses_a_private_address_unless_the_setting_allows_it(
    run: Any, engine: Engine
) -> None:
    receiving_order(engine, ref_id=2001)
    refused(
        run("companies", "set-push-url", "2001", "https://localhost:9000/in"),
        "Error: url: localhost (127.0.0.1) is a loopback address, not a public address",
    )
    refused(
        run("companies", "set-push-url", "2001", "http://93.184.215.14/in"),
        "Error: url: the URL must start with https:// (not http://)",
    )
    assert push_url(engine, 2001) is None

    allowed = ok(run("companies", "set-push-url", "2001", "http://localhost:9000/in", env=PRIVATE))
    assert allowed["push_url"] == "http://localhost:9000/in"


def test_set_push_url_refuses_an_unknown_company_and_missing_arguments(run: Any) -> None:
    refused(
        run("companies", "set-push-url", "999", "https://93.184.215.14/"),
        "No company with ref id 999",
    )
    refused(run("companies", "set-push-url", "999"), "Give the URL to push to, or --clear", code=2)
    refused(
        run("companies", "set-push-url", "999", "https://x.example", "--clear"), "not both", code=2
    )
