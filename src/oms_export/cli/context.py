"""What every admin command needs: an engine on a migrated store, and JSON output."""

from __future__ import annotations

from typing import Any

import click
import orjson
from sqlalchemy import Engine

from oms_export.db.engine import make_engine
from oms_export.db.migrate import upgrade
from oms_export.settings import Settings


def open_store(settings: Settings) -> Engine:
    """An engine on the configured database, created or migrated as needed."""
    engine = make_engine(settings)
    upgrade(engine)
    return engine


def echo_json(value: Any) -> None:
    """Print one JSON document on stdout, the form every admin command answers in."""
    click.echo(orjson.dumps(value, option=orjson.OPT_INDENT_2).decode())


pass_settings = click.make_pass_decorator(Settings)
