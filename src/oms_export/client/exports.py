"""``ExportClient`` and ``AsyncExportClient``: rows of the export API, every page, despite faults.

The two classes are the same protocol over httpx's two clients; the rules they share (query
parameters, cursors, resumption, retry timing) live in ``query`` and ``retry``.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterable, Iterator, Mapping
from types import TracebackType
from typing import Any, Self

import anyio
import httpx
import orjson

from oms_export import __version__
from oms_export.client.auth import SCOPE, ClientCredentials
from oms_export.client.errors import ApiError, ConnectionFailed, ExportError, api_error
from oms_export.client.query import (
    EXPORT_PATH,
    MAX_PAGE_SIZE,
    FilterValue,
    Lines,
    Pager,
    Query,
    Row,
    Shape,
)
from oms_export.client.retry import Retry, parse_retry_after

_RETRYABLE = (ApiError, httpx.TransportError, ExportError)
USER_AGENT = f"oms-export-client/{__version__}"


def _failed(response: httpx.Response) -> ApiError:
    return api_error(response, parse_retry_after(response.headers.get("Retry-After")))


class Rows:
    """The rows of one export as an iterator; ``rows``, ``pages``, ``bytes``, ``retries`` count."""

    def __init__(self, http: httpx.Client, query: Query, retry: Retry) -> None:
        self._http = http
        self._retry = retry
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
                    pager.page_done(response.headers.get("Link"))
                failures = 0
            except _RETRYABLE as error:
                failures += 1
                delay = self._retry.delay(error, failures)
                if delay is None:
                    if isinstance(error, ExportError):
                        raise
                    raise ConnectionFailed(f"{error.__class__.__name__}: {error}") from error
                pager.retries += 1
                time.sleep(delay)


class AsyncRows:
    """``Rows`` for ``async for``."""

    def __init__(self, http: httpx.AsyncClient, query: Query, retry: Retry) -> None:
        self._http = http
        self._retry = retry
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
                    pager.page_done(response.headers.get("Link"))
                failures = 0
            except _RETRYABLE as error:
                failures += 1
                delay = self._retry.delay(error, failures)
                if delay is None:
                    if isinstance(error, ExportError):
                        raise
                    raise ConnectionFailed(f"{error.__class__.__name__}: {error}") from error
                pager.retries += 1
                await anyio.sleep(delay)


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
    not a whole export.
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
    ) -> None:
        self.retry = retry or Retry()
        options = _http_options(base_url, client_id, client_secret, scope, timeout)
        self._http = httpx.Client(transport=transport, **options)

    def rows(
        self,
        filters: Mapping[str, FilterValue] | None = None,
        options: Iterable[str] = (),
        shape: Shape = "items",
        page_size: int = MAX_PAGE_SIZE,
    ) -> Rows:
        """Every row the filters select, page after page, as dicts in the service's key order."""
        return Rows(self._http, _query(filters, options, shape, page_size), self.retry)

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
    ) -> None:
        self.retry = retry or Retry()
        options = _http_options(base_url, client_id, client_secret, scope, timeout)
        self._http = httpx.AsyncClient(transport=transport, **options)

    def rows(
        self,
        filters: Mapping[str, FilterValue] | None = None,
        options: Iterable[str] = (),
        shape: Shape = "items",
        page_size: int = MAX_PAGE_SIZE,
    ) -> AsyncRows:
        """Every row the filters select, page after page, as dicts in the service's key order."""
        return AsyncRows(self._http, _query(filters, options, shape, page_size), self.retry)

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
