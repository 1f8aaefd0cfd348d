"""The SDK through the fault proxy, against the live service on both databases: every fault it
should ride out leaves the rows exactly the clean export's, and the ones it should not end in
the typed error carrying the service's words."""

from __future__ import annotations

import asyncio
import itertools
import socket
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import orjson
import pytest
from sqlalchemy import Engine

from oms_export.client import (
    ApiError,
    AsyncExportClient,
    ConnectionFailed,
    ExportClient,
    RateLimited,
    Retry,
    Retrying,
    Row,
    ServerError,
)
from oms_export.settings import Settings
from tests.client.faultproxy import FaultProxy
from tests.client.sdk_support import (
    EXPORT,
    ORDERS,
    build_store,
    new_client,
    service_get,
    service_rows,
)
from tests.live import LiveServer

FAST = Retry(backoff=0.01, max_backoff=0.05)
INVALID_TOKEN = 'Bearer realm="oms-export", error="invalid_token"'


def error_body(error: str) -> dict[str, Any]:
    return {"error": error, "error_description": f"Injected {error}; try again."}


@pytest.fixture
def credentials(engine: Engine, settings: Settings) -> tuple[str, str]:
    build_store(engine)
    return new_client(engine, settings, 1001)


@pytest.fixture
def clean(live_server: LiveServer, credentials: tuple[str, str]) -> list[Row]:
    """The export with no fault, as the service gives it unpaged."""
    rows = service_rows(live_server.url, credentials)
    assert len({row["id"] for row in rows}) == ORDERS
    return rows


@pytest.fixture
def proxy(live_server: LiveServer) -> Iterator[FaultProxy]:
    with FaultProxy(live_server.url) as proxy:
        yield proxy
    assert proxy.errors == []
    assert proxy.pending == []  # every scripted fault was met


def row_ends(live_server: LiveServer, credentials: tuple[str, str], first: str) -> list[int]:
    """Where each row ends, in body bytes, in the NDJSON page that starts with order ``first``."""
    lines = service_get(live_server.url, credentials, "format=ndjson").content.splitlines(True)
    start = next(i for i, line in enumerate(lines) if orjson.loads(line)["external_ref"] == first)
    return list(itertools.accumulate(len(line) for line in lines[start:]))


def pull(
    proxy: FaultProxy, credentials: tuple[str, str], retry: Retry = FAST, **kw: Any
) -> tuple[list[Row], float, int]:
    """Rows, seconds taken and retries of a pull through the proxy."""
    started = time.monotonic()
    with ExportClient(proxy.url, *credentials, retry=retry, timeout=10) as client:
        rows = client.rows(**kw)
        got = list(rows)
    return got, time.monotonic() - started, rows.progress.retries


def test_a_429_is_waited_out_for_its_retry_after_in_seconds_or_as_an_http_date(
    proxy: FaultProxy, credentials: tuple[str, str], clean: list[Row]
) -> None:
    when = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=3)
    http_date = format_datetime(when, usegmt=True)
    proxy.reply(EXPORT, 429, error_body("rate_limited"), {"Retry-After": "1"}, skip=1)
    proxy.reply(EXPORT, 429, error_body("rate_limited"), {"Retry-After": http_date}, skip=1)
    until = (when - datetime.now(UTC)).total_seconds()
    rows, seconds, retries = pull(proxy, credentials, page_size=3)
    assert rows == clean
    assert until > 2.0  # so a pull that ignored the date would end sooner than this
    assert seconds >= until - 0.1  # 1 s for the first 429, then until the date for the second
    assert retries == 2
    assert proxy.statuses(EXPORT) == [200, 429, 200, 429, 200]
    targets = [seen.target for seen in proxy.requests(EXPORT)]
    assert (targets[1], targets[3]) == (targets[2], targets[4])  # the refused page, again


def test_gateway_and_unavailable_answers_are_retried(
    proxy: FaultProxy, credentials: tuple[str, str], clean: list[Row]
) -> None:
    proxy.reply(EXPORT, 502, error_body("bad_gateway"), skip=1)
    proxy.reply(EXPORT, 503, error_body("temporarily_unavailable"))
    proxy.reply(EXPORT, 504, error_body("gateway_timeout"))
    rows, _seconds, retries = pull(proxy, credentials, page_size=3)
    assert rows == clean
    assert retries == 3
    assert proxy.statuses(EXPORT) == [200, 502, 503, 504, 200, 200]


