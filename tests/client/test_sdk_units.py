"""The SDK's rules with no server: Retry-After, backoff, cursors from Link headers, NDJSON lines,
query parameters, shapes, and how a failure is put in words."""

from __future__ import annotations

import random
import warnings
from datetime import UTC, date, datetime, timedelta, timezone

import httpx
import pytest

from oms_export.client import (
    BadRequest,
    ConnectionFailed,
    ExportClient,
    IncompleteBody,
    Query,
    RateLimited,
    Retry,
    Retrying,
    ServerError,
)
from oms_export.client.errors import api_error, attempts_failed, describe
from oms_export.client.query import Lines, Pager, Row, api_shape, next_cursor, next_link
from oms_export.client.retry import parse_retry_after

NOW = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("0", 0.0),
        ("7", 7.0),
        (" 120 ", 120.0),
        ("Wed, 01 May 2024 12:00:30 GMT", 30.0),  # 30 s ahead of NOW
        ("Wed, 01 May 2024 11:59:00 GMT", 0.0),  # already past: go now
        ("Wed, 01 May 2024 12:01:00 -0000", 60.0),  # no zone given: UTC
    ],
)
def test_retry_after_is_read_as_seconds_or_an_http_date(header: str, seconds: float) -> None:
    assert parse_retry_after(header, now=NOW) == seconds


@pytest.mark.parametrize("header", [None, "", "soon", "-5", "1.5e3", "²", "Wed, 99 Foo 2024"])
def test_retry_after_that_is_neither_is_ignored(header: str | None) -> None:
    assert parse_retry_after(header, now=NOW) is None


def test_retry_after_dates_are_measured_from_the_present_by_default() -> None:
    header = (datetime.now(UTC) + timedelta(seconds=90)).strftime("%a, %d %b %Y %H:%M:%S GMT")
    seconds = parse_retry_after(header)
    assert seconds is not None
    assert 85 <= seconds <= 90


def busy(retry_after: float | None = None, status: int = 503) -> ServerError | RateLimited:
    kind = RateLimited if status == 429 else ServerError
    return kind(status, "busy", "Busy.", retry_after=retry_after)


def test_backoff_doubles_from_backoff_and_stays_between_half_and_all_of_its_ceiling() -> None:
    retry = Retry(attempts=100, backoff=0.5, max_backoff=4.0, rng=random.Random(7))
    ceilings = [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]
    for failures, ceiling in enumerate(ceilings, start=1):
        delays = [retry.delay(busy(), failures) for _ in range(200)]
        assert all(d is not None and ceiling / 2 <= d <= ceiling for d in delays), failures
        assert len(set(delays)) > 100  # jittered, not a fixed wait


def test_backoff_is_reproducible_with_a_seeded_rng() -> None:
    def waits(seed: int) -> list[float | None]:
        retry = Retry(rng=random.Random(seed))
        return [retry.delay(httpx.ReadError("cut"), n) for n in range(1, 6)]

    assert waits(1) == waits(1)
    assert waits(1) != waits(2)


def test_the_service_retry_after_wins_over_backoff_up_to_max_retry_after() -> None:
    retry = Retry(backoff=0.01, max_retry_after=60)
    assert retry.delay(busy(retry_after=42, status=429), 1) == 42.0
    assert retry.delay(busy(retry_after=60), 3) == 60.0
    assert retry.delay(busy(retry_after=61, status=429), 1) is None


def test_retries_stop_after_attempts_tries() -> None:
    retry = Retry(attempts=3, backoff=0.01)
    assert retry.delay(busy(), 1) is not None
    assert retry.delay(busy(), 2) is not None
    assert retry.delay(busy(), 3) is None


@pytest.mark.parametrize(
    "error",
    [
        BadRequest(400, "invalid_request", "No.", parameter="filter[id]"),
        ServerError(500, "server_error", "Internal error."),
        ServerError(501, "not_implemented", "No."),
        ValueError("a bug of ours"),
    ],
)
def test_errors_that_another_try_cannot_mend_are_final(error: Exception) -> None:
    assert Retry().delay(error, 1) is None


@pytest.mark.parametrize(
    "error",
    [
        busy(status=429),
        busy(status=502),
        busy(status=503),
        busy(status=504),
        httpx.ConnectError("refused"),
        httpx.RemoteProtocolError("incomplete chunked read"),
        httpx.ReadTimeout("slow"),
        IncompleteBody("cut"),
    ],
)
def test_busy_answers_and_broken_connections_are_retried(error: Exception) -> None:
    assert Retry().delay(error, 1) is not None


