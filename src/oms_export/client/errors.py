"""What the client raises: one family, carrying the server's own words about what went wrong."""

from __future__ import annotations

from typing import Any

import httpx
import orjson


class ExportError(Exception):
    """Base of every error the client raises."""


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
    """The connection failed or the body was cut short, and retrying did not help."""


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
    return kind(
        status,
        str(body.get("error") or response.reason_phrase or "error"),
        str(body.get("error_description") or response.text[:200] or response.reason_phrase),
        parameter=body.get("parameter"),
        retry_after=retry_after,
    )
