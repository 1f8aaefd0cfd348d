"""What every console page needs: the state, the signed-in user, rendering, refusals.

A refusal is raised as ``PageError`` anywhere in a route and answered here as a page of its own,
with the status it names (403, 404, 429...).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlalchemy import Engine
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from oms_export.auth.secrets import server_key
from oms_export.console import csrf
from oms_export.console.sessions import Session, SessionCodec
from oms_export.console.throttle import SignInThrottle
from oms_export.console.users import ConsoleUser, load_user
from oms_export.settings import Settings

HERE = Path(__file__).parent
MAX_FORM_BYTES = 64 * 1024
POLICY = "default-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
"""No script or style from anywhere else, no framing (clickjacking), forms post here only."""


class PageError(Exception):
    """Answered as the error page with ``status``; ``headers`` go with it (``Retry-After``)."""

    def __init__(self, status: int, title: str, message: str, **headers: str) -> None:
        super().__init__(message)
        self.status, self.title, self.message, self.headers = status, title, message, headers


class SignInRequired(Exception):
    """No signed-in user: answered by a redirect to the sign-in page."""


@dataclass
class ConsoleState:
    settings: Settings
    engine: Engine
    throttle: SignInThrottle
    templates: Environment = field(
        default_factory=lambda: Environment(
            loader=FileSystemLoader(HERE / "templates"),
            autoescape=select_autoescape(default=True, default_for_string=True),
        )
    )
    _codec: SessionCodec | None = None

    async def codec(self) -> SessionCodec:
        if self._codec is None:  # the key may live in the database: read once, on first use
            key = await run_in_threadpool(server_key, self.engine, self.settings)
            self._codec = SessionCodec(key, self.settings)
        return self._codec


def console(request: Request) -> ConsoleState:
    state: ConsoleState = request.app.state.console
    return state


async def session_of(request: Request) -> Session:
    return (await console(request).codec()).load(request)


async def signed_in(request: Request) -> tuple[Session, ConsoleUser]:
    session = await session_of(request)
    if session.uid is None:
        raise SignInRequired
    user = await run_in_threadpool(load_user, console(request).engine, session.uid)
    if user is None:
        raise SignInRequired
    return session, user


async def admin(request: Request) -> tuple[Session, ConsoleUser]:
    session, user = await signed_in(request)
    if not user.is_admin:
        raise PageError(403, "Admins only", "This page is for console admins.")
    return session, user


async def posted_form(request: Request, session: Session) -> dict[str, list[str]]:
    """The form of a POST, refused (403) unless it carries this session's CSRF token."""
    body = await request.body()
    if len(body) > MAX_FORM_BYTES:
        raise PageError(413, "Form too large", "The form sent is too large.")
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    form = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
    if kind != "application/x-www-form-urlencoded":
        form = {}
    try:
        csrf.check(session, form)
    except csrf.CsrfRefused:
        raise PageError(
            403,
            "Form expired",
            "This form could not be checked (its security token is missing or out of date). "
            "Go back, reload the page and send it again.",
        ) from None
    return form


def one(form: dict[str, list[str]], name: str) -> str:
    values = form.get(name, [])
    return values[0].strip() if values else ""


async def render(
    request: Request,
    template: str,
    session: Session,
    *,
    status: int = 200,
    headers: dict[str, str] | None = None,
    **context: Any,
) -> Response:
    """The page, with the session cookie signed again (so an active session stays alive)."""
    state = console(request)
    page = state.templates.get_template(template).render(
        csrf_field=csrf.FIELD, csrf_token=session.csrf, **context
    )
    response = HTMLResponse(page, status_code=status, headers=headers)
    response.headers["Cache-Control"] = "no-store"  # pages can hold secrets shown once
    response.headers["Content-Security-Policy"] = POLICY
    response.headers["X-Content-Type-Options"] = "nosniff"
    (await state.codec()).save(response, session)
    return response


def redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


async def error_page(request: Request, exc: Exception) -> Response:
    if not isinstance(exc, PageError):  # registered for PageError alone
        raise exc
    session = await session_of(request)
    user = None
    if session.uid is not None:
        user = await run_in_threadpool(load_user, console(request).engine, session.uid)
    return await render(
        request,
        "error.html",
        session,
        status=exc.status,
        headers=exc.headers,
        user=user,
        title=exc.title,
        message=exc.message,
    )


async def to_sign_in(request: Request, exc: Exception) -> Response:
    return redirect("/console/sign-in")
