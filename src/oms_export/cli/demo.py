"""``oms-export demo``: the deterministic demo data set and a client to export it with."""

from __future__ import annotations

import click

from oms_export.admin.demo import client_purposes, load_demo
from oms_export.cli.context import echo_json, pass_settings, store
from oms_export.settings import Settings


@click.command("demo")
@click.option(
    "--orders",
    type=click.IntRange(min=0),
    default=1000,
    show_default=True,
    help="How many orders to generate (1,000,000 loads in minutes).",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Random seed.")
@pass_settings
def command(settings: Settings, orders: int, seed: int) -> None:
    """Load the demo data set into an empty database and print the demo client's credentials.

    Companies of every subscription level, products, orders in every status; the same seed
    and size give the same rows. A database that already holds data is refused.

    \b
    Example:
        oms-export --database-url sqlite:///demo.db demo --orders 100000
    """
    with store(settings) as engine:
        echo_json(load_demo(engine, settings, orders=orders, seed=seed))
    # On stderr: stdout stays the one JSON object scripts read.
    click.echo("What each client is for:", err=True)
    click.echo("\n".join(client_purposes()), err=True)
