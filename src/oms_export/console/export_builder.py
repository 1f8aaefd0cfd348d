"""The export builder: a form that writes the API's own query, a preview, a download, the curl.

The form's fields become the export's query parameters (``filter[status:in]=8,64``,
``options[includeAttributes]=1``…), which then go through the export's own parser, tenancy and
run, exactly as ``GET /export-api/order-item-details`` sends them: there is no second path to
the data. The signed-in user stands for an OAuth client of the same companies (an admin: every
company that may export; a viewer: its own, under API.md §3.1), so the download streams the
bytes that client would get for the same query string.

Example: ``/console/export/download?filter%5Bstatus%3Ain%5D=8&format=csv`` streams what
``curl -H "Authorization: Bearer $TOKEN" "…/export-api/order-item-details?…"`` would.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from functools import partial
from typing import Any, Final
from urllib.parse import urlencode

from fastapi import APIRouter
from sqlalchemy import Engine, select
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from oms_export import errors
from oms_export.api.admission import admit_export, release_export
from oms_export.api.errors import STATUS
from oms_export.api.export import open_export, public_base_url, stream_chunks
from oms_export.api.state import service_state
from oms_export.api.streaming import ExportResponse
from oms_export.auth.principal import CompanyGrant, Principal
from oms_export.auth.scopes import EXPORT_SCOPE
from oms_export.console.pages import PageError, console, render, signed_in
from oms_export.console.users import ConsoleUser
from oms_export.db.schema import EXPORTING_LEVELS, companies, console_user_companies
from oms_export.export.formats import DEFAULT_FORMAT, FORMATS, Format, check_shape
from oms_export.export.params import SHAPES, ExportQuery, parse_export_query_string
from oms_export.export.run import start_export
from oms_export.export.shapes import nest_orders
from oms_export.export.tenancy import Entitlement, entitlement
from oms_export.fields import OPTIONS
from oms_export.statuses import ORDER_STATUSES

router = APIRouter(include_in_schema=False)

PREVIEW_ROWS: Final = 20
API_PATH: Final = "/export-api/order-item-details"

RANGES: Final = (
    # (form field, export parameter, label)
    ("completed_from", "filter[completion_datetime:gte]", "Completed at or after"),
    ("completed_before", "filter[completion_datetime:lt]", "Completed before"),
    ("updated_from", "filter[updated_datetime:gte]", "Updated at or after"),
    ("updated_before", "filter[updated_datetime:lt]", "Updated before"),
)
"""The datetime inputs: each is one filter of the export, named in its errors."""

FIELD_OF: Final = {
    "filter[company_ref_id]": "company",
    "filter[status:in]": "status",
    "format": "format",
    "shape": "shape",
    **{parameter: name for name, parameter, _ in RANGES},
    **{f"options[{name}]": f"option-{name}" for name in OPTIONS},
}
"""Which form field an export parameter comes from, to mark the field a refusal names."""


@dataclass(frozen=True)
class Choices:
    """What the form was sent with (or its defaults), to fill the form in again."""

    company: str = ""
    statuses: frozenset[str] = frozenset()
    ranges: tuple[tuple[str, str], ...] = ()
    options: frozenset[str] = frozenset()
    format: str = "json"
    shape: str = "rows"

    def range_value(self, name: str) -> str:
        return dict(self.ranges).get(name, "")


def read_choices(params: list[tuple[str, str]]) -> Choices:
    """The form's fields as sent: the last value of each, every status and option ticked."""
    single = {k: v.strip() for k, v in params}
    return Choices(
        company=single.get("company", ""),
        statuses=frozenset(v for k, v in params if k == "status"),
        ranges=tuple((name, single.get(name, "")) for name, _, _ in RANGES),
        options=frozenset(v for k, v in params if k == "option"),
        format=single.get("format", "json"),
        shape=single.get("shape", "rows"),
    )


