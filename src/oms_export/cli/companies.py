"""``oms-export companies``: the companies orders belong to, and their subscription level."""

from __future__ import annotations

from typing import Any

import click
from rich.table import Table
from rich.text import Text

from oms_export.admin.companies import (
    add_company,
    list_companies,
    set_push_url,
    set_subscription,
)
from oms_export.cli.context import echo_json, echo_table, pass_settings, store
from oms_export.db.schema import EXPORTING_LEVELS, SUBSCRIPTION_LEVELS
from oms_export.events.signing import callback_secret
from oms_export.settings import Settings

_LEVEL = click.Choice(SUBSCRIPTION_LEVELS)


@click.group("companies")
def command() -> None:
    """Add companies and set their subscription (order_manager or higher may export).

    \b
    Example:
        oms-export companies add --ref-id 1001 --name "Acme Prints" --subscription order_manager
        oms-export companies set-subscription 1001 enterprise
        oms-export companies list
        oms-export companies set-push-url 2001 https://hooks.example.com/oms/orders
        oms-export companies callback-secret 2001
    """


@command.command("add")
@click.option("--ref-id", type=click.IntRange(min=1), required=True, help="The company's ref id.")
@click.option("--name", required=True, help="The company's name.")
@click.option("--subscription", type=_LEVEL, required=True, help="Subscription level.")
@click.option("--external-ref", default=None, help="The company's reference elsewhere.")
@click.option("--customer-ref-id", type=int, default=None, help="Its customer ref id.")
@pass_settings
def add_command(
    settings: Settings,
    ref_id: int,
    name: str,
    subscription: str,
    external_ref: str | None,
    customer_ref_id: int | None,
) -> None:
    """Add a company and print it as JSON.

    \b
    Example:
        oms-export companies add --ref-id 1001 --name "Acme Prints" --subscription order_manager
    """
    with store(settings) as engine:
        company = add_company(
            engine,
            ref_id=ref_id,
            name=name,
            subscription=subscription,
            external_ref=external_ref,
            customer_ref_id=customer_ref_id,
        )
    echo_json(company)


@command.command("set-subscription")
@click.argument("ref_id", type=int)
@click.argument("level", type=_LEVEL)
@pass_settings
def set_subscription_command(settings: Settings, ref_id: int, level: str) -> None:
    """Change a company's subscription level; its clients' next export follows it.

    \b
    Example:
        oms-export companies set-subscription 1001 enterprise
    """
    with store(settings) as engine:
        company = set_subscription(engine, ref_id, level)
    echo_json(company)


@command.command("set-push-url")
@click.argument("ref_id", type=int)
@click.argument("url", required=False, default=None)
@click.option("--clear", is_flag=True, help="Stop pushing orders to this company.")
@pass_settings
def set_push_url_command(settings: Settings, ref_id: int, url: str | None, clear: bool) -> None:
    """Push each new order this company fulfils to URL, as a signed POST (API.md §7).

    URL must be https:// to a public address (OMS_EXPORT_CALLBACK_ALLOW_PRIVATE=1 also allows
    http:// and private addresses). An empty URL, or --clear, stops the pushes. Prints
    {"ref_id": …, "push_url": …}.

    \b
    Example:
        oms-export companies set-push-url 2001 https://hooks.example.com/oms/orders
        oms-export companies set-push-url 2001 --clear
    """
    if clear and url:
        raise click.UsageError("Give a URL or --clear, not both.")
    if url is None and not clear:
        raise click.UsageError("Give the URL to push to, or --clear to stop pushing.")
    with store(settings) as engine:
        found = set_push_url(
            engine, ref_id, None if clear else url, allow_private=settings.callback_allow_private
        )
    echo_json(found)


@command.command("callback-secret")
@click.argument("ref_id", type=int)
@click.option("--rotate", is_flag=True, help="Replace the secret with a new one.")
@pass_settings
def callback_secret_command(settings: Settings, ref_id: int, rotate: bool) -> None:
    """Print the secret that signs what is sent to this company, made on first use.

    Its receivers check each request's OMS-Signature header with it (docs/events.md). With
    --rotate the secret is replaced at once and attempts from then on are signed with the new
    one: give it to the receivers straight away (whatever they refuse meanwhile is retried).
    Prints {"ref_id": …, "callback_secret": "…"}.

    \b
    Example:
        oms-export companies callback-secret 1001
        oms-export companies callback-secret 1001 --rotate
    """
    with store(settings) as engine:
        secret = callback_secret(engine, ref_id, rotate=rotate)
    echo_json({"ref_id": ref_id, "callback_secret": secret})


@command.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array instead of a table.")
@pass_settings
def list_command(settings: Settings, as_json: bool) -> None:
    """List companies by ref id, with their level and whether they may export.

    \b
    Example:
        oms-export companies list --json
    """
    with store(settings) as engine:
        found = list_companies(engine)
    if as_json:
        echo_json(found)
    elif not found:
        click.echo("No companies yet; add one with `oms-export companies add`.")
    else:
        _print_table(found)


def _print_table(found: list[dict[str, Any]]) -> None:
    table = Table(box=None, header_style="bold")
    for title in ("ref_id", "name", "subscription", "exports", "external_ref", "customer_ref_id"):
        table.add_column(title, overflow="fold")
    for company in found:
        cells = (
            company["ref_id"],
            company["name"],
            company["subscription"],
            "yes" if company["subscription"] in EXPORTING_LEVELS else "no",
            company["external_ref"] or "",
            company["customer_ref_id"] or "",
        )
        # Text, not str: a name like `[red]x` prints as written, not as Rich markup.
        table.add_row(*(Text(str(cell)) for cell in cells))
    echo_table(table)
