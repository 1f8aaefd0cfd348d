"""``oms-export companies``: the companies orders belong to, and their subscription level."""

from __future__ import annotations

from typing import Any

import click
from rich.table import Table
from rich.text import Text

from oms_export.admin.companies import add_company, list_companies, set_subscription
from oms_export.cli.context import echo_json, echo_table, pass_settings, store
from oms_export.db.schema import EXPORTING_LEVELS, SUBSCRIPTION_LEVELS
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