def export_pairs(choices: Choices) -> list[tuple[str, str]]:
    """The export's query parameters for ``choices``, in a stable order; empty fields give none.

    >>> export_pairs(Choices(statuses=frozenset({"64", "8"}), format="csv"))
    [('filter[status:in]', '8,64'), ('format', 'csv'), ('shape', 'rows')]
    """
    pairs: list[tuple[str, str]] = []
    if choices.company:
        pairs.append(("filter[company_ref_id]", choices.company))
    if choices.statuses:
        ordered = sorted(choices.statuses, key=lambda code: (len(code), code))  # numeric order
        pairs.append(("filter[status:in]", ",".join(ordered)))
    for name, parameter, _ in RANGES:
        value = choices.range_value(name)
        if value:
            pairs.append((parameter, value))
    for name in OPTIONS:
        if name in choices.options:
            pairs.append((f"options[{name}]", "1"))
    unknown = sorted(choices.options - set(OPTIONS))
    pairs.extend((f"options[{name}]", "1") for name in unknown)  # the parser names it
    pairs.append(("format", choices.format))
    pairs.append(("shape", choices.shape))
    return pairs


def encoded(pairs: list[tuple[str, str]]) -> str:
    """The query string as the download link and the curl send it: every reserved character
    percent-encoded (curl would otherwise read ``[…]`` as a glob)."""
    return urlencode(pairs)


def user_principal(engine: Engine, user: ConsoleUser) -> Principal:
    """An OAuth client of the user's companies: an admin's are all that may export, a viewer's
    its own (those that may not export are named in ``Export-Excluded-Companies``, as for a
    client)."""
    query = select(companies.c.id, companies.c.ref_id, companies.c.subscription)
    if user.is_admin:
        query = query.where(companies.c.subscription.in_(EXPORTING_LEVELS))
    else:
        query = query.join(
            console_user_companies, console_user_companies.c.company_id == companies.c.id
        ).where(console_user_companies.c.user_id == user.id)
    with engine.connect() as conn:
        grants = tuple(
            CompanyGrant(row.id, row.ref_id, row.subscription)
            for row in conn.execute(query.order_by(companies.c.ref_id))
        )
    return Principal(
        client_pk=0,
        client_id=f"console-user-{user.id}",
        scopes=frozenset({EXPORT_SCOPE}),
        companies=grants,
    )


def company_names(engine: Engine, principal: Principal) -> list[tuple[int, str]]:
    """The companies the form offers: those of ``principal`` that may export, by ref id."""
    ids = [c.id for c in principal.companies if c.subscription in EXPORTING_LEVELS]
    with engine.connect() as conn:
        rows = conn.execute(
            select(companies.c.ref_id, companies.c.name)
            .where(companies.c.id.in_(ids))
            .order_by(companies.c.ref_id)
        )
        return [(row.ref_id, row.name) for row in rows]


def _refuse_paging(query: ExportQuery) -> None:
    if query.page_size is not None or query.after is not None:
        parameter = "page[size]" if query.page_size is not None else "page[after]"
        raise errors.InvalidRequest(
            f"`{parameter}`: the console sends the whole result; page through it with the API.",
            parameter=parameter,
        )


def _format(query: ExportQuery) -> Format:
    """``format=`` or JSON: what the API sends for an Accept of ``*/*`` (curl's)."""
    fmt = FORMATS[query.format] if query.format else DEFAULT_FORMAT
    check_shape(fmt, query.shape)
    return fmt


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value, default=str, ensure_ascii=False)
    return str(value)


