"""``GET /health``: is the service up, is its database reachable, and has it room for exports.

It answers from the pool tokens use, never the exports' pool, so a node streaming all the
exports it can still reports itself truthfully: "database down" (503) is told apart from
"exports saturated" (200, ``"status": "saturated"``: the node is up and serves tokens, but
sends new exports elsewhere with 503 until one ends).
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from sqlalchemy import text
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from oms_export.api.responses import json_response
from oms_export.api.state import service_state

router = APIRouter()


@router.get(
    "/health",
    tags=["operations"],
    response_class=Response,
    responses={
        200: {"description": "Up: `status` is `ok`, or `saturated` when exports are full."},
        503: {"description": "The database is unreachable; see `Retry-After`."},
    },
)
async def health(request: Request) -> Response:
    state = service_state(request)
    engine = state.control_engine
    exports = {"running": state.node_exports.running, "limit": state.node_exports.limit}

    def ping() -> None:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))

    try:
        await run_in_threadpool(ping)
    except Exception:
        body = {"status": "unavailable", "database": "unreachable", "exports": exports}
        return json_response(body, status=503, headers={"Retry-After": "5"})
    status = "saturated" if state.node_exports.saturated else "ok"
    return json_response({"status": status, "database": "ok", "exports": exports})
