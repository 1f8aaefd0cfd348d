"""``GET /export-api/order-item-details``: the route is thin; ``oms_export.export`` does the work.

The router requires a valid bearer token with the export scope, so no route added here can
forget authentication.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from functools import partial

from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response, StreamingResponse

from oms_export.api.deps import require_export_principal
from oms_export.api.state import service_state
from oms_export.auth.principal import Principal
from oms_export.errors import InvalidRequest, RateLimited
from oms_export.export.params import parse_export_query
from oms_export.export.run import Export, start_export
from oms_export.export.tenancy import entitlement

router = APIRouter(dependencies=[Depends(require_export_principal)], tags=["export"])

_DOC_PARAMETERS = [
    {
        "name": name,
        "in": "query",
        "required": False,
        "schema": {"type": "string"},
        "description": description,
    }
    for name, description in (
        ("filter[status:in]", "Order status codes, comma-separated (e.g. 8,516)."),
        ("filter[completion_datetime:gt]", "`Y-m-d H:i:s` UTC (e.g. 2020-03-06 12:00:00)."),
        ("options[includeProductOwner]", "1 adds the product owner's fields."),
        ("options[includeProductPrice]", "1 adds product and base price fields."),
        ("options[includeProductEcommerceInfo]", "1 adds the product's e-commerce fields."),
        ("options[includeAttributes]", "1 adds attributes__NAME and items__attributes__NAME."),
    )
]


@router.get(
    "/export-api/order-item-details",
    openapi_extra={"parameters": _DOC_PARAMETERS},
    responses={200: {"content": {"application/json": {}}}},
)
async def order_item_details(request: Request) -> Response:
    """Order details, one flat row per order item, streamed as a JSON array."""
    state = service_state(request)
    principal: Principal = request.state.principal
    retry_after = state.export_limiter.hit(principal.client_id)
    if retry_after:
        raise RateLimited("Too many export requests; retry later.", retry_after=retry_after)
    raw_query = request.scope.get("query_string", b"")
    if len(raw_query) > state.settings.max_query_length:
        raise InvalidRequest(
            f"The query string is {len(raw_query)} bytes; at most "
            f"{state.settings.max_query_length} are accepted."
        )
    query = parse_export_query(request.query_params.multi_items())
    entitled = entitlement(principal, query)
    export = await run_in_threadpool(
        partial(start_export, batch_rows=state.settings.stream_batch_rows),
        state.engine,
        query,
        entitled,
    )
    headers = {"Cache-Control": "no-store"}
    if entitled.excluded_ref_ids:
        headers["Export-Excluded-Companies"] = ",".join(map(str, entitled.excluded_ref_ids))
    return StreamingResponse(
        _in_threadpool(export),
        media_type="application/json",
        headers=headers,
    )


async def _in_threadpool(export: Export) -> AsyncIterator[bytes]:
    """Pull encoded chunks off the blocking cursor; close it however the response ends."""
    chunks = export.json_chunks()
    try:
        while (chunk := await run_in_threadpool(next, chunks, None)) is not None:
            yield chunk
    finally:
        await run_in_threadpool(export.close)
