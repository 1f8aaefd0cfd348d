"""``oms-export demo``: the deterministic demo data set and a client to export it with."""

from __future__ import annotations

import click
from sqlalchemy.exc import ArgumentError, DBAPIError, OperationalError, SQLAlchemyError

from oms_export.admin.demo import load_demo
from oms_export.cli.context import echo_json, open_store, pass_settings
from oms_export.errors import OmsExportError
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
    try:
        engine = open_store(settings)
    except (OperationalError, ArgumentError) as exc:
        detail = exc.orig if isinstance(exc, OperationalError) else exc
        raise click.ClickException(f"Cannot open the database: {detail}") from None
    try:
        echo_json(load_demo(engine, settings, orders=orders, seed=seed))
    except OmsExportError as exc:
        raise click.ClickException(exc.description) from None
    except SQLAlchemyError as exc:
        detail = exc.orig if isinstance(exc, DBAPIError) else exc
        raise click.ClickException(f"The database failed: {detail}.") from None
    finally:
        engine.dispose()