def test_a_body_cut_midway_resumes_from_the_pages_cursor_without_loss_or_repeat(
    proxy: FaultProxy, live_server: LiveServer, credentials: tuple[str, str], clean: list[Row]
) -> None:
    ends = row_ends(live_server, credentials, "A-0")
    proxy.cut(EXPORT, after=ends[1] + 50)  # two rows whole, the third cut inside
    with ExportClient(proxy.url, *credentials, retry=FAST) as client:
        rows = client.rows()
        got = []
        for row in rows:
            got.append(row)
            if len(got) == 2:
                assert proxy.statuses(EXPORT) == [200]  # both rows came before the cut
    assert got == clean
    assert rows.progress.retries == 1
    first, second = proxy.requests(EXPORT)
    assert first.fault == "cut"
    assert second.target == first.target
    assert rows.progress.bytes == ends[1] + 50 + ends[-1]  # the cut part, then the whole page


def test_a_body_cut_on_a_later_page_fetches_that_page_again(
    proxy: FaultProxy, live_server: LiveServer, credentials: tuple[str, str], clean: list[Row]
) -> None:
    ends = row_ends(live_server, credentials, "A-4")  # page 3 of 2 orders each
    proxy.cut(EXPORT, after=ends[0] + 20, skip=2)  # one row whole, the next cut inside
    rows, _seconds, retries = pull(proxy, credentials, page_size=2)
    assert rows == clean
    assert retries == 1
    targets = [seen.target for seen in proxy.requests(EXPORT)]
    assert len(targets) == 6  # five pages, the third twice
    assert targets[2] == targets[3]
    assert "page%5Bafter%5D=" in targets[2]


def test_connections_lost_in_the_first_bytes_are_retried(
    proxy: FaultProxy, credentials: tuple[str, str], clean: list[Row]
) -> None:
    proxy.cut(EXPORT, after=0)  # page 1: the head, then nothing
    proxy.cut(EXPORT, after=5, skip=1)  # page 2: five bytes of the first row
    proxy.drop(EXPORT, skip=1)  # page 3: not even an answer
    rows, _seconds, retries = pull(proxy, credentials, page_size=4)
    assert rows == clean
    assert retries == 3
    assert [seen.fault for seen in proxy.requests(EXPORT)] == [
        "cut",
        None,
        "cut",
        None,
        "drop",
        None,
    ]


def test_a_body_ended_cleanly_inside_a_row_is_retried(
    proxy: FaultProxy, live_server: LiveServer, credentials: tuple[str, str], clean: list[Row]
) -> None:
    ends = row_ends(live_server, credentials, "A-0")
    proxy.truncate(EXPORT, after=ends[2] + 10)  # a framed body, three rows and a bit
    rows, _seconds, retries = pull(proxy, credentials)
    assert rows == clean
    assert retries == 1
    assert proxy.statuses(EXPORT) == [200, 200]


def test_a_body_trickling_in_small_pieces_gives_every_row(
    proxy: FaultProxy, credentials: tuple[str, str], clean: list[Row]
) -> None:
    proxy.slow(EXPORT, piece=333, pause=0.001)
    rows, _seconds, retries = pull(proxy, credentials)
    assert rows == clean
    assert retries == 0


def test_a_body_stalled_past_the_timeout_is_retried(
    proxy: FaultProxy, credentials: tuple[str, str], clean: list[Row]
) -> None:
    proxy.slow(EXPORT, piece=1000, pause=30.0)
    started = time.monotonic()
    with ExportClient(proxy.url, *credentials, retry=FAST, timeout=1.0) as client:
        rows = client.rows()
        got = list(rows)
    assert got == clean
    assert rows.progress.retries == 1
    assert time.monotonic() - started < 20  # the stall was abandoned, not waited out


def test_a_503_on_the_token_request_is_retried(
    proxy: FaultProxy, credentials: tuple[str, str], clean: list[Row]
) -> None:
    proxy.reply("/token", 503, error_body("temporarily_unavailable"))
    rows, _seconds, retries = pull(proxy, credentials, page_size=4)
    assert rows == clean
    assert retries == 1
    assert proxy.statuses("/token") == [503, 200]


