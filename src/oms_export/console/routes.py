"""The console's router: sign-in and sign-out, the home page, and the install hook.

``install_console`` is all ``create_app`` calls: it mounts these routes, the orders and admin
pages, the package's own static files at ``/console/static``, the refusal pages, and an HTML
404 for any other path under ``/console``.
"""

from __future__ import annotations

from fastapi import APIRouter, FastAPI
from sqlalchemy import Engine
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.staticfiles import StaticFiles

from oms_export.api.limits.factory import make_sign_in_limiter
from oms_export.api.limits.keys import source_key
from oms_export.console import admin_pages, export_builder, order_pages, report_pages
from oms_export.console.pages import (
    HERE,
    ConsoleState,
    PageError,
    SignInRequired,
    console,
    error_page,
    one,
    posted_form,
    redirect,
    render,
    session_of,
    signed_in,
    to_sign_in,
)
from oms_export.console.sessions import Session
from oms_export.console.throttle import SignInThrottle
from oms_export.console.users import normalize_email, verify
from oms_export.settings import Settings

router = APIRouter(include_in_schema=False)
fallback = APIRouter(include_in_schema=False)

WRONG = "The email or the password is wrong."


@router.get("/")
async def root() -> Response:
    return redirect("/console")


@router.get("/console")
async def home(request: Request) -> Response:
    session, user = await signed_in(request)
    return await render(request, "home.html", session, user=user)


@router.get("/console/sign-in")
async def sign_in_page(request: Request) -> Response:
    session = await session_of(request)
    return await render(request, "sign_in.html", session, user=None, email="", error=None)


@router.post("/console/sign-in")
async def sign_in(request: Request) -> Response:
    state = console(request)
    session = await session_of(request)
    form = await posted_form(request, session)
    email = normalize_email(one(form, "email"))
    password = form.get("password", [""])[0]
    source = source_key(request.client.host if request.client else None)
    wait = await run_in_threadpool(state.throttle.wait, email, source)  # Redis, maybe
    if wait:
        raise PageError(
            429,
            "Too many failed sign-ins",
            f"Too many failed sign-ins; try again in {wait} seconds.",
            **{"Retry-After": str(wait)},
        )
    user = await run_in_threadpool(verify, state.engine, email, password)
    if user is None:
        await run_in_threadpool(state.throttle.failed, email, source)
        return await render(
            request, "sign_in.html", session, status=401, user=None, email=email, error=WRONG
        )
    response = redirect("/console")
    # A new session (and CSRF token) on sign-in: one planted before cannot be ridden after.
    (await state.codec()).save(response, Session(uid=user.id))
    return response


@router.post("/console/sign-out")
async def sign_out(request: Request) -> Response:
    session = await session_of(request)
    await posted_form(request, session)
    response = redirect("/console/sign-in")
    (await console(request).codec()).clear(response)
    return response


@fallback.api_route("/console/{rest:path}", methods=["GET", "HEAD", "POST"])
async def not_found(request: Request, rest: str) -> Response:
    """Any other path under ``/console`` is a page of the console's own, not the API's JSON
    404: mounted after every console route, so it answers only what none of them does."""
    raise PageError(404, "Page not found", "There is no such page in the console.")


def install_console(app: FastAPI, settings: Settings, engine: Engine) -> None:
    """Mount the console on ``app``; its pages read ``engine``, the service's own."""
    throttle = SignInThrottle(make_sign_in_limiter(settings))
    app.state.console = ConsoleState(settings=settings, engine=engine, throttle=throttle)
    app.include_router(router)
    app.include_router(order_pages.router)
    app.include_router(export_builder.router)
    app.include_router(admin_pages.router)
    app.include_router(report_pages.router)
    app.mount("/console/static", StaticFiles(directory=HERE / "static"), name="console-static")
    app.include_router(fallback)  # last: what no route above answers
    app.add_exception_handler(PageError, error_page)
    app.add_exception_handler(SignInRequired, to_sign_in)
