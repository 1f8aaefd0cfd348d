"""``oms-export events``: what operators see of the status callbacks and order pushes, and
how they send failed ones again."""

from __future__ import annotations

from typing import Any

import click
from rich.table import Table
from rich.text import Text

from oms_export.cli.context import echo_json, echo_table, pass_settings, store
from oms_export.events.operations import LIST_LIMIT, list_events, retry_events
from oms_export.events.worker import utcnow
from oms_export.settings import Settings


@click.group("events")
def command() -> None:
    """List the events owed to receivers (API.md §7) and send failed ones again.

    \b
    Example:
        oms-export events list --failed
        oms-export events retry --failed
    """


@command.command("list")
@click.option("--order", "order_id", type=int, default=None, help="Only this order's events.")
@click.option("--failed", is_flag=True, help="Only events given up on.")
@click.option(
    "--limit",
    type=click.IntRange(min=1),
    default=LIST_LIMIT,
    show_default=True,
    help="Show the latest this many.",
)
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array instead of a table.")
@pass_settings
def list_command(
    settings: Settings, order_id: int | None, failed: bool, limit: int, as_json: bool
) -> None:
    """List events, oldest first, with their state and their last attempt's answer.

    A failed event was given up after OMS_EXPORT_EVENT_GIVE_UP_SECONDS of failed attempts;
    `oms-export events retry` sends it again once its receiver is fixed.

    \b
    Example:
        oms-export events list --failed
        oms-export events list --order 42 --json
    """
    with store(settings) as engine:
        found = list_events(engine, order_id=order_id, failed=failed, limit=limit)
    if as_json:
        echo_json(found)
    elif not found:
        click.echo("No events.")
    else:
        _print_table(found)


def _print_table(found: list[dict[str, Any]]) -> None:
    table = Table(box=None, header_style="bold")
    titles = ("event_id", "order_id", "kind", "status", "state", "attempts", "occurred_at",
              "last answer")  # fmt: skip
    for title in titles:
        table.add_column(title, overflow="fold")
    for event in found:
        code, error = event["last_status_code"], event["last_error"]
        last = " ".join(str(part) for part in (code, error) if part is not None)
        cells = (
            event["event_id"], event["order_id"], event["kind"], event["status"],
            event["state"], event["attempts"], event["occurred_at"], last,
        )  # fmt: skip
        # Text, not str: an error quoting `[red]` prints as written, not as Rich markup.
        table.add_row(*(Text(str(cell)) for cell in cells))
    echo_table(table)


@command.command("retry")
@click.argument("event_id", required=False, default=None)
@click.option("--failed", is_flag=True, help="Retry every failed event.")
@pass_settings
def retry_command(settings: Settings, event_id: str | None, failed: bool) -> None:
    """Send an event (or every failed one) again: it becomes pending and due now.

    It gets one attempt at once; if that fails too it is retried on the usual schedule until
    its give-up time, counted from its change (an event already past it is failed again after
    that one attempt). It still waits behind an earlier pending event of its order. A
    delivered event is refused. Prints {"retried": [event ids]}.

    \b
    Example:
        oms-export events retry evt_4f6c0e6a9a1e4c1b8d2f3a5b7c9d0e1f
        oms-export events retry --failed
    """
    if (event_id is None) == (not failed):
        raise click.UsageError("Give one EVENT_ID, or --failed.")
    with store(settings) as engine:
        retried = retry_events(engine, now=utcnow(), event_id=event_id, failed=failed)
    echo_json({"retried": retried})