def test_an_invalid_token_answer_mid_pull_gets_one_new_token_and_the_pull_completes(
    proxy: FaultProxy, credentials: tuple[str, str], clean: list[Row]
) -> None:
    proxy.reply(
        EXPORT, 401, error_body("invalid_token"), {"WWW-Authenticate": INVALID_TOKEN}, skip=1
    )
    rows, _seconds, retries = pull(proxy, credentials, page_size=4)
    assert rows == clean
    assert retries == 0  # the token layer mends it; no page had to be tried again
    assert proxy.statuses("/token") == [200, 200]
    assert proxy.statuses(EXPORT) == [200, 401, 200, 200]


@pytest.mark.parametrize(
    ("status", "headers", "kind", "error"),
    [
        (429, {"Retry-After": "0"}, RateLimited, "rate_limited"),
        (503, {}, ServerError, "temporarily_unavailable"),
    ],
)
def test_answers_that_outlast_the_retries_raise_the_typed_error_with_the_services_words(
    proxy: FaultProxy,
    credentials: tuple[str, str],
    status: int,
    headers: dict[str, str],
    kind: type[ApiError],
    error: str,
) -> None:
    proxy.reply(EXPORT, status, error_body(error), headers, skip=1)  # page 1 goes through
    proxy.reply(EXPORT, status, error_body(error), headers)
    proxy.reply(EXPORT, status, error_body(error), headers)
    with ExportClient(proxy.url, *credentials, retry=Retry(attempts=3, backoff=0.01)) as client:
        rows = client.rows(page_size=4)
        got: list[Row] = []
        with pytest.raises(kind) as raised:
            got.extend(rows)  # keeps what came before the error
    assert type(raised.value) is kind
    assert (raised.value.status_code, raised.value.error) == (status, error)
    assert raised.value.error_description == f"Injected {error}; try again."
    assert len({row["id"] for row in got}) == 4  # page 1 was delivered before the failure
    assert rows.progress.retries == 2
    assert proxy.statuses(EXPORT) == [200, status, status, status]
    assert (raised.value.url, raised.value.attempts) == (f"{proxy.url}{EXPORT}", 3)


@pytest.mark.parametrize("last", ["drop", "truncate"])
def test_connections_that_keep_failing_raise_connection_failed(
    proxy: FaultProxy, credentials: tuple[str, str], last: str
) -> None:
    proxy.cut(EXPORT, after=100)
    if last == "drop":
        proxy.truncate(EXPORT, after=100)
        proxy.drop(EXPORT)
    else:
        proxy.drop(EXPORT)
        proxy.truncate(EXPORT, after=100)  # a body that ends inside a row
    with ExportClient(proxy.url, *credentials, retry=Retry(attempts=3, backoff=0.01)) as client:
        rows = client.rows()
        with pytest.raises(ConnectionFailed) as raised:
            list(rows)
    assert rows.progress.retries == 2
    assert len(proxy.requests(EXPORT)) == 3
    url = f"{proxy.url}{EXPORT}"
    assert (raised.value.url, raised.value.attempts) == (url, 3)
    last = "IncompleteBody: the response ended inside a row" if last == "truncate" else "Remote"
    assert str(raised.value).startswith(f"{url}: 3 attempts failed, the last with {last}")


def test_a_retry_after_beyond_max_retry_after_fails_at_once(
    proxy: FaultProxy, credentials: tuple[str, str]
) -> None:
    proxy.reply(EXPORT, 429, error_body("rate_limited"), {"Retry-After": "60"})
    started = time.monotonic()
    with ExportClient(proxy.url, *credentials, retry=Retry(max_retry_after=10)) as client:
        rows = client.rows()
        with pytest.raises(RateLimited) as raised:
            list(rows)
    assert time.monotonic() - started < 5
    assert raised.value.retry_after == 60.0
    assert raised.value.error == "rate_limited"
    assert rows.progress.retries == 0
    assert proxy.statuses(EXPORT) == [429]


async def async_pull(
    proxy: FaultProxy, credentials: tuple[str, str], **kw: Any
) -> tuple[list[Row], int]:
    async with AsyncExportClient(proxy.url, *credentials, retry=FAST, timeout=10) as client:
        rows = client.rows(**kw)
        got = [row async for row in rows]
    return got, rows.progress.retries


