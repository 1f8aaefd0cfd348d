"""``POST /token``: the OAuth 2.0 client-credentials token endpoint (RFC 6749 §4.4).

The route only moves bytes: ``auth/grant.py`` holds the RFC's rules and ``auth/tokens.py`` the
storage. The body is read raw, not through FastAPI's form parsing, so a repeated parameter is
seen (and refused) instead of silently collapsed.

Failed authentications are throttled per source address, never per client id: keyed by client
id, anyone who knows an id could lock its owner out with thirty wrong guesses a minute. Past the
limit a wrong secret from that address gets 429, but the secret is still checked, so the right
one always gets its token. That the 429 still tells a right guess from a wrong one costs
nothing: a secret carries about 285 bits. What the limit bounds is the failed work one address
can make the service do, and the noise it makes.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from oms_export.api.errors import NO_STORE, never_stored
from oms_export.api.limits.keys import source_key
from oms_export.api.openapi import error
from oms_export.api.responses import json_response
from oms_export.api.state import service_state
from oms_export.auth.grant import FORM_CONTENT_TYPE, parse_token_request
from oms_export.auth.scopes import EXPORT_SCOPE
from oms_export.auth.tokens import issue_token
from oms_export.errors import InvalidClient, InvalidRequest, RateLimited

router = APIRouter()

MAX_BODY_BYTES = 16 * 1024
"""A token request is a few hundred bytes; anything past this is refused unread."""


_OPENAPI: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            FORM_CONTENT_TYPE: {
                "schema": {
                    "type": "object",
                    "required": ["grant_type"],
                    "properties": {
                        "grant_type": {"type": "string", "enum": ["client_credentials"]},
                        "scope": {
                            "type": "string",
                            "description": "Space-separated scopes; omitted = every scope the "
                            "client holds.",
                            "example": EXPORT_SCOPE,
                        },
                        "client_id": {
                            "type": "string",
                            "description": "Unless HTTP Basic is used.",
                        },
                        "client_secret": {
                            "type": "string",
                            "description": "Unless HTTP Basic is used.",
                        },
                    },
                }
            }
        },
    }
}

_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "A new access token.",
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "properties": {
                        "access_token": {"type": "string"},
                        "token_type": {"type": "string", "enum": ["Bearer"]},
                        "expires_in": {"type": "integer", "example": 3600},
                        "scope": {"type": "string", "example": EXPORT_SCOPE},
                    },
                    "required": ["access_token", "token_type", "expires_in", "scope"],
                }
            }
        },
    },
    400: error("`invalid_request`, `unsupported_grant_type` or `invalid_scope`."),
    401: error("`invalid_client`: unknown client, wrong secret or revoked client."),
    429: error(
        "`rate_limited`: a wrong secret from an address that has failed too often in the last "
        "minute, or a client given `OMS_EXPORT_TOKEN_ISSUE_LIMIT_PER_MINUTE` tokens in the last "
        "minute; see `Retry-After`. Others' guesses never make the right secret wait.",
        retry_after=True,
    ),
    503: error(
        "`temporarily_unavailable`: the service is busy or the shared limit store (Redis) is "
        "unreachable; see `Retry-After`.",
        retry_after=True,
    ),
}


@router.post(
    "/token",
    tags=["oauth2"],
    operation_id="issue_token",
    summary="Get an access token (OAuth 2.0 client credentials)",
    description="Authenticate with `client_id` and `client_secret` in the form body, or with "
    "HTTP Basic (not both). The token goes in `Authorization: Bearer <token>` on export calls. "
    "Every answer carries `Cache-Control: no-store`.",
    response_class=Response,
    responses=_RESPONSES,
    openapi_extra=_OPENAPI,
)
@never_stored
async def token(request: Request) -> Response:
    state = service_state(request)
    grant = parse_token_request(
        request.headers.get("content-type"),
        await _read_body(request),
        request.headers.get("authorization"),
    )

    def admit(client_id: str) -> None:
        wait = state.token_issue_limiter.hit(client_id)
        if wait:
            raise RateLimited(
                f"This client was given {state.settings.token_issue_limit_per_minute} tokens "
                f"in the last minute; reuse one (each lives {state.settings.token_ttl_seconds} "
                f"s) or retry in {wait} s.",
                retry_after=wait,
            )

    try:
        answer = await run_in_threadpool(
            partial(issue_token, admit=admit), state.control_engine, state.settings, grant
        )
    except InvalidClient:
        # Counted only once the secret proved wrong, so the right secret never waits on the
        # limiter (nor on Redis). A refused failure is not counted: the wait does not grow.
        # In the threadpool: with OMS_EXPORT_REDIS_URL set, the limiter is a network call.
        source = source_key(request.client.host if request.client else None)
        wait = await run_in_threadpool(state.token_failure_limiter.hit, source)
        if wait:
            raise RateLimited(_too_many(wait), retry_after=wait) from None
        raise
    return json_response(answer, headers=NO_STORE)


async def _read_body(request: Request) -> bytes:
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY_BYTES:
            raise InvalidRequest(f"The request body is longer than {MAX_BODY_BYTES} bytes.")
    return bytes(body)


def _too_many(wait: int) -> str:
    return f"Too many failed authentications from this address; retry in {wait} s."
