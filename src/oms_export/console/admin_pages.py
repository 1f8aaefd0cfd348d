"""Admin pages (admins only; a viewer gets 403): companies, OAuth clients, console users,
failed events. Each reads and writes through the same functions as the admin CLI.

A new client's secret, and a rotated one, is on the page that answers the form and on no other:
the store keeps only its keyed hash.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from oms_export.admin.companies import list_companies
from oms_export.auth.clients import create_client, list_clients, revoke_client, rotate_secret
from oms_export.auth.scopes import DEFAULT_SCOPES, SCOPES
from oms_export.console.pages import admin, console, one, posted_form, render
from oms_export.console.users import add_user, list_users, remove_user
from oms_export.errors import OmsExportError
from oms_export.events.operations import list_events, retry_events

router = APIRouter(include_in_schema=False)


def _refs(text: str) -> list[int]:
    parts = text.replace(",", " ").split()
    if not all(part.isdigit() for part in parts):
        raise ValueError("Company ref ids are whole numbers, separated by spaces or commas.")
    return [int(part) for part in parts]


@router.get("/console/admin/companies")
async def companies_page(request: Request) -> Response:
    session, user = await admin(request)
    found = await run_in_threadpool(list_companies, console(request).engine)
    return await render(request, "admin_companies.html", session, user=user, companies=found)


async def _clients(request: Request, status: int = 200, **shown: Any) -> Response:
    session, user = await admin(request)
    found = await run_in_threadpool(list_clients, console(request).engine)
    return await render(
        request,
        "admin_clients.html",
        session,
        status=status,
        user=user,
        clients=found,
        scopes=SCOPES,
        default_scopes=DEFAULT_SCOPES,
        **shown,
    )


@router.get("/console/admin/clients")
async def clients_page(request: Request) -> Response:
    return await _clients(request)


@router.post("/console/admin/clients")
async def client_create(request: Request) -> Response:
    session, _user = await admin(request)
    form = await posted_form(request, session)
    state = console(request)
    try:
        created = await run_in_threadpool(
            lambda: create_client(
                state.engine,
                state.settings,
                name=one(form, "name"),
                company_ref_ids=_refs(one(form, "companies")),
                scopes=[s for s in form.get("scope", []) if s] or None,
            )
        )
    except (OmsExportError, LookupError, ValueError) as exc:
        return await _clients(request, status=400, error=_said(exc))
    return await _clients(request, secret=created, notice=f"Client {created['name']} created.")


@router.post("/console/admin/clients/{client_id}/rotate")
async def client_rotate(request: Request, client_id: str) -> Response:
    session, _user = await admin(request)
    await posted_form(request, session)
    state = console(request)
    try:
        rotated = await run_in_threadpool(rotate_secret, state.engine, state.settings, client_id)
    except (OmsExportError, LookupError) as exc:
        return await _clients(request, status=400, error=_said(exc))
    return await _clients(request, secret=rotated, notice="Secret rotated.")


@router.post("/console/admin/clients/{client_id}/revoke")
async def client_revoke(request: Request, client_id: str) -> Response:
    session, _user = await admin(request)
    await posted_form(request, session)
    try:
        await run_in_threadpool(revoke_client, console(request).engine, client_id)
    except LookupError as exc:
        return await _clients(request, status=400, error=_said(exc))
    return await _clients(request, notice=f"Client {client_id} revoked.")


async def _users(request: Request, status: int = 200, **shown: Any) -> Response:
    session, user = await admin(request)
    found = await run_in_threadpool(list_users, console(request).engine)
    return await render(
        request, "admin_users.html", session, status=status, user=user, users=found, **shown
    )


@router.get("/console/admin/users")
async def users_page(request: Request) -> Response:
    return await _users(request)


@router.post("/console/admin/users")
async def user_add(request: Request) -> Response:
    session, _user = await admin(request)
    form = await posted_form(request, session)
    engine = console(request).engine
    try:
        added = await run_in_threadpool(
            lambda: add_user(
                engine,
                one(form, "email"),
                form.get("password", [""])[0],
                role=one(form, "role"),
                company_ref_ids=_refs(one(form, "companies")),
            )
        )
    except (OmsExportError, ValueError) as exc:
        return await _users(request, status=400, error=_said(exc))
    return await _users(request, notice=f"User {added['email']} added.")


@router.post("/console/admin/users/remove")
async def user_remove(request: Request) -> Response:
    session, user = await admin(request)
    form = await posted_form(request, session)
    email = one(form, "email")
    if email.lower() == user.email:
        return await _users(request, status=400, error="You cannot remove yourself.")
    try:
        await run_in_threadpool(remove_user, console(request).engine, email)
    except LookupError as exc:
        return await _users(request, status=400, error=_said(exc))
    return await _users(request, notice=f"User {email} removed.")


async def _events(request: Request, **shown: Any) -> Response:
    session, user = await admin(request)
    found = await run_in_threadpool(lambda: list_events(console(request).engine, failed=True))
    return await render(request, "admin_events.html", session, user=user, events=found, **shown)


@router.get("/console/admin/events")
async def events_page(request: Request) -> Response:
    return await _events(request)


@router.post("/console/admin/events/retry")
async def events_retry(request: Request) -> Response:
    session, _user = await admin(request)
    form = await posted_form(request, session)
    event_id = one(form, "event_id") or None
    now = datetime.now(UTC).replace(tzinfo=None)
    try:
        retried = await run_in_threadpool(
            lambda: retry_events(
                console(request).engine, now=now, event_id=event_id, failed=event_id is None
            )
        )
    except (OmsExportError, LookupError) as exc:
        return await _events(request, error=_said(exc))
    return await _events(request, notice=f"{len(retried)} event(s) queued again.")


def _said(exc: Exception) -> str:
    if isinstance(exc, OmsExportError):
        return exc.description
    return str(exc.args[0]) if exc.args else str(exc)
