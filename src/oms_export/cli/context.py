"""What every admin command needs: an engine on a migrated store, and JSON output."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import click
import orjson
from rich.console import Console
from rich.table import Table
from sqlalchemy import Engine
from sqlalchemy.exc import ArgumentError, DBAPIError, SQLAlchemyError

from oms_export.db.engine import make_engine
from oms_export.db.migrate import upgrade
from oms_export.errors import OmsExportError
from oms_export.settings import Settings


def open_store(settings: Settings) -> Engine:
    """An engine on the configured database, created or migrated as needed."""
    engine = make_engine(settings)
    upgrade(engine)
    return engine


@contextmanager
def store(settings: Settings, *, after_failure: str = "") -> Iterator[Engine]:
    """``open_store`` for a command: every error becomes one line on stderr and exit status 1.

    ``after_failure`` tells the user what a database failure midway left behind.
    """
    try:
        engine = open_store(settings)
    except (DBAPIError, ArgumentError) as exc:
        raise click.ClickException(f"Cannot open the database: {_detail(exc)}") from None
    try:
        yield engine
    except OmsExportError as exc:
        raise click.ClickException(exc.description) from None
    except LookupError as exc:
        raise click.ClickException(str(exc.args[0])) from None
    except SQLAlchemyError as exc:
        raise click.ClickException(
            f"The database failed: {_detail(exc)}. {after_failure}".strip()
        ) from None
    finally:
        engine.dispose()


def _detail(exc: SQLAlchemyError) -> str:
    return str(exc.orig if isinstance(exc, DBAPIError) else exc).strip()


def echo_table(table: Table) -> None:
    """Print a Rich table; piped or redirected, with no terminal width to fit, cells print whole."""
    console = Console(highlight=False)
    if not console.is_terminal:
        console.width = 10_000
    console.print(table)


def echo_json(value: Any) -> None:
    """Print one JSON document on stdout, the form every admin command answers in."""
    click.echo(orjson.dumps(value, option=orjson.OPT_INDENT_2).decode())


pass_settings = click.make_pass_decorator(Settings)