def test_a_body_cut_short_is_a_connection_failure() -> None:
    assert issubclass(IncompleteBody, ConnectionFailed)


PAGE = "/export-api/order-item-details?format=ndjson&page[size]=2&page[after]="


@pytest.mark.parametrize(
    ("link", "cursor"),
    [
        (f'<{PAGE}abc.DEF-1_2>; rel="next"', "abc.DEF-1_2"),
        (f'<http://10.0.0.5:8000{PAGE}abc>; rel="next"', "abc"),
        (f"<{PAGE}abc>;rel=next", "abc"),
        (f'<{PAGE}a%2Bb%3D>; rel="next"', "a+b="),
        (f'<{PAGE}old>; rel="prev", <{PAGE}new>; rel="next"', "new"),
        (f'<{PAGE}new>; rel="next", <{PAGE}old>; rel="prev"', "new"),
    ],
)
def test_the_next_cursor_is_taken_from_a_relative_or_absolute_next_link(
    link: str, cursor: str
) -> None:
    response = httpx.Response(200, headers={"Link": link})  # parsed by httpx's response.links
    assert next_cursor(next_link(response)) == cursor


@pytest.mark.parametrize(
    "link",
    [
        None,
        "",
        f'<{PAGE}old>; rel="prev"',
        f'<{PAGE}older>; rel="next-archive"',
        '</export-api/order-item-details?page[size]=2>; rel="next"',  # no cursor in it
    ],
)
def test_no_next_link_means_the_last_page(link: str | None) -> None:
    response = httpx.Response(200, headers={} if link is None else {"Link": link})
    assert next_cursor(next_link(response)) is None


def test_lines_are_joined_across_chunks_and_split_within_them() -> None:
    lines = Lines()
    assert lines.feed(b'{"id": 1}\n{"i') == [b'{"id": 1}']
    assert lines.feed(b'd"') == []
    assert lines.feed(b": 2}\n") == [b'{"id": 2}']
    assert lines.feed(b'{"id": 3}\n{"id": 4}\n') == [b'{"id": 3}', b'{"id": 4}']
    lines.end()


def test_a_body_ending_inside_a_row_raises_incomplete_body() -> None:
    lines = Lines()
    assert lines.feed(b'{"id": 1}\n{"id": 2') == [b'{"id": 1}']
    with pytest.raises(IncompleteBody, match="8 bytes"):
        lines.end()


def test_query_parameters_spell_every_value_as_the_service_reads_it() -> None:
    query = Query(
        filters={
            "status:in": [8, 516],
            "external_ref:in": ("A-1", "B,2"),
            "id:gt": 10,
            "ref": "O7",
            "creation_datetime:gte": datetime(2024, 5, 1, 8, 30, 0),
            "completion_datetime:lt": datetime(
                2024, 5, 1, 8, 30, tzinfo=timezone(timedelta(hours=-5))
            ),
            "sale_datetime:gte": date(2024, 5, 1),
        },
        options=("includeProductPrice", "includeAttributes"),
        shape="orders",
        page_size=25,
    )
    assert list(query.params("CURSOR").multi_items()) == [
        ("format", "ndjson"),
        ("page[size]", "25"),
        ("filter[status:in]", "8,516"),
        ("filter[external_ref:in]", "A-1,B,2"),
        ("filter[id:gt]", "10"),
        ("filter[ref]", "O7"),
        ("filter[creation_datetime:gte]", "2024-05-01 08:30:00"),
        ("filter[completion_datetime:lt]", "2024-05-01 13:30:00"),
        ("filter[sale_datetime:gte]", "2024-05-01"),
        ("options[includeProductPrice]", "1"),
        ("options[includeAttributes]", "1"),
        ("shape", "orders"),
        ("page[after]", "CURSOR"),
    ]


def test_the_default_query_asks_for_ndjson_in_the_largest_pages_and_no_cursor() -> None:
    assert str(Query().params()) == "format=ndjson&page%5Bsize%5D=10000"


