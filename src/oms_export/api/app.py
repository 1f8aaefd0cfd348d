"""The HTTP service, built by ``create_app(settings)``; nothing is created at import time."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from sqlalchemy import Engine
from starlette.concurrency import run_in_threadpool
from starlette.types import Receive, Scope, Send

from oms_export import __version__
from oms_export.api import export, health, metrics, orders, token
from oms_export.api.docs import install_docs
from oms_export.api.errors import install_error_handlers
from oms_export.api.limits.factory import make_limits
from oms_export.api.metrics import Metrics
from oms_export.api.middleware import RequestLogMiddleware
from oms_export.api.openapi import install_openapi
from oms_export.api.state import ServiceState
from oms_export.api.streaming import ABORT_KEY, connection_aborter
from oms_export.console.routes import install_console
from oms_export.db.engine import CONTROL_POOL_SIZE, make_engine
from oms_export.events.worker import Background
from oms_export.settings import Settings


class _Service(FastAPI):
    """The app, handing each request a way to abort its connection (see ``api/streaming.py``).

    Taken here, before any middleware wraps ``send``: only the server's own ``send`` leads to
    the connection.
    """

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            scope.setdefault("state", {})[ABORT_KEY] = connection_aborter(send)
        await super().__call__(scope, receive, send)


def _event_worker(service: ServiceState) -> Background | None:
    """On SQLite, ``serve`` delivers the events itself, so the embedded store needs no second
    command (``OMS_EXPORT_EVENT_WORKER_IN_SERVE=0`` turns it off). On PostgreSQL
    ``oms-export worker`` does, as many as wanted, apart from the HTTP service.

    Started by the lifespan only: the tests' in-process server runs without one (``lifespan=
    "off"``), so no test delivers unless it asks to.
    """
    settings = service.settings
    if not settings.event_worker_in_serve or service.engine.dialect.name != "sqlite":
        return None
    return Background.start(settings, metrics=service.metrics.delivery)


def create_app(settings: Settings, engine: Engine | None = None) -> FastAPI:
    """A ready service on ``settings``' database (which must already be migrated).

    Limits live in Redis when ``settings.redis_url`` is set (shared by every node), else here.
    ``engine`` serves exports; tokens and health get a small pool of their own on the same
    database, so a node streaming all the exports it can still answers them at once.
    """

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        events = _event_worker(app.state.service)
        app.state.event_worker = events
        try:
            yield
        finally:
            if events is not None:
                await run_in_threadpool(events.stop)  # the attempt in flight ends first
            app.state.service.close()

    app = _Service(
        lifespan=lifespan,
        docs_url=None,  # served from the package's own assets by install_docs
        redoc_url=None,
        title="oms-export",
        version=__version__,
        description="Order Item Details Export API: one flat JSON row per order item.",
    )
    limits = make_limits(settings)
    app.state.service = ServiceState(
        settings=settings,
        engine=engine if engine is not None else make_engine(settings),
        export_limiter=limits.export_rate,
        token_failure_limiter=limits.token_failures,
        export_slots=limits.export_slots,
        token_issue_limiter=limits.token_issues,
        metrics=Metrics(),
        control=make_engine(settings, pool_size=CONTROL_POOL_SIZE),
    )
    app.add_middleware(RequestLogMiddleware, metrics=app.state.service.metrics)
    install_error_handlers(app)
    install_docs(app)
    install_openapi(app)
    app.include_router(token.router)
    app.include_router(export.router)
    app.include_router(orders.router)
    app.include_router(health.router)
    app.include_router(metrics.router)
    install_console(app, settings, app.state.service.engine)
    return app
