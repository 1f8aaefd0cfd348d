"""docs/events.md's receiver works as the page says: it takes a real delivery, refuses one
signed with another secret, and refuses replays outside its window."""

from __future__ import annotations

import hashlib
import hmac
import threading
from collections.abc import Callable, Iterator
from http.server import ThreadingHTTPServer
from types import ModuleType

import pytest
from sqlalchemy import Engine

from oms_export.events.signing import callback_secret
from oms_export.events.worker import Worker, utcnow
from oms_export.settings import Settings
from tests.docs.examples import ROOT, saved_files
from tests.events.support import attempts_of, event_row, fast, insert_event, receiving_order

Receiving = Callable[[str], str]
"""Starts the page's receiver with a secret; its URL."""


def docs_receiver(secret: str, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """receiver.py as a reader saves it from the page, run with ``OMS_CALLBACK_SECRET``."""
    source = saved_files(ROOT / "docs" / "events.md")["receiver.py"]
    monkeypatch.setenv("OMS_CALLBACK_SECRET", secret)
    module = ModuleType("receiver")
    exec(compile(source, "docs/events.md (receiver.py)", "exec"), module.__dict__)  # noqa: S102
    return module


@pytest.fixture
def serve_receiver(monkeypatch: pytest.MonkeyPatch) -> Iterator[Receiving]:
    servers: list[ThreadingHTTPServer] = []

    def start(secret: str) -> str:
        module = docs_receiver(secret, monkeypatch)
        server = ThreadingHTTPServer(("127.0.0.1", 0), module.Receiver)
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}/in"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def test_the_docs_receiver_takes_a_signed_put_and_post(
    engine: Engine, settings: Settings, serve_receiver: Receiving
) -> None:
    company_id, order_id = receiving_order(engine, ref_id=1001)
    url = serve_receiver(callback_secret(engine, 1001))
    now = utcnow()
    put = insert_event(engine, company_id, order_id, url, occurred_at=now)
    _, pushed_order = receiving_order(engine, ref_id=1001)
    post = insert_event(engine, company_id, pushed_order, url, kind="order_push", occurred_at=now)

    with Worker(engine, fast(settings)) as worker:
        worker.run_once()

    for event_id in (put, post):
        assert event_row(engine, event_id).state == "delivered"
        assert attempts_of(engine, event_id)[0].status_code == 204


def test_the_docs_receiver_refuses_another_secrets_signature(
    engine: Engine, settings: Settings, serve_receiver: Receiving
) -> None:
    company_id, order_id = receiving_order(engine, ref_id=1001)
    url = serve_receiver("not-the-secret-of-1001")
    event_id = insert_event(engine, company_id, order_id, url, occurred_at=utcnow())

    with Worker(engine, fast(settings)) as worker:
        worker.run_once()

    assert event_row(engine, event_id).state == "pending"
    assert attempts_of(engine, event_id)[0].status_code == 401


def sign(secret: str, timestamp: int, body: bytes) -> str:
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={digest.hexdigest()}"


@pytest.mark.parametrize(
    ("age", "accepted"), [(0, True), (299, True), (-299, True), (301, False), (-301, False)]
)
def test_the_docs_receiver_refuses_signatures_outside_five_minutes(
    monkeypatch: pytest.MonkeyPatch, age: int, accepted: bool
) -> None:
    receiver = docs_receiver("s3cret", monkeypatch)
    body = b'{"id": 1}'
    header = sign("s3cret", 1_800_000_000, body)
    assert receiver.verified(body, header, now=1_800_000_000 + age) is accepted


@pytest.mark.parametrize(
    "header",
    ["", "t=1800000000", "v1=abc", "t=soon,v1=abc", "garbage", sign("other", 1_800_000_000, b"{}")],
)
def test_the_docs_receiver_refuses_malformed_or_foreign_signatures(
    monkeypatch: pytest.MonkeyPatch, header: str
) -> None:
    receiver = docs_receiver("s3cret", monkeypatch)
    assert receiver.verified(b"{}", header, now=1_800_000_000) is False


def test_the_docs_receiver_refuses_a_body_changed_after_signing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    receiver = docs_receiver("s3cret", monkeypatch)
    header = sign("s3cret", 1_800_000_000, b'{"status": 8}')
    assert receiver.verified(b'{"status": 64}', header, now=1_800_000_000) is False