def test_the_async_client_resumes_a_body_cut_midway(
    proxy: FaultProxy, live_server: LiveServer, credentials: tuple[str, str], clean: list[Row]
) -> None:
    ends = row_ends(live_server, credentials, "A-3")  # page 2 of 3 orders each
    proxy.cut(EXPORT, after=ends[1] + 50, skip=1)
    rows, retries = asyncio.run(async_pull(proxy, credentials, page_size=3))
    assert rows == clean
    assert retries == 1
    targets = [seen.target for seen in proxy.requests(EXPORT)]
    assert len(targets) == 4
    assert targets[1] == targets[2]


def test_the_async_client_waits_out_a_429(
    proxy: FaultProxy, credentials: tuple[str, str], clean: list[Row]
) -> None:
    proxy.reply(EXPORT, 429, error_body("rate_limited"), {"Retry-After": "1"}, skip=1)
    started = time.monotonic()
    rows, retries = asyncio.run(async_pull(proxy, credentials, page_size=3))
    assert rows == clean
    assert time.monotonic() - started >= 1.0
    assert retries == 1
    assert proxy.statuses(EXPORT) == [200, 429, 200, 200]


def test_each_retry_is_told_with_the_attempt_the_url_and_the_last_error(
    proxy: FaultProxy, credentials: tuple[str, str], clean: list[Row]
) -> None:
    proxy.reply("/token", 503, error_body("temporarily_unavailable"))
    proxy.reply(EXPORT, 503, error_body("temporarily_unavailable"), skip=1)
    proxy.drop(EXPORT)  # the same page once more: closed without an answer
    notices: list[Retrying] = []
    retry = Retry(attempts=4, backoff=0.01, max_backoff=0.05)
    with ExportClient(proxy.url, *credentials, retry=retry, on_retry=notices.append) as client:
        assert list(client.rows(page_size=4)) == clean
    busy = "503 temporarily_unavailable: Injected temporarily_unavailable; try again."
    dropped = "RemoteProtocolError: Server disconnected without sending a response."
    assert [(n.attempt, n.attempts, n.url, n.error) for n in notices] == [
        (1, 4, f"{proxy.url}/token", busy),
        (1, 4, f"{proxy.url}{EXPORT}", busy),  # page 2: the count starts again per request
        (2, 4, f"{proxy.url}{EXPORT}", dropped),
    ]
    assert all(0 < notice.delay <= 0.05 for notice in notices)


def test_a_dead_service_fails_naming_the_url_the_attempts_and_the_last_error() -> None:
    with socket.socket() as probe:  # a port nothing listens on, once this socket is closed
        probe.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{probe.getsockname()[1]}"
    notices: list[Retrying] = []
    retry = Retry(attempts=3, backoff=0.01)
    with ExportClient(dead, "id", "secret", retry=retry, on_retry=notices.append) as client:
        rows = client.rows()
        with pytest.raises(ConnectionFailed) as raised:
            list(rows)
    assert [(n.attempt, n.url) for n in notices] == [(1, f"{dead}/token"), (2, f"{dead}/token")]
    assert notices[0].error.startswith("ConnectError: ")
    assert (raised.value.url, raised.value.attempts) == (f"{dead}/token", 3)
    message = str(raised.value)
    assert message.startswith(f"{dead}/token: 3 attempts failed, the last with ConnectError: ")
    assert "\n" not in message
    assert rows.progress.retries == 2


def test_the_async_client_tells_of_its_retries_too(
    proxy: FaultProxy, credentials: tuple[str, str], clean: list[Row]
) -> None:
    proxy.reply(EXPORT, 502, error_body("bad_gateway"))
    notices: list[Retrying] = []

    async def pull() -> list[Row]:
        async with AsyncExportClient(
            proxy.url, *credentials, retry=FAST, on_retry=notices.append
        ) as client:
            return [row async for row in client.rows(page_size=4)]

    assert asyncio.run(pull()) == clean
    assert [(n.attempt, n.attempts, n.url, n.error) for n in notices] == [
        (1, 8, f"{proxy.url}{EXPORT}", "502 bad_gateway: Injected bad_gateway; try again.")
    ]
