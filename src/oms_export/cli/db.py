"""``oms-export db``: schema management."""

from __future__ import annotations

import click

from oms_export.cli.context import echo_json, pass_settings, store
from oms_export.db.migrate import current_revision, head_revision
from oms_export.settings import Settings


@click.group("db")
def command() -> None:
    """Create or migrate the database.

    \b
    Example:
        oms-export --database-url postgresql://postgres@127.0.0.1/oms db upgrade
    """


@command.command("upgrade")
@pass_settings
def upgrade_command(settings: Settings) -> None:
    """Migrate the database to the newest schema (creates it when empty)."""
    with store(settings) as engine, engine.connect() as conn:
        echo_json({"revision": current_revision(conn), "head": head_revision()})
