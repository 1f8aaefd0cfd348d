"""The one place where domain errors become HTTP answers.

Every error body is JSON in the RFC 6749 §5.2 form (``error``, ``error_description``), plus
``parameter`` when one parameter is at fault. Nothing reaches the client as HTML or a traceback.

Routes marked ``@never_stored`` (``POST /token``) get ``Cache-Control: no-store`` on every
answer, errors included, as RFC 6749 §5.1 asks of the token endpoint: the handlers here add it,
so no error path (a 405, a 429, a 503, a 500) can forget it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, TypeVar

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from oms_export import errors
from oms_export.api.middleware import REQUEST_ID_HEADER
from oms_export.api.responses import json_response
from oms_export.db.engine import is_statement_timeout

log = logging.getLogger("oms_export.api")

STATUS: dict[type[errors.OmsExportError], int] = {
    errors.InvalidRequest: 400,
    errors.UnsupportedGrantType: 400,
    errors.InvalidScope: 400,
    errors.InvalidClient: 401,
    errors.InvalidToken: 401,
    errors.InsufficientScope: 403,
    errors.SubscriptionRequired: 403,
    errors.CompanyNotAllowed: 403,
    errors.NotFound: 404,
    errors.InvalidTransition: 409,
    errors.DuplicateOrder: 409,
    errors.PayloadTooLarge: 413,
    errors.UnsupportedMediaType: 415,
    errors.NotAcceptable: 406,
    errors.RateLimited: 429,
    errors.TemporarilyUnavailable: 503,
}

_HTTP_ERROR_CODES = {404: "not_found", 405: "method_not_allowed"}

NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
"""What RFC 6749 §5.1 asks of every token endpoint answer (``Pragma`` for HTTP/1.0 caches)."""

POOL_BUSY_RETRY_AFTER = 1
"""``Retry-After`` when no database connection came free in time: connections are held for
milliseconds by a token request and freed as exports end, so a second is a fair wait."""

_NEVER_STORED = "oms_export_never_stored"

_Endpoint = TypeVar("_Endpoint", bound=Callable[..., Any])


def never_stored(endpoint: _Endpoint) -> _Endpoint:
    """Mark a route's endpoint so every answer of it, error or not, says ``no-store``.

    The route sets the headers on its own success answers; this covers the answers made here.
    """
    setattr(endpoint, _NEVER_STORED, True)
    return endpoint


def _is_never_stored(request: Request) -> bool:
    # Starlette puts the matched endpoint in the scope, for a wrong method (405) too.
    return bool(getattr(request.scope.get("endpoint"), _NEVER_STORED, False))


def error_response(exc: errors.OmsExportError) -> Response:
    # The nearest mapped class: a refinement (InvalidItem is an InvalidRequest) keeps its status.
    status = next((STATUS[cls] for cls in type(exc).__mro__ if cls in STATUS), 500)
    body: dict[str, object] = {"error": exc.error, "error_description": exc.description}
    if exc.parameter is not None:
        body["parameter"] = exc.parameter
    if isinstance(exc, errors.DuplicateOrder):
        body["order_id"] = exc.order_id
    headers: dict[str, str] = {}
    if isinstance(exc, errors.InvalidClient) and exc.basic:
        headers["WWW-Authenticate"] = 'Basic realm="oms-export"'
    elif isinstance(exc, errors.InvalidToken):
        headers["WWW-Authenticate"] = (
            'Bearer realm="oms-export"'
            if exc.missing
            else f'Bearer realm="oms-export", error="invalid_token", '
            f'error_description="{exc.description}"'
        )
    elif isinstance(exc, errors.InsufficientScope):
        headers["WWW-Authenticate"] = 'Bearer realm="oms-export", error="insufficient_scope"'
    elif isinstance(exc, errors.RateLimited | errors.TemporarilyUnavailable):
        headers["Retry-After"] = str(exc.retry_after)
    elif isinstance(exc, errors.PayloadTooLarge):
        headers["Connection"] = "close"  # the rest of the body is not read: no next request
    if isinstance(
        exc,
        errors.InvalidClient
        | errors.InvalidRequest
        | errors.InvalidScope
        | errors.UnsupportedGrantType,
    ):
        headers["Cache-Control"] = "no-store"
    return json_response(body, status=status, headers=headers)


def install_error_handlers(app: FastAPI) -> None:
    def answer(request: Request, response: Response) -> Response:
        if _is_never_stored(request):
            response.headers.update(NO_STORE)
        return response

    async def on_domain_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, errors.OmsExportError)
        return answer(request, error_response(exc))

    async def on_http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        code = _HTTP_ERROR_CODES.get(exc.status_code, "invalid_request")
        return answer(
            request,
            json_response(
                {"error": code, "error_description": str(exc.detail)},
                status=exc.status_code,
                headers=dict(exc.headers or {}),
            ),
        )

    async def on_validation_error(request: Request, exc: Exception) -> Response:
        return answer(
            request,
            json_response(
                {"error": "invalid_request", "error_description": "The request does not parse."},
                status=400,
            ),
        )

    async def on_unexpected(request: Request, exc: Exception) -> Response:
        request_id = _request_id(request)
        log.exception("unhandled error", exc_info=exc, extra={"request_id": request_id})
        # Starlette answers an unhandled error outside the middleware that sets the header.
        return answer(
            request,
            json_response(
                {
                    "error": "server_error",
                    "error_description": "Internal error; it has been logged.",
                },
                status=500,
                headers={REQUEST_ID_HEADER: request_id} if request_id else None,
            ),
        )

    async def on_database_error(request: Request, exc: Exception) -> Response:
        if not is_statement_timeout(exc):
            return await on_unexpected(request, exc)
        seconds = request.app.state.service.settings.statement_timeout_seconds
        return answer(
            request,
            json_response(
                {
                    "error": "query_timeout",
                    "error_description": f"The query ran longer than the statement timeout "
                    f"({seconds} s) and was cancelled; narrow the filters or page the export.",
                },
                status=503,
            ),
        )

    async def on_pool_timeout(request: Request, exc: Exception) -> Response:
        # Every connection was taken for longer than the pool's timeout: load, not a fault,
        # so a warning without traceback (one per refused request would flood the log) and
        # an answer that tells the client to come back.
        log.warning(
            "no database connection free: %s",
            exc.args[0] if exc.args else type(exc).__name__,
            extra={"request_id": _request_id(request)},
        )
        busy = errors.TemporarilyUnavailable(
            "The service is busy (every database connection is in use); retry shortly.",
            retry_after=POOL_BUSY_RETRY_AFTER,
        )
        return answer(request, error_response(busy))

    app.add_exception_handler(errors.OmsExportError, on_domain_error)
    app.add_exception_handler(StarletteHTTPException, on_http_error)
    app.add_exception_handler(RequestValidationError, on_validation_error)
    app.add_exception_handler(DBAPIError, on_database_error)
    app.add_exception_handler(PoolTimeout, on_pool_timeout)
    app.add_exception_handler(Exception, on_unexpected)


def _request_id(request: Request) -> str | None:
    request_id: str | None = request.scope.get("state", {}).get("request_id")
    return request_id
