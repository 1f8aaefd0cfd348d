"""``oms-export import``: products and orders from a JSON array or NDJSON file.

Prints one JSON summary and exits 1 when any record was rejected, so scripts notice; a file that
cannot be read as records at all is a message on stderr and exit status 1, with nothing stored.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import IO

import click
from sqlalchemy import Engine
from sqlalchemy.exc import ArgumentError, DBAPIError, OperationalError, SQLAlchemyError

from oms_export.admin.imports import ImportSummary, import_orders, import_products, read_records
from oms_export.admin.reader import RecordReader
from oms_export.cli.context import echo_json, open_store, pass_settings
from oms_export.errors import OmsExportError
from oms_export.settings import Settings

_FILE = click.File("rb")


@contextmanager
def _store(settings: Settings) -> Iterator[Engine]:
    """An engine on the migrated store; errors become a message on stderr and exit status 1."""
    try:
        engine = open_store(settings)
    except (OperationalError, ArgumentError) as exc:
        detail = exc.orig if isinstance(exc, OperationalError) else exc
        raise click.ClickException(f"Cannot open the database: {detail}") from None
    try:
        yield engine
    except OmsExportError as exc:
        raise click.ClickException(exc.description) from None
    except SQLAlchemyError as exc:
        detail = exc.orig if isinstance(exc, DBAPIError) else exc
        raise click.ClickException(
            f"The database failed: {detail}. Records before the failure were stored; "
            "running the import again is safe."
        ) from None
    finally:
        engine.dispose()


def _run(
    settings: Settings,
    stream: IO[bytes],
    importer: Callable[[Engine, RecordReader], ImportSummary],
) -> None:
    with _store(settings) as engine:
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
