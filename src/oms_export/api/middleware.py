"""Request ids, one access-log line per request, and request metrics, as pure ASGI middleware.

Pure ASGI on purpose: it only watches the ``http.response.start`` message go by, so a streamed
export passes through chunk by chunk, never buffered. What it logs is chosen field by field:
never a header, never a body (a token request's body holds the secret), and query values only
of export parameters known to be harmless.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from typing import Any
from urllib.parse import parse_qsl, urlencode

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from oms_export.api.metrics import UNMATCHED_ROUTE, Metrics

REQUEST_ID_HEADER = "X-Request-ID"
_SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:=+/@-]{0,127}")
_LOGGED_QUERY_VALUES = re.compile(r"(filter|options)\[[^\]]*\]|page\[size\]|format|shape")
_REDACTED = "-"
_MAX_LOGGED_QUERY = 2048
_MAX_LOGGED_PATH = 512


class RequestLogMiddleware:
    """Gives each request an id (a sane incoming ``X-Request-ID``, else a new one), returns it
    as ``X-Request-ID``, counts the request in ``metrics`` and logs one line when it ends."""

    def __init__(
        self, app: ASGIApp, metrics: Metrics, logger: logging.Logger | None = None
    ) -> None:
        self.app = app
        self.metrics = metrics
        self.log = logger or logging.getLogger("oms_export.access")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = incoming_request_id(scope) or uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        started = time.perf_counter()
        status = 500  # what the client gets if the app fails before it answers
        header = (REQUEST_ID_HEADER.lower().encode(), request_id.encode())

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = message.get("headers", [])
                if not any(name.lower() == header[0] for name, _ in headers):
                    message = {**message, "headers": [*headers, header]}
            await send(message)

        error: str | None = None
        try:
            await self.app(scope, receive, send_with_id)
        except BaseException as exc:
            error = type(exc).__name__
            raise
        finally:
            self._finished(scope, request_id, status, time.perf_counter() - started, error)

    def _finished(
        self, scope: Scope, request_id: str, status: int, seconds: float, error: str | None
    ) -> None:
        route = getattr(scope.get("route"), "path", None) or UNMATCHED_ROUTE
        method: str = scope["method"]
        self.metrics.request_finished(method, route, status, seconds)
        principal = scope.get("state", {}).get("principal")
        fields: dict[str, Any] = {
            "request_id": request_id,
            "method": method,
            "path": scope["path"][:_MAX_LOGGED_PATH],
            "route": route,
            "query": loggable_query(scope.get("query_string", b"")),
            "status": status,
            "duration_ms": round(seconds * 1000, 1),
            "client_id": getattr(principal, "client_id", None),
        }
        if error is not None:
            fields["error"] = error
        self.log.info(
            "%s %s %s %.1fms id=%s client=%s",
            method,
            fields["path"],
            status,
            fields["duration_ms"],
            request_id,
            fields["client_id"] or "-",
            extra=fields,
        )


def incoming_request_id(scope: Scope) -> str | None:
    """The caller's ``X-Request-ID`` when it is a plausible id; anything else is replaced, so a
    header cannot smuggle text into the logs or the response."""
    for name, value in scope.get("headers", []):
        if name == b"x-request-id":
            candidate = value.decode("latin-1")
            return candidate if _SANE_REQUEST_ID.fullmatch(candidate) else None
    return None


def loggable_query(raw: bytes) -> str:
    """The query string with the value of every parameter not known to be harmless replaced.

    Example: ``format=csv&access_token=abc`` logs as ``format=csv&access_token=-``.
    """
    if not raw:
        return ""
    pairs = parse_qsl(raw.decode("latin-1")[:_MAX_LOGGED_QUERY], keep_blank_values=True)
    kept = [(k, v if _LOGGED_QUERY_VALUES.fullmatch(k) else _REDACTED) for k, v in pairs]
    return urlencode(kept, safe="[]:,")