def test_the_pager_skips_rows_it_already_handed_out_and_follows_the_next_cursor() -> None:
    pager = Pager(Query(page_size=2))
    first: list[Row] = [
        {"id": 1, "items__id": 10},
        {"id": 1, "items__id": 11},
        {"id": 2, "items__id": None},
    ]
    assert [pager.fresh(row) for row in first[:2]] == [True, True]
    assert [pager.fresh(row) for row in first] == [
        False,
        False,
        True,
    ]  # the page again, after a cut
    pager.page_done(f"http://10.0.0.5:8000{PAGE}next")
    assert (pager.cursor, pager.done, pager.rows, pager.pages) == ("next", False, 3, 1)
    assert pager.params()["page[after]"] == "next"
    pager.page_done(None)
    assert pager.done


@pytest.mark.parametrize("page_size", [0, 10_001])
def test_a_page_size_the_service_would_refuse_is_refused_before_any_request(page_size: int) -> None:
    client = ExportClient("http://127.0.0.1:9", "id", "secret")
    with client, pytest.raises(ValueError, match="page_size"):
        client.rows(page_size=page_size)


def test_rows_is_the_shape_the_api_names_and_its_default_so_the_url_stays_plain() -> None:
    assert Query().shape == Query(shape="rows").shape == "rows"
    assert "shape" not in Query(shape="rows").params()
    assert Query(shape="orders").params()["shape"] == "orders"
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # neither of the API's words warns
        assert (api_shape("rows"), api_shape("orders")) == ("rows", "orders")


def test_items_the_old_word_for_rows_still_works_with_a_warning_at_the_callers_line() -> None:
    with pytest.warns(DeprecationWarning, match="shape='rows'"):
        query = Query(shape="items")  # type: ignore[arg-type]  # what an old script passes
    assert query.shape == "rows"
    assert "shape" not in query.params()
    client = ExportClient("http://127.0.0.1:9", "id", "secret")
    with client, pytest.warns(DeprecationWarning, match="shape='items' is deprecated") as caught:
        rows = client.rows(shape="items")
    assert rows.progress.query.shape == "rows"
    assert [warning.filename for warning in caught] == [__file__]


def test_a_shape_the_service_does_not_know_is_refused_before_any_request() -> None:
    client = ExportClient("http://127.0.0.1:9", "id", "secret")
    with client, pytest.raises(ValueError, match="shape must be one of rows, orders, not 'flat'"):
        client.rows(shape="flat")  # type: ignore[arg-type]


def test_a_retry_notice_is_one_line_with_the_attempt_the_url_and_the_error() -> None:
    notice = Retrying(2, 8, "http://h/token", "ConnectError: refused", 1.25)
    assert str(notice) == (
        "Attempt 2 of 8 failed: http://h/token: ConnectError: refused; trying again in 1.2 s"
    )


@pytest.mark.parametrize(
    ("error", "said"),
    [
        (
            httpx.ConnectError("[Errno 111] Connection refused"),
            "ConnectError: [Errno 111] Connection refused",
        ),
        (httpx.ReadTimeout(""), "ReadTimeout"),
        (
            httpx.RemoteProtocolError("peer closed\nconnection"),
            "RemoteProtocolError: peer closed connection",
        ),
        (
            IncompleteBody("the response ended inside a row (8 bytes)"),
            "IncompleteBody: the response ended inside a row (8 bytes)",
        ),
        (busy(), "503 busy: Busy."),
    ],
)
def test_an_error_is_described_on_one_line_leading_with_what_kind_it_is(
    error: Exception, said: str
) -> None:
    assert describe(error) == said


def test_the_final_word_names_the_url_the_attempts_and_the_last_error() -> None:
    assert attempts_failed("http://h/token", 8, "ConnectError: refused") == (
        "http://h/token: 8 attempts failed, the last with ConnectError: refused"
    )
    assert attempts_failed("http://h/token", 1, "ConnectError: refused") == (
        "http://h/token: ConnectError: refused"
    )


def test_an_api_error_knows_its_url_without_the_query() -> None:
    request = httpx.Request("GET", "http://h:8000/export-api/order-item-details?filter[id]=x")
    body = b'{"error": "invalid_request", "error_description": "No.", "parameter": "filter[id]"}'
    error = api_error(httpx.Response(400, content=body, request=request))
    assert isinstance(error, BadRequest)
    assert (error.url, error.parameter) == (
        "http://h:8000/export-api/order-item-details",
        "filter[id]",
    )
