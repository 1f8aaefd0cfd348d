"""``oms-export worker``: deliver the events of API.md §7 until stopped."""

from __future__ import annotations

import dataclasses
import logging.config
import signal
from types import FrameType

import click
from prometheus_client import CollectorRegistry, start_http_server

from oms_export.api.logs import LogFormat, log_config
from oms_export.cli.context import echo_json, pass_settings, store
from oms_export.events.metrics import DeliveryMetrics
from oms_export.events.worker import Worker
from oms_export.settings import Settings


@click.command("worker")
@click.option("--once", is_flag=True, help="Deliver what is due now, print a summary and exit.")
@click.option(
    "--metrics-port",
    type=click.IntRange(0, 65535),
    default=None,
    help="Serve this worker's Prometheus metrics (attempts, delivery latency) on this port.",
)
@click.option(
    "--log-format",
    type=click.Choice(["json", "text"]),
    default="json",
    show_default=True,
    help="Logs on stderr, one line per attempt: JSON, or plain text for reading by eye.",
)
@pass_settings
def command(
    settings: Settings, once: bool, metrics_port: int | None, log_format: LogFormat
) -> None:
    """Deliver status callbacks and order pushes until SIGTERM or SIGINT.

    Run as many as you like on PostgreSQL, on any nodes: no two send the same event at once,
    and a worker killed mid-delivery loses nothing (its events go out again once its lease,
    OMS_EXPORT_EVENT_LEASE_SECONDS, ends). On SQLite `serve` already delivers; this command
    is for OMS_EXPORT_EVENT_WORKER_IN_SERVE=0 or for cron with --once. A stop signal lets the
    attempts in flight finish and be recorded (at most OMS_EXPORT_EVENT_TIMEOUT_SECONDS).

    \b
    Example:
        oms-export --database-url postgresql://postgres@127.0.0.1/oms worker
        oms-export worker --once
    """
    logging.config.dictConfig(log_config(log_format))
    with store(settings) as engine:
        registry = CollectorRegistry(auto_describe=True)
        if metrics_port is not None:
            start_http_server(metrics_port, registry=registry)
        worker = Worker(engine, settings, metrics=DeliveryMetrics(registry))
        if once:
            echo_json(dataclasses.asdict(worker.run_once()))
            return

        def stop(_signal: int, _frame: FrameType | None) -> None:
            worker.stop()

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        worker.run()
