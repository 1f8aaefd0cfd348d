"""``GET /health``: is the service up and its database reachable."""

from __future__ import annotations

from fastapi import APIRouter, Request
from sqlalchemy import text
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from oms_export.api.responses import json_response
from oms_export.api.state import service_state

router = APIRouter()


@router.get("/health", tags=["operations"])
async def health(request: Request) -> Response:
    engine = service_state(request).engine

    def ping() -> None:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))

    try:
        await run_in_threadpool(ping)
    except Exception:
        return json_response({"status": "unavailable", "database": "unreachable"}, status=503)
    return json_response({"status": "ok", "database": "ok"})
