"""What the service holds while it runs; one instance per ``create_app`` call, never global."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine
from starlette.requests import Request

from oms_export.api.ratelimit import RateLimiter
from oms_export.settings import Settings


@dataclass
class ServiceState:
    settings: Settings
    engine: Engine
    export_limiter: RateLimiter
    token_failure_limiter: RateLimiter


def service_state(request: Request) -> ServiceState:
    state: ServiceState = request.app.state.service
    return state
