"""``GET /metrics``: the service's Prometheus metrics, kept per app.

Every app gets its own ``CollectorRegistry``; nothing registers in prometheus_client's global
default registry, so two apps in one process (tests do this) never share counters. Under
``serve --workers N`` each worker process counts its own requests.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from fastapi import APIRouter, Request
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import choose_encoder
from sqlalchemy.exc import SQLAlchemyError
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from oms_export.events.metrics import DeliveryMetrics
from oms_export.events.operations import counts as event_counts

log = logging.getLogger("oms_export.metrics")

UNMATCHED_ROUTE = "unmatched"
"""Route label of requests no route matched: one label for all, whatever path was asked."""

_EXPORT_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800)


class Metrics:
    """The counters of one app, and the calls that move them.

    Example::

        state.metrics.export_finished(rows=1200, seconds=0.8, format="csv")
    """

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "oms_export_http_requests",
            "HTTP requests answered, by method, route template and status.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.request_seconds = Histogram(
            "oms_export_http_request_duration_seconds",
            "Time from request to the end of the response body, by method and route template.",
            ["method", "route"],
            registry=self.registry,
        )
        self.export_rows = Counter(
            "oms_export_export_rows",
            "Rows sent by finished exports (item rows, or orders with shape=orders), by format.",
            ["format"],
            registry=self.registry,
        )
        self.export_seconds = Histogram(
            "oms_export_export_duration_seconds",
            "Time from an export's start to its last byte, by format.",
            ["format"],
            buckets=_EXPORT_BUCKETS,
            registry=self.registry,
        )
        self.exports_in_progress = Gauge(
            "oms_export_exports_in_progress",
            "Exports admitted and not yet finished, in this process.",
            registry=self.registry,
        )
        self.exports_ended_idle = Counter(
            "oms_export_exports_ended_idle",
            "Exports ended because their client read nothing for OMS_EXPORT_EXPORT_IDLE_SECONDS.",
            registry=self.registry,
        )
        self.refusals = Counter(
            "oms_export_export_refusals",
            "Export requests refused, by limit: rate_limit and concurrency (per client), "
            "node_capacity (this process streams all the exports it can).",
            ["limit"],
            registry=self.registry,
        )

        self.events = Gauge(
            "oms_export_events",
            "Events (API.md §7) by state: pending, delivered, failed; counted in the database "
            "at each scrape, so every node shows the same figures.",
            ["state"],
            registry=self.registry,
        )
        self.delivery = DeliveryMetrics(self.registry)
        """Attempts and delivery latency of the event worker in this process (``serve`` on
        SQLite); ``oms-export worker --metrics-port`` serves its own."""

    def request_finished(self, method: str, route: str, status: int, seconds: float) -> None:
        self.requests.labels(method, route, str(status)).inc()
        self.request_seconds.labels(method, route).observe(seconds)

    def export_finished(self, rows: int, seconds: float, format: str) -> None:
        """Record one export that has sent its last byte (or stopped early: count what went)."""
        self.export_rows.labels(format).inc(rows)
        self.export_seconds.labels(format).observe(seconds)

    def refused(self, limit: str) -> None:
        self.refusals.labels(limit).inc()

    def events_counted(self, counts: Mapping[str, int]) -> None:
        for state, n in counts.items():
            self.events.labels(state).set(n)

    def render(self, accept: str = "") -> tuple[bytes, str]:
        """Every metric of this app and its media type: the Prometheus text format, or
        OpenMetrics when ``accept`` (the scraper's ``Accept`` header) asks for it."""
        encode, media_type = choose_encoder(accept)
        return encode(self.registry), media_type


router = APIRouter()


@router.get(
    "/metrics",
    tags=["operations"],
    response_class=Response,
    responses={200: {"content": {CONTENT_TYPE_LATEST: {}}}},
)
async def metrics(request: Request) -> Response:
    """Prometheus metrics of this process: requests, exported rows, export durations, and the
    events of every node by state."""
    service = request.app.state.service
    metrics: Metrics = service.metrics
    try:
        metrics.events_counted(await run_in_threadpool(event_counts, service.control_engine))
    except SQLAlchemyError:  # the other metrics still answer; the counts keep their last value
        log.warning("events not counted: the database failed", exc_info=True)
    body, media_type = metrics.render(request.headers.get("accept", ""))
    return Response(body, headers={"Content-Type": media_type})
