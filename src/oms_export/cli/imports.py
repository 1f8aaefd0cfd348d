"""``oms-export import``: products and orders from a JSON array or NDJSON file.

Prints one JSON summary and exits 1 when any record was rejected, so scripts notice. Whatever the
file holds, the summary prints: a file that cannot be read as records at all is one rejection in
it. Only a database that fails as a whole is a message on stderr instead (exit status 1).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import IO

import click
from sqlalchemy import Engine

from oms_export.admin.imports import ImportSummary, import_orders, import_products, read_records
from oms_export.admin.reader import RecordReader
from oms_export.cli.context import echo_json, pass_settings, store
from oms_export.settings import Settings

_FILE = click.File("rb")


def _run(
    settings: Settings,
    stream: IO[bytes],
    importer: Callable[[Engine, RecordReader], ImportSummary],
) -> None:
    after = "Records before the failure were stored; running the import again is safe."
    with store(settings, after_failure=after) as engine:
        summary = importer(engine, read_records(stream))
    echo_json(summary)
    if summary["rejected"]:
        raise click.exceptions.Exit(1)


@click.group("import")
def command() -> None:
    """Import products or orders from a JSON array or NDJSON (one record per line).

    Each record is stored whole or not at all; re-importing a file changes nothing.

    \b
    Example:
        oms-export import products products.ndjson
        oms-export import orders orders.json
        cat orders.ndjson | oms-export import orders -
    """


@command.command("products")
@click.argument("file", type=_FILE)
@pass_settings
def products_command(settings: Settings, file: IO[bytes]) -> None:
    """Create or replace products (prices, owner, e-commerce data); FILE '-' is stdin.

    \b
    Example:
        oms-export import products products.ndjson
    """
    _run(settings, file, import_products)


@command.command("orders")
@click.argument("file", type=_FILE)
@pass_settings
def orders_command(settings: Settings, file: IO[bytes]) -> None:
    """Create or update orders keyed by (company_ref_id, external_ref); FILE '-' is stdin.

    \b
    Example:
        oms-export import orders orders.ndjson
    """
    _run(settings, file, import_orders)
