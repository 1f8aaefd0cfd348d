"""``ExportClient`` and ``AsyncExportClient``: rows of the export API, every page, despite faults.

The two classes are the same protocol over httpx's two clients; the rules they share (query
parameters, cursors, resumption, retry timing) live in ``query`` and ``retry``.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Mapping
from types import TracebackType
from typing import Any, Self

import anyio
import httpx
import orjson

from oms_export import __version__
from oms_export.client.auth import SCOPE, ClientCredentials
from oms_export.client.errors import (
    ApiError,
    ConnectionFailed,
    ExportError,
    api_error,
    attempts_failed,
    describe,
    plain_url,
)
from oms_export.client.query import (
    EXPORT_PATH,
    MAX_PAGE_SIZE,
    FilterValue,
    LegacyShape,
    Lines,
    Pager,
    Query,
    Row,
    Shape,
    api_shape,
    next_link,
)
from oms_export.client.retry import Retry, Retrying, parse_retry_after

_RETRYABLE = (httpx.TransportError, ExportError)
USER_AGENT = f"oms-export-client/{__version__}"

OnRetry = Callable[[Retrying], None]
"""Told of each failed attempt before the wait that precedes the next one."""


def _failed(response: httpx.Response) -> ApiError:
    return api_error(response, parse_retry_after(response.headers.get("Retry-After")))


def _after_failure(retry: Retry, error: Exception, failures: int, export_url: str) -> Retrying:
    """What to do after the ``failures``-th failed attempt in a row: wait and try again (the
    notice says how long), or raise the final error, which names the URL and the attempts."""
    url = _url_of(error) or export_url
    delay = retry.delay(error, failures)
    if delay is None:
        if isinstance(error, ApiError):  # its fields are the service's words: keep it whole
            error.url, error.attempts = url, failures
            raise error
        kind = type(error) if isinstance(error, ConnectionFailed) else ConnectionFailed
        final = kind(attempts_failed(url, failures, describe(error)))
        final.url, final.attempts = url, failures
        raise final from error
    return Retrying(failures, retry.attempts, url, describe(error), delay)


def _url_of(error: Exception) -> str | None:
    """The request an error is about: the token's or the export's, as the error knows it."""
    if isinstance(error, ExportError):
        return error.url
    if isinstance(error, httpx.RequestError):
        try:
            return plain_url(error.request.url)
        except RuntimeError:  # raised outside httpx's request context: no request attached
            return None
    return None


class Rows:
    """The rows of one export as an iterator; ``rows``, ``pages``, ``bytes``, ``retries`` count."""

    def __init__(
        self, http: httpx.Client, query: Query, retry: Retry, on_retry: OnRetry | None = None
    ) -> None:
        self._http = http
        self._retry = retry
        self._on_retry = on_retry
        self._url = f"{str(http.base_url).rstrip('/')}{EXPORT_PATH}"
        self.progress = Pager(query)

    def __iter__(self) -> Iterator[Row]:
        pager, failures = self.progress, 0
        while not pager.done:
            try:
                with self._http.stream("GET", EXPORT_PATH, params=pager.params()) as response:
                    if response.status_code != 200:
                        response.read()
                        raise _failed(response)
                    lines = Lines()
                    for chunk in response.iter_bytes():
                        pager.bytes += len(chunk)
                        for line in lines.feed(chunk):
                            row = orjson.loads(line)
                            if pager.fresh(row):
                                yield row
                    lines.end()
                    pager.page_done(next_link(response))
                failures = 0
            except _RETRYABLE as error:
                failures += 1
                notice = _after_failure(self._retry, error, failures, self._url)
                pager.retries += 1
                if self._on_retry is not None:
                    self._on_retry(notice)
                time.sleep(notice.delay)


class AsyncRows:
    """``Rows`` for ``async for``."""

    def __init__(
        self, http: httpx.AsyncClient, query: Query, retry: Retry, on_retry: OnRetry | None = None
    ) -> None:
        self._http = http
        self._retry = retry
        self._on_retry = on_retry
        self._url = f"{str(http.base_url).rstrip('/')}{EXPORT_PATH}"
        self.progress = Pager(query)

    async def __aiter__(self) -> AsyncIterator[Row]:
        pager, failures = self.progress, 0
        while not pager.done:
            try:
                async with self._http.stream("GET", EXPORT_PATH, params=pager.params()) as response:
                    if response.status_code != 200:
                        await response.aread()
                        raise _failed(response)
                    lines = Lines()
                    async for chunk in response.aiter_bytes():
                        pager.bytes += len(chunk)
                        for line in lines.feed(chunk):
                            row = orjson.loads(line)
                            if pager.fresh(row):
                                yield row
                    lines.end()
                    pager.page_done(next_link(response))
                failures = 0
            except _RETRYABLE as error:
                failures += 1
                notice = _after_failure(self._retry, error, failures, self._url)
                pager.retries += 1
                if self._on_retry is not None:
                    self._on_retry(notice)
                await anyio.sleep(notice.delay)


def _query(
    filters: Mapping[str, FilterValue] | None,
    options: Iterable[str],
    shape: Shape,
    page_size: int,
) -> Query:
    if not 1 <= page_size <= MAX_PAGE_SIZE:
        raise ValueError(f"page_size must be 1 to {MAX_PAGE_SIZE}, not {page_size}")
    return Query(dict(filters or {}), tuple(options), shape, page_size)


def _http_options(
    base_url: str, client_id: str, client_secret: str, scope: str, timeout: float
) -> dict[str, Any]:
    """What the sync and async clients give their httpx client alike."""
    base_url = base_url.rstrip("/")
    return {
        "base_url": base_url,
        "auth": ClientCredentials(f"{base_url}/token", client_id, client_secret, scope),
        "timeout": timeout,
        "headers": {"User-Agent": USER_AGENT},
    }


class ExportClient:
    """A client of one export service, holding one HTTP connection pool and one token.

    ``transport`` is passed to httpx (tests and proxies); ``timeout`` bounds each network wait,
    not a whole export. ``on_retry`` is called with a ``Retrying`` before each wait for another
    attempt, so a display or a log can show it: ``on_retry=lambda notice: print(notice)``.
    """

    def __init__(
        self,
        base_url: str,
        client_id: str,
        client_secret: str,
        *,
        scope: str = SCOPE,
        retry: Retry | None = None,
        timeout: float = 60.0,
        transport: httpx.BaseTransport | None = None,
        on_retry: OnRetry | None = None,
    ) -> None:
        self.retry = retry or Retry()
        self.on_retry = on_retry
        options = _http_options(base_url, client_id, client_secret, scope, timeout)
        self._http = httpx.Client(transport=transport, **options)

    def rows(
        self,
        filters: Mapping[str, FilterValue] | None = None,
        options: Iterable[str] = (),
        shape: Shape | LegacyShape = "rows",
        page_size: int = MAX_PAGE_SIZE,
    ) -> Rows:
        """Every row the filters select, page after page, as dicts in the service's key order.

        ``shape`` is the API's: ``"rows"`` or ``"orders"`` (``"items"`` is deprecated).
        """
        query = _query(filters, options, api_shape(shape, stacklevel=3), page_size)
        return Rows(self._http, query, self.retry, self.on_retry)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class AsyncExportClient:
    """``ExportClient`` for asyncio (or trio): ``async for row in client.rows(...)``."""

    def __init__(
        self,
        base_url: str,
        client_id: str,
        client_secret: str,
        *,
        scope: str = SCOPE,
        retry: Retry | None = None,
        timeout: float = 60.0,
        transport: httpx.AsyncBaseTransport | None = None,
        on_retry: OnRetry | None = None,
    ) -> None:
        self.retry = retry or Retry()
        self.on_retry = on_retry
        options = _http_options(base_url, client_id, client_secret, scope, timeout)
        self._http = httpx.AsyncClient(transport=transport, **options)

    def rows(
        self,
        filters: Mapping[str, FilterValue] | None = None,
        options: Iterable[str] = (),
        shape: Shape | LegacyShape = "rows",
        page_size: int = MAX_PAGE_SIZE,
    ) -> AsyncRows:
        """Every row the filters select, page after page, as dicts in the service's key order.

        ``shape`` is the API's: ``"rows"`` or ``"orders"`` (``"items"`` is deprecated).
        """
        query = _query(filters, options, api_shape(shape, stacklevel=3), page_size)
        return AsyncRows(self._http, query, self.retry, self.on_retry)

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()
