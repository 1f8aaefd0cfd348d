"""Request dependencies: the bearer-token check every export route is built behind."""

from __future__ import annotations

from fastapi import Request
from starlette.concurrency import run_in_threadpool

from oms_export.api.state import service_state
from oms_export.auth.principal import Principal
from oms_export.auth.scopes import EXPORT_SCOPE
from oms_export.auth.tokens import resolve_token
from oms_export.errors import InsufficientScope, InvalidToken


def bearer_token(request: Request) -> str:
    header = request.headers.get("authorization")
    if not header:
        raise InvalidToken("A bearer token is required.", missing=True)
    scheme, _, token = header.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise InvalidToken("The Authorization header must be `Bearer <token>`.")
    return token


async def require_export_principal(request: Request) -> Principal:
    """The caller, authenticated and holding the export scope; set on ``request.state``."""
    state = service_state(request)
    principal = await run_in_threadpool(resolve_token, state.control_engine, bearer_token(request))
    if EXPORT_SCOPE not in principal.scopes:
        raise InsufficientScope(f"The token lacks the scope `{EXPORT_SCOPE}`.")
    request.state.principal = principal
    return principal