def preview(
    engine: Engine, query: ExportQuery, entitled: Entitlement, *, client_id: str, cursor_key: bytes
) -> tuple[list[str], list[list[str]]]:
    """The export's keys and its first ``PREVIEW_ROWS`` records, as text cells.

    Reads one page of ``PREVIEW_ROWS`` orders: at least as many rows as shown, in the same
    order, with the same keys (attribute columns come from the whole result on every page).
    """
    export = start_export(
        engine,
        replace(query, page_size=PREVIEW_ROWS, after=None),
        entitled,
        client_id=client_id,
        cursor_key=cursor_key,
    )
    records: list[dict[str, Any]] = []
    try:
        for batch in export.records():
            records.extend(batch)
            if len(records) >= PREVIEW_ROWS:
                break
    finally:
        export.close()
    records = records[:PREVIEW_ROWS]
    if query.shape == "orders":
        blank = dict.fromkeys(export.keys)
        keys = list(next(iter(nest_orders([[blank]])))[0])
    else:
        keys = list(export.keys)
    return keys, [[_cell(record.get(key)) for key in keys] for record in records]


def _status(exc: errors.OmsExportError) -> int:
    return STATUS.get(type(exc), 400)


@router.get("/console/export")
async def builder_page(request: Request) -> Response:
    session, user = await signed_in(request)
    engine = console(request).engine
    state = service_state(request)
    principal = await run_in_threadpool(user_principal, engine, user)
    offered = await run_in_threadpool(company_names, engine, principal)
    params = request.query_params.multi_items()
    submitted = bool(params)
    choices = read_choices(params) if submitted else Choices()
    pairs = export_pairs(choices)
    query_string = encoded(pairs)
    context: dict[str, Any] = {
        "user": user,
        "companies": offered,
        "statuses": ORDER_STATUSES,
        "options": OPTIONS,
        "formats": list(FORMATS),
        "shapes": SHAPES,
        "ranges": RANGES,
        "choices": choices,
        "submitted": submitted,
        "problem": None,
        "invalid": None,
        "keys": None,
        "rows": [],
        "download": f"/console/export/download?{query_string}",
        "base": public_base_url(request, state.settings),
        "api_path": API_PATH,
        "query_string": query_string,
        "scope": EXPORT_SCOPE,
    }
    status = 200
    if submitted:
        try:
            query = parse_export_query_string(query_string.encode())
            _format(query)
            entitled = entitlement(principal, query)
            keys, rows = await run_in_threadpool(
                partial(preview, client_id=principal.client_id, cursor_key=state.cursor_key),
                state.engine,
                query,
                entitled,
            )
            context.update(keys=keys, rows=rows)
        except errors.OmsExportError as exc:
            status = _status(exc)
            context.update(problem=exc.description, invalid=FIELD_OF.get(exc.parameter or ""))
    return await render(request, "export_builder.html", session, status=status, **context)


@router.get("/console/export/download")
async def download(request: Request) -> Response:
    """The export for the API's own query string, as ``GET /export-api/order-item-details``
    streams it, held to the same admission (rate, client slots, node capacity)."""
    _session, user = await signed_in(request)
    state = service_state(request)
    raw = request.scope.get("query_string", b"")
    try:
        if len(raw) > state.settings.max_query_length:
            raise errors.InvalidRequest(
                f"The query string is {len(raw)} bytes; at most "
                f"{state.settings.max_query_length} are accepted."
            )
        query = parse_export_query_string(raw)
        _refuse_paging(query)
        fmt = _format(query)
        principal = await run_in_threadpool(user_principal, state.engine, user)
        entitled = entitlement(principal, query)
        admission = await admit_export(state, principal.client_id)
    except errors.OmsExportError as exc:
        raise PageError(_status(exc), "Cannot export", exc.description) from None
    try:
        export = await open_export(state, principal, query, entitled, fmt)
    except BaseException:
        await release_export(state, admission)
        raise
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    headers = {
        "Cache-Control": "no-store",
        "Content-Disposition": f'attachment; filename="order-item-details-{stamp}.{fmt.name}"',
    }
    if entitled.excluded_ref_ids:
        headers["Export-Excluded-Companies"] = ",".join(map(str, entitled.excluded_ref_ids))
    return ExportResponse(
        stream_chunks(state, export, fmt),
        state=state,
        admission=admission,
        media_type=fmt.media_type,
        headers=headers,
    )
