"""What the client raises: one family, carrying the server's own words about what went wrong."""

from __future__ import annotations

from contextlib import suppress
from typing import Any

import httpx
import orjson


class ExportError(Exception):
    """Base of every error the client raises.

    ``url`` is the request that failed (without its query: the token URL or the export's path)
    and ``attempts`` how many times in a row it was tried, so a report can say where and how
    hard the client tried. Both are set on what ``rows()`` raises; ``attempts`` is 0 on an error
    made elsewhere (``url`` may already be known, from the response).
    """

    url: str | None = None
    attempts: int = 0


class ApiError(ExportError):
    """The service answered with an error.

    ``error``, ``error_description`` and ``parameter`` are the fields of the service's JSON error
    body (``parameter`` names the query parameter at fault on a 400); ``retry_after`` is the wait
    the service asked for, in seconds.
    """

    def __init__(
        self,
        status_code: int,
        error: str,
        error_description: str,
        parameter: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(f"{status_code} {error}: {error_description}")
        self.status_code = status_code
        self.error = error
        self.error_description = error_description
        self.parameter = parameter
        self.retry_after = retry_after


class BadRequest(ApiError):
    """400: a filter, option or parameter the service does not accept; see ``parameter``."""


class Unauthorized(ApiError):
    """401: unknown client, wrong secret, revoked client, or a token the service refuses."""


class Forbidden(ApiError):
    """403: the client may not export (subscription) or named a company that is not its own."""


class RateLimited(ApiError):
    """429 that outlasted the client's retries."""


class ServerError(ApiError):
    """5xx that outlasted the client's retries (502/503/504), or any other 5xx."""


class ConnectionFailed(ExportError):
    """The connection failed or the body was cut short, and retrying did not help.

    Its message names the URL, the attempts and the last error, as one line:
    ``http://127.0.0.1:9/token: 8 attempts failed, the last with ConnectError: …``.
    """


class IncompleteBody(ConnectionFailed):
    """A response body ended inside a row: the connection was cut mid-transfer."""


_BY_STATUS: dict[int, type[ApiError]] = {
    400: BadRequest,
    401: Unauthorized,
    403: Forbidden,
    429: RateLimited,
}


def api_error(response: httpx.Response, retry_after: float | None = None) -> ApiError:
    """The typed error for a non-2xx response whose body has been read."""
    body: Any
    try:
        body = orjson.loads(response.content)
    except orjson.JSONDecodeError:
        body = None
    if not isinstance(body, dict):
        body = {}
    status = response.status_code
    kind = _BY_STATUS.get(status, ServerError if status >= 500 else ApiError)
    error = kind(
        status,
        str(body.get("error") or response.reason_phrase or "error"),
        str(body.get("error_description") or response.text[:200] or response.reason_phrase),
        parameter=body.get("parameter"),
        retry_after=retry_after,
    )
    with suppress(RuntimeError):  # a response built by hand has no request
        error.url = plain_url(response.request.url)
    return error


def plain_url(url: httpx.URL) -> str:
    """``url`` without its query, as a report names it: the filters are the user's own words,
    the cursor is noise, and either would make a one-line error hard to read."""
    return str(url.copy_with(query=None, fragment=None))


def describe(error: Exception) -> str:
    """One line saying what went wrong: the service's words, or the kind of network failure.

    httpx's errors often say little on their own (``ReadTimeout`` may be empty), so the class
    name leads.
    """
    if isinstance(error, ApiError):
        return str(error)
    text = str(error).strip().replace("\n", " ")
    return f"{error.__class__.__name__}: {text}" if text else error.__class__.__name__


def attempts_failed(url: str, attempts: int, last: str) -> str:
    """The final word on a request the client gave up on: where, how many tries, the last
    error; e.g. ``http://h/token: 3 attempts failed, the last with ConnectError: refused``."""
    if attempts <= 1:
        return f"{url}: {last}"
    return f"{url}: {attempts} attempts failed, the last with {last}"
