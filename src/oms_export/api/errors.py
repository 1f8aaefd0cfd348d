"""The one place where domain errors become HTTP answers.

Every error body is JSON in the RFC 6749 §5.2 form (``error``, ``error_description``), plus
``parameter`` when one parameter is at fault. Nothing reaches the client as HTML or a traceback.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from sqlalchemy.exc import DBAPIError
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
    errors.NotAcceptable: 406,
    errors.RateLimited: 429,
    errors.TemporarilyUnavailable: 503,
}

_HTTP_ERROR_CODES = {404: "not_found", 405: "method_not_allowed"}


def error_response(exc: errors.OmsExportError) -> Response:
    status = STATUS.get(type(exc), 500)
    body: dict[str, object] = {"error": exc.error, "error_description": exc.description}
    if exc.parameter is not None:
        body["parameter"] = exc.parameter
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
    if isinstance(exc, errors.InvalidClient | errors.InvalidRequest | errors.InvalidScope):
        headers["Cache-Control"] = "no-store"
    return json_response(body, status=status, headers=headers)


def install_error_handlers(app: FastAPI) -> None:
    async def on_domain_error(_request: Request, exc: Exception) -> Response:
        assert isinstance(exc, errors.OmsExportError)
        return error_response(exc)

    async def on_http_error(_request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        code = _HTTP_ERROR_CODES.get(exc.status_code, "invalid_request")
        return json_response(
            {"error": code, "error_description": str(exc.detail)},
            status=exc.status_code,
            headers=dict(exc.headers or {}),
        )

    async def on_validation_error(_request: Request, exc: Exception) -> Response:
        return json_response(
            {"error": "invalid_request", "error_description": "The request does not parse."},
            status=400,
        )

    async def on_unexpected(request: Request, exc: Exception) -> Response:
        request_id = request.scope.get("state", {}).get("request_id")
        log.exception("unhandled error", exc_info=exc, extra={"request_id": request_id})
        # Starlette answers an unhandled error outside the middleware that sets the header.
        return json_response(
            {"error": "server_error", "error_description": "Internal error; it has been logged."},
            status=500,
            headers={REQUEST_ID_HEADER: request_id} if request_id else None,
        )

    async def on_database_error(request: Request, exc: Exception) -> Response:
        if not is_statement_timeout(exc):
            return await on_unexpected(request, exc)
        seconds = request.app.state.service.settings.statement_timeout_seconds
        return json_response(
            {
                "error": "query_timeout",
                "error_description": f"The query ran longer than the statement timeout "
                f"({seconds} s) and was cancelled; narrow the filters or page the export.",
            },
            status=503,
        )

    app.add_exception_handler(errors.OmsExportError, on_domain_error)
    app.add_exception_handler(StarletteHTTPException, on_http_error)
    app.add_exception_handler(RequestValidationError, on_validation_error)
    app.add_exception_handler(DBAPIError, on_database_error)
    app.add_exception_handler(Exception, on_unexpected)
