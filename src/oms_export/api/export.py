"""``GET /export-api/order-item-details``: the route is thin; ``oms_export.export`` does the work.

The router requires a valid bearer token with the export scope, so no route added here can
forget authentication. HTTP matters live here: the Accept header, the ``Link`` header, the
streaming response.
"""

from __future__ import annotations

import re
import time
from collections.abc import AsyncIterator
from functools import partial
from urllib.parse import urlencode

import anyio
from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from oms_export.api.admission import admit_export, release_export
from oms_export.api.deps import require_export_principal
from oms_export.api.openapi import SECURITY_SCHEME, export_parameters, export_responses
from oms_export.api.state import ServiceState, service_state
from oms_export.api.streaming import ExportResponse
from oms_export.auth.principal import Principal
from oms_export.auth.scopes import EXPORT_SCOPE
from oms_export.errors import InvalidRequest, NotAcceptable
from oms_export.export.formats import BY_MEDIA_RANGE, DEFAULT_FORMAT, FORMATS, Format, check_shape
from oms_export.export.params import ExportQuery, parse_export_query_string
from oms_export.export.run import Export, start_export
from oms_export.export.tenancy import Entitlement, entitlement
from oms_export.settings import Settings

router = APIRouter(dependencies=[Depends(require_export_principal)], tags=["export"])


@router.get(
    "/export-api/order-item-details",
    openapi_extra={
        "parameters": export_parameters(),
        "security": [{SECURITY_SCHEME: [EXPORT_SCOPE]}],
    },
    responses=export_responses(),
    response_class=Response,
)
async def order_item_details(request: Request) -> Response:
    """Order details, one flat row per order item (or one nested object per order), streamed."""
    state = service_state(request)
    principal: Principal = request.state.principal
    admission = await admit_export(state, principal.client_id)
    try:
        fmt, export, headers = await _start(request, state, principal)
    except BaseException:
        await release_export(state, admission)
        raise
    return ExportResponse(
        stream_chunks(state, export, fmt),
        state=state,
        admission=admission,
        media_type=fmt.media_type,
        headers=headers,
    )


async def _start(
    request: Request, state: ServiceState, principal: Principal
) -> tuple[Format, Export, dict[str, str]]:
    """Everything that can refuse the request, up to the open cursor: then the 200 goes out."""
    raw_query = request.scope.get("query_string", b"")
    if len(raw_query) > state.settings.max_query_length:
        raise InvalidRequest(
            f"The query string is {len(raw_query)} bytes; at most "
            f"{state.settings.max_query_length} are accepted."
        )
    query = parse_export_query_string(raw_query)
    fmt = FORMATS[query.format] if query.format else negotiate(request.headers.get("accept"))
    check_shape(fmt, query.shape)
    entitled = entitlement(principal, query)
    export = await open_export(state, principal, query, entitled, fmt)
    headers = {"Cache-Control": "no-store"}
    if entitled.excluded_ref_ids:
        headers["Export-Excluded-Companies"] = ",".join(map(str, entitled.excluded_ref_ids))
    if export.next_cursor is not None:
        url = next_page_url(request, state.settings, export.next_cursor)
        headers["Link"] = f'<{url}>; rel="next"'
    return fmt, export, headers


def negotiate(accept: str | None) -> Format:
    """The format an Accept header asks for; JSON when it asks for nothing in particular.

    The highest quality wins, then the earliest listed; each media range chooses the one format
    that claims it in ``export/formats.py`` (``text/*`` is CSV, ``*/*`` JSON).
    """
    if not accept:
        return DEFAULT_FORMAT
    ranked: list[tuple[float, int, str]] = []
    for position, part in enumerate(accept.split(",")):
        media, *params = (p.strip() for p in part.split(";"))
        quality = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        chosen = BY_MEDIA_RANGE.get(media.lower())
        if chosen is not None and quality > 0:
            ranked.append((-quality, position, chosen.name))
    if not ranked:
        accepted = ", ".join(fmt.essence for fmt in FORMATS.values())
        raise NotAcceptable(
            f"The Accept header names no format this export has; accepted: {accepted} "
            "(or use format=)."
        )
    return FORMATS[min(ranked)[2]]


_FORWARDED_HOST = re.compile(r"([A-Za-z0-9.-]{1,253}|\[[0-9A-Fa-f:.]{2,45}\])(:[0-9]{1,5})?")
_DEFAULT_PORTS = {"http": 80, "https": 443}


def next_page_url(request: Request, settings: Settings, cursor: str) -> str:
    """This request's URL with ``page[after]`` set to ``cursor``; every other parameter kept."""
    kept = [(k, v) for k, v in request.query_params.multi_items() if k != "page[after]"]
    kept.append(("page[after]", cursor))
    return f"{public_base_url(request, settings)}{request.url.path}?{urlencode(kept, safe='[]:,')}"


def public_base_url(request: Request, settings: Settings) -> str:
    """Where clients reach this service: the configured base URL, else the address the request
    arrived on. The ``Host`` header is the caller's to write, so it never goes into a URL we
    hand out; ``X-Forwarded-Host`` only when the operator says a proxy sets it."""
    if settings.public_base_url:
        return settings.public_base_url.rstrip("/")
    scheme = request.url.scheme
    forwarded = request.headers.get("x-forwarded-host", "").split(",")[0].strip()
    if settings.trust_proxy_headers and _FORWARDED_HOST.fullmatch(forwarded):
        return f"{scheme}://{forwarded}"
    host, port = request.scope.get("server") or ("127.0.0.1", None)
    if ":" in host:
        host = f"[{host}]"
    if port is None or port == _DEFAULT_PORTS.get(scheme):
        return f"{scheme}://{host}"
    return f"{scheme}://{host}:{port}"


async def open_export(
    state: ServiceState,
    principal: Principal,
    query: ExportQuery,
    entitled: Entitlement,
    fmt: Format,
) -> Export:
    """Start ``query``'s export for ``principal`` with the service's settings, off the loop."""
    return await run_in_threadpool(
        partial(
            start_export,
            client_id=principal.client_id,
            cursor_key=state.cursor_key,
            batch_rows=state.settings.stream_batch_rows,
            fmt=fmt,
        ),
        state.engine,
        query,
        entitled,
    )


async def stream_chunks(state: ServiceState, export: Export, fmt: Format) -> AsyncIterator[bytes]:
    """Pull encoded chunks off the blocking cursor; close it however the response ends."""
    started = time.perf_counter()
    try:
        chunks = export.chunks(fmt)
        while (chunk := await run_in_threadpool(next, chunks, None)) is not None:
            yield chunk
    finally:
        # A client that went away cancels this task; the close must still run, at once.
        with anyio.CancelScope(shield=True):
            await run_in_threadpool(export.close)
        state.metrics.export_finished(export.rows, time.perf_counter() - started, fmt.name)
