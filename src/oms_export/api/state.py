"""What the service holds while it runs; one instance per ``create_app`` call, never global."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

from sqlalchemy import Engine
from starlette.requests import Request

from oms_export.api.limits.contracts import ExportSlots, Limiter
from oms_export.api.limits.local import LocalExportSlots, NodeCapacity, RateLimiter
from oms_export.api.metrics import Metrics
from oms_export.auth.secrets import server_key
from oms_export.export.paging import cursor_key
from oms_export.settings import Settings


@dataclass
class ServiceState:
    settings: Settings
    engine: Engine
    export_limiter: Limiter
    token_failure_limiter: Limiter
    export_slots: ExportSlots = field(default_factory=lambda: LocalExportSlots(0))
    metrics: Metrics = field(default_factory=Metrics)
    token_issue_limiter: Limiter = field(default_factory=lambda: RateLimiter(0))
    control: Engine | None = None
    """A pool of its own for tokens and health, so they never wait behind exports."""
    node_exports: NodeCapacity = field(init=False)

    def __post_init__(self) -> None:
        self.node_exports = NodeCapacity(self.settings.max_node_exports)

    def close(self) -> None:
        """Close the connections this state opened itself (the export engine is the caller's)."""
        if self.control is not None:
            self.control.dispose()

    @property
    def control_engine(self) -> Engine:
        """Tokens, bearer checks and health; the export engine when no pool of their own."""
        return self.engine if self.control is None else self.control

    @cached_property
    def cursor_key(self) -> bytes:
        """Signs page cursors; derived from the server key, so every node agrees on it."""
        return cursor_key(server_key(self.control_engine, self.settings))


def service_state(request: Request) -> ServiceState:
    state: ServiceState = request.app.state.service
    return state
